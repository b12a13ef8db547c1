// Package kafkatest holds integration tests that run against a real Apache
// Kafka (KRaft) started by deploy/kafka/test.sh (make test-kafka): keyed
// exactly-once, per-key-order delivery on 12 partitions, acks=all
// production that survives losing the partition leader of a 3-node cluster,
// and the Kafka commands (produce_test.go: cartwatch produce and loadgen
// kafka, built from this tree, read back by a consumer; consume_test.go:
// cartwatch consume of the real sample on 1 and 12 partitions and as two
// members of one group against cartwatch run, the dead-letter topic, the
// idle bound; secure_test.go: produce and consume over SASL_SSL with
// SCRAM-SHA-512 on a broker the test starts with kafka.sh's
// KAFKA_SECURITY=sasl_ssl, in the 1-node phase; state_test.go: consume
// killed and restarted at cut points chosen in the sample; faults_test.go:
// the fault matrix, run by make test-faults only). It has no non-test
// code, so there is nothing to use concurrently.
//
// The tests find the cluster through environment variables that test.sh sets:
//
//	CARTWATCH_KAFKA_BROKERS  bootstrap addresses, e.g. 127.0.0.1:9092,127.0.0.1:9093
//	CARTWATCH_KAFKA_NODES    number of brokers (1 or 3)
//	CARTWATCH_KAFKA_CTL      path of deploy/kafka/kafka.sh, used as "$CTL stop|kill|start ID"
//	CARTWATCH_FAULT_LOG      optional: the fault matrix appends one JSON line per run to this file
//
// Without them (or without java or mvn on PATH) every test skips with the
// reason; under CI=true it fails instead, so CI cannot pass without Kafka.
package kafkatest
