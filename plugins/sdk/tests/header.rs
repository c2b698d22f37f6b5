//! The checked-in C header and the Rust ABI types must agree: compile a probe against the
//! header with `cc`, print every struct's size and every field's offset, compare with Rust.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use otelgate_plugin_sdk::abi::{OgBuf, OgHost, OgPlugin};

const PROBE: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include "otelgate_plugin.h"
#define S(t) printf(#t " %zu\n", sizeof(t));
#define O(t, f) printf(#t "." #f " %zu\n", offsetof(t, f));
int main(void) {
    S(og_buf) O(og_buf, ptr) O(og_buf, len) O(og_buf, cap)
    S(og_host) O(og_host, abi_version) O(og_host, struct_size) O(og_host, log)
    S(og_plugin) O(og_plugin, abi_version) O(og_plugin, struct_size) O(og_plugin, name) O(og_plugin, version)
    O(og_plugin, kind) O(og_plugin, signals) O(og_plugin, capabilities) O(og_plugin, reserved)
    O(og_plugin, create) O(og_plugin, process) O(og_plugin, export_batch) O(og_plugin, destroy) O(og_plugin, free_buf)
    printf("OTELGATE_PLUGIN_ABI_VERSION %u\n", OTELGATE_PLUGIN_ABI_VERSION);
    return 0;
}
"#;

#[test]
fn the_c_header_matches_the_rust_definitions() {
    let dir = tempfile_dir();
    let src = dir.join("probe.c");
    let exe = dir.join("probe");
    std::fs::write(&src, PROBE).unwrap();
    let include = env!("CARGO_MANIFEST_DIR");
    let cc = Command::new("cc")
        .arg("-std=c99")
        .arg("-I")
        .arg(include)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cc is needed to check the C header");
    assert!(cc.status.success(), "the header does not compile: {}", String::from_utf8_lossy(&cc.stderr));
    let out = Command::new(&exe).output().unwrap();
    let c: BTreeMap<String, usize> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(k, v)| (k.to_string(), v.parse().unwrap())))
        .collect();
    let rust: BTreeMap<String, usize> = [
        ("og_buf", size_of::<OgBuf>()),
        ("og_buf.ptr", offset_of!(OgBuf, ptr)),
        ("og_buf.len", offset_of!(OgBuf, len)),
        ("og_buf.cap", offset_of!(OgBuf, cap)),
        ("og_host", size_of::<OgHost>()),
        ("og_host.abi_version", offset_of!(OgHost, abi_version)),
        ("og_host.struct_size", offset_of!(OgHost, struct_size)),
        ("og_host.log", offset_of!(OgHost, log)),
        ("og_plugin", size_of::<OgPlugin>()),
        ("og_plugin.abi_version", offset_of!(OgPlugin, abi_version)),
        ("og_plugin.struct_size", offset_of!(OgPlugin, struct_size)),
        ("og_plugin.name", offset_of!(OgPlugin, name)),
        ("og_plugin.version", offset_of!(OgPlugin, version)),
        ("og_plugin.kind", offset_of!(OgPlugin, kind)),
        ("og_plugin.signals", offset_of!(OgPlugin, signals)),
        ("og_plugin.capabilities", offset_of!(OgPlugin, capabilities)),
        ("og_plugin.reserved", offset_of!(OgPlugin, reserved)),
        ("og_plugin.create", offset_of!(OgPlugin, create)),
        ("og_plugin.process", offset_of!(OgPlugin, process)),
        ("og_plugin.export_batch", offset_of!(OgPlugin, export_batch)),
        ("og_plugin.destroy", offset_of!(OgPlugin, destroy)),
        ("og_plugin.free_buf", offset_of!(OgPlugin, free_buf)),
        ("OTELGATE_PLUGIN_ABI_VERSION", otelgate_plugin_sdk::ABI_VERSION as usize),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(c, rust, "otelgate_plugin.h and src/abi.rs drifted apart");
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("otelgate-abi-probe-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
