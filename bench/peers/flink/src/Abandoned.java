// bench/peers/flink/src/Abandoned.java: cartwatch's contract (docs/semantics.md,
// rules 2-4 and 6 at the default flags) as an Apache Flink DataStream job in a
// local mini-cluster: a file source (one split, so input order), a parser, a
// watermark that is the highest event time seen (emitted with every event),
// and a KeyedProcessFunction per user_id with one event-time timer per open
// cart. The end of the bounded input sends the final watermark, which fires
// every timer (rule 6).
//
// The Kafka variant reads a topic instead (the JSON values cartwatch produce
// writes, keyed by user_id), from its start to the end offsets it had when the
// job started (KafkaSource's setBounded(OffsetsInitializer.latest())). Each
// partition has its own watermark, the highest event time seen in it, as in
// docs/semantics.md "Partitions"; the deserializer stamps every event with its
// partition's watermark, so the detector decides with the user's own
// partition's W even though Flink's timers fire at the lowest of them.
//
//   java -cp LIB/*:CLASSES Abandoned INPUT.csv TTL_SECONDS OUT_DIR [--parallelism N] [--max-future-seconds S]
//   java -cp LIB/*:CLASSES Abandoned --kafka BROKERS TOPIC TTL_SECONDS OUT_DIR [same flags]
//
// Writes OUT_DIR/alerts.jsonl (cartwatch's alert lines, in the order the sink
// gets them) and OUT_DIR/summary.json (the counts, from accumulators; for a
// topic also events_per_second, from the first record read to the last).
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.TreeMap;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.accumulators.LongMaximum;
import org.apache.flink.api.common.accumulators.LongMinimum;
import org.apache.flink.api.common.functions.RichFilterFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.RichSinkFunction;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

public class Abandoned {
    static final byte VIEW = 0, CART = 1, PURCHASE = 2, OTHER = 3, MALFORMED = 4;
    static final long MAX_PRICE_CENTS = 1_000_000_000_000L;

    /** One valid row; a POJO so Flink serializes it without Kryo. */
    public static class Event {
        public long t; // Unix seconds
        public long w; // the watermark of the row's partition with the row applied (Unix seconds)
        public byte type;
        public long product, cents, user;
        public String session;
        public Event() {}
    }

    /** A user's state: the open cart, and what rule 4 needs after it. */
    public static class User {
        public boolean open, everAbandoned;
        public long first, last, deadline, items, value, lastAbandonedAt;
        public long[] products = new long[16];
        public int nProducts;
        public String session = "";
        public User() {}
    }

    static final String[] COLUMNS = {"event_time", "event_type", "product_id", "price", "user_id", "user_session"};

    /** Parses rows (rule 8's checks), counting events by type and malformed rows. */
    public static class Parse extends RichFlatMapFunction<String, Event> {
        final long maxTime;
        transient int[] col;
        transient int nFields;
        transient boolean first;
        transient LongCounter events, views, carts, purchases, other, malformed, spending;

        Parse(long maxTime) { this.maxTime = maxTime; }

        @Override
        public void open(Configuration c) {
            col = new int[] {0, 1, 2, 6, 7, 8};
            nFields = 9;
            first = true;
            events = counter("events"); views = counter("views"); carts = counter("carts");
            purchases = counter("purchases"); other = counter("other_events");
            malformed = counter("malformed"); spending = counter("spending_cents");
        }

        LongCounter counter(String name) {
            LongCounter c = new LongCounter();
            getRuntimeContext().addAccumulator(name, c);
            return c;
        }

