//! Re-issuing recovery codes through the service.

use std::sync::Arc;

use super::{Refusal, Saved, Service, ServiceError, retry, rng, same_account};
use crate::app::{AuditKind, Directory, Mailer, Notice, Reauthenticate, Store};
use crate::enable::Account;
use crate::reissue::{self, Replacing, SaveNewCodes};

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// Checks the signed-in `account`'s password again and generates new codes to show
    /// (hashed on the hashing threads). The old codes still work until
    /// [`Service::complete_reissue`].
    ///
    /// # Errors
    /// Not enabled, locked, a wrong password (counted), or a backend failure.
    pub async fn start_reissue(
        &self,
        account: &Account,
        password: &str,
    ) -> Result<SaveNewCodes, ServiceError> {
        let user = account.user_id.as_str();
        let (record, revision) = self.enabled_account(user).await?;
        let replacing = Replacing {
            revision,
            issue: record.recovery_codes.issue(),
        };
        let policy = Arc::clone(&self.policies);
        let now = self.clock.now();
        let owner = account.clone();
        self.reauthenticate(
            user,
            password,
            policy.throttle,
            now,
            move |verified, before| {
                reissue::start(
                    &owner,
                    replacing,
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

    /// "Done", with whether "I saved them" is ticked: replaces the whole set at once, then
    /// notifies `account`. It completes once, and only over the codes it was started for
    /// (codes used from them meanwhile are retired all the same): after another re-issue, or
    /// a disable and re-enable, it gets [`ServiceError::Replayed`] and the codes in place
    /// stay.
    ///
    /// # Errors
    /// A [`Refusal`]: not ticked (state back), expired, replayed or another account's (start
    /// again), or a store failure.
    pub async fn complete_reissue(
        &self,
        account: &Account,
        state: SaveNewCodes,
        saved: Saved,
    ) -> Result<(), Refusal<SaveNewCodes>> {
        let user = account.user_id.as_str();
        // Another account's state is refused before anything about it is judged.
        same_account(state.parts().0, account)?;
        let reissued = match state.complete(saved == Saved::Yes, self.clock.now()) {
            Ok(reissued) => reissued,
            Err(error) => return Err(Refusal::new(state, error)),
        };
        let replacing = reissued.replacing;
        let new = &reissued.recovery_codes;
        let event = self.event(user, AuditKind::RecoveryCodesReissued, None, None);
        let events = std::slice::from_ref(&event);
        // First at the revision the re-issue began at; if something changed the credential
        // since (a sign-in, a code used), at the current one — while the codes in place are
        // still the issue this re-issue replaces.
        let replaced = retry(move |attempt| async move {
            let revision = if attempt == 0 {
                replacing.revision
            } else {
                let (record, revision) = self.enabled_account(user).await.map_err(|e| match e {
                    ServiceError::NotEnabled => ServiceError::Replayed,
                    other => other,
                })?;
                if record.recovery_codes.issue() != replacing.issue {
                    return Err(ServiceError::Replayed);
                }
                revision
            };
            let replaced = self
                .store
                .replace_recovery_codes(user, revision, new.clone(), None, events)
                .await
                .map_err(ServiceError::store)?;
            Ok(replaced.then_some(()))
        })
        .await;
        // A store failure or endless contention hands the state back; only a changed
        // credential ends the re-issue.
        if let Err(error) = replaced {
            return Err(Refusal::new(state, error));
        }
        self.audit.record(event);
        self.notify(&account.email, Notice::RecoveryCodesReissued)
            .await;
        Ok(())
    }
}
