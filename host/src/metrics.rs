//! Metrics in the Prometheus text format (`GET /metrics`).
//!
//! Counters and histograms are plain atomics: the hot paths (ingest, rule
//! workers, delivery, plugin calls) get an `Arc` handle once and then only
//! increment it, so recording costs a few nanoseconds and never locks.
//! Values that already live elsewhere (queue depths, plugin health, store
//! size) are read when the endpoint is scraped rather than copied here.
//!
//! Names follow Prometheus conventions: `signalbox_` prefix, base units
//! (`_seconds`, `_bytes`), counters ending in `_total`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) for latency histograms: 50 µs to 60 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A latency histogram with fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    counts: Vec<AtomicU64>,
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..LATENCY_BUCKETS.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        // Counts are per bucket here and made cumulative when rendered.
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{}le=\"{le}\"}} {cumulative}",
                with_comma(labels)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{{}le=\"+Inf\"}} {count}",
            with_comma(labels)
        );
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

fn with_comma(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{labels},")
    }
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

/// Escapes a label value.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Metrics keyed by a rendered label set (`bus="orders",mode="batch"`).
#[derive(Debug, Default)]
pub struct Family<M> {
    /// Keyed with rustc's fast hasher: label sets are short, trusted
    /// strings, the ingest path looks up several per request, and SipHash's
    /// flood resistance is not needed (it showed in ingest profiles).
    map: RwLock<rustc_hash::FxHashMap<String, Arc<M>>>,
}

/// Renders `labels` as `k="v",…` into `out`, escaping values.
fn render_labels(out: &mut String, labels: &[(&str, &str)]) {
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        if v.contains(['\\', '"', '\n']) {
            out.push_str(&label(v));
        } else {
            out.push_str(v);
        }
        out.push('"');
    }
}

/// Whether a rendered label set holds one rendered `name="value"` pair.
/// Values are escaped, so a pair can only start at the beginning or after a
/// separating comma.
fn has_label(key: &str, pair: &str) -> bool {
    key.split_inclusive("\",")
        .any(|part| part.trim_end_matches(',') == pair)
}

