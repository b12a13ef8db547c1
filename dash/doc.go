// Package dash is cartwatch's live dashboard: one page embedded in the
// binary (HTML, a little JavaScript and CSS, and uPlot for the charts; no
// CDN, it works offline), fed by server-sent events. A Server takes the
// figures from its source once per tick, only while someone watches, and
// writes the same encoded bytes to every viewer, so a hundred viewers cost
// a hundred writes a second and nothing more of the engine. When the
// processor ends, Stop sends a last "stopped" event and the page says so;
// when the connection drops, the page says it is reconnecting.
//
// A Server is safe for concurrent use. The files: figures.go (Figures, the
// snapshot the page shows), live.go (LiveSource, the one adapter from a
// running engine's core.Live and a Kafka consumer to Figures, used by demo,
// consume and run), server.go (the handler and the ticks),
// assets/ (the page; assets/README.md says where uPlot comes from and how
// to update it).
package dash
