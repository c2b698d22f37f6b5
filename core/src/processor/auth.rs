//! The `auth` processor: who may send data. Listed first in a pipeline (the Collector's
//! shape), but run by the receiver once per request, before the body is read, so an
//! unauthenticated client costs no decoding. `local` checks keys against the relay's key
//! store with minware's rules; `passthrough` checks nothing and keeps the client's key for
//! an exporter that forwards it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use http::header::AUTHORIZATION;
use http::HeaderMap;
use serde::Deserialize;

use crate::keys::usage::{Ledger, Sender};
use crate::keys::{AuthFailure, LiveStore, Secret, StoreError};
use crate::otlp::common::KeyValue;
use crate::otlp::{Request, Resource};
use crate::pipeline::batch::{Authenticated, Principal};
use crate::pipeline::component::{Authenticate, Rejection};
use crate::registry::{Built, ProcessorBuild, ProcessorType};

/// How the relay decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Check keys against the relay's key store.
    #[default]
    Local,
    /// Check nothing here; keep the client's key so the minware exporter can forward it
    /// (`forward_client_key: true`) and minware decides.
    Passthrough,
}

/// Settings of an `auth` processor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `local` (default) or `passthrough`.
    #[serde(default)]
    pub mode: AuthMode,
    /// The key store file (YAML or JSON), required in `local` mode.
    #[serde(default)]
    pub store: Option<PathBuf>,
    /// Add `otelgate.key_id` and `otelgate.user` attributes to accepted data.
    #[serde(default)]
    pub stamp_principal: bool,
    /// Where the stamps go: `resource` (default), `records` (every log record, span and metric
    /// data point: for backends that drop resource attributes, and Codex metrics that carry no
    /// user) or `both`. A `redact` processor's `identity` policy applies to them either way.
    #[serde(default)]
    pub stamp_on: StampOn,
    /// JSON-lines audit log of refused requests (and, from the CLI, key and user changes).
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
    /// What a client must present: `key` (default), `cert` (an mTLS client certificate stands
    /// in for the key) or `key_and_cert` (both).
    #[serde(default)]
    pub require: Require,
    /// Where who-sent-what is kept (`otelgate usage` reads it): default beside the key store
    /// (`<store>.usage.json`), else `./data/usage.json` (passthrough: per forwarded key's hash
    /// prefix, never the key).
    #[serde(default)]
    pub usage_file: Option<PathBuf>,
    /// Keep the who-sent-what ledger (default true; false: no usage file, no per-key metrics).
    #[serde(default = "default_track_usage")]
    pub track_usage: bool,
}

fn default_track_usage() -> bool {
    true
}

/// Where `usage_file` defaults to without a key store.
pub const DEFAULT_USAGE_FILE: &str = "./data/usage.json";

impl AuthConfig {
    /// The usage file this auth writes.
    pub fn usage_path(&self) -> PathBuf {
        match (&self.usage_file, &self.store) {
            (Some(p), _) => p.clone(),
            (None, Some(store)) => crate::keys::usage::path_beside(store),
            (None, None) => PathBuf::from(DEFAULT_USAGE_FILE),
        }
    }
}

/// Where the relay's stamps (principal, integration) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StampOn {
    /// Into every resource.
    #[default]
    Resource,
    /// Into every log record, span and metric data point.
    Records,
    /// Both.
    Both,
}

impl StampOn {
    /// Whether resources get the stamps.
    pub fn resources(self) -> bool {
        self != StampOn::Records
    }

    /// Whether records get the stamps.
    pub fn records(self) -> bool {
        self != StampOn::Resource
    }
}

/// What identifies a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Require {
    /// An API key (Bearer).
    #[default]
    Key,
    /// A client certificate (needs the receiver's `tls.client_ca_file`).
    Cert,
    /// Both.
    KeyAndCert,
}

/// The principal a client certificate stands for.
pub fn cert_principal(subject: &str) -> Principal {
    Principal { key_id: format!("cert:{subject}"), user: subject.to_string(), role: "owner".into(), attrs: Vec::new() }
}

impl ProcessorType for AuthConfig {
    fn check(&self) -> Result<(), String> {
        if self.mode == AuthMode::Local && self.require != Require::Cert && self.store.is_none() {
            return Err("`store` is required in local mode: the key store file, e.g. `store: ./keys.yaml` (created by `otelgate keys create`)".into());
        }
        Ok(())
    }

    fn runs_in_receiver(&self) -> bool {
        true
    }

    fn build(&self, _: &ProcessorBuild<'_>) -> Result<Built, String> {
        Ok(Built::Auth(Arc::new(Authenticator::new(self)?)))
    }
}

