package core

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
	kgzip "github.com/klauspost/compress/gzip"
)

// numbered is one yielded line with its absolute 1-based line number.
type numbered struct {
	no   int64
	line string
}

// refSplit is the obviously simple model of chunkReader + LineIter: split the
// whole input at '\n' and apply the rules one by one.
func refSplit(in []byte, maxLine int) []numbered {
	s := strings.TrimPrefix(string(in), "\xEF\xBB\xBF")
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // the input ended with '\n'
	}
	var out []numbered
	for i, l := range lines {
		if i == 0 && strings.HasPrefix(l, "event_time,") && len(l) <= maxLine {
			continue // header
		}
		if l == "" || l == "\r" {
			continue // blank
		}
		if len(l) > maxLine {
			l = l[:maxLine+1]
		}
		out = append(out, numbered{int64(i + 1), l})
	}
	return out
}

// readAll runs chunkReader over r and numbers the lines as the engine's
// sequencer would (see the line-number scheme in input.go).
func readAll(t testing.TB, r io.Reader, opt readerOptions) []numbered {
	t.Helper()
	cr := newChunkReader(r, opt)
	var out []numbered
	var base int64
	var seq uint64
	for {
		c, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if c.Seq != seq {
			t.Fatalf("chunk Seq %d, want %d", c.Seq, seq)
		}
		seq++
		if len(c.Data) > opt.ChunkSize+1 && opt.ChunkSize >= opt.MaxLine+2 {
			t.Fatalf("chunk of %d bytes, ChunkSize %d", len(c.Data), opt.ChunkSize)
		}
		it := format.Lines(c.Data)
		for it.Next() {
			out = append(out, numbered{base + int64(c.Skip) + int64(it.Index()) + 1, string(it.Line())})
		}
		base += int64(c.Skip) + int64(it.Count())
		cr.Release(c)
	}
	return out
}

// diffLines compares yielded lines with the model's. A line longer than
// maxLine need only agree on its first maxLine+1 bytes and stay too long:
// the reader truncates such a line only when it crosses a chunk boundary.
func diffLines(t *testing.T, got, want []numbered, maxLine int, what string) {
	t.Helper()
	for i := 0; i < min(len(got), len(want)); i++ {
		g, w := got[i], want[i]
		if len(w.line) > maxLine && len(g.line) > maxLine {
			g.line, w.line = g.line[:maxLine+1], w.line[:maxLine+1]
		}
		if g != w {
			t.Fatalf("%s: line %d: got %d %q, want %d %q", what, i, got[i].no, got[i].line, want[i].no, want[i].line)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, want %d", what, len(got), len(want))
	}
}

// randomInput builds a synthetic input exercising every edge the reader
// handles: header or not, BOM or not, CRLF, blank lines, lone '\r', lines
// longer than maxLine, and a last line with or without '\n'.
func randomInput(rng *rand.Rand, maxLine int) []byte {
	var b bytes.Buffer
	if rng.Intn(3) == 0 {
		b.WriteString("\xEF\xBB\xBF")
	}
	if rng.Intn(2) == 0 {
		b.WriteString("event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session")
		if rng.Intn(2) == 0 {
			b.WriteByte('\r')
		}
		b.WriteByte('\n')
	}
	for n := rng.Intn(60); n > 0; n-- {
		switch k := rng.Intn(20); {
		case k == 0:
			b.WriteString("\n")
		case k == 1:
			b.WriteString("\r\n")
		case k == 2:
			b.WriteString(strings.Repeat("L", maxLine+rng.Intn(3*maxLine)) + "\n")
		case k == 3:
			b.WriteString(strings.Repeat("M", maxLine-1+rng.Intn(3)) + "\n")
		default:
			l := fmt.Sprintf("2019-11-01 00:00:%02d UTC,view,%d,,,,1.00,%d,s", rng.Intn(60), rng.Intn(1000), rng.Intn(1e6))
			b.WriteString(l[:rng.Intn(len(l)+1)])
			if rng.Intn(4) == 0 {
				b.WriteByte('\r')
			}
			b.WriteByte('\n')
		}
	}
	if b.Len() > 0 && rng.Intn(2) == 0 {
		b.Truncate(b.Len() - 1) // last line without '\n'
	}
	return b.Bytes()
}

// wrap returns r behind one of several read patterns so that reads end at
// every possible offset.
func wrap(rng *rand.Rand, r io.Reader) io.Reader {
	switch rng.Intn(4) {
	case 0:
		return iotest.OneByteReader(r)
	case 1:
		return iotest.HalfReader(r)
	case 2:
		return &randReader{r: r, rng: rng}
	}
	return r
}

type randReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (r *randReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1+r.rng.Intn(len(p))]
	}
	return r.r.Read(p)
}

func TestChunkReaderRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for i := 0; i < 3000; i++ {
		maxLine := 8 + rng.Intn(120)
		opt := readerOptions{MaxLine: maxLine, ChunkSize: maxLine + 2 + rng.Intn(3*maxLine), FreeChunks: 1 + rng.Intn(3)}
		in := randomInput(rng, maxLine)
		got := readAll(t, wrap(rng, bytes.NewReader(in)), opt)
		diffLines(t, got, refSplit(in, maxLine), maxLine, fmt.Sprintf("case %d (%+v, %q)", i, opt, in))
	}
}

func TestChunkReaderCases(t *testing.T) {
	f := func(in string, want ...numbered) {
		t.Helper()
		for size := 14; size < 40; size++ {
			got := readAll(t, strings.NewReader(in), readerOptions{MaxLine: 12, ChunkSize: size})
			diffLines(t, got, want, 12, fmt.Sprintf("%q size %d", in, size))
		}
	}
	f("")
	f("\n\r\n\n")
	f("a", numbered{1, "a"})
	f("a\nb", numbered{1, "a"}, numbered{2, "b"})
	f("a\r\nb\r\n", numbered{1, "a\r"}, numbered{2, "b\r"})
	f("event_time,\nx\n", numbered{2, "x"})
	f("event_time,", []numbered{}...)
	f("\xEF\xBB\xBFevent_time,\r\n\nx", numbered{3, "x"})
	f("\xEF\xBB\xBFx", numbered{1, "x"})
	f("x\nevent_time,\n", numbered{1, "x"}, numbered{2, "event_time,"}) // only line 1 is a header
	f("0123456789AB\n", numbered{1, "0123456789AB"})
	f("0123456789ABC\nb\n", numbered{1, "0123456789ABC"}, numbered{2, "b"})
	f("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\nb\n", numbered{1, "0123456789ABC"}, numbered{2, "b"})
	f("a\n0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", numbered{1, "a"}, numbered{2, "0123456789ABC"})
	f("event_time,0123456789\nb", numbered{1, "event_time,01"}, numbered{2, "b"}) // too long for a header
}

func FuzzChunkReader(f *testing.F) {
	f.Add([]byte("event_time,x\na\r\n\nb"), uint8(10), uint8(3))
	f.Add([]byte("\xEF\xBB\xBF0123456789ABCDEF\n\n"), uint8(4), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, maxLine, extra uint8) {
		ml := int(maxLine%64) + 1
		opt := readerOptions{MaxLine: ml, ChunkSize: ml + 2 + int(extra)}
		rng := rand.New(rand.NewSource(int64(len(in))))
		got := readAll(t, wrap(rng, bytes.NewReader(in)), opt)
		diffLines(t, got, refSplit(in, ml), ml, fmt.Sprintf("%+v", opt))
	})
}

