//! The six scenarios, and the checks after them: no TOTP step accepted twice, and every
//! sign-in the clients saw succeed consumed in the database.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use twostep::enrollment::Store as _;

use crate::Result;
use crate::clients::{
    Behaviour, Contender, MAX_GUESSES, Queue, Running, nap, recovery_sign_in, round,
    same_code_twice, totp_sign_in, wrong_guess,
};
use crate::console::Memory;
use crate::env::Env;
use crate::http::{Ctx, Submitted};
use crate::report::{
    Kind, KindSummary, Progress, Recorder, Sample, count_f64, mib, ms, print_table, summarize,
};
use crate::seed::{self, until_next_step};
use crate::settings::Db;

/// Requests each client sends back to back in one timed round.
const PER_CLIENT: usize = 8;
/// One Argon2 block at the default cost (`HashParams::default()`: 19 MiB).
const ARGON2_BLOCK_KIB: u64 = 19 * 1024;

/// The console's recovery-code hashing permits: the service's default, half the cores (at
/// least one).
pub(crate) fn hashing_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
}

fn heading(env: &Env, number: u8, title: &str) {
    println!();
    println!("== scenario {number} ({}): {title}", env.db.name());
    env.console.reset_peak();
}

/// The console's memory now, or zeros if it cannot be read.
fn memory(env: &Env) -> Memory {
    env.console.memory().unwrap_or(Memory { rss: 0, peak: 0 })
}

fn print_memory(env: &Env) {
    let memory = memory(env);
    println!(
        "  console memory: peak {} (VmHWM during this scenario), now {} (VmRSS)",
        mib(memory.peak),
        mib(memory.rss)
    );
}

fn percentiles(summary: Option<&KindSummary>) -> String {
    summary.map_or_else(
        || "-".to_owned(),
        |s| {
            format!(
                "{}/{}/{}",
                ms(s.percentile(50)),
                ms(s.percentile(95)),
                ms(s.percentile(99))
            )
        },
    )
}

/// Runs scenario `number`.
pub(crate) async fn run(env: &mut Env, number: u8) -> Result<()> {
    match number {
        1 => one(env).await,
        2 => two(env).await,
        3 => three(env).await,
        4 => four(env).await,
        5 => five(env).await,
        6 => six(env).await,
        _ => Err(format!("no scenario {number}").into()),
    }
}

// -------------------------------------------------------------------------------------
// The checks every scenario ends with.

/// A sign-in the clients saw accepted: (user, TOTP step).
type Signed = (usize, u64);

/// No (user, step) accepted twice in the whole run, and every sign-in accepted since
/// `totp_from` / `codes_from` consumed in the database: the user's last accepted step at
/// least that step, the recovery code marked used.
async fn check_accepted(env: &mut Env, totp_from: usize, codes_from: usize) -> Result<()> {
    let seed = &env.shared.seed;
    let (all, new_totp): (Vec<Signed>, Vec<Signed>) = {
        let totp = env
            .shared
            .accepted
            .totp
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (
            totp.clone(),
            totp.get(totp_from..).unwrap_or_default().to_vec(),
        )
    };
    let new_codes: Vec<(usize, usize)> = {
        let codes = env
            .shared
            .accepted
            .codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        codes.get(codes_from..).unwrap_or_default().to_vec()
    };
    let mut seen = HashSet::new();
    let twice: Vec<String> = all
        .iter()
        .filter(|entry| !seen.insert(**entry))
        .filter_map(|(user, step)| seed.user(*user).map(|u| format!("{} step {step}", u.email)))
        .collect();
    env.verdicts.check(
        "no TOTP code accepted twice",
        twice.is_empty(),
        &if twice.is_empty() {
            format!(
                "{} sign-ins this scenario, {} in the run",
                new_totp.len(),
                all.len()
            )
        } else {
            format!("{} twice: {}", twice.len(), first_few(&twice))
        },
    );
    // The newest step each user was seen signing in with, and the codes used.
    let mut newest: HashMap<usize, u64> = HashMap::new();
    for (user, step) in &new_totp {
        let entry = newest.entry(*user).or_default();
        *entry = (*entry).max(*step);
    }
    let mut users: Vec<usize> = newest.keys().copied().collect();
    users.extend(new_codes.iter().map(|(user, _)| *user));
    users.sort_unstable();
    users.dedup();
    let emails: Vec<&str> = users
        .iter()
        .filter_map(|user| seed.user(*user).map(|u| u.email.as_str()))
        .collect();
    let stored = env.store.accounts(&emails).await?;
    let stored: HashMap<usize, _> = users.iter().copied().zip(stored).collect();
    let mut lost = Vec::new();
    for (user, step) in &newest {
        let last = stored
            .get(user)
            .and_then(|account| account.credential.as_ref())
            .and_then(|credential| credential.last_accepted_step);
        if last.is_none_or(|last| last < *step) {
            let email = seed.user(*user).map_or("?", |u| u.email.as_str());
            lost.push(format!("{email}: step {step} signed in, stored {last:?}"));
        }
    }
    for (user, index) in &new_codes {
        let used = stored
            .get(user)
            .and_then(|account| account.credential.as_ref())
            .and_then(|credential| credential.recovery_codes.used_at().nth(*index))
            .flatten();
        if used.is_none() {
            let email = seed.user(*user).map_or("?", |u| u.email.as_str());
            lost.push(format!(
                "{email}: recovery code {index} signed in, not marked used"
            ));
        }
    }
    env.verdicts.check(
        "every success consumed in the database",
        lost.is_empty(),
        &if lost.is_empty() {
            format!(
                "{} TOTP and {} recovery-code sign-ins checked",
                new_totp.len(),
                new_codes.len()
            )
        } else {
            format!("{} not: {}", lost.len(), first_few(&lost))
        },
    );
    Ok(())
}

