//! Every flow of the service over the store under test, each pending state completed twice:
//! a copy completed after the original, a sealed copy opened after the flow moved on, and
//! 20 copies at once. Exactly one completion may succeed; the others get a typed error, no
//! state to retry with, and change nothing.

use std::future::Future;
use std::sync::Arc;

use twostep_otp::{Secret, Totp};
use twostep_policy::{Membership, Role};
use twostep_recovery::HashParams;

use super::failing::Failing;
use crate::app::Store;
use crate::enable::{Account, AuthenticatorSetup, EmailCodeSent, SaveRecoveryCodes};
use crate::memory::{
    FixedPasswords, MemoryDirectory, PlaintextSealer, RecordingMailer, SettableClock,
};
use crate::snapshot::PendingEnable;
use crate::{PendingState, Refusal, Saved, Service, ServiceError};

const T0: u64 = 1_764_288_000;
const USER: &str = "alice";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse";
/// An admin of USER's organisation, for a reset.
const ADMIN: &str = "ada";
const ORG: &str = "acme";
/// Copies of one state completed at once.
const COPIES: usize = 20;

type Wired<S> = Service<S, Arc<RecordingMailer>, FixedPasswords, MemoryDirectory>;

struct World<S> {
    service: Arc<Wired<S>>,
    mailer: Arc<RecordingMailer>,
    clock: Arc<SettableClock>,
}

fn world<S: Store>(store: S) -> World<S> {
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(SettableClock::at(T0));
    let fast = HashParams::new(8, 1, 1).expect("minimal Argon2 costs are valid");
    let mut policies = crate::Policies::new("DFINERY");
    policies.recovery_hash = fast;
    // A member of an organisation, as most users are (the flows read its mandates), and an
    // admin of it who may reset the member's factor.
    let directory = MemoryDirectory::default();
    directory.join(Membership::new(ORG, USER, Role::Member, T0));
    directory.join(Membership::new(ORG, ADMIN, Role::Admin, T0));
    let passwords = FixedPasswords::default()
        .with(USER, PASSWORD)
        .with(ADMIN, PASSWORD);
    let service = Service::builder(store, PlaintextSealer)
        .mailer(Arc::clone(&mailer))
        .reauthenticate(passwords)
        .directory(directory)
        .clock(Arc::clone(&clock))
        .policies(policies)
        .build();
    World {
        service: Arc::new(service),
        mailer,
        clock,
    }
}

fn account() -> Account {
    Account {
        user_id: USER.into(),
        email: EMAIL.into(),
    }
}

fn two<T>(mut states: Vec<T>) -> (T, T) {
    let second = states.pop().expect("two copies");
    let first = states.pop().expect("two copies");
    (first, second)
}

/// Asserts a completion was refused as the end of the flow.
fn refused_for_good<T, S>(outcome: Result<T, Refusal<S>>, what: &str) -> ServiceError {
    match outcome {
        Ok(_) => panic!("{what}: a second completion succeeded"),
        Err(refusal) => {
            assert!(
                refusal.state.is_none(),
                "{what}: the refusal must say start again"
            );
            refusal.error
        }
    }
}

/// Runs one completion per state at once; returns how many succeeded.
async fn race<T, O, E, F, Fut>(states: Vec<T>, complete: F) -> usize
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
    O: Send + 'static,
    E: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(states.len()));
    let mut tasks = tokio::task::JoinSet::new();
    for state in states {
        let completion = complete(state);
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            completion.await.is_ok()
        });
    }
    let mut winners = 0;
    while let Some(won) = tasks.join_next().await {
        winners += usize::from(won.expect("task ran"));
    }
    winners
}

