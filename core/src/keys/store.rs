//! The key store file: users (name, role, removed) and keys (id, user, times, revoked, the
//! SHA-256 of the secret — never the secret). Written atomically (temp file + rename), 0600.
//! [`LiveStore`] re-reads it when it changes, keeping the last good state if it breaks.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secret::{self, NewKey};
use crate::pipeline::batch::Principal;

/// What a user may do. A key carries its user's current role, as a minware key carries its
/// creator's permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May send data to the integration.
    Owner,
    /// May not send data (403).
    Member,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Owner => "owner",
            Role::Member => "member",
        })
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "owner" => Ok(Role::Owner),
            "member" => Ok(Role::Member),
            other => Err(format!("unknown role {other:?}; use owner or member")),
        }
    }
}

/// A point in time, written as RFC 3339 (`2026-11-24T19:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub SystemTime);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_seconds(self.0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&s)
            .map(Timestamp)
            .map_err(|e| serde::de::Error::custom(format!("invalid time {s:?} ({e}); write e.g. 2026-11-24T19:00:00Z")))
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Unique name.
    pub name: String,
    /// Current role.
    pub role: Role,
    /// Removed (disabled) users' keys are refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// Metadata stamped on what the user's keys send (`team`, `cost_center`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

/// A key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// Public id (also inside the secret, so a leaked key can be traced).
    pub id: String,
    /// The user it belongs to.
    pub user: String,
    /// When it was created.
    pub created: Timestamp,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// Revoked keys are refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
    /// Lower-case hex SHA-256 of the secret.
    pub sha256: String,
    /// The key that replaced this one (`keys rotate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// Metadata stamped on what this key sends; over its user's of the same name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Keys.
    #[serde(default)]
    pub keys: Vec<KeyRecord>,
}

/// Why a key store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The store file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid store.
    #[error("{}: not a valid key store: {message}", path.display())]
    Parse {
        /// The store file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A request the store's rules refuse.
    #[error("{0}")]
    Rule(String),
}

/// Why a presented key is refused. Messages name the key id at most, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Not a key of this store.
    #[error("unknown API key")]
    Unknown,
    /// Past its expiry.
    #[error("API key {id} expired at {at}; create a new one with `otelgate keys create`")]
    Expired {
        /// Key id.
        id: String,
        /// Expiry.
        at: Timestamp,
    },
    /// Revoked.
    #[error("API key {id} was revoked")]
    Revoked {
        /// Key id.
        id: String,
    },
    /// Its user was removed (or never existed).
    #[error("API key {id} belongs to a removed user")]
    UserRemoved {
        /// Key id.
        id: String,
    },
    /// Valid, but its user may not send data.
    #[error("only owners can send data to this integration")]
    NotOwner,
}

