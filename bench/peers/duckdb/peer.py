"""bench/peers/duckdb/peer.py: runs abandoned.sql in DuckDB on one CSV and writes
cartwatch's alert lines and summary counts (bench/peers/lib.sh's layout).

    python peer.py INPUT.csv TTL_SECONDS OUT_DIR [--max-future-seconds S] [--threads N]
"""
import argparse
import json
import os
import sys
import time

import duckdb


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("ttl", type=int)
    ap.add_argument("out")
    ap.add_argument("--max-future-seconds", type=int, default=24 * 3600, help="negative: no limit")
    ap.add_argument("--threads", type=int, default=0, help="0: DuckDB's default (every core)")
    a = ap.parse_args()
    max_time = 2**62 if a.max_future_seconds < 0 else int(time.time()) + a.max_future_seconds
    here = os.path.dirname(os.path.abspath(__file__))
    sql = open(os.path.join(here, "abandoned.sql")).read()
    sql = sql.replace("$input", lit(a.input)).replace("$ttl", str(a.ttl)).replace("$max_time", str(max_time))
    con = duckdb.connect()
    if a.threads > 0:
        con.execute(f"SET threads = {a.threads}")
    con.execute(sql)

    alerts = os.path.join(a.out, "alerts.jsonl")
    ts = "strftime(make_timestamp({} * 1000000), '%Y-%m-%dT%H:%M:%SZ')"
    con.execute(f"""
        COPY (SELECT uid AS user_id, session AS user_session,
                     {ts.format('first_cart_at')} AS first_cart_at, {ts.format('last_cart_at')} AS last_cart_at,
                     {ts.format('abandoned_at')} AS abandoned_at, items, value_cents AS cart_value_cents, products
              FROM islands WHERE NOT converted ORDER BY abandoned_at, user_id)
        TO {lit(alerts)} (FORMAT JSON)""")

    one = lambda q: con.execute(q).fetchone()
    rows = one("SELECT count(*) FROM raw")[0]
    s = {}
    s["events"], s["views"], s["carts"], s["purchases"], s["spending_cents"] = one("""
        SELECT count(*), count(*) FILTER (typ = 'view'), count(*) FILTER (typ = 'cart'),
               count(*) FILTER (typ = 'purchase'), coalesce(sum(cents) FILTER (typ = 'purchase'), 0)::BIGINT FROM ev""")
    s["other_events"] = s["events"] - s["views"] - s["carts"] - s["purchases"]
    s["malformed"] = rows - s["events"]
    s["carts_opened"], s["converted"], s["abandoned"], s["abandoned_value_cents"], s["unique_abandoning_users"] = one("""
        SELECT count(*), count(*) FILTER (converted), count(*) FILTER (NOT converted),
               coalesce(sum(value_cents) FILTER (NOT converted), 0)::BIGINT,
               count(DISTINCT uid) FILTER (NOT converted) FROM islands""")
    s["direct_purchases"], s["late_purchases"] = one(
        "SELECT count(*) FILTER (NOT late), count(*) FILTER (late) FROM lone")
    s["top_spenders"] = [{"user_id": u, "spending_cents": c} for u, c in con.execute("""
        SELECT uid, sum(cents)::BIGINT AS c FROM ev WHERE typ = 'purchase'
        GROUP BY uid ORDER BY c DESC, uid LIMIT 5""").fetchall()]
    s["open_carts"] = 0
    s["rows_read"] = rows
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(s, f)
        f.write("\n")
    print(f"duckdb {duckdb.__version__}: {rows} rows read, {s['events']} valid", file=sys.stderr)


if __name__ == "__main__":
    main()
