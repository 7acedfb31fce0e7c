//! Disabling two-step verification through the service.

use zeroize::Zeroizing;

use super::{Refusal, Service, ServiceError, copy_secret, rng};
use crate::app::{AuditKind, Directory, Mailer, Notice, Reauthenticate, Store};
use crate::disable::{self, ConfirmWithCode};
use crate::enable::Account;
use crate::login::{Answer, StoredFactor};

impl<S: Store, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// Checks the password again; the returned state asks for a code.
    ///
    /// # Errors
    /// Not enabled, refused under an organisation's mandate, locked, a wrong password
    /// (counted), or a backend failure.
    pub async fn start_disable(
        &self,
        user: &str,
        password: &str,
    ) -> Result<ConfirmWithCode, ServiceError> {
        let (_, revision) = self.enabled_account(user).await?;
        self.may_disable(user).await?;
        let policy = self.policies.login;
        let now = self.clock.now();
        let owner = user.to_owned();
        self.reauthenticate(
            user,
            password,
            policy.throttle,
            now,
            move |verified, before| {
                disable::start(&owner, revision, verified, before, &mut rng(), &policy, now)
            },
        )
        .await
    }

    /// Checks an authenticator or recovery code exactly as at login (a recovery code's typo
    /// costs no attempt) and removes the second factor — secret, recovery codes and replay
    /// state — in one write conditional on the account's revision when the password was
    /// checked, then notifies `account`. So it completes once, and a code used for it cannot
    /// also sign in.
    ///
    /// # Errors
    /// A [`Refusal`] with the state back while usable.
    pub async fn confirm_disable(
        &self,
        account: &Account,
        state: ConfirmWithCode,
        input: &str,
    ) -> Result<(), Refusal<ConfirmWithCode>> {
        let user = account.user_id.as_str();
        let policy = self.policies.login;
        let now = self.clock.now();
        // Not guesses: refuse them before spending an attempt.
        if state.user_id() != user {
            return Err(Refusal::end(ServiceError::WrongUser));
        }
        if now >= state.expires_at() {
            return Err(Refusal::end(ServiceError::Expired));
        }
        let (record, revision) = match self.enabled_account(user).await {
            Ok(found) => found,
            Err(error) => return Err(Refusal::new(state, error)),
        };
        if revision != state.revision() {
            return Err(Refusal::end(ServiceError::Replayed));
        }
        let (reservation, state) = self.reserve_for(user, policy.throttle, now, state).await?;
        let secret = match self
            .open_secret(user, &record.secret)
            .and_then(|s| copy_secret(&s))
        {
            Ok(secret) => secret,
            Err(error) => {
                // Not a guess: give the attempt back.
                let _ = self.refund(user, reservation, false).await;
                return Err(Refusal::new(state, error));
            }
        };
        let input = Zeroizing::new(input.to_owned());
        let owner = user.to_owned();
        let before = reservation.before;
        // A recovery code costs an Argon2 evaluation: the check runs on the blocking pool.
        let checked = self
            .hash(move || {
                let factor = StoredFactor::of(&record, &secret);
                state.confirm(&owner, Answer::guess(&input), factor, before, &policy, now)
            })
            .await;
        match checked {
            Ok(Ok(_)) => {}
            Ok(Err((state, error, after))) => {
                let kind = Some(AuditKind::SecondStepFailed);
                let email = Some(account.email.as_str());
                let settled = self
                    .settle_failure(user, reservation, after, kind, email)
                    .await;
                return Err(Refusal::after(settled, state, error));
            }
            Err(error) => {
                let _ = self.refund(user, reservation, false).await;
                return Err(Refusal::end(error));
            }
        }
        // A mandate may have been switched on since the password step.
        if let Err(error) = self.may_disable(user).await {
            let _ = self.refund(user, reservation, true).await;
            return Err(Refusal::end(error));
        }
        // The one write: a code used, a sign-in or a re-issue since the password step moved
        // the revision on, and then this removes nothing.
        let removed = self.store.remove_credential(user, revision).await;
        if matches!(removed, Ok(true)) {
            // Audited at once, before any other await: a dropped request cannot lose it.
            self.audit(user, AuditKind::Disabled);
        }
        let _ = self
            .refund(user, reservation, matches!(removed, Ok(true)))
            .await;
        match removed {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::end(ServiceError::Replayed)),
            Err(error) => return Err(Refusal::end(ServiceError::store(error))),
        }
        self.notify(&account.email, Notice::Disabled).await;
        Ok(())
    }
}