impl<M: Default> Family<M> {
    /// The metric for these labels (created on first use). Pairs are
    /// `(name, value)`; values are escaped here.
    pub fn get(&self, labels: &[(&str, &str)]) -> Arc<M> {
        thread_local! {
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        KEY.with_borrow_mut(|key| {
            key.clear();
            render_labels(key, labels);
            if let Some(m) = self.map.read().expect("metrics lock").get(key.as_str()) {
                return m.clone();
            }
            self.map
                .write()
                .expect("metrics lock")
                .entry(key.clone())
                .or_default()
                .clone()
        })
    }

    /// Forgets every label set that has all of these `(name, value)` pairs
    /// (when a bus, rule or target goes away), so deleted things do not
    /// linger in scrapes.
    pub fn forget(&self, pairs: &[(&str, &str)]) {
        let needles: Vec<String> = pairs
            .iter()
            .map(|p| {
                let mut s = String::new();
                render_labels(&mut s, std::slice::from_ref(p));
                s
            })
            .collect();
        self.map
            .write()
            .expect("metrics lock")
            .retain(|k, _| !needles.iter().all(|n| has_label(k, n)));
    }

    fn snapshot(&self) -> Vec<(String, Arc<M>)> {
        let mut v: Vec<_> = self
            .map
            .read()
            .expect("metrics lock")
            .iter()
            .map(|(k, m)| (k.clone(), m.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Every metric Signalbox records itself.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Events by bus, mode and outcome (`accepted`, `rejected`, `duplicate`).
    pub ingest_events: Family<Counter>,
    /// Bytes of accepted events by bus and mode.
    pub ingest_bytes: Family<Counter>,
    /// Ingest request latency by mode and outcome (`ok`, `error`).
    pub ingest_latency: Family<Histogram>,
    /// Events a rule's pattern matched, by bus and rule.
    pub rule_matched: Family<Counter>,
    /// Events a rule's filters dropped.
    pub rule_filtered: Family<Counter>,
    /// Events a rule's plugin chain failed on.
    pub rule_plugin_errors: Family<Counter>,
    /// Events that expired before a rule handled them.
    pub rule_expired: Family<Counter>,
    /// Events whose matching hit the work limit, by bus.
    pub match_budget_exhausted: Family<Counter>,
    /// Plugin stdout/stderr bytes dropped for exceeding the output budget.
    pub plugin_output_dropped: Family<Counter>,
    /// Delivery latency (queued to delivered) by bus, rule and target.
    pub delivery_latency: Family<Histogram>,
    /// Plugin call latency by plugin (`name@version`) and kind.
    pub plugin_call_latency: Family<Histogram>,
    /// Events rejected or flagged by schema validation, by bus, type and policy.
    pub schema_violations: Family<Counter>,
    /// Requests refused by a bus's rate limit.
    pub rate_limited: Family<Counter>,
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);

/// A gauge or counter value computed at scrape time.
pub struct Sample {
    /// Label set, rendered.
    pub labels: String,
    /// Value.
    pub value: f64,
}

/// Writes one metric family header and samples.
pub fn write_family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[Sample]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for s in samples {
        let _ = writeln!(out, "{name}{} {}", braces(&s.labels), s.value);
    }
}

/// Renders the recorded families (the scrape-time ones are added by the
/// API handler).
pub fn render_recorded(out: &mut String) {
    let m = &*METRICS;
    let counters: [(&str, &str, &Family<Counter>); 11] = [
        (
            "signalbox_ingest_events_total",
            "Events received, by bus, mode and outcome.",
            &m.ingest_events,
        ),
        (
            "signalbox_ingest_bytes_total",
            "Bytes of accepted events, by bus and mode.",
            &m.ingest_bytes,
        ),
        (
            "signalbox_rule_matched_events_total",
            "Events a rule selected, by bus and rule.",
            &m.rule_matched,
        ),
        (
            "signalbox_rule_filtered_events_total",
            "Events a rule's filter plugins dropped.",
            &m.rule_filtered,
        ),
        (
            "signalbox_rule_plugin_errors_total",
            "Events a rule's plugin chain failed on.",
            &m.rule_plugin_errors,
        ),
        (
            "signalbox_rule_expired_events_total",
            "Events retention deleted before the rule handled them (the rule skipped them).",
            &m.rule_expired,
        ),
        (
            "signalbox_match_budget_exhausted_total",
            "Events whose pattern matching hit the per-event work limit, by bus.",
            &m.match_budget_exhausted,
        ),
        (
            "signalbox_plugin_output_dropped_bytes_total",
            "Bytes plugins wrote to stdout/stderr that were dropped (rate or line-length limit), by plugin.",
            &m.plugin_output_dropped,
        ),
        (
            "signalbox_schema_violations_total",
            "Events failing their schema, by bus, type and policy.",
            &m.schema_violations,
        ),
        (
            "signalbox_ingest_rate_limited_requests_total",
            "Ingest requests refused by a bus rate limit.",
            &m.rate_limited,
        ),
        (
            "signalbox_ingest_requests_total",
            "Ingest requests, by mode and outcome.",
            &INGEST_REQUESTS,
        ),
    ];
    for (name, help, family) in counters {
        let samples: Vec<Sample> = family
            .snapshot()
            .into_iter()
            .map(|(labels, c)| Sample {
                labels,
                value: c.get() as f64,
            })
            .collect();
        write_family(out, name, "counter", help, &samples);
    }
    let histograms: [(&str, &str, &Family<Histogram>); 3] = [
        (
            "signalbox_ingest_request_duration_seconds",
            "Ingest request latency, by mode and outcome.",
            &m.ingest_latency,
        ),
        (
            "signalbox_delivery_duration_seconds",
            "Time from queueing to delivery, by bus, rule and target.",
            &m.delivery_latency,
        ),
        (
            "signalbox_plugin_call_duration_seconds",
            "Plugin call latency, by plugin and kind.",
            &m.plugin_call_latency,
        ),
    ];
    for (name, help, family) in histograms {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (labels, h) in family.snapshot() {
            h.render(out, name, &labels);
        }
    }
}

impl Metrics {
    /// Forgets every recorded series with all of these labels (see
    /// [`Family::forget`]).
    pub fn forget(&self, pairs: &[(&str, &str)]) {
        self.ingest_events.forget(pairs);
        self.ingest_bytes.forget(pairs);
        self.rule_matched.forget(pairs);
        self.rule_filtered.forget(pairs);
        self.rule_plugin_errors.forget(pairs);
        self.rule_expired.forget(pairs);
        self.match_budget_exhausted.forget(pairs);
        self.delivery_latency.forget(pairs);
        self.schema_violations.forget(pairs);
        self.rate_limited.forget(pairs);
    }
}

/// Ingest requests by mode and outcome.
pub static INGEST_REQUESTS: LazyLock<Family<Counter>> = LazyLock::new(Family::default);

/// The process's own figures under the names every Prometheus client
/// library exports (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_open_fds`), read from
/// `/proc/self` at scrape time, so dashboards built for other services work
/// unchanged and `signalbox bench` can report the server's CPU time per
/// event (steadier than throughput on a shared machine). Writes nothing for
/// a figure `/proc` does not give (another operating system).
pub fn render_process(out: &mut String) {
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| cpu_seconds(&s));
    let resident = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| resident_bytes(&s))
        .map(|b| b as f64);
    let fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as f64);
    for (name, kind, help, value) in [
        (
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time the process has used, in seconds.",
            cpu,
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the process, in bytes.",
            resident,
        ),
        ("process_open_fds", "gauge", "Open file descriptors.", fds),
    ] {
        if let Some(value) = value {
            write_family(
                out,
                name,
                kind,
                help,
                &[Sample {
                    labels: String::new(),
                    value,
                }],
            );
        }
    }
}

