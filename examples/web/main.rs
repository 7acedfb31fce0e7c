//! The twostep web console: every two-step verification screen in a browser, on twostep.
//!
//! `cargo run --example web` serves a small SaaS console on <http://127.0.0.1:3000>: sign-up
//! and sign-in, **Account management** with the two-step verification tab (enable wizard,
//! re-issue, disable), the second step at sign-in, and **Org management > Security
//! settings** with the organisation-wide requirement. Data lives in an embedded SQLite
//! database (a file in a fresh private temp dir) unless `--database-url` names another;
//! mail goes to the console and to the `/mail` page.
//!
//! ```text
//! web [--addr 127.0.0.1:3000] [--database-url sqlite://PATH | postgres://…]
//!     [--db-acquire-timeout SECONDS] [--load-floor]
//! ```
//!
//! `--db-acquire-timeout` (default 5) bounds how long a request waits for a database
//! connection, so that an outage fails requests instead of holding them; `--load-floor`
//! mounts the load generator's floor route (`floor`; for `examples/loadgen` only).
//!
//! TOTP secrets are sealed with XChaCha20-Poly1305 under the key in `TWOSTEP_SEALING_KEY`
//! (base64, 32 bytes), or under a key made for the run, which is fine for the temporary
//! database and nothing else.
//!
//! Pending 2FA states are sealed under the key in `TWOSTEP_STATE_KEY` (base64, 32 bytes): give
//! every console process on one database the same one, and any of them takes any step.
//! The modules:
//!
//! - `accounts`: the app's own users (Argon2id passwords) and organisations, wired to twostep
//!   as `Reauthenticate` and `Directory`;
//! - `app`: the routes, the console's handlers around twostep-axum's pages;
//! - `pages`: the console's chrome and its own pages; `mail`: the console mailer;
//! - `floor`: the load generator's floor route, mounted only with `--load-floor`.

mod accounts;
mod app;
mod floor;
mod mail;
mod pages;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use time::Duration;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};
use twostep::axum::TwoStep;
use twostep::axum::ui::Pages;
use twostep::enrollment::{AuditEvent, AuditLog, Service, StateKey};
use twostep::store_sqlx::{AeadSealer, SealingKey, SqlStore};

use crate::accounts::Accounts;
use crate::app::App;
use crate::mail::Outbox;

/// The name authenticator apps show above the codes.
const ISSUER: &str = "twostep console";

struct Args {
    addr: SocketAddr,
    database_url: Option<String>,
    /// How long a request waits for a pooled database connection.
    acquire_timeout: std::time::Duration,
    /// Whether to mount the load generator's floor route.
    load_floor: bool,
}

/// The usage line.
const USAGE: &str = "usage: web [--addr 127.0.0.1:3000] [--database-url sqlite://PATH|postgres://…] \
    [--db-acquire-timeout SECONDS] [--load-floor]";

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut args = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        database_url: None,
        acquire_timeout: std::time::Duration::from_secs(5),
        load_floor: false,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("addr") => args.addr = parser.value()?.parse()?,
            Long("database-url") => args.database_url = Some(parser.value()?.string()?),
            Long("db-acquire-timeout") => {
                let seconds: f64 = parser.value()?.parse()?;
                args.acquire_timeout = std::time::Duration::try_from_secs_f64(seconds)
                    .ok()
                    .filter(|timeout| !timeout.is_zero() && timeout.as_secs() <= 3600)
                    .ok_or("--db-acquire-timeout: a number of seconds above 0, at most 3600")?;
            }
            Long("load-floor") => args.load_floor = true,
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("web: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("web: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (url, _dir) = match args.database_url {
        Some(url) => (url, None),
        None => {
            let dir = tempfile::Builder::new().prefix("twostep-web-").tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("console.db").display());
            (url, Some(dir))
        }
    };
    let timeout = args.acquire_timeout;
    let store = SqlStore::connect_with(&url, pool(timeout)).await?;
    store.migrate().await?;
    let floor = args.load_floor.then(|| floor::router(store.clone()));
    let accounts = Accounts::open(store.pool().clone()).await?;
    let key = match std::env::var("TWOSTEP_SEALING_KEY") {
        Ok(encoded) => SealingKey::from_base64("env", &encoded)?,
        Err(_) => SealingKey::generate("run")?,
    };
    let state_key = match std::env::var("TWOSTEP_STATE_KEY") {
        Ok(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim())?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| "TWOSTEP_STATE_KEY: not 32 bytes")?;
            StateKey::from_bytes(bytes)
        }
        Err(_) => StateKey::generate(),
    };
    let outbox = Arc::new(Outbox::new(ISSUER));
    let service = Service::builder(store, AeadSealer::new(key))
        .mailer(Arc::clone(&outbox))
        .reauthenticate(accounts.clone())
        .directory(accounts.clone())
        .audit(ConsoleAudit)
        .issuer(ISSUER)
        .state_key(state_key)
        .build();
    let app = Arc::new(App {
        twostep: TwoStep::new(service),
        pages: Pages::default()
            .signed_in("/account")
            .layout(pages::twostep_page)
            .member_accounts({
                let accounts = accounts.clone();
                move |email| {
                    let accounts = accounts.clone();
                    async move { accounts.account(&email).await.ok().flatten() }
                }
            }),
        accounts,
        outbox,
    });
    let router = app::router(app, floor);
    // Sessions in the same database, so that console processes on it share them; expired
    // ones are deleted every minute.
    let router = if url.starts_with("postgres") {
        let sessions = PostgresStore::new(pool(timeout).connect(&url).await?);
        sessions.migrate().await?;
        with_sessions(router, sessions)
    } else {
        let sessions = SqliteStore::new(pool(timeout).connect(&url).await?);
        sessions.migrate().await?;
        with_sessions(router, sessions)
    };
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("twostep web console on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    // The routes made once: `serve(listener, router)` makes them again for every
    // connection, and a flood of connections would hold a copy of the table each.
    // With each connection's peer address, for the security log.
    let service = router
        .with_state(())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// A pool's settings: requests wait at most `timeout` for a connection.
fn pool<DB: sqlx::Database>(timeout: std::time::Duration) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new().acquire_timeout(timeout)
}

/// The session layer over `store`, whose expired sessions a background task deletes. Not
/// `Secure`, because the example serves plain HTTP on loopback; behind TLS, set it.
fn with_sessions<S>(router: axum::Router, store: S) -> axum::Router
where
    S: SessionStore + tower_sessions::session_store::ExpiredDeletion + Clone,
{
    tokio::spawn(
        store
            .clone()
            .continuously_delete_expired(tokio::time::Duration::from_secs(60)),
    );
    router.layer(
        SessionManagerLayer::new(store)
            .with_secure(false)
            .with_same_site(tower_sessions::cookie::SameSite::Strict)
            .with_expiry(Expiry::OnInactivity(Duration::minutes(30))),
    )
}

/// Prints the audit trail (events name the user and what happened; never a code or key).
struct ConsoleAudit;

impl AuditLog for ConsoleAudit {
    fn record(&self, event: AuditEvent) {
        // `{:?}`: an id is the user's email, and an address with a newline must not forge a
        // line of its own.
        println!(
            "audit: {:?} {:?} at {}{}{}",
            event.user_id,
            event.kind,
            event.at,
            event
                .org
                .map(|org| format!(" in {org:?}"))
                .unwrap_or_default(),
            event
                .actor
                .map(|actor| format!(" by {actor:?}"))
                .unwrap_or_default(),
        );
    }
}
