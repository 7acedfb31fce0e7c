//! [`Policies`]: every setting of every flow, in one flat value.
//!
//! One knob per decision: the recovery codes of the wizard and of a re-issue are one set of
//! settings, the TOTP window of the first code and of the second step is one window, and one
//! failure budget covers every check, so no two flows can be configured to disagree. Time
//! values are seconds; the service reads them when it builds.

use twostep_otp::{TotpParams, Window};
use twostep_recovery::HashParams;

use crate::throttle::ThrottlePolicy;

/// The settings of every flow. Start from [`Policies::new`] and change fields, or change the
/// issuer alone with [`ServiceBuilder::issuer`](crate::ServiceBuilder::issuer).
///
/// ```
/// use twostep_enrollment::Policies;
///
/// let mut policies = Policies::new("DFINERY");
/// policies.challenge_ttl_seconds = 10 * 60; // ten minutes for the second step
/// policies.throttle.max_failures = 3;
/// assert_eq!(policies.recovery_codes, 10);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Policies {
    /// The service name authenticator apps show, e.g. `DFINERY`.
    pub issuer: String,
    /// TOTP parameters of new credentials (existing ones keep theirs).
    pub totp: TotpParams,
    /// The TOTP verification window, for the wizard's first code and the second step.
    pub window: Window,
    /// The one failure budget every check of an account draws on — second-step codes,
    /// recovery codes, passwords re-entered, the wizard's email and first codes — so no flow
    /// opens a second door for guessing.
    pub throttle: ThrottlePolicy,
    /// How long an email code is valid, in seconds.
    pub email_code_ttl_seconds: u64,
    /// Wrong attempts allowed per email code.
    pub email_code_attempts: u8,
    /// How long after sending an email code another may be sent, in seconds.
    pub email_code_cooldown_seconds: u64,
    /// How long the enable wizard may take from its start, and new recovery codes may wait
    /// for "Done" in a re-issue, in seconds.
    pub pending_ttl_seconds: u64,
    /// How long the second step may take after the password, and a disable after the
    /// password is checked again, in seconds.
    pub challenge_ttl_seconds: u64,
    /// Recovery codes per set.
    pub recovery_codes: usize,
    /// Argon2id costs of recovery codes.
    pub recovery_hash: HashParams,
}

impl Policies {
    /// The defaults for `issuer`: SHA-1, 6 digits, 30-second steps and ±1 step; 5 failures
    /// per 15 minutes and a hard lock after 100 in a row, shared by every flow; email codes
    /// valid 10 minutes with 5 attempts and one resend a minute; 15 minutes for the wizard
    /// and for a re-issue, 5 for the second step; 10 recovery codes at the default Argon2id
    /// costs.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            totp: TotpParams::default(),
            window: Window::default(),
            throttle: ThrottlePolicy::default(),
            email_code_ttl_seconds: 10 * 60,
            email_code_attempts: 5,
            email_code_cooldown_seconds: 60,
            pending_ttl_seconds: 15 * 60,
            challenge_ttl_seconds: 5 * 60,
            recovery_codes: twostep_recovery::DEFAULT_CODE_COUNT,
            recovery_hash: HashParams::default(),
        }
    }
}
