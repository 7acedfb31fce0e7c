//! Validated OTP parameters: hash algorithm, number of digits, time step, epoch and window.
//!
//! Every parameter type can only hold a valid value: constructors return [`ParamError`] for
//! anything else, and with the `serde` feature a deserialized value goes through the same
//! constructor, so a corrupted stored credential is an error instead of a later panic or a
//! division by zero. This module does no computation of its own.

use core::fmt;
use core::str::FromStr;

use crate::error::ParamError;

/// The HMAC hash function of a credential (RFC 6238 §1.2).
///
/// SHA-1 is the default and the only one every authenticator app honours; SHA-256 and SHA-512
/// are available for apps that read the `algorithm` parameter.
///
/// ```
/// use twostep_otp::Algorithm;
/// assert_eq!("sha256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
/// assert_eq!(Algorithm::Sha512.to_string(), "SHA512");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "UPPERCASE"))]
pub enum Algorithm {
    /// HMAC-SHA-1 (the default).
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in otpauth:// URIs: `SHA1`, `SHA256` or `SHA512`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// The recommended secret length for this hash in bytes: its output size (RFC 6238 §5.1).
    pub const fn recommended_secret_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ParamError;

    /// Parses `SHA1`, `SHA256` or `SHA512`, ignoring ASCII case and one optional dash
    /// (`sha-256`), as real-world URIs spell them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let named = |name: &str| s.eq_ignore_ascii_case(name);
        if named("SHA1") || named("SHA-1") {
            Ok(Self::Sha1)
        } else if named("SHA256") || named("SHA-256") {
            Ok(Self::Sha256)
        } else if named("SHA512") || named("SHA-512") {
            Ok(Self::Sha512)
        } else {
            Err(ParamError::UnknownAlgorithm)
        }
    }
}

/// The number of digits in a code: 6, 7 or 8 (RFC 4226 §5.3).
///
/// ```
/// use twostep_otp::Digits;
/// assert_eq!(Digits::new(8).map(Digits::get), Ok(8));
/// assert!(Digits::new(5).is_err());
/// assert!(Digits::new(9).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u8", into = "u8"))]
pub struct Digits(u8);

impl Digits {
    /// Six digits, the default every authenticator app shows.
    pub const SIX: Self = Self(6);
    /// Eight digits.
    pub const EIGHT: Self = Self(8);
    /// The fewest digits allowed.
    pub const MIN: u8 = 6;
    /// The most digits allowed.
    pub const MAX: u8 = 8;

    /// Validates a digit count.
    ///
    /// # Errors
    /// [`ParamError::Digits`] unless `digits` is 6, 7 or 8.
    pub const fn new(digits: u8) -> Result<Self, ParamError> {
        if digits >= Self::MIN && digits <= Self::MAX {
            Ok(Self(digits))
        } else {
            Err(ParamError::Digits(digits))
        }
    }

    /// The digit count.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl Default for Digits {
    fn default() -> Self {
        Self::SIX
    }
}

impl TryFrom<u8> for Digits {
    type Error = ParamError;
    fn try_from(digits: u8) -> Result<Self, ParamError> {
        Self::new(digits)
    }
}

impl From<Digits> for u8 {
    fn from(digits: Digits) -> u8 {
        digits.0
    }
}

/// The TOTP time step X in seconds; at least 1 (RFC 6238 §4.1).
///
/// NIST SP 800-63B wants the code to change at least every two minutes; [`Period::is_nist_compliant`]
/// tells whether a period does. The default is 30 s.
///
/// ```
/// use twostep_otp::Period;
/// assert_eq!(Period::new(60).map(Period::seconds), Ok(60));
/// assert!(Period::new(0).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u32", into = "u32"))]
pub struct Period(u32);

impl Period {
    /// 30 seconds, the default every authenticator app uses.
    pub const THIRTY_SECONDS: Self = Self(30);

    /// Validates a period.
    ///
    /// # Errors
    /// [`ParamError::Period`] for zero.
    pub const fn new(seconds: u32) -> Result<Self, ParamError> {
        if seconds == 0 {
            Err(ParamError::Period)
        } else {
            Ok(Self(seconds))
        }
    }

    /// The period in seconds (never zero).
    pub const fn seconds(self) -> u32 {
        self.0
    }

    /// Whether codes change at least every 120 s, as NIST SP 800-63B §5.1.4.1 requires.
    pub const fn is_nist_compliant(self) -> bool {
        self.0 <= 120
    }
}

impl Default for Period {
    fn default() -> Self {
        Self::THIRTY_SECONDS
    }
}

impl TryFrom<u32> for Period {
    type Error = ParamError;
    fn try_from(seconds: u32) -> Result<Self, ParamError> {
        Self::new(seconds)
    }
}

impl From<Period> for u32 {
    fn from(period: Period) -> u32 {
        period.0
    }
}

/// How many steps before and after the current one a code may come from.
///
/// The default is one step back and one forward (RFC 6238 §5.2, §6), so a code is good for
/// 60–90 s. [`Window::new`] allows up to two steps each way; wider windows, which multiply the
/// chance of a guess, need [`Window::risky_wide`].
///
/// ```
/// use twostep_otp::Window;
/// let w = Window::new(1, 0)?;
/// assert_eq!((w.back(), w.forward()), (1, 0));
/// assert!(Window::new(3, 0).is_err());
/// # Ok::<(), twostep_otp::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "RawWindow", into = "RawWindow"))]
pub struct Window {
    back: u8,
    forward: u8,
}

