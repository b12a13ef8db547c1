package core

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/cartwatch/cartwatch/format"
)

// This file is the output side of the engine: every alert and every
// malformed record leaves through a Sink, called by the merger goroutine
// alone, in output order.

// Reject is one malformed record: where it was and why.
type Reject struct {
	Partition int32
	Pos       int64 // line number (file), row number (in-process), offset (Kafka)
	Reason    format.Reason
	Value     []byte // the raw record, for messages (Records.Values); else nil
}

// Spend is one purchase with its user's running total (Options.Spending).
type Spend struct {
	Partition  int32
	Pos        int64 // the purchase's position
	UserID     uint64
	Time       int64 // the purchase's event time
	PriceCents int64
	TotalCents int64 // the user's spending so far, this purchase included
}

// SpendSink is a Sink that also takes purchases with their users' running
// totals (Options.Spending), in input order.
type SpendSink interface {
	Sink
	Spend(s *Spend) error
}

// Sink receives a run's outputs. The engine calls it from one goroutine (the
// merger), so an implementation needs no locking; the values it is given are
// only valid during the call.
type Sink interface {
	// Alert is called for each abandoned cart, in output order.
	Alert(a *Alert) error
	// Reject is called for each malformed record, in input order.
	Reject(r *Reject) error
	// Flush is called when every output before it has been given to the
	// sink: at a barrier (end false) and once at the end of the run (end
	// true). A sink that buffers writes its buffer out here.
	Flush(end bool) error
}

// AlertsJSON returns a Sink that writes each alert as one JSON line to w
// (docs/semantics.md), through a 256 KiB buffer.
func AlertsJSON(w io.Writer) Sink {
	return &alertsJSON{w: bufio.NewWriterSize(w, 256<<10)}
}

type alertsJSON struct {
	w    *bufio.Writer
	line []byte
}

func (s *alertsJSON) Alert(a *Alert) error {
	s.line = a.AppendJSON(s.line[:0])
	s.line = append(s.line, '\n')
	if _, err := s.w.Write(s.line); err != nil {
		return fmt.Errorf("writing alerts: %w", err)
	}
	return nil
}

func (s *alertsJSON) Reject(*Reject) error { return nil }

func (s *alertsJSON) Flush(bool) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("writing alerts: %w", err)
	}
	return nil
}

// RejectsTSV returns a Sink that writes "position<TAB>reason" for each
// malformed record to w.
func RejectsTSV(w io.Writer) Sink {
	return &rejectsTSV{w: bufio.NewWriterSize(w, 64<<10)}
}

type rejectsTSV struct {
	w    *bufio.Writer
	line []byte
}

func (s *rejectsTSV) Alert(*Alert) error { return nil }

func (s *rejectsTSV) Reject(r *Reject) error {
	s.line = strconv.AppendInt(s.line[:0], r.Pos, 10)
	s.line = append(s.line, '\t')
	s.line = append(s.line, r.Reason.String()...)
	s.line = append(s.line, '\n')
	if _, err := s.w.Write(s.line); err != nil {
		return fmt.Errorf("writing rejects: %w", err)
	}
	return nil
}

func (s *rejectsTSV) Flush(bool) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("writing rejects: %w", err)
	}
	return nil
}

// RejectLog returns a Sink that describes the first n malformed records on w,
// one line each, and at the end how many there were in all if that is more.
// Errors writing to w are ignored: it is a log.
func RejectLog(w io.Writer, n int) Sink { return &rejectLog{w: w, max: n} }

type rejectLog struct {
	w    io.Writer
	max  int
	seen int64
}

func (s *rejectLog) Alert(*Alert) error { return nil }

func (s *rejectLog) Reject(r *Reject) error {
	s.seen++
	if s.seen <= int64(s.max) {
		if r.Partition != 0 {
			fmt.Fprintf(s.w, "partition %d offset %d: malformed record skipped: %v\n", r.Partition, r.Pos, r.Reason)
		} else {
			fmt.Fprintf(s.w, "line %d: malformed row skipped: %v\n", r.Pos, r.Reason)
		}
	}
	return nil
}

func (s *rejectLog) Flush(end bool) error {
	if end && s.seen > int64(s.max) {
		fmt.Fprintf(s.w, "... %d malformed rows in all (use --rejects FILE for every line)\n", s.seen)
	}
	return nil
}

// Sinks returns a Sink that hands every call to each of sinks in turn (nil
// ones are left out); the first error stops a call and is returned.
func Sinks(sinks ...Sink) Sink {
	var m multiSink
	for _, s := range sinks {
		if s != nil {
			m = append(m, s)
		}
	}
	return m
}

type multiSink []Sink

func (m multiSink) Alert(a *Alert) error {
	for _, s := range m {
		if err := s.Alert(a); err != nil {
			return err
		}
	}
	return nil
}

func (m multiSink) Reject(r *Reject) error {
	for _, s := range m {
		if err := s.Reject(r); err != nil {
			return err
		}
	}
	return nil
}

// Spend hands s to the sinks that are SpendSinks.
func (m multiSink) Spend(s *Spend) error {
	for _, x := range m {
		if ss, ok := x.(SpendSink); ok {
			if err := ss.Spend(s); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m multiSink) Flush(end bool) error {
	var errs []error
	for _, s := range m {
		errs = append(errs, s.Flush(end))
	}
	return errors.Join(errs...)
}
