//! Each pending state belongs to the account it was issued to — its id and its email, where
//! the notices go — and to the credential it began over. These are the findings of the third
//! review, one test each: every one of them passed wrongly before.
// The helpers walk the flows: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{fast_hash, shown};
use twostep_enrollment::memory::{
    FixedPasswords, MemoryStore, PlaintextSealer, RecordingMailer, SettableClock,
};
use twostep_enrollment::{
    Account, Clock, Mail, Mailer, Policies, Saved, Service, ServiceError, Store,
};
use twostep_otp::Totp;

const T0: u64 = 1_764_288_000;
const PASSWORD: &str = "correct horse";

/// A mailer that can be down.
#[derive(Default)]
struct Flaky {
    sent: RecordingMailer,
    down: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
#[error("the relay is down")]
struct Down;

impl Mailer for Flaky {
    type Error = Down;

    async fn send(&self, mail: Mail) -> Result<(), Down> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Down);
        }
        let _ = self.sent.send(mail).await;
        Ok(())
    }
}

type Wired = Service<MemoryStore, Arc<Flaky>, FixedPasswords>;

struct World {
    service: Wired,
    mailer: Arc<Flaky>,
    clock: Arc<SettableClock>,
}

fn world() -> World {
    world_with(|_| {})
}

fn world_with(configure: impl FnOnce(&mut Policies)) -> World {
    let mailer = Arc::new(Flaky::default());
    let clock = Arc::new(SettableClock::at(T0));
    let mut policies = Policies::new("DFINERY");
    policies.recovery_hash = fast_hash();
    configure(&mut policies);
    let passwords = FixedPasswords::default()
        .with("alice", PASSWORD)
        .with("bob", PASSWORD);
    let service = Service::builder(MemoryStore::default(), PlaintextSealer)
        .mailer(Arc::clone(&mailer))
        .reauthenticate(passwords)
        .clock(Arc::clone(&clock))
        .policies(policies)
        .build();
    World {
        service,
        mailer,
        clock,
    }
}

fn alice() -> Account {
    Account {
        user_id: "alice".into(),
        email: "alice@example.com".into(),
    }
}

fn bob() -> Account {
    Account {
        user_id: "bob".into(),
        email: "bob@example.com".into(),
    }
}

impl World {
    fn code(&self, email: &str) -> String {
        let code = self.mailer.sent.last_email_code(email).unwrap();
        code.expose().to_owned()
    }

    async fn enable(&self, account: &Account) -> (Totp, Vec<String>) {
        self.clock.advance(60);
        let s = &self.service;
        let sent = s.start_enable(account).await.unwrap();
        let code = self.code(&account.email);
        let setup = s.verify_email(account, sent, &code).await.unwrap();
        let totp = s.setup_view(&setup).unwrap().key_uri.to_totp().unwrap();
        let first = totp.generate(self.clock.now()).unwrap().to_string();
        let save = s
            .confirm_authenticator(account, setup, &first)
            .await
            .unwrap();
        let codes = shown(save.codes());
        s.complete_enable(account, save, Saved::Yes).await.unwrap();
        (totp, codes)
    }

    fn notices_to(&self, email: &str) -> usize {
        let sent = self.mailer.sent.take();
        sent.iter()
            .filter(|mail| matches!(mail, Mail::Notice { to, .. } if to == email))
            .count()
    }
}

fn wrong_user<T, S>(outcome: Result<T, twostep_enrollment::Refusal<S>>) -> bool {
    matches!(
        outcome,
        Err(twostep_enrollment::Refusal {
            state: None,
            error: ServiceError::WrongUser,
            ..
        })
    )
}

/// `verify_login` took `&Account` but checked only its id: the recovery-code notice went to
/// whatever address the caller passed.
#[tokio::test]
async fn a_login_notice_goes_only_to_the_address_the_challenge_was_issued_to() {
    let w = world();
    let (_, codes) = w.enable(&alice()).await;
    let challenge = w
        .service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .unwrap();
    let elsewhere = Account {
        user_id: "alice".into(),
        email: "mallory@example.com".into(),
    };
    w.mailer.sent.take();
    let refused = w
        .service
        .verify_login(&elsewhere, challenge, &codes[0])
        .await;
    assert!(wrong_user(refused));
    assert_eq!(w.notices_to("mallory@example.com"), 0);
    let status = w.service.status("alice").await.unwrap();
    assert_eq!(status.recovery_codes_left, codes.len(), "no code was used");
}