impl<S: Store + 'static> World<S> {
    /// `n` copies of a state, each opened from one sealed copy, as a session store would
    /// hand them back.
    fn copies<T: PendingState>(&self, state: &T, n: usize) -> Vec<T> {
        let sealed = self.service.seal(state).expect("a live state seals");
        (0..n)
            .map(|_| {
                self.service
                    .open(USER, &sealed)
                    .expect("its sealed copy opens")
            })
            .collect()
    }

    fn code(&self, totp: &Totp) -> String {
        totp.generate(crate::Clock::now(&*self.clock))
            .expect("after T0")
            .to_string()
    }

    /// A new wizard, a resend cooldown after the last: one email code per account per
    /// cooldown, however often the wizard starts.
    async fn start(&self) -> EmailCodeSent {
        let cooldown = self.service.policies().email_code_cooldown_seconds;
        self.clock.advance(cooldown);
        self.service.start_enable(&account()).await.expect("starts")
    }

    async fn verified(&self) -> AuthenticatorSetup {
        let sent = self.start().await;
        let code = self.mailer.last_email_code(EMAIL).expect("a mailed code");
        self.service
            .verify_email(&account(), sent, code.expose())
            .await
            .expect("the mailed code")
    }

    /// The wizard up to the recovery-code screen, on a fresh TOTP step.
    async fn to_save(&self) -> (Totp, SaveRecoveryCodes) {
        self.clock.advance(30);
        let setup = self.verified().await;
        let totp = self
            .service
            .setup_view(&setup)
            .expect("a view")
            .key_uri
            .to_totp()
            .expect("a TOTP");
        let save = self
            .service
            .confirm_authenticator(&account(), setup, &self.code(&totp))
            .await
            .expect("the app's code");
        (totp, save)
    }

    async fn enabled(&self) -> (Totp, Vec<String>) {
        let (totp, save) = self.to_save().await;
        let codes = save
            .codes()
            .codes()
            .iter()
            .map(ToString::to_string)
            .collect();
        self.service
            .complete_enable(&account(), save, Saved::Yes)
            .await
            .expect("enables");
        (totp, codes)
    }

    async fn is_enabled(&self) -> bool {
        self.service
            .status(USER)
            .await
            .expect("status")
            .is_enabled()
    }

    async fn sign_in(&self, input: &str) -> Result<crate::SignedIn, ServiceError> {
        let challenge = self
            .service
            .begin_login(&account())
            .await
            .expect("begins")
            .into_challenge()
            .expect("a second step");
        Ok(self
            .service
            .verify_login(&account(), challenge, input)
            .await?)
    }
}

/// Runs every flow's checks, each on a fresh store from `make`.
pub(super) async fn run<S, F, Fut>(make: F)
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    enable_completes_once(world(make().await)).await;
    email_code_passes_once(world(make().await)).await;
    login_challenge_signs_in_once(world(make().await)).await;
    reissue_completes_once(world(make().await)).await;
    disable_completes_once(world(make().await)).await;
    a_reset_completes_once_and_kills_every_pending_flow(world(make().await)).await;
    every_flow_survives_one_failed_store_call(&make).await;
}

/// Every flow end to end, with the `n`-th store call failing, for every `n` up to the walk's
/// length. A step that meets the failure either goes through anyway (the call was best
/// effort) or is refused with a backend error **and its state back**; with that state, the
/// same step then goes through. So a database hiccup at any moment costs the user one retry,
/// never a restart with a new key while the authenticator keeps a dead entry.
async fn every_flow_survives_one_failed_store_call<S, F, Fut>(make: &F)
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    for n in 0.. {
        let w = world(Failing::new(make().await));
        w.service.store().fail_call(n);
        walk_through_failures(&w).await;
        if !w.service.store().failed() {
            assert!(n > 10, "the walk makes store calls");
            return;
        }
    }
}

