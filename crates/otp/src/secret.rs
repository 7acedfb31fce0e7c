//! The shared secret of a credential: generation, import, base32 and redaction.
//!
//! A [`Secret`] zeroizes its bytes on drop, prints `[redacted]` in `Debug`, compares in
//! constant time and is not `Clone`. Its base32 forms are returned in [`Zeroizing`] strings so
//! the copy handed to a template or a QR renderer is wiped too. This module does not store or
//! encrypt secrets: sealing them at rest is the application's store's job.

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::Algorithm;
use crate::error::SecretError;

/// The bits [`Secret::generate`] draws: 160, as RFC 4226 §4 recommends.
pub const DEFAULT_SECRET_BITS: usize = 160;
/// The fewest bits [`Secret::from_bytes`] and [`Secret::from_base32`] accept (RFC 4226 §4 R6).
pub const MIN_SECRET_BITS: usize = 128;
/// The fewest bits [`Secret::from_base32_legacy`] accepts, for secrets issued by older systems.
pub const MIN_LEGACY_SECRET_BITS: usize = 80;
/// The longest secret accepted, in bytes: 512 bits, the SHA-512 seed of RFC 6238. Longer keys
/// add no strength (HMAC would hash them down) and would only let hostile input cost more.
pub const MAX_SECRET_BYTES: usize = 64;

/// The longest base32 text [`Secret::from_base32`] reads.
const MAX_BASE32_INPUT: usize = 512;

/// How strong a secret is, judged by its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Strength {
    /// 80 to 127 bits: below RFC 4226's minimum; accepted only through
    /// [`Secret::from_base32_legacy`]. Re-enroll such users when you can.
    BelowMinimum,
    /// 128 to 159 bits: meets RFC 4226's minimum.
    Minimum,
    /// 160 bits or more: what RFC 4226 recommends.
    Recommended,
}

