package loadgen

import (
	"sync"
	"sync/atomic"
)

// pipeline runs the workers that turn blocks into output hours. Task i
// generates block i, waits for blocks i-spillHours..i-1 (taken earlier, so
// there is no cycle), merges their rows of hour i in time order and hands the
// built hour to the consumer, who takes hours strictly in order. Tokens bound
// how far the workers run ahead of the consumer, and with it the memory.
type pipeline struct {
	m       *model
	build   func(p *pipeline, out *hourOut, srcs []*block, hour int)
	blocks  []*block
	ready   []chan struct{}
	results []chan *hourOut // buffered 1: the worker never waits on the consumer
	refs    []atomic.Int32  // hours still to build from each block
	tokens  chan struct{}
	next    atomic.Int64
	done    chan struct{}
	wg      sync.WaitGroup
	// Free lists, not sync.Pool: a pool is emptied at every GC, and
	// regrowing hour-sized buffers was a third of the CPU time.
	mu      sync.Mutex
	freeBlk []*block
	freeOut []*hourOut
	closed  sync.Once
}

// hourOut is one built hour: CSV bytes or parsed events.
type hourOut struct {
	csv  []byte
	rows int
}

func newPipeline(m *model, workers int, build func(*pipeline, *hourOut, []*block, int)) *pipeline {
	n := m.nBlocks
	p := &pipeline{
		m: m, build: build,
		blocks:  make([]*block, n),
		ready:   make([]chan struct{}, n),
		results: make([]chan *hourOut, n),
		refs:    make([]atomic.Int32, n),
		// workers+2 hours in flight: one per worker plus slack so a worker
		// finishing an hour finds the next token while the consumer drains.
		tokens: make(chan struct{}, workers+2),
		done:   make(chan struct{}),
	}
	for i := range n {
		p.ready[i] = make(chan struct{})
		p.results[i] = make(chan *hourOut, 1)
		p.refs[i].Store(int32(min(i+spillHours, n-1) - i + 1))
	}
	for range cap(p.tokens) {
		p.tokens <- struct{}{}
	}
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

func (p *pipeline) work() {
	defer p.wg.Done()
	srcs := make([]*block, 0, spillHours+1)
	var raw []rec
	for {
		select {
		case <-p.tokens:
		case <-p.done:
			return
		}
		i := int(p.next.Add(1) - 1)
		if i >= len(p.blocks) {
			return
		}
		b := p.getBlock()
		raw = p.m.gen(b, i, raw)
		p.blocks[i] = b
		close(p.ready[i])
		if p.build == nil {
			// The consumer merges the hours itself (Generator) and
			// releases the blocks; hand over a marker.
			p.results[i] <- nil
			continue
		}
		srcs = srcs[:0]
		for j := max(0, i-spillHours); j <= i; j++ {
			select {
			case <-p.ready[j]:
			case <-p.done:
				return
			}
			srcs = append(srcs, p.blocks[j])
		}
		out := p.getOut()
		p.build(p, out, srcs, i)
		p.release(srcs)
		p.results[i] <- out
	}
}

// release records that one more hour of each of srcs is built and recycles
// the blocks with none left.
func (p *pipeline) release(srcs []*block) {
	for _, s := range srcs {
		if p.refs[s.idx].Add(-1) == 0 {
			p.blocks[s.idx] = nil
			p.mu.Lock()
			p.freeBlk = append(p.freeBlk, s)
			p.mu.Unlock()
		}
	}
}

// sources returns the blocks holding rows of hour h; the caller must have
// received hour h from get (so they are all generated).
func (p *pipeline) sources(h int, dst []*block) []*block {
	dst = dst[:0]
	for j := max(0, h-spillHours); j <= h; j++ {
		dst = append(dst, p.blocks[j])
	}
	return dst
}

// get returns built hour i (nil when the pipeline has no build function);
// the caller must call put with it when done.
func (p *pipeline) get(i int) (*hourOut, bool) {
	select {
	case out := <-p.results[i]:
		return out, true
	case <-p.done:
		return nil, false
	}
}

func (p *pipeline) put(out *hourOut) {
	if out != nil {
		p.mu.Lock()
		p.freeOut = append(p.freeOut, out)
		p.mu.Unlock()
	}
	select {
	case p.tokens <- struct{}{}:
	case <-p.done:
	}
}

// stop ends the workers and waits for them; safe to call more than once.
func (p *pipeline) stop() {
	p.closed.Do(func() { close(p.done) })
	p.wg.Wait()
}

func (p *pipeline) getBlock() *block {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.freeBlk); n > 0 {
		b := p.freeBlk[n-1]
		p.freeBlk = p.freeBlk[:n-1]
		return b
	}
	// Sized once for the busiest block: regrowing buffers left garbage
	// that the GC let pile up to twice the live heap in RSS.
	q := int(p.m.maxQuota)
	return &block{sorted: make([]rec, 0, q), sessions: make([]sessText, 0, q/3)}
}

func (p *pipeline) getOut() *hourOut {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.freeOut); n > 0 {
		o := p.freeOut[n-1]
		p.freeOut = p.freeOut[:n-1]
		return o
	}
	return &hourOut{csv: make([]byte, 0, hourBytes(p.m.maxQuota))}
}

// hourBytes is the room for an output hour of a model whose busiest block
// has q rows: an hour also holds spill of earlier blocks, hence the 25 %, and
// lines average 133.4 bytes, hence 140. A bigger hour grows its buffer.
func hourBytes(q int64) int { return int(q+q/4) * 140 }

// hourRows is the number of rows srcs hold for hour h.
func hourRows(srcs []*block, h int) int {
	n := 0
	for _, b := range srcs {
		k := h - b.idx
		n += b.bounds[k+1] - b.bounds[k]
	}
	return n
}
