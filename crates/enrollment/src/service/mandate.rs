//! Organisation mandates through the service: who must enroll, and who may switch it on.

use twostep_policy::{Affected, Membership, OrgPolicy, Requirement, TwoFactor};

use super::{Collaborator, Service, ServiceError, answered_all, retry};
use crate::app::{AuditKind, Directory, Mailer, Reauthenticate, Store, StoredOrgPolicy};
use crate::enable::Account;

pub(super) fn two_factor(enabled: bool) -> TwoFactor {
    if enabled {
        TwoFactor::Enabled
    } else {
        TwoFactor::None
    }
}

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    fn directory_error(error: D::Error) -> ServiceError {
        ServiceError::backend(Collaborator::Directory, error)
    }

    /// The user's memberships, each with its organisation's stored policy (or none).
    async fn memberships_with_policies(
        &self,
        user: &str,
    ) -> Result<Vec<(Membership, OrgPolicy)>, ServiceError> {
        let memberships = self.memberships(user).await?;
        if memberships.is_empty() {
            return Ok(Vec::new());
        }
        // One read for all of them, whatever their number.
        let orgs: Vec<&str> = memberships.iter().map(|m| m.org_id.as_str()).collect();
        let stored = self
            .store
            .org_policies(&orgs)
            .await
            .map_err(ServiceError::store)?;
        // A short answer must not drop a mandating organisation from the decision.
        answered_all(orgs.len(), stored.len())?;
        Ok(memberships
            .into_iter()
            .zip(stored)
            .map(|(membership, stored)| {
                let policy = stored
                    .policy
                    .unwrap_or_else(|| OrgPolicy::new(&membership.org_id));
                (membership, policy)
            })
            .collect())
    }

    /// Refuses while an organisation of the user mandates 2FA.
    pub(super) async fn may_disable(&self, user: &str) -> Result<(), ServiceError> {
        let pairs = self.memberships_with_policies(user).await?;
        let refs: Vec<(&Membership, &OrgPolicy)> = pairs.iter().map(|(m, p)| (m, p)).collect();
        Ok(twostep_policy::may_disable(&refs)?)
    }

    /// What the user's organisations require of them at `now` (the service's clock: never a
    /// caller's).
    pub(super) async fn requirement(
        &self,
        user: &str,
        two_factor: TwoFactor,
        now: u64,
    ) -> Result<Requirement, ServiceError> {
        let pairs = self.memberships_with_policies(user).await?;
        let refs: Vec<(&Membership, &OrgPolicy)> = pairs.iter().map(|(m, p)| (m, p)).collect();
        Ok(twostep_policy::requirement(&refs, two_factor, now))
    }

    /// The actor's membership of `org`, from the application's [`Directory`]: to decide what
    /// of the organisation's settings to show them.
    ///
    /// # Errors
    /// [`ServiceError::Policy`] ([`NotAMember`](twostep_policy::Refusal::NotAMember)) for
    /// someone outside `org`, or a directory failure.
    pub async fn membership(&self, actor: &str, org: &str) -> Result<Membership, ServiceError> {
        Ok(self
            .memberships(actor)
            .await?
            .into_iter()
            .find(|m| m.org_id == org)
            .ok_or(twostep_policy::Refusal::NotAMember)?)
    }

    /// The organisations `user` belongs to, from the application's [`Directory`].
    ///
    /// # Errors
    /// A directory failure.
    pub async fn memberships(&self, user: &str) -> Result<Vec<Membership>, ServiceError> {
        self.directory
            .memberships(user)
            .await
            .map_err(Self::directory_error)
    }

    /// The actor's membership of `org`, their 2FA status, and the org's current policy.
    async fn mandate_context(
        &self,
        actor: &str,
        org: &str,
    ) -> Result<(Membership, TwoFactor, StoredOrgPolicy), ServiceError> {
        let membership = self.membership(actor, org).await?;
        let enabled = self.account(actor).await?.credential.is_some();
        let policy = self
            .store
            .org_policy(org)
            .await
            .map_err(ServiceError::store)?;
        Ok((membership, two_factor(enabled), policy))
    }

    /// Applies a policy change decided by `change` with a compare-and-set, then audits it.
    async fn change_policy(
        &self,
        actor: &str,
        org: &str,
        kind: AuditKind,
        change: impl Fn(
            &OrgPolicy,
            &Membership,
            TwoFactor,
        ) -> Result<OrgPolicy, twostep_policy::Refusal>,
    ) -> Result<OrgPolicy, ServiceError> {
        let change = &change;
        let event = self.event(actor, kind, Some(org), None);
        let events = std::slice::from_ref(&event);
        let next = retry(move |_| async move {
            let (membership, two_factor, stored) = self.mandate_context(actor, org).await?;
            let current = stored.policy.unwrap_or_else(|| OrgPolicy::new(org));
            let next = change(&current, &membership, two_factor)?;
            let written = self
                .store
                .compare_and_set_org_policy(org, stored.revision, next.clone(), events)
                .await
                .map_err(ServiceError::store)?;
            Ok::<_, ServiceError>(written.then_some(next))
        })
        .await?;
        self.audit.record(event);
        Ok(next)
    }

    /// The organisation's stored 2FA policy, if it ever had one.
    ///
    /// # Errors
    /// A store failure.
    pub async fn org_policy(&self, org: &str) -> Result<Option<OrgPolicy>, ServiceError> {
        let stored = self
            .store
            .org_policy(org)
            .await
            .map_err(ServiceError::store)?;
        Ok(stored.policy)
    }

    /// Before switching the mandate on: the members without 2FA and their deadlines, their
    /// status read in one store query. Only the organisation's owners and admins may see it
    /// (it says who lacks 2FA).
    ///
    /// # Errors
    /// [`ServiceError::Policy`] for anyone else, or a backend failure.
    pub async fn preview_mandate(
        &self,
        actor: &Account,
        org: &str,
        grace_seconds: u64,
    ) -> Result<Vec<Affected>, ServiceError> {
        // Who may look is the membership alone: the actor's own account and the current
        // policy are not read.
        let membership = self.membership(&actor.user_id, org).await?;
        if !membership.role.manages_security() {
            return Err(twostep_policy::Refusal::NotOwnerOrAdmin.into());
        }
        let members = self
            .directory
            .members(org)
            .await
            .map_err(Self::directory_error)?;
        let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
        let statuses = self.statuses(&ids).await?;
        let statuses: Vec<(Membership, TwoFactor)> = members
            .iter()
            .cloned()
            .zip(
                statuses
                    .iter()
                    .map(|status| two_factor(status.is_enabled())),
            )
            .collect();
        Ok(OrgPolicy::new(org).preview(&statuses, grace_seconds, self.clock.now()))
    }

    /// Switches the mandate on: only an owner or admin of `org` with 2FA enabled.
    ///
    /// # Errors
    /// [`ServiceError::Policy`] saying why not, or a backend failure.
    pub async fn set_mandate(
        &self,
        actor: &Account,
        org: &str,
        grace_seconds: u64,
    ) -> Result<OrgPolicy, ServiceError> {
        let now = self.clock.now();
        self.change_policy(
            &actor.user_id,
            org,
            AuditKind::MandateSet,
            |policy, member, two_factor| policy.set_mandate(member, two_factor, grace_seconds, now),
        )
        .await
    }

    /// Changes the grace period for members the mandate applies to from now on.
    ///
    /// # Errors
    /// As [`Service::set_mandate`].
    pub async fn set_mandate_grace(
        &self,
        actor: &Account,
        org: &str,
        grace_seconds: u64,
    ) -> Result<OrgPolicy, ServiceError> {
        let now = self.clock.now();
        let kind = AuditKind::MandateGraceChanged;
        self.change_policy(&actor.user_id, org, kind, |policy, member, two_factor| {
            policy.set_grace(member, two_factor, grace_seconds, now)
        })
        .await
    }

    /// Switches the mandate off.
    ///
    /// # Errors
    /// As [`Service::set_mandate`].
    pub async fn clear_mandate(
        &self,
        actor: &Account,
        org: &str,
    ) -> Result<OrgPolicy, ServiceError> {
        let kind = AuditKind::MandateCleared;
        self.change_policy(&actor.user_id, org, kind, |policy, member, two_factor| {
            policy.clear_mandate(member, two_factor)
        })
        .await
    }
}
