//! Upload-time checks: is this a component of exactly one of our worlds,
//! importing nothing it may not?
//!
//! The order of the checks gives the most useful message first: not
//! WebAssembly at all, a core module instead of a component, invalid, no
//! Signalbox world (or several), then imports outside the allowed set. The
//! final type check (function signatures) happens when the component is
//! compiled and pre-instantiated against the host's linker.

use std::fmt;

use serde::Serialize;
use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{WorldItem, WorldKey};

use super::PluginError;

/// The three kinds of plugin. A filter targets the `filter` or the
/// `lazy-filter` world (they differ only in how the event crosses into the
/// plugin); the others have one world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// World `filter` (`keep(event) -> bool`) or `lazy-filter`
    /// (`keep-lazy() -> bool`, reading the event through `lazy`).
    Filter,
    /// World `transform`: `transform(event) -> list<event>`.
    Transform,
    /// World `connector`: `deliver(list<event>)`.
    Connector,
}

impl PluginKind {
    /// The world-level exports that identify the kind (one per world).
    fn entry_points(self) -> &'static [&'static str] {
        match self {
            PluginKind::Filter => &["keep", "keep-lazy"],
            PluginKind::Transform => &["transform"],
            PluginKind::Connector => &["deliver"],
        }
    }

    /// `filter`, `transform` or `connector`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Filter => "filter",
            PluginKind::Transform => "transform",
            PluginKind::Connector => "connector",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What inspection learned about a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The world it targets.
    pub kind: PluginKind,
    /// Its imports, as `ns:pkg/interface@version`.
    pub imports: Vec<String>,
}

/// WASI 0.2 packages any plugin may import: language runtimes need them, and
/// the sandbox satisfies them with a context that grants nothing.
const STANDARD_WASI: [&str; 6] = [
    "wasi:cli",
    "wasi:io",
    "wasi:clocks",
    "wasi:random",
    "wasi:filesystem",
    "wasi:sockets",
];

