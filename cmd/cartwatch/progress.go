package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cartwatch/cartwatch/core"
)

// progressBar draws one line on stderr every 200 ms: for a file, the part of
// it read (as stored: compressed bytes for compressed input), else the rows
// and the rate. It shares stderr with the run's warnings through Writer,
// which clears its line before a warning, so the two never share a line.
type progressBar struct {
	w         io.Writer
	prog      *core.Progress
	rowsTotal int64      // rows the input holds when known (--synthetic), else 0
	width     func() int // the terminal's columns
	start     time.Time

	mu     sync.Mutex
	drawn  bool // the bar's line is on screen
	inLine bool // a warning's line is not finished: do not draw
	done   chan struct{}
	wg     sync.WaitGroup
}

// progressEvery is the bar's refresh interval (the tests shorten it).
var progressEvery = 200 * time.Millisecond

// startProgress starts the bar for mode (auto: when stderr is a terminal)
// and returns it, or nil when there is none.
func startProgress(mode string, stderr io.Writer, prog *core.Progress, rowsTotal int64) *progressBar {
	fh := asFile(stderr)
	if _, tty := termWidth(fh); mode == "off" || mode == "auto" && !tty {
		return nil
	}
	b := newProgressBar(stderr, prog, rowsTotal, func() int {
		if w, _ := termWidth(fh); w > 0 {
			return w
		}
		return 80
	})
	b.wg.Add(1)
	go b.loop()
	return b
}

func newProgressBar(w io.Writer, prog *core.Progress, rowsTotal int64, width func() int) *progressBar {
	return &progressBar{w: w, prog: prog, rowsTotal: rowsTotal, width: width, start: time.Now(), done: make(chan struct{})}
}

func (b *progressBar) loop() {
	defer b.wg.Done()
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
			b.draw()
		}
	}
}

// draw draws the bar's line again, unless a warning's line is unfinished.
func (b *progressBar) draw() {
	line := renderProgress(b.width(), b.snapshot())
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.inLine {
		// \r and erase to the end of the line: a shorter line or a
		// narrower terminal leaves nothing of the last one.
		fmt.Fprintf(b.w, "\r%s\033[K", line)
		b.drawn = true
	}
}

func (b *progressBar) snapshot() progressState {
	return progressState{bytes: b.prog.Bytes.Load(), total: b.prog.Total.Load(),
		rows: b.prog.Rows.Load(), rowsTotal: b.rowsTotal, elapsed: time.Since(b.start)}
}

// Stop erases the bar and waits for its goroutine. A nil bar does nothing.
func (b *progressBar) Stop() {
	if b == nil {
		return
	}
	close(b.done)
	b.wg.Wait() // a bar from newProgressBar alone has no goroutine: Wait returns
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clear()
}

func (b *progressBar) clear() {
	if b.drawn {
		io.WriteString(b.w, "\r\033[K")
		b.drawn = false
	}
}

// Writer returns a writer for warnings on the bar's terminal: each write
// first erases the bar, which is drawn again at its next tick once the
// warning's line is finished. A nil bar returns w.
func (b *progressBar) Writer(w io.Writer) io.Writer {
	if b == nil {
		return w
	}
	return warnWriter{b}
}

type warnWriter struct{ b *progressBar }

func (ww warnWriter) Write(p []byte) (int, error) {
	b := ww.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clear()
	if len(p) > 0 {
		b.inLine = p[len(p)-1] != '\n'
	}
	return b.w.Write(p)
}

// progressState is what one frame of the bar shows.
type progressState struct {
	bytes, total    int64 // input bytes read, the input's size (0: unknown)
	rows, rowsTotal int64 // rows through the engine, rows in the input (0: unknown)
	elapsed         time.Duration
}

// renderProgress is one frame, at most width-1 columns (a character in the
// last column leaves some terminals about to wrap): "[=====>    ]  42%
// 1.2 GB of 2.9 GB  3.1M rows  1.4M rows/s  2.2s". Without a size it has no
// bar and no percentage; nor when more than the size has been read (a file
// that grew).
func renderProgress(width int, s progressState) string {
	room := width - 1
	frac := -1.0
	var parts []string
	switch {
	case s.total > 0 && s.bytes <= s.total:
		frac = float64(s.bytes) / float64(s.total)
		parts = append(parts, fmt.Sprintf("%3.0f%%", 100*min(frac, 1)), fmt.Sprintf("%s of %s", bytesText(s.bytes), bytesText(s.total)))
	case s.rowsTotal > 0:
		frac = float64(s.rows) / float64(s.rowsTotal)
		parts = append(parts, fmt.Sprintf("%3.0f%%", 100*min(frac, 1)))
	case s.bytes > 0:
		parts = append(parts, bytesText(s.bytes)+" read")
	}
	parts = append(parts, countText(s.rows)+" rows")
	if secs := s.elapsed.Seconds(); secs > 0 {
		parts = append(parts, countText(int64(float64(s.rows)/secs))+" rows/s")
	}
	parts = append(parts, fmt.Sprintf("%.1fs", s.elapsed.Seconds()))
	// The least useful parts go first (from the end), then the bar, which
	// takes what is left between 10 and 40 columns.
	if frac >= 0 {
		for k := len(parts); k >= 1; k-- {
			text := strings.Join(parts[:k], "  ")
			if n := min(40, room-len(text)-3); n >= 10 {
				fill := int(min(frac, 1) * float64(n))
				bar := strings.Repeat("=", fill)
				if fill < n {
					bar += ">" + strings.Repeat(" ", n-fill-1)
				}
				return "[" + bar + "] " + text
			}
		}
	}
	for k := len(parts); k >= 1; k-- {
		if text := strings.Join(parts[:k], "  "); len(text) <= room || k == 1 {
			return text[:min(len(text), max(0, room))]
		}
	}
	return ""
}

// bytesText is n bytes in B, kB, MB or GB (powers of 1000, one decimal).
func bytesText(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// countText is n as 950, 12.3k or 4.5M.
func countText(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%d", n)
}
