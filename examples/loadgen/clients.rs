//! What the simulated users do: sign in with a TOTP code (each at a step newer than that
//! user's last), with a recovery code, with a wrong recovery code (the flood), or hit the
//! floor route; in timed rounds or continuously; and what they saw accepted.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::http::{AtSecondStep, Ctx, Submitted};
use crate::report::Kind;
use crate::seed::{Seed, reserve_step, until_next_step};

/// Users waiting for their next turn, least recently used first.
#[derive(Debug, Default)]
pub(crate) struct Queue(Mutex<VecDeque<usize>>);

impl Queue {
    pub(crate) fn of(users: impl IntoIterator<Item = usize>) -> Self {
        Self(Mutex::new(users.into_iter().collect()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<usize>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn pop(&self) -> Option<usize> {
        self.lock().pop_front()
    }

    pub(crate) fn push(&self, user: usize) {
        self.lock().push_back(user);
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// What the console accepted, as the clients saw it.
#[derive(Debug, Default)]
pub(crate) struct Accepted {
    /// Every (user, TOTP step) signed in with.
    pub(crate) totp: Mutex<Vec<(usize, u64)>>,
    /// Every (user, index of the recovery code) signed in with.
    pub(crate) codes: Mutex<Vec<(usize, usize)>>,
    /// Pairs of the same code sent twice at once: (none, one, both) accepted.
    pub(crate) pairs: Mutex<[u64; 3]>,
}

impl Accepted {
    pub(crate) fn totp_len(&self) -> usize {
        self.totp
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub(crate) fn codes_len(&self) -> usize {
        self.codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn add_totp(&self, seed: &Seed, user: usize, step: u64) {
        self.totp
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((user, step));
        // One code in a million equals a newer step's in the window: the console then rightly
        // records the newer step, and this user's next one must be newer still.
        if let Some(seeded) = seed.user(user) {
            let code = seeded.totp.generate_at_step(step).to_string();
            let newest = (step..=step + 2)
                .rev()
                .find(|&other| seeded.totp.generate_at_step(other).to_string() == code)
                .unwrap_or(step);
            seeded.last.fetch_max(newest, Ordering::Relaxed);
        }
    }
}

/// What the clients share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) seed: Arc<Seed>,
    /// Users signing in with TOTP codes.
    pub(crate) step_users: Queue,
    /// Users signing in with recovery codes.
    pub(crate) recovery_users: Queue,
    /// The flood's accounts.
    pub(crate) flood_users: Queue,
    /// The flood's sessions held at the second step, by account.
    pub(crate) flood_sessions: Mutex<HashMap<usize, AtSecondStep>>,
    pub(crate) accepted: Accepted,
}

/// Wrong guesses per flood account at most: the sixth failure in a window would lock it,
/// and a locked account's guesses cost no Argon2 evaluation.
pub(crate) const MAX_GUESSES: u32 = 4;

impl Shared {
    pub(crate) fn new(seed: Arc<Seed>) -> Self {
        Self {
            step_users: Queue::of(seed.step.clone()),
            recovery_users: Queue::of(seed.recovery.clone()),
            flood_users: Queue::of(seed.flood.clone()),
            flood_sessions: Mutex::default(),
            accepted: Accepted::default(),
            seed,
        }
    }

    /// Notes that `user` signed in with `step`.
    pub(crate) fn accepted_totp(&self, user: usize, step: u64) {
        self.accepted.add_totp(&self.seed, user, step);
    }

    /// A user of `queue` whose next step is due, with that step reserved.
    pub(crate) fn take_step_user(&self, queue: &Queue, slack: u64) -> Option<(usize, u64)> {
        for _ in 0..queue.len() {
            let user = queue.pop()?;
            if let Some(step) = self.seed.user(user).and_then(|u| reserve_step(u, slack)) {
                return Some((user, step));
            }
            queue.push(user);
        }
        None
    }
}

/// How a continuous client behaves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Behaviour {
    /// How late a code may arrive, in seconds (the step before the current one is used only
    /// while this much of the current step is left).
    pub(crate) slack: u64,
    /// How long to keep sending the same code again after an answer that leaves its fate
    /// unknown (a server error, a hang): a user pressing the button again.
    pub(crate) retry_for: Duration,
    /// Every how many sign-ins a client sends one code twice at once (0: never).
    pub(crate) same_code_every: u64,
}

/// Waits `duration`, but not past `deadline`, nor once the context's clients are told to
/// stop.
pub(crate) async fn nap(ctx: &Ctx, duration: Duration, deadline: Instant) {
    let until = Instant::now() + duration.min(deadline.saturating_duration_since(Instant::now()));
    while !ctx.stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_millis(100))).await;
    }
}

/// One sign-in with a TOTP code; `false` if no user's next step is due yet (it waited).
pub(crate) async fn totp_sign_in(
    ctx: &Ctx,
    shared: &Shared,
    behaviour: Behaviour,
    deadline: Instant,
) -> bool {
    let Some((user, step)) = shared.take_step_user(&shared.step_users, behaviour.slack) else {
        nap(ctx, until_next_step(), deadline).await;
        return false;
    };
    let Some(seeded) = shared.seed.user(user) else {
        return false;
    };
    let code = seeded.totp.generate_at_step(step).to_string();
    let first = Instant::now();
    loop {
        let outcome = match ctx.begin(&seeded.email).await {
            Ok(session) => {
                ctx.submit(&session, &code, Kind::SecondStep, false, true)
                    .await
            }
            // The code was not sent: nothing is unknown, but try again while it is valid.
            Err(label) => Submitted::Failed(label),
        };
        match outcome {
            Submitted::SignedIn => {
                shared.accepted.add_totp(&shared.seed, user, step);
                break;
            }
            Submitted::Refused { .. } => break,
            Submitted::Failed(_) => {
                if first.elapsed() >= behaviour.retry_for || Instant::now() >= deadline {
                    break;
                }
                nap(ctx, Duration::from_millis(250), deadline).await;
            }
        }
    }
    shared.step_users.push(user);
    true
}

/// The same TOTP code sent at once on two sessions of one user: at most one may sign in.
pub(crate) async fn same_code_twice(ctx: &Ctx, shared: &Shared, deadline: Instant) -> bool {
    let Some((user, step)) = shared.take_step_user(&shared.step_users, 30) else {
        nap(ctx, until_next_step(), deadline).await;
        return false;
    };
    let Some(seeded) = shared.seed.user(user) else {
        return false;
    };
    let code = seeded.totp.generate_at_step(step).to_string();
    let (first, second) = tokio::join!(ctx.begin(&seeded.email), ctx.begin(&seeded.email));
    if let (Ok(first), Ok(second)) = (first, second) {
        let (a, b) = tokio::join!(
            ctx.submit(&first, &code, Kind::SameCodeTwice, false, true),
            ctx.submit(&second, &code, Kind::SameCodeTwice, false, true)
        );
        let mut accepted = 0;
        for answer in [a, b] {
            if matches!(answer, Submitted::SignedIn) {
                shared.accepted.add_totp(&shared.seed, user, step);
                accepted += 1;
            }
        }
        if let Some(pairs) = shared
            .accepted
            .pairs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(accepted)
        {
            *pairs += 1;
        }
    }
    shared.step_users.push(user);
    true
}

/// One sign-in with the user's next unused recovery code; `false` when none is left.
pub(crate) async fn recovery_sign_in(ctx: &Ctx, shared: &Shared) -> bool {
    let Some(user) = shared.recovery_users.pop() else {
        return false;
    };
    let Some(seeded) = shared.seed.user(user) else {
        return false;
    };
    let index = seeded.next_code.fetch_add(1, Ordering::Relaxed);
    let Some(code) = shared.seed.codes.get(index) else {
        // All ten used: this user is done.
        return true;
    };
    if let Ok(session) = ctx.begin(&seeded.email).await
        && let Submitted::SignedIn = ctx
            .submit(&session, code, Kind::Recovery, false, true)
            .await
    {
        shared
            .accepted
            .codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((user, index));
    }
    shared.recovery_users.push(user);
    true
}

/// One wrong (well-formed) recovery code for the next flood account; `false` when every
/// account has had its guesses.
pub(crate) async fn wrong_guess(ctx: &Ctx, shared: &Shared) -> bool {
    let Some(user) = shared.flood_users.pop() else {
        return false;
    };
    let Some(seeded) = shared.seed.user(user) else {
        return false;
    };
    let guesses = seeded.guesses.fetch_add(1, Ordering::Relaxed);
    if guesses >= MAX_GUESSES {
        return true;
    }
    let held = shared
        .flood_sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&user);
    let session = match held {
        Some(session) => Some(session),
        None => ctx.begin(&seeded.email).await.ok(),
    };
    if let Some(session) = session {
        let wrong = &shared.seed.wrong;
        let index = usize::try_from(guesses).unwrap_or(0) % wrong.len().max(1);
        let code = wrong.get(index).map_or("", String::as_str);
        // A refused guess leaves the session at the second step, for the next one.
        if let Submitted::Refused { again: true, .. } = ctx
            .submit(&session, code, Kind::WrongGuess, true, false)
            .await
        {
            shared
                .flood_sessions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(user, session);
        }
    }
    shared.flood_users.push(user);
    true
}

/// Clients running `work` in a loop until told to stop, the deadline passes, or the
/// recorder has seen `max_requests`.
pub(crate) struct Running {
    stop: Arc<AtomicBool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    pub(crate) fn new() -> Self {
        Self {
            stop: Arc::new(AtomicBool::new(false)),
            tasks: tokio::task::JoinSet::new(),
        }
    }