        @Override
        public void flatMap(String line, Collector<Event> out) {
            if (first) {
                first = false;
                if (line.startsWith("\uFEFF")) line = line.substring(1);
                String[] h = line.split(",", -1);
                if (parseTime(h[0]) == Long.MIN_VALUE) {
                    int[] c = new int[COLUMNS.length];
                    java.util.Arrays.fill(c, -1);
                    for (int i = 0; i < h.length; i++)
                        for (int j = 0; j < COLUMNS.length; j++)
                            if (h[i].trim().equalsIgnoreCase(COLUMNS[j])) c[j] = i;
                    if (c[0] >= 0 && c[1] >= 0 && c[2] >= 0 && c[3] >= 0 && c[4] >= 0) {
                        col = c;
                        nFields = h.length;
                        return;
                    }
                }
            }
            if (line.isEmpty()) return;
            String[] f = line.split(",", -1); // no quoted fields (README: differences)
            Event e = new Event();
            if (f.length != nFields || (e.t = parseTime(f[col[0]])) == Long.MIN_VALUE || e.t > maxTime
                    || f[col[1]].isEmpty() || (e.product = parseUint(f[col[2]])) == -1 && !f[col[2]].equals("18446744073709551615")
                    || (e.cents = parseCents(f[col[3]])) < 0 || (e.user = parseUint(f[col[4]])) == -1 && !f[col[4]].equals("18446744073709551615")) {
                malformed.add(1);
                return;
            }
            events.add(1);
            switch (f[col[1]]) {
                case "view": e.type = VIEW; views.add(1); break;
                case "cart": e.type = CART; carts.add(1); break;
                case "purchase": e.type = PURCHASE; purchases.add(1); spending.add(e.cents); break;
                default: e.type = OTHER; other.add(1);
            }
            String s = col[5] >= 0 ? f[col[5]] : "";
            e.session = s.length() > 36 ? s.substring(0, 36) : s;
            e.w = e.t;
            out.collect(e);
        }

        static long parseTime(String s) {
            try {
                if (s.endsWith(" UTC") && s.length() == 23) return LocalDateTime.parse(s.substring(0, 19), TEXT_TIME).toEpochSecond(ZoneOffset.UTC);
                return java.time.Instant.parse(s).getEpochSecond();
            } catch (RuntimeException ex) {
                return Long.MIN_VALUE;
            }
        }

        /** A non-negative decimal integer below 2^64, or -1. */
        static long parseUint(String s) {
            if (s.isEmpty() || s.charAt(0) == '+' || s.charAt(0) == '-') return -1;
            try {
                return Long.parseUnsignedLong(s);
            } catch (NumberFormatException ex) {
                return -1;
            }
        }

        /** A price written out in full (digits, then '.' and one or two digits) in cents, or -1. */
        static long parseCents(String s) {
            int dot = s.indexOf('.');
            String whole = dot < 0 ? s : s.substring(0, dot), frac = dot < 0 ? "" : s.substring(dot + 1);
            if (whole.isEmpty() || whole.length() > 11 || (dot >= 0 && (frac.isEmpty() || frac.length() > 2))) return -1;
            for (char ch : (whole + frac).toCharArray()) if (ch < '0' || ch > '9') return -1;
            long c = Long.parseLong(whole) * 100 + (frac.isEmpty() ? 0 : Long.parseLong(frac) * (frac.length() == 1 ? 10 : 1));
            return c <= MAX_PRICE_CENTS ? c : -1;
        }
    }

    static final DateTimeFormatter TEXT_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

    /**
     * The Kafka variant's record values: cartwatch produce's JSON objects, read
     * with Jackson's streaming parser (numbers from their text, so user_id up to
     * 2^64-1 and the price in cents stay exact). Each event leaves stamped with
     * its partition's watermark; a value that is not a valid event leaves as
     * MALFORMED, to be counted.
     */
    public static class Values implements KafkaRecordDeserializationSchema<Event> {
        final long maxTime;
        transient JsonFactory json;
        transient long[] high; // per partition: the highest event time seen

        Values(long maxTime) { this.maxTime = maxTime; }

        @Override
        public void deserialize(ConsumerRecord<byte[], byte[]> r, Collector<Event> out) throws IOException {
            if (json == null) { json = new JsonFactory(); high = new long[0]; }
            Event e = new Event();
            if (!parse(r.value(), e)) {
                e.type = MALFORMED;
                out.collect(e);
                return;
            }
            int p = r.partition();
            if (p >= high.length) {
                int n = high.length;
                high = java.util.Arrays.copyOf(high, p + 1);
                java.util.Arrays.fill(high, n, p + 1, Long.MIN_VALUE);
            }
            high[p] = Math.max(high[p], e.t);
            e.w = high[p];
            out.collect(e);
        }

