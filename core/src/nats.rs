//! Connecting to a NATS JetStream cluster, as the `nats` exporter and receiver share it: the
//! servers, how the relay authenticates (token, user and password, nkey seed, creds file) and
//! TLS, and the stream both sides agree on.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::settings::units::{ByteSize, Seconds};

/// How the relay signs in to NATS; at most one way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsAuth {
    /// A token (e.g. `${env:NATS_TOKEN}`).
    #[serde(default)]
    pub token: Option<String>,
    /// A user name (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    /// The user's password.
    #[serde(default)]
    pub password: Option<String>,
    /// An nkey seed (`SU…`).
    #[serde(default)]
    pub nkey_seed: Option<String>,
    /// A `.creds` file (JWT and nkey seed, as `nsc` writes it).
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
}

/// TLS to the servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsTls {
    /// CA certificate (PEM) the servers' certificates are checked against.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for servers that verify clients.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Its key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// Where the cluster is and how to reach it (from a component's `servers`, `auth`, `tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConnection {
    /// Server URLs.
    pub servers: Vec<String>,
    /// Sign-in.
    pub auth: NatsAuth,
    /// TLS to the servers.
    pub tls: Option<NatsTls>,
}

impl NatsConnection {
    /// What serde cannot check: servers given, one way of signing in.
    pub fn check(&self) -> Result<(), String> {
        if self.servers.is_empty() {
            return Err("`servers` is required, e.g. servers: [nats://127.0.0.1:4222]".into());
        }
        let a = &self.auth;
        let ways = usize::from(a.token.is_some())
            + usize::from(a.user.is_some() || a.password.is_some())
            + usize::from(a.nkey_seed.is_some())
            + usize::from(a.creds_file.is_some());
        if ways > 1 {
            return Err(
                "give one of `auth.token`, `auth.user`+`auth.password`, `auth.nkey_seed` or `auth.creds_file`".into()
            );
        }
        if a.user.is_some() != a.password.is_some() {
            return Err("`auth.user` and `auth.password` go together".into());
        }
        Ok(())
    }

    /// A client that keeps reconnecting (forever) and, when the cluster is down at start,
    /// connects in the background instead of failing: the relay must not stop for it.
    pub async fn connect(&self, name: &str) -> Result<async_nats::Client, String> {
        let a = &self.auth;
        let mut o = match &a.creds_file {
            Some(f) => async_nats::ConnectOptions::with_credentials_file(f)
                .await
                .map_err(|e| format!("auth.creds_file {}: {e}", f.display()))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let Some(t) = &a.token {
            o = o.token(t.clone());
        }
        if let (Some(u), Some(p)) = (&a.user, &a.password) {
            o = o.user_and_password(u.clone(), p.clone());
        }
        if let Some(s) = &a.nkey_seed {
            o = o.nkey(s.clone());
        }
        if let Some(t) = &self.tls {
            o = o.require_tls(true);
            if let Some(ca) = &t.ca_file {
                o = o.add_root_certificates(ca.clone());
            }
            if let (Some(c), Some(k)) = (&t.cert_file, &t.key_file) {
                o = o.add_client_certificate(c.clone(), k.clone());
            }
        }
        o.name(name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .connect(self.servers.as_slice())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.servers.join(", ")))
    }
}

/// The header an edge puts a client's own key in when its `nats` exporter forwards client
/// keys, and from which a forwarder restores it: one name for both sides.
pub const CLIENT_KEY_HEADER: &str = "Otelgate-Client-Key";

/// The stream's default name, on both sides.
pub fn default_stream() -> String {
    "OTELGATE".into()
}

/// The subjects' default prefix (`otelgate.logs`, …), on both sides.
pub fn default_subject_prefix() -> String {
    "otelgate".into()
}

/// How the stream the edges publish to and the forwarders read from is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Replicas of every message.
    pub replicas: usize,
    /// Bytes the stream may hold before publishes are refused.
    pub max_bytes: ByteSize,
    /// Age past which messages are removed undelivered.
    pub max_age: Seconds,
    /// How long JetStream remembers message ids.
    pub duplicate_window: Seconds,
}

impl Default for StreamSettings {
    /// 3 replicas, 10 GiB, 7 days, a 24-hour duplicate window.
    fn default() -> Self {
        StreamSettings {
            replicas: 3,
            max_bytes: ByteSize(10 << 30),
            max_age: Seconds(Duration::from_secs(7 * 24 * 3600)),
            duplicate_window: Seconds(Duration::from_secs(24 * 3600)),
        }
    }
}

/// The stream `name`, created as [`stream_config`] says when missing: what both the edges and
/// the forwarders do on connecting, whichever comes first.
pub async fn ensure_stream(
    js: &async_nats::jetstream::Context,
    name: &str,
    prefix: &str,
    s: &StreamSettings,
) -> Result<async_nats::jetstream::stream::Stream, String> {
    js.get_or_create_stream(stream_config(name, prefix, s)).await.map_err(|e| format!("stream {name}: {e}"))
}

/// The stream as JetStream is asked to create it: file storage, work-queue retention (a
/// message is removed once a forwarder acked it), discard new when full (refuse rather than
/// drop accepted data), every subject under `prefix`.
fn stream_config(name: &str, prefix: &str, s: &StreamSettings) -> async_nats::jetstream::stream::Config {
    use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
    Config {
        name: name.to_string(),
        subjects: vec![format!("{prefix}.>")],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        num_replicas: s.replicas,
        max_bytes: i64::try_from(s.max_bytes.0).unwrap_or(i64::MAX),
        max_age: s.max_age.0,
        discard: DiscardPolicy::New,
        duplicate_window: s.duplicate_window.0,
        ..Default::default()
    }
}
