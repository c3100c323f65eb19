//! A fixed amount of matching work, for measurements that a time-boxed
//! benchmark cannot give: instruction counts under `callgrind`, and
//! whole-process CPU time compared run by run on a noisy machine.
//!
//! Builds the benchmark's matcher (`benches/common/mod.rs`) and matches its
//! 256 events `LOOPS` times, then prints the number of matches (which must not
//! change between two builds being compared) and the rate.
//!
//! ```text
//! cargo build --release -p signalbox --example profile
//! valgrind --tool=callgrind --branch-sim=yes --toggle-collect='*matches_json_with*' \
//!     target/release/examples/profile 10000 20
//! target/release/examples/profile 10000 600 [mixed|realistic]
//! ```

#[path = "../benches/common/mod.rs"]
mod common;

use signalbox::pattern::MatchScratch;

fn main() {
    let mut args = std::env::args().skip(1);
    let rules: u64 = args
        .next()
        .map_or(10_000, |s| s.parse().expect("rule count"));
    let loops: u64 = args.next().map_or(400, |s| s.parse().expect("loop count"));
    let mix = match args.next().as_deref() {
        None | Some("mixed") => common::Mix::Broad,
        Some("realistic") => common::Mix::Realistic,
        Some(other) => panic!("unknown mix {other:?}: mixed or realistic"),
    };
    let events = common::events(rules);
    let matcher = common::build_mix(rules, mix);
    let mut scratch = MatchScratch::new();
    let mut out = Vec::with_capacity(1024);
    let mut matches = 0usize;
    let start = std::time::Instant::now();
    for _ in 0..loops {
        for e in &events {
            out.clear();
            matcher
                .matches_json_with(&mut scratch, std::hint::black_box(e.as_bytes()), &mut out)
                .expect("benchmark events are valid JSON");
            matches += out.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = loops * events.len() as u64;
    println!(
        "{matches} matches, {n} events, {:.0} events/s",
        n as f64 / secs
    );
}
