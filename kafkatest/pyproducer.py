"""An independent producer for cartwatch's Kafka tests, written the way the
Python prototype replayed the file: each csv.DictReader row sent as
json.dumps(row), so every value is a string and the keys are the CSV
header's names; keyed by user_id, acks=all.

    python3 kafkatest/pyproducer.py BROKERS TOPIC FILE.csv

prints the number of records sent. Needs kafka-python
(kafkatest/requirements.txt; .ci/run installs it).
"""
import csv
import json
import sys

from kafka import KafkaProducer


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    brokers, topic, path = sys.argv[1:]
    producer = KafkaProducer(bootstrap_servers=brokers.split(","), acks="all", linger_ms=5)
    sent = 0
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            producer.send(topic, key=row["user_id"].encode(), value=json.dumps(row).encode())
            sent += 1
    producer.flush()
    producer.close()
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
