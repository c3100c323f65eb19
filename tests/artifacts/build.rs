//! Builds every plugin in `plugins/` to a `wasm32-wasip2` component and
//! writes `$OUT_DIR/gen.rs`, which `src/lib.rs` includes.
//!
//! Like wasmtime's `crates/test-programs/artifacts/build.rs`: the plugins
//! workspace is built by a nested `cargo build --release --target
//! wasm32-wasip2`, with its own target directory inside `OUT_DIR` (so it
//! never waits for the outer build's lock) and with the outer build's
//! settings (flags, profiles, wrappers, target directory) removed from the
//! environment. The nested cargo inherits the outer one's jobserver, so it
//! does not add parallelism beyond the outer `-j`.

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The only target plugins are built for.
const TARGET: &str = "wasm32-wasip2";

/// The name prefixes a plugin may have, in `foreach_*` order. See the
/// naming contract in `src/lib.rs`.
const KINDS: &[&str] = &["filter", "transform", "connector", "bad"];

/// Environment variables of the outer build that must not reach the nested
/// one: exact names, then prefixes.
const CLEARED: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_LINKER",
    "CARGO_INCREMENTAL",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_CRATE_NAME",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "NUM_JOBS",
    "OPT_LEVEL",
    "DEBUG",
    "PROFILE",
];
const CLEARED_PREFIXES: &[&str] = &[
    "CARGO_BUILD_",
    "CARGO_PROFILE_",
    // Also CARGO_TARGET_DIR and per-target runner/linker/rustflags.
    "CARGO_TARGET_",
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PKG_",
    "CARGO_LLVM_COV",
    "DEP_",
];

/// One plugin: a `cdylib` or `bin` target of a `plugins/` member.
struct Plugin {
    /// Crate name with underscores, which is also the `.wasm` file's stem.
    name: String,
    /// The name's prefix: one of [`KINDS`].
    kind: &'static str,
    /// The world it implements: the `signalbox-sdk` feature it enables,
    /// or `command` for a binary.
    world: String,
    /// Where the component is.
    path: PathBuf,
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let repo = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("the repository root (two levels above tests/artifacts)");
    let plugins_dir = repo.join("plugins");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    // Every outer build (dev, test, clippy, …) shares `<target>/plugins`
    // by default; SIGNALBOX_PLUGINS_TARGET_DIR overrides it (it must not be
    // a profile directory of the outer build: those are locked while this
    // script runs).
    println!("cargo:rerun-if-env-changed=SIGNALBOX_PLUGINS_TARGET_DIR");
    let target_dir = env::var_os("SIGNALBOX_PLUGINS_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out; one
            // `<target>/plugins` directory serves every profile (Cargo
            // locks the per-profile directories, not this one).
            out_dir
                .ancestors()
                .nth(4)
                .map(|target| target.join("plugins"))
                .unwrap_or_else(|| out_dir.join("plugins-target"))
        });

    for dir in ["plugins", "sdk/rust", "wit"] {
        watch(&repo.join(dir));
    }
    println!("cargo:rerun-if-changed=build.rs");

    check_target_installed();
    let plugins = plugins(&plugins_dir, &target_dir);
    build(&plugins_dir, &target_dir);
    for plugin in &plugins {
        assert!(
            plugin.path.is_file(),
            "building plugins/ succeeded but {} is missing",
            plugin.path.display()
        );
    }
    let code = generate(&plugins);
    fs::write(out_dir.join("gen.rs"), code).expect("writing gen.rs");
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if CLEARED.contains(&key) || CLEARED_PREFIXES.iter().any(|p| key.starts_with(p)) {
            cmd.env_remove(key);
        }
    }
    // Anything the nested cargo prints on stdout would be read by the outer
    // cargo as build-script directives; send it to stderr.
    cmd.stdout(Stdio::from(std::io::stderr()));
    cmd
}

/// Fails with instructions when the `wasm32-wasip2` standard library is not
/// installed, instead of with rustc's "can't find crate for `core`".
fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .unwrap_or_else(|e| panic!("running `{} --print sysroot`: {e}", rustc.to_string_lossy()));
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let lib = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib");
    if !output.status.success() || !lib.is_dir() {
        panic!(
            "\n\nThe `{TARGET}` Rust target is not installed (no {}).\n\
             The test plugins are built for it. Install it with\n\n    \
             rustup target add {TARGET}\n\n\
             (scripts/ensure-deps does this).\n\n",
            lib.display()
        );
    }
}

