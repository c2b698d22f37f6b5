//! `otelgate validate` and start-up with bad configs: exit codes and messages that name the
//! file, the line, the key path and the fix. Every shipped config must validate.

use std::path::Path;
use std::process::Command;

use crate::harness::bin;

fn validate(yaml: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, yaml).unwrap();
    let out = Command::new(bin()).args(["validate", "-c"]).arg(&p).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

const BASE: &str = "receivers:
  otlp_http:
    endpoint: 127.0.0.1:4318
exporters:
  file:
    path: ./data/{signal}.jsonl
pipelines:
  logs:
    receivers: [otlp_http]
    exporters: [file]
";

/// Every config the project ships (`pipelines.yaml`, `examples/*.yaml`), and the environment
/// they need: a minware key and, for `examples/plugins.yaml`, this build's example plugins.
fn shipped_configs() -> (Vec<std::path::PathBuf>, [(&'static str, std::path::PathBuf); 2]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("pipelines.yaml")];
    for dir in ["examples", "examples/scale-out"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 3, "{files:?}");
    // examples/plugins.yaml finds the example plugins in ${OTELGATE_PLUGINS}: this build's.
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let plugins = [deps.clone(), deps.parent().unwrap().to_path_buf()]
        .into_iter()
        .find(|d| d.join("libotelgate_plugin_drop.so").exists())
        .expect("the example plugins are built by `cargo build --workspace` before the tests");
    (files, [("MINWARE_API_KEY", "test".into()), ("OTELGATE_PLUGINS", plugins)])
}

#[test]
fn shipped_configs_validate() {
    let (files, env) = shipped_configs();
    for f in files {
        let out = Command::new(bin()).args(["validate", "-c"]).arg(&f).envs(env.clone()).output().unwrap();
        assert!(out.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
    }
}

/// The config inside the Kubernetes example's ConfigMap validates too (auth with a store,
/// redact with patterns), as the pod runs it.
#[test]
fn the_kubernetes_example_config_validates() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deploy/kubernetes.yaml")).unwrap();
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("pipelines.yaml: |"))
        .skip(1)
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    let yaml = block.join("\n");
    assert!(yaml.contains("auth:") && yaml.contains("patterns:"), "{yaml}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k8s.yaml");
    std::fs::write(&p, &yaml).unwrap();
    let out = Command::new(bin()).args(["validate", "-c"]).arg(&p).env("MINWARE_API_KEY", "test").output().unwrap();
    assert!(out.status.success(), "{}\n{yaml}", String::from_utf8_lossy(&out.stderr));
}

/// `graph` in both formats draws every pipeline of every shipped config.
#[test]
fn graph_draws_every_shipped_config() {
    let (files, env) = shipped_configs();
    for f in files {
        for format in ["tree", "dot"] {
            let out = Command::new(bin())
                .args(["graph", "--format", format, "-c"])
                .arg(&f)
                .envs(env.clone())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{} {format}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
            let pipelines =
                if format == "tree" { text.matches("pipeline ").count() } else { text.matches(" -> ").count() };
            assert!(pipelines > 0, "{} {format}: {text}", f.display());
        }
    }
    let out = Command::new(bin()).args(["graph", "--format", "svg"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("tree"), "{out:?}");
}

/// `components` (a debug build) names every type of the schema with its keys, read from the
/// schema, so a key a type gains shows up without editing a list.
#[test]
fn components_lists_every_type_of_the_schema_with_its_keys() {
    let out = Command::new(bin()).arg("components").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let schema: serde_json::Value =
        serde_json::from_slice(&Command::new(bin()).arg("schema").output().unwrap().stdout).unwrap();
    let mut n = 0;
    for (class, section) in [("receiver", "receivers"), ("processor", "processors"), ("exporter", "exporters")] {
        for pattern in schema["properties"][section]["patternProperties"].as_object().unwrap().keys() {
            let name = pattern.trim_start_matches('^').trim_end_matches("(/[^/]+)?$");
            assert!(text.contains(&format!("{class} {name} ")), "`{class} {name}` missing:\n{text}");
            n += 1;
        }
    }
    assert!(n >= 10, "{n} types");
    for key in ["compress_level", "unknown_content (redact|tag|keep)", "when_full (refuse|drop)", "tls { cert_file"] {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
}

#[test]
fn a_valid_config_is_described() {
    let (ok, stdout, _) = validate(BASE);
    assert!(ok);
    assert!(stdout.contains("pipeline logs: [otlp_http] -> [] -> [file]"), "{stdout}");
}

#[test]
fn unknown_key_names_file_line_path_and_suggestion() {
    let (ok, _, err) = validate(&BASE.replace("    path:", "    pth:"));
    assert!(!ok);
    assert!(err.contains("bad.yaml:6: exporters.file.pth: unknown key `pth`; did you mean `path`?"), "{err}");
}

#[test]
fn undefined_reference_and_unknown_type() {
    let (ok, _, err) = validate(&BASE.replace("exporters: [file]", "exporters: [fille]"));
    assert!(!ok);
    assert!(err.contains("pipelines.logs.exporters: [0] `fille` is not defined under top-level `exporters:` (defined: file); did you mean `file`?"), "{err}");
    let (ok, _, err) = validate(&BASE.replace("  file:\n", "  fiel:\n").replace("[file]", "[fiel]"));
    assert!(!ok);
    assert!(err.contains("exporters.fiel: unknown exporter type `fiel`; did you mean `file`?"), "{err}");
}

/// YAML syntax errors say what usually causes them: a tab, or `${env:…}` unquoted in `{ … }`.
#[test]
fn yaml_syntax_errors_carry_a_hint() {
    let (ok, _, err) = validate("receivers:\n\totlp_http: {}\n");
    assert!(!ok && err.contains("YAML does not allow tabs"), "{err}");
    // The parser names a line only; the message adds the line and the keys around it.
    assert!(err.contains("bad.yaml:2: receivers.otlp_http: "), "{err}");
    let (ok, _, err) =
        validate(&BASE.replace("exporters:\n", "exporters:\n  minware: { endpoint: https://x, api_key: ${env:K} }\n"));
    assert!(!ok && err.contains("quote a value holding `${…}`"), "{err}");
    assert!(err.contains(": exporters.minware: "), "{err}");
}

/// serde stops a section at its first bad value; validate still reports every one, in every
/// section (`limits` and pipelines included), and an enum lists its values.
#[test]
fn every_type_error_is_reported_and_enums_list_their_values() {
    let (ok, _, err) = validate(
        "receivers:
  otlp_http:
    max_request_body_size: lots
    max_connections: many
exporters:
  stdout:
    verbosity: 3
  file:
    path: ./x.jsonl
    rotation:
      max_megabytes: -3
      compress: maybe
limits:
  max_inflight_bytes: huge
pipelines:
  logs:
    receivers: otlp_http
    exporters: [stdout, file]
",
    );
    assert!(!ok);
    let expected = [
        "bad.yaml:3: receivers.otlp_http.max_request_body_size: invalid size \"lots\"; write e.g. 16MiB, 512KiB, 1GiB or a number of bytes",
        "bad.yaml:4: receivers.otlp_http.max_connections: invalid type: found string \"many\", expected a whole number (0 or more)",
        "bad.yaml:7: exporters.stdout.verbosity: invalid type: found unsigned int `3`, expected one of: basic, normal, detailed",
        "bad.yaml:11: exporters.file.rotation.max_megabytes: invalid value: found signed int `-3`, expected a whole number (0 or more)",
        "bad.yaml:12: exporters.file.rotation.compress: invalid type: found string \"maybe\", expected true or false",
        "bad.yaml:14: limits.max_inflight_bytes: invalid size \"huge\"; write e.g. 16MiB, 512KiB, 1GiB or a number of bytes",
        "bad.yaml:17: pipelines.logs.receivers: invalid type: found string \"otlp_http\", expected a sequence",
    ];
    let got: Vec<&str> = err.lines().map(|l| &l[l.find("bad.yaml").unwrap()..]).collect();
    assert_eq!(got, expected, "\n{err}");
}

/// Sizes take decimal units too, as the README says (`16MB` is 16 000 000 bytes).
#[test]
fn decimal_size_units_are_read_as_powers_of_1000() {
    let (ok, _, err) = validate(
        &BASE.replace("endpoint: 127.0.0.1:4318", "endpoint: 127.0.0.1:4318\n    max_request_body_size: 16MB"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = validate(
        &BASE.replace("endpoint: 127.0.0.1:4318", "endpoint: 127.0.0.1:4318\n    max_request_body_size: 16 parsecs"),
    );
    assert!(!ok && err.contains("invalid size \"16 parsecs\""), "{err}");
}

/// A key given twice is an error naming both lines (YAML alone would keep the last silently;
/// the shipped pipelines.yaml once had a second `pipelines:` that way).
#[test]
fn a_key_given_twice_names_both_lines() {
    let (ok, _, err) =
        validate(&BASE.replace("endpoint: 127.0.0.1:4318", "endpoint: 127.0.0.1:4318\n    endpoint: 127.0.0.1:1"));
    assert!(!ok, "a duplicate key was accepted");
    assert!(err.contains("key `endpoint` in `receivers.otlp_http` is given twice, at lines"), "{err}");
    let (ok, _, err) = validate(&format!("pipelines: x\n{BASE}"));
    assert!(!ok);
    assert!(err.contains("key `pipelines` is given twice, at lines 1 and"), "{err}");
}

#[test]
fn empty_pipelines_and_bad_values() {
    let (ok, _, err) = validate(&BASE.replace("    exporters: [file]\n", ""));
    assert!(!ok);
    assert!(err.contains("pipelines.logs: the pipeline has no exporters"), "{err}");
    let (ok, _, err) = validate(
        &BASE.replace("endpoint: 127.0.0.1:4318", "endpoint: 127.0.0.1:4318\n    max_request_body_size: lots"),
    );
    assert!(!ok);
    assert!(err.contains("receivers.otlp_http.max_request_body_size"), "{err}");
    assert!(err.contains("16MiB"), "{err}");
    let (ok, _, err) = validate(&BASE.replace(
        "path: ./data/{signal}.jsonl",
        "path: ./data/{signal}.jsonl\n    rotation: { compress: true, compress_level: 0 }",
    ));
    assert!(!ok);
    assert!(err.contains("exporters.file.rotation") && err.contains("use 1 (fastest) to 9 (smallest)"), "{err}");
    // An unknown type lists every known one.
    let (ok, _, err) = validate(&BASE.replace("  file:\n", "  kafka:\n").replace("[file]", "[kafka]"));
    assert!(!ok);
    assert!(
        err.contains("unknown exporter type `kafka`; known exporter types: file, minware, nats, stdout, nop, plugin"),
        "{err}"
    );
    let (ok, _, err) = validate("pipelines: {}\n");
    assert!(!ok);
    assert!(err.contains("no pipelines are defined"), "{err}");
    let (ok, _, err) = validate("receivers: [oops\n");
    assert!(!ok);
    assert!(err.contains("bad.yaml"), "{err}");
}

#[test]
fn run_refuses_a_bad_config_and_a_busy_port() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, BASE.replace("receivers: [otlp_http]", "receivers: [otlp]")).unwrap();
    let out = Command::new(bin()).args(["run", "-c"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`otlp` is not defined"));

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    std::fs::write(&p, BASE.replace("127.0.0.1:4318", &format!("127.0.0.1:{port}"))).unwrap();
    let out = Command::new(bin()).args(["run", "-c"]).arg(&p).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("receivers.otlp_http: cannot listen on 127.0.0.1:{port}")), "{err}");
    assert_eq!(err.matches("Address already in use").count(), 1, "the cause is said once: {err}");
}

#[test]
fn help_explains_the_commands() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("run") && text.contains("validate"), "{text}");
    let out = Command::new(bin()).args(["run", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("OTELGATE_RECEIVERS__OTLP_HTTP__ENDPOINT"), "{text}");
}

#[test]
fn snapshot_graph_of_the_default_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(bin()).args(["graph", "-c"]).arg(root.join("pipelines.yaml")).output().unwrap();
    assert!(out.status.success());
    let expected = "\
pipeline logs
├─ receiver  otlp_http
├─ exporter  file
└─ exporter  stdout
pipeline metrics
├─ receiver  otlp_http
├─ exporter  file
└─ exporter  stdout
pipeline traces
├─ receiver  otlp_http
├─ exporter  file
└─ exporter  stdout
";
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    let out = Command::new(bin())
        .args(["graph", "--format", "dot", "-c"])
        .arg(root.join("examples/minware-relay.yaml"))
        .env("MINWARE_API_KEY", "x")
        .output()
        .unwrap();
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.starts_with("digraph otelgate {"), "{dot}");
    assert!(dot.contains("\"otlp_http\" -> \"logs:auth\" [label=\"logs\"];"), "{dot}");
    assert!(dot.contains("\"logs:auth\" -> \"logs:redact\";"), "{dot}");
    assert!(dot.contains("\"logs:redact\" -> \"minware\";"), "{dot}");
}

