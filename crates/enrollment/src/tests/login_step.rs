//! The second step at login: TOTP and recovery codes, replay, binding, expiry and lockout.

use super::{Enrolled, T0, code_at, enrolled, factor, policies};
use crate::login::{self, Answer, Commit, LoginError, StoredFactor};
use crate::{Locked, Throttle};
use twostep_otp::Rejection;
use twostep_recovery::RedeemError;

#[test]
fn users_without_a_second_factor_need_no_second_step() {
    let policy = policies();
    assert!(login::begin(&super::account("bob"), None, &mut rand::rng(), &policy, T0).is_none());
    let challenge = login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policy,
        T0,
    )
    .unwrap();
    assert_eq!(
        (challenge.user_id(), challenge.expires_at()),
        ("alice", T0 + 300)
    );
}

#[test]
fn a_totp_code_logs_in_once() {
    let Enrolled { credential, .. } = enrolled();
    let policy = policies();
    let now = T0 + 3_600;
    let code = code_at(&credential, now);
    let challenge = login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policy,
        now,
    )
    .unwrap();
    let verified = challenge
        .verify(
            "alice",
            Answer::guess(&code),
            factor(&credential, Some(credential.last_accepted_step)),
            Throttle::default(),
            &policy,
            now,
        )
        .unwrap();
    let Commit::AcceptStep { step } = verified.commit else {
        panic!("a TOTP commit")
    };
    assert_eq!(step, now / 30);
    // The same code through another login is a replay once the step is stored.
    let again = login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policy,
        now,
    )
    .unwrap();
    let refused = again
        .verify(
            "alice",
            Answer::Totp(&code),
            factor(&credential, Some(step)),
            Throttle::default(),
            &policy,
            now + 5,
        )
        .unwrap_err();
    assert_eq!(refused.error, LoginError::Code(Rejection::Replayed));
    assert_eq!(
        refused.throttle.consecutive_failures, 1,
        "a replay counts as a failure"
    );
}

#[test]
fn the_code_that_confirmed_enrollment_cannot_log_in() {
    let Enrolled {
        credential,
        setup_code,
        ..
    } = enrolled();
    let policy = policies();
    let challenge = login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policy,
        T0 + 45,
    )
    .unwrap();
    let refused = challenge
        .verify(
            "alice",
            Answer::Totp(&setup_code),
            factor(&credential, Some(credential.last_accepted_step)),
            Throttle::default(),
            &policy,
            T0 + 45,
        )
        .unwrap_err();
    assert_eq!(refused.error, LoginError::Code(Rejection::Replayed));
}

#[test]
fn a_recovery_code_logs_in_once_and_reports_what_is_left() {
    let Enrolled {
        credential,
        recovery_codes,
        ..
    } = enrolled();
    let policy = policies();
    let challenge = login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policy,
        T0 + 100,
    )
    .unwrap();
    let typed = recovery_codes[7].to_uppercase();
    assert!(matches!(Answer::guess(&typed), Answer::RecoveryCode(_)));
    let verified = challenge
        .verify(
            "alice",
            Answer::guess(&typed),
            factor(&credential, None),
            Throttle::default(),
            &policy,
            T0 + 100,
        )
        .unwrap();
    let Commit::ConsumeRecoveryCode {
        set,
        remaining,
        low,
    } = verified.commit
    else {
        panic!("a recovery commit")
    };
    assert_eq!((remaining, low), (9, false));
    // With the new set stored, the code never works again.
    let stored = StoredFactor {
        recovery_codes: &set,
        ..factor(&credential, None)
    };
    let challenge = login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policy,
        T0 + 101,
    )
    .unwrap();
    let refused = challenge
        .verify(
            "alice",
            Answer::guess(&typed),
            stored,
            Throttle::default(),
            &policy,
            T0 + 101,
        )
        .unwrap_err();
    assert_eq!(
        refused.error,
        LoginError::RecoveryCode(RedeemError::NoMatch)
    );
}

#[test]
fn a_challenge_is_bound_to_its_user_and_expires() {
    let Enrolled { credential, .. } = enrolled();
    let policy = policies();
    let now = T0 + 1_000;
    let code = code_at(&credential, now);
    let challenge = login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policy,
        now,
    )
    .unwrap();
    let refused = challenge
        .verify(
            "mallory",
            Answer::Totp(&code),
            factor(&credential, None),
            Throttle::default(),
            &policy,
            now,
        )
        .unwrap_err();
    assert_eq!(refused.error, LoginError::WrongUser);
    let late = now + 300;
    let code = code_at(&credential, late);
    let refused = refused
        .challenge
        .verify(
            "alice",
            Answer::Totp(&code),
            factor(&credential, None),
            Throttle::default(),
            &policy,
            late,
        )
        .unwrap_err();
    assert_eq!(refused.error, LoginError::Expired);
}

#[test]
fn failures_lock_the_account_across_challenges_and_methods() {
    let Enrolled {
        credential,
        recovery_codes,
        ..
    } = enrolled();
    let policy = policies();
    let now = T0 + 2_000;
    let right = code_at(&credential, now);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let mut throttle = Throttle::default();
    // Three wrong TOTP codes, one malformed, through separate challenges …
    for input in [wrong, wrong, wrong, ""] {
        let challenge = login::begin(
            &super::account("alice"),
            Some([0; 16]),
            &mut rand::rng(),
            &policy,
            now,
        )
        .unwrap();
        throttle = challenge
            .verify(
                "alice",
                Answer::Totp(input),
                factor(&credential, None),
                throttle,
                &policy,
                now,
            )
            .unwrap_err()
            .throttle;
    }
    // … a recovery-code typo costs nothing, a well-formed wrong one does.
    let challenge = login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policy,
        now,
    )
    .unwrap();
    let refused = challenge
        .verify(
            "alice",
            Answer::RecoveryCode("abcd-efgh"),
            factor(&credential, None),
            throttle,
            &policy,
            now,
        )
        .unwrap_err();
    assert_eq!(refused.throttle, throttle);
    let refused = refused
        .challenge
        .verify(
            "alice",
            Answer::RecoveryCode("0000-0000-0000-0000"),
            factor(&credential, None),
            throttle,
            &policy,
            now,
        )
        .unwrap_err();
    throttle = refused.throttle;
    assert_eq!(throttle.window_failures, 5);
    // Locked: the right code and a right recovery code are refused until the window ends.
    let refused = refused
        .challenge
        .verify(
            "alice",
            Answer::Totp(&right),
            factor(&credential, None),
            throttle,
            &policy,
            now + 1,
        )
        .unwrap_err();
    assert_eq!(refused.error, LoginError::Locked(Locked::Until(now + 900)));
    let refused = refused
        .challenge
        .verify(
            "alice",
            Answer::RecoveryCode(&recovery_codes[0]),
            factor(&credential, None),
            throttle,
            &policy,
            now + 2,
        )
        .unwrap_err();
    assert!(matches!(refused.error, LoginError::Locked(_)));
}

#[test]
fn one_box_tells_codes_apart() {
    assert!(matches!(Answer::guess("123 456"), Answer::Totp(_)));
    assert!(matches!(Answer::guess("1234-5678"), Answer::Totp(_)));
    assert!(matches!(Answer::guess("12345"), Answer::RecoveryCode(_)));
    assert!(matches!(
        Answer::guess("abcd-efgh-jkmn-pqrs"),
        Answer::RecoveryCode(_)
    ));
    assert!(matches!(
        Answer::guess("0000-0000-0000-0000"),
        Answer::RecoveryCode(_)
    ));
}
