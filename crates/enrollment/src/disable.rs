//! Disabling two-step verification as a sans-IO machine: password re-entry,
//! then an authenticator code **or** a recovery code.
//!
//! On success the caller removes the secret, the recovery codes and the replay state in one
//! atomic write, conditional on the account's revision when the password was checked
//! ([`ConfirmWithCode::revision`]): a sign-in with the same code moves the revision on, so a
//! code cannot both disable and sign in.

use rand_core::CryptoRng;

use crate::login::{Answer, LoginChallenge, LoginError, LoginPolicy, StoredFactor};
use crate::throttle::{Locked, Throttle};

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

/// The password was re-entered correctly; now a code is needed. It holds no secret. Keep it
/// in the session ([`Service::seal`](crate::Service::seal)).
#[derive(Debug)]
pub struct ConfirmWithCode {
    challenge: LoginChallenge,
    revision: u64,
}

/// First screen: the application checked the password again. `revision` is the account's
/// (see [`StoredAccount::revision`](crate::StoredAccount::revision)): the credential is removed
/// only while it is still that one.
///
/// # Errors
/// [`DisableError::Locked`], or [`DisableError::WrongPassword`] (counted as a failure); with
/// the counters to store.
pub(crate) fn start<R: CryptoRng + ?Sized>(
    user_id: &str,
    revision: u64,
    password_verified: bool,
    throttle: Throttle,
    rng: &mut R,
    policy: &LoginPolicy,
    now: u64,
) -> Result<(ConfirmWithCode, Throttle), (DisableError, Throttle)> {
    throttle
        .check(&policy.throttle, now)
        .map_err(|locked| (locked.into(), throttle))?;
    if !password_verified {
        return Err((
            DisableError::WrongPassword,
            throttle.record_failure(&policy.throttle, now),
        ));
    }
    let challenge = crate::login::begin(user_id, true, rng, policy, now);
    match challenge {
        // A right password is not a second factor: the consecutive count stays.
        Some(challenge) => Ok((
            ConfirmWithCode {
                challenge,
                revision,
            },
            throttle,
        )),
        None => Err((DisableError::WrongPassword, throttle)),
    }
}

impl ConfirmWithCode {
    pub(crate) fn from_parts(challenge: LoginChallenge, revision: u64) -> Self {
        Self {
            challenge,
            revision,
        }
    }

    /// The account's revision when the password was checked: remove the credential only
    /// while it is still this one.
    pub(crate) fn revision(&self) -> u64 {
        self.revision
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
    #[allow(clippy::result_large_err)] // the state is handed back by value
    pub(crate) fn confirm(
        self,
        session_user: &str,
        answer: Answer<'_>,
        factor: StoredFactor<'_>,
        throttle: Throttle,
        policy: &LoginPolicy,
        now: u64,
    ) -> Result<(), (Self, DisableError, Throttle)> {
        match self
            .challenge
            .verify(session_user, answer, factor, throttle, policy, now)
        {
            // The service removes the credential; what the code would have consumed goes with it.
            Ok(_) => Ok(()),
            Err(refused) => Err((
                Self {
                    challenge: refused.challenge,
                    revision: self.revision,
                },
                refused.error.into(),
                refused.throttle,
            )),
        }
    }
}