/// The step's outcome; if it was refused for a backend failure, the step again with the state
/// it handed back.
async fn again<T, S, Fut>(what: &str, mut step: impl FnMut(S) -> Fut, state: S) -> T
where
    Fut: Future<Output = Result<T, Refusal<S>>>,
{
    match step(state).await {
        Ok(done) => done,
        Err(refusal) => {
            assert!(
                matches!(refusal.error, ServiceError::Backend { .. }),
                "{what}: only the injected failure may refuse: {}",
                refusal.error
            );
            let state = refusal
                .state
                .unwrap_or_else(|| panic!("{what}: a failed store call must hand the state back"));
            step(state)
                .await
                .unwrap_or_else(|r| panic!("{what} again, with the state back: {}", r.error))
        }
    }
}

/// A step that starts a flow (no state yet): once more after a backend failure.
async fn again_start<T, Fut>(what: &str, mut start: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Result<T, ServiceError>>,
{
    match start().await {
        Ok(done) => done,
        Err(ServiceError::Backend { .. }) => start()
            .await
            .unwrap_or_else(|e| panic!("{what} again: {e}")),
        Err(error) => panic!("{what}: only the injected failure may refuse: {error}"),
    }
}

async fn walk_through_failures<S: Store + 'static>(w: &World<Failing<S>>) {
    let s = &w.service;
    let alice = &account();
    w.clock.advance(30);
    let sent = again_start("start_enable", || s.start_enable(alice)).await;
    let code = w.mailer.last_email_code(EMAIL).expect("a mailed code");
    let verify = |sent| s.verify_email(alice, sent, code.expose());
    let setup = again("verify_email", verify, sent).await;
    let view = s.setup_view(&setup).expect("a view");
    let totp = view.key_uri.to_totp().expect("a TOTP");
    let first = w.code(&totp);
    let confirm = |setup| s.confirm_authenticator(alice, setup, &first);
    let save = again("confirm_authenticator", confirm, setup).await;
    let codes: Vec<String> = save
        .codes()
        .codes()
        .iter()
        .map(ToString::to_string)
        .collect();
    let done = |save| s.complete_enable(alice, save, Saved::Yes);
    again("complete_enable", done, save).await;

    w.clock.advance(30);
    let begun = again_start("begin_login", || s.begin_login(alice)).await;
    let challenge = begun.into_challenge().expect("a second step");
    let code = w.code(&totp);
    let sign_in = |c| s.verify_login(alice, c, &code);
    again("verify_login", sign_in, challenge).await;

    let begun = again_start("begin_login", || s.begin_login(alice)).await;
    let challenge = begun.into_challenge().expect("a second step");
    let recovery_code = codes.first().expect("recovery codes");
    let sign_in = |c| s.verify_login(alice, c, recovery_code);
    again("verify_login with a recovery code", sign_in, challenge).await;

    let save = again_start("start_reissue", || s.start_reissue(alice, PASSWORD)).await;
    let done = |save| s.complete_reissue(alice, save, Saved::Yes);
    again("complete_reissue", done, save).await;

    w.clock.advance(30);
    let confirm = again_start("start_disable", || s.start_disable(alice, PASSWORD)).await;
    let code = w.code(&totp);
    let disable = |c| s.confirm_disable(alice, c, &code);
    again("confirm_disable", disable, confirm).await;
    let account = s.store().account(USER);
    let account = match account.await {
        Ok(account) => account,
        // The armed failure fell on this very read: read again.
        Err(_) => s.store().account(USER).await.expect("the store reads"),
    };
    assert!(
        account.credential.is_none(),
        "disabled at the end of the walk"
    );
}

fn save_state(pending: PendingEnable) -> SaveRecoveryCodes {
    match pending {
        PendingEnable::SaveRecoveryCodes(state) => state,
        other => panic!("restored another step: {other:?}"),
    }
}

