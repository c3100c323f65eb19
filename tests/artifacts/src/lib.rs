//! The plugins in `plugins/`, built to WebAssembly components for the
//! host's tests.
//!
//! The build script runs `cargo build --release --target wasm32-wasip2` on
//! the `plugins/` workspace (in a target directory of its own under
//! `OUT_DIR`) and generates, for every plugin:
//!
//! * a constant with the absolute path of its component, named after the
//!   crate in upper case: `FILTER_HIGH_VALUE` is the path of
//!   `filter_high_value.wasm`;
//! * an entry in [`PLUGINS`] (name, kind, world, path);
//! * a line in the `foreach_plugin!` macro and in the macro of its kind
//!   (`foreach_filter!`, `foreach_transform!`, `foreach_connector!`,
//!   `foreach_bad!`), which call `$mac!(filter_high_value)` for each plugin.
//!
//! ```ignore
//! use signalbox_test_plugins::*;
//!
//! let bytes = std::fs::read(FILTER_HIGH_VALUE)?;
//!
//! // Fail to compile if a plugin has no test: every plugin needs a test
//! // function of the same name in this module.
//! macro_rules! assert_test_exists {
//!     ($name:ident) => {
//!         #[expect(unused_imports)]
//!         use self::$name as _;
//!     };
//! }
//! foreach_plugin!(assert_test_exists);
//! ```
//!
//! The build reruns when any file under `plugins/`, `sdk/rust/` or `wit/`
//! changes. Every outer build directory (`cargo build`, `cargo test`,
//! `cargo clippy` each have one) builds the plugins once, in about a minute
//! and a half on a small machine; set `SIGNALBOX_PLUGINS_TARGET_DIR` to an
//! absolute path outside the outer target directory's profile folders (for
//! example `$PWD/target/plugins`) to share one plugin build between them. It needs the `wasm32-wasip2` Rust target (`rustup target add
//! wasm32-wasip2`, which `scripts/ensure-deps` runs) and fails with that
//! instruction when it is missing.
//!
//! # Naming contract
//!
//! Every crate in `plugins/` is named `<kind>_<case>`, with underscores, so
//! that its component is `<kind>_<case>.wasm` and its constant
//! `<KIND>_<CASE>`. The kinds:
//!
//! | kind | what | world |
//! |---|---|---|
//! | `filter` | an example or benchmark filter | `filter` |
//! | `transform` | an example or benchmark transform | `transform` |
//! | `connector` | an example connector | `connector` |
//! | `bad` | misbehaves on purpose (loops, traps, exhausts memory, probes the sandbox, returns invalid events, is not a plugin at all) for containment tests | any: see [`Plugin::world`] |
//!
//! A crate named otherwise fails this build. Each plugin's `src/lib.rs` (or
//! `src/main.rs`) starts with a doc comment saying what it does, what a test
//! should observe, and its configuration keys.

include!(concat!(env!("OUT_DIR"), "/gen.rs"));

/// One plugin of `plugins/` and its built component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Plugin {
    /// The crate name, e.g. `filter_high_value`.
    pub name: &'static str,
    /// The name's prefix: `filter`, `transform`, `connector` or `bad`.
    pub kind: &'static str,
    /// The world the component targets: `filter`, `transform` or
    /// `connector` (the `signalbox-sdk` feature it enables), or `command`
    /// for an ordinary program (`bad_foreign_world`).
    pub world: &'static str,
    /// Absolute path of the component (`.wasm`).
    pub path: &'static str,
}

/// The plugin named `name`, if there is one.
pub fn plugin(name: &str) -> Option<&'static Plugin> {
    PLUGINS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plugin_is_built_and_named_by_kind() {
        assert!(!PLUGINS.is_empty());
        for p in PLUGINS {
            assert!(p.name.starts_with(&format!("{}_", p.kind)), "{p:?}");
            assert!(std::path::Path::new(p.path).is_file(), "{p:?}");
            assert!(p.path.ends_with(&format!("/{}.wasm", p.name)), "{p:?}");
        }
        assert_eq!(plugin("filter_pass").map(|p| p.world), Some("filter"));
        assert_eq!(
            plugin("bad_foreign_world").map(|p| p.world),
            Some("command")
        );
        assert_eq!(FILTER_HIGH_VALUE, plugin("filter_high_value").unwrap().path);
    }

    #[test]
    fn foreach_lists_every_plugin() {
        let mut names = Vec::new();
        macro_rules! push {
            ($name:ident) => {
                names.push(stringify!($name));
            };
        }
        foreach_plugin!(push);
        assert_eq!(names, PLUGINS.iter().map(|p| p.name).collect::<Vec<_>>());

        let mut bad = 0;
        macro_rules! count {
            ($name:ident) => {
                bad += 1;
            };
        }
        foreach_bad!(count);
        assert_eq!(bad, PLUGINS.iter().filter(|p| p.kind == "bad").count());
    }
}
