//! The enable wizard end to end with a controllable clock: the happy path, every refusal,
//! expiry at every step, and what must never leak.

use super::{contains_token, policies};
use crate::Policies;
use crate::email_code::EmailCodeError;
use crate::enable::{self, Account, AuthenticatorSetup, EnableError};
use crate::{Locked, Throttle};
use twostep_otp::{Rejection, Totp};
use twostep_recovery::Locale;

const T0: u64 = 1_764_288_000;

fn account() -> Account {
    Account {
        user_id: "user-42".into(),
        email: "alice@example.com".into(),
    }
}

/// Runs the wizard up to the authenticator screen.
#[allow(clippy::expect_used)] // a failed setup is a failed test
fn to_setup(policy: &Policies, now: u64) -> AuthenticatorSetup {
    let mut rng = rand::rng();
    let (sent, mail) = enable::start(account(), 0, &mut rng, policy, now);
    sent.verify_email(mail.code.expose(), &mut rng, policy, now + 30)
        .map_err(|refused| refused.error)
        .expect("the mailed code")
}

/// The code the user's app shows for the secret on the setup screen.
#[allow(clippy::expect_used)]
fn app_code(setup: &AuthenticatorSetup, policy: &Policies, now: u64) -> String {
    let view = setup.view(policy).expect("a valid Key URI");
    let totp = view.key_uri.to_totp().expect("a TOTP URI");
    totp.generate(now).expect("after T0").to_string()
}

#[test]
fn the_happy_path_writes_one_credential_at_the_end() {
    let policy = policies();
    let mut rng = rand::rng();
    let (sent, mail) = enable::start(account(), 0, &mut rng, &policy, T0);
    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.expires_at, T0 + 600);
    assert_eq!(mail.code.expose().len(), 6);

    let setup = sent
        .verify_email(mail.code.expose(), &mut rng, &policy, T0 + 40)
        .map_err(|r| r.error)
        .unwrap();
    let view = setup.view(&policy).unwrap();
    assert_eq!(view.key_uri.issuer(), Some("DFINERY"));
    assert_eq!(view.account, "alice@example.com");
    assert!(view.time_based);
    assert_eq!(
        view.manual_key.split(' ').count(),
        8,
        "160 bits in groups of four"
    );

    let code = app_code(&setup, &policy, T0 + 90);
    let (save, throttle) = setup
        .confirm(&code, Throttle::default(), &mut rng, &policy, T0 + 90)
        .map_err(|(r, _)| r.error)
        .unwrap();
    assert_eq!(throttle, Throttle::default());
    assert_eq!(save.codes().codes().len(), 10);
    let file = save.download_file(&policy.issuer, Locale::Ko);
    assert_eq!(file.file_name, "dfinery-recovery-codes.txt");

    let enabled = save.complete(true, &policy, T0 + 120).unwrap();
    let credential = &enabled.credential;
    assert_eq!(credential.user_id, "user-42");
    assert_eq!(credential.enabled_at, T0 + 120);
    assert_eq!(credential.recovery_codes.remaining(), 10);
    assert_eq!(enabled.notify, "alice@example.com");

    // The confirming code is burned: replayed at login, it is refused.
    let totp = Totp::new(&credential.secret, credential.params);
    assert_eq!(
        totp.verify(&code, T0 + 125, Some(credential.last_accepted_step)),
        Err(Rejection::Replayed)
    );
}

#[test]
fn wrong_email_codes_use_up_the_attempts_then_expire() {
    let policy = policies();
    let mut rng = rand::rng();
    let (mut sent, mail) = enable::start(account(), 0, &mut rng, &policy, T0);
    let wrong = if mail.code.expose() == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in (1..5).rev() {
        let refused = sent
            .verify_email(wrong, &mut rng, &policy, T0 + 10)
            .unwrap_err();
        assert_eq!(
            refused.error,
            EnableError::EmailCode(EmailCodeError::Wrong {
                attempts_left: left
            })
        );
        sent = refused.state;
    }
    let refused = sent
        .verify_email(wrong, &mut rng, &policy, T0 + 10)
        .unwrap_err();
    assert_eq!(
        refused.error,
        EnableError::EmailCode(EmailCodeError::Expired)
    );
    // Even the right code is refused now.
    let refused = refused
        .state
        .verify_email(mail.code.expose(), &mut rng, &policy, T0 + 10)
        .unwrap_err();
    assert_eq!(
        refused.error,
        EnableError::EmailCode(EmailCodeError::Expired)
    );
}

