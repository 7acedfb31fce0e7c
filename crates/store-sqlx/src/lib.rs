#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod store;

pub use store::{SqlStore, StoreError};
/// The sealer lives in `twostep-sealer` (usable without sqlx); re-exported here for the
/// applications that use both.
pub use twostep_sealer::{AeadSealer, SealError, SealingKey};
