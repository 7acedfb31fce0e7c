//! One test per bug found in the first edition of the service (each failed there): re-issue
//! replays, a recovery-code typo at disable, the re-issue tick, addresses authenticator apps
//! refuse, and two recovery codes redeemed at once. Completing each flow's state twice is the
//! conformance suite's (`tests/conformance.rs`).
// A failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{acct, fast_hash, shown};
use twostep_enrollment::Account;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryDirectory, MemoryStore, PlaintextSealer, RecordingAudit, RecordingMailer,
    SettableClock,
};
use twostep_enrollment::{
    AcceptStep, AuditEvent, AuditKind, Clock, ConsumedState, CredentialRecord, LoginStep, Mail,
    Notice, PendingEnable, Policies, SaveRecoveryCodes, Saved, Service, ServiceError, Store,
    StoredAccount, StoredOrgPolicy, Throttle,
};
use twostep_otp::Totp;
use twostep_policy::{Membership, OrgPolicy, Role};
use twostep_recovery::{RecoveryCodeSet, RedeemError};

const T0: u64 = 1_764_288_000;
const PASSWORD: &str = "correct horse";

type Wired<S> = Service<S, Arc<RecordingMailer>, FixedPasswords, Arc<MemoryDirectory>>;

struct World<S> {
    service: Arc<Wired<S>>,
    mailer: Arc<RecordingMailer>,
    audit: Arc<RecordingAudit>,
    clock: Arc<SettableClock>,
    directory: Arc<MemoryDirectory>,
}

fn world_over<S: Store>(store: S) -> World<S> {
    let mailer = Arc::new(RecordingMailer::default());
    let audit = Arc::new(RecordingAudit::default());
    let clock = Arc::new(SettableClock::at(T0));
    let directory = Arc::new(MemoryDirectory::default());
    let mut policies = Policies::new("DFINERY");
    policies.recovery_hash = fast_hash();
    let passwords = ["alice", "eve"]
        .into_iter()
        .fold(FixedPasswords::default(), |p, user| p.with(user, PASSWORD));
    let service = Service::builder(store, PlaintextSealer)
        .mailer(Arc::clone(&mailer))
        .reauthenticate(passwords)
        .directory(Arc::clone(&directory))
        .audit(Arc::clone(&audit))
        .clock(Arc::clone(&clock))
        .policies(policies)
        .build();
    World {
        service: Arc::new(service),
        mailer,
        audit,
        clock,
        directory,
    }
}

fn world() -> World<MemoryStore> {
    world_over(MemoryStore::default())
}

fn alice() -> Account {
    Account {
        user_id: "alice".into(),
        email: "alice@example.com".into(),
    }
}

impl<S: Store + 'static> World<S> {
    /// Runs the wizard for `account`; returns its TOTP and recovery codes.
    async fn enable(&self, account: &Account) -> (Totp, Vec<String>) {
        let (totp, save) = self.wizard_at_done(account).await;
        let codes = shown(save.codes());
        self.service
            .complete_enable(account, save, Saved::Yes)
            .await
            .unwrap();
        (totp, codes)
    }

    /// Runs the wizard for `account` up to its last screen, the recovery codes.
    async fn wizard_at_done(&self, account: &Account) -> (Totp, SaveRecoveryCodes) {
        self.clock.advance(30);
        let sent = self.service.start_enable(account).await.unwrap();
        let code = self.mailer.last_email_code(&account.email).unwrap();
        let setup = self
            .service
            .verify_email(account, sent, code.expose())
            .await
            .unwrap();
        let view = self.service.setup_view(&setup).unwrap();
        let totp = view.key_uri.to_totp().unwrap();
        let first = totp.generate(self.clock.now()).unwrap().to_string();
        let save = self
            .service
            .confirm_authenticator(account, setup, &first)
            .await
            .unwrap();
        (totp, save)
    }

    /// Two copies of the wizard's last screen, as two tabs or a restored session hold it.
    fn two_copies(&self, save: SaveRecoveryCodes) -> (SaveRecoveryCodes, SaveRecoveryCodes) {
        let user = save.account().user_id.clone();
        let sealed = self.service.seal(&PendingEnable::from(save)).unwrap();
        let open = || match self.service.open(&user, &sealed).unwrap() {
            PendingEnable::SaveRecoveryCodes(copy) => copy,
            _ => unreachable!("sealed at the last screen"),
        };
        (open(), open())
    }

    async fn sign_in(&self, account: &Account, input: &str) -> Result<(), ServiceError> {
        let challenge = self
            .service
            .begin_login(account)
            .await?
            .into_challenge()
            .expect("a second step");
        self.service.verify_login(account, challenge, input).await?;
        Ok(())
    }

    fn count(&self, kind: AuditKind) -> usize {
        self.audit
            .events()
            .iter()
            .filter(|e| e.kind == kind)
            .count()
    }

    async fn throttle(&self, user: &str) -> Throttle {
        self.service.store().throttle(user).await.unwrap()
    }
}

