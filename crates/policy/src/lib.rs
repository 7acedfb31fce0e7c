#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// A member's role in an organisation, as the application maps its own roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Owns the organisation.
    Owner,
    /// Administers it.
    Admin,
    /// Everyone else.
    Member,
}

impl Role {
    /// Whether this role may set or clear the organisation's mandate.
    pub fn manages_security(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// Where a user's two-step verification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwoFactor {
    /// Enabled: the wizard was completed.
    Enabled,
    /// An enrollment was started but not completed. It satisfies nothing.
    Pending,
    /// Not enabled.
    None,
}

impl TwoFactor {
    /// Whether it counts: only a completed setup does.
    pub fn is_enabled(self) -> bool {
        self == Self::Enabled
    }
}

/// A user's membership of one organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organisation.
    pub org_id: String,
    /// The user.
    pub user_id: String,
    /// Their role there.
    pub role: Role,
    /// When they joined (Unix time).
    pub joined_at: u64,
}

impl Membership {
    /// A membership.
    pub fn new(org_id: &str, user_id: &str, role: Role, joined_at: u64) -> Self {
        Self {
            org_id: org_id.to_owned(),
            user_id: user_id.to_owned(),
            role,
            joined_at,
        }
    }

    /// Whether this member, an owner or admin whose own two-step verification stands at
    /// `own_two_factor`, may reset `member`'s — remove the second factor of a member who
    /// lost both the authenticator and the recovery codes. The checks come in this order:
    /// both in this organisation, an owner or admin, with 2FA of their own, not themselves,
    /// and an admin does not reset an owner. Re-authenticating the actor is the caller's
    /// part.
    ///
    /// # Errors
    /// [`Refusal::NotAMember`] if either is not a member of this membership's organisation,
    /// [`Refusal::NotOwnerOrAdmin`], [`Refusal::ActorWithoutTwoFactor`] (a pending
    /// enrollment does not count), [`Refusal::OwnAccount`] or [`Refusal::MemberIsOwner`].
    ///
    /// # Example
    ///
    /// ```
    /// use twostep_policy::{Membership, Refusal, Role, TwoFactor};
    ///
    /// let admin = Membership::new("acme", "ada", Role::Admin, 0);
    /// let member = Membership::new("acme", "bob", Role::Member, 0);
    /// let owner = Membership::new("acme", "olga", Role::Owner, 0);
    /// assert_eq!(admin.may_reset(TwoFactor::Enabled, &member), Ok(()));
    /// assert_eq!(admin.may_reset(TwoFactor::Enabled, &owner), Err(Refusal::MemberIsOwner));
    /// assert_eq!(owner.may_reset(TwoFactor::Enabled, &admin), Ok(()));
    /// ```
    pub fn may_reset(&self, own_two_factor: TwoFactor, member: &Membership) -> Result<(), Refusal> {
        self.manages(&member.org_id, own_two_factor)?;
        if member.user_id == self.user_id {
            return Err(Refusal::OwnAccount);
        }
        if member.role == Role::Owner && self.role != Role::Owner {
            return Err(Refusal::MemberIsOwner);
        }
        Ok(())
    }

    /// What every security change of `org_id` asks of its actor, this member, in this
    /// order: a member of `org_id`, an owner or admin, with 2FA of their own.
    fn manages(&self, org_id: &str, own_two_factor: TwoFactor) -> Result<(), Refusal> {
        if self.org_id != org_id {
            return Err(Refusal::NotAMember);
        }
        if !self.role.manages_security() {
            return Err(Refusal::NotOwnerOrAdmin);
        }
        if !own_two_factor.is_enabled() {
            return Err(Refusal::ActorWithoutTwoFactor);
        }
        Ok(())
    }
}

/// A change of the grace period, kept so that earlier deadlines do not move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraceChange {
    /// From when it applies (Unix time).
    pub from: u64,
    /// The grace period, in seconds; 0 means "enroll now".
    pub seconds: u64,
}

/// A mandate in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// When it was switched on (Unix time).
    pub since: u64,
    /// Who switched it on.
    pub set_by: String,
    /// The grace periods, oldest first; the first applies from `since`.
    pub grace: Vec<GraceChange>,
}