/// `complete_reissue` judged the tick before the user: another user's state, unticked, came
/// back usable.
#[tokio::test]
async fn another_users_reissue_is_refused_before_its_tick_is_judged() {
    let w = world();
    w.enable(&alice()).await;
    let save = w.service.start_reissue(&alice(), PASSWORD).await.unwrap();
    assert!(wrong_user(
        w.service.complete_reissue(&bob(), save, Saved::No).await
    ));
}

/// The wizard's steps took no session user: alice's wizard, finished in bob's session,
/// enabled 2FA on alice's account with whatever authenticator bob scanned.
#[tokio::test]
async fn a_wizard_continues_only_in_the_session_of_its_account() {
    let w = world();
    let sent = w.service.start_enable(&alice()).await.unwrap();
    let code = w.code("alice@example.com");
    assert!(wrong_user(
        w.service.verify_email(&bob(), sent, &code).await
    ));
    w.clock.advance(60);
    let sent = w.service.start_enable(&alice()).await.unwrap();
    let code = w.code("alice@example.com");
    let setup = w.service.verify_email(&alice(), sent, &code).await.unwrap();
    let totp = w
        .service
        .setup_view(&setup)
        .unwrap()
        .key_uri
        .to_totp()
        .unwrap();
    let first = totp.generate(w.clock.now()).unwrap().to_string();
    assert!(wrong_user(
        w.service.confirm_authenticator(&bob(), setup, &first).await
    ));
    assert!(!w.service.status("alice").await.unwrap().is_enabled());
}

/// With the mailer down, a resend handed back a state whose code nobody received: the code
/// that was delivered then counted as wrong.
#[tokio::test]
async fn a_resend_the_mailer_dropped_keeps_the_code_that_was_delivered() {
    let w = world();
    let sent = w.service.start_enable(&alice()).await.unwrap();
    let delivered = w.code("alice@example.com");
    w.clock.advance(61);
    w.mailer.down.store(true, Ordering::SeqCst);
    let refused = w
        .service
        .resend_email_code(&alice(), sent)
        .await
        .unwrap_err();
    assert!(matches!(refused.error, ServiceError::Backend { .. }));
    w.mailer.down.store(false, Ordering::SeqCst);
    let sent = refused.state.unwrap();
    w.service
        .verify_email(&alice(), sent, &delivered)
        .await
        .expect("the delivered code still passes");
}

/// `start_enable` had no cooldown of its own: 10 restarts in 50 seconds mailed 11 codes.
#[tokio::test]
async fn restarting_the_wizard_cannot_flood_a_mailbox() {
    let w = world();
    let mut mailed = 0;
    for _ in 0..11 {
        if w.service.start_enable(&alice()).await.is_ok() {
            mailed += 1;
        }
        w.clock.advance(5);
    }
    let codes = w
        .mailer
        .sent
        .take()
        .iter()
        .filter(|mail| matches!(mail, Mail::EmailCode { .. }))
        .count();
    assert_eq!(codes, mailed);
    assert!(mailed <= 2 * 3, "{mailed} codes in 55 s");
    assert!(mailed >= 3, "starting over a few times works");
}

/// A copy of the wizard from before a resend still accepted the old code after the new one
/// had passed on the current state: the email step completed twice, with two keys.
#[tokio::test]
async fn the_email_step_passes_once_per_wizard_whichever_code() {
    let w = world();
    let before = w.service.start_enable(&alice()).await.unwrap();
    let old = w.code("alice@example.com");
    w.clock.advance(61);
    let after = w
        .service
        .resend_email_code(&alice(), before.clone())
        .await
        .unwrap();
    let new = w.code("alice@example.com");
    w.service
        .verify_email(&alice(), after, &new)
        .await
        .expect("the new code passes");
    let refused = w
        .service
        .verify_email(&alice(), before, &old)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, ServiceError::Replayed),
        "{}",
        refused.error
    );
}

