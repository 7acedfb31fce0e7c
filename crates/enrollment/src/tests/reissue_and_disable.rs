//! Re-issuing recovery codes and disabling: password first, the old codes valid until the
//! new ones are saved, and a code needed to disable.

use super::{Enrolled, T0, code_at, enrolled, factor, policies};
use crate::disable::{self, DisableError};
use crate::login::{Answer, LoginError, StoredFactor};
use crate::reissue::{self, ReissueError, Replacing};
use crate::sealed::private::Seal;
use crate::{Locked, Throttle};
use twostep_otp::Rejection;
use twostep_recovery::{Locale, RedeemError};

/// The codes a re-issue in these tests replaces.
const REPLACING: Replacing = Replacing {
    revision: 1,
    issue: [0; 16],
};

#[test]
fn reissue_needs_the_password_and_replaces_the_set_only_when_saved() {
    let Enrolled {
        credential,
        recovery_codes,
        ..
    } = enrolled();
    let policy = policies();
    let mut rng = rand::rng();
    let now = T0 + 1_000;

    let (error, throttle) = reissue::start(
        &super::account("alice"),
        REPLACING,
        false,
        Throttle::default(),
        &mut rng,
        &policy,
        now,
    )
    .unwrap_err();
    assert_eq!(error, ReissueError::WrongPassword);
    assert_eq!(throttle.consecutive_failures, 1);

    let (save, _) = reissue::start(
        &super::account("alice"),
        REPLACING,
        true,
        throttle,
        &mut rng,
        &policy,
        now,
    )
    .unwrap();
    assert_eq!(save.codes().codes().len(), 10);
    assert!(
        save.download_file("DFINERY", Locale::En)
            .contents
            .contains("DFINERY recovery codes")
    );
    let new_codes: Vec<String> = super::shown(save.codes());
    // Abandoning here would leave the stored set as it is: the old codes still work.
    assert!(
        credential
            .recovery_codes
            .redeem(&recovery_codes[0], now)
            .is_ok()
    );

    let error = save.complete(false, now + 5).unwrap_err();
    assert_eq!(error, ReissueError::NotSaved);
    let reissued = save.complete(true, now + 10).unwrap();
    // Every old code fails against the new set; the new ones work.
    for old in &recovery_codes {
        assert_eq!(
            reissued.recovery_codes.redeem(old, now + 20).err(),
            Some(RedeemError::NoMatch)
        );
    }
    assert!(
        reissued
            .recovery_codes
            .redeem(&new_codes[3], now + 20)
            .is_ok()
    );
}

#[test]
fn reissue_expires_and_respects_the_lock() {
    let policy = policies();
    let mut rng = rand::rng();
    let (save, _) = reissue::start(
        &super::account("alice"),
        REPLACING,
        true,
        Throttle::default(),
        &mut rng,
        &policy,
        T0,
    )
    .unwrap();
    assert_eq!(
        save.complete(true, T0 + 900).unwrap_err(),
        ReissueError::Expired
    );
    let mut throttle = Throttle::default();
    for _ in 0..5 {
        throttle = reissue::start(
            &super::account("alice"),
            REPLACING,
            false,
            throttle,
            &mut rng,
            &policy,
            T0,
        )
        .unwrap_err()
        .1;
    }
    let (error, _) = reissue::start(
        &super::account("alice"),
        REPLACING,
        true,
        throttle,
        &mut rng,
        &policy,
        T0 + 1,
    )
    .unwrap_err();
    assert_eq!(error, ReissueError::Locked(Locked::Until(T0 + 900)));
}