impl Store {
    /// Reads a store; a missing file is an empty store (the first `keys create` makes it).
    pub fn load(path: &Path) -> Result<Store, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Store::default()),
            Err(source) => return Err(StoreError::Io { path: path.to_path_buf(), source }),
        };
        // YAML is a superset of JSON, so one parser reads both forms.
        let store: Store = yaml_serde::from_str(&text)
            .map_err(|e| StoreError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        store.validate().map_err(|message| StoreError::Parse { path: path.to_path_buf(), message })?;
        Ok(store)
    }

    fn validate(&self) -> Result<(), String> {
        for (i, k) in self.keys.iter().enumerate() {
            if k.sha256.len() != 64 || !k.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("keys[{i}] ({}): sha256 must be 64 hex digits", k.id));
            }
            if self.keys[..i].iter().any(|o| o.id == k.id) {
                return Err(format!("keys[{i}]: duplicate key id {}", k.id));
            }
        }
        for (i, u) in self.users.iter().enumerate() {
            if self.users[..i].iter().any(|o| o.name == u.name) {
                return Err(format!("users[{i}]: duplicate user {}", u.name));
            }
        }
        Ok(())
    }

    /// Writes atomically: a 0600 temp file in the same directory, fsynced, renamed over.
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let io = |source| StoreError::Io { path: path.to_path_buf(), source };
        let json = path.extension().is_some_and(|e| e == "json");
        let text = if json {
            serde_json::to_string_pretty(self).map_err(|e| StoreError::Rule(e.to_string()))?
        } else {
            yaml_serde::to_string(self).map_err(|e| StoreError::Rule(e.to_string()))?
        };
        crate::private_file::replace(path, text.as_bytes()).map_err(io)
    }

    /// The user called `name`, if present and not removed.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name && !u.removed)
    }

    /// [`Store::user`], to change.
    fn user_mut(&mut self, name: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| u.name == name && !u.removed)
    }

    /// Adds a user.
    pub fn add_user(&mut self, name: &str, role: Role) -> Result<(), StoreError> {
        if name.trim().is_empty() {
            return Err(StoreError::Rule("a user name cannot be empty".into()));
        }
        if let Some(u) = self.users.iter_mut().find(|u| u.name == name) {
            if !u.removed {
                return Err(StoreError::Rule(format!("user {name} already exists (role {})", u.role)));
            }
            // Re-adding a removed user starts them afresh; their old keys stay dead.
            u.removed = false;
            u.role = role;
            for k in self.keys.iter_mut().filter(|k| k.user == name) {
                k.revoked = true;
            }
            return Ok(());
        }
        self.users.push(User { name: name.to_string(), role, removed: false, attrs: BTreeMap::new() });
        Ok(())
    }

    /// Changes a user's role; it applies to all their keys at once.
    pub fn set_role(&mut self, name: &str, role: Role) -> Result<(), StoreError> {
        let u = self.user_mut(name).ok_or_else(|| {
            StoreError::Rule(format!("no user {name}; add one with `otelgate users add {name} --role {role}`"))
        })?;
        u.role = role;
        Ok(())
    }

    /// Removes (disables) a user: every key of theirs is refused from the next request on.
    pub fn remove_user(&mut self, name: &str) -> Result<(), StoreError> {
        let u = self.user_mut(name).ok_or_else(|| StoreError::Rule(format!("no user {name}")))?;
        u.removed = true;
        Ok(())
    }

    /// Creates a key for `user`. With `role`, a new user is created with it; an existing
    /// user's role must match.
    pub fn create_key(
        &mut self,
        user: &str,
        role: Option<Role>,
        expires_in: Option<Duration>,
        now: SystemTime,
    ) -> Result<NewKey, StoreError> {
        match (self.user(user), role) {
            (Some(u), Some(r)) if u.role != r => {
                return Err(StoreError::Rule(format!(
                "user {user} has role {}, not {r}; change it with `otelgate users set-role {user} {r}` or drop --role",
                u.role
            )))
            }
            (Some(_), _) => {}
            (None, Some(r)) => self.add_user(user, r)?,
            (None, None) => {
                return Err(StoreError::Rule(format!("no user {user}; pass --role owner|member to create it")))
            }
        }
        let key = secret::generate().map_err(|e| StoreError::Rule(format!("no randomness available: {e}")))?;
        self.keys.push(KeyRecord {
            id: key.id.clone(),
            user: user.to_string(),
            created: Timestamp(now),
            expires: expires_in.map(|d| Timestamp(now + d)),
            revoked: false,
            sha256: secret::hash(key.secret.expose()),
            successor: None,
            attrs: BTreeMap::new(),
        });
        Ok(key)
    }

    /// Revokes a key by id.
    pub fn revoke(&mut self, id: &str) -> Result<(), StoreError> {
        let k = self
            .keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or_else(|| StoreError::Rule(format!("no key {id}; see `otelgate keys list`")))?;
        k.revoked = true;
        Ok(())
    }

    /// Creates a successor for key `id` (same user) and makes the old key expire after
    /// `overlap`, so clients can move over without a gap.
    pub fn rotate(&mut self, id: &str, overlap: Duration, now: SystemTime) -> Result<NewKey, StoreError> {
        let old = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| StoreError::Rule(format!("no key {id}; see `otelgate keys list`")))?
            .clone();
        if old.revoked {
            return Err(StoreError::Rule(format!("key {id} is revoked; create a new key instead")));
        }
        let user = self
            .user(&old.user)
            .ok_or_else(|| StoreError::Rule(format!("the user of key {id} was removed")))?
            .name
            .clone();
        let remaining = old.expires.map(|e| e.0.duration_since(now).unwrap_or_default());
        let new = self.create_key(&user, None, remaining, now)?;
        let until = Timestamp(now + overlap);
        if let Some(k) = self.keys.iter_mut().find(|k| k.id == id) {
            k.expires = Some(k.expires.map_or(until, |e| e.min(until)));
            k.successor = Some(new.id.clone());
        }
        Ok(new)
    }

    /// Decides on a presented secret: the principal, or why not.
    pub fn check(&self, presented: &str, now: SystemTime) -> Result<Principal, AuthFailure> {
        let id = secret::id_of(presented).ok_or(AuthFailure::Unknown)?;
        let k = self.keys.iter().find(|k| k.id == id).ok_or(AuthFailure::Unknown)?;
        if !secret::matches(presented, &k.sha256) {
            return Err(AuthFailure::Unknown);
        }
        if k.revoked {
            return Err(AuthFailure::Revoked { id: k.id.clone() });
        }
        if let Some(at) = k.expires.filter(|at| at.0 <= now) {
            return Err(AuthFailure::Expired { id: k.id.clone(), at });
        }
        let u = self.user(&k.user).ok_or_else(|| AuthFailure::UserRemoved { id: k.id.clone() })?;
        if u.role != Role::Owner {
            return Err(AuthFailure::NotOwner);
        }
        let mut attrs = u.attrs.clone();
        attrs.extend(k.attrs.iter().map(|(a, v)| (a.clone(), v.clone())));
        Ok(Principal {
            key_id: k.id.clone(),
            user: u.name.clone(),
            role: u.role.to_string(),
            attrs: attrs.into_iter().collect(),
        })
    }

    /// Sets metadata on a key (stamped on what it sends), replacing what it had.
    pub fn set_key_attrs(&mut self, id: &str, attrs: BTreeMap<String, String>) -> Result<(), StoreError> {
        check_attrs(&attrs)?;
        let k = self.keys.iter_mut().find(|k| k.id == id).ok_or_else(|| StoreError::Rule(format!("no key {id}")))?;
        k.attrs = attrs;
        Ok(())
    }

    /// Sets metadata on a user (stamped on what all their keys send), replacing what it had.
    pub fn set_user_attrs(&mut self, name: &str, attrs: BTreeMap<String, String>) -> Result<(), StoreError> {
        check_attrs(&attrs)?;
        let u = self.user_mut(name).ok_or_else(|| StoreError::Rule(format!("no user {name}")))?;
        u.attrs = attrs;
        Ok(())
    }
}

