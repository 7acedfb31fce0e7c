//! An owner or admin resets a member's second factor: every refusal, in the order the rules
//! are checked, what each costs the actor, and what a reset leaves behind — the member's
//! factor gone with its counters, a mail to them, one audit event naming both, the actor's
//! code spent, and under a mandate an enrollment at the member's next sign-in.

mod common;

use common::orgs::{PASSWORD, World, enable, world};
use common::{acct, one_typo};
use twostep_enrollment::{
    AuditKind, Clock, LoginStep, Mail, Notice, ServiceError, Store, Throttle,
};
use twostep_otp::{Rejection, Totp};
use twostep_policy::{Membership, Refusal, Role};

/// `actor` resets `member` in "acme" with their password and current code.
async fn reset(world: &World, actor: &str, member: &str, totp: &Totp) -> Result<(), ServiceError> {
    let code = world.code(totp);
    world
        .service
        .reset_member(&acct(actor), "acme", &acct(member), PASSWORD, &code)
        .await
}

#[allow(clippy::panic)] // an assertion
fn refusal(result: Result<(), ServiceError>) -> Refusal {
    match result {
        Err(ServiceError::Policy(refusal)) => refusal,
        other => panic!("expected a policy refusal, got {other:?}"),
    }
}

#[allow(clippy::unwrap_used)] // a failed read is a failed test
async fn enabled(world: &World, user: &str) -> bool {
    world.service.status(user).await.unwrap().is_enabled()
}

#[allow(clippy::unwrap_used)] // a failed read is a failed test
async fn throttle(world: &World, user: &str) -> Throttle {
    world.service.store().throttle(user).await.unwrap()
}

/// The user's failures: in the window, and in a row.
async fn failures(world: &World, user: &str) -> (u32, u32) {
    let throttle = throttle(world, user).await;
    (throttle.window_failures, throttle.consecutive_failures)
}

/// Refused on the rules alone: nothing of the member's changes and the actor spends no
/// attempt (their counters stay at zero).
#[tokio::test]
async fn the_rules_refuse_before_any_attempt_is_spent() {
    let world = world();
    world
        .directory
        .join(Membership::new("elsewhere", "eve", Role::Owner, 0));
    let (bob, _) = enable(&world, "bob").await;
    let (eve, _) = enable(&world, "eve").await;
    let (cy, _) = enable(&world, "cy").await;
    world.clock.advance(30);
    assert_eq!(
        refusal(reset(&world, "eve", "bob", &eve).await),
        Refusal::NotAMember,
        "an owner of another organisation"
    );
    assert_eq!(
        refusal(
            world
                .service
                .reset_member(&acct("ada"), "acme", &acct("eve"), PASSWORD, "000000")
                .await
        ),
        Refusal::NotAMember,
        "a member of another organisation"
    );
    assert_eq!(
        refusal(reset(&world, "cy", "bob", &cy).await),
        Refusal::NotOwnerOrAdmin
    );
    assert_eq!(
        refusal(reset(&world, "ada", "bob", &bob).await),
        Refusal::ActorWithoutTwoFactor
    );
    let (ada, _) = enable(&world, "ada").await;
    world.clock.advance(30);
    assert_eq!(
        refusal(reset(&world, "ada", "ada", &ada).await),
        Refusal::OwnAccount
    );
    enable(&world, "olga").await;
    assert_eq!(
        refusal(reset(&world, "ada", "olga", &ada).await),
        Refusal::MemberIsOwner
    );
    for user in ["ada", "bob", "cy", "eve", "olga"] {
        assert!(enabled(&world, user).await, "{user} keeps 2FA");
        assert_eq!(failures(&world, user).await, (0, 0), "{user}");
    }
    world.audit.events().iter().for_each(|event| {
        assert_ne!(event.kind, AuditKind::Reset);
    });
}

#[tokio::test]
async fn a_member_without_two_factor_has_nothing_to_reset() {
    let world = world();
    let (ada, _) = enable(&world, "ada").await;
    world.clock.advance(30);
    assert!(matches!(
        reset(&world, "ada", "bob", &ada).await,
        Err(ServiceError::NotEnabled)
    ));
    assert_eq!(failures(&world, "ada").await, (0, 0));
}