// TestChunkReaderLongLine feeds a 9 MiB line through the default limits: it
// must come out as one line of DefaultMaxLine+1 bytes that ParseRow rejects,
// with the line after it numbered correctly and no buffer beyond the chunks.
func TestChunkReaderLongLine(t *testing.T) {
	in := testrows.Row(testrows.Good...) + "\n" + strings.Repeat("x", 9<<20) + "\r\n" + testrows.Row(testrows.Good...) + "\n"
	cr := newChunkReader(strings.NewReader(in), readerOptions{})
	var p format.Parser
	var ev event.Event
	var reasons []format.Reason
	var nos []int64
	var base int64
	chunks := 0
	for {
		c, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks++
		if cap(c.buf) != format.DefaultMaxLine+3 { // ChunkSize raised to MaxLine+2, plus the spare byte
			t.Fatalf("chunk buffer of %d bytes", cap(c.buf))
		}
		it := format.Lines(c.Data)
		for it.Next() {
			reasons = append(reasons, p.ParseRow(it.Line(), &ev, true))
			nos = append(nos, base+int64(c.Skip)+int64(it.Index())+1)
		}
		base += int64(c.Skip) + int64(it.Count())
		cr.Release(c)
	}
	if fmt.Sprint(reasons) != fmt.Sprint([]format.Reason{format.ReasonOK, format.ReasonLineTooLong, format.ReasonOK}) || fmt.Sprint(nos) != "[1 2 3]" {
		t.Fatalf("reasons %v at lines %v; want [ok too-long ok] at [1 2 3]", reasons, nos)
	}
	if chunks > 3 {
		t.Fatalf("%d chunks", chunks)
	}
}

type errReader struct{ n int }

func (r *errReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	m := min(len(p), r.n)
	for i := range p[:m] {
		p[i] = 'a'
	}
	r.n -= m
	return m, nil
}

func TestChunkReaderError(t *testing.T) {
	cr := newChunkReader(&errReader{n: 100}, readerOptions{MaxLine: 10, ChunkSize: 40})
	var err error
	for err == nil {
		var c *textChunk
		c, err = cr.Next()
		if c != nil {
			cr.Release(c)
		}
	}
	if err == io.EOF || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the read error", err)
	}
	if _, err2 := cr.Next(); err2 != err {
		t.Fatalf("error not sticky: %v", err2)
	}
}

// loopReader serves the same bytes forever without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func TestChunkReaderZeroAlloc(t *testing.T) {
	data, _ := testrows.SyntheticRows(2000)
	cr := newChunkReader(&loopReader{data: data}, readerOptions{ChunkSize: 64 << 10, MaxLine: 4 << 10})
	var p format.Parser
	var ev event.Event
	var bad int
	allocs := testing.AllocsPerRun(200, func() {
		c, err := cr.Next()
		if err != nil {
			t.Fatal(err)
		}
		it := format.Lines(c.Data)
		for it.Next() {
			if p.ParseRow(it.Line(), &ev, false) != format.ReasonOK {
				bad++
			}
		}
		cr.Release(c)
	})
	if allocs != 0 || bad != 0 {
		t.Fatalf("%v allocs per chunk, %d malformed; want 0, 0", allocs, bad)
	}
}

func TestChunkReaderRealSample(t *testing.T) {
	fh := testrows.OpenSample(t)
	defer fh.Close()
	want, err := io.ReadAll(fh)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1 << 10, 4 << 10, 1 << 20} {
		got := readAll(t, bytes.NewReader(want), readerOptions{ChunkSize: size, MaxLine: 512})
		diffLines(t, got, refSplit(want, 512), 512, fmt.Sprint("sample, chunk ", size))
		if len(got) != 10000 || got[0].no != 2 || got[9999].no != 10001 {
			t.Fatalf("chunk %d: %d lines numbered %d..%d; want 10000 numbered 2..10001", size, len(got), got[0].no, got[len(got)-1].no)
		}
	}
}