impl Mandate {
    /// A mandate switched on at `since` by `set_by`, with one grace period.
    fn new(since: u64, set_by: &str, grace_seconds: u64) -> Self {
        Self {
            since,
            set_by: set_by.to_owned(),
            grace: vec![GraceChange {
                from: since,
                seconds: grace_seconds,
            }],
        }
    }

    /// The grace period in force at `at`.
    fn grace_at(&self, at: u64) -> u64 {
        self.grace
            .iter()
            .rev()
            .find(|change| change.from <= at)
            .map_or(0, |change| change.seconds)
    }

    /// When the mandate started applying to a member who joined at `joined_at`, and their
    /// deadline: that moment plus the grace in force then.
    fn deadline_for(&self, joined_at: u64) -> u64 {
        let applies_from = self.since.max(joined_at);
        applies_from.saturating_add(self.grace_at(applies_from))
    }
}

/// One organisation's two-step verification policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPolicy {
    /// The organisation.
    pub org_id: String,
    /// The mandate, if switched on.
    pub mandate: Option<Mandate>,
}

/// Why a policy change was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The actor (or, for a reset, the member) is not a member of this organisation.
    #[error("not a member of this organisation")]
    NotAMember,
    /// Only owners and admins may change the mandate or reset a member.
    #[error("only owners and admins can change two-step verification for the organisation")]
    NotOwnerOrAdmin,
    /// The actor must have completed their own 2FA setup first.
    #[error("set up two-step verification for your own account first")]
    ActorWithoutTwoFactor,
    /// The mandate is already on (use [`OrgPolicy::set_grace`] to change the grace period).
    #[error("two-step verification is already required")]
    AlreadyOn,
    /// The mandate is already off.
    #[error("two-step verification is not required")]
    AlreadyOff,
    /// A reset names the actor: their own second factor is theirs to disable.
    #[error("you cannot reset your own two-step verification")]
    OwnAccount,
    /// An admin may not reset an owner's second factor; another owner may.
    #[error("only an owner can reset an owner's two-step verification")]
    MemberIsOwner,
}

/// A member the mandate would affect, with their deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// The member.
    pub user_id: String,
    /// When they must have enrolled (Unix time); at or before `now` means immediately.
    pub deadline: u64,
}

/// What a user must do about two-step verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Requirement {
    /// Nothing: no mandate applies, or 2FA is on.
    None,
    /// Enroll before `deadline`; signing in is allowed until then.
    EnrollBy {
        /// The organisation whose deadline is the earliest.
        org_id: String,
        /// The deadline (Unix time).
        deadline: u64,
    },
    /// Enroll now: signing in leads straight to the enrollment wizard.
    EnrollNow {
        /// The organisation requiring it.
        org_id: String,
    },
}

/// Disabling 2FA is refused because an organisation requires it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{org_id} requires two-step verification; leave the organisation or ask an admin to lift the requirement"
)]
pub struct DisableRefused {
    /// The organisation requiring 2FA.
    pub org_id: String,
}

impl OrgPolicy {
    /// An organisation without a mandate.
    pub fn new(org_id: &str) -> Self {
        Self {
            org_id: org_id.to_owned(),
            mandate: None,
        }
    }

    /// Switches the mandate on at `now`, with `grace_seconds` (0 for none).
    ///
    /// # Errors
    /// [`Refusal::NotAMember`], [`Refusal::NotOwnerOrAdmin`],
    /// [`Refusal::ActorWithoutTwoFactor`] (a pending enrollment does not count) or
    /// [`Refusal::AlreadyOn`].
    pub fn set_mandate(
        &self,
        actor: &Membership,
        actor_two_factor: TwoFactor,
        grace_seconds: u64,
        now: u64,
    ) -> Result<Self, Refusal> {
        actor.manages(&self.org_id, actor_two_factor)?;
        if self.mandate.is_some() {
            return Err(Refusal::AlreadyOn);
        }
        Ok(Self {
            org_id: self.org_id.clone(),
            mandate: Some(Mandate::new(now, &actor.user_id, grace_seconds)),
        })
    }

