//! API keys as minware has them: users with roles, keys that carry their user's role, stored
//! as SHA-256 hashes in a file the relay follows while it runs.

pub mod audit;
pub mod secret;
pub mod store;
pub mod usage;

pub use secret::Secret;
pub use store::{AuthFailure, LiveStore, Role, Store, StoreError};
