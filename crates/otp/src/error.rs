//! The error types of this crate, one per kind of operation.
//!
//! Errors never carry secret material: not the secret, not the code that was typed, not the
//! URI that failed to parse. Expected verification outcomes (wrong code, replay) are not
//! errors of this module but [`Rejection`](crate::Rejection)s.

use thiserror::Error;

/// An invalid OTP parameter.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamError {
    /// Digits outside 6..=8.
    #[error("codes must have 6, 7 or 8 digits, not {0}")]
    Digits(u8),
    /// A period of zero seconds.
    #[error("the period must be at least 1 second")]
    Period,
    /// A window wider than allowed.
    #[error("a verification window may reach at most {max} steps each way")]
    Window {
        /// The largest allowed value of `back` and of `forward`.
        max: u8,
    },
    /// An algorithm other than SHA1, SHA256 or SHA512.
    #[error("the algorithm must be SHA1, SHA256 or SHA512")]
    UnknownAlgorithm,
    /// A Unix time earlier than the credential's T0.
    #[error("the time is before the credential's T0")]
    TimeBeforeT0,
}

/// A secret that cannot be used.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// Fewer bits than the minimum.
    #[error("the secret has {bits} bits; at least {min_bits} are required")]
    TooShort {
        /// Bits in the rejected secret.
        bits: usize,
        /// The minimum that applied.
        min_bits: usize,
    },
    /// More bytes than any real credential uses.
    #[error("the secret is longer than {max_bytes} bytes")]
    TooLong {
        /// The maximum length in bytes.
        max_bytes: usize,
    },
    /// A character outside the base32 alphabet `A–Z 2–7` (spaces, dashes and `=` padding are
    /// ignored; lowercase is accepted).
    #[error("the secret is not valid base32: unexpected character at position {position}")]
    InvalidCharacter {
        /// Zero-based character position in the input.
        position: usize,
    },
    /// A base32 length no encoder produces, or non-zero trailing bits.
    #[error("the secret is not valid base32: it has an impossible length or non-zero padding bits")]
    NonCanonical,
}

/// A Key URI that cannot be built or parsed.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// The URI does not start with `otpauth://`.
    #[error("not an otpauth:// URI")]
    Scheme,
    /// Longer than [`MAX_URI_LEN`](crate::MAX_URI_LEN) bytes.
    #[error("the URI is too long")]
    TooLong,
    /// The type is neither `totp` nor `hotp`.
    #[error("the OTP type must be totp or hotp")]
    Type,
    /// The label is missing, empty, or its percent-encoding is not valid UTF-8.
    #[error("the label must be `issuer:account` or `account`, percent-encoded UTF-8")]
    Label,
    /// An issuer or account name that cannot be represented: empty, containing a colon or a
    /// control character, or with leading or trailing whitespace.
    #[error("the {0} name is empty or contains a colon, a control character or edge whitespace")]
    InvalidName(NameField),
    /// The `issuer` parameter and the label prefix differ.
    #[error("the issuer in the label and the issuer parameter differ")]
    IssuerMismatch,
    /// A required parameter is absent.
    #[error("the `{0}` parameter is missing")]
    MissingParameter(&'static str),
    /// A parameter appears twice.
    #[error("the `{0}` parameter appears more than once")]
    DuplicateParameter(&'static str),
    /// A parameter value that cannot be decoded or is out of range.
    #[error("the `{0}` parameter is invalid")]
    InvalidParameter(&'static str),
    /// The secret is unusable.
    #[error("invalid secret: {0}")]
    Secret(#[from] SecretError),
    /// A TOTP credential with T0 ≠ 0, which the Key URI format cannot express.
    #[error("a Key URI cannot express a T0 other than 0")]
    UnsupportedT0,
    /// An algorithm, digits or period value is out of range.
    #[error("invalid parameter: {0}")]
    Param(#[from] ParamError),
}

/// Which name of a Key URI is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameField {
    /// The issuer (service provider).
    Issuer,
    /// The account name.
    Account,
}

impl core::fmt::Display for NameField {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Issuer => "issuer",
            Self::Account => "account",
        })
    }
}

/// A QR code that cannot be rendered.
#[cfg(feature = "qr")]
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QrError {
    /// The data does not fit in a QR code.
    #[error("the URI is too long for a QR code")]
    TooLong,
    /// The PNG encoder failed.
    #[error("PNG encoding failed")]
    Png(#[source] png::EncodingError),
}