// BenchmarkLines compares ways to walk a chunk's lines: LineIter (what the
// engine uses), ForEachLine (a closure call per line) and, as the floor,
// bytes.Count of '\n' (what wc -l does). Expect 0 allocs/op.
//
//	go test -run XXX -bench BenchmarkLines -count 10 ./core/ > lines.txt
//	benchstat -col /walk lines.txt
func BenchmarkLines(b *testing.B) {
	data, _ := testrows.SyntheticRows(1 << 15)
	want := bytes.Count(data, []byte{'\n'})
	check := func(b *testing.B, n int) {
		if n != want {
			b.Fatalf("%d lines, want %d", n, want)
		}
	}
	b.Run("walk=iter", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		cpu := testrows.StartCPU()
		for b.Loop() {
			n, sum := 0, 0
			it := format.Lines(data)
			for it.Next() {
				sum += len(it.Line())
				n++
			}
			check(b, n)
		}
		cpu.Report(b, want, len(data))
	})
	b.Run("walk=func", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		cpu := testrows.StartCPU()
		for b.Loop() {
			n, sum := 0, 0
			format.ForEachLine(data, func(_ int, line []byte) {
				sum += len(line)
				n++
			})
			check(b, n)
		}
		cpu.Report(b, want, len(data))
	})
	b.Run("walk=count", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		cpu := testrows.StartCPU()
		for b.Loop() {
			check(b, bytes.Count(data, []byte{'\n'}))
		}
		cpu.Report(b, want, len(data))
	})
}

// BenchmarkReadParse is the input side end to end on one goroutine: chunks
// from an in-memory copy of synthetic rows, every line parsed (full=false, as
// the engine does without --extend-on-activity). walk=next uses
// LineIter.ParseNext, walk=iter LineIter.Next + Parser.ParseRow, walk=rows
// Parser.Rows (the two-stage scan the engine uses). Expect 0
// allocs/op.
//
//	go test -run XXX -bench BenchmarkReadParse -count 10 ./core/ > rp.txt
//	benchstat -col /walk rp.txt
func BenchmarkReadParse(b *testing.B) {
	data, views := testrows.SyntheticRows(1 << 16)
	rows := bytes.Count(data, []byte{'\n'})
	for _, bc := range []struct {
		walk  string
		chunk int
	}{{"next", 4 << 20}, {"iter", 4 << 20}, {"next", 1 << 20}, {"iter", 1 << 20}, {"rows", 1 << 20}, {"next", 256 << 10}, {"next", 64 << 10}} {
		walk := bc.walk
		b.Run(fmt.Sprintf("walk=%s/chunk=%dK", walk, bc.chunk>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			src := bytes.NewReader(data)
			cr := newChunkReader(src, readerOptions{ChunkSize: bc.chunk, MaxLine: 32 << 10})
			var p format.Parser
			var ev event.Event
			// Warm up: the first chunk buffer is allocated here, not in
			// the measured loop.
			for c, err := cr.Next(); err == nil; c, err = cr.Next() {
				p.Rows(c.Data) // and the stage-1 bitmap
				cr.Release(c)
			}
			cpu := testrows.StartCPU()
			for b.Loop() {
				src.Reset(data)
				cr.eof, cr.first = false, true
				n, v := 0, 0
				for {
					c, err := cr.Next()
					if err != nil {
						break
					}
					it := format.Lines(c.Data)
					if walk == "rows" {
						rit := p.Rows(c.Data)
						for {
							r, ok := rit.Next(&ev, false)
							if !ok {
								break
							}
							if r != format.ReasonOK {
								b.Fatal("malformed synthetic row")
							}
							n++
							if ev.Type == event.EventView {
								v++
							}
						}
					} else if walk == "next" {
						for {
							r, ok := it.ParseNext(&p, &ev, false)
							if !ok {
								break
							}
							if r != format.ReasonOK {
								b.Fatal("malformed synthetic row")
							}
							n++
							if ev.Type == event.EventView {
								v++
							}
						}
					} else {
						for it.Next() {
							if p.ParseRow(it.Line(), &ev, false) != format.ReasonOK {
								b.Fatal("malformed synthetic row")
							}
							n++
							if ev.Type == event.EventView {
								v++
							}
						}
					}
					cr.Release(c)
				}
				if n != rows || v != views {
					b.Fatalf("%d rows %d views, want %d %d", n, v, rows, views)
				}
			}
			cpu.Report(b, rows, len(data))
		})
	}
}

