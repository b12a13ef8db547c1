"""bench/peers/quixstreams/prototype.py: the prototype's logic (README.md beside
this file), apart from QuixStreams, so it can be tested without a broker.

app.py calls Prototype.apply once per message with the user's cart from
QuixStreams' State. Run as a program, it reads a CSV in the 2019-Nov schema
(header first) in file order, keeps the carts in a dict, and writes the same
OUT/alerts.jsonl and OUT/summary.json as app.py (bench/peers' TestPrototype*):

    python3 prototype.py INPUT.csv TTL_SECONDS OUT_DIR
"""

import calendar
import csv
import json
import os
import sys
import time

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


def cents(price):
    """A price (a JSON float or the CSV's text) in integer cents: exact for two decimals."""
    return round(float(price) * 100)


class Prototype:
    """The counts and the per-event step. A cart is a list:
    [first_cart_at, last_cart_at, items, value_cents, user_session]."""

    def __init__(self, ttl_seconds, alerts):
        self.ttl = ttl_seconds
        self.alerts = alerts  # a text file: one JSON alert per line
        self.counts = dict(events=0, views=0, carts=0, purchases=0, other_events=0, carts_opened=0,
                           converted=0, abandoned=0, abandoned_value_cents=0, spending_cents=0)
        self.abandoners = set()

    def apply(self, cart, user, t, kind, price_cents, session):
        """Applies one event of user at Unix second t to the user's cart (None:
        no open cart) and returns the cart to keep (None: forget it)."""
        c = self.counts
        c["events"] += 1
        # The prototype's only check: the user is back, TTL or more after the
        # last cart event. Nothing else ever looks at a cart.
        if cart is not None and t - cart[1] >= self.ttl:
            c["abandoned"] += 1
            c["abandoned_value_cents"] += cart[3]
            self.abandoners.add(user)
            self.alerts.write(json.dumps({
                "user_id": user, "user_session": cart[4],
                "first_cart_at": stamp(cart[0]), "last_cart_at": stamp(cart[1]),
                "abandoned_at": stamp(t), "items": cart[2], "cart_value_cents": cart[3],
            }) + "\n")
            cart = None
        if kind == "view":
            c["views"] += 1
        elif kind == "cart":
            c["carts"] += 1
            if cart is None:
                c["carts_opened"] += 1
                cart = [t, t, 0, 0, ""]
            cart[1] = t
            cart[2] += 1
            cart[3] += price_cents
            cart[4] = session
        elif kind == "purchase":
            c["purchases"] += 1
            c["spending_cents"] += price_cents
            if cart is not None:
                c["converted"] += 1
                cart = None
        else:
            c["other_events"] += 1
        return cart

    def summary(self, **extra):
        """The counts; open_carts are the carts never reported (their users never came back)."""
        c = self.counts
        open_carts = c["carts_opened"] - c["converted"] - c["abandoned"]
        return dict(c, unique_abandoning_users=len(self.abandoners), open_carts=open_carts, **extra)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: prototype.py INPUT.csv TTL_SECONDS OUT_DIR")
    path, ttl, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    carts = {}
    with open(os.path.join(out, "alerts.jsonl"), "w", encoding="utf-8") as alerts, \
            open(path, newline="", encoding="utf-8") as f:
        p = Prototype(ttl, alerts)
        rows = csv.reader(f)
        col = {name: i for i, name in enumerate(next(rows))}
        for r in rows:
            if not r:
                continue
            user = int(r[col["user_id"]])
            cart = p.apply(carts.get(user), user, unix_seconds(r[col["event_time"]]), r[col["event_type"]],
                           cents(r[col["price"]]), r[col["user_session"]])
            if cart is None:
                carts.pop(user, None)
            else:
                carts[user] = cart
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(p.summary()) + "\n")


if __name__ == "__main__":
    main()
