//! Org mandates: who may set them, previews, deadlines that never move, strictest-wins across
//! organisations, and disabling under a mandate.

use proptest::prelude::*;
use twostep_policy::{
    Affected, DisableRefused, Membership, OrgPolicy, Refusal, Requirement, Role, TwoFactor,
    may_disable, requirement,
};

const DAY: u64 = 86_400;
const T: u64 = 1_764_288_000;

fn member(org: &str, user: &str, role: Role, joined_at: u64) -> Membership {
    Membership::new(org, user, role, joined_at)
}

#[test]
fn only_owners_and_admins_with_two_factor_enabled_may_set_the_mandate() {
    let policy = OrgPolicy::new("acme");
    let cases = [
        (
            member("acme", "m", Role::Member, 0),
            TwoFactor::Enabled,
            Err(Refusal::NotOwnerOrAdmin),
        ),
        (
            member("acme", "a", Role::Admin, 0),
            TwoFactor::None,
            Err(Refusal::ActorWithoutTwoFactor),
        ),
        (
            member("acme", "a", Role::Admin, 0),
            TwoFactor::Pending,
            Err(Refusal::ActorWithoutTwoFactor),
        ),
        (
            member("other", "o", Role::Owner, 0),
            TwoFactor::Enabled,
            Err(Refusal::NotAMember),
        ),
    ];
    for (actor, two_factor, expected) in cases {
        assert_eq!(
            policy.set_mandate(&actor, two_factor, 0, T).map(|_| ()),
            expected,
            "{actor:?} {two_factor:?}"
        );
    }
    for role in [Role::Owner, Role::Admin] {
        let actor = member("acme", "boss", role, 0);
        let on = policy
            .set_mandate(&actor, TwoFactor::Enabled, DAY, T)
            .expect("allowed");
        let mandate = on.mandate.as_ref().expect("on");
        assert_eq!((mandate.since, mandate.set_by.as_str()), (T, "boss"));
        assert_eq!(
            on.set_mandate(&actor, TwoFactor::Enabled, DAY, T).err(),
            Some(Refusal::AlreadyOn)
        );
        let off = on
            .clear_mandate(&actor, TwoFactor::Enabled)
            .expect("allowed");
        assert_eq!(off.mandate, None);
        assert_eq!(
            off.clear_mandate(&actor, TwoFactor::Enabled).err(),
            Some(Refusal::AlreadyOff)
        );
        // Clearing needs the same standing as setting.
        let member = member("acme", "m", Role::Member, 0);
        assert_eq!(
            on.clear_mandate(&member, TwoFactor::Enabled).err(),
            Some(Refusal::NotOwnerOrAdmin)
        );
    }
}

#[test]
fn the_preview_lists_exactly_the_unenrolled_members_with_their_deadlines() {
    let policy = OrgPolicy::new("acme");
    let members = vec![
        (member("acme", "ada", Role::Admin, 0), TwoFactor::Enabled),
        (member("acme", "bob", Role::Member, 0), TwoFactor::None),
        (member("acme", "cy", Role::Member, 0), TwoFactor::Pending),
        (member("acme", "dee", Role::Owner, 0), TwoFactor::Enabled),
        (member("other", "eve", Role::Member, 0), TwoFactor::None),
    ];
    let affected = policy.preview(&members, 7 * DAY, T);
    assert_eq!(
        affected,
        vec![
            Affected {
                user_id: "bob".into(),
                deadline: T + 7 * DAY
            },
            Affected {
                user_id: "cy".into(),
                deadline: T + 7 * DAY
            },
        ]
    );
}