/// Re-issue's "Done" completed once, then a copy of its state after the user signed in with
/// a new code: the copy must not store the set again with every code unused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replayed_reissue_done_does_not_revive_used_codes() {
    let w = world();
    w.enable(&alice()).await;
    let save = w.service.start_reissue(&alice(), PASSWORD).await.unwrap();
    let new_codes = shown(save.codes());
    let sealed = w.service.seal(&save).unwrap();
    w.service
        .complete_reissue(&alice(), save, Saved::Yes)
        .await
        .unwrap();
    w.sign_in(&alice(), &new_codes[0]).await.unwrap();

    let replay = w.service.open("alice", &sealed).unwrap();
    let refused = w
        .service
        .complete_reissue(&alice(), replay, Saved::Yes)
        .await
        .unwrap_err();
    assert!(matches!(refused.error, ServiceError::Replayed), "{refused}");
    assert!(refused.state.is_none(), "start again");
    let error = w.sign_in(&alice(), &new_codes[0]).await.unwrap_err();
    assert!(
        matches!(error, ServiceError::RecoveryCode(RedeemError::NoMatch)),
        "new code #1 works once: {error}"
    );
    let status = w.service.status("alice").await.unwrap();
    assert_eq!(status.recovery_codes_left, new_codes.len() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_100_concurrent_reissue_dones_wins_with_one_event_and_one_notice() {
    let w = world();
    w.enable(&alice()).await;
    w.mailer.take();
    let save = w.service.start_reissue(&alice(), PASSWORD).await.unwrap();
    let sealed = w.service.seal(&save).unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (service, barrier) = (Arc::clone(&w.service), Arc::clone(&barrier));
        let copy = w.service.open("alice", &sealed).unwrap();
        tasks.spawn(async move {
            barrier.wait().await;
            service
                .complete_reissue(&alice(), copy, Saved::Yes)
                .await
                .is_ok()
        });
    }
    let mut winners = 0;
    while let Some(won) = tasks.join_next().await {
        winners += usize::from(won.unwrap());
    }
    assert_eq!(winners, 1);
    assert_eq!(w.count(AuditKind::RecoveryCodesReissued), 1);
    let notices = w
        .mailer
        .take()
        .into_iter()
        .filter(|mail| {
            matches!(
                mail,
                Mail::Notice {
                    notice: Notice::RecoveryCodesReissued,
                    ..
                }
            )
        })
        .count();
    assert_eq!(notices, 1);
}

