// Package core is cartwatch's engine: it reads a Source (a file, stdin, a
// reader, in-process Blocks; source*.go), decodes its records on worker
// goroutines (decode_csv.go, route.go), applies them to a sharded session
// table and a timing wheel per shard and partition (detector.go, table.go,
// wheel/), and hands abandoned carts and malformed records to a Sink
// (sink.go) in a deterministic order. Run is the one entry point
// (engine.go); docs/semantics.md is the contract and docs/architecture.md
// the map.
//
// Each piece of mutable state has one owning goroutine (engine.go's
// comment lists them); unless a type says otherwise, values are not safe
// for concurrent use.
package core