impl Window {
    /// The largest `back` or `forward` that [`Window::new`] accepts.
    pub const MAX_RECOMMENDED: u8 = 2;
    /// The largest `back` or `forward` that [`Window::risky_wide`] accepts.
    pub const MAX_RISKY: u8 = 10;
    /// Only the current step: codes live for one period (the strict ASVS 5.0 profile).
    pub const STRICT: Self = Self {
        back: 0,
        forward: 0,
    };

    /// A window of `back` past and `forward` future steps, each at most 2.
    ///
    /// # Errors
    /// [`ParamError::Window`] when either side exceeds [`Window::MAX_RECOMMENDED`].
    pub const fn new(back: u8, forward: u8) -> Result<Self, ParamError> {
        Self::bounded(back, forward, Self::MAX_RECOMMENDED)
    }

    /// A wide window of up to 10 steps each way, for tokens with known bad clocks.
    ///
    /// Every extra step adds one more code an attacker may guess: with ±10 steps, 21 codes are
    /// valid at once. Prefer [`Window::new`].
    ///
    /// # Errors
    /// [`ParamError::Window`] when either side exceeds [`Window::MAX_RISKY`].
    pub const fn risky_wide(back: u8, forward: u8) -> Result<Self, ParamError> {
        Self::bounded(back, forward, Self::MAX_RISKY)
    }

    const fn bounded(back: u8, forward: u8, max: u8) -> Result<Self, ParamError> {
        if back <= max && forward <= max {
            Ok(Self { back, forward })
        } else {
            Err(ParamError::Window { max })
        }
    }

    /// Past steps accepted.
    pub const fn back(self) -> u8 {
        self.back
    }

    /// Future steps accepted.
    pub const fn forward(self) -> u8 {
        self.forward
    }

    /// The number of steps checked on every verification.
    pub const fn len(self) -> u8 {
        // Both sides are at most MAX_RISKY, so this cannot overflow.
        self.back.saturating_add(self.forward).saturating_add(1)
    }

    /// Always false: a window holds at least the current step. Present for API symmetry.
    pub const fn is_empty(self) -> bool {
        false
    }

    /// The longest a code can stay acceptable: `(back + forward + 1) × period` seconds.
    pub const fn max_acceptance_seconds(self, period: Period) -> u64 {
        (self.len() as u64).saturating_mul(period.seconds() as u64)
    }
}

impl Default for Window {
    fn default() -> Self {
        Self {
            back: 1,
            forward: 1,
        }
    }
}

#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct RawWindow {
    back: u8,
    forward: u8,
}

#[cfg(feature = "serde")]
impl TryFrom<RawWindow> for Window {
    type Error = ParamError;
    /// Stored windows are held to [`Window::new`]'s bound: a wide window is a decision made
    /// in code with [`Window::risky_wide`], not a value a stored setting can slip in.
    fn try_from(raw: RawWindow) -> Result<Self, ParamError> {
        Self::new(raw.back, raw.forward)
    }
}

#[cfg(feature = "serde")]
impl From<Window> for RawWindow {
    fn from(w: Window) -> Self {
        Self {
            back: w.back,
            forward: w.forward,
        }
    }
}

/// The parameters of a TOTP credential, fixed when it is provisioned (RFC 6238 §3 R4).
///
/// ```
/// use twostep_otp::{Algorithm, TotpParams};
/// let params = TotpParams::default();
/// assert_eq!(params.algorithm, Algorithm::Sha1);
/// assert_eq!(params.digits.get(), 6);
/// assert_eq!(params.period.seconds(), 30);
/// assert_eq!(params.t0, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TotpParams {
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// Digits per code.
    pub digits: Digits,
    /// The time step.
    pub period: Period,
    /// The Unix time steps count from (RFC 6238 `T0`); almost always 0.
    #[cfg_attr(feature = "serde", serde(default))]
    pub t0: u64,
}

impl TotpParams {
    /// The time step number T for a Unix time: `(unix_time − t0) / period`.
    ///
    /// # Errors
    /// [`ParamError::TimeBeforeT0`] when `unix_time` is earlier than `t0`.
    pub fn step_at(&self, unix_time: u64) -> Result<u64, ParamError> {
        match unix_time.checked_sub(self.t0) {
            // Period is never zero, so the division cannot fail. Until 2106 the elapsed time
            // fits 32 bits, where division is several times cheaper than 64-bit.
            Some(elapsed) => Ok(match u32::try_from(elapsed) {
                Ok(elapsed) => u64::from(elapsed / self.period.seconds()),
                Err(_) => elapsed / u64::from(self.period.seconds()),
            }),
            None => Err(ParamError::TimeBeforeT0),
        }
    }

    /// The Unix time at which step `step` begins, or `None` past `u64::MAX`.
    pub const fn step_start(&self, step: u64) -> Option<u64> {
        match step.checked_mul(self.period.seconds() as u64) {
            Some(offset) => offset.checked_add(self.t0),
            None => None,
        }
    }
}

/// The parameters of an HOTP credential (RFC 4226).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HotpParams {
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// Digits per code.
    pub digits: Digits,
}
