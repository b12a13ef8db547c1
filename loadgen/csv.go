package loadgen

import (
	"fmt"
	"io"
	"math"
)

// Header is the first line of a file in the 2019-Nov schema.
const Header = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"

// WriteCSV writes the month of cfg to w in the 2019-Nov text format, header
// first, and returns the bytes written. progress, when not nil, is called
// after each hour with the rows written so far (from the calling goroutine).
//
// The workers generate and format; the calling goroutine only writes. (Workers
// writing their own hours with WriteAt was tried: ext4 serialises writers of
// one file on its inode lock, and the spinning doubled the system time.)
//
// The workers hand the hours over in chunks of chunkSize bytes, each as soon
// as it is full, not as whole hours (9-13 MB): write(2) copies the bytes into
// the page cache, and that copy costs several times more from memory written
// tens of megabytes earlier than from memory still in cache. With whole hours,
// four in flight, that copy cost three times dd's for the same bytes (perf);
// in chunks, Nov 1-7 to a file takes 0.45 s of system time instead of 1.6-3.4.
func WriteCSV(w io.Writer, cfg Config, progress func(rows int64)) (int64, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	m := newModel(cfg)
	n, err := io.WriteString(w, Header)
	total := int64(n)
	if err != nil {
		return total, fmt.Errorf("loadgen: write header: %w", err)
	}
	p := newPipeline(m, cfg.workers(), m.buildCSVChunks)
	defer p.stop()
	var rows int64
	for h := 0; h < m.nBlocks; h++ {
		for {
			out, _ := p.get(h)
			n, err := w.Write(out.csv)
			total += int64(n)
			rows += int64(out.rows)
			last := out.last
			out.home <- out // never blocks: home holds all its chunks
			if err != nil {
				return total, fmt.Errorf("loadgen: write hour %d: %w", h, err)
			}
			if last {
				break
			}
		}
		p.put()
		if progress != nil {
			progress(rows)
		}
	}
	return total, nil
}

const (
	// chunkSize is the size of the pieces the workers hand over, and
	// chunksPerWorker how many each worker owns. A worker with none free
	// waits for the writer: so at most workers*chunksPerWorker MiB are in
	// flight, recent enough to be in cache when write(2) copies them.
	chunkSize       = 1 << 20
	chunksPerWorker = 4
	// maxLine bounds one CSV line (about 133 bytes on average): a chunk is
	// handed over once less than this is left in it.
	maxLine = 512
)

// buildCSVChunks renders hour h as CSV lines into the worker's chunks (ring)
// and sends them to the writer in order, the last one marked.
func (m *model) buildCSVChunks(p *pipeline, ring chan *hourOut, srcs []*block, h int) {
	take := func() *hourOut {
		select {
		case out := <-ring:
			return out
		case <-p.done:
			return nil
		}
	}
	out := take()
	if out == nil {
		return
	}
	b, rows := m.renderCSV(out.csv[:0], chunkSize-maxLine, srcs, h, func(b []byte, rows int) []byte {
		if out == nil {
			// Stopping: the rest of the hour is rendered over the
			// last chunk, which nothing reads.
			return b[:0]
		}
		out.csv, out.rows, out.last = b, rows, false
		p.results[h] <- out // never blocks: the channel has room for the ring
		if out = take(); out == nil {
			return b[:0]
		}
		return out.csv[:0]
	})
	if out == nil {
		return
	}
	out.csv, out.rows, out.last = b, rows, true
	p.results[h] <- out
}

// buildCSV renders hour h as CSV lines, the whole hour in out.
func (m *model) buildCSV(out *hourOut, srcs []*block, h int) {
	// Lines average 133 bytes; sizing for 140 makes append's doubling copy
	// rare without holding a worst case per row in every hour buffer.
	if need := hourRows(srcs, h) * 140; cap(out.csv) < need {
		out.csv = make([]byte, 0, max(need, hourBytes(m.maxQuota)))
	}
	out.csv, out.rows = m.renderCSV(out.csv[:0], math.MaxInt, srcs, h, nil)
}

// renderCSV appends the CSV lines of hour h to b. Whenever b holds limit
// bytes or more after a line, it calls flush with b and the rows in it and
// continues in the slice flush returns. It returns the unflushed tail and
// its rows.
func (m *model) renderCSV(b []byte, limit int, srcs []*block, h int, flush func(b []byte, rows int) []byte) ([]byte, int) {
	c := m.cat
	var stamp [23]byte
	stampT := ^uint32(0)
	rows := 0
	mergeHour(srcs, h, func(x *rec, blk *block) {
		if x.t != stampT {
			stampT = x.t
			stamp = timeStamp(x.t)
		}
		b = append(b, stamp[:]...)
		b = append(b, typeField[x.typ()]...)
		b = append(b, c.midOf(&c.prods[x.prod()])...)
		if x.sess != noSession {
			st := &blk.sessions[x.sess]
			b = append(b, st.b[:st.n]...)
		} else {
			b = append(b, ',')
			b = appendUint(b, userID(x.user))
			b = append(b, ",\n"...)
		}
		rows++
		if len(b) >= limit {
			b, rows = flush(b, rows), 0
		}
	})
	return b, rows
}

// typeField is ",<event_type>," per core.EventType.
var typeField = [4]string{",other,", ",view,", ",cart,", ",purchase,"}

// timeStamp renders second t of November 2019 as "2019-11-DD HH:MM:SS UTC".
func timeStamp(t uint32) [23]byte {
	s := [23]byte{'2', '0', '1', '9', '-', '1', '1', '-', 0, 0, ' ', 0, 0, ':', 0, 0, ':', 0, 0, ' ', 'U', 'T', 'C'}
	d, r := t/86400+1, t%86400
	hh, mm, ss := r/3600, r/60%60, r%60
	s[8], s[9] = byte('0'+d/10), byte('0'+d%10)
	s[11], s[12] = byte('0'+hh/10), byte('0'+hh%10)
	s[14], s[15] = byte('0'+mm/10), byte('0'+mm%10)
	s[17], s[18] = byte('0'+ss/10), byte('0'+ss%10)
	return s
}

// appendUint is strconv.AppendUint for base 10 without the generality.
func appendUint(b []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for v >= 10 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	buf[i] = byte('0' + v)
	return append(b, buf[i:]...)
}
