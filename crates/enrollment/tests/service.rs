//! The async service end to end against the in-memory store: every flow (enable, login, re-issue, disable),
//! concurrency (100 tasks with one code), lockout, and what never leaks.

mod common;

use std::sync::Arc;

use common::{contains_token, fast_hash, one_typo, shown};
use twostep_enrollment::LoginChallenge;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryDirectory, MemoryStore, PlaintextSealer, RecordingAudit, RecordingMailer,
    SettableClock,
};
use twostep_enrollment::{Account, SaveRecoveryCodes, Saved};
use twostep_enrollment::{
    AuditKind, Clock, Directory, Locked, Mail, Mailer, Notice, PendingEnable, Policies,
    Reauthenticate, Service, ServiceError, Store,
};
use twostep_otp::{Rejection, Totp};
use twostep_recovery::RedeemError;

const T0: u64 = 1_764_288_000;
const EMAIL: &str = "alice@example.com";

type TestService = Service<MemoryStore, Arc<RecordingMailer>, FixedPasswords, Arc<MemoryDirectory>>;

struct World {
    service: Arc<TestService>,
    mailer: Arc<RecordingMailer>,
    audit: Arc<RecordingAudit>,
    clock: Arc<SettableClock>,
}

#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup is a failed test
fn world() -> World {
    let mailer = Arc::new(RecordingMailer::default());
    let audit = Arc::new(RecordingAudit::default());
    let clock = Arc::new(SettableClock::at(T0));
    let directory = Arc::new(MemoryDirectory::default());
    let mut policies = Policies::new("DFINERY");
    policies.recovery_hash = fast_hash();
    let service = Service::builder(MemoryStore::default(), PlaintextSealer)
        .mailer(Arc::clone(&mailer))
        .reauthenticate(FixedPasswords::default().with("alice", "correct horse"))
        .directory(directory)
        .audit(Arc::clone(&audit))
        .clock(Arc::clone(&clock))
        .policies(policies)
        .build();
    World {
        service: Arc::new(service),
        mailer,
        audit,
        clock,
    }
}

/// Alice, as the application passes her to the service.
fn alice() -> Account {
    Account {
        user_id: "alice".into(),
        email: EMAIL.into(),
    }
}

#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup is a failed test
/// Enables 2FA for alice through the service; returns her TOTP and recovery codes.
async fn enable(world: &World) -> (Totp, Vec<String>) {
    world.clock.advance(30);
    let (totp, save) = to_recovery_codes(world).await;
    let codes = shown(save.codes());
    world
        .service
        .complete_enable(&alice(), save, Saved::Yes)
        .await
        .unwrap();
    (totp, codes)
}

/// A fresh second-step challenge for alice (her password having been checked).
#[allow(clippy::unwrap_used)] // a failed setup is a failed test
async fn new_challenge<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory>(
    service: &Service<S, M, R, D>,
) -> LoginChallenge {
    service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .unwrap()
}

/// Runs alice's wizard through the service up to the recovery-code screen: the email code,
/// the setup screen and the first code from the app (at the clock's current time).
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup is a failed test
async fn to_recovery_codes(world: &World) -> (Totp, SaveRecoveryCodes) {
    // One email code per account per minute, however often the wizard starts.
    world.clock.advance(60);
    let service = &world.service;
    let account = Account {
        user_id: "alice".into(),
        email: EMAIL.into(),
    };
    let sent = service.start_enable(&account).await.unwrap();
    let code = world.mailer.last_email_code(EMAIL).expect("a mailed code");
    let setup = service
        .verify_email(&alice(), sent, code.expose())
        .await
        .unwrap();
    let totp = service
        .setup_view(&setup)
        .unwrap()
        .key_uri
        .to_totp()
        .unwrap();
    let now = world.clock.now();
    let save = service
        .confirm_authenticator(&alice(), setup, &totp.generate(now).unwrap().to_string())
        .await
        .unwrap();
    (totp, save)
}

#[tokio::test]
async fn the_memory_store_conforms() {
    twostep_enrollment::conformance::run(|| async { MemoryStore::default() }).await;
}

