//! # twostep-recovery
//!
//! Recovery codes — the way back in when the phone with the authenticator app is lost —
//! that people can type, that are stored safely, and that work exactly once.
//!
//! - [`RecoveryCodeSet::generate`] draws N codes (10 by default) of 75 random bits each, in
//!   Crockford base32 with a check symbol: `7k3m-q9x2-…`. It returns the plaintext once, as
//!   [`IssuedCodes`] (clipboard text and a download file in English or Korean), and the
//!   [`RecoveryCodeSet`] to store: Argon2id hashes as PHC strings, nothing in the clear.
//! - [`RecoveryCode::parse`] normalises typed input (case, spaces, dashes, `O`/`0`,
//!   `I`/`L`/`1`) and rejects typos by their check symbol before anything is hashed.
//! - [`RecoveryCodeSet::redeem`] matches an attempt with **one** Argon2id evaluation however
//!   many codes the set holds, compares in constant time, and returns the new set with the
//!   code used — never mutating two codes, never the set it was called on.
//!
//! This crate is pure: no I/O, no clock (time is an argument), no randomness of its own.
//! It does not store sets, throttle attempts or notify users; `twostep-enrollment` does, and
//! its store contract makes consumption atomic.
//!
//! ## Example
//!
//! ```
//! use twostep_recovery::{HashParams, Locale, RecoveryCodeSet};
//!
//! let params = HashParams::default(); // Argon2id, 19 MiB, 2 passes
//! # let params = HashParams::new(8, 1, 1)?; // keep the doctest fast
//! let now = 1_764_288_000;
//! let (issued, set) = RecoveryCodeSet::generate(&mut rand::rng(), 10, &params, now)?;
//!
//! // Show once: the codes, a copy button and a download.
//! let copy = issued.clipboard_text();
//! let file = issued.download_file("DFINERY", "alice@example.com", Locale::En);
//! let stored = serde_json::to_string(&set)?; // hashes only
//!
//! // Later, the phone is lost.
//! let typed = issued.codes()[0].to_string();
//! let redeemed = set.redeem(&typed, now + 86_400)?;
//! assert_eq!((redeemed.remaining, redeemed.low), (9, false));
//! # let _ = (copy, file, stored);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod code;
mod hash;
mod issued;
mod set;

pub use code::{CODE_BITS, CODE_SYMBOLS, ParseError, RANDOM_SYMBOLS, RecoveryCode};
pub use hash::HashParams;
pub use issued::{DownloadFile, IssuedCodes, Locale};
pub use set::{
    ConsumeError, DEFAULT_CODE_COUNT, LOW_REMAINING, MAX_CODE_COUNT, RecoveryCodeSet, RedeemError,
    Redeemed, SetError, Slot,
};
