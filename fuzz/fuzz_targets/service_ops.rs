//! The Service under arbitrary sequences of every flow's operations — with copies of pending
//! states sealed and opened again, and concurrent submissions of copies — over the in-memory
//! store on a multi-thread runtime, with time jumps. Invariants:
//! - every pending state completes at most once, whatever its copies do;
//! - a TOTP step signs in once (each accepted step is newer than the last), and a recovery
//!   code once per issue of codes;
//! - the failure budget is never exceeded;
//! - two-step verification is on exactly when a "Done" enabled it and no disable followed:
//!   nothing is stored before Done.
#![no_main]

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryStore, PlaintextSealer, RecordingAudit, RecordingMailer, SettableClock,
};
use twostep_enrollment::{
    Account, Clock, ConfirmWithCode, LoginChallenge, PendingEnable, PendingState, Policies,
    SaveNewCodes, Saved, Service, Store, ThrottlePolicy,
};
use twostep_otp::Totp;
use twostep_recovery::HashParams;

const PASSWORD: &str = "correct horse";
const EMAIL: &str = "alice@example.com";

#[derive(Debug, Arbitrary)]
enum Op {
    Advance(u16),
    StartEnable,
    VerifyEmail {
        state: u8,
        right: bool,
    },
    Resend {
        state: u8,
    },
    ConfirmApp {
        state: u8,
        offset: i8,
    },
    Done {
        state: u8,
        saved: bool,
    },
    BeginLogin,
    LoginCode {
        state: u8,
        offset: i8,
    },
    LoginRecovery {
        state: u8,
        code: u8,
    },
    StartReissue {
        right: bool,
    },
    CompleteReissue {
        state: u8,
        saved: bool,
    },
    StartDisable {
        right: bool,
    },
    ConfirmDisable {
        state: u8,
        code: u8,
        app: bool,
    },
    Copy {
        pool: u8,
        state: u8,
    },
    Race {
        pool: u8,
        state: u8,
        copies: u8,
        code: u8,
    },
}

type Wired = Service<MemoryStore, Arc<RecordingMailer>, FixedPasswords>;

/// A pending state with the lineage it was copied from: every copy completes the same flow.
struct Pending<T> {
    lineage: u64,
    state: T,
}

/// What a pending enable state knows besides itself: the key it is setting up.
struct EnableState {
    pending: Pending<PendingEnable>,
    totp: Option<Arc<Totp>>,
    codes: Vec<String>,
}

struct World {
    service: Arc<Wired>,
    mailer: Arc<RecordingMailer>,
    clock: Arc<SettableClock>,
    next_lineage: u64,
    completed: HashSet<u64>,
    enables: Vec<EnableState>,
    logins: Vec<Pending<LoginChallenge>>,
    reissues: Vec<(Pending<SaveNewCodes>, Vec<String>)>,
    disables: Vec<Pending<ConfirmWithCode>>,
    /// The model: the app and codes of the credential in force, if any.
    enabled: Option<(Arc<Totp>, Vec<String>)>,
    last_step: Option<u64>,
    used_codes: HashSet<String>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// The "I saved them" box, as the fuzzer ticks it.
fn ticked(saved: bool) -> Saved {
    if saved { Saved::Yes } else { Saved::No }
}

fn alice() -> Account {
    Account {
        user_id: "alice".into(),
        email: EMAIL.into(),
    }
}

/// A copy of a state as a session store hands it back: sealed, then opened. `None` once the
/// state expired (it no longer seals).
fn copy<T: PendingState>(service: &Wired, state: &T) -> Option<T> {
    let sealed = service.seal(state).ok()?;
    Some(
        service
            .open("alice", &sealed)
            .expect("a state just sealed opens"),
    )
}

fn pick<T>(pool: &mut Vec<T>, index: u8) -> Option<T> {
    if pool.is_empty() {
        return None;
    }
    let i = usize::from(index) % pool.len();
    Some(pool.swap_remove(i))
}

fn shown(codes: &twostep_recovery::IssuedCodes) -> Vec<String> {
    codes.codes().iter().map(ToString::to_string).collect()
}

impl World {
    fn new() -> Self {
        let mailer = Arc::new(RecordingMailer::default());
        let clock = Arc::new(SettableClock::at(1_800_000_000));
        let fast = HashParams::new(8, 1, 1).expect("minimal costs");
        let mut policies = Policies::new("FUZZ");
        policies.recovery_hash = fast;
        policies.recovery_codes = 4;
        let service = Service::builder(MemoryStore::default(), PlaintextSealer)
            .mailer(Arc::clone(&mailer))
            .reauthenticate(FixedPasswords::default().with("alice", PASSWORD))
            .audit(RecordingAudit::default())
            .clock(Arc::clone(&clock))
            .policies(policies)
            .build();
        Self {
            service: Arc::new(service),
            mailer,
            clock,
            next_lineage: 0,
            completed: HashSet::new(),
            enables: Vec::new(),
            logins: Vec::new(),
            reissues: Vec::new(),
            disables: Vec::new(),
            enabled: None,
            last_step: None,
            used_codes: HashSet::new(),
        }
    }