#[test]
fn deadlines_are_fixed_at_switch_on_or_join_and_never_move() {
    let admin = member("acme", "ada", Role::Admin, 0);
    let early = member("acme", "bob", Role::Member, 0);
    let policy = OrgPolicy::new("acme")
        .set_mandate(&admin, TwoFactor::Enabled, 7 * DAY, T)
        .unwrap();
    let deadline = |who: &Membership, policy: &OrgPolicy, now| {
        requirement(&[(who, policy)], TwoFactor::None, now)
    };
    assert_eq!(
        deadline(&early, &policy, T),
        Requirement::EnrollBy {
            org_id: "acme".into(),
            deadline: T + 7 * DAY
        }
    );

    // The grace is later cut to zero: bob keeps his deadline; a new member gets none.
    let edited = policy
        .set_grace(&admin, TwoFactor::Enabled, 0, T + DAY)
        .unwrap();
    assert_eq!(
        deadline(&early, &edited, T + 2 * DAY),
        Requirement::EnrollBy {
            org_id: "acme".into(),
            deadline: T + 7 * DAY
        }
    );
    let late = member("acme", "cy", Role::Member, T + 3 * DAY);
    assert_eq!(
        deadline(&late, &edited, T + 3 * DAY),
        Requirement::EnrollNow {
            org_id: "acme".into()
        }
    );
    // A member who joined after switch-on but before the edit counts from joining.
    let between = member("acme", "dee", Role::Member, T + DAY / 2);
    assert_eq!(
        deadline(&between, &edited, T + DAY),
        Requirement::EnrollBy {
            org_id: "acme".into(),
            deadline: T + DAY / 2 + 7 * DAY
        }
    );
    // Lengthening the grace later does not extend an existing deadline either.
    let longer = edited
        .set_grace(&admin, TwoFactor::Enabled, 30 * DAY, T + 4 * DAY)
        .unwrap();
    assert_eq!(
        deadline(&early, &longer, T + 5 * DAY),
        Requirement::EnrollBy {
            org_id: "acme".into(),
            deadline: T + 7 * DAY
        }
    );
    // Past the deadline: enroll now.
    assert_eq!(
        deadline(&early, &longer, T + 7 * DAY),
        Requirement::EnrollNow {
            org_id: "acme".into()
        }
    );
    // Enabled 2FA satisfies it; a pending enrollment does not.
    assert_eq!(
        requirement(&[(&early, &longer)], TwoFactor::Enabled, T + 8 * DAY),
        Requirement::None
    );
    assert_eq!(
        requirement(&[(&early, &longer)], TwoFactor::Pending, T + 8 * DAY),
        Requirement::EnrollNow {
            org_id: "acme".into()
        }
    );
}

#[test]
fn a_clock_stepping_back_cannot_move_a_fixed_deadline() {
    let admin = member("acme", "ada", Role::Admin, 0);
    let bob = member("acme", "bob", Role::Member, 0);
    let policy = OrgPolicy::new("acme")
        .set_mandate(&admin, TwoFactor::Enabled, 7 * DAY, T)
        .unwrap();
    // Another server, 10 s behind, cuts the grace to zero.
    let edited = policy
        .set_grace(&admin, TwoFactor::Enabled, 0, T - 10)
        .unwrap();
    assert_eq!(
        requirement(&[(&bob, &edited)], TwoFactor::None, T + DAY),
        Requirement::EnrollBy {
            org_id: "acme".into(),
            deadline: T + 7 * DAY
        }
    );
}

#[test]
fn the_strictest_organisation_wins() {
    let boss = |org: &str| member(org, "boss", Role::Owner, 0);
    let relaxed = OrgPolicy::new("relaxed")
        .set_mandate(&boss("relaxed"), TwoFactor::Enabled, 30 * DAY, T)
        .unwrap();
    let strict = OrgPolicy::new("strict")
        .set_mandate(&boss("strict"), TwoFactor::Enabled, 2 * DAY, T)
        .unwrap();
    let none = OrgPolicy::new("none");
    let now_org = OrgPolicy::new("now")
        .set_mandate(&boss("now"), TwoFactor::Enabled, 0, T)
        .unwrap();
    let m = |org: &str| member(org, "u", Role::Member, 0);
    let (in_relaxed, in_strict, in_none, in_now) = (m("relaxed"), m("strict"), m("none"), m("now"));

    let both = [
        (&in_relaxed, &relaxed),
        (&in_strict, &strict),
        (&in_none, &none),
    ];
    assert_eq!(
        requirement(&both, TwoFactor::None, T + DAY),
        Requirement::EnrollBy {
            org_id: "strict".into(),
            deadline: T + 2 * DAY
        }
    );
    let all = [
        (&in_relaxed, &relaxed),
        (&in_now, &now_org),
        (&in_strict, &strict),
    ];
    assert_eq!(
        requirement(&all, TwoFactor::None, T + DAY),
        Requirement::EnrollNow {
            org_id: "now".into()
        }
    );
    assert_eq!(
        requirement(&[(&in_none, &none)], TwoFactor::None, T),
        Requirement::None
    );
    assert_eq!(requirement(&[], TwoFactor::None, T), Requirement::None);
}

