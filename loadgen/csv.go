package loadgen

import (
	"fmt"
	"io"
	"unsafe"
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
	if d, ok := w.(*File); ok {
		return writeCSVFile(d, m, total, progress)
	}
	p := newPipeline(m, cfg.workers(), m.buildCSVp)
	defer p.stop()
	var rows int64
	for h := 0; h < m.nBlocks; h++ {
		out, _ := p.get(h)
		n, err := w.Write(out.csv)
		total += int64(n)
		rows += int64(out.rows)
		p.put(out)
		if err != nil {
			return total, fmt.Errorf("loadgen: write hour %d: %w", h, err)
		}
		if progress != nil {
			progress(rows)
		}
	}
	return total, nil
}

// writeCSVFile is WriteCSV into a File: the workers only generate, and the
// calling goroutine renders each hour straight into the file's buffers, so
// no byte is copied after rendering, and the File's writer goroutine, not
// this one, waits in write(2). (Into another io.Writer the workers render,
// in parallel, and this goroutine writes whole hours.)
func writeCSVFile(d *File, m *model, total int64, progress func(rows int64)) (int64, error) {
	p := newPipeline(m, m.cfg.workers(), nil)
	defer p.stop()
	start := d.size
	var werr error
	room := func(_ []byte, n int) ([]byte, int) {
		b, n, err := d.swap(n)
		if err != nil && werr == nil {
			werr = err
		}
		return b, n
	}
	b, n := d.renderBuf()
	var srcs []*block
	var rows int64
	for h := 0; h < m.nBlocks; h++ {
		p.get(h)
		srcs = p.sources(h, srcs)
		var r int
		b, n, r = m.renderHour(b, n, srcs, h, room)
		rows += int64(r)
		p.release(srcs)
		p.put(nil)
		if werr != nil {
			d.setLen(n)
			return total + d.size - start, fmt.Errorf("loadgen: write hour %d: %w", h, werr)
		}
		if progress != nil {
			progress(rows)
		}
	}
	d.setLen(n)
	return total + d.size - start, nil
}

func (m *model) buildCSVp(_ *pipeline, out *hourOut, srcs []*block, h int) { m.buildCSV(out, srcs, h) }

// buildCSV renders hour h as CSV lines, from srcs (the blocks h-spillHours..h
// that exist) in time order; within a second, older blocks first, each in
// its generation order. This order is part of the output's definition.
//
// NOTE: the rows' middles and session texts are prefetched, both lines of
// a middle. With the first line alone, the move reaching the second line
// (bytes 33..64) took 2.45 of renderHour's 6.56 s in the profile of the
// month with --direct; with both, 0.41 of 4.75 s.
//
// NOTE: every piece of a line is copied with fixed-size moves (24 bytes of
// time stamp, 16 of event type, 96 of product, 64 of session) and the
// write position then advances by the piece's true length; the next piece
// overwrites the excess. Four append calls per row, each a memmove of 6 to
// 83 bytes, took 27 % of the CPU time of writing the month.
func (m *model) buildCSV(out *hourOut, srcs []*block, h int) {
	// Lines average 133 bytes; sizing for 140 makes growing rare without
	// holding a worst case per row in every hour buffer.
	if need := hourRows(srcs, h)*140 + lineRoom; cap(out.csv) < need {
		out.csv = make([]byte, max(need, hourBytes(m.maxQuota)))
	}
	b, n, rows := m.renderHour(out.csv[:cap(out.csv)], 0, srcs, h, growRoom)
	out.csv, out.rows = b[:n], rows
}

// growRoom is the room function of buildCSV: the hour buffer doubles.
func growRoom(b []byte, n int) ([]byte, int) {
	b = append(b[:n], make([]byte, len(b))...)
	return b[:cap(b)], n
}

// renderHour renders hour h (see buildCSV) into b from position n and
// returns the buffer, the position after the last line and the rows. When
// fewer than lineRoom bytes of b are left, room(b, n) is called and returns
// the buffer and position to go on with (a grown b, or a new buffer after
// the writer took what was written).
func (m *model) renderHour(b []byte, n int, srcs []*block, h int, room func(b []byte, n int) ([]byte, int)) ([]byte, int, int) {
	mids := m.cat.mids
	var stamp [24]byte
	stampT := ^uint32(0)
	rows := 0
	var pos, end, pf [spillHours + 1]int
	for j, blk := range srcs {
		k := h - blk.idx
		pos[j], end[j] = blk.bounds[k], blk.bounds[k+1]
		pf[j] = pos[j]
	}
	base := uint32(h * blockSecs)
	for s := base; s < base+blockSecs; s++ {
		for j, blk := range srcs {
			p, e := pos[j], end[j]
			if f := pf[j]; f < e && f < p+pfAhead { // see Generator.merge
				to := min(e, p+pfAhead+pfBatch)
				// A middle is two cache lines (midText: 128 bytes, most
				// middles longer than 63): the second call fetches the
				// second line, and the session's line once more (a hit).
				recs, sp := blk.sorted[max(f, p):to], unsafe.Pointer(unsafe.SliceData(blk.sessions))
				mp := unsafe.Pointer(unsafe.SliceData(mids))
				prefetchRecs(recs, mp, midShift, sp)
				prefetchRecs(recs, unsafe.Add(mp, 64), midShift, sp)
				pf[j] = to
			}
			for ; p < e && blk.sorted[p].t == s; p++ {
				x := &blk.sorted[p]
				if len(b)-n < lineRoom {
					b, n = room(b, n)
				}
				if x.t != stampT {
					stampT = x.t
					ts := timeStamp(x.t)
					copy(stamp[:], ts[:])
				}
				*(*[24]byte)(b[n:]) = stamp
				n += stampLen
				tf := &typeFields[x.typ()]
				*(*[16]byte)(b[n:]) = tf.b
				n += int(tf.n)
				mt := &mids[x.prod()]
				move32(b[n:], mt.b[1:])
				move32(b[n+32:], mt.b[33:])
				move32(b[n+64:], mt.b[65:])
				n += mt.len()
				if x.sess != noSession {
					st := &blk.sessions[x.sess]
					move32(b[n:], st.b[:])
					move32(b[n+32:], st.b[32:])
					n += st.len()
				} else {
					tail := append(b[n:n], ',')
					tail = appendUint(tail, userID(x.user))
					tail = append(tail, ",\n"...)
					n += len(tail)
				}
				rows++
			}
			pos[j] = p
		}
	}
	return b, n, rows
}

// move32 copies 32 bytes as two 16-byte moves. (A [32]byte assignment
// between two slices compiles to a call of memmove, as they may overlap.)
func move32(dst, src []byte) {
	*(*[16]byte)(dst) = *(*[16]byte)(src)
	*(*[16]byte)(dst[16:]) = *(*[16]byte)(src[16:])
}

// lineRoom is the free room a row needs at the write position: the
// fixed-size moves of buildCSV reach at most this far.
const lineRoom = 24 + 16 + midCopy + sessTextLen

// typeFields is ",<event_type>," per event.EventType, padded to 16 bytes.
var typeFields = func() (t [4]struct {
	b [16]byte
	n uint8
}) {
	for i, s := range [4]string{",other,", ",view,", ",cart,", ",purchase,"} {
		t[i].n = uint8(copy(t[i].b[:], s))
	}
	return t
}()

const stampLen = len("2019-11-01 00:00:00 UTC")

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