    fn lineage(&mut self) -> u64 {
        self.next_lineage += 1;
        self.next_lineage
    }

    /// A pending state's flow completed: never twice.
    fn complete(&mut self, lineage: u64, what: &str) {
        assert!(self.completed.insert(lineage), "{what} completed twice");
    }

    fn code_at(&self, totp: &Totp, offset: i8) -> String {
        let now = self.clock.now();
        let at = now.saturating_add_signed(i64::from(offset) * 30);
        totp.generate(at).map(|c| c.to_string()).unwrap_or_default()
    }

    /// A login succeeded with `input`: a TOTP step or a recovery code, each once.
    fn signed_in_with(&mut self, input: &str) {
        if input.contains('-') {
            assert!(
                self.used_codes.insert(input.to_owned()),
                "a recovery code signed in twice"
            );
        } else if let Some((totp, _)) = &self.enabled {
            let now = self.clock.now();
            let step = (now.saturating_sub(30)..=now + 30)
                .step_by(30)
                .filter_map(|t| totp.generate(t).ok().map(|c| (t / 30, c.to_string())))
                .filter(|(_, code)| code == input)
                .map(|(step, _)| step)
                .max();
            if let Some(step) = step {
                assert!(
                    self.last_step.is_none_or(|last| step > last),
                    "a TOTP step signed in twice"
                );
                self.last_step = Some(step);
            }
        }
    }

    async fn check(&self) {
        let account = self.service.store().account("alice").await.expect("store");
        let budget = ThrottlePolicy::default().max_failures;
        assert!(
            account.throttle.window_failures <= budget,
            "the budget was exceeded"
        );
        assert_eq!(
            account.credential.is_some(),
            self.enabled.is_some(),
            "2FA must be on exactly when a Done enabled it"
        );
    }

