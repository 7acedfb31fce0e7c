#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

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