#[test]
fn snapshot_validate_reports_every_mistake_at_once() {
    let (ok, _, err) = validate(
        "receivers:
  otlp_http:
    endpont: 127.0.0.1:4318
processors:
  redact: { prompts: hide }
exporters:
  file:
    path: ./x.jsonl
  stdot: {}
pipelines:
  logs:
    receivers: [otlp_http]
    processors: [redact]
    exporters: [file, stdout]
  spans:
    receivers: [otlp_http]
    exporters: [file]
",
    );
    assert!(!ok);
    let expected_lines = [
        "bad.yaml:3: receivers.otlp_http.endpont: unknown key `endpont`; did you mean `endpoint`? (known keys: endpoint, max_request_body_size, header_read_timeout, body_read_timeout, tls, route_root, max_connections, max_header_bytes, max_headers, rate_limit)",
        "bad.yaml:5: processors.redact.prompts: unknown value `hide`; expected one of: keep, redact, drop",
        "bad.yaml:9: exporters.stdot: unknown exporter type `stdot`; did you mean `stdout`? (known exporter types: file, minware, nats, stdout, nop, plugin); a key is `TYPE` or `TYPE/NAME`",
        "bad.yaml:14: pipelines.logs.exporters: [1] `stdout` is not defined under top-level `exporters:` (defined: file, stdot); did you mean `stdot`?",
        "bad.yaml:15: pipelines.spans: `spans` is not a signal; a pipeline is named `logs`, `metrics` or `traces`, optionally with `/NAME`",
    ];
    // Paths are printed as given; compare from the file name on.
    let got: Vec<&str> = err.lines().map(|l| &l[l.find("bad.yaml").unwrap()..]).collect();
    assert_eq!(got, expected_lines, "\n{err}");
}