/// `utime + stime` from the text of `/proc/<pid>/stat`, in seconds. The
/// fields count clock ticks of `USER_HZ`, which Linux fixes at 100 for every
/// user-space interface.
fn cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: the fields
    // after it start after its last ')'. utime and stime are fields 14 and
    // 15, so the 12th and 13th after field 2.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// `VmRSS` from the text of `/proc/<pid>/status`, in bytes.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(40));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(100));
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\"");
        assert!(
            out.contains("x_bucket{a=\"b\",le=\"0.00005\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"60\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 3\n"), "{out}");
    }

    #[test]
    fn forget_removes_exactly_the_matching_series() {
        let f: Family<Counter> = Family::default();
        f.get(&[("bus", "a"), ("rule", "r")]).inc();
        f.get(&[("bus", "a"), ("rule", "rr")]).inc();
        f.get(&[("bus", "aa"), ("rule", "r")]).inc();
        f.get(&[("bus", "x\",rule=\"r"), ("rule", "q")]).inc();
        f.forget(&[("bus", "a"), ("rule", "r")]);
        let left: Vec<String> = f.snapshot().into_iter().map(|(k, _)| k).collect();
        assert_eq!(left.len(), 3, "{left:?}");
        f.forget(&[("rule", "r")]);
        let left: Vec<String> = f.snapshot().into_iter().map(|(k, _)| k).collect();
        assert_eq!(left.len(), 2, "{left:?}");
        f.forget(&[("bus", "a")]);
        assert_eq!(f.snapshot().len(), 1);
    }

    #[test]
    fn families_share_handles_and_escape_labels() {
        let f: Family<Counter> = Family::default();
        f.get(&[("bus", "a\"b")]).inc();
        f.get(&[("bus", "a\"b")]).inc();
        let snap = f.snapshot();
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].0, "bus=\"a\\\"b\"");
        assert_eq!(snap[0].1.get(), 2);
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // A command name with spaces and a ')' must not shift the fields.
        let stat =
            "4242 (sig (box) x) S 1 4242 4242 0 -1 4194304 900 0 0 0 1234 566 0 0 20 0 9 0 77 0 0";
        assert_eq!(cpu_seconds(stat), Some(18.0));
        assert_eq!(cpu_seconds("4242 (truncated) S 1"), None);
        assert_eq!(cpu_seconds("no parenthesis"), None);
    }

    #[test]
    fn resident_memory_is_read_in_bytes() {
        let status = "Name:\tsignalbox\nVmPeak:\t  9000 kB\nVmRSS:\t   2048 kB\nThreads:\t9\n";
        assert_eq!(resident_bytes(status), Some(2 << 20));
        assert_eq!(resident_bytes("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_reports_its_figures() {
        // Use at least one clock tick (10 ms) of CPU first, so the CPU
        // figure must be above zero.
        let stat = || std::fs::read_to_string("/proc/self/stat").unwrap();
        let mut spin = 0u64;
        while cpu_seconds(&stat()).unwrap() == 0.0 {
            for i in 0..100_000u64 {
                spin = std::hint::black_box(spin.wrapping_add(i));
            }
        }
        let mut out = String::new();
        render_process(&mut out);
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
        ] {
            let value: f64 = out
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} missing from {out}"))
                .parse()
                .unwrap();
            assert!(value > 0.0, "{name} = {value}");
        }
    }
}