    async fn run(&mut self, op: Op) {
        let service = Arc::clone(&self.service);
        match op {
            Op::Advance(seconds) => self.clock.advance(u64::from(seconds)),
            Op::StartEnable => {
                if let Ok(sent) = service.start_enable(&alice()).await {
                    let lineage = self.lineage();
                    self.enables.push(EnableState {
                        pending: Pending {
                            lineage,
                            state: PendingEnable::EmailCodeSent(sent),
                        },
                        totp: None,
                        codes: Vec::new(),
                    });
                }
            }
            Op::VerifyEmail { state, right } => {
                let Some(entry) = pick(&mut self.enables, state) else {
                    return;
                };
                let PendingEnable::EmailCodeSent(sent) = entry.pending.state else {
                    self.enables.push(entry);
                    return;
                };
                let mailed = self.mailer.last_email_code(EMAIL);
                let typed = match (&mailed, right) {
                    (Some(code), true) => code.expose().to_owned(),
                    _ => "000000".to_owned(),
                };
                match service.verify_email(&alice(), sent, &typed).await {
                    Ok(setup) => {
                        self.complete(entry.pending.lineage, "an email-code step");
                        let totp = service
                            .setup_view(&setup)
                            .ok()
                            .and_then(|v| v.key_uri.to_totp())
                            .map(Arc::new);
                        let lineage = self.lineage();
                        self.enables.push(EnableState {
                            pending: Pending {
                                lineage,
                                state: PendingEnable::AuthenticatorSetup(setup),
                            },
                            totp,
                            codes: Vec::new(),
                        });
                    }
                    Err(refusal) => {
                        if let Some(sent) = refusal.state {
                            self.enables.push(EnableState {
                                pending: Pending {
                                    lineage: entry.pending.lineage,
                                    state: PendingEnable::EmailCodeSent(sent),
                                },
                                ..entry
                            });
                        }
                    }
                }
            }
            Op::Resend { state } => {
                let Some(entry) = pick(&mut self.enables, state) else {
                    return;
                };
                let PendingEnable::EmailCodeSent(sent) = entry.pending.state else {
                    self.enables.push(entry);
                    return;
                };
                let back = match service.resend_email_code(&alice(), sent).await {
                    Ok(sent) => Some(sent),
                    Err(refusal) => refusal.state,
                };
                if let Some(sent) = back {
                    // A new code is another state to complete.
                    let lineage = self.lineage();
                    self.enables.push(EnableState {
                        pending: Pending {
                            lineage,
                            state: PendingEnable::EmailCodeSent(sent),
                        },
                        ..entry
                    });
                }
            }
            Op::ConfirmApp { state, offset } => {
                let Some(entry) = pick(&mut self.enables, state) else {
                    return;
                };
                let PendingEnable::AuthenticatorSetup(setup) = entry.pending.state else {
                    self.enables.push(entry);
                    return;
                };
                let typed = entry
                    .totp
                    .as_ref()
                    .map(|t| self.code_at(t, offset))
                    .unwrap_or_default();
                match service.confirm_authenticator(&alice(), setup, &typed).await {
                    Ok(save) => {
                        let codes = shown(save.codes());
                        let lineage = self.lineage();
                        self.enables.push(EnableState {
                            pending: Pending {
                                lineage,
                                state: PendingEnable::SaveRecoveryCodes(save),
                            },
                            totp: entry.totp,
                            codes,
                        });
                    }
                    Err(refusal) => {
                        if let Some(setup) = refusal.state {
                            self.enables.push(EnableState {
                                pending: Pending {
                                    lineage: entry.pending.lineage,
                                    state: PendingEnable::AuthenticatorSetup(setup),
                                },
                                ..entry
                            });
                        }
                    }
                }
            }
            Op::Done { state, saved } => {
                let Some(entry) = pick(&mut self.enables, state) else {
                    return;
                };
                let PendingEnable::SaveRecoveryCodes(save) = entry.pending.state else {
                    self.enables.push(entry);
                    return;
                };
                match service.complete_enable(&alice(), save, ticked(saved)).await {
                    Ok(()) => {
                        self.complete(entry.pending.lineage, "an enable wizard");
                        let totp = entry.totp.expect("a confirmed wizard had a key");
                        self.enabled = Some((totp, entry.codes));
                        self.last_step = None;
                        self.used_codes.clear();
                    }
                    Err(refusal) => {
                        if let Some(save) = refusal.state {
                            self.enables.push(EnableState {
                                pending: Pending {
                                    lineage: entry.pending.lineage,
                                    state: PendingEnable::SaveRecoveryCodes(save),
                                },
                                ..entry
                            });
                        }
                    }
                }
            }
            Op::BeginLogin => {
                if let Ok(step) = service.begin_login(&alice()).await
                    && let Some(challenge) = step.into_challenge()
                {
                    let lineage = self.lineage();
                    self.logins.push(Pending {
                        lineage,
                        state: challenge,
                    });
                }
            }
            Op::LoginCode { state, offset } => {
                let typed = match &self.enabled {
                    Some((totp, _)) => self.code_at(totp, offset),
                    None => "123456".to_owned(),
                };
                self.login(state, typed).await;
            }
            Op::LoginRecovery { state, code } => {
                let typed = self.recovery_code(code);
                self.login(state, typed).await;
            }
            Op::StartReissue { right } => {
                let password = if right { PASSWORD } else { "guess" };
                if let Ok(save) = service.start_reissue(&alice(), password).await {
                    let codes = shown(save.codes());
                    let lineage = self.lineage();
                    self.reissues.push((
                        Pending {
                            lineage,
                            state: save,
                        },
                        codes,
                    ));
                }
            }
            Op::CompleteReissue { state, saved } => {
                let Some((pending, codes)) = pick(&mut self.reissues, state) else {
                    return;
                };
                match service
                    .complete_reissue(&alice(), pending.state, ticked(saved))
                    .await
                {
                    Ok(()) => {
                        self.complete(pending.lineage, "a re-issue");
                        if let Some((_, in_force)) = &mut self.enabled {
                            *in_force = codes;
                        }
                        self.used_codes.clear();
                    }
                    Err(refusal) => {
                        if let Some(state) = refusal.state {
                            self.reissues.push((
                                Pending {
                                    lineage: pending.lineage,
                                    state,
                                },
                                codes,
                            ));
                        }
                    }
                }
            }
            Op::StartDisable { right } => {
                let password = if right { PASSWORD } else { "guess" };
                if let Ok(confirm) = service.start_disable(&alice(), password).await {
                    let lineage = self.lineage();
                    self.disables.push(Pending {
                        lineage,
                        state: confirm,
                    });
                }
            }
            Op::ConfirmDisable { state, code, app } => {
                let Some(pending) = pick(&mut self.disables, state) else {
                    return;
                };
                let typed = match (&self.enabled, app) {
                    (Some((totp, _)), true) => self.code_at(totp, 0),
                    _ => self.recovery_code(code),
                };
                match service
                    .confirm_disable(&alice(), pending.state, &typed)
                    .await
                {
                    Ok(()) => {
                        self.complete(pending.lineage, "a disable");
                        self.enabled = None;
                    }
                    Err(refusal) => {
                        if let Some(state) = refusal.state {
                            self.disables.push(Pending {
                                lineage: pending.lineage,
                                state,
                            });
                        }
                    }
                }
            }
            Op::Copy { pool, state } => self.copy_state(pool, state),
            Op::Race {
                pool,
                state,
                copies,
                code,
            } => self.race(pool, state, copies, code).await,
        }
        self.check().await;
    }

