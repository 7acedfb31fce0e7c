//! One-time codes: parsing what a person typed, and displaying what was generated.
//!
//! A [`Code`] holds the numeric value and its digit count. It has no `PartialEq`: codes are
//! compared only through [`subtle::ConstantTimeEq`]. Its `Debug` is redacted so a code does
//! not end up in logs by accident; `Display` prints it zero-padded, for showing to the user.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Digits;

/// Inputs longer than this are rejected without being read to the end.
const MAX_INPUT_LEN: usize = 64;

/// Why a typed code was rejected before any HMAC was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedCode {
    /// No digits at all.
    #[error("no code was entered")]
    Empty,
    /// A character other than an ASCII digit, a space or a dash.
    #[error("the code may contain only digits, spaces and dashes")]
    InvalidCharacter,
    /// Too few or too many digits.
    #[error("the code must have exactly {expected} digits")]
    WrongLength {
        /// The digit count the credential uses.
        expected: u8,
    },
}

/// A one-time code of 6–8 digits.
///
/// ```
/// use twostep_otp::{Code, Digits};
/// let code = Code::parse(" 123-456 ", Digits::SIX)?;
/// assert_eq!(code.to_string(), "123456");
/// assert_eq!(format!("{code:?}"), "Code([redacted])");
/// assert!(Code::parse("12345", Digits::SIX).is_err());
/// assert!(Code::parse("１２３４５６", Digits::SIX).is_err()); // full-width digits
/// # Ok::<(), twostep_otp::MalformedCode>(())
/// ```
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Code {
    value: u32,
    #[zeroize(skip)]
    digits: Digits,
}

impl Code {
    /// Parses typed input: spaces and dashes are dropped, and what remains must be exactly
    /// `digits` ASCII digits. No allocation; at most 64 bytes of input are read.
    ///
    /// # Errors
    /// [`MalformedCode`] saying what is wrong with the input.
    pub fn parse(input: &str, digits: Digits) -> Result<Self, MalformedCode> {
        if input.len() > MAX_INPUT_LEN {
            return Err(MalformedCode::WrongLength {
                expected: digits.get(),
            });
        }
        let mut value: u32 = 0;
        let mut count: u8 = 0;
        for byte in input.bytes() {
            match byte {
                b' ' | b'-' => {}
                b'0'..=b'9' => {
                    count = count.saturating_add(1);
                    if count > digits.get() {
                        return Err(MalformedCode::WrongLength {
                            expected: digits.get(),
                        });
                    }
                    // At most 8 digits, so the value stays below 10^8 < u32::MAX and never
                    // wraps. (Saturating arithmetic compiled to a checked multiply per digit,
                    // on the critical path of every verification; this is two `lea`s.)
                    value = value
                        .wrapping_mul(10)
                        .wrapping_add(u32::from(byte.wrapping_sub(b'0')));
                }
                _ => return Err(MalformedCode::InvalidCharacter),
            }
        }
        match count {
            0 => Err(MalformedCode::Empty),
            n if n == digits.get() => Ok(Self { value, digits }),
            _ => Err(MalformedCode::WrongLength {
                expected: digits.get(),
            }),
        }
    }

    /// A code from a truncated HMAC value (RFC 4226 §5.3 step 3).
    pub(crate) fn from_truncated(truncated: u32, digits: Digits) -> Self {
        let value = reduce(truncated, digits);
        Self { value, digits }
    }

    /// Compares this code with the code a truncated HMAC value gives, in constant time,
    /// without materialising the other code.
    pub(crate) fn ct_eq_truncated(&self, truncated: u32) -> subtle::Choice {
        reduce(truncated, self.digits).ct_eq(&self.value)
    }

    /// The digit count.
    pub fn digits(&self) -> Digits {
        self.digits
    }
}

/// `truncated mod 10^digits`, one arm per digit count so each remainder is by a constant (a
/// multiply, not a division).
fn reduce(truncated: u32, digits: Digits) -> u32 {
    match digits.get() {
        6 => truncated % 1_000_000,
        7 => truncated % 10_000_000,
        _ => truncated % 100_000_000,
    }
}

impl ConstantTimeEq for Code {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.value.ct_eq(&other.value) & self.digits.get().ct_eq(&other.digits.get())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:0width$}",
            self.value,
            width = usize::from(self.digits.get())
        )
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code([redacted])")
    }
}
