//! What the API and `/metrics` show of each rule: its definition with
//! credentials redacted, its progress, and its targets' and plugins'
//! counters, all read from memory.

use serde_json::{Value, json};

use super::{RuleState, Rules};
use crate::event::time::format_rfc3339_micros;
use crate::store::Bus;

impl Rules {
    /// A rule as the API shows it: its definition (credentials redacted)
    /// and its status.
    pub(super) fn rule_json(&self, bus: &Bus, name: &str, r: &RuleState) -> Value {
        use std::sync::atomic::Ordering::Relaxed;
        let cursor = r.position.cursor();
        let plugins: Vec<Value> = r
            .rule
            .chain
            .plugins()
            .into_iter()
            .map(|(step, p)| {
                let step = if step == "transform" {
                    "transform"
                } else {
                    "filter"
                };
                json!({"step": step, "status": p.status()})
            })
            .collect();
        let mut degraded = plugins.iter().any(|p| p["status"]["degraded"] == true);
        let targets: Vec<Value> = r
            .targets
            .iter()
            .map(|t| {
                let s = &t.stats;
                let plugin = t.target.plugin().map(|p| p.status());
                if plugin.as_ref().is_some_and(|p| p.degraded) {
                    degraded = true;
                }
                json!({
                    "id": t.target.id,
                    "type": t.target.kind,
                    "queued": s.queued.load(Relaxed),
                    "delivered": s.delivered.load(Relaxed),
                    "failed_attempts": s.failed_attempts.load(Relaxed),
                    "dead_lettered": s.dead_lettered.load(Relaxed),
                    "dead_letters": s.dead_letters.load(Relaxed),
                    "dropped": s.dropped.load(Relaxed),
                    "plugin": plugin,
                })
            })
            .collect();
        let mut v = serde_json::to_value(&r.rule.spec).unwrap_or(Value::Null);
        if let Some(Value::Array(targets)) = v.get_mut("targets") {
            // Credentials are write-only.
            targets.iter_mut().for_each(crate::deliver::redact_target);
        }
        let gaps = r.position.gaps();
        if let Some(o) = v.as_object_mut() {
            o.insert("name".into(), json!(name));
            o.insert("bus".into(), json!(bus.name));
            o.insert(
                "created_at".into(),
                json!(format_rfc3339_micros(r.created_at)),
            );
            o.insert(
                "updated_at".into(),
                json!(format_rfc3339_micros(r.updated_at)),
            );
            // In a cluster, another node may run it: its position and
            // counters live there (this node's would be stale).
            let node = self
                .store
                .owner(&super::runtime::owner_key(&bus.name, name));
            let (cursor, lag) = if r.owned {
                (json!(cursor), json!(bus.last_seq().saturating_sub(cursor)))
            } else {
                (Value::Null, Value::Null)
            };
            o.insert(
                "status".into(),
                json!({
                    "state": if !r.rule.spec.enabled { "disabled" } else if degraded { "degraded" } else { "running" },
                    "node": node,
                    "degraded": degraded,
                    "cursor": cursor,
                    "lag": lag,
                    "expired_events": gaps.expired_events,
                    "last_gap": gaps.last,
                    "plugins": plugins,
                    "targets": targets,
                }),
            );
        }
        v
    }

    /// Where each plugin version is used, by `name@version`: one entry per
    /// use, `{"bus", "rule", "step", "status"}` with `step` `filter`,
    /// `transform` or `target <id>` and the plugin's status in that rule
    /// (calls, failures, degraded). Read from memory.
    pub async fn plugin_usage(&self) -> std::collections::HashMap<String, Vec<Value>> {
        let mut out: std::collections::HashMap<String, Vec<Value>> = Default::default();
        let buses = self.buses.lock().await;
        let mut names: Vec<&String> = buses.keys().collect();
        names.sort();
        for bus in names {
            let p = &buses[bus];
            let mut rules: Vec<&String> = p.rules.keys().collect();
            rules.sort();
            for rule in rules {
                let r = &p.rules[rule];
                let chain = r.rule.chain.plugins().into_iter().map(|(step, plugin)| {
                    let step = if step == "transform" {
                        "transform".to_owned()
                    } else {
                        "filter".to_owned()
                    };
                    (step, plugin.status())
                });
                let targets = r.targets.iter().filter_map(|t| {
                    let p = t.target.plugin()?;
                    Some((format!("target {}", t.target.id), p.status()))
                });
                for (step, status) in chain.chain(targets) {
                    out.entry(status.plugin.clone()).or_default().push(json!({
                        "bus": bus,
                        "rule": rule,
                        "step": step,
                        "status": status,
                    }));
                }
            }
        }
        out
    }

