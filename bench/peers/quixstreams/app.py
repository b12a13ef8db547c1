"""bench/peers/quixstreams/app.py: the prototype's approach as a QuixStreams
application (README.md beside this file), run by run.sh.

    python app.py --brokers B --topic T --ttl-seconds S --out DIR [--no-changelog]

Consumes topic T from its beginning in a new consumer group, the JSON values
`cartwatch produce` writes (keyed by user_id), until it has processed as many
messages as the topic held when it started (the sum over its partitions of the
end offset minus the start offset), then writes DIR/alerts.jsonl and
DIR/summary.json and prints its events/s from the first message.

The logic is the prototype's (prototype.py): each user's open cart lives in
QuixStreams' per-key state; a cart is found abandoned only when the same
user's next event arrives TTL or more after the cart's last cart event. A user who never sends
another event is never reported: their cart is still in the state at the end
(summary: open_carts).
"""

import argparse
import json
import os
import shutil
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition
from quixstreams import Application, State

from prototype import Prototype, cents, unix_seconds


def end_count(brokers, topic):
    """The messages topic holds now: sum of (end offset - start offset)."""
    c = Consumer({"bootstrap.servers": brokers, "group.id": "quix-peer-offsets"})
    try:
        md = c.list_topics(topic, timeout=30)
        t = md.topics.get(topic)
        if t is None or t.error is not None or not t.partitions:
            sys.exit(f"quixstreams: topic {topic!r} not found on {brokers}")
        total = 0
        for p in t.partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            total += hi - lo
        return total, len(t.partitions)
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--ttl-seconds", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-changelog", action="store_true",
                    help="keep the state in local RocksDB only (no changelog topic)")
    a = ap.parse_args()
    ttl = a.ttl_seconds

    total, partitions = end_count(a.brokers, a.topic)
    state_dir = os.path.join(a.out, "state")
    shutil.rmtree(state_dir, ignore_errors=True)
    app = Application(
        broker_address=a.brokers,
        consumer_group="quix-peer-" + uuid.uuid4().hex[:12],
        auto_offset_reset="earliest",
        state_dir=state_dir,
        use_changelog_topics=not a.no_changelog,
        loglevel="WARNING",
    )
    topic = app.topic(a.topic, value_deserializer="json", key_deserializer="str")
    sdf = app.dataframe(topic)

    alerts = open(os.path.join(a.out, "alerts.jsonl"), "w", encoding="utf-8")
    proto = Prototype(ttl, alerts)
    first = [0.0]

    def on_event(ev, state: State):
        if not first[0]:
            first[0] = time.monotonic()
        cart, kind = state.get("cart"), ev["event_type"]
        kept = proto.apply(cart, ev["user_id"], unix_seconds(ev["event_time"]), kind,
                           cents(ev["price"]), ev.get("user_session", ""))
        # Written back only when it changed (a view leaves an open cart as it was).
        if kept is None:
            if cart is not None:
                state.delete("cart")
        elif kept is not cart or kind == "cart":
            state.set("cart", kept)

    sdf.update(on_event, stateful=True)
    app.run(count=total, collect=False)
    done = time.monotonic()
    alerts.close()

    elapsed = done - first[0] if first[0] else 0.0
    n = proto.counts["events"]
    rate = n / elapsed if elapsed > 0 else 0.0
    summary = proto.summary(partitions=partitions, events_per_second=round(rate, 1),
                            elapsed_seconds=round(elapsed, 3))
    with open(os.path.join(a.out, "summary.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(summary) + "\n")
    shutil.rmtree(state_dir, ignore_errors=True)
    print(f"quixstreams: {n} events in {elapsed:.3f} s from the first message: "
          f"{rate:.0f} events/s ({partitions} partitions, {summary['abandoned']} abandoned, "
          f"{summary['open_carts']} carts never reported)", file=sys.stderr)
    if n != total:
        sys.exit(f"quixstreams: processed {n} messages, the topic held {total}")


if __name__ == "__main__":
    main()
