//! The second step at login as a sans-IO machine.
//!
//! After the application has checked the password, [`begin`] says whether a second step is
//! needed. If so, the half-authenticated session holds a [`LoginChallenge`]: bound to one
//! account and one credential, short-lived, and completed once — by the service, which
//! records it in the account with the sign-in's write (a sealed copy survives `verify`; the
//! store's record is what makes it single-use). The answer is a TOTP code or a recovery code
//! ([`Answer::guess`] tells them apart); both count against the account's [`Throttle`].
//!
//! A success returns the [`Commit`] the caller must apply atomically before letting the user
//! in: accepting the TOTP step (`UPDATE … SET last_step = $new WHERE last_step < $new`) or
//! replacing the recovery-code set. If that write finds the step or code already taken by a
//! concurrent request, the login must be checked again against what that request left (the
//! service does): a replayed code then fails, another right one succeeds — this is what makes
//! one code succeed exactly once across requests and servers.

use twostep_otp::{Rejection, Secret, Totp, TotpParams};
use twostep_recovery::{RecoveryCodeSet, RedeemError};

use rand_core::CryptoRng;

use sha2::{Digest as _, Sha256};

use crate::app::{CredentialRecord, StateId};
use crate::enable::Account;
use crate::policies::Policies;
use crate::throttle::{Locked, Throttle};

/// The pending second step of one login: bound to one user, short-lived, completed once. It
/// holds no secret. Keep it in the half-signed-in session ([`Service::seal`](crate::Service::seal)).
#[derive(Clone, PartialEq, Eq)]
pub struct LoginChallenge {
    id: StateId,
    account: Account,
    credential: [u8; 16],
    expires_at: u64,
}

/// The user and the expiry: not the id, nor the credential's fingerprint (a stable
/// identifier of the user's secret has no place in an application's logs).
impl core::fmt::Debug for LoginChallenge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoginChallenge")
            .field("user_id", &self.account.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A credential's identity: a fingerprint of its secret, the same for as long as the
/// credential lives (sealed under any key), another for every credential enabled later. A
/// challenge or a disable step is bound to it, so a disable and re-enable, or an account
/// deleted and its id reused, leaves it stale.
pub(crate) fn fingerprint(secret: &Secret) -> [u8; 16] {
    let digest = Sha256::new()
        .chain_update(b"twostep credential fingerprint v1\0")
        .chain_update(secret.expose_bytes())
        .finalize();
    let mut id = [0u8; 16];
    for (byte, digested) in id.iter_mut().zip(digest) {
        *byte = digested;
    }
    id
}

/// What the user typed at the second step.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Answer<'a> {
    /// The code the authenticator app shows.
    Totp(&'a str),
    /// One of the saved recovery codes.
    RecoveryCode(&'a str),
}

impl<'a> Answer<'a> {
    /// One input box for both: 6 to 8 digits (spaces and dashes aside) is a TOTP code,
    /// anything else is tried as a recovery code.
    pub(crate) fn guess(input: &'a str) -> Self {
        let digits = input.bytes().filter(|b| *b != b' ' && *b != b'-');
        let (count, all_digits) = digits.fold((0usize, true), |(n, ok), b| {
            (n + 1, ok && b.is_ascii_digit())
        });
        if all_digits && (6..=8).contains(&count) {
            Self::Totp(input)
        } else {
            Self::RecoveryCode(input)
        }
    }
}

/// The stored second factor, as the login step reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoredFactor<'a> {
    /// The TOTP secret, unsealed for this check.
    pub secret: &'a Secret,
    /// Its parameters.
    pub params: TotpParams,
    /// The last accepted step; `None` if none yet.
    pub last_accepted_step: Option<u64>,
    /// The recovery codes.
    pub recovery_codes: &'a RecoveryCodeSet,
}

impl<'a> StoredFactor<'a> {
    /// The factor as stored in `record`, with its secret unsealed.
    pub(crate) fn of(record: &'a CredentialRecord, secret: &'a Secret) -> Self {
        Self {
            secret,
            params: record.params,
            last_accepted_step: record.last_accepted_step,
            recovery_codes: &record.recovery_codes,
        }
    }
}

/// The write that makes a login count, to apply atomically before the user is let in.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Commit {
    /// Accept this TOTP step if the stored last step is still lower.
    AcceptStep {
        /// The step.
        step: u64,
    },
    /// Replace the recovery-code set (one code now used) if it is still the one read.
    ConsumeRecoveryCode {
        /// The set with the code marked used.
        set: RecoveryCodeSet,
        /// Unused codes left.
        remaining: usize,
        /// Whether to urge the user to re-issue.
        low: bool,
    },
}

/// A successful second step.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct Verified {
    /// What to write atomically.
    pub commit: Commit,
    /// The counters to store.
    pub throttle: Throttle,
}