    /// Renders rule, target and plugin metrics (values read at scrape time).
    pub async fn render_metrics(&self, out: &mut String) {
        use crate::metrics::{Sample, label, write_family};
        use std::sync::atomic::Ordering::Relaxed;
        let buses = self.buses.lock().await;
        let mut degraded = Vec::new();
        let mut lag = Vec::new();
        let mut t: [Vec<Sample>; 7] = Default::default();
        let mut p: [Vec<Sample>; 5] = Default::default();
        for pipeline in buses.values() {
            let bus = &pipeline.bus;
            for (name, r) in &pipeline.rules {
                let rl = format!("bus=\"{}\",rule=\"{}\"", label(&bus.name), label(name));
                let mut plugins: Vec<(String, crate::plugin::PluginStatus)> = r
                    .rule
                    .chain
                    .plugins()
                    .into_iter()
                    .map(|(step, p)| (step, p.status()))
                    .collect();
                for h in r.targets.iter() {
                    if let Some(x) = h.target.plugin() {
                        plugins.push((format!("target:{}", h.target.id), x.status()));
                    }
                    let tl = format!(
                        "{rl},target=\"{}\",type=\"{}\"",
                        label(&h.target.id),
                        h.target.kind
                    );
                    let s = &h.stats;
                    for (i, v) in [
                        s.delivered.load(Relaxed),
                        s.failed_attempts.load(Relaxed),
                        s.dead_lettered.load(Relaxed),
                        s.dropped.load(Relaxed),
                        s.queued.load(Relaxed),
                        s.window_bytes.load(Relaxed),
                        s.concurrency_limit.load(Relaxed),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        t[i].push(Sample {
                            labels: tl.clone(),
                            value: v as f64,
                        });
                    }
                }
                let is_degraded = plugins.iter().any(|(_, s)| s.degraded);
                degraded.push(Sample {
                    labels: rl.clone(),
                    value: f64::from(u8::from(is_degraded)),
                });
                let cursor = r.position.cursor();
                if !r.owned {
                    // Reported by the node that runs it.
                    continue;
                }
                lag.push(Sample {
                    labels: rl.clone(),
                    value: bus.last_seq().saturating_sub(cursor) as f64,
                });
                for (step, s) in plugins {
                    let pl = format!(
                        "{rl},step=\"{}\",plugin=\"{}\"",
                        label(&step),
                        label(&s.plugin)
                    );
                    for (i, v) in [
                        s.calls,
                        s.failures,
                        s.traps,
                        s.instance_replacements,
                        u64::from(s.instances),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        p[i].push(Sample {
                            labels: pl.clone(),
                            value: v as f64,
                        });
                    }
                }
            }
        }
        write_family(
            out,
            "signalbox_rule_degraded",
            "gauge",
            "1 when a plugin of the rule keeps failing.",
            &degraded,
        );
        write_family(
            out,
            "signalbox_rule_lag_events",
            "gauge",
            "Events on the bus the rule has not handled yet.",
            &lag,
        );
        let [delivered, failed, dead, dropped, queued, window, limit] = t;
        write_family(
            out,
            "signalbox_target_delivered_total",
            "counter",
            "Events delivered, by target.",
            &delivered,
        );
        write_family(
            out,
            "signalbox_target_failed_attempts_total",
            "counter",
            "Delivery attempts that failed (each is retried or dead-lettered).",
            &failed,
        );
        write_family(
            out,
            "signalbox_target_dead_letters_total",
            "counter",
            "Events moved to the dead-letter queue.",
            &dead,
        );
        write_family(
            out,
            "signalbox_target_dropped_total",
            "counter",
            "Undeliverable events dropped (targets without a dead-letter queue).",
            &dropped,
        );
        write_family(
            out,
            "signalbox_target_queue_depth",
            "gauge",
            "Events waiting for delivery.",
            &queued,
        );
        write_family(
            out,
            "signalbox_target_window_bytes",
            "gauge",
            "Bytes of queued deliveries a target worker holds in memory.",
            &window,
        );
        write_family(
            out,
            "signalbox_target_concurrency_limit",
            "gauge",
            "Sends a target may have in flight now (adaptive targets move it).",
            &limit,
        );
        let [calls, failures, traps, replacements, instances] = p;
        write_family(
            out,
            "signalbox_plugin_calls_total",
            "counter",
            "Plugin calls, by rule step.",
            &calls,
        );
        write_family(
            out,
            "signalbox_plugin_failures_total",
            "counter",
            "Plugin calls that failed.",
            &failures,
        );
        write_family(
            out,
            "signalbox_plugin_traps_total",
            "counter",
            "Plugin calls that trapped (including deadline and memory traps).",
            &traps,
        );
        write_family(
            out,
            "signalbox_plugin_instance_replacements_total",
            "counter",
            "Plugin instances discarded after a failure.",
            &replacements,
        );
        write_family(
            out,
            "signalbox_plugin_instances",
            "gauge",
            "Live plugin instances.",
            &instances,
        );
    }
}