/// A typo in a recovery code (its check symbol is off) is caught before anything is compared:
/// at disable, as at login, it costs no attempt and audits no failure.
#[tokio::test]
async fn a_recovery_code_typo_at_disable_costs_nothing() {
    let w = world();
    let (_, codes) = w.enable(&alice()).await;
    // One substitution, which the check symbol always catches. (Swapping the last symbol for
    // an "A" was no typo when it was an "a" already: codes ignore case. 1 run in 32 failed.)
    let typo = common::one_typo(&codes[0]);
    let state = w.service.start_disable(&alice(), PASSWORD).await.unwrap();
    let before = w.throttle("alice").await;
    let failures = w.count(AuditKind::SecondStepFailed);

    let refused = w
        .service
        .confirm_disable(&alice(), state, &typo)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.error,
            ServiceError::RecoveryCode(RedeemError::Malformed(_))
        ),
        "{refused}"
    );
    assert_eq!(w.throttle("alice").await, before, "no attempt spent");
    assert_eq!(
        w.count(AuditKind::SecondStepFailed),
        failures,
        "no failure audited"
    );
    let state = refused.state.expect("the step is still usable");
    w.service
        .confirm_disable(&alice(), state, &codes[0])
        .await
        .unwrap();
    assert!(!w.service.status("alice").await.unwrap().is_enabled());
}

#[tokio::test]
async fn reissue_done_without_the_tick_is_refused_and_keeps_the_codes() {
    let w = world();
    let (_, old_codes) = w.enable(&alice()).await;
    let save = w.service.start_reissue(&alice(), PASSWORD).await.unwrap();
    let new_codes = shown(save.codes());
    let refused = w
        .service
        .complete_reissue(&alice(), save, Saved::No)
        .await
        .unwrap_err();
    assert!(matches!(refused.error, ServiceError::NotSaved), "{refused}");
    w.sign_in(&alice(), &old_codes[0]).await.unwrap();
    let save = refused.state.expect("the new codes are still shown");
    assert_eq!(shown(save.codes()), new_codes);
    w.service
        .complete_reissue(&alice(), save, Saved::Yes)
        .await
        .unwrap();
    w.sign_in(&alice(), &new_codes[0]).await.unwrap();
}

/// Users whose addresses a Key URI label cannot carry as they are.
const ADDRESSES: [(&str, &str); 4] = [
    ("colon", "\"a:b\"@example.com"),
    ("control", "tab\there@example.com"),
    ("bidi", "eve\u{202E}moc.liame@example.com"),
    ("blank", " \u{200F} "),
];

/// Addresses the application accepted but Key URI labels cannot carry: each member, held to
/// the wizard by a mandate, sets 2FA up and signs in with it — nobody reaches a dead end.
#[tokio::test]
async fn every_accepted_address_can_enroll_under_a_mandate() {
    let w = world();
    let ada = Account {
        user_id: "ada".into(),
        email: "ada@example.com".into(),
    };
    w.directory
        .join(Membership::new("acme", "ada", Role::Owner, 0));
    w.enable(&ada).await;
    for (user, _) in ADDRESSES {
        w.directory
            .join(Membership::new("acme", user, Role::Member, 0));
    }
    w.service
        .set_mandate(&acct("ada"), "acme", 0)
        .await
        .unwrap();
    for (user, email) in ADDRESSES {
        let account = Account {
            user_id: user.into(),
            email: email.into(),
        };
        assert!(
            matches!(
                w.service.begin_login(&account).await.unwrap(),
                LoginStep::EnrollmentRequired { .. }
            ),
            "{user}"
        );
        let sent = w.service.start_enable(&account).await.unwrap();
        let code = w.mailer.last_email_code(email).unwrap();
        let setup = w
            .service
            .verify_email(&account, sent, code.expose())
            .await
            .unwrap();
        let view = w.service.setup_view(&setup).expect(user);
        assert!(
            !view.account.contains(':') && !view.account.contains('\u{202E}'),
            "{user}: {:?}",
            view.account
        );
        let totp = view.key_uri.to_totp().unwrap();
        let first = totp.generate(w.clock.now()).unwrap().to_string();
        let save = w
            .service
            .confirm_authenticator(&account, setup, &first)
            .await
            .unwrap();
        w.service
            .complete_enable(&account, save, Saved::Yes)
            .await
            .unwrap();
        w.clock.advance(30);
        let code = totp.generate(w.clock.now()).unwrap().to_string();
        w.sign_in(&account, &code).await.expect(user);
    }
}

