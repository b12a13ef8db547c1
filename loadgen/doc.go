// Package loadgen generates a deterministic synthetic 2019-Nov month of
// e-commerce clickstream events (the REES46 schema) from a generative model,
// as CSV or as an in-process stream of event.Event, and measures any file in
// that schema against the published statistics of the real month.
//
// A Generator is not safe for concurrent use: one goroutine reads it, while
// the Generator runs its own worker goroutines, stopped by Close or by
// reading to the end. The output depends only on the Config (never on
// GOMAXPROCS or the number of workers): the month is cut into one-hour
// blocks, each generated from its own seeded random stream, and the blocks'
// events are merged back into time order. docs/loadgen-model.md describes the
// model and its parameters.
package loadgen
