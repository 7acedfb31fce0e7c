//! Disabling two-step verification as a sans-IO machine: password re-entry,
//! then an authenticator code **or** a recovery code.
//!
//! The step is bound to the credential the password was checked for (a fingerprint of its
//! secret), not to the account's revision: the user's other sessions may sign in meanwhile.
//! On success the caller removes the secret, the recovery codes and the replay state in one
//! atomic write, conditional on the revision it read with the code: a sign-in with the same
//! code moves the revision on, the code is then checked again and found used, so a code
//! cannot both disable and sign in.

use rand_core::CryptoRng;

use crate::enable::Account;

use crate::login::{Answer, LoginChallenge, LoginError, StoredFactor};
use crate::policies::Policies;
use crate::throttle::{Locked, PasswordRefused, Throttle};

/// Why disabling did not go through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisableError {
    /// The password was wrong.
    #[error("the password is wrong")]
    WrongPassword,
    /// Too many failed attempts.
    #[error(transparent)]
    Locked(#[from] Locked),
    /// The code was not accepted.
    #[error(transparent)]
    Code(#[from] LoginError),
}

impl From<PasswordRefused> for DisableError {
    fn from(refused: PasswordRefused) -> Self {
        match refused {
            PasswordRefused::Locked(locked) => Self::Locked(locked),
            PasswordRefused::Wrong => Self::WrongPassword,
        }
    }
}

/// The password was re-entered correctly; now a code is needed. It holds no secret. Keep it
/// in the session ([`Service::seal`](crate::Service::seal)).
#[derive(Clone, Debug)]
pub struct ConfirmWithCode {
    challenge: LoginChallenge,
}

/// First screen: the application checked the password again. `credential` is the
/// [`fingerprint`](crate::login::fingerprint) of the credential to disable: nothing else is
/// removed.
///
/// # Errors
/// [`DisableError::Locked`], or [`DisableError::WrongPassword`] (counted as a failure); with
/// the counters to store.
pub(crate) fn start<R: CryptoRng + ?Sized>(
    account: &Account,
    credential: [u8; 16],
    password_verified: bool,
    throttle: Throttle,
    rng: &mut R,
    policy: &Policies,
    now: u64,
) -> Result<(ConfirmWithCode, Throttle), (DisableError, Throttle)> {
    throttle
        .check_password(password_verified, &policy.throttle, now)
        .map_err(|(refused, after)| (refused.into(), after))?;
    let challenge = crate::login::begin(account, Some(credential), rng, policy, now);
    match challenge {
        // A right password is not a second factor: the consecutive count stays.
        Some(challenge) => Ok((ConfirmWithCode { challenge }, throttle)),
        None => Err((DisableError::WrongPassword, throttle)),
    }
}

impl ConfirmWithCode {
    pub(crate) fn from_challenge(challenge: LoginChallenge) -> Self {
        Self { challenge }
    }

    pub(crate) fn challenge(&self) -> &LoginChallenge {
        &self.challenge
    }

    /// The user disabling.
    pub fn user_id(&self) -> &str {
        self.challenge.user_id()
    }

    /// When this step expires (Unix time).
    pub fn expires_at(&self) -> u64 {
        self.challenge.expires_at()
    }

    /// Second screen: an authenticator code or a recovery code, checked exactly as at login.
    /// Counts like a login's answer; the counters to store come back with a refusal.
    pub(crate) fn confirm(
        &self,
        session_user: &str,
        answer: Answer<'_>,
        factor: StoredFactor<'_>,
        throttle: Throttle,
        policy: &Policies,
        now: u64,
    ) -> Result<(), (DisableError, Throttle)> {
        match self
            .challenge
            .clone()
            .verify(session_user, answer, factor, throttle, policy, now)
        {
            // The service removes the credential; what the code would have consumed goes with it.
            Ok(_) => Ok(()),
            Err(refused) => Err((refused.error.into(), refused.throttle)),
        }
    }
}