/// A store whose first two recovery-code replacements wait for each other, so both read the
/// same codes before either writes: the race, every time.
struct TwoAtOnce {
    inner: MemoryStore,
    arrivals: AtomicUsize,
    gate: tokio::sync::Barrier,
}

impl Store for TwoAtOnce {
    type Error = <MemoryStore as Store>::Error;

    async fn account(&self, user: &str) -> Result<StoredAccount, Self::Error> {
        self.inner.account(user).await
    }

    async fn create_credential(
        &self,
        user: &str,
        revision: u64,
        record: CredentialRecord,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner
            .create_credential(user, revision, record, events)
            .await
    }

    async fn accept_step(
        &self,
        user: &str,
        write: AcceptStep,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner.accept_step(user, write, events).await
    }

    async fn replace_recovery_codes(
        &self,
        user: &str,
        revision: u64,
        new: RecoveryCodeSet,
        completed: Option<Vec<ConsumedState>>,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        if self.arrivals.fetch_add(1, Ordering::SeqCst) < 2 {
            self.gate.wait().await;
        }
        self.inner
            .replace_recovery_codes(user, revision, new, completed, events)
            .await
    }

    async fn remove_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner.remove_credential(user, revision, events).await
    }

    async fn reset_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner.reset_credential(user, revision, events).await
    }
    async fn forget_user(&self, user: &str) -> Result<bool, Self::Error> {
        self.inner.forget_user(user).await
    }

    async fn is_consumed(
        &self,
        user: &str,
        id: twostep_enrollment::StateId,
        now: u64,
    ) -> Result<bool, Self::Error> {
        self.inner.is_consumed(user, id, now).await
    }
    async fn consume_state(
        &self,
        user: &str,
        state: ConsumedState,
        now: u64,
    ) -> Result<bool, Self::Error> {
        self.inner.consume_state(user, state, now).await
    }

    async fn compare_and_set_throttle(
        &self,
        user: &str,
        expected: Throttle,
        new: Throttle,
    ) -> Result<bool, Self::Error> {
        self.inner
            .compare_and_set_throttle(user, expected, new)
            .await
    }

    async fn org_policy(&self, org: &str) -> Result<StoredOrgPolicy, Self::Error> {
        self.inner.org_policy(org).await
    }

    async fn compare_and_set_org_policy(
        &self,
        org: &str,
        revision: u64,
        new: OrgPolicy,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner
            .compare_and_set_org_policy(org, revision, new, events)
            .await
    }
}

/// Two servers (one server checks one user's codes one at a time) each take a recovery code
/// of one user at the same moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_recovery_codes_redeemed_at_the_same_moment_both_sign_in() {
    let shared = Arc::new(TwoAtOnce {
        inner: MemoryStore::default(),
        arrivals: AtomicUsize::new(0),
        gate: tokio::sync::Barrier::new(2),
    });
    let w = world_over(Arc::clone(&shared));
    let other_server = world_over(shared);
    let (_, codes) = w.enable(&alice()).await;
    other_server
        .clock
        .advance(w.clock.now() - other_server.clock.now());
    // Enabling wrote no recovery codes through `replace_recovery_codes`: the gate is still
    // closed for the two sign-ins below.
    let mut tasks = tokio::task::JoinSet::new();
    for (server, code) in [(&w, &codes[0]), (&other_server, &codes[1])] {
        let (service, code) = (Arc::clone(&server.service), code.clone());
        let challenge = service
            .begin_login(&alice())
            .await
            .unwrap()
            .into_challenge()
            .unwrap();
        tasks.spawn(async move { service.verify_login(&alice(), challenge, &code).await });
    }
    while let Some(outcome) = tasks.join_next().await {
        let signed_in = outcome.unwrap();
        assert!(signed_in.is_ok(), "a right code refused: {signed_in:?}");
    }
    let status = w.service.status("alice").await.unwrap();
    assert_eq!(
        status.recovery_codes_left,
        codes.len() - 2,
        "both codes used"
    );
    assert_eq!(
        w.throttle("alice").await.consecutive_failures,
        0,
        "neither counted as a failure"
    );
}

