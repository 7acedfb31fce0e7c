//! Resetting a member's second factor, by an owner or admin of their organisation.
//!
//! For a member who lost both the authenticator and the recovery codes: without it, only an
//! operator's [`Store::forget_user`] gets them out, outside every rule. It does not restore
//! access by itself — the member signs in with the password and enrolls again — and it is
//! not a way to turn one's own 2FA off (that is [`Service::start_disable`], which a mandate
//! can refuse).

use super::mandate::two_factor;
use super::{Purpose, Service, ServiceError, retry, rng};
use crate::app::{AuditKind, Directory, Mailer, Notice, Reauthenticate, Store};
use crate::enable::Account;
use crate::login;

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// `actor`, an owner or admin of `org`, resets `member`'s two-step verification: the
    /// member's secret, recovery codes, replay state and throttle counters (a lock with them)
    /// go in one write ([`Store::reset_credential`]), conditional on the revision read; a
    /// sign-in of the member in between is not lost, the reset reads again and goes on.
    /// Every pending flow of the member dies with it: the wizard, a re-issue and a disable
    /// were bound to what the reset moves, a half-signed-in challenge to the secret it
    /// removes. Then the member is told by mail, and one audit event ([`AuditKind::Reset`])
    /// names both: the member as its user, the actor as its actor, and the organisation.
    ///
    /// The actor re-authenticates for it, as for a disable: the password, then a code from
    /// their own authenticator or a recovery code, checked and spent exactly as at sign-in
    /// (the code cannot sign in afterwards, and a wrong one counts against the actor).
    ///
    /// # Errors
    /// In the order checked, none of them spending an attempt until the password:
    /// [`ServiceError::Policy`] — [`NotAMember`](twostep_policy::Refusal::NotAMember) (the actor or
    /// the member outside `org`), [`NotOwnerOrAdmin`](twostep_policy::Refusal::NotOwnerOrAdmin),
    /// [`ActorWithoutTwoFactor`](twostep_policy::Refusal::ActorWithoutTwoFactor),
    /// [`OwnAccount`](twostep_policy::Refusal::OwnAccount),
    /// [`MemberIsOwner`](twostep_policy::Refusal::MemberIsOwner) (an admin resetting an owner);
    /// [`ServiceError::NotEnabled`] (the member has nothing to reset);
    /// [`ServiceError::Locked`] (the actor's checks); [`ServiceError::WrongPassword`],
    /// [`ServiceError::Code`] or [`ServiceError::RecoveryCode`] (counted against the
    /// actor); [`ServiceError::Conflict`] under extreme contention; or a backend failure.
    /// Nothing of the member's changes on any of them.
    ///
    /// # Example
    ///
    /// ```
    /// use twostep_enrollment::{Account, Directory, Mailer, Reauthenticate, Service};
    /// use twostep_enrollment::{ServiceError, Store};
    ///
    /// async fn reset(
    ///     service: &Service<impl Store + 'static, impl Mailer, impl Reauthenticate, impl Directory>,
    ///     admin: &Account,
    ///     member: &Account,
    /// ) -> Result<(), ServiceError> {
    ///     // The password and a code the admin typed on the confirmation form.
    ///     match service.reset_member(admin, "acme", member, "hunter2", "123456").await {
    ///         Err(ServiceError::Policy(refused)) => println!("not allowed: {refused}"),
    ///         other => other?,
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub async fn reset_member(
        &self,
        actor: &Account,
        org: &str,
        member: &Account,
        password: &str,
        code: &str,
    ) -> Result<(), ServiceError> {
        let (admin, target) = (actor.user_id.as_str(), member.user_id.as_str());
        // The rules first: not guesses, so they cost the actor no attempt.
        let acting = self.membership(admin, org).await?;
        let membership = self.membership(target, org).await?;
        let own = self.account(admin).await?;
        acting.may_reset(two_factor(own.credential.is_some()), &membership)?;
        self.enabled_account(target).await?;
        let Some(own) = own.credential else {
            return Err(ServiceError::NotEnabled);
        };

        let throttle = self.policies.throttle;
        let now = self.clock.now();
        self.reauthenticate(admin, password, throttle, now, move |verified, before| {
            before
                .check_password(verified, &throttle, now)
                .map(|()| ((), before))
                .map_err(|(refused, after)| (ServiceError::from(refused), after))
        })
        .await?;
        // The code, on a challenge of the actor's own credential that never leaves here:
        // spent as at sign-in, so it can neither sign in afterwards nor confirm twice.
        let credential = login::fingerprint(&self.open_secret(admin, &own.secret)?);
        let challenge = login::begin(actor, Some(credential), &mut rng(), &self.policies, now)
            .ok_or(ServiceError::NotEnabled)?;
        self.second_step(actor, challenge, code, Purpose::Confirm)
            .await
            .map_err(|refusal| refusal.error)?;

        let event = self.event(target, AuditKind::Reset, Some(org), Some(admin));
        let events = std::slice::from_ref(&event);
        retry(|_| async {
            let (_, revision) = self.enabled_account(target).await?;
            let reset = self
                .store
                .reset_credential(target, revision, events)
                .await
                .map_err(ServiceError::store)?;
            Ok::<_, ServiceError>(reset.then_some(()))
        })
        .await?;
        // Logged with the write; to the audit sink at once, before any other await.
        self.audit.record(event);
        self.notify(&member.email, Notice::Reset).await;
        Ok(())
    }
}
