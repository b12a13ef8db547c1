package main

import (
	"sync/atomic"

	"github.com/cartwatch/cartwatch/dash"
)

// The dashboard of run and consume (the demo's is demo_dash.go): the
// engine's figures through dash.LiveSource, the one adapter of the three
// commands, under the command's title and the phase it is in. Mounted at
// "/" of the --http mux (http.go); Stop at the end of the command sends
// the stopped event.

// phase is what a command is doing, in words, for the page; safe for
// concurrent use.
type phase struct{ v atomic.Pointer[string] }

func (p *phase) set(s string) { p.v.Store(&s) }

func (p *phase) get() string {
	if s := p.v.Load(); s != nil {
		return *s
	}
	return ""
}

// newBoard returns the page of src, titled title, in the phase ph.
func newBoard(title string, ph *phase, src *dash.LiveSource) *dash.Server {
	return dash.New(func() dash.Figures {
		f := dash.Figures{Title: title, Phase: ph.get()}
		src.Fill(&f)
		return f
	}, dash.Options{})
}
