//! HOTP (RFC 4226): counter-based codes with a bounded look-ahead.
//!
//! The caller stores the next expected counter and replaces it with
//! [`HotpAccepted::next_counter`] atomically after a success. No clock, no allocation.

use crate::mac::KeyedMac;
use crate::{Code, HotpParams, Rejection, Secret};

/// An HOTP credential ready to generate and verify codes.
///
/// ```
/// use twostep_otp::{HotpParams, Hotp, Secret};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let hotp = Hotp::new(&secret, HotpParams::default());
/// assert_eq!(hotp.generate(0).to_string(), "755224");
///
/// // The token was pressed twice without logging in: counter 2 is accepted from counter 0.
/// let accepted = hotp.verify("359152", 0, 3).expect("within look-ahead");
/// assert_eq!((accepted.counter, accepted.next_counter), (2, 3));
/// # Ok::<(), twostep_otp::SecretError>(())
/// ```
pub struct Hotp {
    mac: KeyedMac,
    params: HotpParams,
}

/// An HOTP code that was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HotpAccepted {
    /// The counter the code belongs to.
    pub counter: u64,
    /// The counter to store: `counter + 1` (RFC 4226 §7.2).
    pub next_counter: u64,
}

impl Hotp {
    /// The largest look-ahead [`Hotp::verify`] honours; larger values are clamped to it.
    pub const MAX_LOOK_AHEAD: u8 = 20;

    /// Keys an HOTP credential.
    pub fn new(secret: &Secret, params: HotpParams) -> Self {
        Self {
            mac: KeyedMac::new(secret, params.algorithm),
            params,
        }
    }

    /// The credential's parameters.
    pub fn params(&self) -> &HotpParams {
        &self.params
    }

    /// The code for `counter`.
    pub fn generate(&self, counter: u64) -> Code {
        self.mac.code(counter, self.params.digits)
    }

    /// Verifies typed input against counters `next_counter ..= next_counter + look_ahead`
    /// (look-ahead clamped to [`Hotp::MAX_LOOK_AHEAD`]), computing all of them and accepting the
    /// earliest match, so no more codes are burned than the token has shown.
    ///
    /// # Errors
    /// [`Rejection::Malformed`] before any HMAC, or [`Rejection::Mismatch`]. Codes for counters
    /// below `next_counter` are simply outside the range and count as a mismatch; so is the
    /// last counter, `u64::MAX`, which would otherwise stay valid forever.
    pub fn verify(
        &self,
        input: &str,
        next_counter: u64,
        look_ahead: u8,
    ) -> Result<HotpAccepted, Rejection> {
        let code = Code::parse(input, self.params.digits)?;
        let look_ahead = u64::from(look_ahead.min(Self::MAX_LOOK_AHEAD));
        // The last counter, u64::MAX, is never accepted: its successor could not be stored,
        // and the same code would then verify forever.
        let last = next_counter.saturating_add(look_ahead).min(u64::MAX - 1);
        let scan = self.mac.scan(&code, next_counter..=last, |_| true, true);
        match scan.chosen {
            Some(counter) => Ok(HotpAccepted {
                counter,
                next_counter: counter.saturating_add(1),
            }),
            None => Err(Rejection::Mismatch),
        }
    }
}

impl core::fmt::Debug for Hotp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hotp")
            .field("secret", &"[redacted]")
            .field("params", &self.params)
            .finish()
    }
}