    /// Starts `clients` clients; `work(client, ctx)` is one iteration, `false` meaning
    /// there is nothing left to do.
    pub(crate) fn spawn<W, F>(
        &mut self,
        clients: usize,
        ctx: &Ctx,
        deadline: Instant,
        max_requests: u64,
        work: W,
    ) where
        W: Fn(usize, Ctx) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = bool> + Send + 'static,
    {
        for client in 0..clients {
            let (stop, work) = (Arc::clone(&self.stop), work.clone());
            let ctx = Ctx {
                stop: Arc::clone(&self.stop),
                ..ctx.clone()
            };
            self.tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed)
                    && Instant::now() < deadline
                    && ctx.rec.total() < max_requests
                {
                    let errors = ctx.rec.errors();
                    if !work(client, ctx.clone()).await || ctx.rec.errors() > errors {
                        // Nothing to do now, or the console is away: do not spin.
                        nap(&ctx, Duration::from_millis(50), deadline).await;
                    }
                }
            });
        }
    }

    /// Tells the clients to stop and waits up to `bound` for them; `false` if some did not
    /// stop in time (they are aborted).
    pub(crate) async fn stop(mut self, bound: Duration) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        let joined = tokio::time::timeout(bound, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        self.tasks.abort_all();
        joined
    }
}

