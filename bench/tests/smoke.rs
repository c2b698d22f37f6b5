//! Smoke test of the benchmark harness (no timing assertions): every target starts, answers
//! and shows up in the table. Needs `cargo build --workspace` first (as .ci/run does).

use std::path::Path;
use std::process::Command;

#[test]
fn compare_runs_every_target_in_quick_mode() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let otelgate = root.join("target/debug/otelgate");
    assert!(otelgate.exists(), "build the workspace first: cargo build --workspace");
    let out = Command::new(env!("CARGO_BIN_EXE_otelgate-bench"))
        .current_dir(&root)
        .args(["compare", "--seconds", "1", "--connections", "2", "--body", "small", "--otelgate"])
        .arg(&otelgate)
        .args(["--config", "examples/nop.yaml", "--config", "bench/configs/minware-memory.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for target in ["bare sink", "otelgate examples/nop.yaml", "otelgate bench/configs/minware-memory.yaml"] {
        let row =
            text.lines().find(|l| l.starts_with(target)).unwrap_or_else(|| panic!("no row for {target}:\n{text}"));
        let fields: Vec<&str> = row.split_whitespace().collect();
        let rps: f64 = fields[fields.len() - 9].parse().unwrap();
        assert!(rps > 0.0, "{target} answered nothing: {row}");
        assert_eq!(fields.last(), Some(&"0"), "{target} refused requests: {row}");
    }
    assert!(text.contains("forwarded upstream"), "{text}");
}
