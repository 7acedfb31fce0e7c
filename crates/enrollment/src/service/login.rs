//! The second step at login through the service.

use std::sync::Arc;

use twostep_otp::Rejection;
use twostep_policy::{Requirement, TwoFactor};
use zeroize::Zeroizing;

use super::{
    Refusal, Service, ServiceError, completed_with, copy_secret, retry, rng, same_account, spent,
};
use crate::app::{
    AcceptStep, AuditKind, Directory, Mailer, Notice, Reauthenticate, Store, StoredAccount,
};
use crate::enable::Account;
use crate::login::{self, Answer, Commit, LoginChallenge, LoginError, StoredFactor};

/// How many recovery codes are left after signing in with one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryCodesLeft {
    /// Unused codes left.
    pub remaining: usize,
    /// Whether so few are left that the user should re-issue them now.
    pub low: bool,
}

/// A successful second step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedIn {
    /// With a recovery code: how many are left (urge a re-issue when low).
    pub recovery_codes: Option<RecoveryCodesLeft>,
    /// The security revision the user signed in at ([`Status::security_revision`]): keep
    /// it in the session, and sign the session out once the user's differs.
    ///
    /// [`Status::security_revision`]: crate::Status::security_revision
    pub security_revision: u64,
}

/// An organisation's 2FA mandate that applies from a deadline: show a reminder.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnrollmentReminder {
    /// The organisation whose deadline is the earliest.
    pub org_id: String,
    /// The deadline (Unix time).
    pub deadline: u64,
}

/// What follows a correct password.
///
/// Deliberately exhaustive: an application's sign-in decision matches every variant, with no
/// catch-all, so a requirement added in a later version fails to compile there instead of
/// signing users in by default.
#[derive(Debug)]
pub enum LoginStep {
    /// Signed in: no second factor and no mandate due. With a reminder, an organisation
    /// requires 2FA from a deadline.
    SignedIn {
        /// The earliest pending mandate, if any.
        reminder: Option<EnrollmentReminder>,
        /// The security revision the user signed in at ([`Status::security_revision`]).
        ///
        /// [`Status::security_revision`]: crate::Status::security_revision
        security_revision: u64,
    },
    /// Ask for a code: keep the challenge in the half-authenticated session.
    SecondStep(LoginChallenge),
    /// An organisation requires 2FA now: send the user to the enable wizard; nothing else
    /// is reachable until it is done.
    EnrollmentRequired {
        /// The organisation requiring it.
        org_id: String,
        /// The security revision the user signed in at ([`Status::security_revision`]).
        ///
        /// [`Status::security_revision`]: crate::Status::security_revision
        security_revision: u64,
    },
}

impl LoginStep {
    /// The challenge, if a second step is needed.
    pub fn into_challenge(self) -> Option<LoginChallenge> {
        match self {
            Self::SecondStep(challenge) => Some(challenge),
            Self::SignedIn { .. } | Self::EnrollmentRequired { .. } => None,
        }
    }
}

/// A refusal that ended only because the retries gave up ([`retry`] knows no state): the
/// challenge back, since nothing completed it.
fn keep_on_conflict(
    refusal: Refusal<LoginChallenge>,
    challenge: &LoginChallenge,
) -> Refusal<LoginChallenge> {
    match refusal.error {
        ServiceError::Conflict if refusal.state.is_none() => {
            Refusal::new(challenge.clone(), ServiceError::Conflict)
        }
        _ => refusal,
    }
}

/// What a code checked at the second step is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Signing in: a success is audited as a sign-in.
    SignIn,
    /// The actor's own code confirming a change they make (a reset): the change is audited,
    /// not a sign-in. Failures count and are audited alike.
    Confirm,
}

impl Purpose {
    /// The events a successful check writes with it: a sign-in's, or none (the change it
    /// confirms has its own).
    fn events<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory>(
        self,
        service: &Service<S, M, R, D>,
        user: &str,
        kind: AuditKind,
    ) -> Option<crate::app::AuditEvent> {
        (self == Self::SignIn).then(|| service.event(user, kind, None, None))
    }
}

