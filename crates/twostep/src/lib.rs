#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The repository's README, whose snippets are compiled and run as doctests.
#[cfg(all(doctest, feature = "qr", feature = "test-util", feature = "store-sqlx"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "otp")]
#[doc(inline)]
pub use twostep_otp as otp;

#[cfg(feature = "recovery")]
#[doc(inline)]
pub use twostep_recovery as recovery;

#[cfg(feature = "enrollment")]
#[doc(inline)]
pub use twostep_enrollment as enrollment;

#[cfg(feature = "policy")]
#[doc(inline)]
pub use twostep_policy as policy;

#[cfg(feature = "sealer")]
#[doc(inline)]
pub use twostep_sealer as sealer;

#[cfg(any(feature = "store-sqlx", feature = "postgres"))]
#[doc(inline)]
pub use twostep_store_sqlx as store_sqlx;

#[cfg(feature = "axum")]
#[doc(inline)]
pub use twostep_axum as axum;
