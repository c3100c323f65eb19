//! `bad_memory_bomb` — a filter whose `keep` allocates without bound.
//!
//! For containment tests: it grows a list of 16 MiB blocks, writing to every
//! page of each so the memory is really used, until an allocation fails.
//! The host's memory limit must make that happen (the failed allocation
//! aborts the plugin: a trap), without affecting the host or other rules.
//! `init` returns normally. Configuration: none; any keys are ignored.

use std::hint::black_box;

use signalbox_sdk::{Config, Error, Event, Filter};

/// Size of each allocation.
const BLOCK: usize = 16 << 20;

struct MemoryBomb;

impl Filter for MemoryBomb {
    fn init(_config: Config) -> Result<(), Error> {
        Ok(())
    }

    fn keep(_event: Event) -> Result<bool, Error> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            // A non-zero fill writes every byte, so the memory is really
            // committed (a zeroed allocation could skip that on fresh pages).
            let fill = (blocks.len() as u8).wrapping_add(1);
            blocks.push(black_box(vec![fill; BLOCK]));
            black_box(&blocks);
        }
    }
}

signalbox_sdk::export_filter!(MemoryBomb);
