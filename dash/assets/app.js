// cartwatch's dashboard: figures from server-sent events (one JSON
// snapshot per tick, dash.Figures), KPIs and tables redrawn from each,
// time charts (uPlot) over the last HISTORY snapshots kept here in the
// browser. A figure the server does not send shows as "—".
"use strict";

const HISTORY = 600; // points per time chart: 10 minutes at one a second
const SLOW = 5000;   // ms without figures after an error: "disconnected"
const DASH = "—";

const $ = (id) => document.getElementById(id);
const has = (v) => v !== undefined && v !== null;

// Formatting: counts with thousands separators, money from integer cents.
const nf = new Intl.NumberFormat("en-US");
const count = (n) => (has(n) ? nf.format(Math.round(n)) : DASH);
function money(c) {
  if (!has(c)) return DASH;
  const neg = c < 0 ? "-" : "";
  c = Math.abs(c);
  return neg + nf.format(Math.floor(c / 100)) + "." + String(c % 100).padStart(2, "0");
}
const pct = (r) => (has(r) ? (100 * r).toFixed(1) + " %" : DASH);
function secs(s) {
  if (!has(s) || s < 0) return DASH;
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
  return (s / 60).toFixed(1) + " min";
}
function ttlText(s) {
  if (s % 3600 === 0) return s / 3600 + "h";
  if (s % 60 === 0) return s / 60 + "m";
  return s + "s";
}
const utc = (t) => (t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : DASH);
const clock = (t) => new Date(t * 1000).toISOString().slice(11, 19);

function setText(id, s) {
  const el = $(id);
  if (el.textContent !== s) el.textContent = s;
}

// Ring keeps the last n values of each series in fixed arrays and hands
// uPlot its columns in time order.
class Ring {
  constructor(n, series) {
    this.n = n;
    this.len = 0;
    this.head = 0; // next slot to write
    this.cols = Array.from({ length: series }, () => new Array(n));
  }
  push(row) {
    row.forEach((v, i) => { this.cols[i][this.head] = v; });
    this.head = (this.head + 1) % this.n;
    this.len = Math.min(this.len + 1, this.n);
  }
  data() {
    const start = (this.head - this.len + this.n) % this.n;
    return this.cols.map((c) => {
      const out = new Array(this.len);
      for (let i = 0; i < this.len; i++) out[i] = c[(start + i) % this.n];
      return out;
    });
  }
}

// Time charts: each takes its values from one snapshot.
const palette = ["#2f6fdf", "#c0392b", "#1f8a4c", "#b26b00"];
const timeCharts = [
  { id: "chart-eps", series: ["events/s"], pick: (f) => [f.engine?.events_per_second] },
  { id: "chart-open", series: ["open carts"], pick: (f) => [f.engine?.open_carts] },
  { id: "chart-value", series: ["abandoned value"], pick: (f) => [has(f.kpis) ? f.kpis.abandoned_value_cents / 100 : null] },
  { id: "chart-rates", series: ["abandonment %", "recovery %"],
    pick: (f) => [has(f.carts) ? 100 * f.carts.abandonment_rate : null, has(f.carts) ? 100 * f.carts.recovery_rate : null] },
  { id: "chart-lag", series: ["lag"], pick: (f) => [has(f.kafka) && f.kafka.consumer_lag >= 0 ? f.kafka.consumer_lag : null] },
  { id: "chart-latency", series: ["p50", "p99"],
    pick: (f) => (has(f.alert_latency) && f.alert_latency.count > 0 ? [f.alert_latency.p50_seconds, f.alert_latency.p99_seconds] : [null, null]) },
];

function chartWidth(el) {
  return Math.max(200, el.parentElement.clientWidth - 16);
}

function makeTimeChart(c) {
  const el = $(c.id);
  const opts = {
    width: chartWidth(el), height: 170,
    legend: { show: c.series.length > 1 },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    series: [{}].concat(c.series.map((label, i) => ({ label, stroke: palette[i], width: 2, spanGaps: false, points: { show: false } }))),
    axes: [{ stroke: "#8891a0" }, { stroke: "#8891a0", size: 60 }],
  };
  c.ring = new Ring(HISTORY, c.series.length + 1);
  c.plot = new uPlot(opts, c.ring.data(), el);
}

// The TTL advisor: bars of the share each TTL would still catch.
let ttlPlot = null;
let ttlKey = "";
function drawTTL(adv) {
  const el = $("chart-ttl");
  const empty = !has(adv) || adv.length === 0;
  $("ttl-empty").hidden = !empty;
  el.hidden = empty;
  if (empty) return;
  const xs = adv.map((_, i) => i);
  const ys = adv.map((a) => 100 * a.share);
  const key = adv.map((a) => a.ttl_seconds).join(",");
  if (!ttlPlot || key !== ttlKey) {
    if (ttlPlot) ttlPlot.destroy();
    ttlKey = key;
    const labels = adv.map((a) => ttlText(a.ttl_seconds));
    ttlPlot = new uPlot({
      width: chartWidth(el), height: 170, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false, range: [-0.6, adv.length - 0.4] }, y: { range: [0, 100] } },
      series: [{}, { label: "share %", fill: "rgba(47,111,223,.55)", stroke: palette[0], paths: uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } }],
      axes: [{ stroke: "#8891a0", splits: () => xs, values: () => labels, grid: { show: false } }, { stroke: "#8891a0", size: 40 }],
    }, [xs, ys], el);
  } else {
    ttlPlot.setData([xs, ys]);
  }
}

