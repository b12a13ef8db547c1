// Package format decodes the row formats cartwatch reads into event.Event:
// the 2019-Nov CSV schema (csv.go: one row; structural.go: a chunk of rows
// with a two-stage SIMD scan; header.go: columns mapped by name) with the
// exact validation of docs/semantics.md rule 8, one Kafka message (json.go:
// a JSON object, read with fastjson, or a CSV line) with the same checks,
// and the event time parser (timeparse.go). A Parser is not safe for concurrent use: give each
// goroutine its own.
package format
