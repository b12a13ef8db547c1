-- bench/peers/duckdb/abandoned.sql: cartwatch's contract (docs/semantics.md, rules 2-4
-- and 6 at the default flags) as SQL over the CSV. peer.py fills in the
-- parameters: $input (the CSV path), $ttl (seconds), $max_time (the
-- --max-future limit as Unix seconds).
--
-- A user's open cart is the previous cart or purchase event of that user (in
-- input order) when it is a cart whose deadline (its time + TTL) is later than
-- the watermark W at this event (the highest event time of any valid row so
-- far, rule 2). So the global watermark reduces to a running max over the
-- input, and the rest is per-user gaps and islands: a cart that finds no open
-- cart starts an island; an island ends converted when the next event is a
-- purchase that finds it open, else abandoned at its last cart's time + TTL.

-- Every row as text, columns named by the header, in input order (rn).
CREATE TEMP TABLE raw AS
SELECT row_number() OVER () AS rn, *
FROM read_csv($input, header = true, all_varchar = true, delim = ',', quote = '"',
              escape = '"', strict_mode = true, parallel = true);

-- Rule 8's checks; a row failing one is malformed.
CREATE TEMP TABLE ev AS
SELECT rn, t, event_type AS typ, product, cents, uid, session
FROM (
  SELECT rn, event_type, user_session AS session,
         epoch(coalesce(try_strptime(event_time, '%Y-%m-%d %H:%M:%S UTC'),
                        try_strptime(event_time, '%Y-%m-%dT%H:%M:%SZ')))::BIGINT AS t,
         CASE WHEN regexp_full_match(product_id, '[0-9]+') THEN try_cast(product_id AS UBIGINT) END AS product,
         CASE WHEN regexp_full_match(price, '[0-9]+(\.[0-9]{1,2})?') THEN (price::DECIMAL(18, 2) * 100)::BIGINT END AS cents,
         CASE WHEN regexp_full_match(user_id, '[0-9]+') THEN try_cast(user_id AS UBIGINT) END AS uid
  FROM raw
)
WHERE t IS NOT NULL AND t <= $max_time AND coalesce(event_type, '') <> '' AND product IS NOT NULL
  AND cents IS NOT NULL AND cents <= 1000000000000 AND uid IS NOT NULL;

-- Carts and purchases with the watermark in force at each, and the open cart
-- they find.
CREATE TEMP TABLE cp AS
WITH w AS (
  SELECT *, max(t) OVER (ORDER BY rn ROWS UNBOUNDED PRECEDING) AS wm FROM ev
), c AS (
  SELECT *, lag(typ) OVER u AS prev_typ, lag(t) OVER u AS prev_t
  FROM w WHERE typ IN ('cart', 'purchase')
  WINDOW u AS (PARTITION BY uid ORDER BY rn)
)
SELECT *, coalesce(prev_typ = 'cart' AND prev_t + $ttl > wm, false) AS found_open FROM c;

-- Islands: a cart that finds no open cart opens one. Each cart learns what
-- follows it: another cart of its island, a converting purchase, or nothing.
CREATE TEMP TABLE carts AS
WITH n AS (
  SELECT *, lead(typ) OVER u AS next_typ, lead(found_open) OVER u AS next_found_open,
         sum(CASE WHEN typ = 'cart' AND NOT found_open THEN 1 ELSE 0 END) OVER (u ROWS UNBOUNDED PRECEDING) AS island
  FROM cp
  WINDOW u AS (PARTITION BY uid ORDER BY rn)
)
SELECT *, NOT coalesce(next_typ = 'cart' AND next_found_open, false) AS last_of_island,
       coalesce(next_typ = 'purchase' AND next_found_open, false) AS converts
FROM n WHERE typ = 'cart';

CREATE TEMP TABLE islands AS
SELECT uid, island,
       arg_min(t, rn) AS first_cart_at, arg_max(t, rn) AS last_cart_at,
       arg_max(t, rn) + $ttl AS abandoned_at,
       count(*) AS items, sum(cents)::BIGINT AS value_cents,
       list_slice(list(product ORDER BY rn), 1, 16) AS products,
       arg_max(session, rn) AS session,
       bool_or(last_of_island AND converts) AS converted,
       max(rn) AS last_rn
FROM carts GROUP BY uid, island;

-- Purchases that find no open cart: late when earlier than the abandoned_at of
-- the user's last abandoned cart, else direct.
CREATE TEMP TABLE lone AS
WITH l AS (
  SELECT *, last_value(ab IGNORE NULLS) OVER (PARTITION BY uid ORDER BY rn ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS last_ab
  FROM (SELECT uid, last_rn AS rn, NULL::BIGINT AS t, abandoned_at AS ab FROM islands WHERE NOT converted
        UNION ALL
        SELECT uid, rn, t, NULL FROM cp WHERE typ = 'purchase' AND NOT found_open)
)
SELECT uid, rn, coalesce(t < last_ab, false) AS late FROM l WHERE ab IS NULL;
