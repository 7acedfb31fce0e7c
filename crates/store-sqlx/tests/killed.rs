//! Killed between a change and its event: a child process (this test binary, started again)
//! makes one change to a user's second factor — a sign-in with a code, one with a recovery
//! code, a re-issue, a disable — and is killed (`abort`) the moment the service hands the
//! event to its audit sink, right after the write. The parent then finds the change **and**
//! its event in the database, on SQLite and on PostgreSQL: the store wrote them together.
//!
//! Without `DATABASE_URL` the PostgreSQL half says it was skipped (under `CI=true` that is a
//! failure).
// A test program (its own `main`): a failed setup or assertion is a failed test.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{ExitCode, Stdio};

use common::{PASSWORD, account, enroll, postgres_in_schema, postgres_url, sealer, unique_name};
use twostep_enrollment::memory::{FixedPasswords, MemoryDirectory, RecordingMailer, SettableClock};
use twostep_enrollment::{
    AuditEvent, AuditKind, AuditLog, EventQuery, LoginStep, Saved, Service, Store,
};
use twostep_otp::Totp;
use twostep_store_sqlx::SqlStore;

/// Set in a child's environment: what it should do.
const CHILD: &str = "TWOSTEP_KILLED_CHILD";
const NOW: u64 = 1_800_000_000;
const USER: &str = "killed";

/// The changes, each made by a child of its own, in this order on one account.
const ACTIONS: [(&str, AuditKind); 4] = [
    ("sign in with a code", AuditKind::LoginWithCode),
    (
        "sign in with a recovery code",
        AuditKind::LoginWithRecoveryCode,
    ),
    ("re-issue", AuditKind::RecoveryCodesReissued),
    ("disable", AuditKind::Disabled),
];

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    match std::env::var(CHILD) {
        Ok(spec) => runtime.block_on(child(&spec)),
        Err(_) => runtime.block_on(parent()),
    }
}

/// Kills the process at the first event of a change: nothing after the write runs.
struct KilledAtTheEvent;

impl AuditLog for KilledAtTheEvent {
    fn record(&self, event: AuditEvent) {
        if ACTIONS.iter().any(|(_, kind)| *kind == event.kind) {
            std::process::abort();
        }
    }
}

/// Where the database is: a SQLite URL, or a PostgreSQL URL and schema.
async fn open(database: &str, schema: &str) -> SqlStore {
    if schema.is_empty() {
        SqlStore::connect(database).await.expect("SQLite opens")
    } else {
        postgres_in_schema(database, schema).await
    }
}

async fn child(spec: &str) -> ExitCode {
    let [database, schema, action, input, now] = spec.splitn(5, '\n').collect::<Vec<_>>()[..]
    else {
        eprintln!("bad child spec");
        return ExitCode::FAILURE;
    };
    let now: u64 = now.parse().expect("a time");
    let store = open(database, schema).await;
    let service = Service::builder(store, sealer())
        .mailer(RecordingMailer::default())
        .reauthenticate(FixedPasswords::default().with(USER, PASSWORD))
        .directory(MemoryDirectory::default())
        .audit(KilledAtTheEvent)
        .clock(std::sync::Arc::new(SettableClock::at(now)))
        .build();
    let me = account(USER);
    let done = match action {
        "re-issue" => {
            let save = service.start_reissue(&me, PASSWORD).await.expect("started");
            service
                .complete_reissue(&me, save, Saved::Yes)
                .await
                .map_err(|refusal| refusal.error)
        }
        "disable" => {
            let confirm = service.start_disable(&me, PASSWORD).await.expect("started");
            service
                .confirm_disable(&me, confirm, input)
                .await
                .map_err(|refusal| refusal.error)
        }
        _ => {
            let Ok(LoginStep::SecondStep(challenge)) = service.begin_login(&me).await else {
                eprintln!("no second step");
                return ExitCode::FAILURE;
            };
            service
                .verify_login(&me, challenge, input)
                .await
                .map(drop)
                .map_err(|refusal| refusal.error)
        }
    };
    // Reached only if the change did not happen (its event would have killed us).
    eprintln!("{action}: not done: {done:?}");
    ExitCode::FAILURE
}

/// Runs a child that makes `action` with `input` at `now`; whether it was killed.
fn killed(database: &str, schema: &str, action: &str, input: &str, now: u64) -> bool {
    let spec = [database, schema, action, input, &now.to_string()].join("\n");
    let status = std::process::Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD, spec)
        .stdout(Stdio::null())
        .status()
        .expect("the child runs");
    // Killed by a signal: no exit code.
    status.code().is_none()
}

/// Each change on one database: the child killed at its event, then the change and the event
/// both found. Returns the failures.
#[allow(clippy::print_stdout)]
async fn run(name: &str, database: &str, schema: &str) -> usize {
    let store = open(database, schema).await;
    store.migrate().await.expect("migrations apply");
    let enrolled = enroll(&store, USER, NOW).await;
    let totp = Totp::new(&enrolled.secret, enrolled.record.params);
    let code_at = |now| totp.generate(now).expect("a code").to_string();
    let mut failures = 0;
    for (action, kind) in ACTIONS {
        let before = store.account(USER).await.expect("a read");
        // A minute on for the disable: the sign-in's code is spent, the old recovery codes
        // re-issued away.
        let (input, now) = match action {
            "sign in with a code" => (code_at(NOW + 60), NOW + 60),
            "sign in with a recovery code" => (enrolled.codes[0].clone(), NOW + 60),
            "disable" => (code_at(NOW + 120), NOW + 120),
            _ => (String::new(), NOW + 60),
        };
        let was_killed = killed(database, schema, action, &input, now);
        let after = store.account(USER).await.expect("a read");
        let events = store
            .events(&EventQuery::user(USER, 10))
            .await
            .expect("the log reads");
        let changed = after.revision > before.revision;
        let logged = events
            .first()
            .is_some_and(|logged| logged.event.kind == kind);
        let ok = was_killed && changed && logged;
        println!("{name}, {action}: killed {was_killed}, changed {changed}, event logged {logged}");
        if !ok {
            eprintln!("FAILED: {name}, {action}: the change and its event go together");
            failures += 1;
        }
    }
    failures
}

#[allow(clippy::print_stdout)]
async fn parent() -> ExitCode {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}", dir.path().join("killed.db").display());
    let mut failures = run("SQLite", &sqlite, "").await;
    let mut databases = 1;
    if let Some(url) = postgres_url() {
        failures += run("PostgreSQL", &url, &unique_name("killed")).await;
        databases += 1;
    } else {
        println!("killed: PostgreSQL skipped");
    }
    let total = ACTIONS.len() * databases;
    println!("killed: {} passed, {failures} failed", total - failures);
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
