package loadgen

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// File writes a new regular file from aligned buffers of fileBufSize bytes
// that a writer goroutine writes while the next is filled, so the CPU and the
// disk overlap. WriteCSV renders the CSV straight into the buffers
// (renderBuf, swap), with no copy after rendering; Write copies into them.
//
// With direct, the file is written with O_DIRECT, bypassing the page cache.
// Writing the month buffered, the kernel's copy into the page cache took 8.7
// of the 20 CPU seconds on two cores; dd oflag=direct wrote the same 9.0 GB
// with 1.3 system seconds, at about the disk's speed. The tail that is not a
// multiple of directAlign is written after O_DIRECT is cleared with fcntl
// (Linux allows toggling it on an open file). Where O_DIRECT is refused
// (EINVAL at open or at the first write, as on filesystems without direct
// I/O), the file is written buffered instead, with the same bytes, and
// Fallback says why.
//
// Buffered, the same design pays less for the kernel's copy than writing
// whole rendered hours: the buffer copied was rendered at most two buffers
// earlier and is still in the cache, where an hour was rendered tens of MB
// before its write(2). Month, 9 rounds side by side in three series: system
// 3.4-6.9 s against 5.5-9.8 s in every pair, total CPU 2.5-4 s less; wall
// medians 10.78, 13.37 and 12.52 s against 12.78, 13.65 and 12.01 s.
//
// A File is not safe for concurrent use: one goroutine calls Write and
// Close. Close must be called; it waits for the writer goroutine.
type File struct {
	f        *os.File
	name     string
	buf      []byte      // being filled: aligned, cap is the buffer size
	queue    chan []byte // full buffers, in file order, to the writer
	free     chan []byte // written buffers, back from the writer
	done     chan struct{}
	mu       sync.Mutex
	err      error // first write error
	direct   bool  // O_DIRECT is set on f
	fallback error // why the file is written buffered though direct was asked
	notify   func(error)
	closed   bool
	size     int64 // bytes accepted, by Write and by rendering in place
}

const (
	// directAlign is the alignment of O_DIRECT buffers, offsets and
	// lengths: the page size, a multiple of every logical block size of
	// the disks we write to (512 or 4096).
	directAlign = 4096
	// fileBufSize is the size of one write: 4 MiB, the largest
	// request the virtio disk takes whole (max_sectors_kb 4096), and the
	// block size of the dd oflag=direct baseline.
	fileBufSize = 4 << 20
	// fileBufs buffers: one being filled, one being written, one full
	// and queued so the writer starts the next write without waiting for
	// the renderer. (8 buffers, buffered: no faster, system time back up
	// in 2 of 3 rounds.)
	fileBufs = 3
)

// errNoDirect is returned by openDirect where the OS has no O_DIRECT.
var errNoDirect = errors.New("O_DIRECT is not supported on this OS")

// Hooks for tests: the O_DIRECT open and the write of one full buffer.
var (
	openDirectFn  = openDirect
	writeDirectFn = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
)

// CreateFile creates (or truncates) the regular file name, written with
// O_DIRECT when direct is set. notify, when not nil, is called once if
// O_DIRECT is refused and the file is written buffered: from CreateFile
// (refused at open) or from the writer goroutine (at the first write).
func CreateFile(name string, direct bool, notify func(reason error)) (*File, error) {
	return newFile(name, direct, fileBufSize, notify)
}

func newFile(name string, direct bool, bufSize int, notify func(error)) (*File, error) {
	d := &File{
		name:   name,
		queue:  make(chan []byte, fileBufs),
		free:   make(chan []byte, fileBufs),
		done:   make(chan struct{}),
		notify: notify,
	}
	var f *os.File
	var err error
	if direct {
		f, err = openDirectFn(name)
		if err == nil {
			d.direct = true
		} else {
			if !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errNoDirect) {
				return nil, err
			}
			d.setFallback(fmt.Errorf("open with O_DIRECT: %w", err))
		}
	}
	if f == nil {
		if f, err = os.Create(name); err != nil {
			return nil, err
		}
	}
	d.f = f
	for i := range fileBufs {
		b := alignedBuf(bufSize)
		if i == 0 {
			d.buf = b
		} else {
			d.free <- b
		}
	}
	go d.writer()
	return d, nil
}

// alignedBuf returns an empty slice of capacity n whose first byte is
// directAlign-aligned.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	off := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % directAlign); r != 0 {
		off = directAlign - r
	}
	return b[off : off : off+n]
}