/// Why the second step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The challenge is older than its lifetime: sign in again.
    #[error("the sign-in took too long; start again")]
    Expired,
    /// The challenge belongs to another user than the session's.
    #[error("this sign-in belongs to another account")]
    WrongUser,
    /// Too many failed attempts.
    #[error(transparent)]
    Locked(#[from] Locked),
    /// The TOTP code was malformed, wrong or already used.
    #[error("the authentication code was not accepted")]
    Code(#[from] Rejection),
    /// The recovery code was malformed, wrong or already used.
    #[error("the recovery code was not accepted")]
    RecoveryCode(#[from] RedeemError),
}

/// A refused second step: the challenge to keep (unless expired) and the counters to store.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct Refused {
    /// The challenge, still usable until it expires.
    pub challenge: LoginChallenge,
    /// Why.
    pub error: LoginError,
    /// The counters to store.
    pub throttle: Throttle,
}

/// After the password: `None` when the user has no second factor, else the challenge for
/// the [`fingerprint`] of that factor, with a random id of its own.
pub(crate) fn begin<R: CryptoRng + ?Sized>(
    account: &Account,
    credential: Option<[u8; 16]>,
    rng: &mut R,
    policy: &Policies,
    now: u64,
) -> Option<LoginChallenge> {
    credential.map(|credential| LoginChallenge {
        id: StateId::generate(rng),
        account: account.clone(),
        credential,
        expires_at: now.saturating_add(policy.challenge_ttl_seconds),
    })
}

impl LoginChallenge {
    pub(crate) fn from_parts(
        id: StateId,
        account: Account,
        credential: [u8; 16],
        expires_at: u64,
    ) -> Self {
        Self {
            id,
            account,
            credential,
            expires_at,
        }
    }

    /// The account the challenge was issued to: the request's must be the same.
    pub(crate) fn account(&self) -> &Account {
        &self.account
    }

    /// The [`fingerprint`] of the credential the password unlocked.
    pub(crate) fn credential(&self) -> [u8; 16] {
        self.credential
    }

    /// The challenge's id: the sign-in's write records it in the account's completed states
    /// ([`StoredAccount::completed`](crate::StoredAccount::completed)), so a copy of the
    /// challenge cannot sign in again.
    pub(crate) fn id(&self) -> StateId {
        self.id
    }

    /// The user the challenge belongs to.
    pub fn user_id(&self) -> &str {
        &self.account.user_id
    }

    /// When it expires (Unix time).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Checks the answer for the session's user (the caller records the challenge as spent
    /// with the write that signs the user in).
    ///
    /// Wrong and replayed codes count as failures, and so do malformed TOTP codes (an empty or
    /// blank code is a classic bypass probe). A recovery code whose check symbol shows a typo
    /// is refused without costing an attempt: nothing was compared.
    ///
    /// # Errors
    /// A [`Refused`] with the challenge back, the reason and the counters to store.
    #[allow(clippy::result_large_err)] // the challenge is handed back by value
    pub(crate) fn verify(
        self,
        session_user: &str,
        answer: Answer<'_>,
        factor: StoredFactor<'_>,
        throttle: Throttle,
        policy: &Policies,
        now: u64,
    ) -> Result<Verified, Refused> {
        let refuse = |challenge, error, throttle| {
            Err(Refused {
                challenge,
                error,
                throttle,
            })
        };
        if now >= self.expires_at {
            return refuse(self, LoginError::Expired, throttle);
        }
        if session_user != self.account.user_id {
            return refuse(self, LoginError::WrongUser, throttle);
        }
        if let Err(locked) = throttle.check(&policy.throttle, now) {
            return refuse(self, locked.into(), throttle);
        }
        let outcome = match answer {
            Answer::Totp(input) => Totp::new(factor.secret, factor.params)
                .with_window(policy.window)
                .verify(input, now, factor.last_accepted_step)
                .map(|accepted| Commit::AcceptStep {
                    step: accepted.step,
                })
                .map_err(LoginError::from),
            Answer::RecoveryCode(input) => factor
                .recovery_codes
                .redeem(input, now)
                .map(|redeemed| Commit::ConsumeRecoveryCode {
                    remaining: redeemed.remaining,
                    low: redeemed.low,
                    set: redeemed.set,
                })
                .map_err(LoginError::from),
        };
        match outcome {
            Ok(commit) => Ok(Verified {
                commit,
                throttle: throttle.record_success(),
            }),
            Err(error @ LoginError::RecoveryCode(RedeemError::Malformed(_))) => {
                refuse(self, error, throttle)
            }
            Err(error) => {
                let throttle = throttle.record_failure(&policy.throttle, now);
                refuse(self, error, throttle)
            }
        }
    }
}