/// Checks `bytes` and says which world the component targets.
pub fn inspect(bytes: &[u8]) -> Result<Inspection, PluginError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(PluginError::Invalid(
            "not a WebAssembly binary (it does not start with \\0asm)".into(),
        ));
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(PluginError::Invalid(
            "this is a core WebAssembly module, not a component: build for the wasm32-wasip2 target (cargo build --target wasm32-wasip2), or wrap it with `wasm-tools component new`".into(),
        ));
    }
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator
        .validate_all(bytes)
        .map_err(|e| PluginError::Invalid(format!("invalid component: {e}")))?;
    let (resolve, world) = match decode(bytes) {
        Ok(DecodedWasm::Component(resolve, world)) => (resolve, world),
        Ok(DecodedWasm::WitPackage(..)) => {
            return Err(PluginError::Invalid(
                "this is a WIT package, not a component with code".into(),
            ));
        }
        Err(e) => {
            return Err(PluginError::Invalid(format!(
                "cannot read the component's interface: {e:#}"
            )));
        }
    };
    let world = &resolve.worlds[world];

    let exported: Vec<String> = world
        .exports
        .keys()
        .map(|k| resolve.name_world_key(k))
        .collect();
    let kinds: Vec<PluginKind> = [
        PluginKind::Filter,
        PluginKind::Transform,
        PluginKind::Connector,
    ]
    .into_iter()
    .filter(|k| {
        exported
            .iter()
            .any(|e| k.entry_points().contains(&e.as_str()))
    })
    .collect();
    let kind = match kinds.as_slice() {
        [k] => *k,
        [] => {
            return Err(PluginError::Invalid(format!(
                "the component does not target a Signalbox world (signalbox:plugin/filter, lazy-filter, transform or connector); it exports [{}]",
                exported.join(", ")
            )));
        }
        many => {
            return Err(PluginError::Invalid(format!(
                "the component exports the entry points of several worlds ({}); a plugin targets exactly one",
                many.iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let entry: Vec<&String> = exported
        .iter()
        .filter(|e| kind.entry_points().contains(&e.as_str()))
        .collect();
    if entry.len() > 1 {
        return Err(PluginError::Invalid(
            "the component exports both keep (world filter) and keep-lazy (world lazy-filter); a filter targets exactly one of them".into(),
        ));
    }
    let entry = entry[0].as_str();
    if let Some(extra) = exported.iter().find(|e| *e != "init" && *e != entry) {
        return Err(PluginError::Invalid(format!(
            "the component exports '{extra}', which the {kind} world does not have; export only init and {entry}"
        )));
    }
    if !exported.iter().any(|e| e == "init") {
        return Err(PluginError::Invalid(format!(
            "the {kind} world requires an 'init' export"
        )));
    }

    let mut imports = Vec::new();
    let mut denied = Vec::new();
    for (key, item) in &world.imports {
        let name = match (key, item) {
            (_, WorldItem::Type { .. }) => continue,
            (WorldKey::Interface(id), _) => match resolve.id_of(*id) {
                Some(n) => n,
                None => {
                    denied.push("an unnamed interface".to_owned());
                    continue;
                }
            },
            (WorldKey::Name(n), _) => {
                denied.push(format!("'{n}' (a bare import)"));
                continue;
            }
        };
        if !import_allowed(kind, &name) {
            denied.push(name.clone());
        }
        imports.push(name);
    }
    if !denied.is_empty() {
        let why = if kind == PluginKind::Connector {
            "connectors may import standard WASI 0.2, wasi:http, signalbox:plugin/types and signalbox:plugin/lazy"
        } else {
            "filters and transforms may import standard WASI 0.2, signalbox:plugin/types and signalbox:plugin/lazy; only connectors may use wasi:http"
        };
        return Err(PluginError::Invalid(format!(
            "the component imports what Signalbox does not provide: {} ({why})",
            denied.join(", ")
        )));
    }
    imports.sort();
    Ok(Inspection { kind, imports })
}

/// Whether a `kind` plugin may import the interface `name`
/// (`ns:pkg/iface@version`).
///
/// `signalbox:plugin/lazy` is allowed for every kind, not just lazy
/// filters: it grants nothing (it reads only the event the host lends to a
/// `keep-lazy` call, and traps otherwise), and a component may import it
/// without using
/// it, e.g. a Rust plugin built in a workspace where another plugin turned
/// on the SDK's `lazy-filter` feature.
fn import_allowed(kind: PluginKind, name: &str) -> bool {
    let (path, version) = name.split_once('@').unwrap_or((name, ""));
    let package = path.split('/').next().unwrap_or("");
    let v0_2 = version.starts_with("0.2.");
    if package == "signalbox:plugin" {
        return matches!(path, "signalbox:plugin/types" | "signalbox:plugin/lazy")
            && version.starts_with("0.1.");
    }
    if STANDARD_WASI.contains(&package) {
        return v0_2;
    }
    package == "wasi:http"
        && v0_2
        && kind == PluginKind::Connector
        && (path == "wasi:http/types" || path == "wasi:http/outgoing-handler")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_components_with_reasons() {
        let e = inspect(b"hello world, not wasm").unwrap_err().to_string();
        assert!(e.contains("not a WebAssembly binary"), "{e}");
        // The smallest valid core module.
        let e = inspect(b"\0asm\x01\0\0\0").unwrap_err().to_string();
        assert!(e.contains("core WebAssembly module"), "{e}");
        let mut random = vec![0u8; 4096];
        for (i, b) in random.iter_mut().enumerate() {
            *b = (i * 7919 % 251) as u8;
        }
        random[..4].copy_from_slice(b"\0asm");
        assert!(inspect(&random).is_err());
    }

    #[test]
    fn lazy_filters_are_filters() {
        let bytes = std::fs::read(signalbox_test_plugins::FILTER_LAZY_PREFIX).unwrap();
        let i = inspect(&bytes).unwrap();
        assert_eq!(i.kind, PluginKind::Filter);
        assert!(
            i.imports
                .iter()
                .any(|n| n.starts_with("signalbox:plugin/lazy@0.1.")),
            "{:?}",
            i.imports
        );
    }

    #[test]
    fn import_policy() {
        use PluginKind::*;
        assert!(import_allowed(Filter, "wasi:cli/stdout@0.2.6"));
        assert!(import_allowed(Filter, "wasi:filesystem/preopens@0.2.9"));
        assert!(import_allowed(Filter, "signalbox:plugin/types@0.1.0"));
        assert!(!import_allowed(Filter, "wasi:http/outgoing-handler@0.2.12"));
        assert!(import_allowed(
            Connector,
            "wasi:http/outgoing-handler@0.2.12"
        ));
        assert!(import_allowed(Connector, "wasi:http/types@0.2.0"));
        assert!(!import_allowed(
            Connector,
            "wasi:http/incoming-handler@0.2.0"
        ));
        assert!(!import_allowed(Filter, "wasi:cli/stdout@0.3.0"));
        assert!(!import_allowed(Filter, "wasi:keyvalue/store@0.2.0"));
        assert!(!import_allowed(Filter, "acme:secrets/vault@1.0.0"));
        assert!(!import_allowed(Filter, "signalbox:plugin/types@0.2.0"));
        assert!(import_allowed(Filter, "signalbox:plugin/lazy@0.1.1"));
        assert!(import_allowed(Transform, "signalbox:plugin/lazy@0.1.1"));
        assert!(!import_allowed(Filter, "signalbox:plugin/lazy@0.2.0"));
        assert!(!import_allowed(Filter, "signalbox:plugin/other@0.1.1"));
    }
}
