//! SQLite and PostgreSQL stores for `twostep`, on [`sqlx`].
//!
//! [`SqlStore`] implements [`twostep_enrollment::Store`] — credentials, failure counters and
//! organisation policies — over one [`sqlx::AnyPool`], so one type serves both databases and
//! the URL picks: `sqlite://twostep.db` for an application that is one process (the
//! embedded default, feature `sqlite`), `postgres://…` for one that runs many servers
//! (feature `postgres`). [`AeadSealer`] seals TOTP secrets with XChaCha20-Poly1305 before
//! they are written, under a key id so keys can rotate ([`SqlStore::rotate_secrets`]).
//!
//! ```no_run
//! use twostep_store_sqlx::{AeadSealer, SealingKey, SqlStore};
//!
//! # async fn wire() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqlStore::connect("sqlite://twostep.db").await?; // created if missing
//! store.migrate().await?;
//! let key = std::env::var("TWOSTEP_SEALING_KEY")?;
//! let sealer = AeadSealer::new(SealingKey::from_base64("2026-11", &key)?);
//! // … hand `store` and `sealer` to `twostep_enrollment::Service::builder`.
//! # Ok(()) }
//! ```
//!
//! # Atomicity
//!
//! One row per user holds the credential (all `NULL` while two-step verification is off)
//! and the failure counters, so every one-time operation is **one conditional statement**,
//! atomic in the database and therefore across processes, with no transaction held open
//! between round trips:
//!
//! | operation | statement |
//! | --- | --- |
//! | create a credential | `INSERT … ON CONFLICT DO UPDATE … WHERE secret IS NULL AND revision = $read` |
//! | accept a TOTP step and settle the counters | `UPDATE … WHERE last_step < $step AND counters = $read` |
//! | replace (consume from) the recovery codes | `UPDATE … WHERE revision = $read` |
//! | remove a credential | `UPDATE … SET … = NULL WHERE revision = $read` |
//! | record a completed login challenge or email code | `INSERT … ON CONFLICT DO NOTHING` |
//! | counters, org policies | compare-and-set `UPDATE`, or `INSERT … ON CONFLICT` from nothing |
//!
//! Every credential write also sets `revision = revision + 1`: a flow's completing write,
//! conditional on the revision the flow began at, then happens once.
//!
//! Under PostgreSQL's default isolation a conditional `UPDATE` that waited for a concurrent
//! one re-evaluates its `WHERE` against the row that one committed, so of N racing writers
//! exactly one matches; SQLite runs one writer at a time. A login with a TOTP code costs two
//! round trips — read the row, one conditional `UPDATE` — the least any correct
//! implementation pays.
//!
//! # What is stored
//!
//! The TOTP secret only sealed (key id + nonce + ciphertext + tag), recovery codes only as
//! Argon2id hashes, parameters and sets as JSON. A dump of the tables holds neither a secret
//! nor a recovery code (the tests scan for both).
//!
//! # What it does not do
//!
//! Keep sealing keys (load them from your secret manager), manage users or sessions (your
//! tables), or hold pending enrollment state (it lives in your session as a
//! [`twostep_enrollment::snapshot`]).
#![forbid(unsafe_code)]

mod sealer;
mod store;

pub use sealer::{AeadSealer, SealError, SealingKey};
pub use store::{SqlStore, StoreError};