fn first_few(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(3).map(String::as_str).collect();
    let more = items.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} … and {more} more", shown.join("; "))
    } else {
        shown.join("; ")
    }
}

// -------------------------------------------------------------------------------------
// Scenario 1.

/// Alternating timed rounds of the floor and of second steps for `length`: (second steps
/// per second, floor requests per second).
async fn floor_and_second_steps(
    env: &Env,
    rec: &Arc<Recorder>,
    clients: usize,
    length: Duration,
    floor: bool,
) -> (f64, f64) {
    let ctx = env.ctx(rec);
    let deadline = Instant::now() + length;
    let (mut steps, mut step_time, mut floors, mut floor_time) =
        (0, Duration::ZERO, 0, Duration::ZERO);
    while Instant::now() < deadline && rec.total() < env.settings.max_requests {
        if floor {
            let (ok, took) = round(&ctx, &env.shared, clients, PER_CLIENT, Contender::Floor).await;
            floors += ok;
            floor_time += took;
        }
        let (ok, took) = round(
            &ctx,
            &env.shared,
            clients,
            PER_CLIENT,
            Contender::SecondStep,
        )
        .await;
        steps += ok;
        step_time += took;
    }
    let rate = |n: usize, time: Duration| {
        if time.is_zero() {
            0.0
        } else {
            count_f64(n) / time.as_secs_f64()
        }
    };
    (rate(steps, step_time), rate(floors, floor_time))
}

/// On PostgreSQL with pg_stat_statements: the statements one second step and one floor
/// request cost, end to end through the console.
async fn statements_of_one_second_step(env: &Env) -> Result<()> {
    if !env.cluster.as_ref().is_some_and(|c| c.statements) {
        println!(
            "  (statements per request: counted on PostgreSQL only; the floor is 2, a second step \
             reads and writes its session besides twostep's read and conditional write)"
        );
        return Ok(());
    }
    let rec = Recorder::new();
    let ctx = env.ctx(&rec);
    let shared = &env.shared;
    let Some((user, step)) = shared.take_step_user(&shared.step_users, 12) else {
        return Ok(());
    };
    let Some(seeded) = shared.seed.user(user) else {
        return Ok(());
    };
    let code = seeded.totp.generate_at_step(step).to_string();
    if let Ok(session) = ctx.begin(&seeded.email).await {
        let (answer, counted) = statements(
            env,
            ctx.submit(&session, &code, Kind::SecondStep, false, false),
        )
        .await?;
        if matches!(answer, Submitted::SignedIn) {
            shared.accepted_totp(user, step);
        }
        if let Some(counted) = counted {
            println!("  one second step (POST /login/second-step), PostgreSQL: {counted}");
        }
    }
    shared.step_users.push(user);
    if let Some(row) = shared.seed.user(shared.seed.floor.start) {
        let step = row.last.fetch_add(1, Ordering::Relaxed) + 1;
        let (_, counted) = statements(env, ctx.floor(&row.email, step)).await?;
        if let Some(counted) = counted {
            println!("  one floor request (POST /load-floor), PostgreSQL: {counted}");
        }
    }
    Ok(())
}

async fn one(env: &mut Env) -> Result<()> {
    heading(
        env,
        1,
        "second steps alone, 1 → 64 clients, beside the floor",
    );
    println!(
        "  timed rounds: every client sends {PER_CLIENT} requests back to back, all clients together \
         (a second step's password and form come first, untimed); floor and second-step rounds \
         alternate; throughput = successful requests / round time"
    );
    let (totp_from, codes_from) = (
        env.shared.accepted.totp_len(),
        env.shared.accepted.codes_len(),
    );
    let mut tables = Vec::new();
    let mut rows = Vec::new();
    for clients in [1, 4, 16, 64] {
        let rec = Recorder::new();
        let length = env.settings.phase * 2;
        let progress = Progress::start(&format!("scenario 1: {clients} clients"), length, &rec);
        let (steps, floor) = floor_and_second_steps(env, &rec, clients, length, true).await;
        progress.finish().await;
        let kinds = summarize(&rec.samples(), |_| true);
        rows.push(format!(
            "  {clients:>7} {steps:>13.0} {floor:>10.0} {:>7.2}   {:<22} {:<22}",
            if floor > 0.0 { steps / floor } else { 0.0 },
            percentiles(kinds.get(&Kind::SecondStep)),
            percentiles(kinds.get(&Kind::Floor)),
        ));
        tables.push((clients, kinds));
    }
    println!(
        "  {:>7} {:>13} {:>10} {:>7}   {:<22} {:<22}",
        "clients", "2nd steps/s", "floor/s", "ratio", "2nd step p50/p95/p99", "floor p50/p95/p99"
    );
    for row in rows {
        println!("{row}");
    }
    println!(
        "  (ratio: second steps per second / floor requests per second, same rounds, same run)"
    );
    statements_of_one_second_step(env).await?;
    for (clients, kinds) in &tables {
        println!("  {clients} clients, every request:");
        print_table("    ", kinds);
    }
    // Recovery-code sign-ins: each right code costs one Argon2 evaluation at the default cost.
    let rec = Recorder::new();
    let ctx = env.ctx(&rec);
    let clients = 4;
    let progress = Progress::start("scenario 1: recovery codes", env.settings.phase, &rec);
    let started = Instant::now();
    let mut running = Running::new();
    let shared = Arc::clone(&env.shared);
    running.spawn(
        clients,
        &ctx,
        started + env.settings.phase,
        env.settings.max_requests,
        move |_, ctx| {
            let shared = Arc::clone(&shared);
            async move { recovery_sign_in(&ctx, &shared).await }
        },
    );
    tokio::time::sleep_until((started + env.settings.phase).into()).await;
    let stopped = running.stop(env.settings.request_timeout).await;
    let elapsed = started.elapsed();
    progress.finish().await;
    let kinds = summarize(&rec.samples(), |_| true);
    let ok = kinds.get(&Kind::Recovery).map_or(0, |s| s.ok);
    println!(
        "  recovery-code sign-ins, {clients} clients for {:.1} s: {:.1}/s",
        elapsed.as_secs_f64(),
        count_f64(ok) / elapsed.as_secs_f64()
    );
    print_table("    ", &kinds);
    env.verdicts
        .check("every client stopped in time", stopped, "");
    print_memory(env);
    check_accepted(env, totp_from, codes_from).await
}