/// Metadata keys are attribute names: not empty, and not the relay's own `otelgate.*`.
fn check_attrs(attrs: &BTreeMap<String, String>) -> Result<(), StoreError> {
    for k in attrs.keys() {
        if k.trim().is_empty() || k.contains(char::is_whitespace) {
            return Err(StoreError::Rule(format!(
                "attribute name {k:?} must be a non-empty name without spaces, e.g. team"
            )));
        }
        if k.starts_with("otelgate.") {
            return Err(StoreError::Rule(format!(
                "attribute name {k:?}: `otelgate.` names are the relay's own stamps"
            )));
        }
    }
    Ok(())
}

/// What identifies a version of the file without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let m = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        modified: m.modified().ok(),
        len: m.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

/// A store that follows its file: [`LiveStore::current`] checks the file's metadata (one
/// `stat`) and re-reads it when it changed, so a revoked key is refused from the next request
/// on. Requests arriving within [`RECHECK_AFTER`] of the last check share it (under load the
/// `stat` was ~4.6 % of the CPU of small requests), so a change is seen at most that much
/// later. A broken file keeps the last good state and logs one error per change.
pub struct LiveStore {
    path: PathBuf,
    state: RwLock<(Option<Fingerprint>, Arc<Store>)>,
    /// When the file was last checked, in nanoseconds since `epoch`.
    checked: std::sync::atomic::AtomicU64,
    epoch: std::time::Instant,
    /// When each key was last accepted; flushed to the state file by a background task.
    last_used: std::sync::Mutex<(bool, std::collections::BTreeMap<String, SystemTime>)>,
}

