//! `otelgate keys …` and `otelgate users …`: manage the key store the `auth` processor reads.
//! The secret of a new key is printed once, alone on stdout, and kept nowhere.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::Subcommand;
use otelgate_core::config;
use otelgate_core::keys::{Role, Store};
use otelgate_core::processor::auth::AuthConfig;

use crate::output::{err, out};

/// Key commands.
#[derive(Subcommand)]
pub enum KeysCmd {
    /// Create a key for a user and print its secret once (alone on stdout, so that
    /// `KEY=$(otelgate keys create …)` works). With --role, a new user is created.
    Create {
        /// The user the key belongs to.
        #[arg(long)]
        user: String,
        /// The user's role: creates the user if new; must match an existing user's role.
        #[arg(long)]
        role: Option<Role>,
        /// Lifetime, e.g. 90d, 12h, 1y; without it the key does not expire.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
        /// Metadata stamped as an attribute on what the key sends, e.g. --attr team=payments
        /// (repeatable; over the user's of the same name).
        #[arg(long = "attr", value_name = "NAME=VALUE", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
    },
    /// List keys: id, user, role, created, expires, last used, status, attrs. Never secrets.
    List,
    /// Revoke a key by id; the relay refuses it from the next request on.
    Revoke {
        /// The key id (see `keys list`).
        id: String,
    },
    /// Create a successor for a key (same user) and expire the old one after the overlap, so
    /// clients move over without a gap. Prints the new secret once.
    Rotate {
        /// The key id to replace.
        id: String,
        /// How long the old key keeps working.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        overlap: Duration,
    },
}

/// User commands.
#[derive(Subcommand)]
pub enum UsersCmd {
    /// Add a user.
    Add {
        /// User name.
        name: String,
        /// owner (may send data) or member (refused with 403).
        #[arg(long)]
        role: Role,
        /// Metadata stamped as an attribute on what all the user's keys send, e.g.
        /// --attr cost_center=42 (repeatable).
        #[arg(long = "attr", value_name = "NAME=VALUE", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
    },
    /// Change a user's role; applies to all their keys at once.
    SetRole {
        /// User name.
        name: String,
        /// owner or member.
        role: Role,
    },
    /// Remove (disable) a user: every key of theirs is refused from the next request on.
    Remove {
        /// User name.
        name: String,
    },
    /// List users.
    List,
}

/// The audit log of the config's auth processor, if the config loads and has one.
pub fn audit_path(config_file: &Path) -> Option<PathBuf> {
    let c = config::load_for_inspection(config_file).ok()?;
    c.processors.values().find_map(|p| p.downcast_ref::<AuthConfig>()?.audit_log.clone())
}

fn audit(path: &Option<PathBuf>, event: &str, fields: serde_json::Value) -> anyhow::Result<()> {
    if let Some(p) = path {
        otelgate_core::keys::audit::append(p, event, fields)
            .with_context(|| format!("writing the audit log {}", p.display()))?;
    }
    Ok(())
}