// BenchmarkInputFile reads a real CSV file (CARTWATCH_BENCH_FILE, e.g. one
// written by loadgen generate and read once to sit in page cache) side by side
// with its baselines: wc -l on the same file, and a Go read loop that only
// counts '\n'. parse=N is OpenInput + chunkReader + N goroutines running
// LineIter.ParseNext (full=false), i.e. the input side of the engine without
// the shards. Besides wall time it reports process CPU seconds per op.
//
//	loadgen generate --scale 0.12 -o /tmp/synth.csv && cat /tmp/synth.csv > /dev/null
//	CARTWATCH_BENCH_FILE=/tmp/synth.csv go test -run XXX -bench BenchmarkInputFile -benchtime 1x -count 5 ./core/
func BenchmarkInputFile(b *testing.B) {
	path := os.Getenv("CARTWATCH_BENCH_FILE")
	if path == "" {
		b.Skip("set CARTWATCH_BENCH_FILE to a CSV file to run")
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	size := st.Size()
	cpuSelf := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.Run("tool=wc-l", func(b *testing.B) {
		b.SetBytes(size)
		var cpu time.Duration
		for b.Loop() {
			cmd := exec.Command("wc", "-l", path)
			if out, err := cmd.Output(); err != nil {
				b.Fatalf("wc -l: %v %s", err, out)
			}
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	})
	b.Run("tool=count", func(b *testing.B) {
		b.SetBytes(size)
		c0 := cpuSelf()
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 1<<20)
			n := 0
			for {
				m, err := f.Read(buf)
				n += bytes.Count(buf[:m], []byte{'\n'})
				if err != nil {
					break
				}
			}
			f.Close()
			if n == 0 {
				b.Fatal("no lines")
			}
		}
		b.ReportMetric((cpuSelf()-c0).Seconds()/float64(b.N), "cpu-s/op")
	})
	for _, parsers := range []int{1, 2} {
		b.Run(fmt.Sprintf("tool=parse/parsers=%d", parsers), func(b *testing.B) {
			b.SetBytes(size)
			c0 := cpuSelf()
			for b.Loop() {
				rows, bad := parseFile(b, path, parsers)
				if rows == 0 || bad != 0 {
					b.Fatalf("%d rows, %d malformed", rows, bad)
				}
			}
			b.ReportMetric((cpuSelf()-c0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// parseFile parses path with one reader and n parsing goroutines.
func parseFile(b *testing.B, path string, n int) (rows, bad int64) {
	rc, err := OpenInput(path, OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	cr := newChunkReader(rc, readerOptions{FreeChunks: 2*n + 2})
	work := make(chan *textChunk, n) // one queued chunk per parser keeps them busy
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p format.Parser
			var ev event.Event
			var r, m int64
			for c := range work {
				it := format.Lines(c.Data)
				for {
					reason, ok := it.ParseNext(&p, &ev, false)
					if !ok {
						break
					}
					r++
					if reason != format.ReasonOK {
						m++
					}
				}
				cr.Release(c)
			}
			mu.Lock()
			rows, bad = rows+r, bad+m
			mu.Unlock()
		}()
	}
	for {
		c, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		work <- c
	}
	close(work)
	wg.Wait()
	return rows, bad
}

// BenchmarkGunzip compares the two gzip readers OpenInput could use on
// gzipped synthetic rows (MB/s of decompressed output); OpenInput uses
// klauspost/compress/gzip.
//
//	go test -run XXX -bench BenchmarkGunzip -count 10 ./core/ > gz.txt
//	benchstat -col /impl gz.txt
func BenchmarkGunzip(b *testing.B) {
	data, _ := testrows.SyntheticRows(1 << 16)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	buf := make([]byte, 1<<20)
	drain := func(b *testing.B, r io.Reader) {
		n := 0
		for {
			m, err := r.Read(buf)
			n += m
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if n != len(data) {
			b.Fatalf("%d bytes, want %d", n, len(data))
		}
	}
	b.Run("impl=stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		cpu := testrows.StartCPU()
		for b.Loop() {
			zr, err := gzip.NewReader(bytes.NewReader(z.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			drain(b, zr)
		}
		cpu.Report(b, 1, len(data))
	})
	b.Run("impl=klauspost", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		cpu := testrows.StartCPU()
		for b.Loop() {
			zr, err := kgzip.NewReader(bytes.NewReader(z.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			drain(b, zr)
		}
		cpu.Report(b, 1, len(data))
	})
}