/// A wrong password or code counts against the actor, as at sign-in; a recovery code's typo
/// does not; a locked actor is refused before anything is checked. The member keeps 2FA
/// through all of it.
#[tokio::test]
async fn the_actor_re_authenticates_and_pays_for_wrong_guesses() {
    let world = world();
    let (ada, codes) = enable(&world, "ada").await;
    enable(&world, "bob").await;
    world.clock.advance(30);
    let attempt = |password: &'static str, code: String| {
        let service = &world.service;
        async move {
            service
                .reset_member(&acct("ada"), "acme", &acct("bob"), password, &code)
                .await
        }
    };
    assert!(matches!(
        attempt("wrong", world.code(&ada)).await,
        Err(ServiceError::WrongPassword)
    ));
    assert_eq!(throttle(&world, "ada").await.window_failures, 1);
    let wrong = format!(
        "{:06}",
        (world.code(&ada).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    assert!(matches!(
        attempt(PASSWORD, wrong).await,
        Err(ServiceError::Code(Rejection::Mismatch))
    ));
    assert_eq!(throttle(&world, "ada").await.window_failures, 2);
    assert!(matches!(
        attempt(PASSWORD, one_typo(&codes[0])).await,
        Err(ServiceError::RecoveryCode(_))
    ));
    assert_eq!(
        throttle(&world, "ada").await.window_failures,
        2,
        "a typo the check symbol catches is not a guess"
    );
    for _ in 0..3 {
        let _ = attempt("wrong", world.code(&ada)).await;
    }
    assert!(matches!(
        attempt(PASSWORD, world.code(&ada)).await,
        Err(ServiceError::Locked(_))
    ));
    assert!(enabled(&world, "bob").await, "bob keeps 2FA");
    assert!(
        !world.mailer.take().iter().any(|mail| matches!(
            mail,
            Mail::Notice {
                notice: Notice::Reset,
                ..
            }
        )),
        "no reset notice"
    );
}

/// What a reset leaves: the member's factor and counters gone (a lock with them), a mail to
/// the member, one event naming both and the organisation, the actor's code spent — it can
/// neither sign the actor in nor confirm a second reset — and, under a mandate, the member
/// sent to the wizard at their next sign-in.
#[tokio::test]
async fn a_reset_clears_the_member_and_tells_them() {
    let world = world();
    let (ada, _) = enable(&world, "ada").await;
    enable(&world, "bob").await;
    world.clock.advance(30);
    world
        .service
        .set_mandate(&acct("ada"), "acme", 0)
        .await
        .unwrap();
    // Bob locked himself out.
    for _ in 0..5 {
        let _ = world.sign_in("bob", "000000").await;
    }
    assert_ne!(throttle(&world, "bob").await, Throttle::default());
    world.mailer.take();

    let used = world.code(&ada);
    world
        .service
        .reset_member(&acct("ada"), "acme", &acct("bob"), PASSWORD, &used)
        .await
        .unwrap();
    let stored = world.service.store().account("bob").await.unwrap();
    assert!(stored.credential.is_none());
    assert_eq!(
        stored.throttle,
        Throttle::default(),
        "the lock went with it"
    );

    let mail = world.mailer.take();
    assert!(
        matches!(mail.as_slice(), [Mail::Notice { to, notice: Notice::Reset }] if to == "bob@example.com"),
        "{mail:?}"
    );
    let resets: Vec<_> = world
        .audit
        .events()
        .into_iter()
        .filter(|event| event.kind == AuditKind::Reset)
        .map(|event| (event.user_id, event.actor, event.org, event.at))
        .collect();
    assert_eq!(
        resets,
        [(
            "bob".to_owned(),
            Some("ada".to_owned()),
            Some("acme".to_owned()),
            world.clock.now()
        )]
    );
    assert!(
        !world
            .audit
            .events()
            .iter()
            .any(|event| event.user_id == "ada" && event.kind == AuditKind::LoginWithCode),
        "the actor's code confirmed a reset; it signed nobody in"
    );

    let refused = world.sign_in("ada", &used).await.unwrap_err();
    assert!(
        matches!(refused.error, ServiceError::Code(Rejection::Replayed)),
        "the code was spent: {}",
        refused.error
    );
    assert!(
        matches!(
            world.service.begin_login(&acct("bob")).await.unwrap(),
            LoginStep::EnrollmentRequired { org_id, .. } if org_id == "acme"
        ),
        "under the mandate bob enrolls again before anything else"
    );
    enable(&world, "bob").await;
    assert!(enabled(&world, "bob").await);
}

/// An owner may reset an admin (the rule an admin may not turn around).
#[tokio::test]
async fn an_owner_resets_an_admin() {
    let world = world();
    let (olga, _) = enable(&world, "olga").await;
    enable(&world, "ada").await;
    world.clock.advance(30);
    reset(&world, "olga", "ada", &olga).await.unwrap();
    assert!(!enabled(&world, "ada").await);
    assert!(enabled(&world, "olga").await);
}

/// The value sessions are checked against: a sign-in leaves it (and answers it, with a code,
/// a recovery code or the password alone), a reset and a disable move it on, so the member's
/// other sessions end.
#[tokio::test]
#[allow(clippy::panic)] // an assertion
async fn a_reset_or_disable_moves_the_security_revision_a_sign_in_does_not() {
    let world = world();
    let (ada, _) = enable(&world, "ada").await;
    let (bob, bob_codes) = enable(&world, "bob").await;
    let security = |user: &'static str| {
        let service = &world.service;
        async move { service.status(user).await.unwrap().security_revision }
    };
    let enrolled = security("bob").await;
    world.clock.advance(30);
    let signed_in = world.sign_in("bob", &world.code(&bob)).await.unwrap();
    assert_eq!(signed_in.security_revision, enrolled, "answered");
    assert_eq!(security("bob").await, enrolled, "a sign-in");
    let signed_in = world.sign_in("bob", &bob_codes[0]).await.unwrap();
    assert_eq!(
        signed_in.security_revision, enrolled,
        "with a recovery code"
    );
    reset(&world, "ada", "bob", &ada).await.unwrap();
    let after_reset = security("bob").await;
    assert!(after_reset > enrolled, "a reset");
    let LoginStep::SignedIn {
        security_revision, ..
    } = world.service.begin_login(&acct("bob")).await.unwrap()
    else {
        panic!("2FA is off after the reset");
    };
    assert_eq!(security_revision, after_reset, "the password alone");
    let (bob, _) = enable(&world, "bob").await;
    let enrolled = security("bob").await;
    assert!(enrolled > after_reset, "enrolling again");
    world.clock.advance(30);
    let confirm = world
        .service
        .start_disable(&acct("bob"), PASSWORD)
        .await
        .unwrap();
    world
        .service
        .confirm_disable(&acct("bob"), confirm, &world.code(&bob))
        .await
        .unwrap();
    assert!(security("bob").await > enrolled, "a disable");
}