function rows(tbody, list, cols, row) {
  if (!has(list) || list.length === 0) {
    tbody.innerHTML = `<tr><td colspan="${cols}" class="muted">${has(list) ? "none yet" : DASH}</td></tr>`;
    return;
  }
  tbody.replaceChildren(...list.map((x, i) => {
    const tr = document.createElement("tr");
    row(x, i).forEach(([text, cls, fill]) => {
      const td = document.createElement("td");
      if (cls) td.className = cls;
      if (has(fill)) {
        const s = document.createElement("span");
        s.className = "fill";
        s.style.width = (100 * fill).toFixed(1) + "%";
        td.classList.add("bar");
        td.append(s);
      }
      td.append(text);
      tr.append(td);
    });
    return tr;
  }));
}

// render shows one snapshot.
function render(f) {
  document.title = (f.stopped ? "stopped · " : "") + "cartwatch" + (f.title ? " · " + f.title : "");
  setText("run-title", f.title || DASH);
  setText("phase", f.phase || DASH);
  setText("event-time", utc(f.event_time));

  const k = f.kpis, e = f.engine, c = f.carts, lat = f.alert_latency;
  setText("kpi-abandoned", count(k?.abandoned_carts));
  setText("kpi-abandoned-value", money(k?.abandoned_value_cents));
  setText("kpi-users", count(k?.unique_abandoning_users));
  setText("kpi-spending", money(k?.spending_cents));
  setText("kpi-eps", count(e?.events_per_second));
  setText("kpi-open", count(e?.open_carts));
  setText("kpi-abandonment-rate", pct(c?.abandonment_rate));
  setText("kpi-recovery-rate", pct(c?.recovery_rate));
  setText("kpi-lag", has(f.kafka) && f.kafka.consumer_lag >= 0 ? count(f.kafka.consumer_lag) : DASH);
  setText("kpi-latency", has(lat) && lat.count > 0 ? secs(lat.p50_seconds) + " / " + secs(lat.p99_seconds) : DASH);

  const t = f.time_ms / 1000;
  for (const ch of timeCharts) {
    ch.ring.push([t].concat(ch.pick(f).map((v) => (has(v) ? v : null))));
    ch.plot.setData(ch.ring.data());
  }
  drawTTL(f.ttl_advisor);

  rows($("spenders"), k && has(k.top_spenders) ? k.top_spenders.slice(0, 5) : null, 3,
    (s, i) => [[String(i + 1)], [String(s.user_id)], [money(s.spending_cents), "num"]]);
  const cats = has(f.top_categories) ? f.top_categories.slice(0, 8) : null;
  const top = cats && cats.length ? Math.max(1, cats[0].value_cents) : 1;
  rows($("categories"), cats, 3,
    (x) => [[x.name, null, x.value_cents / top], [count(x.items), "num"], [money(x.value_cents), "num"]]);
  rows($("alerts"), has(f.latest_alerts) ? f.latest_alerts : null, 6,
    (a) => [[String(a.user_id)], [clock(a.abandoned_at)], [count(a.items), "num"], [money(a.cart_value_cents), "num"],
      [String(a.partition), "num"], [secs(a.latency_seconds), "num"]]);
}

// The connection's state, on the badge and the banner.
function setState(state, message) {
  const b = $("status");
  b.dataset.state = state;
  b.textContent = state;
  const banner = $("banner");
  banner.hidden = !message;
  banner.dataset.kind = message ? state : "";
  banner.textContent = message || "";
}

let es = null;
let stopped = false;
let lostAt = 0;
let lostTimer = null;

function connect() {
  es = new EventSource("events");
  es.onmessage = (m) => {
    lostAt = 0;
    clearTimeout(lostTimer);
    const f = JSON.parse(m.data);
    render(f);
    if (f.stopped) return finish();
    setState("live", "");
  };
  es.addEventListener("stopped", (m) => {
    render(JSON.parse(m.data));
    finish();
  });
  es.onerror = () => {
    if (stopped) return;
    if (!lostAt) lostAt = Date.now();
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (the server answered, but not with a stream):
      // try again ourselves.
      setState("disconnected", "Disconnected: the dashboard's server does not answer. Trying again every few seconds; the figures below are the last received.");
      clearTimeout(lostTimer);
      lostTimer = setTimeout(connect, SLOW);
      return;
    }
    if (Date.now() - lostAt >= SLOW) {
      setState("disconnected", "Disconnected: the dashboard's server does not answer (still trying). The figures below are the last received.");
    } else {
      setState("reconnecting", "Connection lost: reconnecting…");
      clearTimeout(lostTimer);
      lostTimer = setTimeout(() => {
        if (lostAt && !stopped) setState("disconnected", "Disconnected: the dashboard's server does not answer (still trying). The figures below are the last received.");
      }, SLOW);
    }
  };
}

// finish shows the stopped state: the last figures stay on the page.
function finish() {
  stopped = true;
  clearTimeout(lostTimer);
  es.close();
  setState("stopped", "The processor has stopped: these are its final figures.");
}

setText("history", String(HISTORY));
timeCharts.forEach(makeTimeChart);
new ResizeObserver(() => {
  for (const ch of timeCharts) ch.plot.setSize({ width: chartWidth($(ch.id)), height: 170 });
  if (ttlPlot) ttlPlot.setSize({ width: chartWidth($("chart-ttl")), height: 170 });
}).observe(document.querySelector(".charts"));
connect();
