// Package kafka holds what cartwatch's Kafka commands share, on franz-go
// (kgo, kadm): the broker flags and a connection that fails with the
// address instead of hanging (client.go), topics created with the right
// retention (topic.go), the record values (encode.go: one event as JSON or
// as a CSV line; text.go: the free-text columns of a CSV row, which an
// event.Event does not keep), a producer that recycles its records
// (producer.go), pacing (pace.go) and a clamped HDR latency histogram
// (latency.go).
//
// A record is keyed by the event's user_id in decimal, so every event of a
// user lands in one partition (kgo's default partitioner hashes the key with
// murmur2, as the Java client does) and stays in order there; its timestamp
// is the event time.
//
// # Retention
//
// Topics this package creates get retention.ms=-1 (no time limit). Kafka's
// default, 7 days, is measured against the record timestamps, and a replay
// of the 2019-Nov file carries 2019 event times: every segment is years past
// its retention the moment it is written, and the broker's next retention
// check (log.retention.check.interval.ms, 5 minutes by default) deletes it,
// the active segment included. The same holds for the alerts topic, whose
// alerts carry 2019 deadlines. EnsureTopic warns when a topic that already
// exists has a time limit.
//
// Concurrency: a Producer, an Encoder and a Pacer belong to one goroutine;
// a Producer's counters and a Latency may be read from any goroutine.
package kafka