/// The running auth check.
pub struct Authenticator {
    mode: AuthMode,
    store: Option<Arc<LiveStore>>,
    audit: Option<crate::keys::audit::AuditLog>,
    stamp_principal: bool,
    stamp_on: StampOn,
    require: Require,
    /// Refusals by reason, in the order of [`REASONS`].
    refusals: [std::sync::atomic::AtomicU64; 7],
    /// Who sent what (unless `track_usage: false`).
    usage: Option<Arc<Ledger>>,
}

/// How often the usage ledger reaches disk (and so `otelgate usage`).
pub const USAGE_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// Why auth refused, as counted in self-metrics.
pub const REASONS: [&str; 7] =
    ["missing_or_malformed", "unknown", "expired", "revoked", "removed_user", "not_owner", "several_headers"];

fn unauthorized(message: impl Into<String>) -> Rejection {
    Rejection::new(401, message)
}

/// The bearer token of a request: exactly one `Authorization` header, scheme `Bearer` in any
/// case, spaces around tolerated.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values
        .next()
        .ok_or_else(|| unauthorized("missing Authorization header; send `Authorization: Bearer <API key>`"))?;
    if values.next().is_some() {
        return Err(unauthorized("several Authorization headers; send exactly one"));
    }
    let malformed = || unauthorized("malformed Authorization header; expected `Bearer <API key>`");
    let text = value.to_str().map_err(|_| malformed())?.trim();
    let (scheme, token) = text.split_once(|c: char| c.is_ascii_whitespace()).ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(char::is_whitespace) {
        return Err(malformed());
    }
    Ok(token)
}

impl Authenticator {
    /// Opens the key store (local mode); errors name the problem and the fix.
    pub fn new(config: &AuthConfig) -> Result<Self, String> {
        let store = match (config.mode, &config.store) {
            (AuthMode::Local, None) if config.require == Require::Cert => None,
            (AuthMode::Local, None) => {
                return Err(
                    "`store` is required in local mode: the key store file (create it with `otelgate keys create`)"
                        .into(),
                )
            }
            (AuthMode::Local, Some(p)) => Some(Arc::new(LiveStore::open(p).map_err(|e: StoreError| e.to_string())?)),
            (AuthMode::Passthrough, _) => None,
        };
        if let (Some(store), Ok(rt)) = (&store, tokio::runtime::Handle::try_current()) {
            // Last-used times reach disk at most once a minute, never on the request path.
            let weak = Arc::downgrade(store);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(s) = weak.upgrade() else { break };
                    if let Err(e) = s.flush_last_used() {
                        tracing::warn!(error = %e, "Cannot save key last-used times.");
                    }
                }
            });
        }
        // Keys of a store are known and few; forwarded keys and certificates are bounded.
        let usage = config.track_usage.then(|| Ledger::shared(config.usage_path(), store.is_none()));
        if let (Some(usage), Ok(rt)) = (&usage, tokio::runtime::Handle::try_current()) {
            let weak = Arc::downgrade(usage);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(USAGE_FLUSH);
                loop {
                    tick.tick().await;
                    let Some(u) = weak.upgrade() else { break };
                    if let Err(e) = u.flush() {
                        tracing::warn!(error = %e, file = %u.path().display(), "Cannot save usage.");
                    }
                }
            });
        }
        let audit = config.audit_log.clone().map(crate::keys::audit::AuditLog::open);
        Ok(Authenticator {
            mode: config.mode,
            store,
            audit,
            require: config.require,
            stamp_principal: config.stamp_principal,
            stamp_on: config.stamp_on,
            refusals: Default::default(),
            usage,
        })
    }

    fn refused(&self, reason: &str, token: Option<&str>, client: Option<std::net::SocketAddr>) {
        let key_id = token.and_then(crate::keys::secret::id_of);
        if let Some(a) = &self.audit {
            a.record(
                "request_refused",
                serde_json::json!({ "reason": reason, "key_id": key_id, "client": client.map(|c| c.ip().to_string()) }),
            );
        }
        if let Some(i) = REASONS.iter().position(|r| *r == reason) {
            self.refusals[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // A key of the store that may not send (expired, revoked, …) counts for its user; an
        // unknown token counts for nobody (a client cannot add rows by inventing keys).
        let (Some(usage), Some(id), Some(store)) = (&self.usage, key_id, &self.store) else { return };
        if reason == "unknown" {
            return;
        }
        if let Some(key) = store.current().keys.iter().find(|k| k.id == id) {
            usage.refused(&Sender { key_id: key.id.clone(), user: key.user.clone() }, reason);
        }
    }
}

impl Authenticate for Authenticator {
    /// Refusals by reason, for self-metrics.
    fn counters(&self) -> Vec<crate::pipeline::component::ComponentCounter> {
        REASONS
            .iter()
            .zip(&self.refusals)
            .map(|(r, n)| ("auth_refusals", "reason", *r, n.load(std::sync::atomic::Ordering::Relaxed)))
            .collect()
    }

    fn authenticate(
        &self,
        headers: &HeaderMap,
        client: Option<std::net::SocketAddr>,
        cert: Option<&str>,
    ) -> Result<Authenticated, Rejection> {
        match (self.require, cert) {
            (Require::Cert, Some(subject)) => {
                return Ok(Authenticated { principal: Some(cert_principal(subject)), client_key: None })
            }
            (Require::Cert | Require::KeyAndCert, None) => {
                self.refused("missing_or_malformed", None, client);
                return Err(unauthorized(
                    "a client certificate is required (mTLS); configure the client's certificate",
                ));
            }
            _ => {}
        }
        let token = bearer_token(headers).inspect_err(|r| {
            let reason = if r.message.starts_with("several") { "several_headers" } else { "missing_or_malformed" };
            self.refused(reason, None, client)
        })?;
        match (self.mode, &self.store) {
            (AuthMode::Local, Some(store)) => match store.current().check(token, SystemTime::now()) {
                Ok(p) => {
                    store.touch(&p.key_id);
                    Ok(Authenticated { principal: Some(p), client_key: None })
                }
                Err(f @ AuthFailure::NotOwner) => {
                    self.refused("not_owner", Some(token), client);
                    Err(Rejection::new(403, f.to_string()))
                }
                Err(f) => {
                    let reason = match f {
                        AuthFailure::Unknown => "unknown",
                        AuthFailure::Expired { .. } => "expired",
                        AuthFailure::Revoked { .. } => "revoked",
                        AuthFailure::UserRemoved { .. } => "removed_user",
                        AuthFailure::NotOwner => "not_owner",
                    };
                    self.refused(reason, Some(token), client);
                    tracing::debug!(reason = %f, "Request refused by auth.");
                    Err(unauthorized(f.to_string()))
                }
            },
            _ => Ok(Authenticated { principal: None, client_key: Some(Secret::new(token)) }),
        }
    }

    fn usage(&self) -> Option<Arc<Ledger>> {
        self.usage.clone()
    }

    fn stamp_on(&self) -> StampOn {
        self.stamp_on
    }

    fn stamps(&self, principal: Option<&Principal>) -> Vec<KeyValue<'static>> {
        let Some(p) = principal else { return Vec::new() };
        let mut out = Vec::new();
        if self.stamp_principal {
            out.push(KeyValue::string(STAMP_KEYS[0], p.key_id.clone()));
            out.push(KeyValue::string(STAMP_KEYS[1], p.user.clone()));
        }
        // The operator's metadata for this user or key, always (that is what it is for).
        out.extend(p.attrs.iter().map(|(k, v)| KeyValue::string(k.clone(), v.clone())));
        out
    }
}

