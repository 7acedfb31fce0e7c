//! One code, many processes: several OS processes (this test binary, started again as
//! children) submit the same TOTP code — and then the same recovery code — to PostgreSQL at
//! the same moment. Exactly one of them may sign in each time.
//!
//! The children line up behind an advisory lock the parent holds; once all of them wait on
//! it, the parent lets go and they race. Without `DATABASE_URL` the test says it was skipped
//! (under `CI=true` that is a failure).
// A test program (its own `main`): a failed setup or assertion is a failed test.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_wrap
)]

mod common;

use std::process::{ExitCode, Stdio};
use std::time::Duration;

use common::{account, enroll, postgres_in_schema, postgres_url, service, unique_name};
use twostep_enrollment::LoginStep;
use twostep_otp::Totp;

/// Set in a child's environment: what it should do.
const CHILD: &str = "TWOSTEP_RACE_CHILD";
const PROCESSES: usize = 8;
const GATE: i64 = 0x2_5739;
const NOW: u64 = 1_800_000_000;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("no runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match std::env::var(CHILD) {
        Ok(spec) => runtime.block_on(child(&spec)),
        Err(_) => runtime.block_on(parent()),
    }
}

/// What a child needs: the database, the schema, the user, what to type.
struct Spec {
    url: String,
    schema: String,
    user: String,
    input: String,
}

impl Spec {
    fn encode(&self) -> String {
        [&self.url, &self.schema, &self.user, &self.input]
            .map(String::as_str)
            .join("\n")
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('\n').map(str::to_owned);
        Some(Self {
            url: parts.next()?,
            schema: parts.next()?,
            user: parts.next()?,
            input: parts.next()?,
        })
    }
}

#[allow(clippy::print_stdout)] // the child's one line of output is its verdict
async fn child(spec: &str) -> ExitCode {
    let Some(spec) = Spec::decode(spec) else {
        eprintln!("bad child spec");
        return ExitCode::FAILURE;
    };
    let store = postgres_in_schema(&spec.url, &spec.schema).await;
    let (service, _, _) = service(store.clone(), NOW + 1);
    let Ok(LoginStep::SecondStep(challenge)) = service.begin_login(&account(&spec.user)).await
    else {
        eprintln!("no second step for {}", spec.user);
        return ExitCode::FAILURE;
    };
    // Wait at the gate; every child passes at once when the parent opens it.
    let gate = sqlx::query("SELECT pg_advisory_lock_shared($1), pg_advisory_unlock_shared($1)")
        .bind(GATE)
        .execute(store.pool())
        .await;
    if let Err(error) = gate {
        eprintln!("gate: {error}");
        return ExitCode::FAILURE;
    }
    match service
        .verify_login(&account(&spec.user), challenge, &spec.input)
        .await
    {
        Ok(_) => println!("accepted"),
        Err(refusal) => println!("refused: {}", refusal.error),
    }
    ExitCode::SUCCESS
}

/// Runs `PROCESSES` children that type `input` for `user`; returns their verdicts.
async fn race(url: &str, schema: &str, user: &str, input: &str) -> Vec<String> {
    let store = postgres_in_schema(url, schema).await;
    let mut gate = store.pool().acquire().await.expect("connection");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(GATE)
        .execute(&mut *gate)
        .await
        .expect("gate closed");
    let spec = Spec {
        url: url.to_owned(),
        schema: schema.to_owned(),
        user: user.to_owned(),
        input: input.to_owned(),
    }
    .encode();
    let exe = std::env::current_exe().expect("own path");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .env(CHILD, &spec)
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("child starts")
        })
        .collect();
    // Open the gate once every child waits at it.
    let mut waiting = 0;
    for _ in 0..1_200 {
        waiting = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(store.pool())
        .await
        .expect("pg_locks");
        if waiting == PROCESSES as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, PROCESSES as i64, "every child reached the gate");
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(GATE)
        .execute(&mut *gate)
        .await
        .expect("gate opens");
    let mut verdicts = Vec::new();
    for child in children {
        let output = child.wait_with_output().await.expect("child ends");
        assert!(output.status.success(), "a child failed: {output:?}");
        verdicts.push(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    verdicts
}

#[allow(clippy::print_stdout)]
async fn parent() -> ExitCode {
    let Some(url) = postgres_url() else {
        println!("multi_process: 0 passed, 0 failed, 2 skipped");
        return ExitCode::SUCCESS;
    };
    let schema = unique_name("race");
    let store = postgres_in_schema(&url, &schema).await;
    let by_code = enroll(&store, "code-racer", NOW).await;
    let by_recovery = enroll(&store, "recovery-racer", NOW).await;
    let code = Totp::new(&by_code.secret, by_code.record.params)
        .generate(NOW + 1)
        .expect("code")
        .to_string();

    let mut failed = 0;
    for (what, user, input) in [
        ("TOTP code", "code-racer", code.as_str()),
        (
            "recovery code",
            "recovery-racer",
            by_recovery.codes[0].as_str(),
        ),
    ] {
        let verdicts = race(&url, &schema, user, input).await;
        let accepted = verdicts.iter().filter(|v| *v == "accepted").count();
        println!("one {what}, {PROCESSES} processes: {accepted} accepted; {verdicts:?}");
        if accepted != 1 {
            eprintln!("FAILED: exactly one process may sign in with one {what}");
            failed += 1;
        }
    }
    println!("multi_process: {} passed, {failed} failed", 2 - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
