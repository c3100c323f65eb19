//! Matcher throughput on ~1 KiB EventBridge-style envelopes against 1, 100, 1,000
//! and 10,000 rules, plus the cost of adding/removing one rule in a 10,000-rule
//! matcher. Two rule mixes (generators in `common/mod.rs`):
//!
//! - `match_json` / `update_10k`: the original mix — ten rule shapes of mixed
//!   operators in equal parts, three of them broad (about 10% of the rules
//!   produce ~200 candidate rules per event at 10,000 rules). Kept unchanged so
//!   numbers stay comparable over time.
//! - `match_json_realistic` / `update_10k_realistic`: EventBridge-shaped rules —
//!   nearly every rule selects one application's `source` (and nearly always a
//!   `detail-type`), some add one or two content conditions of the various
//!   operators, 1% are cross-application rules.
//!
//! Run: `cargo bench --bench pattern -j1`. For deterministic instruction
//! counts of the same workloads see `examples/profile.rs`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
mod common;

use common::{Mix, Rng, build_mix, events, rule_of, sources};
use signalbox::pattern::{MatchScratch, Pattern};

fn bench_match_mix(c: &mut Criterion, group: &str, mix: Mix) {
    let avg = events(1).iter().map(|e| e.len()).sum::<usize>() / 256;
    eprintln!("{group}: average event size: {avg} bytes");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(256));
    g.measurement_time(Duration::from_secs(4));
    g.warm_up_time(Duration::from_secs(1));
    g.sample_size(30);
    for n in [1u64, 100, 1000, 10_000] {
        let evs = events(n);
        let m = build_mix(n, mix);
        let mut scratch = MatchScratch::new();
        let mut out = Vec::with_capacity(1024);
        let mut total = 0usize;
        for e in &evs {
            out.clear();
            m.matches_json_with(&mut scratch, e.as_bytes(), &mut out)
                .unwrap();
            total += out.len();
        }
        eprintln!(
            "{group} {n} rules: {:.2} matches per event",
            total as f64 / evs.len() as f64
        );
        g.bench_function(format!("{n}_rules"), |b| {
            b.iter(|| {
                for e in &evs {
                    out.clear();
                    m.matches_json_with(&mut scratch, black_box(e.as_bytes()), &mut out)
                        .unwrap();
                    black_box(&out);
                }
            })
        });
    }
    g.finish();
}

fn bench_match(c: &mut Criterion) {
    bench_match_mix(c, "match_json", Mix::Broad);
    bench_match_mix(c, "match_json_realistic", Mix::Realistic);
}

fn bench_update_mix(c: &mut Criterion, group: &str, mix: Mix) {
    let mut m = build_mix(10_000, mix);
    let mut r = Rng(4242);
    let pats: Vec<Pattern> = (0..64)
        .map(|i| Pattern::parse(&rule_of(mix, &mut r, i, sources(10_000))).unwrap())
        .collect();
    let mut g = c.benchmark_group(group);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("add_one", |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for k in 0..iters {
                let p = &pats[(k % 64) as usize];
                let s = Instant::now();
                m.add(1_000_000, black_box(p));
                t += s.elapsed();
                m.remove(1_000_000);
            }
            t
        })
    });
    g.bench_function("remove_one", |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for k in 0..iters {
                let p = &pats[(k % 64) as usize];
                m.add(1_000_000, p);
                let s = Instant::now();
                black_box(m.remove(black_box(1_000_000)));
                t += s.elapsed();
            }
            t
        })
    });
    g.finish();
}

fn bench_update(c: &mut Criterion) {
    bench_update_mix(c, "update_10k", Mix::Broad);
    bench_update_mix(c, "update_10k_realistic", Mix::Realistic);
}

criterion_group!(benches, bench_match, bench_update);
criterion_main!(benches);