/// How long one check of the store file serves later requests.
pub const RECHECK_AFTER: std::time::Duration = std::time::Duration::from_millis(1);

/// The file beside a store that keeps last-used times (separate, so the request path never
/// rewrites the store).
pub fn state_path(store: &Path) -> PathBuf {
    beside(store, ".state.json")
}

/// A file named after the store with `suffix` appended (`keys.yaml` → `keys.yaml.state.json`).
pub fn beside(store: &Path, suffix: &str) -> PathBuf {
    let mut s = store.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Last-used times from a store's state file (empty when there is none).
pub fn read_last_used(store: &Path) -> std::collections::BTreeMap<String, Timestamp> {
    std::fs::read(state_path(store)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

impl LiveStore {
    /// Loads the store at `path`; fails when the file exists and is invalid.
    pub fn open(path: &Path) -> Result<LiveStore, StoreError> {
        #[cfg(unix)]
        if let Ok(m) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            if m.permissions().mode() & 0o077 != 0 {
                tracing::warn!(store = %path.display(), mode = format!("{:o}", m.permissions().mode() & 0o777), "The key store is readable by group or others; run `chmod 600` on it.");
            }
        }
        let fp = fingerprint(path);
        let store = Store::load(path)?;
        let previous = read_last_used(path).into_iter().map(|(k, t)| (k, t.0)).collect();
        Ok(LiveStore {
            path: path.to_path_buf(),
            state: RwLock::new((fp, Arc::new(store))),
            checked: std::sync::atomic::AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            last_used: std::sync::Mutex::new((false, previous)),
        })
    }

    /// Notes that key `id` was just accepted (memory only; see [`LiveStore::flush_last_used`]).
    pub fn touch(&self, id: &str) {
        let mut g = self.last_used.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = true;
        let now = SystemTime::now();
        match g.1.get_mut(id) {
            Some(t) => *t = now,
            None => {
                g.1.insert(id.to_string(), now);
            }
        }
    }

    /// Writes last-used times to the state file if they changed (atomic, 0600: which key was used
    /// when is the relay's business only).
    pub fn flush_last_used(&self) -> std::io::Result<()> {
        let snapshot: std::collections::BTreeMap<String, Timestamp> = {
            let mut g = self.last_used.lock().unwrap_or_else(|p| p.into_inner());
            if !g.0 {
                return Ok(());
            }
            g.0 = false;
            g.1.iter().map(|(k, t)| (k.clone(), Timestamp(*t))).collect()
        };
        let bytes = serde_json::to_vec_pretty(&snapshot).map_err(std::io::Error::other)?;
        crate::private_file::replace(&state_path(&self.path), &bytes)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current store, re-read first if the file changed.
    pub fn current(&self) -> Arc<Store> {
        use std::sync::atomic::Ordering;
        // Nanoseconds since `epoch`, +1 so that 0 always means "never checked".
        let now = self.epoch.elapsed().as_nanos() as u64 + 1;
        let last = self.checked.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < RECHECK_AFTER.as_nanos() as u64 {
            return self.state.read().unwrap_or_else(|p| p.into_inner()).1.clone();
        }
        let fp = fingerprint(&self.path);
        {
            let g = self.state.read().unwrap_or_else(|p| p.into_inner());
            if g.0 == fp {
                self.checked.store(now, Ordering::Relaxed);
                return g.1.clone();
            }
        }
        let mut g = self.state.write().unwrap_or_else(|p| p.into_inner());
        // Marked checked only once the state matches the file, so no request skips the check
        // while a changed file is still being read.
        self.checked.store(now, Ordering::Relaxed);
        if g.0 == fp {
            return g.1.clone();
        }
        match Store::load(&self.path) {
            Ok(s) => {
                tracing::info!(store = %self.path.display(), users = s.users.len(), keys = s.keys.len(), "Key store reloaded.");
                *g = (fp, Arc::new(s));
            }
            Err(e) => {
                // Remember the broken version so the error is logged once, not per request.
                tracing::error!(error = %e, "Key store is invalid; keeping the last good version until it is fixed.");
                g.0 = fp;
            }
        }
        g.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_of_minware_keys() {
        let now = SystemTime::now();
        let mut s = Store::default();
        let alice = s.create_key("alice", Some(Role::Owner), None, now).unwrap();
        let bob = s.create_key("bob", Some(Role::Member), None, now).unwrap();
        let old = s.create_key("alice", None, Some(Duration::from_secs(60)), now).unwrap();
        assert_eq!(s.check(alice.secret.expose(), now).unwrap().user, "alice");
        assert_eq!(s.check(bob.secret.expose(), now).unwrap_err(), AuthFailure::NotOwner);
        assert!(matches!(
            s.check(old.secret.expose(), now + Duration::from_secs(61)),
            Err(AuthFailure::Expired { .. })
        ));
        assert_eq!(s.check("og_nope_nope", now).unwrap_err(), AuthFailure::Unknown);
        // A wrong secret for a real id is unknown, not a hint that the id exists.
        let forged = format!("og_{}_AAAA", alice.id);
        assert_eq!(s.check(&forged, now).unwrap_err(), AuthFailure::Unknown);
        // A role change applies to existing keys at once.
        s.set_role("bob", Role::Owner).unwrap();
        assert!(s.check(bob.secret.expose(), now).is_ok());
        assert!(s.create_key("bob", Some(Role::Member), None, now).is_err());
        s.revoke(&alice.id).unwrap();
        assert!(matches!(s.check(alice.secret.expose(), now), Err(AuthFailure::Revoked { .. })));
        s.remove_user("alice").unwrap();
        assert!(matches!(s.check(old.secret.expose(), now), Err(AuthFailure::UserRemoved { .. })));
    }

    #[test]
    fn saves_atomically_with_0600_and_reloads_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.yaml");
        let mut s = Store::default();
        let k = s.create_key("alice", Some(Role::Owner), None, SystemTime::now()).unwrap();
        s.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(k.secret.expose()), "the secret must never be stored");
        let live = LiveStore::open(&path).unwrap();
        assert!(live.current().check(k.secret.expose(), SystemTime::now()).is_ok());
        s.revoke(&k.id).unwrap();
        s.save(&path).unwrap();
        // One check serves the requests of the next RECHECK_AFTER; after that the change shows.
        std::thread::sleep(RECHECK_AFTER * 2);
        assert!(live.current().check(k.secret.expose(), SystemTime::now()).is_err());
        // A broken file keeps the last good state (the revoked key stays revoked)…
        std::fs::write(&path, "users: [ {").unwrap();
        std::thread::sleep(RECHECK_AFTER * 2);
        let kept = live.current();
        assert_eq!(kept.keys.len(), 1);
        assert!(kept.check(k.secret.expose(), SystemTime::now()).is_err());
        // …after the broken version was read: it is the one remembered (so its error is
        // logged once), not one the check skipped.
        let seen = live.state.read().unwrap().0.clone();
        assert!(seen.is_some() && seen == fingerprint(&path), "the broken file was never read");
    }
}
