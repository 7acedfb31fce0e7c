//! Re-issuing recovery codes as a sans-IO machine: password re-entry → new
//! codes shown and saved with the same tick-box → the old set replaced, all at once.
//!
//! Until [`SaveNewCodes::complete`] the old codes keep working; abandoning leaves them valid.
//! The caller replaces the stored set with [`Reissued::recovery_codes`] in one atomic write.

use rand_core::CryptoRng;
use twostep_recovery::{DownloadFile, IssuedCodes, Locale, RecoveryCodeSet, SetError};

use crate::enable::Account;
use crate::policies::Policies;
use crate::throttle::{Locked, PasswordRefused, Throttle};

/// Why re-issuing did not advance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReissueError {
    /// The password was wrong.
    #[error("the password is wrong")]
    WrongPassword,
    /// Too many failed attempts.
    #[error(transparent)]
    Locked(#[from] Locked),
    /// "Done" without ticking "I saved them".
    #[error("save your new recovery codes and confirm that you did")]
    NotSaved,
    /// Took too long: start again (the old codes still work).
    #[error("re-issuing took too long; start again")]
    Expired,
    /// Generating the codes failed.
    #[error(transparent)]
    RecoveryCodes(#[from] SetError),
}

impl From<PasswordRefused> for ReissueError {
    fn from(refused: PasswordRefused) -> Self {
        match refused {
            PasswordRefused::Locked(locked) => Self::Locked(locked),
            PasswordRefused::Wrong => Self::WrongPassword,
        }
    }
}

/// The codes a re-issue replaces, as read when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Replacing {
    /// The account's revision (see [`StoredAccount::revision`](crate::StoredAccount::revision)).
    pub revision: u64,
    /// The issue of the codes in place ([`RecoveryCodeSet::issue`]).
    pub issue: [u8; 16],
}

/// New codes, shown and waiting for "I saved them".
#[derive(Debug)]
pub struct SaveNewCodes {
    account: Account,
    replacing: Replacing,
    expires_at: u64,
    issued: IssuedCodes,
    set: RecoveryCodeSet,
}

/// The new set to store in place of the old one.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct Reissued {
    /// The codes it replaces. Replace them only while the codes in place are still that issue
    /// (codes used from it meanwhile are retired all the same); never over another re-issue,
    /// or over a credential disabled and enabled again. So a re-issue completes once.
    pub replacing: Replacing,
    /// The new set; replacing the old one invalidates every old code.
    pub recovery_codes: RecoveryCodeSet,
}

/// Starts a re-issue of the codes `replacing` once the application has checked the password
/// again.
///
/// # Errors
/// [`ReissueError::Locked`] when the budget is spent, [`ReissueError::WrongPassword`] (a
/// failure on the throttle), [`ReissueError::RecoveryCodes`]; with the counters to store.
pub(crate) fn start<R: CryptoRng + ?Sized>(
    account: &Account,
    replacing: Replacing,
    password_verified: bool,
    throttle: Throttle,
    rng: &mut R,
    policy: &Policies,
    now: u64,
) -> Result<(SaveNewCodes, Throttle), (ReissueError, Throttle)> {
    throttle
        .check_password(password_verified, &policy.throttle, now)
        .map_err(|(refused, after)| (refused.into(), after))?;
    // A right password is not a second factor: the consecutive count stays.
    let (issued, set) =
        RecoveryCodeSet::generate(rng, policy.recovery_codes, &policy.recovery_hash, now)
            .map_err(|error| (error.into(), throttle))?;
    let state = SaveNewCodes {
        account: account.clone(),
        replacing,
        expires_at: now.saturating_add(policy.pending_ttl_seconds),
        issued,
        set,
    };
    Ok((state, throttle))
}

impl SaveNewCodes {
    pub(crate) fn parts(&self) -> (&Account, Replacing, u64, &IssuedCodes, &RecoveryCodeSet) {
        (
            &self.account,
            self.replacing,
            self.expires_at,
            &self.issued,
            &self.set,
        )
    }

    pub(crate) fn from_parts(
        account: Account,
        replacing: Replacing,
        expires_at: u64,
        issued: IssuedCodes,
        set: RecoveryCodeSet,
    ) -> Self {
        Self {
            account,
            replacing,
            expires_at,
            issued,
            set,
        }
    }

    /// The new codes, with their clipboard text.
    pub fn codes(&self) -> &IssuedCodes {
        &self.issued
    }

    /// The download file, named after `issuer` (the service's, as authenticator apps show it),
    /// with the account and date.
    pub fn download_file(&self, issuer: &str, locale: Locale) -> DownloadFile {
        self.issued
            .download_file(issuer, &self.account.email, locale)
    }

    /// "Done" with "I saved them" ticked: the set to store in place of the old one. The state
    /// stays, to hand back if that write fails.
    ///
    /// # Errors
    /// [`ReissueError::NotSaved`] or [`ReissueError::Expired`].
    pub(crate) fn complete(&self, saved: bool, now: u64) -> Result<Reissued, ReissueError> {
        if now >= self.expires_at {
            return Err(ReissueError::Expired);
        }
        if !saved {
            return Err(ReissueError::NotSaved);
        }
        Ok(Reissued {
            replacing: self.replacing,
            recovery_codes: self.set.clone(),
        })
    }
}