/// An error and its causes, as an error reporter prints them.
fn chain(error: &dyn std::error::Error) -> Vec<String> {
    let mut texts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        texts.push(cause.to_string());
        source = cause.source();
    }
    texts
}

/// Texts fit to show a user: no raw Unix time ("try again after 1796190712") and no cause
/// repeated ("the code was already used: the code was already used").
#[test]
fn error_texts_show_no_timestamp_and_repeat_no_cause() {
    use twostep_enrollment::{Collaborator, Locked};
    use twostep_otp::Rejection;

    let at = 1_796_190_712;
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(ServiceError::Locked(Locked::Until(at))),
        Box::new(ServiceError::Locked(Locked::Hard)),
        Box::new(ServiceError::ResendTooSoon { after: at }),
        Box::new(ServiceError::Code(Rejection::Replayed)),
        Box::new(ServiceError::RecoveryCode(RedeemError::NoMatch)),
        Box::new(ServiceError::Backend {
            collaborator: Collaborator::Store,
            source: "connection refused".into(),
        }),
        Box::new(ServiceError::Code(Rejection::Mismatch)),
        Box::new(ServiceError::InvalidState),
        Box::new(Locked::Until(at)),
    ];
    for error in &errors {
        let texts = chain(error.as_ref());
        let line = texts.join(": ");
        assert!(
            !line.contains(&at.to_string()),
            "a raw timestamp in {line:?}"
        );
        for pair in texts.windows(2) {
            assert!(!pair[0].contains(&pair[1]), "a repeated cause in {line:?}");
        }
    }
    let backend = chain(&ServiceError::Backend {
        collaborator: Collaborator::Mail,
        source: "relay down".into(),
    });
    assert_eq!(
        backend,
        ["the mailer failed", "relay down"],
        "says who failed"
    );
}

/// A copy of a login challenge that already signed in is spent: it costs the user nothing
/// and says only "start again". Before, five wrong codes on the copy locked the user out for
/// 15 minutes, and it answered a right code `Replayed` but a wrong one `Mismatch` (an oracle).
#[tokio::test]
async fn a_spent_challenge_copy_costs_nothing_and_answers_nothing() {
    let w = world();
    let (totp, codes) = w.enable(&alice()).await;
    w.clock.advance(30);
    let challenge = w
        .service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .unwrap();
    let copy = w.service.seal(&challenge).unwrap();
    let code = totp.generate(w.clock.now()).unwrap().to_string();
    w.service
        .verify_login(&alice(), challenge, &code)
        .await
        .unwrap();
    let before = w.throttle("alice").await;
    let failures = w.count(AuditKind::SecondStepFailed);

    let wrong = if code == "000000" { "111111" } else { "000000" };
    w.clock.advance(30);
    let next = totp.generate(w.clock.now()).unwrap().to_string();
    for input in [
        wrong,
        wrong,
        wrong,
        wrong,
        wrong,
        wrong,
        &next,
        &codes[0],
        "not-a-code",
    ] {
        let copy = w.service.open("alice", &copy).unwrap();
        let refused = w
            .service
            .verify_login(&alice(), copy, input)
            .await
            .unwrap_err();
        assert!(
            matches!(refused.error, ServiceError::Replayed),
            "{input:?}: {}",
            refused.error
        );
        assert!(refused.state.is_none(), "start again");
    }
    assert_eq!(w.throttle("alice").await, before, "nothing counted");
    assert_eq!(w.count(AuditKind::SecondStepFailed), failures);
    w.sign_in(&alice(), &next)
        .await
        .expect("the user signs in as if nothing happened");
    w.sign_in(&alice(), &codes[0])
        .await
        .expect("the recovery code the copy was given is still unused");
}