async fn enable_completes_once<S: Store + 'static>(w: World<S>) {
    let (totp, save) = w.to_save().await;
    let pending = PendingEnable::SaveRecoveryCodes(save);
    let mut three = w.copies(&pending, 3).into_iter().map(save_state);
    let (first, second, third) = (
        three.next().expect("3"),
        three.next().expect("3"),
        three.next().expect("3"),
    );
    w.service
        .complete_enable(&account(), first, Saved::Yes)
        .await
        .expect("the first Done enables");
    let error = refused_for_good(
        w.service
            .complete_enable(&account(), second, Saved::Yes)
            .await,
        "enable",
    );
    assert!(
        matches!(error, ServiceError::AlreadyEnabled),
        "a second Done of one wizard: {error:?}"
    );

    // Disabled, then a copy of the old wizard's last step restored: it must not bring the old
    // key back.
    w.clock.advance(30);
    let state = w
        .service
        .start_disable(&account(), PASSWORD)
        .await
        .expect("password");
    w.service
        .confirm_disable(&account(), state, &w.code(&totp))
        .await
        .expect("disables");
    let error = refused_for_good(
        w.service
            .complete_enable(&account(), third, Saved::Yes)
            .await,
        "enable",
    );
    assert!(
        matches!(error, ServiceError::Replayed),
        "a stale wizard: {error:?}"
    );
    assert!(!w.is_enabled().await, "nothing was stored");

    let (_, save) = w.to_save().await;
    let states = w.copies(&PendingEnable::SaveRecoveryCodes(save), COPIES);
    let service = Arc::clone(&w.service);
    let winners = race(states.into_iter().map(save_state).collect(), |state| {
        let service = Arc::clone(&service);
        async move { service.complete_enable(&account(), state, Saved::Yes).await }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {COPIES} concurrent Dones of one wizard enables"
    );
}

async fn email_code_passes_once<S: Store + 'static>(w: World<S>) {
    let sent = w.start().await;
    let code = w.mailer.last_email_code(EMAIL).expect("a mailed code");
    let sent_state = |pending: PendingEnable| match pending {
        PendingEnable::EmailCodeSent(state) => state,
        other => panic!("restored another step: {other:?}"),
    };
    let pending = PendingEnable::EmailCodeSent(sent);
    let (first, second) = two(w.copies(&pending, 2));
    w.service
        .verify_email(&account(), sent_state(first), code.expose())
        .await
        .expect("the mailed code passes");
    let error = refused_for_good(
        w.service
            .verify_email(&account(), sent_state(second), code.expose())
            .await,
        "email code",
    );
    assert!(
        matches!(error, ServiceError::Replayed),
        "the same code again: {error:?}"
    );

    let sent = w.start().await;
    let code = w.mailer.last_email_code(EMAIL).expect("a mailed code");
    let states = w.copies(&PendingEnable::EmailCodeSent(sent), COPIES);
    let service = Arc::clone(&w.service);
    let winners = race(states.into_iter().map(sent_state).collect(), |state| {
        let (service, code) = (Arc::clone(&service), code.clone());
        async move { service.verify_email(&account(), state, code.expose()).await }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {COPIES} concurrent copies passes the email code"
    );
}

async fn login_challenge_signs_in_once<S: Store + 'static>(w: World<S>) {
    let (totp, codes) = w.enabled().await;
    w.clock.advance(30);
    let challenge = w
        .service
        .begin_login(&account())
        .await
        .expect("begins")
        .into_challenge()
        .expect("a second step");
    let (first, second) = (challenge.clone(), challenge.clone());
    let restored = two(w.copies(&challenge, 2)).0;
    w.service
        .verify_login(&account(), first, &w.code(&totp))
        .await
        .expect("the code signs in");
    w.clock.advance(30);
    let error = refused_for_good(
        w.service
            .verify_login(&account(), second, &w.code(&totp))
            .await,
        "login",
    );
    assert!(
        matches!(error, ServiceError::Replayed),
        "a clone with a fresh code: {error:?}"
    );
    let recovery_code = codes.first().expect("codes");
    let error = refused_for_good(
        w.service
            .verify_login(&account(), restored, recovery_code)
            .await,
        "login",
    );
    assert!(
        matches!(error, ServiceError::Replayed),
        "a restored copy with a recovery code: {error:?}"
    );
    assert_eq!(
        w.service
            .status(USER)
            .await
            .expect("status")
            .recovery_codes_left,
        codes.len(),
        "the refused copy used no recovery code"
    );

    w.clock.advance(30);
    let challenge = w
        .service
        .begin_login(&account())
        .await
        .expect("begins")
        .into_challenge()
        .expect("a second step");
    let code = w.code(&totp);
    let service = Arc::clone(&w.service);
    let winners = race(w.copies(&challenge, COPIES), |challenge| {
        let (service, code) = (Arc::clone(&service), code.clone());
        async move { service.verify_login(&account(), challenge, &code).await }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {COPIES} concurrent copies of a challenge signs in"
    );
}