/// Where the store is: `--store`, or the one `auth` processor with a store in the config.
pub fn store_path(store: Option<PathBuf>, config_file: &Path) -> anyhow::Result<PathBuf> {
    if let Some(s) = store {
        return Ok(s);
    }
    let c = config::load_for_inspection(config_file).map_err(|e| anyhow::anyhow!("{e}\n(or pass --store FILE)"))?;
    let stores: Vec<&PathBuf> =
        c.processors.values().filter_map(|p| p.downcast_ref::<AuthConfig>()?.store.as_ref()).collect();
    match stores.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("{} has no auth processor with a `store`; pass --store FILE", config_file.display()),
        many => bail!(
            "{} has several key stores ({}); pass --store FILE",
            config_file.display(),
            many.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn status(store: &Store, k: &otelgate_core::keys::store::KeyRecord, now: SystemTime) -> &'static str {
    if k.revoked {
        "revoked"
    } else if k.successor.is_some() && k.expires.is_some_and(|e| e.0 > now) {
        "rotating"
    } else if k.expires.is_some_and(|e| e.0 <= now) {
        "expired"
    } else if store.user(&k.user).is_none() {
        "user removed"
    } else {
        "active"
    }
}

/// Runs a key command against the store at `path`, recording changes in `audit_log`.
pub fn keys(cmd: KeysCmd, path: &Path, audit_log: Option<PathBuf>) -> anyhow::Result<()> {
    let mut store = Store::load(path)?;
    let now = SystemTime::now();
    match cmd {
        KeysCmd::Create { user, role, expires_in, attrs } => {
            let key = store.create_key(&user, role, expires_in, now)?;
            if !attrs.is_empty() {
                store.set_key_attrs(&key.id, attrs.into_iter().collect())?;
            }
            store.save(path)?;
            audit(&audit_log, "key_created", serde_json::json!({ "key_id": key.id, "user": user }))?;
            let role = store.user(&user).map(|u| u.role.to_string()).unwrap_or_default();
            let expiry = expires_in
                .map(|d| format!("expires {}", humantime::format_rfc3339_seconds(now + d)))
                .unwrap_or_else(|| "never expires".into());
            err(&format!(
                "Created key {} for {user} ({role}), {expiry}, in {}.\nThe secret below is shown once and stored nowhere: copy it now.\n",
                key.id,
                path.display()
            ))?;
            out(&format!("{}\n", key.secret.expose()))?;
        }
        KeysCmd::Rotate { id, overlap } => {
            let key = store.rotate(&id, overlap, now)?;
            store.save(path)?;
            audit(&audit_log, "key_rotated", serde_json::json!({ "key_id": id, "successor": key.id }))?;
            err(&format!(
                "Created key {} to replace {id}, which keeps working until {}.\nThe secret below is shown once and stored nowhere: copy it now.\n",
                key.id,
                humantime::format_rfc3339_seconds(now + overlap)
            ))?;
            out(&format!("{}\n", key.secret.expose()))?;
        }
        KeysCmd::List => {
            let last_used = otelgate_core::keys::store::read_last_used(path);
            let mut text = format!(
                "{:<12} {:<16} {:<7} {:<21} {:<21} {:<21} {:<13} {}\n",
                "ID", "USER", "ROLE", "CREATED", "EXPIRES", "LAST USED", "STATUS", "ATTRS"
            );
            for k in &store.keys {
                let role =
                    store.users.iter().find(|u| u.name == k.user).map(|u| u.role.to_string()).unwrap_or("-".into());
                text.push_str(&format!(
                    "{:<12} {:<16} {:<7} {:<21} {:<21} {:<21} {:<13} {}\n",
                    k.id,
                    k.user,
                    role,
                    k.created.to_string(),
                    k.expires.map(|e| e.to_string()).unwrap_or_else(|| "never".into()),
                    last_used.get(&k.id).map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                    status(&store, k, now),
                    attrs_text(&k.attrs)
                ));
            }
            out(&text)?;
        }
        KeysCmd::Revoke { id } => {
            store.revoke(&id)?;
            store.save(path)?;
            audit(&audit_log, "key_revoked", serde_json::json!({ "key_id": id }))?;
            err(&format!("Revoked key {id}.\n"))?;
        }
    }
    Ok(())
}

/// Runs a user command against the store at `path`, recording changes in `audit_log`.
pub fn users(cmd: UsersCmd, path: &Path, audit_log: Option<PathBuf>) -> anyhow::Result<()> {
    let mut store = Store::load(path)?;
    match cmd {
        UsersCmd::Add { name, role, attrs } => {
            store.add_user(&name, role)?;
            if !attrs.is_empty() {
                store.set_user_attrs(&name, attrs.into_iter().collect())?;
            }
            audit(&audit_log, "user_added", serde_json::json!({ "user": name, "role": role.to_string() }))?;
            err(&format!("Added user {name} ({role}).\n"))?;
        }
        UsersCmd::SetRole { name, role } => {
            store.set_role(&name, role)?;
            audit(&audit_log, "user_role_changed", serde_json::json!({ "user": name, "role": role.to_string() }))?;
            err(&format!("User {name} is now {role}; this applies to all their keys.\n"))?;
        }
        UsersCmd::Remove { name } => {
            store.remove_user(&name)?;
            audit(&audit_log, "user_removed", serde_json::json!({ "user": name }))?;
            err(&format!("Removed user {name}; their keys are refused from the next request on.\n"))?;
        }
        UsersCmd::List => {
            let mut text = format!("{:<16} {:<7} {:<5} {}\n", "USER", "ROLE", "KEYS", "ATTRS");
            for u in store.users.iter().filter(|u| !u.removed) {
                let n = store.keys.iter().filter(|k| k.user == u.name && !k.revoked).count();
                text.push_str(&format!("{:<16} {:<7} {n:<5} {}\n", u.name, u.role.to_string(), attrs_text(&u.attrs)));
            }
            out(&text)?;
            return Ok(());
        }
    }
    store.save(path).with_context(|| format!("saving {}", path.display()))?;
    Ok(())
}

/// `NAME=VALUE` of `--attr`.
fn parse_attr(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not NAME=VALUE, e.g. team=payments")),
    }
}

/// Metadata as `keys list` and `users list` show it: `team=payments,cost_center=42`, or `-`.
fn attrs_text(attrs: &std::collections::BTreeMap<String, String>) -> String {
    if attrs.is_empty() {
        return "-".into();
    }
    attrs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}