/// A sign-in from the user's other session between the password step and the code of a
/// disable used to kill the disable ("already completed or out of date"): any accepted step
/// moved the revision it was bound to. It is bound to the credential now; the code that
/// signed in still cannot disable.
#[tokio::test]
async fn a_sign_in_elsewhere_does_not_spoil_a_disable_but_its_code_cannot_disable() {
    let w = world();
    let (totp, _) = w.enable(&alice()).await;
    w.clock.advance(30);
    let confirm = w.service.start_disable(&alice(), PASSWORD).await.unwrap();
    let code = totp.generate(w.clock.now()).unwrap().to_string();
    w.sign_in(&alice(), &code)
        .await
        .expect("the other session signs in");
    let refused = w
        .service
        .confirm_disable(&alice(), confirm, &code)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, ServiceError::Code(_)),
        "the code that signed in is used: {}",
        refused.error
    );
    let confirm = refused.state.expect("the disable goes on");
    w.clock.advance(30);
    let next = totp.generate(w.clock.now()).unwrap().to_string();
    w.service
        .confirm_disable(&alice(), confirm, &next)
        .await
        .expect("a fresh code disables");
    assert!(!w.service.status("alice").await.unwrap().is_enabled());
}

/// Texts for users are whole sentences with plurals that agree and a lock's time left —
/// before, "1 attempts left", lowercase fragments every app re-capitalized, and a lock said
/// only "try again later".
#[test]
fn messages_are_whole_sentences_with_plurals_and_the_time_left() {
    use twostep_enrollment::{Collaborator, Locked};
    use twostep_otp::Rejection;

    let now = 1_796_190_000;
    assert_eq!(
        ServiceError::WrongEmailCode { attempts_left: 1 }.to_string(),
        "the email code is wrong; 1 attempt left"
    );
    assert_eq!(
        ServiceError::WrongEmailCode { attempts_left: 4 }.message(now),
        "The email code is wrong. 4 attempts left."
    );
    let locked = |seconds| ServiceError::Locked(Locked::Until(now + seconds));
    assert_eq!(
        locked(14 * 60).message(now),
        "Too many failed attempts. Try again in 14 minutes."
    );
    assert_eq!(
        locked(61).message(now),
        "Too many failed attempts. Try again in 2 minutes."
    );
    assert_eq!(
        locked(59).message(now),
        "Too many failed attempts. Try again in less than a minute."
    );
    assert_eq!(
        ServiceError::ResendTooSoon { after: now + 60 }.message(now),
        "A new code was sent a moment ago. Ask for another in 1 minute."
    );
    let every = [
        ServiceError::Expired,
        ServiceError::Replayed,
        ServiceError::WrongUser,
        ServiceError::InvalidState,
        ServiceError::AlreadyEnabled,
        ServiceError::NotEnabled,
        ServiceError::Locked(Locked::Hard),
        locked(3 * 3_600),
        ServiceError::EmailCodeExpired,
        ServiceError::Code(Rejection::Replayed),
        ServiceError::RecoveryCode(RedeemError::NoMatch),
        ServiceError::WrongPassword,
        ServiceError::NotSaved,
        ServiceError::Conflict,
        ServiceError::Backend {
            collaborator: Collaborator::Store,
            source: "connection refused on 10.0.0.7".into(),
        },
    ];
    for error in every {
        let message = error.message(now);
        assert!(
            message.starts_with(char::is_uppercase) && message.ends_with('.'),
            "{message:?}"
        );
        assert!(!message.contains(&now.to_string()), "a raw time: {message}");
        assert!(
            !message.contains("10.0.0.7"),
            "a backend's cause: {message}"
        );
        assert!(!message.contains(" 1 attempts"), "{message}");
    }
}