/// The audit event for a counted failure at the second step.
fn failure_kind(error: LoginError) -> AuditKind {
    match error {
        LoginError::Code(Rejection::Replayed) => AuditKind::ReplayDetected,
        _ => AuditKind::SecondStepFailed,
    }
}

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// After the password of `account`: a second step if the user has 2FA; otherwise whether
    /// an organisation requires enrollment now, or by a deadline. A pending enable wizard does
    /// not count as 2FA. The challenge is bound to the account (its id and its email, where
    /// the notices go) and to the credential on now.
    ///
    /// # Errors
    /// A store, sealer or directory failure.
    pub async fn begin_login(&self, account: &Account) -> Result<LoginStep, ServiceError> {
        let now = self.clock.now();
        let user = account.user_id.as_str();
        let stored = self.account(user).await?;
        let credential = match stored.credential {
            Some(record) => Some(login::fingerprint(&self.open_secret(user, &record.secret)?)),
            None => None,
        };
        // Read with the credential: a change after it makes the session stale, never valid.
        let security_revision = stored.security_revision;
        let policy = &self.policies;
        if let Some(challenge) = login::begin(account, credential, &mut rng(), policy, now) {
            return Ok(LoginStep::SecondStep(challenge));
        }
        // Every requirement is named: one added later must not sign users in by default.
        Ok(match self.requirement(user, TwoFactor::None, now).await? {
            Requirement::None => LoginStep::SignedIn {
                reminder: None,
                security_revision,
            },
            Requirement::EnrollBy { org_id, deadline } => LoginStep::SignedIn {
                reminder: Some(EnrollmentReminder { org_id, deadline }),
                security_revision,
            },
            Requirement::EnrollNow { org_id } => LoginStep::EnrollmentRequired {
                org_id,
                security_revision,
            },
        })
    }

    /// Checks a TOTP or recovery code typed at the second step (one input box: 6 to 8 digits
    /// is a TOTP code, anything else a recovery code) for `account`, the one the challenge was
    /// issued to. On success the challenge is spent — a copy of it cannot sign in again, and
    /// costs nothing — and the user is signed in.
    ///
    /// # Errors
    /// A [`Refusal`] with the challenge back while it is usable.
    pub async fn verify_login(
        &self,
        account: &Account,
        challenge: LoginChallenge,
        input: &str,
    ) -> Result<SignedIn, Refusal<LoginChallenge>> {
        self.second_step(account, challenge, input, Purpose::SignIn)
            .await
    }

    /// [`Service::verify_login`]'s check, for a sign-in or for the actor's own code
    /// confirming a change they make.
    pub(super) async fn second_step(
        &self,
        account: &Account,
        challenge: LoginChallenge,
        input: &str,
        purpose: Purpose,
    ) -> Result<SignedIn, Refusal<LoginChallenge>> {
        same_account(challenge.account(), account)?;
        let now = self.clock.now();
        // An expired challenge is not a guess: refuse it before spending an attempt.
        if now >= challenge.expires_at() {
            return Err(Refusal::end(ServiceError::Expired));
        }
        match Answer::guess(input) {
            Answer::Totp(_) => {
                self.login_with_code(account, challenge, input, now, purpose)
                    .await
            }
            Answer::RecoveryCode(_) => {
                self.login_with_recovery_code(account, challenge, input, now, purpose)
                    .await
            }
        }
    }

    /// Whether `challenge` can still complete over the account as read: not spent (a copy of
    /// it signed in), and the credential still the one it was issued for.
    fn live(&self, stored: &StoredAccount, challenge: &LoginChallenge) -> Result<(), ServiceError> {
        if spent(stored, challenge.id()) {
            return Err(ServiceError::Replayed);
        }
        let Some(record) = stored.credential.as_ref() else {
            return Err(ServiceError::NotEnabled);
        };
        let secret = self.open_secret(&challenge.account().user_id, &record.secret)?;
        if login::fingerprint(&secret) != challenge.credential() {
            return Err(ServiceError::Replayed);
        }
        Ok(())
    }

    /// The second step with a TOTP code, checked optimistically: the account is read once, the
    /// code verified in memory, and the step, the counters and the challenge's completion
    /// settled by one conditional write — two round trips for a right code. No outcome is
    /// reported unless that write (or, for a wrong code, the failure's compare-and-set) finds
    /// the account as it was read; when it does not, the attempt starts over from a fresh
    /// read. So every reported outcome is serialised with every other, concurrent guesses
    /// cannot overrun the budget, and a copy of a challenge that already signed in is found
    /// spent on the read — before it can count a guess or answer one. A copy whose read came
    /// before the winner's write is a guess made at the same moment: its failure counts in the
    /// window as one made just before the sign-in would (the failure's compare-and-set is on
    /// the counters alone, which a sign-in leaves as they were but for the consecutive count).
    async fn login_with_code(
        &self,
        account: &Account,
        challenge: LoginChallenge,
        input: &str,
        now: u64,
        purpose: Purpose,
    ) -> Result<SignedIn, Refusal<LoginChallenge>> {
        let user = account.user_id.as_str();
        let policy = &*self.policies;
        let challenge = &challenge;
        let event = purpose.events(self, user, AuditKind::LoginWithCode);
        let events = event.as_slice();
        let signed_in = retry(move |_| async move {
            let back = |error| Refusal::new(challenge.clone(), error);
            let stored = self.account(user).await.map_err(back)?;
            if spent(&stored, challenge.id()) {
                return Err(Refusal::end(ServiceError::Replayed));
            }
            let Some(record) = stored.credential.as_ref() else {
                return Err(Refusal::end(ServiceError::NotEnabled));
            };
            let secret = self.open_secret(user, &record.secret).map_err(back)?;
            if login::fingerprint(&secret) != challenge.credential() {
                // Disabled and enabled again, or the id reused: not this challenge's factor.
                return Err(Refusal::end(ServiceError::Replayed));
            }
            let factor = StoredFactor::of(record, &secret);
            let answer = Answer::Totp(input);
            match challenge
                .clone()
                .verify(user, answer, factor, stored.throttle, policy, now)
            {
                Ok(verified) => {
                    let Commit::AcceptStep { step } = verified.commit else {
                        // A TOTP answer only ever commits a step.
                        return Err(back(ServiceError::Code(Rejection::Mismatch)));
                    };
                    let (completes, now) = self
                        .completion(challenge.id(), challenge.expires_at())
                        .map_err(back)?;
                    let write = AcceptStep {
                        revision: stored.revision,
                        step,
                        expected: stored.throttle,
                        new: verified.throttle,
                        completed: completed_with(&stored.completed, completes, now),
                    };
                    let accepted = self
                        .store
                        .accept_step(user, write, events)
                        .await
                        .map_err(|e| back(ServiceError::store(e)))?;
                    if !accepted {
                        // A concurrent request changed the account (a copy of this challenge
                        // signed in, the step was taken, the counters moved): read again.
                        return Ok(None);
                    }
                    // The write was conditional on the revision read with it, so the
                    // security revision was the one read.
                    Ok(Some(SignedIn {
                        recovery_codes: None,
                        security_revision: stored.security_revision,
                    }))
                }
                // Not counted (locked): nothing to record.
                Err(refused) if refused.throttle == stored.throttle => {
                    Err(Refusal::new(refused.challenge, refused.error))
                }
                Err(refused) => {
                    let counted = self
                        .store
                        .compare_and_set_throttle(user, stored.throttle, refused.throttle)
                        .await
                        .map_err(|e| back(ServiceError::store(e)))?;
                    if !counted {
                        return Ok(None);
                    }
                    self.audit(user, failure_kind(refused.error)).await;
                    let policy = &policy.throttle;
                    self.failed(user, refused.throttle, policy, now, Some(&account.email))
                        .await;
                    Err(Refusal::new(refused.challenge, refused.error))
                }
            }
        })
        .await
        .map_err(|refusal| keep_on_conflict(refusal, challenge))?;
        // Logged with the write; to the audit sink at once, before any other await.
        if let Some(event) = event {
            self.audit.record(event);
        }
        Ok(signed_in)
    }

    /// The second step with a recovery code. Each check costs an Argon2 evaluation, too much
    /// to repeat freely, so an attempt is reserved in the counters before it and the check
    /// runs on the hashing threads. The code's use and the challenge's completion are one
    /// conditional write. When another request changed the account first (another code
    /// redeemed at the same moment), the code is checked again against what it left: a right
    /// code is never refused because another request won a race.
    async fn login_with_recovery_code(
        &self,
        account: &Account,
        challenge: LoginChallenge,
        input: &str,
        now: u64,
        purpose: Purpose,
    ) -> Result<SignedIn, Refusal<LoginChallenge>> {
        let user = account.user_id.as_str();
        let policy = &self.policies;
        // Not attempts: a copy of a challenge that already signed in (it says only "start
        // again"), and a typo the check symbol catches. Both are answered before anything is
        // reserved or hashed.
        let first = match self.account(user).await {
            Ok(stored) => stored,
            Err(error) => return Err(Refusal::new(challenge, error)),
        };
        match self.live(&first, &challenge) {
            Ok(()) => {}
            Err(error) if error.ends_flow() => return Err(Refusal::end(error)),
            Err(error) => return Err(Refusal::new(challenge, error)),
        }
        if let Err(typo) = twostep_recovery::RecoveryCode::parse(input) {
            let error = ServiceError::RecoveryCode(typo.into());
            return Err(Refusal::new(challenge, error));
        }
        let (reservation, challenge) = self
            .reserve_for(user, policy.throttle, now, challenge)
            .await?;
        let reservation = &reservation;
        let input = &Zeroizing::new(input.to_owned());
        let challenge = &challenge;
        let first = &first;
        let event = purpose.events(self, user, AuditKind::LoginWithRecoveryCode);
        let events = event.as_slice();
        let outcome = retry(move |attempt| async move {
            let back = |error| Refusal::new(challenge.clone(), error);
            // The account read before the reservation serves the first check: the write is
            // conditional on its revision, so a change since is caught there.
            let stored = match attempt {
                0 => first.clone(),
                _ => self.account(user).await.map_err(back)?,
            };
            self.live(&stored, challenge).map_err(back)?;
            let Some(record) = stored.credential else {
                return Err(Refusal::end(ServiceError::NotEnabled));
            };
            let secret = self.open_secret(user, &record.secret).map_err(back)?;
            let secret = copy_secret(&secret).map_err(back)?;
            let (job_challenge, job_input, job_user) =
                (challenge.clone(), input.clone(), user.to_owned());
            let job_policy = Arc::clone(policy);
            let before = reservation.before();
            let checked = self
                .hash(reservation, move || {
                    let factor = StoredFactor::of(&record, &secret);
                    let answer = Answer::RecoveryCode(&job_input);
                    job_challenge.verify(&job_user, answer, factor, before, &job_policy, now)
                })
                .await
                .map_err(back)?;
            let verified = match checked {
                Ok(verified) => verified,
                Err(refused) => {
                    let kind = failure_kind(refused.error);
                    self.settle_failure(
                        reservation,
                        refused.throttle,
                        Some(kind),
                        Some(&account.email),
                    )
                    .await
                    .map_err(back)?;
                    return Err(Refusal::new(refused.challenge, refused.error));
                }
            };
            let Commit::ConsumeRecoveryCode {
                set,
                remaining,
                low,
                ..
            } = verified.commit
            else {
                // A recovery-code answer only ever consumes a code.
                return Err(back(
                    LoginError::RecoveryCode(twostep_recovery::RedeemError::NoMatch).into(),
                ));
            };
            let (completes, now) = self
                .completion(challenge.id(), challenge.expires_at())
                .map_err(back)?;
            let completed = completed_with(&stored.completed, completes, now);
            // The one-time write, conditional on the revision read with the codes.
            let replaced = self
                .store
                .replace_recovery_codes(user, stored.revision, set, Some(completed), events)
                .await
                .map_err(|e| back(ServiceError::store(e)))?;
            Ok(replaced.then_some(SignedIn {
                recovery_codes: Some(super::RecoveryCodesLeft { remaining, low }),
                security_revision: stored.security_revision,
            }))
        })
        .await;
        let signed_in = match outcome {
            Ok(signed_in) => signed_in,
            Err(refusal) => {
                // Every way out but a counted failure (settled already) gives it back.
                let _ = self.refund(reservation, false).await;
                return Err(keep_on_conflict(refusal, challenge));
            }
        };
        // The login counts from here, logged with its write and to the audit sink at once
        // (before any other await); giving the reservation back and the notice are best
        // effort and cannot turn it into a failure.
        if let Some(event) = event {
            self.audit.record(event);
        }
        let _ = self.refund(reservation, true).await;
        if let Some(left) = signed_in.recovery_codes {
            self.notify(
                &account.email,
                Notice::RecoveryCodeUsed {
                    remaining: left.remaining,
                },
            )
            .await;
        }
        Ok(signed_in)
    }
}
