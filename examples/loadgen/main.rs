//! A load generator for the web console (`examples/web`): it drives the console over HTTP on
//! loopback, the way browsers would, and prints what it measured.
//!
//! ```text
//! cargo run --release --example loadgen -- --scenario all     # the figures (minutes)
//! cargo run --example loadgen -- --smoke                      # CI: correctness only (~1 min)
//! ```
//!
//! It starts everything it needs itself: it builds the `web` example (same profile) and runs
//! it as a child process with the floor route (`--load-floor`) and a short pool acquire
//! timeout; for PostgreSQL, a throwaway cluster of its own (as `.ci/postgres` starts one:
//! `initdb` into a fresh temp dir, as the user `postgres` when run as root, a free loopback
//! port; stopped and deleted at the end, on error too); for SQLite, a file in a temp dir.
//! Before the console starts it seeds the database directly — the console's users (one
//! password hashed at Argon2's lowest cost, so that the first factor does not dominate) and
//! twostep's credentials through the library (`Store::create_credential`, secrets sealed
//! with `AeadSealer` under the key the console is given, one recovery-code set at the
//! default cost for everyone).
//!
//! Every scenario runs on SQLite and on PostgreSQL (`--database`):
//!
//! 1. second steps alone at 1, 4, 16 and 64 clients, beside the floor route (the same HTTP
//!    path doing only one `SELECT` and one conditional `UPDATE` of the credential row), and
//!    recovery-code sign-ins;
//! 2. the same under a flood of wrong recovery codes: second-step p99 with and without it,
//!    the console's memory before, at the peak and after, and at the peak of the same flood
//!    again (memory reused, not added to);
//! 3. PostgreSQL restarted mid-run (`pg_ctl restart -m fast`);
//! 4. the console SIGKILLed mid-run and restarted on the same SQLite file;
//! 5. the pool exhausted: more clients than connections while a write lock is held;
//! 6. organisations of 1k, 10k and 100k members: the mandate preview, the members' status
//!    page and a member's login, with the statements each costs (PostgreSQL counts them).
//!
//! For each it prints throughput, p50/p95/p99 per kind of request and errors by kind, the
//! console's memory (`VmHWM`/`VmRSS` of `/proc/<pid>/status`), and checks: no TOTP code
//! accepted twice, every success consumed in the database, clean failures within a bound,
//! recovery. A failed check makes it exit non-zero; performance targets are only reported.
//!
//! What it does not do: send anything off loopback; run unbounded (every phase is bounded
//! in time and requests, the whole run by `--time-limit`); assert any speed; measure a
//! browser (no JavaScript, no assets, no TLS); test the enable wizard, re-issue or disable
//! (the seeding skips them); or tell the console's cost apart from its own on a machine
//! they share (both run here, on the same cores).

mod clients;
mod console;
mod env;
mod http;
mod pg;
mod report;
mod scenarios;
mod seed;
mod settings;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use crate::env::Env;
use crate::settings::{Db, Settings};

/// Any error, with its message.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Result<T> = std::result::Result<T, Error>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let settings = match settings::parse() {
        Ok(settings) => Arc::new(settings),
        Err(error) => {
            if !error.is_empty() {
                eprintln!("loadgen: {error}");
            }
            eprintln!("{}", settings::USAGE);
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let limit = settings.time_limit;
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(limit, run(&settings)) => outcome
            .unwrap_or_else(|_| Err(format!("the time limit ({} s) was reached", limit.as_secs()).into())),
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    println!();
    println!("total time: {:.1} s", started.elapsed().as_secs_f64());
    match outcome {
        Ok(failed) if failed.is_empty() => {
            println!("every check passed");
            ExitCode::SUCCESS
        }
        Ok(failed) => {
            eprintln!("loadgen: {} checks failed:", failed.len());
            for failure in failed {
                eprintln!("  - {failure}");
            }
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the scenarios on each database; the checks that failed.
async fn run(settings: &Arc<Settings>) -> Result<Vec<String>> {
    let binary = console::binary(settings.web_binary.as_deref()).await?;
    let permits = scenarios::hashing_permits();
    let recovery = twostep::recovery::HashParams::default();
    println!(
        "twostep load generator{}: scenarios {:?}; phases of {:.0} s, at most {} requests each; \
         client timeout {:.0} s; the console's pools wait {:.0} s for a connection",
        if settings.smoke {
            " (smoke: correctness only)"
        } else {
            ""
        },
        settings.scenarios,
        settings.phase.as_secs_f64(),
        settings.max_requests,
        settings.request_timeout.as_secs_f64(),
        settings.acquire_timeout.as_secs_f64(),
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "machine: {cores} cores (the console's recovery-code hashing permits: {permits}); the \
         console, the database and this load generator share them"
    );
    println!(
        "seeded passwords: Argon2id at the lowest cost (m=8 KiB, t=1, p=1), so that the first \
         factor does not dominate the second-step figures; recovery codes: Argon2id at the \
         default cost (m={} KiB, t={}, p={})",
        recovery.memory_kib(),
        recovery.passes(),
        recovery.lanes()
    );
    let mut failed = Vec::new();
    for &db in &settings.databases {
        println!();
        println!("==================== {} ====================", db.name());
        if db == Db::Postgres && pg::bindir().is_none() {
            let message =
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): skipped";
            println!("{message}");
            if settings.scenarios.contains(&3) && settings.smoke {
                println!("(scenario 3 needs it: run .ci/postgres start once to install it)");
            }
            continue;
        }
        let mut env = match Env::start(db, settings, &binary).await {
            Ok(env) => env,
            Err(error) => {
                failed.push(format!("{}: could not start: {error}", db.name()));
                continue;
            }
        };
        for &number in &settings.scenarios {
            let started = Instant::now();
            if let Err(error) = scenarios::run(&mut env, number).await {
                println!("  scenario {number} failed: {error}");
                failed.push(format!("{}: scenario {number}: {error}", db.name()));
            }
            println!(
                "  ({:.1} s; console stderr: {})",
                started.elapsed().as_secs_f64(),
                env.console.stderr_summary()
            );
            if !env.console.running() {
                failed.push(format!(
                    "{}: the console exited during scenario {number}",
                    db.name()
                ));
                if let Err(error) = env.restart_console().await {
                    failed.push(format!("{}: restarting the console: {error}", db.name()));
                    break;
                }
            }
        }
        let verdicts = env.stop().await;
        failed.extend(
            verdicts
                .failed
                .into_iter()
                .map(|failure| format!("{}: {failure}", db.name())),
        );
    }
    Ok(failed)
}
