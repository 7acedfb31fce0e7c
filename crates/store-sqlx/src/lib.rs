#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod sealer;
mod store;

pub use sealer::{AeadSealer, SealError, SealingKey};
pub use store::{SqlStore, StoreError};