#[test]
fn an_email_code_expires_after_ten_minutes_and_resending_has_a_cooldown() {
    let policy = policies();
    let mut rng = rand::rng();
    let (sent, first) = enable::start(account(), 0, &mut rng, &policy, T0);
    let refused = sent.resend(&mut rng, &policy, T0 + 59).unwrap_err();
    assert_eq!(
        refused.error,
        EnableError::EmailCode(EmailCodeError::ResendTooSoon(T0 + 60))
    );
    let (sent, second) = refused.state.resend(&mut rng, &policy, T0 + 60).unwrap();
    // The first code no longer works; the second does until it expires.
    if first.code.expose() != second.code.expose() {
        let refused = sent
            .verify_email(first.code.expose(), &mut rng, &policy, T0 + 61)
            .unwrap_err();
        assert!(matches!(
            refused.error,
            EnableError::EmailCode(EmailCodeError::Wrong { .. })
        ));
        let refused = refused
            .state
            .verify_email(second.code.expose(), &mut rng, &policy, T0 + 660)
            .unwrap_err();
        assert_eq!(
            refused.error,
            EnableError::EmailCode(EmailCodeError::Expired)
        );
    }
}

#[test]
fn the_whole_wizard_expires_at_every_step() {
    let policy = policies();
    let late = T0 + 15 * 60;
    let mut rng = rand::rng();
    let (sent, mail) = enable::start(account(), 0, &mut rng, &policy, T0);
    assert_eq!(
        sent.verify_email(mail.code.expose(), &mut rng, &policy, late)
            .unwrap_err()
            .error,
        EnableError::Expired
    );

    let setup = to_setup(&policy, T0);
    let code = app_code(&setup, &policy, late);
    let (refused, _) = setup
        .confirm(&code, Throttle::default(), &mut rng, &policy, late)
        .unwrap_err();
    assert_eq!(refused.error, EnableError::Expired);

    let setup = to_setup(&policy, T0);
    let code = app_code(&setup, &policy, T0 + 60);
    let (save, _) = setup
        .confirm(&code, Throttle::default(), &mut rng, &policy, T0 + 60)
        .map_err(|(r, _)| r.error)
        .unwrap();
    assert_eq!(
        save.complete(true, &policy, late).unwrap_err(),
        EnableError::Expired
    );
}

#[test]
fn wrong_first_codes_count_against_the_throttle() {
    let policy = policies();
    let mut rng = rand::rng();
    let mut setup = to_setup(&policy, T0);
    let mut throttle = Throttle::default();
    let right = app_code(&setup, &policy, T0 + 60);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for attempt in 1..=5 {
        let (refused, next) = setup
            .confirm(wrong, throttle, &mut rng, &policy, T0 + 60)
            .unwrap_err();
        assert_eq!(refused.error, EnableError::Code(Rejection::Mismatch));
        assert_eq!(next.consecutive_failures, attempt);
        setup = refused.state;
        throttle = next;
    }
    // Locked: even the right code is not checked until the window ends.
    let (refused, throttle) = setup
        .confirm(&right, throttle, &mut rng, &policy, T0 + 61)
        .unwrap_err();
    assert_eq!(
        refused.error,
        EnableError::Locked(Locked::Until(T0 + 60 + 900))
    );
    let setup = refused.state;
    let (refused, _) = setup
        .confirm("12a456", throttle, &mut rng, &policy, T0 + 62)
        .unwrap_err();
    assert!(
        matches!(refused.error, EnableError::Locked(_)),
        "locked before parsing"
    );
}

#[test]
fn done_needs_the_saved_tick() {
    let policy = policies();
    let mut rng = rand::rng();
    let setup = to_setup(&policy, T0);
    let code = app_code(&setup, &policy, T0 + 60);
    let (save, _) = setup
        .confirm(&code, Throttle::default(), &mut rng, &policy, T0 + 60)
        .map_err(|(r, _)| r.error)
        .unwrap();
    let refused = save.complete(false, &policy, T0 + 70).unwrap_err();
    assert_eq!(refused, EnableError::NotSaved);
    assert!(save.complete(true, &policy, T0 + 80).is_ok());
}

#[test]
fn restarting_draws_a_new_secret() {
    let policy = policies();
    let first = to_setup(&policy, T0).view(&policy).unwrap().manual_key;
    let second = to_setup(&policy, T0).view(&policy).unwrap().manual_key;
    assert_ne!(first, second);
}

#[test]
fn no_secret_or_code_reaches_debug_output() {
    let policy = policies();
    let mut rng = rand::rng();
    let (sent, mail) = enable::start(account(), 0, &mut rng, &policy, T0);
    let mut printed = format!("{sent:?} {mail:?}");
    let setup = sent
        .verify_email(mail.code.expose(), &mut rng, &policy, T0 + 30)
        .map_err(|r| r.error)
        .unwrap();
    let view = setup.view(&policy).unwrap();
    let key = view.manual_key.replace(' ', "");
    let code = app_code(&setup, &policy, T0 + 60);
    printed += &format!("{setup:?} {view:?}");
    let (save, _) = setup
        .confirm(&code, Throttle::default(), &mut rng, &policy, T0 + 60)
        .map_err(|(r, _)| r.error)
        .unwrap();
    printed += &format!("{save:?}");
    let codes: Vec<String> = super::shown(save.codes());
    let enabled = save.complete(true, &policy, T0 + 70).unwrap();
    printed += &format!("{enabled:?}");
    assert!(!contains_token(&printed, mail.code.expose()), "{printed}");
    assert!(!contains_token(&printed, &key), "{printed}");
    assert!(!contains_token(&printed, &code), "{printed}");
    for recovery in codes {
        assert!(!contains_token(&printed, &recovery), "{printed}");
    }
}