// -------------------------------------------------------------------------------------
// Scenario 2.

async fn two(env: &mut Env) -> Result<()> {
    heading(
        env,
        2,
        "second steps under a flood of wrong recovery codes across the flood accounts",
    );
    let (totp_from, codes_from) = (
        env.shared.accepted.totp_len(),
        env.shared.accepted.codes_len(),
    );
    let clients = 4;
    let flood_clients = if env.settings.smoke { 100 } else { 1000 };
    let phase = env.settings.phase;
    println!(
        "  {clients} clients sign in with TOTP codes in timed rounds, first alone, then beside \
         {flood_clients} clients each sending well-formed wrong recovery codes to the next of {} \
         accounts (at most {MAX_GUESSES} per account: none locks, so each costs an Argon2 evaluation)",
        env.shared.seed.flood.len()
    );
    // Without the flood.
    let quiet = Recorder::new();
    let progress = Progress::start("scenario 2: without the flood", phase, &quiet);
    floor_and_second_steps(env, &quiet, clients, phase, false).await;
    progress.finish().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = memory(env);
    // With it (each flood clears the peak first).
    let flood = Recorder::new();
    let progress = Progress::start(
        "scenario 2: with the flood",
        phase + Duration::from_secs(1),
        &flood,
    );
    let first = flood_while(env, &flood, flood_clients, async {
        // The guesses queue up first.
        tokio::time::sleep(Duration::from_secs(1)).await;
        floor_and_second_steps(env, &flood, clients, phase, false).await;
    })
    .await;
    progress.finish().await;
    // Again, alone: the memory the first flood left is used again, not added to.
    let again = Recorder::new();
    let progress = Progress::start(
        "scenario 2: the flood again",
        phase + Duration::from_secs(1),
        &again,
    );
    let second = flood_while(
        env,
        &again,
        flood_clients,
        tokio::time::sleep(phase + Duration::from_secs(1)),
    )
    .await;
    progress.finish().await;
    let settle = if env.settings.smoke {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(5)
    };
    tokio::time::sleep(settle).await;
    let after = memory(env);

    let quiet_kinds = summarize(&quiet.samples(), |_| true);
    // The second steps sent while the flood ran (after its first second).
    let flood_kinds = summarize(&flood.samples(), |_| true);
    println!("  without the flood:");
    print_table("    ", &quiet_kinds);
    println!(
        "  with the flood ({:.1} s; the last guesses answered {:.1} s after the second steps ended):",
        first.took.as_secs_f64(),
        first.tail.as_secs_f64()
    );
    print_table("    ", &flood_kinds);
    let guesses = flood_kinds.get(&Kind::WrongGuess).map_or(0, |s| s.ok);
    println!(
        "  wrong guesses answered: {guesses} ({:.1}/s), each one Argon2 evaluation at the default cost",
        count_f64(guesses) / first.took.as_secs_f64()
    );
    let p99 = |kinds: &BTreeMap<Kind, KindSummary>| {
        kinds
            .get(&Kind::SecondStep)
            .map_or(Duration::ZERO, |s| s.percentile(99))
    };
    let (quiet_p99, flood_p99) = (p99(&quiet_kinds), p99(&flood_kinds));
    let ratio = if quiet_p99.is_zero() {
        0.0
    } else {
        flood_p99.as_secs_f64() / quiet_p99.as_secs_f64()
    };
    env.verdicts.target(
        "second-step p99 under the flood within 2× of p99 without it",
        ratio <= 2.0 && ratio > 0.0,
        &format!(
            "{} ms with, {} ms without: {ratio:.2}×",
            ms(flood_p99),
            ms(quiet_p99)
        ),
    );
    let permits = hashing_permits();
    let bound = before.rss + (u64::try_from(permits).unwrap_or(2) + 2) * ARGON2_BLOCK_KIB;
    println!(
        "  console memory: before {} (VmRSS), peak {} in the first flood and {} in the second \
         (VmHWM and 100 ms samples), {:.0} s after {} (VmRSS); bound {} = before + \
         ({permits} hashing permits + 2) × 19 MiB",
        mib(before.rss),
        mib(first.peak),
        mib(second.peak),
        settle.as_secs_f64(),
        mib(after.rss),
        mib(bound)
    );
    env.verdicts.check(
        "memory bounded during the flood",
        first.peak <= bound,
        &format!("peak {} ≤ {}", mib(first.peak), mib(bound)),
    );
    // The hashing threads keep one block each and the allocator keeps what it freed (glibc
    // does not hand it back): a second flood should find that memory and take little more.
    env.verdicts.target(
        "a second flood reuses the first one's memory (its peak within half a block)",
        second.peak <= first.peak + ARGON2_BLOCK_KIB / 2,
        &format!("{} then {}", mib(first.peak), mib(second.peak)),
    );
    env.verdicts.check(
        "every client stopped in time",
        first.stopped && second.stopped,
        "",
    );
    check_accepted(env, totp_from, codes_from).await
}

