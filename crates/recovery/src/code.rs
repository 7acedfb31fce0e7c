//! The shape of a recovery code: alphabet, check character, formatting and normalisation.
//!
//! A code is 15 random symbols and one check symbol from Crockford's base32 alphabet
//! (`0-9 a-z` without `i l o u`), shown as four groups of four: `7k3m-q9x2-…`. Fifteen
//! symbols carry 75 bits — above the 64 bits NIST SP 800-63B rev. 4 asks of saved recovery
//! codes, and short enough to type from paper in four groups; the 16th symbol is the check.
//!
//! The check symbol makes `s₁ · a¹⁵ + … + s₁₅ · a + c = 0` in GF(32) for a fixed `a ∉ {0, 1}`
//! (Damm's construction over a field). Changing one symbol changes the sum by `e · aᵏ ≠ 0`;
//! swapping two adjacent different symbols changes it by `(x − y) · aᵏ · (a − 1) ≠ 0`; so
//! every single substitution and every adjacent transposition is caught before any hash is
//! computed, and a typo is reported as "not a valid code" without costing a login attempt.
//!
//! This module does no hashing and no storage; see [`crate::RecoveryCodeSet`].

use core::fmt;

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Crockford's base32 alphabet, in value order.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Random symbols per code.
pub const RANDOM_SYMBOLS: usize = 15;
/// Symbols per code, the check symbol included.
pub const CODE_SYMBOLS: usize = RANDOM_SYMBOLS + 1;
/// Bits of entropy per code: 15 symbols × 5 bits.
pub const CODE_BITS: usize = RANDOM_SYMBOLS * 5;
// NIST SP 800-63B rev. 4: saved recovery codes carry at least 64 bits.
const _: () = assert!(CODE_BITS >= 64);
/// Symbols per group in the displayed form.
const GROUP: usize = 4;
/// Inputs longer than this are rejected without being read to the end.
const MAX_INPUT_LEN: usize = 128;

/// Why typed input is not a recovery code. Nothing was hashed and no attempt was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but spaces and dashes.
    #[error("no recovery code was entered")]
    Empty,
    /// A character that is not a letter, digit, space or dash of the code alphabet.
    #[error(
        "a recovery code contains only letters, digits, spaces and dashes (character {position})"
    )]
    InvalidCharacter {
        /// Zero-based character position in the input.
        position: usize,
    },
    /// Too few or too many symbols.
    #[error("a recovery code has {expected} letters and digits, not {found}")]
    WrongLength {
        /// The symbols a code has.
        expected: usize,
        /// The symbols the input had (capped at the input limit).
        found: usize,
    },
    /// The check symbol does not match: a typo, or not a recovery code at all.
    #[error("this is not a valid recovery code; check it for typos")]
    CheckFailed,
}

/// A recovery code in its canonical form: 16 lowercase symbols, check symbol verified.
///
/// Holds the plaintext: zeroized on drop, `[redacted]` in `Debug`. `Display` shows the
/// grouped form (`xxxx-xxxx-xxxx-xxxx`) for the one time the user is shown their codes.
///
/// ```
/// use twostep_recovery::{ParseError, RecoveryCode};
///
/// // Case, spaces, dashes and look-alikes (O for 0, I or L for 1) do not matter.
/// let code = RecoveryCode::parse("O8N4 VEX2-6CK5-ZEVQ")?;
/// assert_eq!(code.to_string(), "08n4-vex2-6ck5-zevq");
/// assert_eq!(format!("{code:?}"), "RecoveryCode([redacted])");
/// // A typo is caught by the check symbol, before anything is hashed.
/// assert_eq!(RecoveryCode::parse("08n4-vex2-6ck5-zevr").err(), Some(ParseError::CheckFailed));
/// # Ok::<(), ParseError>(())
/// ```
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode {
    symbols: [u8; CODE_SYMBOLS],
}