        boolean parse(byte[] v, Event e) throws IOException {
            if (v == null) return false;
            String time = null, type = null, product = null, price = null, user = null, session = "";
            try (JsonParser p = json.createParser(v)) {
                if (p.nextToken() != JsonToken.START_OBJECT) return false;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String k = p.getCurrentName();
                    JsonToken t = p.nextToken();
                    if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) { p.skipChildren(); continue; }
                    String text = t == JsonToken.VALUE_NULL ? null : p.getText();
                    switch (k) {
                        case "event_time": time = text; break;
                        case "event_type": type = text; break;
                        case "product_id": product = text; break;
                        case "price": price = text; break;
                        case "user_id": user = text; break;
                        case "user_session": session = text == null ? "" : text; break;
                        default:
                    }
                }
            } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
                return false;
            }
            if (time == null || type == null || type.isEmpty() || product == null || price == null || user == null) return false;
            if ((e.t = Parse.parseTime(time)) == Long.MIN_VALUE || e.t > maxTime) return false;
            if ((e.product = Parse.parseUint(product)) == -1 && !product.equals("18446744073709551615")) return false;
            if ((e.user = Parse.parseUint(user)) == -1 && !user.equals("18446744073709551615")) return false;
            if ((e.cents = Parse.parseCents(price)) < 0) return false;
            switch (type) {
                case "view": e.type = VIEW; break;
                case "cart": e.type = CART; break;
                case "purchase": e.type = PURCHASE; break;
                default: e.type = OTHER;
            }
            e.session = session.length() > 36 ? session.substring(0, 36) : session;
            return true;
        }

        @Override
        public TypeInformation<Event> getProducedType() { return TypeInformation.of(Event.class); }
    }

    /**
     * The Kafka variant's counts (the file job's Parse keeps them itself), and
     * the wall time of the first and the last record read, for events/s.
     */
    public static class Count extends RichFilterFunction<Event> {
        transient LongCounter events, views, carts, purchases, other, malformed, spending;
        transient LongMinimum first;
        transient LongMaximum last;

        @Override
        public void open(Configuration c) {
            events = counter("events"); views = counter("views"); carts = counter("carts");
            purchases = counter("purchases"); other = counter("other_events");
            malformed = counter("malformed"); spending = counter("spending_cents");
            first = new LongMinimum();
            last = new LongMaximum();
            getRuntimeContext().addAccumulator("first_record_nanos", first);
            getRuntimeContext().addAccumulator("last_record_nanos", last);
        }

        LongCounter counter(String name) {
            LongCounter c = new LongCounter();
            getRuntimeContext().addAccumulator(name, c);
            return c;
        }

        @Override
        public boolean filter(Event e) {
            long now = System.nanoTime();
            if (first.getLocalValuePrimitive() == Long.MAX_VALUE) first.add(now);
            last.add(now);
            switch (e.type) {
                case VIEW: views.add(1); break;
                case CART: carts.add(1); break;
                case PURCHASE: purchases.add(1); spending.add(e.cents); break;
                case OTHER: other.add(1); break;
                default: malformed.add(1); return false;
            }
            events.add(1);
            return true;
        }
    }

    /** Rule 2: the watermark is the highest event time seen, after every event. */
    static class MaxSeen implements WatermarkGenerator<Event> {
        long max = Long.MIN_VALUE;
        @Override public void onEvent(Event e, long ts, WatermarkOutput out) {
            if (ts > max) { max = ts; out.emitWatermark(new Watermark(max)); }
        }
        @Override public void onPeriodicEmit(WatermarkOutput out) {}
    }

    static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

    /** Rules 2-4 per user: one open cart, its deadline an event-time timer. */
    public static class Detect extends KeyedProcessFunction<Long, Event, String> {
        final long ttl;
        transient ValueState<User> state;
        transient LongCounter opened, converted, abandoned, abandonedValue, direct, late, abandoners;

        Detect(long ttl) { this.ttl = ttl; }

        @Override
        public void open(Configuration c) {
            state = getRuntimeContext().getState(new ValueStateDescriptor<>("user", User.class));
            opened = counter("carts_opened"); converted = counter("converted"); abandoned = counter("abandoned");
            abandonedValue = counter("abandoned_value_cents"); direct = counter("direct_purchases");
            late = counter("late_purchases"); abandoners = counter("unique_abandoning_users");
        }

        LongCounter counter(String name) {
            LongCounter c = new LongCounter();
            getRuntimeContext().addAccumulator(name, c);
            return c;
        }

        @Override
        public void processElement(Event e, Context ctx, Collector<String> out) throws IOException {
            User u = state.value();
            if (u == null) u = new User();
            // Flink's watermark here is the highest time before this row (the
            // lowest over the partitions, for a topic); rule 2's W is the row's
            // partition's and includes the row about to apply.
            long w = Math.max(ctx.timerService().currentWatermark(), e.w * 1000);
            if (u.open && u.deadline * 1000 <= w) abandon(u, ctx.getCurrentKey(), out, ctx);
            if (e.type == CART) {
                if (!u.open) {
                    u.open = true; u.first = e.t; u.items = 0; u.value = 0; u.nProducts = 0;
                    opened.add(1);
                } else {
                    ctx.timerService().deleteEventTimeTimer(u.deadline * 1000);
                }
                u.items++;
                u.value += e.cents;
                u.last = e.t;
                u.deadline = e.t + ttl;
                if (u.nProducts < 16) u.products[u.nProducts++] = e.product;
                u.session = e.session;
                if (u.deadline * 1000 <= w) abandon(u, ctx.getCurrentKey(), out, ctx); // a late cart
                else ctx.timerService().registerEventTimeTimer(u.deadline * 1000);
            } else if (e.type == PURCHASE) {
                if (u.open) {
                    ctx.timerService().deleteEventTimeTimer(u.deadline * 1000);
                    u.open = false;
                    converted.add(1);
                } else if (u.everAbandoned && e.t < u.lastAbandonedAt) {
                    late.add(1);
                } else {
                    direct.add(1);
                }
            }
            state.update(u);
        }

        @Override
        public void onTimer(long ts, OnTimerContext ctx, Collector<String> out) throws IOException {
            User u = state.value();
            if (u != null && u.open && u.deadline * 1000 == ts) {
                abandon(u, ctx.getCurrentKey(), out, null);
                state.update(u);
            }
        }

        void abandon(User u, long user, Collector<String> out, Context ctx) {
            if (ctx != null) ctx.timerService().deleteEventTimeTimer(u.deadline * 1000);
            u.open = false;
            u.lastAbandonedAt = u.deadline;
            if (!u.everAbandoned) { u.everAbandoned = true; abandoners.add(1); }
            abandoned.add(1);
            abandonedValue.add(u.value);
            StringBuilder b = new StringBuilder(256);
            b.append("{\"user_id\":").append(Long.toUnsignedString(user))
             .append(",\"user_session\":\"").append(u.session.replace("\\", "\\\\").replace("\"", "\\\""))
             .append("\",\"first_cart_at\":\"").append(STAMP.format(java.time.Instant.ofEpochSecond(u.first)))
             .append("\",\"last_cart_at\":\"").append(STAMP.format(java.time.Instant.ofEpochSecond(u.last)))
             .append("\",\"abandoned_at\":\"").append(STAMP.format(java.time.Instant.ofEpochSecond(u.deadline)))
             .append("\",\"items\":").append(u.items).append(",\"cart_value_cents\":").append(u.value)
             .append(",\"products\":[");
            for (int i = 0; i < u.nProducts; i++) b.append(i > 0 ? "," : "").append(Long.toUnsignedString(u.products[i]));
            out.collect(b.append("]}").toString());
        }
    }

    /** Writes the alert lines to one file (parallelism 1). */
    public static class LineSink extends RichSinkFunction<String> {
        final String path;
        transient BufferedWriter w;
        LineSink(String path) { this.path = path; }
        @Override public void open(Configuration c) throws IOException { w = Files.newBufferedWriter(Paths.get(path), StandardCharsets.UTF_8); }
        @Override public void invoke(String line, Context c) throws IOException { w.write(line); w.write('\n'); }
        @Override public void close() throws IOException { if (w != null) w.close(); }
    }

    public static void main(String[] args) throws Exception {
        String input = null, brokers = null, topic = null;
        int a = 0;
        if (args[0].equals("--kafka")) { brokers = args[1]; topic = args[2]; a = 3; }
        else input = args[a++];
        long ttl = Long.parseLong(args[a]);
        String outDir = args[a + 1];
        int parallelism = Runtime.getRuntime().availableProcessors();
        long maxFuture = 24 * 3600;
        for (int i = a + 2; i + 1 < args.length; i += 2) {
            if (args[i].equals("--parallelism")) parallelism = Integer.parseInt(args[i + 1]);
            else if (args[i].equals("--max-future-seconds")) maxFuture = Long.parseLong(args[i + 1]);
            else throw new IllegalArgumentException("unknown flag " + args[i]);
        }
        long maxTime = maxFuture < 0 ? Long.MAX_VALUE : System.currentTimeMillis() / 1000 + maxFuture;

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        DataStream<Event> events;
        if (brokers == null) {
            FileSource<String> src = FileSource.forRecordStreamFormat(new TextLineInputFormat(), new Path(input)).build();
            events = env.fromSource(src, WatermarkStrategy.noWatermarks(), "csv").setParallelism(1)
                .flatMap(new Parse(maxTime)).setParallelism(1).name("parse")
                .assignTimestampsAndWatermarks(WatermarkStrategy.<Event>forGenerator(c -> new MaxSeen())
                    .withTimestampAssigner((e, ts) -> e.t * 1000)).setParallelism(1).name("watermark");
        } else {
            // One watermark generator per partition (the source's strategy runs per
            // split); the source emits the lowest of them.
            KafkaSource<Event> src = KafkaSource.<Event>builder()
                .setBootstrapServers(brokers).setTopics(topic)
                .setGroupId("flink-peer-" + Long.toHexString(System.nanoTime()))
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setBounded(OffsetsInitializer.latest())
                .setDeserializer(new Values(maxTime))
                .setProperty("commit.offsets.on.checkpoint", "false")
                .build();
            events = env.fromSource(src, WatermarkStrategy.<Event>forGenerator(c -> new MaxSeen())
                    .withTimestampAssigner((e, ts) -> e.type == MALFORMED ? Long.MIN_VALUE : e.t * 1000), "kafka")
                .filter(new Count()).name("count");
        }
        // Views change no cart at the default flags: they only move the watermark, above.
        // At the parallelism of what feeds it (1 for a file), so each user's events keep their order.
        events.filter(e -> e.type == CART || e.type == PURCHASE).setParallelism(events.getParallelism()).name("carts and purchases")
            .keyBy(e -> e.user)
            .process(new Detect(ttl)).name("detect")
            .addSink(new LineSink(Paths.get(outDir, "alerts.jsonl").toString())).setParallelism(1).name("alerts");
        JobExecutionResult r = env.execute("cartwatch-peer");

        Map<String, Object> acc = new TreeMap<>(r.getAllAccumulatorResults());
        Object first = acc.remove("first_record_nanos"), last = acc.remove("last_record_nanos");
        StringBuilder b = new StringBuilder("{");
        for (Map.Entry<String, Object> en : acc.entrySet()) {
            if (b.length() > 1) b.append(',');
            b.append('"').append(en.getKey()).append("\":").append(en.getValue());
        }
        b.append(",\"open_carts\":0,\"parallelism\":").append(parallelism);
        String rate = "";
        if (first != null && last != null) {
            double secs = ((Long) last - (Long) first) / 1e9;
            long n = (Long) acc.get("events");
            double perSec = secs > 0 ? n / secs : 0;
            b.append(String.format(",\"events_per_second\":%.1f,\"elapsed_seconds\":%.3f", perSec, secs));
            rate = String.format("; %d events in %.3f s from the first record read to the last: %.0f events/s", n, secs, perSec);
        }
        b.append("}\n");
        Files.write(Paths.get(outDir, "summary.json"), b.toString().getBytes(StandardCharsets.UTF_8));
        System.err.println("flink: " + r.getNetRuntime() + " ms job time, parallelism " + parallelism + rate);
    }
}