/// Serializes a pending state and restores it, as a session store would between requests.
/// The plaintext a sealed state carries.
fn plaintext(state: &crate::PendingEnable) -> serde_json::Value {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(16 * 1024));
    crate::snapshot::encode_enable(state, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Decodes a (possibly edited) plaintext.
fn decode(value: &serde_json::Value) -> Option<crate::PendingEnable> {
    crate::snapshot::decode_enable(&serde_json::to_vec(value).unwrap())
}

fn round_trip(state: crate::PendingEnable) -> crate::PendingEnable {
    decode(&plaintext(&state)).unwrap()
}

#[test]
fn every_pending_step_survives_its_plaintext_and_continues() {
    use crate::PendingEnable;
    let policy = policies();
    let mut rng = rand::rng();
    let (sent, mail) = enable::start(account(), 0, &mut rng, &policy, T0);
    let PendingEnable::EmailCodeSent(sent) = round_trip(PendingEnable::EmailCodeSent(sent)) else {
        panic!("the same step")
    };
    let setup = sent
        .verify_email(mail.code.expose(), &mut rng, &policy, T0 + 10)
        .map_err(|r| r.error)
        .unwrap();
    let key = setup.view(&policy).unwrap().manual_key;
    let PendingEnable::AuthenticatorSetup(setup) =
        round_trip(PendingEnable::AuthenticatorSetup(setup))
    else {
        panic!("the same step")
    };
    assert_eq!(
        setup.view(&policy).unwrap().manual_key,
        key,
        "the same key after restoring"
    );
    let code = app_code(&setup, &policy, T0 + 60);
    let (save, _) = setup
        .confirm(&code, Throttle::default(), &mut rng, &policy, T0 + 60)
        .map_err(|(r, _)| r.error)
        .unwrap();
    let shown: Vec<String> = super::shown(save.codes());
    let PendingEnable::SaveRecoveryCodes(save) = round_trip(PendingEnable::SaveRecoveryCodes(save))
    else {
        panic!("the same step")
    };
    let restored: Vec<String> = super::shown(save.codes());
    assert_eq!(restored, shown);
    let enabled = save.complete(true, &policy, T0 + 90).unwrap();
    assert!(
        enabled
            .credential
            .recovery_codes
            .redeem(&shown[0], T0 + 100)
            .is_ok()
    );
    let totp = Totp::new(&enabled.credential.secret, enabled.credential.params);
    assert_eq!(
        totp.verify(&code, T0 + 95, Some(enabled.credential.last_accepted_step)),
        Err(Rejection::Replayed)
    );
}

#[test]
fn corrupted_plaintexts_are_refused() {
    // Only the service's own seal can carry a plaintext here; decoding is defensive anyway.
    use crate::PendingEnable;
    let policy = policies();
    let setup = to_setup(&policy, T0);
    let good = plaintext(&PendingEnable::AuthenticatorSetup(setup));
    assert_eq!(good["version"], 3);
    assert_eq!(good["step"], "authenticator_setup");
    let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value = good.clone();
        edit(&mut value);
        decode(&value).is_none()
    };
    assert!(refused(&|v| v["version"] = 2.into()));
    assert!(
        refused(&|v| v["secret"] = "JBSWY3DPEHPK3PXP".into()),
        "80 bits is too short"
    );
    assert!(refused(&|v| v["secret"] = "not base32!".into()));
    assert!(refused(&|v| v["step"] = "enabled".into()));
    assert!(decode(&serde_json::json!({})).is_none());
    assert!(decode(&serde_json::json!([1, 2])).is_none());
    assert!(decode(&good).is_some());
}

#[test]
fn the_recovery_step_plaintext_is_checked_code_by_code() {
    use crate::PendingEnable;
    let policy = policies();
    let mut rng = rand::rng();
    let setup = to_setup(&policy, T0);
    let code = app_code(&setup, &policy, T0 + 60);
    let (save, _) = setup
        .confirm(&code, Throttle::default(), &mut rng, &policy, T0 + 60)
        .map_err(|(r, _)| r.error)
        .unwrap();
    let good = plaintext(&PendingEnable::SaveRecoveryCodes(save));
    let first = good["codes"][0].as_str().unwrap().to_owned();
    let mut typo = good.clone();
    typo["codes"][0] = super::one_typo(&first).into();
    assert!(decode(&typo).is_none(), "a code that does not parse");
    let mut short = good.clone();
    short["codes"].as_array_mut().unwrap().pop();
    assert!(decode(&short).is_none(), "codes that do not fit the set");
    assert!(decode(&good).is_some());
}
