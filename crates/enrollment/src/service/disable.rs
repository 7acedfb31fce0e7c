//! Disabling two-step verification through the service.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Refusal, Service, ServiceError, copy_secret, retry, rng, same_account};
use crate::app::{AuditKind, Directory, Mailer, Notice, Reauthenticate, Store};
use crate::disable::{self, ConfirmWithCode};
use crate::enable::Account;
use crate::login::{self, Answer, StoredFactor};

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// Checks the password again; the returned state asks for a code. It is bound to the
    /// credential on now: the user's other sessions may sign in meanwhile, but a disable and
    /// re-enable makes it stale.
    ///
    /// # Errors
    /// Not enabled, refused under an organisation's mandate, locked, a wrong password
    /// (counted), or a backend failure.
    pub async fn start_disable(
        &self,
        account: &Account,
        password: &str,
    ) -> Result<ConfirmWithCode, ServiceError> {
        let user = account.user_id.as_str();
        let (record, _) = self.enabled_account(user).await?;
        let credential = login::fingerprint(&self.open_secret(user, &record.secret)?);
        self.may_disable(user).await?;
        let policy = Arc::clone(&self.policies);
        let now = self.clock.now();
        let owner = account.clone();
        self.reauthenticate(
            user,
            password,
            policy.throttle,
            now,
            move |verified, before| {
                disable::start(
                    &owner,
                    credential,
                    verified,
                    before,
                    &mut rng(),
                    &policy,
                    now,
                )
            },
        )
        .await
    }

    /// Checks an authenticator or recovery code exactly as at login (a recovery code's typo
    /// costs no attempt) and removes the second factor — secret, recovery codes and replay
    /// state — in one write conditional on the revision read with the code, then notifies
    /// `account`. A sign-in from another session meanwhile does not spoil it; a code that
    /// signed in is found used when checked again, so a code cannot both sign in and disable.
    ///
    /// # Errors
    /// A [`Refusal`] with the state back while usable: a wrong code, a lock, a backend
    /// failure. It ends (start again) once expired, completed, or the credential changed.
    pub async fn confirm_disable(
        &self,
        account: &Account,
        state: ConfirmWithCode,
        input: &str,
    ) -> Result<(), Refusal<ConfirmWithCode>> {
        let user = account.user_id.as_str();
        let policy = &self.policies;
        let now = self.clock.now();
        // Not guesses: refuse them before spending an attempt.
        same_account(state.challenge().account(), account)?;
        if now >= state.expires_at() {
            return Err(Refusal::end(ServiceError::Expired));
        }
        // A recovery code's typo, caught by its check symbol, is not a guess either: answered
        // before anything is reserved or hashed.
        if let Answer::RecoveryCode(code) = Answer::guess(input)
            && let Err(typo) = twostep_recovery::RecoveryCode::parse(code)
        {
            let error = ServiceError::RecoveryCode(typo.into());
            return Err(Refusal::new(state, error));
        }
        let (reservation, state) = self.reserve_for(user, policy.throttle, now, state).await?;
        let reservation = &reservation;
        let input = &Zeroizing::new(input.to_owned());
        let state = &state;
        let event = self.event(user, AuditKind::Disabled, None, None);
        let events = std::slice::from_ref(&event);
        let removed = retry(move |_| async move {
            let back = |error| Refusal::new(state.clone(), error);
            let stale = || Refusal::end(ServiceError::Replayed);
            // Not enabled (any more) ends the flow; a store failure hands the state back.
            let (record, revision) = self.enabled_account(user).await.map_err(back)?;
            let secret = self.open_secret(user, &record.secret).map_err(back)?;
            if login::fingerprint(&secret) != state.challenge().credential() {
                // Disabled and enabled again since the password step.
                return Err(stale());
            }
            let secret = copy_secret(&secret).map_err(back)?;
            let (job_state, job_input, owner) = (state.clone(), input.clone(), user.to_owned());
            let job_policy = Arc::clone(policy);
            let before = reservation.before();
            // A recovery code costs an Argon2 evaluation: the check runs on the hashing threads.
            let checked = self
                .hash(reservation, move || {
                    let factor = StoredFactor::of(&record, &secret);
                    let answer = Answer::guess(&job_input);
                    job_state.confirm(&owner, answer, factor, before, &job_policy, now)
                })
                .await
                .map_err(back)?;
            if let Err((error, after)) = checked {
                let kind = Some(AuditKind::SecondStepFailed);
                let email = Some(account.email.as_str());
                let settling = self.settle_failure(reservation, after, kind, email).await;
                return Err(Refusal::after(settling, state.clone(), error));
            }
            // A mandate may have been switched on since the password step: that ends the
            // flow; failing to read the mandates does not.
            self.may_disable(user).await.map_err(|error| match error {
                ServiceError::Backend { .. } => back(error),
                refused => Refusal::end(refused),
            })?;
            // The one write: a code used or a sign-in since the read moved the revision on;
            // then the code is checked again against what that left.
            let removed = self
                .store
                .remove_credential(user, revision, events)
                .await
                .map_err(|e| back(ServiceError::store(e)))?;
            Ok(removed.then_some(()))
        })
        .await;
        if let Err(refusal) = removed {
            // Every way out but a counted failure (settled already) gives it back.
            let _ = self.refund(reservation, false).await;
            return Err(match refusal.error {
                // The retries gave up under contention; nothing completed the state.
                ServiceError::Conflict => Refusal::new(state.clone(), ServiceError::Conflict),
                _ => refusal,
            });
        }
        // Logged with the write; to the audit sink at once, before any other await.
        self.audit.record(event);
        let _ = self.refund(reservation, true).await;
        self.notify(&account.email, Notice::Disabled).await;
        Ok(())
    }
}
