package core

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/cartwatch/cartwatch/event"
)

// blocksOf cuts evs into Blocks of n rows.
func blocksOf(evs []event.Event, n int) []event.Block {
	var blocks []event.Block
	for len(evs) > 0 {
		k := min(n, len(evs))
		var b event.Block
		b.AppendEvents(evs[:k])
		blocks = append(blocks, b)
		evs = evs[k:]
	}
	return blocks
}

// runEngineBlocks runs evs as Blocks of n rows, through RunBlockSlice or,
// streamed, through RunBlocks (whose reader appends n events per call), and
// returns what runEngine does.
func runEngineBlocks(t *testing.T, evs []event.Event, n int, streamed bool, opt Options) (string, Summary) {
	t.Helper()
	var buf bytes.Buffer
	opt.Alerts = &buf
	var sum Summary
	var err error
	if streamed {
		rest := evs
		sum, err = RunBlocks(func(b *event.Block) int {
			if b.Len() != 0 {
				t.Errorf("RunBlocks handed read a event.Block of %d rows, want an empty one", b.Len())
			}
			k := min(n, len(rest))
			b.AppendEvents(rest[:k])
			rest = rest[k:]
			return k
		}, opt, nil)
	} else {
		sum, err = RunBlockSlice(blocksOf(evs, n), opt)
	}
	if err != nil {
		t.Fatal(err)
	}
	normalized(&sum)
	return buf.String(), sum
}

// randomEvents returns n events of the 2019-Nov mix (views nineteen in
// twenty, in runs, so that the router's all-view words and mixed words both
// occur), few users and out-of-order times.
func randomEvents(rng *rand.Rand, n int) []event.Event {
	var evs []event.Event
	tm := int64(1572566400)
	for i := 0; i < n; i++ {
		tm += int64(rng.IntN(3))
		t := tm - int64(rng.IntN(4)*rng.IntN(30))
		typ := V
		switch r := rng.IntN(40); {
		case r == 0:
			typ = C
		case r == 1:
			typ = P
		case r == 2 && rng.IntN(2) == 0:
			typ = O
		}
		evs = append(evs, ev(t, typ, uint64(rng.IntN(20))*7919, uint64(rng.IntN(50)), int64(rng.IntN(10000))))
	}
	return evs
}

// TestBlockRouteMatchesEvents: the Block route gives the alerts and summary
// of the []Event route, on streams long enough for the eight-row words, with
// block sizes that are and are not multiples of eight.
func TestBlockRouteMatchesEvents(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 8; iter++ {
		evs := randomEvents(rng, 3000+rng.IntN(3000))
		for _, extend := range []bool{false, true} {
			opt := Options{TTL: 120e9, ExtendOnActivity: extend, Shards: 1 + iter%3, Parsers: 2}
			want, wantSum := runEngine(t, evs, opt)
			if wantSum.Abandoned == 0 || wantSum.Converted == 0 {
				t.Fatalf("the stream does not exercise the detector: %+v", wantSum)
			}
			for _, n := range []int{8, 13, 1000, 1 << 16} {
				for _, streamed := range []bool{false, true} {
					got, sum := runEngineBlocks(t, evs, n, streamed, opt)
					if got != want {
						t.Fatalf("iter %d extend=%v block=%d streamed=%v: alerts differ", iter, extend, n, streamed)
					}
					if !reflect.DeepEqual(sum, wantSum) {
						t.Fatalf("iter %d extend=%v block=%d streamed=%v: summary\ngot  %+v\nwant %+v", iter, extend, n, streamed, sum, wantSum)
					}
				}
			}
		}
	}
}

// TestBlockRoundTrip: AppendTo gives back the events Append took, but a
// view's fields that no rule reads.
func TestBlockRoundTrip(t *testing.T) {
	evs := randomEvents(rand.New(rand.NewPCG(5, 6)), 500)
	var b event.Block
	b.AppendEvents(evs)
	got, err := b.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		want := evs[i]
		if want.Type == event.EventView {
			want = event.Event{Time: want.Time, Type: want.Type, UserID: want.UserID}
		}
		if got[i] != want {
			t.Fatalf("row %d: got %+v, want %+v", i, got[i], want)
		}
	}
}

// TestBadBlock: a Block that breaks its invariant fails the run with
// ErrBadBlock, never a panic or a wrong summary.
func TestBadBlock(t *testing.T) {
	evs := randomEvents(rand.New(rand.NewPCG(7, 8)), 100)
	f := func(name string, spoil func(b *event.Block)) {
		t.Helper()
		for _, extend := range []bool{false, true} {
			blocks := blocksOf(evs, 64)
			spoil(&blocks[1])
			if _, err := RunBlockSlice(blocks, Options{ExtendOnActivity: extend}); !errors.Is(err, event.ErrBadBlock) {
				t.Errorf("%s, extend=%v: RunBlockSlice error %v, want event.ErrBadBlock", name, extend, err)
			}
			k := 0
			_, err := RunBlocks(func(b *event.Block) int {
				if k == len(blocks) {
					return 0
				}
				b.Time, b.Type, b.UserID = append(b.Time, blocks[k].Time...), append(b.Type, blocks[k].Type...), append(b.UserID, blocks[k].UserID...)
				b.Rest = append(b.Rest, blocks[k].Rest...)
				k++
				return b.Len()
			}, Options{ExtendOnActivity: extend}, nil)
			if !errors.Is(err, event.ErrBadBlock) {
				t.Errorf("%s, extend=%v: RunBlocks error %v, want event.ErrBadBlock", name, extend, err)
			}
		}
	}
	f("short type column", func(b *event.Block) { b.Type = b.Type[:len(b.Type)-1] })
	f("short user column", func(b *event.Block) { b.UserID = b.UserID[1:] })
	f("rest missing", func(b *event.Block) { b.Rest = b.Rest[:len(b.Rest)-1] })
	f("rest extra", func(b *event.Block) { b.Rest = append(b.Rest, event.BlockRest{}) })
	f("view made a cart", func(b *event.Block) {
		for i, typ := range b.Type {
			if typ == event.EventView {
				b.Type[i] = event.EventCart
				return
			}
		}
	})
}