    /// Changes the grace period from `now` on. Deadlines already fixed do not move; members
    /// who join later get the new grace.
    ///
    /// # Errors
    /// As [`OrgPolicy::set_mandate`], or [`Refusal::AlreadyOff`] without a mandate.
    pub fn set_grace(
        &self,
        actor: &Membership,
        actor_two_factor: TwoFactor,
        grace_seconds: u64,
        now: u64,
    ) -> Result<Self, Refusal> {
        actor.manages(&self.org_id, actor_two_factor)?;
        let mut mandate = self.mandate.clone().ok_or(Refusal::AlreadyOff)?;
        // A change applies from now, and always after the previous change (or the switch-on):
        // with a clock that steps back or two edits in one second, it would otherwise reach
        // into deadlines already fixed.
        let latest = mandate
            .grace
            .last()
            .map_or(mandate.since, |change| change.from);
        let from = now.max(latest.saturating_add(1));
        mandate.grace.push(GraceChange {
            from,
            seconds: grace_seconds,
        });
        Ok(Self {
            org_id: self.org_id.clone(),
            mandate: Some(mandate),
        })
    }

    /// Switches the mandate off.
    ///
    /// # Errors
    /// As [`OrgPolicy::set_mandate`], or [`Refusal::AlreadyOff`].
    pub fn clear_mandate(
        &self,
        actor: &Membership,
        actor_two_factor: TwoFactor,
    ) -> Result<Self, Refusal> {
        actor.manages(&self.org_id, actor_two_factor)?;
        if self.mandate.is_none() {
            return Err(Refusal::AlreadyOff);
        }
        Ok(Self::new(&self.org_id))
    }

    /// Before switching on at `now` with `grace_seconds`: the members without 2FA, and the
    /// deadline each would get. Members of other organisations are ignored.
    pub fn preview(
        &self,
        members: &[(Membership, TwoFactor)],
        grace_seconds: u64,
        now: u64,
    ) -> Vec<Affected> {
        // The deadlines of the mandate switching it on now would make.
        let would_be = Mandate::new(now, "", grace_seconds);
        members
            .iter()
            .filter(|(membership, two_factor)| {
                membership.org_id == self.org_id && !two_factor.is_enabled()
            })
            .map(|(membership, _)| Affected {
                user_id: membership.user_id.clone(),
                deadline: would_be.deadline_for(membership.joined_at),
            })
            .collect()
    }

    /// This organisation's requirement for one member, ignoring their 2FA status.
    fn requirement_for(&self, membership: &Membership, now: u64) -> Requirement {
        match &self.mandate {
            Some(mandate) if membership.org_id == self.org_id => {
                let deadline = mandate.deadline_for(membership.joined_at);
                if deadline > now {
                    Requirement::EnrollBy {
                        org_id: self.org_id.clone(),
                        deadline,
                    }
                } else {
                    Requirement::EnrollNow {
                        org_id: self.org_id.clone(),
                    }
                }
            }
            _ => Requirement::None,
        }
    }
}

impl Requirement {
    /// Orders requirements by strictness: enroll now, then the earliest deadline, then none.
    fn strictness(&self) -> (u8, u64) {
        match self {
            Self::EnrollNow { .. } => (2, 0),
            Self::EnrollBy { deadline, .. } => (1, u64::MAX - deadline),
            Self::None => (0, 0),
        }
    }
}

/// What `memberships` (each with its organisation's policy) require of a user whose 2FA stands
/// at `two_factor`, at `now`. The strictest organisation wins; with 2FA enabled, nothing.
pub fn requirement(
    memberships: &[(&Membership, &OrgPolicy)],
    two_factor: TwoFactor,
    now: u64,
) -> Requirement {
    if two_factor.is_enabled() {
        return Requirement::None;
    }
    memberships
        .iter()
        .map(|(membership, policy)| policy.requirement_for(membership, now))
        .max_by_key(Requirement::strictness)
        .unwrap_or(Requirement::None)
}

/// Whether the user may turn 2FA off: not while an organisation of theirs mandates it.
///
/// # Errors
/// [`DisableRefused`] naming the (first) organisation that requires 2FA.
pub fn may_disable(memberships: &[(&Membership, &OrgPolicy)]) -> Result<(), DisableRefused> {
    match memberships
        .iter()
        .find(|(membership, policy)| policy.mandate.is_some() && membership.org_id == policy.org_id)
    {
        Some((_, policy)) => Err(DisableRefused {
            org_id: policy.org_id.clone(),
        }),
        None => Ok(()),
    }
}
