//! `bad_stack_overflow` — a filter whose `keep` recurses without bound.
//!
//! For containment tests. A Rust wasm program has two stacks, and each mode
//! exhausts one of them; both must end in a trap the host contains (the
//! event fails, the instance is replaced). `init` returns normally.
//!
//! | `mode` | recursion | expected trap in wasmtime |
//! |---|---|---|
//! | `native` (default) | scalar-only frames, no memory traffic | the wasm call stack (`max_wasm_stack`) runs out: stack overflow |
//! | `shadow` | each frame keeps a 512-byte array in linear memory | Rust's shadow stack (1 MiB at the start of linear memory) runs past address 0: out-of-bounds memory access |
//!
//! In both modes the recursion is not a tail call and its end depends on
//! the event (about 2^64 calls away), so the optimiser can neither turn it
//! into a loop nor remove it.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `mode` | `native` | `native` or `shadow`, see above |

use std::hint::black_box;

use signalbox_sdk::{Config, Error, Event, Filter, Settings, config_get};

static SHADOW: Settings<bool> = Settings::new();

struct StackOverflow;

/// Recursion on scalars only: everything lives in wasm locals, so only the
/// engine's call stack grows. `rotate_left` + `^` keeps LLVM's
/// accumulator-recursion elimination from applying.
#[inline(never)]
fn native(depth: u64, end: u64) -> u64 {
    if depth == end {
        return depth;
    }
    native(depth.wrapping_add(1), end).rotate_left(1) ^ depth
}

/// Recursion whose frames hold an array in linear memory (`black_box`
/// takes its address), so Rust's shadow stack grows 512 bytes a call.
#[inline(never)]
fn shadow(depth: u64, end: u64) -> u64 {
    if depth == end {
        return depth;
    }
    let frame = black_box([depth; 64]);
    let below = shadow(depth.wrapping_add(1), end);
    below.rotate_left(1) ^ frame[(depth % 64) as usize]
}

impl Filter for StackOverflow {
    fn init(config: Config) -> Result<(), Error> {
        let shadow = match config_get(&config, "mode").unwrap_or("native") {
            "native" => false,
            "shadow" => true,
            other => {
                return Err(Error::new(format!(
                    "config: `mode` = {other:?}: expected native or shadow"
                )));
            }
        };
        SHADOW.set(shadow)
    }

    fn keep(event: Event) -> Result<bool, Error> {
        // About 2^64 calls away: never reached, but the compiler cannot know.
        let end = u64::MAX - event.id.len() as u64;
        let result = if *SHADOW.get()? {
            shadow(0, end)
        } else {
            native(0, end)
        };
        Ok(result == 42)
    }
}

signalbox_sdk::export_filter!(StackOverflow);