    /// One of the codes in force (used or not), or of no set at all.
    fn recovery_code(&self, index: u8) -> String {
        match &self.enabled {
            Some((_, codes)) if !codes.is_empty() && index < 200 => {
                codes[usize::from(index) % codes.len()].clone()
            }
            _ => "0000-0000-0000-0000".to_owned(),
        }
    }

    async fn login(&mut self, state: u8, typed: String) {
        let Some(pending) = pick(&mut self.logins, state) else {
            return;
        };
        match self
            .service
            .verify_login(&alice(), pending.state, &typed)
            .await
        {
            Ok(_) => {
                self.complete(pending.lineage, "a login challenge");
                self.signed_in_with(&typed);
            }
            Err(refusal) => {
                if let Some(state) = refusal.state {
                    self.logins.push(Pending {
                        lineage: pending.lineage,
                        state,
                    });
                }
            }
        }
    }

    fn copy_state(&mut self, pool: u8, state: u8) {
        match pool % 4 {
            0 if !self.enables.is_empty() => {
                let i = usize::from(state) % self.enables.len();
                let entry = &self.enables[i];
                let Some(state) = copy(&self.service, &entry.pending.state) else {
                    return;
                };
                let copied = EnableState {
                    pending: Pending {
                        lineage: entry.pending.lineage,
                        state,
                    },
                    totp: entry.totp.clone(),
                    codes: entry.codes.clone(),
                };
                self.enables.push(copied);
            }
            1 if !self.logins.is_empty() => {
                let i = usize::from(state) % self.logins.len();
                let p = &self.logins[i];
                let Some(state) = copy(&self.service, &p.state) else {
                    return;
                };
                let copied = Pending {
                    lineage: p.lineage,
                    state,
                };
                self.logins.push(copied);
            }
            2 if !self.reissues.is_empty() => {
                let i = usize::from(state) % self.reissues.len();
                let (p, codes) = &self.reissues[i];
                let Some(state) = copy(&self.service, &p.state) else {
                    return;
                };
                let copied = (
                    Pending {
                        lineage: p.lineage,
                        state,
                    },
                    codes.clone(),
                );
                self.reissues.push(copied);
            }
            3 if !self.disables.is_empty() => {
                let i = usize::from(state) % self.disables.len();
                let p = &self.disables[i];
                let Some(state) = copy(&self.service, &p.state) else {
                    return;
                };
                let copied = Pending {
                    lineage: p.lineage,
                    state,
                };
                self.disables.push(copied);
            }
            _ => {}
        }
    }

    /// Copies of one login challenge or re-issue submitted at once: at most one succeeds.
    async fn race(&mut self, pool: u8, state: u8, copies: u8, code: u8) {
        let copies = usize::from(copies % 8) + 2;
        if pool % 2 == 0 {
            let Some(pending) = pick(&mut self.logins, state) else {
                return;
            };
            let typed = match &self.enabled {
                Some((totp, _)) if code % 2 == 0 => self.code_at(totp, 0),
                _ => self.recovery_code(code),
            };
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..copies {
                let Some(challenge) = copy(&self.service, &pending.state) else {
                    break;
                };
                let (service, typed) = (Arc::clone(&self.service), typed.clone());
                tasks.spawn(async move {
                    service
                        .verify_login(&alice(), challenge, &typed)
                        .await
                        .is_ok()
                });
            }
            let mut winners = 0;
            while let Some(won) = tasks.join_next().await {
                winners += usize::from(won.expect("a task"));
            }
            assert!(winners <= 1, "{winners} copies of one challenge signed in");
            if winners == 1 {
                self.complete(pending.lineage, "a login challenge");
                self.signed_in_with(&typed);
            }
        } else {
            let Some((pending, codes)) = pick(&mut self.reissues, state) else {
                return;
            };
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..copies {
                let Some(save) = copy(&self.service, &pending.state) else {
                    break;
                };
                let service = Arc::clone(&self.service);
                tasks.spawn(async move {
                    service
                        .complete_reissue(&alice(), save, Saved::Yes)
                        .await
                        .is_ok()
                });
            }
            let mut winners = 0;
            while let Some(won) = tasks.join_next().await {
                winners += usize::from(won.expect("a task"));
            }
            assert!(winners <= 1, "{winners} copies of one re-issue completed");
            if winners == 1 {
                self.complete(pending.lineage, "a re-issue");
                if let Some((_, in_force)) = &mut self.enabled {
                    *in_force = codes;
                }
                self.used_codes.clear();
            }
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    runtime().block_on(async {
        let mut world = World::new();
        for op in ops.into_iter().take(64) {
            world.run(op).await;
        }
    });
});