impl Drop for Authenticator {
    fn drop(&mut self) {
        if let Some(s) = &self.store {
            let _ = s.flush_last_used();
        }
        if let Some(u) = &self.usage {
            if let Err(e) = u.flush() {
                tracing::warn!(error = %e, file = %u.path().display(), "Cannot save usage.");
            }
        }
    }
}

/// The resource attributes `stamp_principal` adds: the key id, then the user.
pub const STAMP_KEYS: &[&str] = &["otelgate.key_id", "otelgate.user"];

/// Upserts `attrs` into every resource of `request` (creating resources that are absent).
pub fn stamp_resources(request: &mut Request<'_>, attrs: &[KeyValue<'static>]) {
    if attrs.is_empty() {
        return;
    }
    request.for_each_resource(|res| stamp_resource(res, attrs));
}

/// Upserts `attrs` into every log record, span and metric data point of `request`.
pub fn stamp_records(request: &mut Request<'_>, attrs: &[KeyValue<'static>]) {
    if attrs.is_empty() {
        return;
    }
    request.for_each_record_attributes(|list| upsert(list, attrs));
}

/// Upserts `attrs` into one resource.
pub fn stamp_resource(res: &mut Resource<'_>, attrs: &[KeyValue<'static>]) {
    upsert(&mut res.attributes, attrs);
}

fn upsert(list: &mut Vec<KeyValue<'_>>, attrs: &[KeyValue<'static>]) {
    for kv in attrs {
        match list.iter_mut().find(|x| x.key == kv.key) {
            Some(x) => x.value = kv.value.clone(),
            None => list.push(kv.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(values: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in values {
            m.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(&h(&["Bearer abc"])).unwrap(), "abc");
        assert_eq!(bearer_token(&h(&["  bEaReR   abc  "])).unwrap(), "abc");
        for bad in [&[][..], &["Basic abc"], &["Bearer"], &["Bearer a b"], &["Bearer a", "Bearer b"]] {
            let r = bearer_token(&h(bad)).unwrap_err();
            assert_eq!(r.status, 401, "{bad:?}");
        }
    }
}
