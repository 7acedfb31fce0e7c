//! TOTP (RFC 6238): codes from the time, and replay-safe verification.
//!
//! [`Totp`] keeps the secret as keyed HMAC state, so building it once per credential and
//! verifying many times costs two SHA compressions per step in the window. Time is always an
//! argument; this module never reads a clock. It does not store the last accepted step
//! either: the caller persists [`Accepted::step`] atomically (compare-and-set) and passes it
//! back on the next verification.

use crate::mac::KeyedMac;
use crate::{Code, ParamError, Rejection, Secret, TotpParams, Window};

/// A TOTP credential ready to generate and verify codes.
///
/// ```
/// use twostep_otp::{Rejection, Secret, Totp, TotpParams};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let totp = Totp::new(&secret, TotpParams::default());
/// let now = 1_111_111_109;
/// let code = totp.generate(now)?;
/// assert_eq!(code.to_string(), "081804");
///
/// let accepted = totp.verify("081 804", now, None).expect("valid code");
/// assert_eq!(accepted.drift, 0);
/// // Store `accepted.step`; the same code is refused from then on.
/// assert_eq!(totp.verify("081804", now, Some(accepted.step)), Err(Rejection::Replayed));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Totp {
    mac: KeyedMac,
    params: TotpParams,
    window: Window,
}

/// A code that was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// The step (RFC 6238 T) the code belongs to. Persist it as the credential's last accepted
    /// step, atomically, before telling the user they are in.
    pub step: u64,
    /// The accepted step minus the current step: negative when the user's clock (or typing)
    /// lags, positive when it runs ahead.
    pub drift: i64,
}

impl Totp {
    /// Keys a TOTP credential with the default window (one step back, one forward).
    pub fn new(secret: &Secret, params: TotpParams) -> Self {
        Self {
            mac: KeyedMac::new(secret, params.algorithm),
            params,
            window: Window::default(),
        }
    }

    /// Uses another verification window.
    #[must_use]
    pub fn with_window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// The credential's parameters.
    pub fn params(&self) -> &TotpParams {
        &self.params
    }

    /// The verification window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// The code for the step containing `unix_time`.
    ///
    /// # Errors
    /// [`ParamError::TimeBeforeT0`] when `unix_time` is earlier than the credential's T0.
    pub fn generate(&self, unix_time: u64) -> Result<Code, ParamError> {
        Ok(self.generate_at_step(self.params.step_at(unix_time)?))
    }

    /// The code for step `step`.
    pub fn generate_at_step(&self, step: u64) -> Code {
        self.mac.code(step, self.params.digits)
    }

    /// Verifies typed input at `unix_time`.
    ///
    /// Every step of the window is computed and compared in constant time; the newest matching
    /// step later than `last_accepted_step` wins, so a code that collides with an already used
    /// earlier step still accepts its own step. No heap allocation.
    ///
    /// # Errors
    /// A [`Rejection`]: malformed input (before any HMAC), a wrong code, a replay, or a time
    /// before T0.
    pub fn verify(
        &self,
        input: &str,
        unix_time: u64,
        last_accepted_step: Option<u64>,
    ) -> Result<Accepted, Rejection> {
        let code = Code::parse(input, self.params.digits)?;
        self.verify_code(&code, unix_time, last_accepted_step)
    }

    /// Verifies an already parsed code; see [`Totp::verify`].
    ///
    /// # Errors
    /// As [`Totp::verify`]; a code with another digit count is a [`Rejection::Mismatch`].
    pub fn verify_code(
        &self,
        code: &Code,
        unix_time: u64,
        last_accepted_step: Option<u64>,
    ) -> Result<Accepted, Rejection> {
        let current = self
            .params
            .step_at(unix_time)
            .map_err(|_| Rejection::TimeBeforeT0)?;
        // The digit count is public; a code of another length can never be this credential's.
        if code.digits() != self.params.digits {
            return Err(Rejection::Mismatch);
        }
        let first = current.saturating_sub(u64::from(self.window.back()));
        let last = current.saturating_add(u64::from(self.window.forward()));
        let is_fresh = |step: u64| last_accepted_step.is_none_or(|used| step > used);
        let scan = self.mac.scan(code, first..=last, is_fresh, false);
        match scan.chosen {
            Some(step) => Ok(Accepted {
                step,
                drift: signed_difference(step, current),
            }),
            None if scan.matched_any => Err(Rejection::Replayed),
            None => Err(Rejection::Mismatch),
        }
    }
}

impl core::fmt::Debug for Totp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Totp")
            .field("secret", &"[redacted]")
            .field("params", &self.params)
            .field("window", &self.window)
            .finish()
    }
}

/// `a − b` as a signed number; both lie within a window of each other, so it never saturates
/// in practice.
fn signed_difference(a: u64, b: u64) -> i64 {
    let magnitude = i64::try_from(a.abs_diff(b)).unwrap_or(i64::MAX);
    if a >= b { magnitude } else { -magnitude }
}