/// The plugins, from `cargo metadata` of the plugins workspace.
fn plugins(plugins_dir: &Path, target_dir: &Path) -> Vec<Plugin> {
    let output = cargo()
        .current_dir(plugins_dir)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(plugins_dir.join("Cargo.toml"))
        .stdout(Stdio::piped())
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata for plugins/ failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata output is JSON");
    let artifacts = target_dir.join(TARGET).join("release");
    let mut plugins = Vec::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let sdk_features: Vec<&str> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["name"] == "signalbox-sdk")
            .flat_map(|d| d["features"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        for target in package["targets"].as_array().expect("targets") {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let world = if kinds.contains(&"cdylib") {
                match sdk_features.as_slice() {
                    [world] => (*world).to_owned(),
                    other => panic!(
                        "plugin `{}` must enable exactly one signalbox-sdk feature \
                         (filter, lazy-filter, transform or connector), found {other:?}",
                        package["name"]
                    ),
                }
            } else if kinds.contains(&"bin") {
                "command".to_owned()
            } else {
                continue;
            };
            let name = target["name"]
                .as_str()
                .expect("target name")
                .replace('-', "_");
            let kind = KINDS
                .iter()
                .copied()
                .find(|k| {
                    name.strip_prefix(k)
                        .is_some_and(|rest| rest.starts_with('_'))
                })
                .unwrap_or_else(|| {
                    panic!(
                        "plugin `{name}` does not follow the naming contract `<kind>_<case>` \
                         with kind one of {KINDS:?}; rename it (see tests/artifacts/src/lib.rs)"
                    )
                });
            let path = artifacts.join(format!("{name}.wasm"));
            plugins.push(Plugin {
                name,
                kind,
                world,
                path,
            });
        }
    }
    plugins.sort_by(|a, b| a.name.cmp(&b.name));
    plugins
}

fn build(plugins_dir: &Path, target_dir: &Path) {
    let mut cmd = cargo();
    cmd.current_dir(plugins_dir)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(plugins_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir);
    eprintln!("running: {cmd:?}");
    let status = cmd.status().expect("running cargo build for plugins/");
    assert!(
        status.success(),
        "building plugins/ for {TARGET} failed (see above); to reproduce: \
         cd plugins && cargo build --release --target {TARGET}"
    );
}

fn generate(plugins: &[Plugin]) -> String {
    let mut code = String::from("// Generated by tests/artifacts/build.rs. Do not edit.\n\n");
    for p in plugins {
        let _ = writeln!(
            code,
            "/// `plugins/{name}` ({kind}, world `{world}`): path of its component.\n\
             pub const {upper}: &str = {path:?};\n",
            name = p.name,
            kind = p.kind,
            world = p.world,
            upper = p.name.to_ascii_uppercase(),
            path = p.path.to_str().expect("UTF-8 path"),
        );
    }

    code.push_str("/// Every plugin, in name order.\npub const PLUGINS: &[Plugin] = &[\n");
    for p in plugins {
        let _ = writeln!(
            code,
            "    Plugin {{ name: {:?}, kind: {:?}, world: {:?}, path: {} }},",
            p.name,
            p.kind,
            p.world,
            p.name.to_ascii_uppercase()
        );
    }
    code.push_str("];\n\n");

    let mut by_kind: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for p in plugins {
        let index = KINDS.iter().position(|k| *k == p.kind).expect("known kind");
        by_kind.entry(index).or_default().push(&p.name);
    }
    let all: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
    foreach_macro(&mut code, "plugin", "every plugin", &all);
    for (index, kind) in KINDS.iter().enumerate() {
        let names = by_kind.get(&index).map(Vec::as_slice).unwrap_or_default();
        foreach_macro(&mut code, kind, &format!("every `{kind}_*` plugin"), names);
    }
    code
}

fn foreach_macro(code: &mut String, suffix: &str, what: &str, names: &[&str]) {
    let _ = writeln!(
        code,
        "/// Calls `$mac!(name)` for {what}, with the crate name as an identifier\n\
         /// (`filter_high_value`); the path constant is its upper-case form.\n\
         #[macro_export]\n\
         macro_rules! foreach_{suffix} {{\n    ($mac:ident) => {{"
    );
    for name in names {
        let _ = writeln!(code, "        $mac!({name});");
    }
    code.push_str("    };\n}\n\n");
}

/// Prints `rerun-if-changed` for every file under `dir`, skipping `target`
/// and hidden directories (but not `.cargo`), and for every directory whose subtree has none of
/// those (so added files are noticed too; a directory is scanned
/// recursively by cargo, so one holding a `target` would make every build
/// of that target rerun this script).
fn watch(dir: &Path) -> bool {
    let mut clean = true;
    let mut entries: Vec<_> = match fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(Result::ok).collect(),
        Err(e) => panic!("reading {}: {e}", dir.display()),
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            let hidden = name.to_string_lossy().starts_with('.') && name != OsStr::new(".cargo");
            if name == OsStr::new("target") || hidden {
                clean = false;
            } else {
                clean &= watch(&path);
            }
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    if clean {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    clean
}