/// An account deleted and its id registered again: a login challenge from the old account
/// must not sign in with the new account's authenticator.
#[tokio::test]
async fn a_challenge_from_before_the_id_was_reused_does_not_sign_in() {
    let w = world();
    w.enable(&alice()).await;
    let old = w
        .service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .unwrap();
    w.service.store().forget_user("alice").await.unwrap();
    let (totp, _) = w.enable(&alice()).await;
    w.clock.advance(30);
    let code = totp.generate(w.clock.now()).unwrap().to_string();
    let refused = w
        .service
        .verify_login(&alice(), old, &code)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, ServiceError::Replayed),
        "{}",
        refused.error
    );
    assert!(refused.state.is_none());
}

/// A copy of the wizard's email step that already passed counted wrong codes against the
/// shared budget and answered them "wrong" (while a right one said "replayed"). It is spent:
/// every answer is "start again", and nothing counts.
#[tokio::test]
async fn a_spent_email_step_costs_nothing_and_answers_nothing() {
    let w = world();
    let sent = w.service.start_enable(&alice()).await.unwrap();
    let code = w.code("alice@example.com");
    let copy = w
        .service
        .seal(&twostep_enrollment::PendingEnable::from(sent.clone()))
        .unwrap();
    w.service
        .verify_email(&alice(), sent, &code)
        .await
        .expect("the right code passes");
    let before = w.service.store().throttle("alice").await.unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for input in [wrong, wrong, wrong, wrong, wrong, wrong, code.as_str()] {
        let Ok(twostep_enrollment::PendingEnable::EmailCodeSent(copy)) =
            w.service.open("alice", &copy)
        else {
            panic!("the copy opens")
        };
        let refused = w
            .service
            .verify_email(&alice(), copy, input)
            .await
            .unwrap_err();
        assert!(
            matches!(refused.error, ServiceError::Replayed),
            "{input}: {}",
            refused.error
        );
        assert!(refused.state.is_none());
    }
    assert_eq!(w.service.store().throttle("alice").await.unwrap(), before);
}

/// The failure budget was configured three times (wizard, login, re-issue), so an app could
/// set a strict one for sign-ins and leave re-issue's open. One `Policies::throttle` now
/// serves every flow: failures at the sign-in spend the re-issue's budget too.
#[tokio::test]
async fn one_failure_budget_serves_every_flow() {
    let w = world_with(|policies| policies.throttle.max_failures = 2);
    let (totp, _) = w.enable(&alice()).await;
    let right = totp.generate(w.clock.now()).unwrap().to_string();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..2 {
        let challenge = w
            .service
            .begin_login(&alice())
            .await
            .unwrap()
            .into_challenge()
            .unwrap();
        let refused = w
            .service
            .verify_login(&alice(), challenge, wrong)
            .await
            .unwrap_err();
        assert!(
            matches!(refused.error, ServiceError::Code(_)),
            "{}",
            refused.error
        );
    }
    let refused = w
        .service
        .start_reissue(&alice(), PASSWORD)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::Locked(_)),
        "two failures spend a budget of two, for every flow: {refused}"
    );
}

/// Once a recovery code's check is on the hashing pool it runs to the end whatever the
/// request does: a client that disconnects then must not get its attempt back, or dropping
/// requests would buy unlimited Argon2 evaluations for free. (Before it is on the pool — a
/// password check, a wait for a permit — a drop gives the attempt back.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_after_its_check_started_keeps_the_attempt() {
    // Argon2 at its real cost: the check is still running when the request is dropped.
    let w = world_with(|policies| {
        policies.recovery_hash = twostep_recovery::HashParams::default();
    });
    let (_, codes) = w.enable(&alice()).await;
    let before = w.service.store().throttle("alice").await.unwrap();
    let challenge = w
        .service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .unwrap();
    let account = alice();
    let check = w.service.verify_login(&account, challenge, &codes[0]);
    let answered = tokio::select! {
        biased;
        outcome = check => Some(outcome.is_ok()),
        () = std::future::ready(()) => None,
    };
    assert_eq!(
        answered, None,
        "polled up to the hashing pool, then dropped"
    );
    // Had the drop given the attempt back, a task on the runtime would be doing it now.
    for _ in 0..50 {
        tokio::task::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let after = w.service.store().throttle("alice").await.unwrap();
    assert_eq!(
        after.window_failures,
        before.window_failures + 1,
        "the started check's attempt stands: {after:?}"
    );
    let status = w.service.status("alice").await.unwrap();
    assert_eq!(
        status.recovery_codes_left,
        codes.len(),
        "the code was not used"
    );
}