fn schema_validator() -> jsonschema::Validator {
    let out = Command::new(bin()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("the schema is not a valid JSON Schema: {e}"))
}

fn yaml_as_json(text: &str) -> serde_json::Value {
    yaml_serde::from_str(text).unwrap()
}

#[test]
fn the_json_schema_accepts_every_shipped_config_and_rejects_typos() {
    let v = schema_validator();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("pipelines.yaml")];
    for dir in ["examples", "bench/configs"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    for f in &files {
        let doc = yaml_as_json(&std::fs::read_to_string(f).unwrap());
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
    for bad in [
        BASE.replace("    path:", "    pth:"),
        BASE.replace("  file:", "  fiel:").replace("[file]", "[fiel]"),
        BASE.replace("endpoint: 127.0.0.1:4318", "endpoint: 127.0.0.1:4318\n    max_request_body_size: lots"),
        BASE.replace("pipelines:\n  logs:", "pipelines:\n  spans:"),
        format!("{BASE}extra_section: 1\n"),
    ] {
        assert!(!v.is_valid(&yaml_as_json(&bad)), "accepted:\n{bad}");
    }
}

#[test]
fn the_checked_in_schema_is_current() {
    let out = Command::new(bin()).arg("schema").output().unwrap();
    let checked_in =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        checked_in,
        "examples/pipelines.schema.json is stale: run `cargo run -- schema > examples/pipelines.schema.json`"
    );
}
