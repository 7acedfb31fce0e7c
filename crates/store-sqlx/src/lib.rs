#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod store;

/// The sqlx this store is built on, for the pool options and queries an application shares
/// with it (`SqlStore::connect_with`, `SqlStore::pool`) without naming a second version.
pub use sqlx;
pub use store::{SqlStore, StoreError};
/// The sealer lives in `twostep-sealer` (usable without sqlx); re-exported here for the
/// applications that use both.
pub use twostep_sealer::{AeadSealer, SealError, SealingKey};