/// One flood of wrong recovery codes, as seen from outside.
struct Flood {
    /// From its start until its last guess was answered.
    took: Duration,
    /// From the end of what ran beside it until its last guess was answered.
    tail: Duration,
    /// The console's peak resident memory meanwhile (`VmHWM` and 100 ms samples).
    peak: u64,
    /// Whether every flood client stopped in time.
    stopped: bool,
}

/// Runs `clients` clients sending wrong recovery codes, each on a connection of its own,
/// while `beside` runs, then stops them.
async fn flood_while(
    env: &Env,
    rec: &Arc<Recorder>,
    clients: usize,
    beside: impl std::future::Future<Output = ()>,
) -> Flood {
    env.console.reset_peak();
    // The flood's own connections, closed when it ends: what stays open after is the
    // console's to explain.
    let ctx = Ctx {
        http: Arc::new(env.http.apart()),
        ..env.ctx(rec)
    };
    let started = Instant::now();
    let mut flooding = Running::new();
    let shared = Arc::clone(&env.shared);
    flooding.spawn(
        clients,
        &ctx,
        started + env.settings.phase + Duration::from_secs(1) + env.settings.request_timeout,
        env.settings.max_requests,
        move |_, ctx| {
            let shared = Arc::clone(&shared);
            async move { wrong_guess(&ctx, &shared).await }
        },
    );
    let sampling = Arc::new(AtomicBool::new(true));
    let sampled_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, sampled_peak) = (Arc::clone(&sampling), Arc::clone(&sampled_peak));
        let pid_memory = env.console.memory_reader();
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(memory) = pid_memory() {
                    sampled_peak.fetch_max(memory.rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    beside.await;
    let beside_ended = Instant::now();
    let stopped = flooding
        .stop(env.settings.request_timeout + Duration::from_secs(5))
        .await;
    let took = started.elapsed();
    drop(ctx);
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    Flood {
        took,
        tail: beside_ended.elapsed(),
        peak: memory(env).peak.max(sampled_peak.load(Ordering::Relaxed)),
        stopped,
    }
}

// -------------------------------------------------------------------------------------
// Scenarios 3, 4 and 5: something breaks while clients sign in.

/// The samples that overlap [from, to).
fn overlapping(from: Duration, to: Duration) -> impl Fn(&Sample) -> bool {
    move |sample| sample.at < to && sample.end() > from
}

/// Starts `clients` clients signing in with TOTP codes (every `same_code_every`-th sign-in of
/// the run one code twice at once), recovery codes and wrong guesses.
fn start_sign_ins(
    env: &Env,
    ctx: &crate::http::Ctx,
    totp_clients: usize,
    other_clients: usize,
    behaviour: Behaviour,
    deadline: Instant,
) -> Running {
    let mut running = Running::new();
    let counter = Arc::new(AtomicU64::new(0));
    let shared = Arc::clone(&env.shared);
    running.spawn(
        totp_clients,
        ctx,
        deadline,
        env.settings.max_requests,
        move |_, ctx| {
            let (shared, counter) = (Arc::clone(&shared), Arc::clone(&counter));
            async move {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let done = if behaviour.same_code_every > 0
                    && n % behaviour.same_code_every == behaviour.same_code_every - 1
                {
                    same_code_twice(&ctx, &shared, deadline).await
                } else {
                    totp_sign_in(&ctx, &shared, behaviour, deadline).await
                };
                if !done {
                    return false;
                }
                true
            }
        },
    );
    if other_clients > 0 {
        let shared = Arc::clone(&env.shared);
        running.spawn(
            other_clients,
            ctx,
            deadline,
            env.settings.max_requests,
            move |client, ctx| {
                let shared = Arc::clone(&shared);
                async move {
                    if client % 2 == 0 {
                        recovery_sign_in(&ctx, &shared).await
                    } else {
                        wrong_guess(&ctx, &shared).await
                    }
                }
            },
        );
    }
    running
}

/// The slowest request among `samples` that `keep` selects, and how many hung (no answer
/// within the client's timeout).
fn slowest(samples: &[Sample], keep: impl Fn(&Sample) -> bool) -> (Duration, usize) {
    let kept: Vec<&Sample> = samples.iter().filter(|s| keep(s)).collect();
    let slowest = kept.iter().map(|s| s.latency).max().unwrap_or_default();
    let hung = kept
        .iter()
        .filter(|s| s.label == crate::http::Failure::Timeout.label())
        .count();
    (slowest, hung)
}

fn pairs_line(env: &mut Env) {
    let [none, one, both] = *env
        .shared
        .accepted
        .pairs
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if none + one + both == 0 {
        return;
    }
    println!(
        "  the same code sent twice at once: {} pairs — one accepted {one}, none {none}, both {both} \
         (the refused one of a pair shows as \"refused\" above)",
        none + one + both
    );
    env.verdicts.check(
        "no code accepted twice when sent twice at once",
        both == 0,
        &format!("{both} pairs with both accepted"),
    );
}

async fn three(env: &mut Env) -> Result<()> {
    if env.cluster.is_none() {
        println!();
        println!(
            "== scenario 3 ({}): PostgreSQL only, skipped",
            env.db.name()
        );
        return Ok(());
    }
    heading(
        env,
        3,
        "PostgreSQL restarted mid-run (pg_ctl restart -m fast)",
    );
    let (totp_from, codes_from) = (
        env.shared.accepted.totp_len(),
        env.shared.accepted.codes_len(),
    );
    let clients = if env.settings.smoke { 4 } else { 8 };
    let acquire = env.settings.acquire_timeout;
    let lead = if env.settings.smoke {
        Duration::from_millis(1500)
    } else {
        Duration::from_secs(2)
    };
    let after = env.settings.phase.max(acquire + Duration::from_secs(3));
    println!(
        "  {clients} clients sign in with TOTP codes (one sign-in in 6 sends its code twice at once \
         on two sessions); an answer that leaves a code's fate unknown is retried with the same \
         code for up to 20 s; the console's pools wait at most {:.0} s for a connection",
        acquire.as_secs_f64()
    );
    let rec = Recorder::new();
    let ctx = env.ctx(&rec);
    let behaviour = Behaviour {
        slack: 30,
        retry_for: Duration::from_secs(20),
        same_code_every: 6,
    };
    let bound = Instant::now() + lead + Duration::from_secs(60) + after;
    let progress = Progress::start(
        "scenario 3: restart",
        lead + after + Duration::from_secs(2),
        &rec,
    );
    let running = start_sign_ins(env, &ctx, clients, 0, behaviour, bound);
    tokio::time::sleep(lead).await;
    let restart_at = rec.now();
    let restarted = match &env.cluster {
        Some(cluster) => cluster.restart().await,
        None => Err("no cluster".into()),
    };
    let back_at = rec.now();
    tokio::time::sleep(after).await;
    let stopped = running
        .stop(env.settings.request_timeout + Duration::from_secs(25))
        .await;
    progress.finish().await;
    let took = restarted?;
    let samples = rec.samples();
    let outage_end = back_at + acquire;
    println!(
        "  restart began at {:.1} s; PostgreSQL answered again at {:.1} s (pg_ctl took {:.1} s)",
        restart_at.as_secs_f64(),
        back_at.as_secs_f64(),
        took.as_secs_f64()
    );
    println!("  before the restart:");
    print_table("    ", &summarize(&samples, |s| s.end() <= restart_at));
    println!(
        "  during it (requests overlapping {:.1} s to {:.1} s, the restart plus one acquire timeout):",
        restart_at.as_secs_f64(),
        outage_end.as_secs_f64()
    );
    print_table(
        "    ",
        &summarize(&samples, overlapping(restart_at, outage_end)),
    );
    println!("  after it:");
    print_table("    ", &summarize(&samples, |s| s.at >= outage_end));
    let limit = acquire * 2 + Duration::from_secs(2);
    let (slowest_failure, hung) = slowest(&samples, |s| {
        !s.ok() && overlapping(restart_at, outage_end)(s)
    });
    env.verdicts.check(
        "requests in the outage fail cleanly within the bound",
        hung == 0 && slowest_failure <= limit,
        &format!(
            "slowest failure {} ms, bound {} ms (2 × acquire timeout + 2 s); {hung} without an answer",
            ms(slowest_failure),
            ms(limit)
        ),
    );
    let first_success = samples
        .iter()
        .filter(|s| s.kind == Kind::SecondStep && s.ok() && s.end() >= back_at)
        .map(|s| s.end().saturating_sub(back_at))
        .min();
    env.verdicts.check(
        "the console recovers by itself",
        first_success.is_some(),
        &first_success.map_or_else(
            || "no second step succeeded after the restart".to_owned(),
            |delay| {
                format!(
                    "first second step after PostgreSQL was back: {} ms later",
                    ms(delay)
                )
            },
        ),
    );
    let late_errors = samples
        .iter()
        .filter(|s| s.at >= outage_end + Duration::from_secs(1) && !s.ok())
        .filter(|s| s.kind != Kind::SameCodeTwice)
        .count();
    env.verdicts.target(
        "no errors once the outage is over",
        late_errors == 0,
        &format!("{late_errors} requests not ok that began a second after it"),
    );
    pairs_line(env);
    env.verdicts
        .check("every client stopped in time", stopped, "");
    print_memory(env);
    println!("  console stderr: {}", env.console.stderr_summary());
    check_accepted(env, totp_from, codes_from).await
}

/// Signs every user in `users` in with a TOTP code (waiting for a user's next step when
/// needed); the failures.
async fn sign_in_everyone(
    env: &Env,
    users: Vec<usize>,
) -> (usize, Vec<String>, BTreeMap<Kind, KindSummary>) {
    let total = users.len();
    let queue = Arc::new(Queue::of(users));
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let rec = Recorder::new();
    let ctx = env.ctx(&rec);
    let deadline = Instant::now() + Duration::from_secs(180);
    let progress = Progress::start(
        "scenario 4: every user signs in",
        Duration::from_secs(60),
        &rec,
    );
    let mut running = Running::new();
    let shared = Arc::clone(&env.shared);
    {
        let (queue, done, failures) =
            (Arc::clone(&queue), Arc::clone(&done), Arc::clone(&failures));
        running.spawn(16, &ctx, deadline, u64::MAX, move |_, ctx| {
            let (shared, queue, done, failures) = (
                Arc::clone(&shared),
                Arc::clone(&queue),
                Arc::clone(&done),
                Arc::clone(&failures),
            );
            async move {
                let Some((user, step)) = shared.take_step_user(&queue, 10) else {
                    if queue.len() > 0 {
                        nap(&ctx, until_next_step(), deadline).await;
                    }
                    return false;
                };
                let Some(seeded) = shared.seed.user(user) else {
                    return false;
                };
                let code = seeded.totp.generate_at_step(step).to_string();
                let outcome = match ctx.begin(&seeded.email).await {
                    Ok(session) => {
                        ctx.submit(&session, &code, Kind::SecondStep, false, true)
                            .await
                    }
                    Err(label) => Submitted::Failed(label),
                };
                match outcome {
                    Submitted::SignedIn => shared.accepted_totp(user, step),
                    Submitted::Refused { reason, .. } => failures
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(format!("{}: refused: {reason}", seeded.email)),
                    Submitted::Failed(label) => failures
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(format!("{}: {label}", seeded.email)),
                }
                done.fetch_add(1, Ordering::Relaxed);
                true
            }
        });
    }
    while done.load(Ordering::Relaxed) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = running.stop(Duration::from_secs(40)).await;
    progress.finish().await;
    let mut failures =
        std::mem::take(&mut *failures.lock().unwrap_or_else(PoisonError::into_inner));
    let finished = done.load(Ordering::Relaxed);
    if finished < total {
        failures.push(format!(
            "{} users not signed in before the deadline",
            total - finished
        ));
    }
    let kinds = summarize(&rec.samples(), |_| true);
    (total, failures, kinds)
}

async fn four(env: &mut Env) -> Result<()> {
    if env.db != Db::Sqlite {
        println!();
        println!("== scenario 4 ({}): SQLite only, skipped", env.db.name());
        return Ok(());
    }
    heading(
        env,
        4,
        "the console SIGKILLed mid-run and restarted on the same file",
    );
    let (totp_from, codes_from) = (
        env.shared.accepted.totp_len(),
        env.shared.accepted.codes_len(),
    );
    let lead = Duration::from_secs(2);
    let after = Duration::from_secs(2);
    println!(
        "  16 clients sign in with TOTP codes (one in 6 sends its code twice at once), 1 with \
         recovery codes, 1 sends wrong recovery codes; after {:.0} s the console is killed \
         (SIGKILL) and started again on the same database file",
        lead.as_secs_f64()
    );
    let rec = Recorder::new();
    let ctx = env.ctx(&rec);
    let behaviour = Behaviour {
        slack: 30,
        retry_for: Duration::from_secs(10),
        same_code_every: 6,
    };
    let bound = Instant::now() + Duration::from_secs(60);
    let progress = Progress::start(
        "scenario 4: kill",
        lead + after + Duration::from_secs(1),
        &rec,
    );
    let running = start_sign_ins(env, &ctx, 16, 2, behaviour, bound);
    tokio::time::sleep(lead).await;
    let killed_at = rec.now();
    env.console.kill().await;
    let restarted = env.restart_console().await;
    let back_at = rec.now();
    tokio::time::sleep(after).await;
    let stopped = running
        .stop(env.settings.request_timeout + Duration::from_secs(15))
        .await;
    progress.finish().await;
    restarted?;
    let samples = rec.samples();
    println!(
        "  killed at {:.2} s; listening again at {:.2} s",
        killed_at.as_secs_f64(),
        back_at.as_secs_f64()
    );
    println!("  every request:");
    print_table("    ", &summarize(&samples, |_| true));
    let cut = samples
        .iter()
        .filter(|s| overlapping(killed_at, killed_at + Duration::from_millis(1))(s))
        .count();
    println!("  requests in flight when it was killed: {cut}");
    pairs_line(env);
    env.verdicts
        .check("every client stopped in time", stopped, "");

    // The database file after the kill.
    let integrity: Vec<String> = sqlx::query("PRAGMA integrity_check")
        .fetch_all(env.store.pool())
        .await?
        .iter()
        .filter_map(|row| sqlx::Row::try_get::<String, _>(row, 0).ok())
        .collect();
    env.verdicts.check(
        "PRAGMA integrity_check",
        integrity == ["ok"],
        &integrity.join("; "),
    );
    let seed = Arc::clone(&env.shared.seed);
    let mut unreadable = Vec::new();
    for user in &seed.users {
        match env.store.account(&user.email).await {
            Ok(account) if account.credential.is_some() => {}
            Ok(_) => unreadable.push(format!("{}: no credential", user.email)),
            Err(error) => unreadable.push(format!("{}: {error}", user.email)),
        }
    }
    env.verdicts.check(
        "every seeded account reads and decodes (SqlStore::account)",
        unreadable.is_empty(),
        &if unreadable.is_empty() {
            format!("{} accounts", seed.users.len())
        } else {
            first_few(&unreadable)
        },
    );
    check_accepted(env, totp_from, codes_from).await?;
    // Every enrolled user can still sign in.
    let everyone: Vec<usize> = (0..seed.users.len()).collect();
    let started = Instant::now();
    let (total, failures, kinds) = sign_in_everyone(env, everyone).await;
    println!(
        "  every enrolled user signing in again ({total} users, {:.1} s):",
        started.elapsed().as_secs_f64()
    );
    print_table("    ", &kinds);
    env.verdicts.check(
        "every enrolled user can still sign in",
        failures.is_empty(),
        &if failures.is_empty() {
            format!("{total} users")
        } else {
            format!("{} could not: {}", failures.len(), first_few(&failures))
        },
    );
    print_memory(env);
    Ok(())
}

/// Holds the twostep table's write lock from the load generator's own connection for
/// `hold`: on PostgreSQL `LOCK TABLE … IN EXCLUSIVE MODE` then `pg_sleep` in one
/// transaction (reads go on, writes wait); on SQLite a write transaction (`BEGIN
/// IMMEDIATE`), which every writer of the file waits for.
async fn hold_write_lock(env: &Env, hold: Duration) -> Result<()> {
    let mut conn = env.store.pool().acquire().await?;
    match env.db {
        Db::Postgres => {
            sqlx::query("BEGIN").execute(&mut *conn).await?;
            sqlx::query("LOCK TABLE twostep_accounts IN EXCLUSIVE MODE")
                .execute(&mut *conn)
                .await?;
            sqlx::query("SELECT 1 FROM pg_sleep($1)")
                .bind(hold.as_secs_f64())
                .execute(&mut *conn)
                .await?;
            sqlx::query("COMMIT").execute(&mut *conn).await?;
        }
        Db::Sqlite => {
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            tokio::time::sleep(hold).await;
            sqlx::query("ROLLBACK").execute(&mut *conn).await?;
        }
    }
    Ok(())
}

async fn five(env: &mut Env) -> Result<()> {
    heading(
        env,
        5,
        "the pool exhausted: more clients than connections, a write lock held",
    );
    let (totp_from, codes_from) = (
        env.shared.accepted.totp_len(),
        env.shared.accepted.codes_len(),
    );
    let clients = 32;
    let acquire = env.settings.acquire_timeout;
    let hold = acquire + Duration::from_secs(3);
    let lead = Duration::from_secs(1);
    let after = acquire + Duration::from_secs(4);
    let how = match env.db {
        Db::Postgres => {
            "LOCK TABLE twostep_accounts IN EXCLUSIVE MODE, then pg_sleep, in one transaction"
        }
        Db::Sqlite => "BEGIN IMMEDIATE: the database file's write lock",
    };
    println!(
        "  {clients} clients sign in with TOTP codes against the console's pools of 10 connections \
         (sqlx's default); after {:.0} s the load generator's own connection holds {how} for {:.0} s",
        lead.as_secs_f64(),
        hold.as_secs_f64()
    );
    let rec = Recorder::new();
    let ctx = env.ctx(&rec);
    let behaviour = Behaviour {
        slack: 30,
        retry_for: Duration::from_secs(10),
        same_code_every: 0,
    };
    let bound = Instant::now() + Duration::from_secs(90);
    let progress = Progress::start("scenario 5: pool exhausted", lead + hold + after, &rec);
    let running = start_sign_ins(env, &ctx, clients, 0, behaviour, bound);
    tokio::time::sleep(lead).await;
    let hold_at = rec.now();
    let held = hold_write_lock(env, hold).await;
    let release_at = rec.now();
    tokio::time::sleep(after).await;
    let stopped = running
        .stop(env.settings.request_timeout + Duration::from_secs(15))
        .await;
    progress.finish().await;
    held?;
    let samples = rec.samples();
    println!(
        "  lock held from {:.1} s to {:.1} s",
        hold_at.as_secs_f64(),
        release_at.as_secs_f64()
    );
    println!("  before:");
    print_table("    ", &summarize(&samples, |s| s.end() <= hold_at));
    println!("  while it was held (requests overlapping it):");
    print_table(
        "    ",
        &summarize(&samples, overlapping(hold_at, release_at)),
    );
    let settled = release_at + Duration::from_secs(1);
    println!("  after (requests begun a second after the release):");
    let after_kinds = summarize(&samples, |s| s.at >= settled);
    print_table("    ", &after_kinds);
    let limit = hold + acquire + Duration::from_secs(5);
    let (slowest_request, hung) = slowest(&samples, |_| true);
    env.verdicts.check(
        "nothing hangs: every request answered within the bound",
        hung == 0 && slowest_request <= limit,
        &format!(
            "slowest {} ms, bound {} ms (hold + acquire timeout + 5 s); {hung} without an answer",
            ms(slowest_request),
            ms(limit)
        ),
    );
    let failed_held = samples
        .iter()
        .filter(|s| !s.ok() && overlapping(hold_at, release_at)(s))
        .count();
    println!("  requests that failed while the lock was held: {failed_held}");
    let after_ok = after_kinds.get(&Kind::SecondStep).map_or(0, |s| s.ok);
    let after_errors: usize = after_kinds.values().map(|s| s.count - s.ok).sum();
    env.verdicts.check(
        "afterwards requests succeed again",
        after_ok > 0 && after_errors == 0,
        &format!("{after_ok} second steps ok, {after_errors} requests not ok"),
    );
    env.verdicts
        .check("every client stopped in time", stopped, "");
    print_memory(env);
    println!("  console stderr: {}", env.console.stderr_summary());
    check_accepted(env, totp_from, codes_from).await
}

// -------------------------------------------------------------------------------------
// Scenario 6.

/// The statements PostgreSQL ran for `work`, grouped (pg_stat_statements), if it counts them.
async fn statements<T>(env: &Env, work: impl Future<Output = T>) -> Result<(T, Option<String>)> {
    if !env.cluster.as_ref().is_some_and(|c| c.statements) {
        return Ok((work.await, None));
    }
    sqlx::query("SELECT count(*) FROM (SELECT pg_stat_statements_reset()) AS reset")
        .fetch_one(env.store.pool())
        .await?;
    let out = work.await;
    let rows = sqlx::query(
        "SELECT query, calls FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%expiry_date <%'",
    )
    .fetch_all(env.store.pool())
    .await?;
    let mut groups: BTreeMap<&str, i64> = BTreeMap::new();
    let mut twostep = Vec::new();
    let mut other = Vec::new();
    for row in &rows {
        let query: String = sqlx::Row::try_get(row, 0)?;
        let calls: i64 = sqlx::Row::try_get(row, 1)?;
        let verb = query
            .split_whitespace()
            .next()
            .unwrap_or("?")
            .to_uppercase();
        let group = if query.contains("twostep_") {
            let table = if query.contains("twostep_org_policies") {
                "twostep_org_policies"
            } else if query.contains("twostep_consumed_states") {
                "twostep_consumed_states"
            } else {
                "twostep_accounts"
            };
            let how = if query.contains(" IN (") {
                " IN (one list)"
            } else {
                ""
            };
            twostep.push(format!("{calls}× {verb} {table}{how}"));
            "twostep store"
        } else if query.contains("web_") {
            "console tables"
        } else if query.contains("tower_sessions") {
            "session store"
        } else {
            other.push(format!("{calls}× {verb}"));
            "other"
        };
        *groups.entry(group).or_default() += calls;
    }
    let total: i64 = groups.values().sum();
    let groups: Vec<String> = groups.iter().map(|(g, n)| format!("{g} {n}")).collect();
    twostep.sort();
    let other = if other.is_empty() {
        String::new()
    } else {
        format!("; other: {}", other.join(", "))
    };
    Ok((
        out,
        Some(format!(
            "{total} statements ({}); twostep: {}{other}",
            groups.join(", "),
            twostep.join(", ")
        )),
    ))
}

async fn six(env: &mut Env) -> Result<()> {
    heading(env, 6, "organisations of 1k, 10k and 100k members");
    println!(
        "  each organisation: an owner without 2FA, members, one in ten enrolled; timed as the owner \
         (GET /org/security: the mandate preview; GET /org: the members' status) and as a member \
         without 2FA (POST /login), 3 times each"
    );
    println!(
        "  by the code: the preview asks the console's Directory for the actor's memberships 3 times \
         and the members once, and the store for the actor's account, the org's policy twice and \
         the members' statuses in one Store::accounts call; the status page asks the Directory for \
         the membership and the members, and the store for the statuses in one Store::accounts \
         call; a member's login reads the password hash, the account, the memberships, and the \
         policies in one Store::org_policies call. Store::accounts and Store::org_policies are one \
         statement whatever the number of ids (the ids travel as one JSON array)."
    );
    let sizes: &[usize] = if env.settings.smoke {
        &[1_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for &members in sizes {
        let started = Instant::now();
        let org = seed::org(&env.store, &env.sealer, &env.shared.seed, members).await?;
        println!(
            "  {}: {} members, {} enrolled, seeded in {:.1} s",
            org.name,
            org.members,
            org.enrolled,
            started.elapsed().as_secs_f64()
        );
        let rec = Recorder::new();
        let ctx = env.ctx(&rec);
        let owner = ctx
            .sign_in_directly(Kind::MemberLogin, &org.owner)
            .await
            .map_err(|error| format!("the owner of {} cannot sign in: {error}", org.name))?;
        // Only the timed ones below count.
        let rec = Recorder::new();
        let ctx = env.ctx(&rec);
        let mut sizes = (0, 0);
        for _ in 0..3 {
            if rec.total() >= env.settings.max_requests {
                break;
            }
            sizes.0 = ctx
                .page(Kind::OrgPreview, "/org/security", &owner)
                .await
                .unwrap_or(0);
            sizes.1 = ctx
                .page(Kind::OrgMembers, "/org", &owner)
                .await
                .unwrap_or(0);
            let _ = ctx.sign_in_directly(Kind::MemberLogin, &org.member).await;
        }
        print_table("    ", &summarize(&rec.samples(), |_| true));
        println!(
            "    pages: the preview {} KiB, the members' status {} KiB",
            sizes.0 / 1024,
            sizes.1 / 1024
        );
        let counting = Recorder::new();
        let ctx = env.ctx(&counting);
        let (_, preview) =
            statements(env, ctx.page(Kind::OrgPreview, "/org/security", &owner)).await?;
        let (_, status) = statements(env, ctx.page(Kind::OrgMembers, "/org", &owner)).await?;
        let (_, login) =
            statements(env, ctx.sign_in_directly(Kind::MemberLogin, &org.member)).await?;
        match (preview, status, login) {
            (Some(preview), Some(status), Some(login)) => {
                println!(
                    "    queries (PostgreSQL, pg_stat_statements), mandate preview: {preview}"
                );
                println!("    queries, members' status: {status}");
                println!("    queries, member's login: {login}");
            }
            _ => println!(
                "    queries by the code (counted on PostgreSQL only): mandate preview 8 (twostep \
                 store 4, console tables 4) besides the session's; members' status 3 (twostep store \
                 1, console tables 2) besides the session's; member's login 4 (twostep store 2, \
                 console tables 2) besides the session's, whatever the organisation's size"
            ),
        }
        let failed: Vec<String> = summarize(&counting.samples(), |s| !s.ok())
            .values()
            .flat_map(|s| s.errors.keys().cloned())
            .collect();
        env.verdicts.check(
            &format!("{}: every page and sign-in answered", org.name),
            summarize(&rec.samples(), |s| !s.ok()).is_empty() && failed.is_empty(),
            &first_few(&failed),
        );
        env.orgs.push(org);
    }
    print_memory(env);
    Ok(())
}
