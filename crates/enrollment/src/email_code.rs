//! The email code of the enable wizard's first step: a short code mailed to
//! the login address, single use, hashed at rest, short-lived, with a few attempts and a
//! resend cooldown.
//!
//! The challenge keeps only `SHA-256(salt ‖ code)`; the plaintext exists in the mail effect
//! and nowhere else. A six-digit code is weak against an offline search, which is why the
//! state holding it leaves the service only sealed, and why the challenge dies after 10
//! minutes or 5 wrong attempts. Copies of a state each carry their own count of attempts:
//! what bounds the guesses across copies is the account's shared failure budget, which every
//! check draws on.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::policies::Policies;

/// Digits of an email code.
pub(crate) const EMAIL_CODE_DIGITS: usize = 6;

/// A plaintext email code, for the mail body only. Zeroized on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailCode(Zeroizing<String>);

impl EmailCode {
    /// The digits, to put in the mail.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Debug for EmailCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EmailCode([redacted])")
    }
}

/// Why an email code was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailCodeError {
    /// The code is wrong; `attempts_left` more may be tried.
    #[error("the email code is wrong ({attempts_left} attempts left)")]
    Wrong {
        /// Attempts left for this code.
        attempts_left: u8,
    },
    /// The code expired, was used, or ran out of attempts: send a new one.
    #[error("the email code has expired; request a new one")]
    Expired,
    /// A new code may be sent only after the given Unix time.
    #[error("a new code was sent a moment ago; wait before asking for another")]
    ResendTooSoon(u64),
}

/// The server-side record of a sent email code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EmailChallenge {
    salt: [u8; 16],
    hash: [u8; 32],
    sent_at: u64,
    expires_at: u64,
    attempts_left: u8,
}

impl EmailChallenge {
    /// A new code and its challenge.
    pub(crate) fn issue<R: CryptoRng + ?Sized>(
        rng: &mut R,
        policy: &Policies,
        now: u64,
    ) -> (EmailCode, Self) {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        // Rejection sampling keeps the six digits uniform.
        let value = loop {
            let candidate = rng.next_u32();
            if candidate < u32::MAX - u32::MAX % 1_000_000 {
                break candidate % 1_000_000;
            }
        };
        let code = EmailCode(Zeroizing::new(format!("{value:06}")));
        let challenge = Self {
            hash: digest(&salt, code.expose().as_bytes()),
            salt,
            sent_at: now,
            expires_at: now.saturating_add(policy.email_code_ttl_seconds),
            attempts_left: policy.email_code_attempts,
        };
        (code, challenge)
    }

    /// Whether a new code may replace this one at `now`.
    ///
    /// # Errors
    /// [`EmailCodeError::ResendTooSoon`] inside the cooldown.
    pub(crate) fn check_resend(&self, policy: &Policies, now: u64) -> Result<(), EmailCodeError> {
        let allowed_at = self
            .sent_at
            .saturating_add(policy.email_code_cooldown_seconds);
        if now < allowed_at {
            Err(EmailCodeError::ResendTooSoon(allowed_at))
        } else {
            Ok(())
        }
    }

    /// Checks typed input (spaces and dashes ignored) in constant time. On a wrong code the
    /// challenge loses an attempt; the caller keeps the returned challenge.
    ///
    /// # Errors
    /// [`EmailCodeError::Expired`] after the lifetime or the last attempt, or
    /// [`EmailCodeError::Wrong`].
    pub(crate) fn verify(&self, input: &str, now: u64) -> Result<(), (Self, EmailCodeError)> {
        if now >= self.expires_at || self.attempts_left == 0 {
            return Err((self.clone(), EmailCodeError::Expired));
        }
        let mut typed: Zeroizing<Vec<u8>> = Zeroizing::new(
            input
                .bytes()
                .filter(|b| *b != b' ' && *b != b'-')
                .take(64)
                .collect(),
        );
        let well_formed = typed.len() == EMAIL_CODE_DIGITS && typed.iter().all(u8::is_ascii_digit);
        let mut hash = digest(&self.salt, &typed);
        typed.zeroize();
        let matches = well_formed && bool::from(hash.ct_eq(&self.hash));
        hash.zeroize();
        if matches {
            return Ok(());
        }
        let attempts_left = self.attempts_left.saturating_sub(1);
        let next = Self {
            attempts_left,
            ..self.clone()
        };
        let error = if attempts_left == 0 {
            EmailCodeError::Expired
        } else {
            EmailCodeError::Wrong { attempts_left }
        };
        Err((next, error))
    }

    /// When the code expires (Unix time).
    pub(crate) fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Attempts left.
    pub(crate) fn attempts_left(&self) -> u8 {
        self.attempts_left
    }
}

impl core::fmt::Debug for EmailChallenge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EmailChallenge")
            .field("sent_at", &self.sent_at)
            .field("expires_at", &self.expires_at)
            .field("attempts_left", &self.attempts_left)
            .finish_non_exhaustive()
    }
}

fn digest(salt: &[u8; 16], code: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(code);
    hasher.finalize().into()
}
