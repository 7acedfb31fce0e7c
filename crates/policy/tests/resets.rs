//! Who may reset a member's two-step verification: owners and admins of the member's
//! organisation with 2FA of their own, never themselves, an admin never an owner.

use proptest::prelude::*;
use twostep_policy::{Membership, Refusal, Role, TwoFactor};

fn member(org: &str, user: &str, role: Role) -> Membership {
    Membership::new(org, user, role, 0)
}

#[test]
fn every_refusal_of_a_reset() {
    let bob = member("acme", "bob", Role::Member);
    let olga = member("acme", "olga", Role::Owner);
    let ada = member("acme", "ada", Role::Admin);
    let cases = [
        // Allowed.
        (&ada, TwoFactor::Enabled, &bob, Ok(())),
        (&olga, TwoFactor::Enabled, &bob, Ok(())),
        (&olga, TwoFactor::Enabled, &ada, Ok(())),
        (
            &olga,
            TwoFactor::Enabled,
            &member("acme", "otto", Role::Owner),
            Ok(()),
        ),
        // The member is elsewhere, or the actor is.
        (
            &ada,
            TwoFactor::Enabled,
            &member("other", "bob", Role::Member),
            Err(Refusal::NotAMember),
        ),
        (
            &member("other", "ada", Role::Admin),
            TwoFactor::Enabled,
            &bob,
            Err(Refusal::NotAMember),
        ),
        // Not an owner or admin.
        (
            &member("acme", "cy", Role::Member),
            TwoFactor::Enabled,
            &bob,
            Err(Refusal::NotOwnerOrAdmin),
        ),
        // Without 2FA of their own; a pending enrollment does not count.
        (
            &ada,
            TwoFactor::None,
            &bob,
            Err(Refusal::ActorWithoutTwoFactor),
        ),
        (
            &ada,
            TwoFactor::Pending,
            &bob,
            Err(Refusal::ActorWithoutTwoFactor),
        ),
        // Themselves, whatever the role.
        (&ada, TwoFactor::Enabled, &ada, Err(Refusal::OwnAccount)),
        (&olga, TwoFactor::Enabled, &olga, Err(Refusal::OwnAccount)),
        // An admin resetting an owner.
        (&ada, TwoFactor::Enabled, &olga, Err(Refusal::MemberIsOwner)),
    ];
    for (actor, own, target, expected) in cases {
        assert_eq!(
            actor.may_reset(own, target),
            expected,
            "{} ({:?}, {own:?}) resetting {} ({:?} in {})",
            actor.user_id,
            actor.role,
            target.user_id,
            target.role,
            target.org_id
        );
    }
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Owner), Just(Role::Admin), Just(Role::Member)]
}

fn two_factor() -> impl Strategy<Value = TwoFactor> {
    prop_oneof![
        Just(TwoFactor::Enabled),
        Just(TwoFactor::Pending),
        Just(TwoFactor::None)
    ]
}

proptest! {
    /// Allowed exactly when all five conditions hold, whatever the ids and roles.
    #[test]
    fn a_reset_is_allowed_exactly_when_every_rule_holds(
        actor_org in "[ab]", actor_id in "[xyz]", actor_role in role(), own in two_factor(),
        member_org in "[ab]", member_id in "[xyz]", member_role in role(),
    ) {
        let actor = member(&actor_org, &actor_id, actor_role);
        let target = member(&member_org, &member_id, member_role);
        let allowed = actor_org == member_org
            && actor_role.manages_security()
            && own.is_enabled()
            && actor_id != member_id
            && (member_role != Role::Owner || actor_role == Role::Owner);
        prop_assert_eq!(actor.may_reset(own, &target).is_ok(), allowed);
    }
}
