//! Org-mandate decisions over arbitrary memberships, roles, policy changes (switch on, grace
//! edits, switch off) and times: nothing panics; only owners and admins with 2FA change a
//! policy; the requirement is always the strictest of the per-organisation answers; a
//! deadline, once fixed, never moves through later edits; disabling is refused exactly when
//! some organisation of the user mandates 2FA.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use twostep_policy::{
    Membership, OrgPolicy, Requirement, Role, TwoFactor, may_disable, requirement,
};

#[derive(Debug, Arbitrary)]
enum Change {
    Set { grace: u32 },
    Grace { grace: u32 },
    Clear,
}

#[derive(Debug, Arbitrary)]
struct Org {
    actor_role: u8,
    actor_two_factor: u8,
    member_joined: u64,
    changes: Vec<(u32, Change)>,
}

fn role(n: u8) -> Role {
    match n % 3 {
        0 => Role::Owner,
        1 => Role::Admin,
        _ => Role::Member,
    }
}

fn two_factor(n: u8) -> TwoFactor {
    match n % 3 {
        0 => TwoFactor::Enabled,
        1 => TwoFactor::Pending,
        _ => TwoFactor::None,
    }
}

fn strictness(r: &Requirement) -> (u8, u64) {
    match r {
        Requirement::EnrollNow { .. } => (2, 0),
        Requirement::EnrollBy { deadline, .. } => (1, u64::MAX - deadline),
        _ => (0, 0),
    }
}

fuzz_target!(|input: (Vec<Org>, u64, u8)| {
    let (orgs, now, user_two_factor) = input;
    let mut policies = Vec::new();
    let mut members = Vec::new();
    for (i, org) in orgs.iter().take(6).enumerate() {
        let org_id = format!("org{i}");
        let actor = Membership::new(&org_id, "actor", role(org.actor_role), 0);
        let actor_two_factor = two_factor(org.actor_two_factor);
        let member = Membership::new(&org_id, "user", Role::Member, org.member_joined);
        let mut policy = OrgPolicy::new(&org_id);
        let mut time = 0u64;
        let mut fixed: Option<u64> = None;
        for (step, change) in org.changes.iter().take(8) {
            time = time.saturating_add(u64::from(*step));
            let result = match change {
                Change::Set { grace } => {
                    policy.set_mandate(&actor, actor_two_factor, u64::from(*grace), time)
                }
                Change::Grace { grace } => {
                    policy.set_grace(&actor, actor_two_factor, u64::from(*grace), time)
                }
                Change::Clear => policy.clear_mandate(&actor, actor_two_factor),
            };
            match result {
                Ok(next) => {
                    assert!(
                        actor.role != Role::Member && actor_two_factor == TwoFactor::Enabled,
                        "unauthorised change"
                    );
                    if matches!(change, Change::Set { .. } | Change::Clear) {
                        fixed = None;
                    }
                    policy = next;
                }
                Err(_) => {}
            }
            // Once the mandate applies to the member (strictly after the second it started
            // applying: several edits within one second all count), their deadline never moves.
            let applies_from = policy
                .mandate
                .as_ref()
                .map(|m| m.since.max(org.member_joined));
            if let (Some(from), Requirement::EnrollBy { deadline, .. }) = (
                applies_from,
                requirement(&[(&member, &policy)], TwoFactor::None, 0),
            ) {
                if time > from {
                    match fixed {
                        Some(earlier) => assert_eq!(earlier, deadline, "a fixed deadline moved"),
                        None => fixed = Some(deadline),
                    }
                }
            }
        }
        policies.push(policy);
        members.push(member);
    }
    let pairs: Vec<(&Membership, &OrgPolicy)> = members.iter().zip(&policies).collect();
    let status = two_factor(user_two_factor);
    let answer = requirement(&pairs, status, now);
    if status == TwoFactor::Enabled {
        assert_eq!(answer, Requirement::None);
    } else {
        let strictest = pairs
            .iter()
            .map(|pair| requirement(&[*pair], status, now))
            .map(|r| strictness(&r))
            .max()
            .unwrap_or((0, 0));
        assert_eq!(strictness(&answer), strictest, "not the strictest rule");
    }
    let mandated = policies.iter().any(|p| p.mandate.is_some());
    assert_eq!(may_disable(&pairs).is_err(), mandated);
});
