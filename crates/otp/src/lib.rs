//! # twostep-otp
//!
//! HOTP ([RFC 4226]) and TOTP ([RFC 6238]) that real authenticator apps agree with, for
//! servers that verify codes.
//!
//! - [`Secret`]: generated from a CSPRNG (160 bits), imported from bytes or forgiving base32,
//!   shown grouped for manual entry. Zeroized on drop, `[redacted]` in `Debug`.
//! - [`Totp`] and [`Hotp`]: keyed once, then each verification computes **every** step of the
//!   [`Window`], compares in constant time, accepts the **newest** step later than the last one
//!   accepted, and allocates nothing.
//! - [`KeyUri`]: otpauth:// URIs built the way apps read them and parsed without panics.
//! - `QrImage` (feature `qr`): SVG, PNG, `data:` URI and terminal renderings.
//!
//! This crate is pure: it does no I/O, reads no clock and owns no randomness. Time is an
//! argument (`unix_time`) and the RNG is passed in. It does **not** persist the last accepted
//! step, throttle failures, or seal secrets at rest — those belong to the caller's store
//! (`twostep-enrollment` does all three).
//!
//! ## Example
//!
//! ```
//! use twostep_otp::{KeyUri, Rejection, Secret, Totp, TotpParams};
//!
//! // Enrollment: a new secret, shown as a QR code and as a grouped key.
//! let mut rng = rand::rng();
//! let secret = Secret::generate(&mut rng);
//! let manual_key = secret.to_base32_grouped(); // "ABCD EFGH …"
//! let totp = Totp::new(&secret, TotpParams::default());
//! let uri = KeyUri::totp(secret, Some("DFINERY"), "alice@example.com", TotpParams::default())?;
//! let qr_link = uri.to_uri(); // otpauth://totp/DFINERY:alice@example.com?secret=…
//!
//! // Login: the app shows a code; verify it and store the accepted step.
//! let now = 1_700_000_000;
//! let typed = totp.generate(now)?.to_string();
//! let accepted = totp.verify(&typed, now, None).expect("the right code");
//! assert_eq!(totp.verify(&typed, now + 5, Some(accepted.step)), Err(Rejection::Replayed));
//! # let _ = (manual_key, qr_link);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Security notes
//!
//! - Persist [`Accepted::step`] with a compare-and-set (`UPDATE … WHERE last_step < $1`) so two
//!   concurrent logins with one code cannot both succeed.
//! - Count every [`Rejection`] against a per-account throttle: a 6-digit code with a ±1 window
//!   gives an attacker 3 chances in a million per guess.
//! - Use the default SHA-1/6/30 s unless you know every user's app honours other parameters.
//!
//! [RFC 4226]: https://www.rfc-editor.org/rfc/rfc4226
//! [RFC 6238]: https://www.rfc-editor.org/rfc/rfc6238
#![forbid(unsafe_code)]

mod code;
mod error;
mod hotp;
mod mac;
mod params;
#[cfg(feature = "qr")]
mod qr;
#[cfg(feature = "test-util")]
pub mod reference;
mod secret;
mod totp;
mod uri;
mod verify;

pub use code::{Code, MalformedCode};
#[cfg(feature = "qr")]
pub use error::QrError;
pub use error::{NameField, ParamError, SecretError, UriError};
pub use hotp::{Hotp, HotpAccepted};
pub use params::{Algorithm, Digits, HotpParams, Period, TotpParams, Window};
#[cfg(feature = "qr")]
pub use qr::QrImage;
pub use secret::{
    DEFAULT_SECRET_BITS, MAX_SECRET_BYTES, MIN_LEGACY_SECRET_BITS, MIN_SECRET_BITS, Secret,
    Strength,
};
pub use totp::{Accepted, Totp};
pub use uri::{KeyUri, MAX_URI_LEN, OtpKind, fit_name};
pub use verify::Rejection;