/// A TOTP/HOTP shared secret.
///
/// ```
/// use twostep_otp::{Secret, Strength};
///
/// let secret = Secret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq")?;
/// assert_eq!(secret.expose_bytes(), b"12345678901234567890");
/// assert_eq!(secret.strength(), Strength::Recommended);
/// assert_eq!(*secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
/// assert_eq!(*secret.to_base32_grouped(), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
/// assert_eq!(format!("{secret:?}"), "Secret([redacted])");
/// # Ok::<(), twostep_otp::SecretError>(())
/// ```
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// Draws a new 160-bit secret from a cryptographic RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::generate_len(DEFAULT_SECRET_BITS / 8, rng)
    }

    /// Draws a new secret as long as `algorithm`'s output (20, 32 or 64 bytes), as RFC 6238
    /// §5.1 recommends.
    pub fn generate_for<R: CryptoRng + ?Sized>(algorithm: Algorithm, rng: &mut R) -> Self {
        Self::generate_len(algorithm.recommended_secret_len(), rng)
    }

    fn generate_len<R: CryptoRng + ?Sized>(len: usize, rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        rng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Takes raw key bytes of at least 128 bits.
    ///
    /// # Errors
    /// [`SecretError::TooShort`] below 16 bytes, [`SecretError::TooLong`] above
    /// [`MAX_SECRET_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        check_len(bytes.len(), MIN_SECRET_BITS)?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// Decodes a base32 secret of at least 128 bits, as typed or pasted by a person.
    ///
    /// Spaces and dashes are ignored, lowercase is accepted, and trailing `=` padding is
    /// optional. Characters outside the RFC 4648 alphabet, impossible lengths and non-zero
    /// trailing bits are rejected.
    ///
    /// # Errors
    /// [`SecretError::InvalidCharacter`], [`SecretError::NonCanonical`],
    /// [`SecretError::TooShort`] or [`SecretError::TooLong`].
    pub fn from_base32(input: &str) -> Result<Self, SecretError> {
        Self::decode_base32(input, MIN_SECRET_BITS)
    }

    /// Like [`Secret::from_base32`] but accepts secrets from 80 bits, for importing credentials
    /// that older systems issued (`JBSWY3DPEHPK3PXP` is 80 bits). Check
    /// [`Secret::strength`] and re-enroll the user when it is [`Strength::BelowMinimum`].
    ///
    /// # Errors
    /// As [`Secret::from_base32`], with an 80-bit minimum.
    pub fn from_base32_legacy(input: &str) -> Result<Self, SecretError> {
        Self::decode_base32(input, MIN_LEGACY_SECRET_BITS)
    }

    fn decode_base32(input: &str, min_bits: usize) -> Result<Self, SecretError> {
        // Generous for a 64-byte key with spaces and padding; anything longer is refused before
        // any work or allocation proportional to it.
        if input.len() > MAX_BASE32_INPUT {
            return Err(SecretError::TooLong {
                max_bytes: MAX_SECRET_BYTES,
            });
        }
        let mut clean = Zeroizing::new(String::with_capacity(input.len()));
        let mut padding_started = false;
        for (position, ch) in input.chars().enumerate() {
            match ch {
                ' ' | '-' | '\t' => {}
                '=' => padding_started = true,
                'A'..='Z' | '2'..='7' if !padding_started => clean.push(ch),
                'a'..='z' if !padding_started => clean.push(ch.to_ascii_uppercase()),
                _ => return Err(SecretError::InvalidCharacter { position }),
            }
            // Reject hostile input early instead of decoding megabytes.
            if clean.len() > MAX_SECRET_BYTES.saturating_mul(8).div_ceil(5) {
                return Err(SecretError::TooLong {
                    max_bytes: MAX_SECRET_BYTES,
                });
            }
        }
        // Lengths 1, 3 and 6 (mod 8) are never produced by an encoder (RFC 4648 §6).
        if matches!(clean.len() % 8, 1 | 3 | 6) {
            return Err(SecretError::NonCanonical);
        }
        let alphabet = base32::Alphabet::Rfc4648 { padding: false };
        let bytes =
            Zeroizing::new(base32::decode(alphabet, &clean).ok_or(SecretError::NonCanonical)?);
        // Non-zero pad bits would let two spellings stand for one key; re-encoding detects them.
        let canonical = Zeroizing::new(base32::encode(alphabet, &bytes));
        if *canonical != *clean {
            return Err(SecretError::NonCanonical);
        }
        check_len(bytes.len(), min_bits)?;
        Ok(Self { bytes })
    }

    /// The key bytes, for sealing at rest. Keep the borrow short.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The length in bits.
    pub fn bits(&self) -> usize {
        self.bytes.len().saturating_mul(8)
    }

    /// How strong the secret is.
    pub fn strength(&self) -> Strength {
        match self.bits() {
            bits if bits >= DEFAULT_SECRET_BITS => Strength::Recommended,
            bits if bits >= MIN_SECRET_BITS => Strength::Minimum,
            _ => Strength::BelowMinimum,
        }
    }

    /// The unpadded RFC 4648 base32 form used in otpauth:// URIs.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32::encode(
            base32::Alphabet::Rfc4648 { padding: false },
            &self.bytes,
        ))
    }

    /// The base32 form in groups of four for typing by hand: `GEZD GNBV GY3T …`.
    pub fn to_base32_grouped(&self) -> Zeroizing<String> {
        let plain = self.to_base32();
        let mut grouped = Zeroizing::new(String::with_capacity(plain.len().saturating_mul(5) / 4));
        for (i, ch) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                grouped.push(' ');
            }
            grouped.push(ch);
        }
        grouped
    }
}

fn check_len(len: usize, min_bits: usize) -> Result<(), SecretError> {
    let bits = len.saturating_mul(8);
    if bits < min_bits {
        Err(SecretError::TooShort { bits, min_bits })
    } else if len > MAX_SECRET_BYTES {
        Err(SecretError::TooLong {
            max_bytes: MAX_SECRET_BYTES,
        })
    } else {
        Ok(())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl ConstantTimeEq for Secret {
    /// Constant time in the contents; the lengths, which are not secret, are compared first.
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.bytes.as_slice().ct_eq(other.bytes.as_slice())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret {}