/// A recovery-code typo took a reservation before it was parsed, and then queued for the
/// hashing pool holding it: typos in flight refused the user's right code as locked. A typo
/// is answered before anything is reserved or hashed now — even while the budget is spent.
#[tokio::test]
async fn a_recovery_code_typo_reserves_nothing() {
    let w = world();
    let (_, codes) = w.enable(&alice()).await;
    let typo = common::one_typo(&codes[0]);
    let policy = w.service.policies().throttle;
    let mut spent = w.throttle("alice").await;
    while spent.check(&policy, w.clock.now()).is_ok() {
        spent = spent.record_failure(&policy, w.clock.now());
    }
    let before = w.throttle("alice").await;
    assert!(
        w.service
            .store()
            .compare_and_set_throttle("alice", before, spent)
            .await
            .unwrap()
    );
    let challenge = w
        .service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .unwrap();
    let refused = w
        .service
        .verify_login(&alice(), challenge, &typo)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.error,
            ServiceError::RecoveryCode(RedeemError::Malformed(_))
        ),
        "{}",
        refused.error
    );
    assert!(refused.state.is_some());
    assert_eq!(w.throttle("alice").await, spent, "nothing reserved");
    w.clock.advance(30);
    let confirm = w.service.start_disable(&alice(), PASSWORD).await;
    assert!(matches!(confirm, Err(ServiceError::Locked(_))));
}

/// A password check that never answers, as one stuck behind a slow user database.
struct Stuck;

impl twostep_enrollment::Reauthenticate for Stuck {
    type Error = std::convert::Infallible;

    async fn verify_password(&self, _: &str, _: &str) -> Result<bool, Self::Error> {
        std::future::pending().await
    }
}

/// A request dropped mid-check (the client went away while its password was checked, or its
/// recovery code waited for the hashing pool) kept its reserved attempt as a failure: five
/// such drops locked the user out for a quarter of an hour. The attempt is given back now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_mid_check_costs_no_attempt() {
    let shared = Arc::new(MemoryStore::default());
    let w = world_over(Arc::clone(&shared));
    w.enable(&alice()).await;
    let stuck = Service::builder(shared, PlaintextSealer)
        .mailer(RecordingMailer::default())
        .reauthenticate(Stuck)
        .clock(Arc::clone(&w.clock))
        .build();
    let before = w.throttle("alice").await;
    let account = alice();
    for drop_number in 0..6 {
        let check = stuck.start_disable(&account, PASSWORD);
        // Polled until it waits for the password check — the attempt reserved — then
        // dropped. (Kept as failures, the drops would lock the account: the sixth would be
        // answered at once.)
        let answered = tokio::select! {
            biased;
            outcome = check => Some(outcome.map(drop)),
            () = std::future::ready(()) => None,
        };
        assert!(answered.is_none(), "answered at once: {answered:?}");
        // The attempt is given back on the runtime: wait for it, boundedly.
        let mut given_back = false;
        for _ in 0..1_000 {
            if w.throttle("alice").await == before {
                given_back = true;
                break;
            }
            tokio::task::yield_now().await;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(
            given_back,
            "drop {drop_number}: {:?}",
            w.throttle("alice").await
        );
    }
    assert!(w.service.status("alice").await.unwrap().locked.is_none());
}

/// Checks of one user waiting behind each other held an attempt each: five recovery codes or
/// passwords queued for the hashing pool spent the whole budget before any was judged, and
/// the user's right code was refused as locked meanwhile. A check waits for its turn first
/// now, and only the one whose turn it is holds an attempt.
#[tokio::test]
async fn checks_waiting_their_turn_hold_no_attempt() {
    let shared = Arc::new(MemoryStore::default());
    let w = world_over(Arc::clone(&shared));
    w.enable(&alice()).await;
    let stuck = Arc::new(
        Service::builder(shared, PlaintextSealer)
            .mailer(RecordingMailer::default())
            .reauthenticate(Stuck)
            .clock(Arc::clone(&w.clock))
            .build(),
    );
    let before = w.throttle("alice").await;
    let mut waiting = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let stuck = Arc::clone(&stuck);
        waiting.spawn(async move { stuck.start_disable(&alice(), PASSWORD).await.map(drop) });
    }
    // One thread: every task runs up to its wait before this one goes on.
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
    let held = w.throttle("alice").await;
    assert_eq!(
        held.window_failures,
        before.window_failures + 1,
        "only the check whose turn it is holds an attempt"
    );
    waiting.abort_all();
    while waiting.join_next().await.is_some() {}
}