/// Which contender a round measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contender {
    SecondStep,
    Floor,
}

/// One timed round: each of `clients` clients sends `per_client` requests back to back,
/// all starting together (the second steps' sessions are signed in with the password
/// first, untimed). Returns the requests that succeeded and the round's wall time.
pub(crate) async fn round(
    ctx: &Ctx,
    shared: &Arc<Shared>,
    clients: usize,
    per_client: usize,
    contender: Contender,
) -> (usize, Duration) {
    // Untimed: the sessions waiting for their codes.
    let mut prepared: Vec<Vec<(usize, u64, AtSecondStep)>> = Vec::new();
    if contender == Contender::SecondStep {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (ctx, shared) = (ctx.clone(), Arc::clone(shared));
            tasks.spawn(async move {
                let mut sessions = Vec::new();
                for _ in 0..per_client {
                    let Some((user, step)) = shared.take_step_user(&shared.step_users, 12) else {
                        break;
                    };
                    let email = shared.seed.user(user).map_or("", |u| u.email.as_str());
                    match ctx.begin(email).await {
                        Ok(session) => sessions.push((user, step, session)),
                        Err(_) => shared.step_users.push(user),
                    }
                }
                sessions
            });
        }
        while let Some(Ok(sessions)) = tasks.join_next().await {
            prepared.push(sessions);
        }
        if prepared.iter().all(Vec::is_empty) {
            // Every user's next step is still to come.
            tokio::time::sleep(until_next_step()).await;
            return (0, Duration::ZERO);
        }
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    match contender {
        Contender::SecondStep => {
            for sessions in prepared {
                let (ctx, shared) = (ctx.clone(), Arc::clone(shared));
                tasks.spawn(async move {
                    let mut ok = 0;
                    for (user, step, session) in sessions {
                        let Some(seeded) = shared.seed.user(user) else {
                            continue;
                        };
                        let code = seeded.totp.generate_at_step(step).to_string();
                        let answer = ctx
                            .submit(&session, &code, Kind::SecondStep, false, true)
                            .await;
                        if matches!(answer, Submitted::SignedIn) {
                            shared.accepted.add_totp(&shared.seed, user, step);
                            ok += 1;
                        }
                        shared.step_users.push(user);
                    }
                    ok
                });
            }
        }
        Contender::Floor => {
            let rows = shared.seed.floor.clone();
            for client in 0..clients {
                let (ctx, shared) = (ctx.clone(), Arc::clone(shared));
                let rows = rows.clone();
                tasks.spawn(async move {
                    let mut ok = 0;
                    // Each client its own rows (four when there are enough), in turn.
                    let own = (rows.len() / clients.max(1)).clamp(1, 4);
                    for i in 0..per_client {
                        let offset = (client * own + i % own) % rows.len().max(1);
                        let Some(user) = shared.seed.user(rows.start + offset) else {
                            continue;
                        };
                        let step = user.last.fetch_add(1, Ordering::Relaxed) + 1;
                        if ctx.floor(&user.email, step).await {
                            ok += 1;
                        }
                    }
                    ok
                });
            }
        }
    }
    let mut ok = 0;
    while let Some(done) = tasks.join_next().await {
        ok += done.unwrap_or(0);
    }
    (ok, started.elapsed())
}
