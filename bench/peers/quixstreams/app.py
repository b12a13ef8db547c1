"""bench/peers/quixstreams/app.py: the prototype's approach as a QuixStreams
application (README.md beside this file), run by run.sh.

    python app.py --brokers B --topic T --ttl-seconds S --out DIR [--no-changelog]

Consumes topic T from its beginning in a new consumer group, the JSON values
`cartwatch produce` writes (keyed by user_id), until it has processed as many
messages as the topic held when it started (the sum over its partitions of the
end offset minus the start offset), then writes DIR/alerts.jsonl and
DIR/summary.json and prints its events/s from the first message.

The logic is the prototype's: each user's open cart lives in QuixStreams'
per-key state; a cart is found abandoned only when the same user's next event
arrives TTL or more after the cart's last cart event. A user who never sends
another event is never reported: their cart is still in the state at the end
(summary: open_carts).
"""

import argparse
import calendar
import json
import os
import shutil
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition
from quixstreams import Application, State


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


_days = {}


def unix_seconds(s):
    """'2019-11-01 00:00:14 UTC' (or RFC 3339 '2019-11-01T00:00:14Z') -> Unix seconds."""
    day = s[:10]
    base = _days.get(day)
    if base is None:
        base = calendar.timegm(time.strptime(day, "%Y-%m-%d"))
        _days[day] = base
    return base + int(s[11:13]) * 3600 + int(s[14:16]) * 60 + int(s[17:19])


def stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


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

    counts = dict(events=0, views=0, carts=0, purchases=0, other_events=0, carts_opened=0,
                  converted=0, abandoned=0, abandoned_value_cents=0, spending_cents=0)
    abandoners = set()
    alerts = open(os.path.join(a.out, "alerts.jsonl"), "w", encoding="utf-8")
    first = [0.0]

    def on_event(ev, state: State):
        if not first[0]:
            first[0] = time.monotonic()
        counts["events"] += 1
        t = unix_seconds(ev["event_time"])
        kind = ev["event_type"]
        cart = state.get("cart")
        # The prototype's check: the user is back, TTL or more after the last cart event.
        if cart is not None and t - cart[1] >= ttl:
            user = ev["user_id"]
            counts["abandoned"] += 1
            counts["abandoned_value_cents"] += cart[3]
            abandoners.add(user)
            alerts.write(json.dumps({
                "user_id": user, "user_session": cart[4],
                "first_cart_at": stamp(cart[0]), "last_cart_at": stamp(cart[1]),
                "abandoned_at": stamp(t), "items": cart[2], "cart_value_cents": cart[3],
            }) + "\n")
            cart = None
            state.delete("cart")
        if kind == "view":
            counts["views"] += 1
        elif kind == "cart":
            counts["carts"] += 1
            cents = round(ev["price"] * 100)  # two decimals: exact below 10^13 cents
            if cart is None:
                counts["carts_opened"] += 1
                cart = [t, t, 0, 0, ""]
            cart[1] = t
            cart[2] += 1
            cart[3] += cents
            cart[4] = ev.get("user_session", "")
            state.set("cart", cart)
        elif kind == "purchase":
            counts["purchases"] += 1
            counts["spending_cents"] += round(ev["price"] * 100)
            if cart is not None:
                counts["converted"] += 1
                state.delete("cart")
        else:
            counts["other_events"] += 1

    sdf.update(on_event, stateful=True)
    app.run(count=total, collect=False)
    done = time.monotonic()
    alerts.close()

    # Carts still in the state: the users who never came back, never reported.
    open_carts = counts["carts_opened"] - counts["converted"] - counts["abandoned"]
    elapsed = done - first[0] if first[0] else 0.0
    rate = counts["events"] / elapsed if elapsed > 0 else 0.0
    summary = dict(counts, unique_abandoning_users=len(abandoners), open_carts=open_carts,
                   partitions=partitions, events_per_second=round(rate, 1),
                   elapsed_seconds=round(elapsed, 3))
    with open(os.path.join(a.out, "summary.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(summary) + "\n")
    shutil.rmtree(state_dir, ignore_errors=True)
    print(f"quixstreams: {counts['events']} events in {elapsed:.3f} s from the first message: "
          f"{rate:.0f} events/s ({partitions} partitions, {counts['abandoned']} abandoned, "
          f"{open_carts} carts never reported)", file=sys.stderr)
    if counts["events"] != total:
        sys.exit(f"quixstreams: processed {counts['events']} messages, the topic held {total}")


if __name__ == "__main__":
    main()