/// The wizard's Cancel, then a "Done" from another copy of its last screen (a second tab):
/// the console said "nothing was saved" while the Done turned 2FA on.
#[tokio::test]
async fn a_cancelled_wizard_is_done_from_no_copy() {
    let w = world();
    let (_, save) = w.wizard_at_done(&alice()).await;
    let (shown, copy) = w.two_copies(save);
    w.service
        .cancel_enable(&alice(), PendingEnable::from(shown))
        .await
        .unwrap();
    let done = w.service.complete_enable(&alice(), copy, Saved::Yes).await;
    let refusal = done.unwrap_err();
    assert!(matches!(refusal.error, ServiceError::Replayed));
    assert!(refusal.state.is_none());
    assert!(!w.service.status("alice").await.unwrap().is_enabled());
}

/// A Cancel after the Done of the same wizard: it must say 2FA is on, not "nothing saved".
#[tokio::test]
async fn a_cancel_after_done_says_two_factor_is_on() {
    let w = world();
    let (_, save) = w.wizard_at_done(&alice()).await;
    let (done, late) = w.two_copies(save);
    w.service
        .complete_enable(&alice(), done, Saved::Yes)
        .await
        .unwrap();
    let cancel = w
        .service
        .cancel_enable(&alice(), PendingEnable::from(late))
        .await;
    assert!(matches!(cancel, Err(ServiceError::AlreadyEnabled)));
}

/// A Cancel and a Done of one wizard sent together (4 of 20 trials both "won" in the
/// console): exactly one of them wins, and 2FA is on exactly when the Done did.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_and_a_done_raced_never_both_win() {
    for _ in 0..50 {
        let w = world();
        let (_, save) = w.wizard_at_done(&alice()).await;
        let (done, cancel) = w.two_copies(save);
        let service = Arc::clone(&w.service);
        let done = tokio::spawn(async move {
            service
                .complete_enable(&alice(), done, Saved::Yes)
                .await
                .is_ok()
        });
        let service = Arc::clone(&w.service);
        let cancel = tokio::spawn(async move {
            service
                .cancel_enable(&alice(), PendingEnable::from(cancel))
                .await
                .is_ok()
        });
        let (done, cancel) = (done.await.unwrap(), cancel.await.unwrap());
        assert!(done != cancel, "done {done}, cancel {cancel}");
        assert_eq!(w.service.status("alice").await.unwrap().is_enabled(), done);
    }
}

/// A Cancel at an earlier step ends every copy of the wizard, the later ones too.
#[tokio::test]
async fn a_cancel_at_the_email_step_ends_the_wizard_everywhere() {
    let w = world();
    let sent = w.service.start_enable(&alice()).await.unwrap();
    let sealed = w.service.seal(&PendingEnable::from(sent)).unwrap();
    let early: PendingEnable = w.service.open("alice", &sealed).unwrap();
    let PendingEnable::EmailCodeSent(sent) = w.service.open("alice", &sealed).unwrap() else {
        unreachable!("sealed at the email step")
    };
    let code = w.mailer.last_email_code("alice@example.com").unwrap();
    let setup = w
        .service
        .verify_email(&alice(), sent, code.expose())
        .await
        .unwrap();
    let totp = w
        .service
        .setup_view(&setup)
        .unwrap()
        .key_uri
        .to_totp()
        .unwrap();
    let first = totp.generate(w.clock.now()).unwrap().to_string();
    let save = w
        .service
        .confirm_authenticator(&alice(), setup, &first)
        .await
        .unwrap();
    w.service.cancel_enable(&alice(), early).await.unwrap();
    let done = w.service.complete_enable(&alice(), save, Saved::Yes).await;
    assert!(matches!(done.unwrap_err().error, ServiceError::Replayed));
}