#[test]
fn disabling_is_refused_under_a_mandate_until_leaving_or_clearing() {
    let admin = member("acme", "ada", Role::Admin, 0);
    let bob = member("acme", "bob", Role::Member, 0);
    let policy = OrgPolicy::new("acme")
        .set_mandate(&admin, TwoFactor::Enabled, 0, T)
        .unwrap();
    let free = OrgPolicy::new("free");
    let in_free = member("free", "bob", Role::Member, 0);
    assert_eq!(
        may_disable(&[(&in_free, &free), (&bob, &policy)]),
        Err(DisableRefused {
            org_id: "acme".into()
        })
    );
    assert!(
        may_disable(&[(&in_free, &free)]).is_ok(),
        "after leaving acme"
    );
    let cleared = policy.clear_mandate(&admin, TwoFactor::Enabled).unwrap();
    assert!(
        may_disable(&[(&bob, &cleared)]).is_ok(),
        "after the mandate is cleared"
    );
    assert!(
        DisableRefused {
            org_id: "acme".into()
        }
        .to_string()
        .contains("acme")
    );
}

#[test]
fn policies_round_trip_through_serde() {
    let admin = member("acme", "ada", Role::Admin, 0);
    let policy = OrgPolicy::new("acme")
        .set_mandate(&admin, TwoFactor::Enabled, DAY, T)
        .unwrap();
    let policy = policy
        .set_grace(&admin, TwoFactor::Enabled, 0, T + 5)
        .unwrap();
    let json = serde_json::to_string(&policy).unwrap();
    assert_eq!(serde_json::from_str::<OrgPolicy>(&json).unwrap(), policy);
}

proptest! {
    /// Whatever the memberships, policies and time: no panic, and the answer is the strictest
    /// of the per-organisation answers.
    #[test]
    fn requirement_is_the_strictest_applicable_rule(
        orgs in proptest::collection::vec((any::<bool>(), 0u64..40 * DAY, 0u64..40 * DAY, any::<u64>()), 0..6),
        now in any::<u64>(),
        enabled in any::<bool>(),
    ) {
        let owners: Vec<Membership> = (0..orgs.len()).map(|i| member(&format!("o{i}"), "boss", Role::Owner, 0)).collect();
        let policies: Vec<OrgPolicy> = orgs.iter().enumerate().map(|(i, (on, since, grace, _))| {
            let policy = OrgPolicy::new(&format!("o{i}"));
            if *on { policy.set_mandate(&owners[i], TwoFactor::Enabled, *grace, *since).unwrap() } else { policy }
        }).collect();
        let memberships: Vec<Membership> = orgs.iter().enumerate().map(|(i, (_, _, _, joined))| member(&format!("o{i}"), "u", Role::Member, *joined)).collect();
        let pairs: Vec<(&Membership, &OrgPolicy)> = memberships.iter().zip(&policies).collect();
        let status = if enabled { TwoFactor::Enabled } else { TwoFactor::None };
        let answer = requirement(&pairs, status, now);
        let singles: Vec<Requirement> = pairs.iter().map(|pair| requirement(&[*pair], status, now)).collect();
        if enabled || singles.iter().all(|r| *r == Requirement::None) {
            prop_assert_eq!(answer, Requirement::None);
        } else if singles.iter().any(|r| matches!(r, Requirement::EnrollNow { .. })) {
            let now_required = matches!(answer, Requirement::EnrollNow { .. });
            prop_assert!(now_required, "{:?}", answer);
        } else {
            let earliest = singles.iter().filter_map(|r| match r { Requirement::EnrollBy { deadline, .. } => Some(*deadline), _ => None }).min();
            let by_earliest = matches!(answer, Requirement::EnrollBy { deadline, .. } if Some(deadline) == earliest);
            prop_assert!(by_earliest, "{:?}", answer);
        }
    }
}
