package loadgen

import (
	"fmt"
	"io"
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

func (m *model) buildCSVp(_ *pipeline, out *hourOut, srcs []*block, h int) { m.buildCSV(out, srcs, h) }

// buildCSV renders hour h as CSV lines.
func (m *model) buildCSV(out *hourOut, srcs []*block, h int) {
	// Lines average 133 bytes; sizing for 140 makes append's doubling copy
	// rare without holding a worst case per row in every hour buffer.
	if need := hourRows(srcs, h) * 140; cap(out.csv) < need {
		out.csv = make([]byte, 0, max(need, hourBytes(m.maxQuota)))
	}
	b := out.csv[:0]
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
	})
	out.csv, out.rows = b, rows
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