impl RecoveryCode {
    /// Draws a new code: 75 random bits and the check symbol.
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut random = [0u8; 10]; // 80 bits, of which 75 are used
        rng.fill_bytes(&mut random);
        let bits = random
            .iter()
            .fold(0u128, |acc, byte| (acc << 8) | u128::from(*byte));
        random.zeroize();
        let mut values = [0u8; CODE_SYMBOLS];
        for (i, value) in values.iter_mut().take(RANDOM_SYMBOLS).enumerate() {
            *value = low_five_bits(bits >> (5 * i));
        }
        let check = check_value(values.get(..RANDOM_SYMBOLS).unwrap_or_default());
        if let Some(slot) = values.last_mut() {
            *slot = check;
        }
        let code = Self::from_values(&values);
        values.zeroize();
        code
    }

    fn from_values(values: &[u8; CODE_SYMBOLS]) -> Self {
        let mut symbols = [0u8; CODE_SYMBOLS];
        for (symbol, value) in symbols.iter_mut().zip(values) {
            *symbol = ALPHABET.get(usize::from(*value)).copied().unwrap_or(b'0');
        }
        Self { symbols }
    }

    /// Normalises typed input and checks its check symbol.
    ///
    /// Case is ignored; spaces, tabs and dashes are dropped; the look-alikes `O` → `0` and
    /// `I`, `L` → `1` are folded. Anything else is an error, and so is a check-symbol
    /// mismatch — all before any hash is computed.
    ///
    /// # Errors
    /// A [`ParseError`] saying what is wrong.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let mut values = [0u8; CODE_SYMBOLS];
        let mut found = 0usize;
        for (position, ch) in input.chars().enumerate() {
            if position >= MAX_INPUT_LEN {
                return Err(ParseError::WrongLength {
                    expected: CODE_SYMBOLS,
                    found,
                });
            }
            if matches!(ch, ' ' | '-' | '\t') {
                continue;
            }
            let value = symbol_value(ch).ok_or(ParseError::InvalidCharacter { position })?;
            if let Some(slot) = values.get_mut(found) {
                *slot = value;
            }
            found = found.saturating_add(1);
        }
        let result = match found {
            0 => Err(ParseError::Empty),
            CODE_SYMBOLS if remainder(&values) == 0 => Ok(Self::from_values(&values)),
            CODE_SYMBOLS => Err(ParseError::CheckFailed),
            _ => Err(ParseError::WrongLength {
                expected: CODE_SYMBOLS,
                found,
            }),
        };
        values.zeroize();
        result
    }

    /// The canonical bytes that are hashed: 16 lowercase ASCII symbols, no separators.
    pub(crate) fn canonical(&self) -> &[u8; CODE_SYMBOLS] {
        &self.symbols
    }
}

impl fmt::Display for RecoveryCode {
    /// The grouped form, `xxxx-xxxx-xxxx-xxxx`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.symbols.chunks(GROUP).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            for symbol in group {
                fmt::Write::write_char(f, char::from(*symbol))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

/// The value of a typed character, folding case and look-alikes.
fn symbol_value(ch: char) -> Option<u8> {
    let folded = match ch.to_ascii_lowercase() {
        'o' => '0',
        'i' | 'l' => '1',
        other => other,
    };
    let byte = u8::try_from(folded).ok()?;
    ALPHABET
        .iter()
        .position(|symbol| *symbol == byte)
        .and_then(|value| u8::try_from(value).ok())
}

fn low_five_bits(bits: u128) -> u8 {
    u8::try_from(bits & 0x1f).unwrap_or(0)
}

/// Multiplication by `a = x` in GF(2⁵) = GF(2)[x] / (x⁵ + x² + 1).
fn times_a(value: u8) -> u8 {
    let shifted = value << 1;
    if shifted & 0x20 != 0 {
        shifted ^ 0x25
    } else {
        shifted
    }
}

/// Horner's rule: `Σ sᵢ · a^(n−i)`, with addition in GF(2⁵) being XOR.
fn remainder(values: &[u8]) -> u8 {
    values.iter().fold(0, |acc, value| times_a(acc) ^ value)
}

/// The check value `c` with `remainder(values ‖ c) = a · remainder(values) + c = 0`.
fn check_value(values: &[u8]) -> u8 {
    times_a(remainder(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_multiplier_is_a_permutation_other_than_identity() {
        let mut seen = [false; 32];
        for v in 0..32u8 {
            seen[usize::from(times_a(v))] = true;
        }
        assert!(
            seen.iter().all(|s| *s),
            "multiplication by a ≠ 0 is a bijection"
        );
        assert_ne!(
            times_a(1),
            1,
            "a ≠ 1, so adjacent transpositions are caught"
        );
    }
}
