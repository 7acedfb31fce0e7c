//! # twostep
//!
//! Two-step verification for Rust web applications, the way a mature SaaS console does it:
//! TOTP authenticator apps, recovery codes, an enrollment wizard, a second step at login,
//! re-issue, disable, and organisation-wide mandates.
//!
//! This crate is the front door: it re-exports the workspace's crates, each behind a feature
//! of the same name, so one dependency line brings what an application needs.
//!
//! ## What twostep does, and what it leaves to you
//!
//! twostep owns the security logic: code generation and verification, replay protection,
//! secret handling, otpauth:// URIs and QR codes, recovery codes, the flows — enable, login,
//! re-issue, disable — as state machines, and organisation-wide mandates. It does **not** own
//! your users, sessions, database or mailer: you keep those and wire them in through a few
//! traits. It reads no clock and owns no randomness in its pure crates; you pass `now` and a
//! cryptographic RNG, which keeps every behaviour deterministic under test.
//!
//! ## Getting started
//!
//! ```
//! # #[cfg(feature = "otp")] {
//! use twostep::otp::{KeyUri, Secret, Totp, TotpParams};
//!
//! // 1. Enrollment: generate a secret, show its QR code or grouped key.
//! let secret = Secret::generate(&mut rand::rng());
//! let totp = Totp::new(&secret, TotpParams::default());
//! let uri = KeyUri::totp(secret, Some("DFINERY"), "alice@example.com", TotpParams::default())?;
//! # #[cfg(feature = "qr")]
//! let _svg = uri.to_qr()?.to_svg();
//!
//! // 2. The user types the code their app shows; verify it at the server's time.
//! let now = 1_700_000_000;
//! let typed = totp.generate(now)?.to_string();
//! let accepted = totp.verify(&typed, now, None).expect("the right code");
//!
//! // 3. Persist `accepted.step` atomically; the same code is refused from then on.
//! assert!(totp.verify(&typed, now, Some(accepted.step)).is_err());
//!
//! // 4. Recovery codes for a lost phone: show them once, store only their hashes.
//! # #[cfg(feature = "recovery")] {
//! use twostep::recovery::{HashParams, Locale, RecoveryCodeSet};
//! # let params = HashParams::new(8, 1, 1)?; // the default costs 19 MiB per hash
//! # #[cfg(any())]
//! let params = HashParams::default();
//! let (issued, stored) = RecoveryCodeSet::generate(&mut rand::rng(), 10, &params, now)?;
//! let download = issued.download_file("DFINERY", "alice@example.com", Locale::En);
//! let redeemed = stored.redeem(&issued.codes()[0].to_string(), now + 60)?;
//! assert_eq!(redeemed.remaining, 9);
//! # let _ = download;
//! # }
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | brings |
//! | --- | --- | --- |
//! | `otp` | yes | [`otp`]: HOTP/TOTP, secrets, otpauth:// URIs (`twostep-otp`) |
//! | `recovery` | yes | [`recovery`]: recovery codes, Argon2id-hashed, one-time (`twostep-recovery`) |
//! | `policy` | yes | [`policy`]: organisation-wide 2FA mandates (`twostep-policy`) |
//! | `enrollment` | yes | [`enrollment`]: the enable wizard, login step, re-issue and disable, as sans-IO machines and an async service over your traits (`twostep-enrollment`) |
//! | `store-sqlx` | no | [`store_sqlx`]: the store on SQLite (embedded) via sqlx, and the AEAD sealer for secrets at rest (`twostep-store-sqlx`) |
//! | `postgres` | no | the same store on PostgreSQL, for applications that run many servers |
//! | `test-util` | no | in-memory stores, mailer and clock, and the store conformance suite |
//! | `qr` | no | QR renderings of Key URIs: SVG, PNG, `data:` URI, terminal |
//! | `serde` | no | `Serialize`/`Deserialize` for parameters, validated on the way in |
//!
//! ## Security considerations
//!
//! - **Replay**: a TOTP code is valid for up to 90 s with the default window. Store the
//!   accepted step with a compare-and-set so it is accepted exactly once, even under
//!   concurrent requests.
//! - **Throttling**: a 6-digit code is guessable without a limit on attempts. Count every
//!   rejection per account (5 per 15 minutes is the recommended default) across sessions.
//! - **Recovery codes** are as good as a second factor: hash them (the stored set holds only
//!   Argon2id hashes), show them once, count failed attempts in the same throttle as TOTP, and
//!   write a redeemed set with a compare-and-set so one code cannot be used twice at once.
//! - **Secrets**: they zeroize on drop and never print in `Debug`; keep them sealed at rest
//!   (`store_sqlx::AeadSealer`, with keys outside the database) and never show a secret again
//!   once enrollment is confirmed.
//! - **Time**: verify against the server's clock, never a time the client sends.
#![forbid(unsafe_code)]

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

#[cfg(feature = "store-sqlx")]
#[doc(inline)]
pub use twostep_store_sqlx as store_sqlx;
