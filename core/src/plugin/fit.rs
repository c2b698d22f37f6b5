//! Whether a loaded library fits the place the YAML gives it: the right kind for its section,
//! every signal of the pipelines that list it, the functions that kind calls, and an
//! `on_error` it allows. One check for `run` (before `create`) and for `validate` (which loads
//! the library as `plugins inspect` does, and creates nothing).

use std::path::Path;

use otelgate_plugin_sdk::abi::{self, OgPlugin};

use super::library::{self, c_str, Table};
use super::{Inspection, OnError, PluginConfig};
use crate::otlp::Signal;

/// The section a plugin is listed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Under `processors:`.
    Processor,
    /// Under `exporters:`.
    Exporter,
}

impl Kind {
    fn abi(self) -> u32 {
        match self {
            Kind::Processor => abi::KIND_PROCESSOR,
            Kind::Exporter => abi::KIND_EXPORTER,
        }
    }
}

fn kind_name(kind: u32) -> &'static str {
    match kind {
        abi::KIND_PROCESSOR => "processor",
        abi::KIND_EXPORTER => "exporter",
        _ => "unknown kind",
    }
}

fn article(kind: u32) -> &'static str {
    if kind == abi::KIND_EXPORTER {
        "an"
    } else {
        "a"
    }
}

/// The bit of `signal` in a plugin's `signals` mask.
pub(super) fn signal_abi(s: Signal) -> u32 {
    otelgate_plugin_sdk::Signal::from(s).to_abi()
}

/// Checks a loaded table against its component's settings and the pipelines using it.
pub(super) fn check(t: &OgPlugin, c: &PluginConfig, kind: Kind, signals: &[Signal]) -> Result<(), String> {
    let name = c_str(t.name);
    let want = kind.abi();
    if t.kind != want {
        let section = if t.kind == abi::KIND_EXPORTER { "exporters" } else { "processors" };
        return Err(format!(
            "plugin {name} is {} {}, not {} {}; list it under {section}",
            article(t.kind),
            kind_name(t.kind),
            article(want),
            kind_name(want)
        ));
    }
    let missing: Vec<&str> = signals.iter().filter(|s| t.signals & signal_abi(**s) == 0).map(|s| s.as_str()).collect();
    if !missing.is_empty() {
        let handles: Vec<&str> =
            Signal::ALL.iter().filter(|s| t.signals & signal_abi(**s) != 0).map(|s| s.as_str()).collect();
        return Err(format!(
            "plugin {name} handles {} but a {} pipeline uses it; remove it from that pipeline",
            if handles.is_empty() { "no signal".to_string() } else { handles.join(", ") },
            missing.join(" and a ")
        ));
    }
    let call = if want == abi::KIND_EXPORTER { t.export_batch.is_some() } else { t.process.is_some() };
    if t.create.is_none() || t.destroy.is_none() || !call {
        return Err(format!("plugin {name} lacks create, destroy or its {} function", kind_name(want)));
    }
    if c.on_error == OnError::Passthrough {
        if kind == Kind::Exporter {
            return Err("on_error: passthrough applies to processors; an exporter plugin takes fail (keep the batch queued and retry) or drop".into());
        }
        if t.capabilities & abi::CAP_REDACTS != 0 {
            return Err(format!(
                "plugin {name} redacts: on_error: passthrough would forward unredacted data; use fail or drop"
            ));
        }
    }
    Ok(())
}

/// Loads the library of `c` (with every check `run` makes on the file) and checks it fits
/// `kind` and `signals`, without creating an instance: what `otelgate validate` does.
pub fn check_library(
    c: &PluginConfig,
    plugin_dir: Option<&Path>,
    kind: Kind,
    signals: &[Signal],
) -> Result<Inspection, String> {
    let (Table(t), sha256) = library::load(&c.path, c.sha256.as_deref(), plugin_dir)?;
    check(t, c, kind, signals)?;
    Ok(library::describe(t, sha256))
}