// Fallback is the reason the file is written buffered though O_DIRECT was
// asked for; nil when it was not asked for or is in use.
func (d *File) Fallback() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fallback
}

// Direct reports whether the file is being written with O_DIRECT.
func (d *File) Direct() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.direct
}

func (d *File) setFallback(reason error) {
	d.mu.Lock()
	d.fallback, d.direct = reason, false
	d.mu.Unlock()
	if d.notify != nil {
		d.notify(reason)
	}
}

func (d *File) firstErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Write copies p into the current buffer and hands each full buffer to the
// writer goroutine. An error of an earlier write is returned by a later
// Write or by Close.
func (d *File) Write(p []byte) (int, error) {
	if d.closed {
		return 0, os.ErrClosed
	}
	n := 0
	for len(p) > 0 {
		c := copy(d.buf[len(d.buf):cap(d.buf)], p)
		d.buf = d.buf[:len(d.buf)+c]
		p, n = p[c:], n+c
		d.size += int64(c)
		if len(d.buf) == cap(d.buf) {
			d.queue <- d.buf
			d.buf = (<-d.free)[:0]
			if err := d.firstErr(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// renderBuf returns the current buffer, whole, and the position after its
// data, for a caller that renders in place (WriteCSV) and then calls swap
// when it runs out of room, or setLen when it stops.
func (d *File) renderBuf() ([]byte, int) { return d.buf[:cap(d.buf)], len(d.buf) }

// setLen records that the current buffer holds n bytes, rendered in place.
func (d *File) setLen(n int) {
	d.size += int64(n - len(d.buf))
	d.buf = d.buf[:n]
}

// swap records that the current buffer holds n bytes, hands its aligned
// part to the writer, and carries the rest (less than directAlign bytes) to
// the start of the next buffer, which it returns whole with the position
// after the carried bytes. The error is that of an earlier write.
func (d *File) swap(n int) ([]byte, int, error) {
	d.setLen(n)
	aligned := n &^ (directAlign - 1)
	if aligned == 0 { // only with a buffer smaller than directAlign plus a line
		panic("loadgen: File buffer too small to render in")
	}
	next := append((<-d.free)[:0], d.buf[aligned:]...)
	d.queue <- d.buf[:aligned]
	d.buf = next
	return next[:cap(next)], len(next), d.firstErr()
}

// writer writes the queued buffers in order until the queue is closed.
// After an error it only recycles them.
func (d *File) writer() {
	defer close(d.done)
	first := true
	for b := range d.queue {
		if d.firstErr() == nil {
			if err := d.writeBuf(b, first); err != nil {
				d.mu.Lock()
				d.err = fmt.Errorf("write %s: %w", d.name, err)
				d.mu.Unlock()
			}
		}
		first = false
		d.free <- b
	}
}

// writeBuf writes b whole. On the first write of the file, an EINVAL from
// O_DIRECT (nothing written yet) switches the file to buffered writes.
func (d *File) writeBuf(b []byte, first bool) error {
	n, err := writeDirectFn(d.f, b)
	if err != nil && first && n == 0 && errors.Is(err, syscall.EINVAL) && d.Direct() {
		if cerr := clearDirect(d.f); cerr != nil {
			return fmt.Errorf("%w (and clearing O_DIRECT: %v)", err, cerr)
		}
		d.setFallback(fmt.Errorf("first O_DIRECT write: %w", err))
		_, err = d.f.Write(b)
	}
	return err
}

// Close writes what is left, waits for the writer and closes the file. The
// aligned part of the last buffer is written by the writer, the rest (less
// than directAlign bytes) here, after clearing O_DIRECT.
func (d *File) Close() error {
	if d.closed {
		return os.ErrClosed
	}
	d.closed = true
	last := d.buf
	aligned := len(last) &^ (directAlign - 1)
	if aligned > 0 {
		d.queue <- last[:aligned]
	}
	close(d.queue)
	<-d.done
	err := d.firstErr()
	if tail := last[aligned:]; err == nil && len(tail) > 0 {
		if d.Direct() {
			err = clearDirect(d.f)
		}
		if err == nil {
			_, err = d.f.Write(tail)
		}
		if err != nil {
			err = fmt.Errorf("write %s: tail: %w", d.name, err)
		}
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	return err
}