#[test]
fn disable_needs_the_password_then_a_totp_or_recovery_code() {
    let Enrolled {
        credential,
        recovery_codes,
        ..
    } = enrolled();
    let policy = policies();
    let now = T0 + 5_000;

    let (error, throttle) = disable::start(
        &super::account("alice"),
        [0; 16],
        false,
        Throttle::default(),
        &mut rand::rng(),
        &policy,
        now,
    )
    .unwrap_err();
    assert_eq!(error, DisableError::WrongPassword);

    // With the password: a wrong code is refused and counted, a right one disables.
    let (confirm, throttle) = disable::start(
        &super::account("alice"),
        [0; 16],
        true,
        throttle,
        &mut rand::rng(),
        &policy,
        now,
    )
    .unwrap();
    let right = code_at(&credential, now);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (error, throttle) = confirm
        .confirm(
            "alice",
            Answer::Totp(wrong),
            factor(&credential, None),
            throttle,
            &policy,
            now,
        )
        .unwrap_err();
    assert_eq!(
        error,
        DisableError::Code(LoginError::Code(Rejection::Mismatch))
    );
    assert_eq!(throttle.window_failures, 2);
    confirm
        .confirm(
            "alice",
            Answer::Totp(&right),
            factor(&credential, None),
            throttle,
            &policy,
            now,
        )
        .unwrap();

    // A recovery code works too, and is consumed by the same write.
    let (confirm, throttle) = disable::start(
        &super::account("alice"),
        [0; 16],
        true,
        Throttle::default(),
        &mut rand::rng(),
        &policy,
        now,
    )
    .unwrap();
    confirm
        .confirm(
            "alice",
            Answer::guess(&recovery_codes[2]),
            factor(&credential, None),
            throttle,
            &policy,
            now,
        )
        .unwrap();

    // The setup code, already accepted, cannot disable.
    let (confirm, throttle) = disable::start(
        &super::account("alice"),
        [0; 16],
        true,
        Throttle::default(),
        &mut rand::rng(),
        &policy,
        T0 + 45,
    )
    .unwrap();
    let last = Some(credential.last_accepted_step);
    let code = code_at(&credential, T0 + 30);
    let stored = StoredFactor {
        last_accepted_step: last,
        ..factor(&credential, None)
    };
    let (error, _) = confirm
        .confirm(
            "alice",
            Answer::Totp(&code),
            stored,
            throttle,
            &policy,
            T0 + 45,
        )
        .unwrap_err();
    assert_eq!(
        error,
        DisableError::Code(LoginError::Code(Rejection::Replayed))
    );
}

/// The plaintext a sealed state carries.
fn encoded<T: Seal>(state: &T) -> Vec<u8> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(16 * 1024));
    state.encode(&mut out).unwrap();
    out.to_vec()
}

#[test]
fn pending_reissue_and_disable_states_survive_their_plaintext() {
    use crate::disable::ConfirmWithCode;
    use crate::reissue::SaveNewCodes;
    let Enrolled { credential, .. } = enrolled();
    let mut rng = rand::rng();
    let (save, _) = reissue::start(
        &super::account("alice"),
        REPLACING,
        true,
        Throttle::default(),
        &mut rng,
        &policies(),
        T0,
    )
    .unwrap();
    let shown: Vec<String> = super::shown(save.codes());
    let json = encoded(&save);
    let restored = SaveNewCodes::decode(&json).unwrap();
    let again: Vec<String> = super::shown(restored.codes());
    assert_eq!(again, shown);
    let reissued = restored.complete(true, T0 + 5).unwrap();
    assert!(reissued.recovery_codes.redeem(&shown[0], T0 + 6).is_ok());
    let mut value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    value["version"] = 2.into();
    assert!(SaveNewCodes::decode(&serde_json::to_vec(&value).unwrap()).is_none());

    let policy = policies();
    let (confirm, throttle) = disable::start(
        &super::account("alice"),
        [0; 16],
        true,
        Throttle::default(),
        &mut rand::rng(),
        &policy,
        T0 + 10,
    )
    .unwrap();
    let json = String::from_utf8(encoded(&confirm)).unwrap();
    assert!(
        json.contains("\"version\":3") && !json.contains("secret"),
        "{json}"
    );
    let confirm = ConfirmWithCode::decode(json.as_bytes()).unwrap();
    let code = code_at(&credential, T0 + 10);
    assert!(
        confirm
            .confirm(
                "alice",
                Answer::Totp(&code),
                factor(&credential, None),
                throttle,
                &policy,
                T0 + 10
            )
            .is_ok()
    );
}

#[test]
fn a_login_challenge_never_restores_as_a_disable_step() {
    use crate::disable::ConfirmWithCode;
    let challenge = crate::login::begin(
        &super::account("alice"),
        Some([0; 16]),
        &mut rand::rng(),
        &policies(),
        T0,
    )
    .unwrap();
    assert!(ConfirmWithCode::decode(&encoded(&challenge)).is_none());
    let (confirm, _) = disable::start(
        &super::account("alice"),
        [0; 16],
        true,
        Throttle::default(),
        &mut rand::rng(),
        &policies(),
        T0,
    )
    .unwrap();
    assert!(crate::login::LoginChallenge::decode(&encoded(&confirm)).is_none());
}

#[test]
fn a_right_password_does_not_reset_the_count_towards_the_hard_lock() {
    let policy = policies();
    let mut throttle = Throttle::default();
    throttle = throttle.record_failure(&policy.throttle, T0);
    throttle = throttle.record_failure(&policy.throttle, T0);
    let (_, after) = disable::start(
        &super::account("alice"),
        [0; 16],
        true,
        throttle,
        &mut rand::rng(),
        &policy,
        T0,
    )
    .unwrap();
    assert_eq!(after.consecutive_failures, 2);
    let (_, after) = reissue::start(
        &super::account("alice"),
        REPLACING,
        true,
        throttle,
        &mut rand::rng(),
        &policies(),
        T0,
    )
    .unwrap();
    assert_eq!(after.consecutive_failures, 2);
}