async fn reissue_completes_once<S: Store + 'static>(w: World<S>) {
    w.enabled().await;
    let state = w
        .service
        .start_reissue(&account(), PASSWORD)
        .await
        .expect("password");
    let new_codes: Vec<String> = state
        .codes()
        .codes()
        .iter()
        .map(ToString::to_string)
        .collect();
    let (first, second) = two(w.copies(&state, 2));
    w.service
        .complete_reissue(&account(), state, Saved::Yes)
        .await
        .expect("the first Done replaces the codes");
    let new_code = new_codes.first().expect("codes");
    w.sign_in(new_code).await.expect("a new code signs in");
    let error = refused_for_good(
        w.service
            .complete_reissue(&account(), first, Saved::Yes)
            .await,
        "re-issue",
    );
    assert!(
        matches!(error, ServiceError::Replayed),
        "a replayed Done: {error:?}"
    );
    let error = w
        .sign_in(new_code)
        .await
        .expect_err("a used code stays used");
    assert!(matches!(error, ServiceError::RecoveryCode(_)), "{error:?}");
    let error = refused_for_good(
        w.service
            .complete_reissue(&account(), second, Saved::Yes)
            .await,
        "re-issue",
    );
    assert!(matches!(error, ServiceError::Replayed), "{error:?}");

    let state = w
        .service
        .start_reissue(&account(), PASSWORD)
        .await
        .expect("password");
    let service = Arc::clone(&w.service);
    let winners = race(w.copies(&state, COPIES), |state| {
        let service = Arc::clone(&service);
        async move {
            service
                .complete_reissue(&account(), state, Saved::Yes)
                .await
        }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {COPIES} concurrent Dones of one re-issue wins"
    );
}

async fn disable_completes_once<S: Store + 'static>(w: World<S>) {
    let (totp, _) = w.enabled().await;
    w.clock.advance(30);
    let state = w
        .service
        .start_disable(&account(), PASSWORD)
        .await
        .expect("password");
    let (first, second) = two(w.copies(&state, 2));
    w.service
        .confirm_disable(&account(), state, &w.code(&totp))
        .await
        .expect("disables");
    let (totp, _) = w.enabled().await;
    w.clock.advance(30);
    let error = refused_for_good(
        w.service
            .confirm_disable(&account(), first, &w.code(&totp))
            .await,
        "disable",
    );
    assert!(
        matches!(error, ServiceError::Replayed),
        "a disable step from before: {error:?}"
    );
    assert!(w.is_enabled().await, "the new credential stays");

    w.clock.advance(30);
    let state = w
        .service
        .start_disable(&account(), PASSWORD)
        .await
        .expect("password");
    let code = w.code(&totp);
    let service = Arc::clone(&w.service);
    // One copy of the stale step from before joins the race; it must lose like the others.
    let mut states = w.copies(&state, COPIES - 1);
    states.push(second);
    let winners = race(states, |state| {
        let (service, code) = (Arc::clone(&service), code.clone());
        async move { service.confirm_disable(&account(), state, &code).await }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {COPIES} concurrent confirmations disables"
    );
    assert!(!w.is_enabled().await);
}

fn admin() -> Account {
    Account {
        user_id: ADMIN.into(),
        email: "ada@example.com".into(),
    }
}