#[tokio::test]
async fn enable_then_login_with_a_code_and_a_recovery_code() {
    let world = world();
    let service = &world.service;
    assert!(
        service
            .begin_login(&alice())
            .await
            .unwrap()
            .into_challenge()
            .is_none(),
        "no second step before enabling"
    );
    let (totp, codes) = enable(&world).await;
    let mails = world.mailer.take();
    assert!(mails.iter().any(|m| matches!(
        m,
        Mail::Notice {
            notice: Notice::Enabled,
            ..
        }
    )));

    // Enabling again is refused.
    let again = service
        .start_enable(&Account {
            user_id: "alice".into(),
            email: EMAIL.into(),
        })
        .await;
    assert!(matches!(again, Err(ServiceError::AlreadyEnabled)));

    // The code that confirmed the setup cannot log in.
    let setup_code = totp.generate(world.clock.now()).unwrap().to_string();
    let challenge = service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .expect("a second step");
    let refused = service
        .verify_login(&alice(), challenge, &setup_code)
        .await
        .unwrap_err();
    assert!(matches!(
        refused.error,
        ServiceError::Code(Rejection::Replayed)
    ));

    // The next code logs in, once.
    world.clock.advance(30);
    let code = totp.generate(world.clock.now()).unwrap().to_string();
    let signed_in = service
        .verify_login(&alice(), refused.state.expect("still usable"), &code)
        .await
        .unwrap();
    assert_eq!(signed_in.recovery_codes, None);
    let challenge = new_challenge(service).await;
    let refused = service
        .verify_login(&alice(), challenge, &code)
        .await
        .unwrap_err();
    assert!(matches!(
        refused.error,
        ServiceError::Code(Rejection::Replayed)
    ));

    // A recovery code logs in once, and the user is told how many are left.
    let signed_in = service
        .verify_login(&alice(), refused.state.unwrap(), &codes[0])
        .await
        .unwrap();
    assert_eq!(
        signed_in
            .recovery_codes
            .map(|left| (left.remaining, left.low)),
        Some((9, false))
    );
    assert!(world.mailer.take().iter().any(|m| matches!(
        m,
        Mail::Notice {
            notice: Notice::RecoveryCodeUsed { remaining: 9 },
            ..
        }
    )));
    let challenge = new_challenge(service).await;
    let refused = service
        .verify_login(&alice(), challenge, &codes[0])
        .await
        .unwrap_err();
    assert!(matches!(
        refused.error,
        ServiceError::RecoveryCode(RedeemError::NoMatch)
    ));

    let kinds: Vec<AuditKind> = world.audit.events().iter().map(|e| e.kind).collect();
    for kind in [
        AuditKind::EnableStarted,
        AuditKind::Enabled,
        AuditKind::ReplayDetected,
        AuditKind::LoginWithCode,
        AuditKind::LoginWithRecoveryCode,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
}

#[tokio::test]
async fn abandoning_the_wizard_writes_nothing() {
    let world = world();
    let service = &world.service;
    let account = || Account {
        user_id: "alice".into(),
        email: EMAIL.into(),
    };
    // Leave after the email code, after the QR code, and after the recovery codes.
    let sent = service.start_enable(&account()).await.unwrap();
    drop(sent);
    let (_, save) = to_recovery_codes(&world).await;
    let refused = service
        .complete_enable(&alice(), save, Saved::No)
        .await
        .unwrap_err();
    assert!(
        refused.state.is_some(),
        "not ticked: the codes are still shown"
    );
    drop(refused);
    assert!(service.store().credential("alice").await.unwrap().is_none());
    assert!(
        service
            .begin_login(&alice())
            .await
            .unwrap()
            .into_challenge()
            .is_none()
    );
}

/// `n` sign-ins of alice that each type `input` at the same moment (their challenges are
/// taken first, then a barrier lets them all go).
#[allow(clippy::unwrap_used)] // a failed setup is a failed test
async fn concurrent_logins(world: &World, n: usize, input: &str) -> Vec<Result<(), ServiceError>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let input: Arc<str> = Arc::from(input);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (service, input, barrier) = (
            Arc::clone(&world.service),
            Arc::clone(&input),
            Arc::clone(&barrier),
        );
        tasks.spawn(async move {
            let challenge = new_challenge(&service).await;
            barrier.wait().await;
            service
                .verify_login(&alice(), challenge, &input)
                .await
                .map(|_| ())
                .map_err(|refusal| refusal.error)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = tasks.join_next().await {
        outcomes.push(outcome.unwrap());
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_totp_code_and_one_recovery_code_succeed_exactly_once_under_100_concurrent_logins() {
    let world = world();
    let (totp, codes) = enable(&world).await;
    world.clock.advance(60);
    let code = totp.generate(world.clock.now()).unwrap().to_string();
    for input in [code, codes[1].clone()] {
        let outcomes = concurrent_logins(&world, 100, &input).await;
        let successes = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        assert_eq!(successes, 1, "{input}");
        // Give the budget back for the next race.
        let throttle = world.service.store().throttle("alice").await.unwrap();
        assert!(
            world
                .service
                .store()
                .compare_and_set_throttle("alice", throttle, Default::default())
                .await
                .unwrap()
        );
    }
}

/// The `Locked` events of the flows other than the second step: wrong email codes and wrong
/// passwords use up the same budget, and the attempt that does is reported once.
#[tokio::test]
async fn locking_by_email_codes_or_passwords_is_audited_once() {
    let locks = |world: &World| {
        world
            .audit
            .events()
            .iter()
            .filter(|e| e.kind == AuditKind::Locked)
            .count()
    };

    // Wrong email codes in the wizard: the fifth locks (the code's own five attempts and the
    // account's budget run out together).
    let world = world();
    let account = Account {
        user_id: "alice".into(),
        email: EMAIL.into(),
    };
    let mut sent = world.service.start_enable(&account).await.unwrap();
    let right = world
        .mailer
        .take()
        .into_iter()
        .find_map(|mail| match mail {
            Mail::EmailCode { code, .. } => Some(code.expose().to_owned()),
            _ => None,
        })
        .unwrap();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for attempt in 1..=5 {
        assert_eq!(locks(&world), 0, "attempt {attempt}");
        let refusal = world
            .service
            .verify_email(&alice(), sent, wrong)
            .await
            .unwrap_err();
        match refusal.state {
            Some(state) => sent = state,
            None => break,
        }
    }
    assert_eq!(locks(&world), 1);
    assert!(world.mailer.take().iter().any(|m| matches!(
        m,
        Mail::Notice {
            notice: Notice::LockedOut,
            ..
        }
    )));

    // Wrong passwords before re-issue (the login budget: 5 per window).
    let world = self::world();
    enable(&world).await;
    for _ in 0..5 {
        assert_eq!(locks(&world), 0);
        assert!(matches!(
            world.service.start_reissue(&alice(), "guess").await,
            Err(ServiceError::WrongPassword)
        ));
    }
    assert_eq!(locks(&world), 1);
    assert!(matches!(
        world.service.start_reissue(&alice(), "correct horse").await,
        Err(ServiceError::Locked(Locked::Until(_)))
    ));
    assert_eq!(locks(&world), 1, "a refusal while locked is not a new lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_never_get_more_checks_than_the_budget() {
    let world = world();
    let (totp, _) = enable(&world).await;
    world.clock.advance(600);
    let right = totp.generate(world.clock.now()).unwrap().to_string();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let before = world.audit.events().len();
    let (mut checked, mut locked) = (0, 0);
    for outcome in concurrent_logins(&world, 50, wrong).await {
        match outcome.unwrap_err() {
            ServiceError::Code(Rejection::Mismatch) => checked += 1,
            ServiceError::Locked(Locked::Until(_)) => locked += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((checked, locked), (5, 45));
    let failures = world.audit.events()[before..]
        .iter()
        .filter(|e| e.kind == AuditKind::SecondStepFailed)
        .count();
    assert_eq!(failures, 5);
    let locks = world.audit.events()[before..]
        .iter()
        .filter(|e| e.kind == AuditKind::Locked)
        .count();
    let notices = world
        .mailer
        .take()
        .into_iter()
        .filter(|m| {
            matches!(
                m,
                Mail::Notice {
                    notice: Notice::LockedOut,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        (locks, notices),
        (1, 1),
        "the attempt that used up the budget reports it, once"
    );
    // Locked: even the right code waits for the window to end, then works.
    let challenge = new_challenge(&world.service).await;
    let refused = world
        .service
        .verify_login(&alice(), challenge, &right)
        .await
        .unwrap_err();
    assert!(matches!(
        refused.error,
        ServiceError::Locked(Locked::Until(_))
    ));
    world.clock.advance(900);
    let code = totp.generate(world.clock.now()).unwrap().to_string();
    let before_stale = world.service.store().throttle("alice").await.unwrap();
    let stale = world
        .service
        .verify_login(&alice(), refused.state.unwrap(), &code)
        .await
        .unwrap_err();
    assert!(
        matches!(stale.error, ServiceError::Expired),
        "the old challenge expired meanwhile"
    );
    let after = world.service.store().throttle("alice").await.unwrap();
    assert_eq!(after, before_stale, "an expired challenge costs no attempt");
    let challenge = new_challenge(&world.service).await;
    assert!(
        world
            .service
            .verify_login(&alice(), challenge, &code)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn reissue_needs_the_password_and_retires_every_old_code() {
    let world = world();
    let (_, old_codes) = enable(&world).await;
    let service = &world.service;
    let wrong = service.start_reissue(&alice(), "guess").await;
    assert!(matches!(wrong, Err(ServiceError::WrongPassword)));
    let save = service
        .start_reissue(&alice(), "correct horse")
        .await
        .unwrap();
    let new_codes: Vec<String> = shown(save.codes());
    // Until "Done", the old codes still work.
    let challenge = new_challenge(service).await;
    assert!(
        service
            .verify_login(&alice(), challenge, &old_codes[0])
            .await
            .is_ok()
    );
    service
        .complete_reissue(&alice(), save, Saved::Yes)
        .await
        .unwrap();
    for old in &old_codes[1..] {
        let challenge = new_challenge(service).await;
        assert!(
            service
                .verify_login(&alice(), challenge, old)
                .await
                .is_err()
        );
        let throttle = service.store().throttle("alice").await.unwrap();
        service
            .store()
            .compare_and_set_throttle("alice", throttle, Default::default())
            .await
            .unwrap();
    }
    let challenge = new_challenge(service).await;
    assert!(
        service
            .verify_login(&alice(), challenge, &new_codes[0])
            .await
            .is_ok()
    );
    assert!(world.mailer.take().iter().any(|m| matches!(
        m,
        Mail::Notice {
            notice: Notice::RecoveryCodesReissued,
            ..
        }
    )));
}

#[tokio::test]
async fn disable_needs_the_password_and_a_code_and_removes_everything() {
    let world = world();
    let (_, codes) = enable(&world).await;
    let service = &world.service;
    assert!(service.start_disable(&alice(), "guess").await.is_err());
    let confirm = service
        .start_disable(&alice(), "correct horse")
        .await
        .unwrap();
    let refused = service
        .confirm_disable(&alice(), confirm, "0000-0000-0000-0000")
        .await
        .unwrap_err();
    service
        .confirm_disable(&alice(), refused.state.unwrap(), &codes[4])
        .await
        .unwrap();
    assert!(service.store().credential("alice").await.unwrap().is_none());
    assert!(
        service
            .begin_login(&alice())
            .await
            .unwrap()
            .into_challenge()
            .is_none()
    );
    assert!(world.mailer.take().iter().any(|m| matches!(
        m,
        Mail::Notice {
            notice: Notice::Disabled,
            ..
        }
    )));
    assert!(
        world
            .audit
            .events()
            .iter()
            .any(|e| e.kind == AuditKind::Disabled)
    );
}

#[tokio::test]
async fn no_secret_or_code_reaches_events_errors_or_debug_output() {
    let world = world();
    let (_, codes) = enable(&world).await;
    let service = &world.service;
    let record = service.store().credential("alice").await.unwrap().unwrap();
    // The plaintext sealer stores the key itself: every spelling of it is a needle.
    let key = record.secret.ciphertext.clone();
    let base32 = twostep_otp::Secret::from_bytes(&key).unwrap().to_base32();
    let mut needles: Vec<String> = vec![
        key.iter().map(|b| format!("{b:02x}")).collect(),
        format!("{key:?}"),
        base32.to_string(),
        base32.to_lowercase(),
    ];
    for code in &codes {
        needles.extend([code.clone(), code.replace('-', ""), code.to_uppercase()]);
    }
    // A code used once, then typed again (real, refused) and with a typo (refused): their
    // refusals are printed too, as an application would log them.
    let challenge = new_challenge(service).await;
    service
        .verify_login(&alice(), challenge, &codes[0])
        .await
        .unwrap();
    let mut printed = String::new();
    for typed in [codes[0].clone(), codes[1].replace('-', "x")] {
        let challenge = new_challenge(service).await;
        let refused = service
            .verify_login(&alice(), challenge, &typed)
            .await
            .unwrap_err();
        printed += &format!("{refused:?} {} ", refused.error);
    }
    printed += &format!(
        "{:?} {:?} {:?} {:?}",
        world.audit.events(),
        record,
        world.mailer.take(),
        service.store().account("alice").await.unwrap()
    );
    // Positive control: what a derived `Debug` of the key would print is among the needles.
    assert!(format!("{:?}", record.secret.ciphertext).contains(needles[1].as_str()));
    for needle in &needles {
        assert!(
            !printed.contains(needle.as_str()),
            "{needle} leaked: {printed}"
        );
    }
}

/// A form posted twice reads the same session twice: two copies of one pending state.
#[tokio::test]
async fn double_submits_change_nothing_twice() {
    let world = world();
    let service = &world.service;
    let (totp, save) = to_recovery_codes(&world).await;
    let session = service
        .seal(&PendingEnable::SaveRecoveryCodes(save))
        .unwrap();
    let copy = || match service.open("alice", &session).unwrap() {
        PendingEnable::SaveRecoveryCodes(save) => save,
        _ => panic!("the same step"),
    };
    service
        .complete_enable(&alice(), copy(), Saved::Yes)
        .await
        .unwrap();
    let second = service
        .complete_enable(&alice(), copy(), Saved::Yes)
        .await
        .unwrap_err();
    assert!(matches!(second.error, ServiceError::AlreadyEnabled));
    let enabled = world
        .audit
        .events()
        .iter()
        .filter(|e| e.kind == AuditKind::Enabled)
        .count();
    assert_eq!(enabled, 1);

    // Disable posted twice: the second finds nothing to remove.
    world.clock.advance(60);
    let code = totp.generate(world.clock.now()).unwrap().to_string();
    let first = service
        .start_disable(&alice(), "correct horse")
        .await
        .unwrap();
    let again = service
        .start_disable(&alice(), "correct horse")
        .await
        .unwrap();
    service
        .confirm_disable(&alice(), first, &code)
        .await
        .unwrap();
    let second = service
        .confirm_disable(&alice(), again, &code)
        .await
        .unwrap_err();
    assert!(matches!(second.error, ServiceError::NotEnabled));
}

/// Every state, result, refusal, event and mail of every flow, printed with `Debug` and
/// `Display`: none contains the TOTP key, an email code, a TOTP code or a recovery code.
#[tokio::test]
async fn nothing_secret_is_printed_anywhere_in_a_full_run() {
    let world = world();
    let service = &world.service;
    let mut printed = String::new();
    let mut secrets: Vec<String> = Vec::new();
    let mut show = |text: String| printed.push_str(&text);

    let account = Account {
        user_id: "alice".into(),
        email: EMAIL.into(),
    };
    let sent = service.start_enable(&account).await.unwrap();
    show(format!("{sent:?}"));
    let email_code = world.mailer.last_email_code(EMAIL).unwrap();
    secrets.push(email_code.expose().to_owned());
    let refused = service
        .verify_email(&alice(), sent, "000000")
        .await
        .unwrap_err();
    show(format!("{refused:?} {}", refused.error));
    let setup = service
        .verify_email(&alice(), refused.state.unwrap(), email_code.expose())
        .await
        .unwrap();
    show(format!("{setup:?}"));
    let view = service.setup_view(&setup).unwrap();
    show(format!("{:?} {:?}", view.key_uri, view.manual_key));
    secrets.push(view.manual_key.replace(' ', ""));
    let view_key_grouped = view.manual_key.to_string();
    let totp = view.key_uri.to_totp().unwrap();
    let wrong = service
        .confirm_authenticator(&alice(), setup, "12")
        .await
        .unwrap_err();
    show(format!("{wrong:?} {}", wrong.error));
    let first = totp.generate(T0).unwrap().to_string();
    secrets.push(first.clone());
    let save = service
        .confirm_authenticator(&alice(), wrong.state.unwrap(), &first)
        .await
        .unwrap();
    show(format!("{save:?} {:?}", save.codes()));
    let sealed = service.seal(&PendingEnable::from(save)).unwrap();
    show(format!("{sealed:?} {}", sealed.as_str()));
    let Ok(PendingEnable::SaveRecoveryCodes(save)) = service.open("alice", &sealed) else {
        panic!("the same step")
    };
    secrets.extend(save.codes().codes().iter().map(ToString::to_string));
    let codes: Vec<String> = shown(save.codes());
    service
        .complete_enable(&alice(), save, Saved::Yes)
        .await
        .unwrap();

    world.clock.advance(30);
    let code = totp.generate(world.clock.now()).unwrap().to_string();
    secrets.push(code.clone());
    let challenge = new_challenge(service).await;
    show(format!(
        "{challenge:?} {}",
        service.seal(&challenge).unwrap().as_str()
    ));
    let refused = service
        .verify_login(&alice(), challenge, &first)
        .await
        .unwrap_err();
    show(format!("{refused:?} {}", refused.error));
    let signed_in = service
        .verify_login(&alice(), refused.state.unwrap(), &code)
        .await
        .unwrap();
    show(format!("{signed_in:?}"));
    let challenge = new_challenge(service).await;
    let typo = one_typo(&codes[0]);
    let refused = service
        .verify_login(&alice(), challenge, &typo)
        .await
        .unwrap_err();
    show(format!("{refused:?} {}", refused.error));
    let signed_in = service
        .verify_login(&alice(), refused.state.unwrap(), &codes[0])
        .await
        .unwrap();
    show(format!("{signed_in:?}"));

    let wrong = service.start_reissue(&alice(), "guess").await.unwrap_err();
    show(format!("{wrong:?} {wrong}"));
    let save = service
        .start_reissue(&alice(), "correct horse")
        .await
        .unwrap();
    secrets.extend(save.codes().codes().iter().map(ToString::to_string));
    show(format!("{save:?}"));
    service
        .complete_reissue(&alice(), save, Saved::Yes)
        .await
        .unwrap();
    let confirm = service
        .start_disable(&alice(), "correct horse")
        .await
        .unwrap();
    show(format!("{confirm:?}"));
    let refused = service
        .confirm_disable(&alice(), confirm, &codes[1])
        .await
        .unwrap_err();
    show(format!("{refused:?} {}", refused.error));
    world.clock.advance(30);
    // This run spent five attempts on purpose; an operator lifts the lock.
    service.unlock("alice").await.unwrap();
    let last = totp.generate(world.clock.now()).unwrap().to_string();
    secrets.push(last.clone());
    service
        .confirm_disable(&alice(), refused.state.unwrap(), &last)
        .await
        .map_err(|r| r.error)
        .unwrap();

    show(format!(
        "{:?} {:?}",
        world.audit.events(),
        world.mailer.take()
    ));
    // Every spelling a leak could take: grouped keys, upper case, codes without dashes.
    let variants: Vec<String> = secrets
        .iter()
        .flat_map(|secret| {
            [
                secret.to_uppercase(),
                secret.replace('-', ""),
                secret.replace(' ', ""),
            ]
        })
        .collect();
    secrets.extend(variants);
    secrets.push(view_key_grouped.clone());
    for secret in &secrets {
        assert!(
            !contains_token(&printed, secret),
            "{secret} was printed: {printed}"
        );
    }
    assert!(
        printed.contains("[redacted]"),
        "secret-bearing values were printed, redacted"
    );
}

/// Notices go out after the write they report: a mailer that fails them cannot turn a
/// consumed recovery code into a failed login (the user would lose the code for nothing).
#[tokio::test]
async fn a_failed_notice_does_not_fail_the_step_it_reports() {
    use twostep_enrollment::{Mail as SentMail, Mailer};

    #[derive(Default)]
    struct NoticesBounce(RecordingMailer);
    #[derive(Debug, thiserror::Error)]
    #[error("the mail server said no")]
    struct Bounced;
    impl Mailer for NoticesBounce {
        type Error = Bounced;
        async fn send(&self, mail: SentMail) -> Result<(), Bounced> {
            match mail {
                SentMail::Notice { .. } => Err(Bounced),
                other => self.0.send(other).await.map_err(|_| Bounced),
            }
        }
    }

    let mailer = Arc::new(NoticesBounce::default());
    let mut policies = Policies::new("DFINERY");
    policies.recovery_hash = fast_hash();
    let clock = Arc::new(SettableClock::at(T0));
    let service = Service::builder(MemoryStore::default(), PlaintextSealer)
        .mailer(Arc::clone(&mailer))
        .reauthenticate(FixedPasswords::default())
        .clock(Arc::clone(&clock))
        .policies(policies)
        .build();
    let account = Account {
        user_id: "alice".into(),
        email: EMAIL.into(),
    };
    let sent = service.start_enable(&account).await.unwrap();
    let code = mailer.0.last_email_code(EMAIL).unwrap();
    let setup = service
        .verify_email(&alice(), sent, code.expose())
        .await
        .unwrap();
    let totp = service
        .setup_view(&setup)
        .unwrap()
        .key_uri
        .to_totp()
        .unwrap();
    let save = service
        .confirm_authenticator(&alice(), setup, &totp.generate(T0).unwrap().to_string())
        .await
        .unwrap();
    let codes: Vec<String> = shown(save.codes());
    service
        .complete_enable(&alice(), save, Saved::Yes)
        .await
        .expect("enabled although the notice bounced");
    let challenge = new_challenge(&service).await;
    let signed_in = service.verify_login(&alice(), challenge, &codes[0]).await;
    let left = signed_in
        .unwrap()
        .recovery_codes
        .map(|left| (left.remaining, left.low));
    assert_eq!(left, Some((9, false)));
}

/// Copies of one session state each carry five email-code attempts; the shared throttle makes
/// the account's budget hold across all of them.
#[tokio::test]
async fn replayed_session_copies_cannot_multiply_email_code_attempts() {
    let world = world();
    let service = &world.service;
    let account = Account {
        user_id: "alice".into(),
        email: EMAIL.into(),
    };
    let sent = service.start_enable(&account).await.unwrap();
    let right = world.mailer.last_email_code(EMAIL).unwrap();
    let wrong = if right.expose() == "000000" {
        "111111"
    } else {
        "000000"
    };
    let session = service.seal(&PendingEnable::EmailCodeSent(sent)).unwrap();
    let mut locked = 0;
    for _ in 0..10 {
        let Ok(PendingEnable::EmailCodeSent(copy)) = service.open("alice", &session) else {
            panic!("same step")
        };
        let refused = service
            .verify_email(&alice(), copy, wrong)
            .await
            .unwrap_err();
        locked += usize::from(matches!(refused.error, ServiceError::Locked(_)));
    }
    assert_eq!(
        locked, 5,
        "five wrong codes across copies, then the account waits"
    );
}