/// An admin's own credential, written straight to the store: the reset flow is what is
/// under test, not the admin's enrollment.
async fn enabled_admin<S: Store + 'static>(w: &World<S>) -> Totp {
    let (record, _) = super::sample_record_with_codes(T0);
    let secret = Secret::from_bytes(&record.secret.ciphertext).expect("a sample secret");
    let params = record.params;
    assert!(
        w.service
            .store()
            .create_credential(ADMIN, 0, record, &[])
            .await
            .expect("store"),
        "the admin enrolls"
    );
    Totp::new(&secret, params)
}

/// A reset by an admin against everything the member had pending, a sign-in with a code at
/// the same moment, and copies of itself: the member's factor goes in one piece, every
/// pending state of theirs from before is dead — also once they enrolled again — and of 20
/// resets with one admin code exactly one goes through.
async fn a_reset_completes_once_and_kills_every_pending_flow<S: Store + 'static>(w: World<S>) {
    let admin_totp = enabled_admin(&w).await;
    let (totp, _) = w.enabled().await;
    w.clock.advance(30);
    let begin = || async {
        w.service
            .begin_login(&account())
            .await
            .expect("begins")
            .into_challenge()
            .expect("a second step")
    };
    let pending_login = begin().await;
    let pending_reissue = w
        .service
        .start_reissue(&account(), PASSWORD)
        .await
        .expect("password");
    let pending_disable = w
        .service
        .start_disable(&account(), PASSWORD)
        .await
        .expect("password");

    // The member signs in with a code while the admin resets.
    let racing = begin().await;
    let (service, code) = (Arc::clone(&w.service), w.code(&totp));
    let sign_in =
        tokio::spawn(async move { service.verify_login(&account(), racing, &code).await });
    let (service, code) = (Arc::clone(&w.service), w.code(&admin_totp));
    let reset = tokio::spawn(async move {
        service
            .reset_member(&admin(), ORG, &account(), PASSWORD, &code)
            .await
    });
    reset.await.expect("ran").expect("the reset goes through");
    match sign_in.await.expect("ran") {
        Ok(_) => {} // before the reset
        Err(refusal) => assert!(
            matches!(
                refusal.error,
                ServiceError::NotEnabled | ServiceError::Replayed
            ),
            "a sign-in after the reset: {}",
            refusal.error
        ),
    }
    let stored = w.service.store().account(USER).await.expect("store");
    assert!(stored.credential.is_none(), "the factor is gone");
    assert_eq!(stored.throttle, crate::Throttle::default(), "counters too");
    assert!(stored.completed.is_empty(), "and the replay state");

    let (totp, _) = w.enabled().await;
    w.clock.advance(30);
    let error = refused_for_good(
        w.service
            .verify_login(&account(), pending_login, &w.code(&totp))
            .await,
        "a challenge from before the reset",
    );
    assert!(matches!(error, ServiceError::Replayed), "{error:?}");
    let error = refused_for_good(
        w.service
            .complete_reissue(&account(), pending_reissue, Saved::Yes)
            .await,
        "a re-issue from before the reset",
    );
    assert!(matches!(error, ServiceError::Replayed), "{error:?}");
    let error = refused_for_good(
        w.service
            .confirm_disable(&account(), pending_disable, &w.code(&totp))
            .await,
        "a disable from before the reset",
    );
    assert!(matches!(error, ServiceError::Replayed), "{error:?}");
    assert!(w.is_enabled().await, "the new enrollment stands");

    w.clock.advance(30);
    let code = w.code(&admin_totp);
    let service = Arc::clone(&w.service);
    let winners = race(vec![(); COPIES], |()| {
        let (service, code) = (Arc::clone(&service), code.clone());
        async move {
            service
                .reset_member(&admin(), ORG, &account(), PASSWORD, &code)
                .await
        }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {COPIES} concurrent resets with one admin code goes through"
    );
    assert!(!w.is_enabled().await);
}
