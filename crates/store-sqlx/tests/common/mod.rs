//! Shared setup: a fresh store on SQLite (a file in a temp dir) and, when `DATABASE_URL` is
//! set, on PostgreSQL (a schema of its own, so tests run side by side in one database).
// A failed setup is a failed test.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::any::AnyPoolOptions;
use twostep_enrollment::Account;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryDirectory, RecordingAudit, RecordingMailer, SettableClock,
};
use twostep_enrollment::{CredentialRecord, Service, Store};
use twostep_otp::{Secret, TotpParams};
use twostep_recovery::{HashParams, RecoveryCodeSet};
use twostep_store_sqlx::{AeadSealer, SealingKey, SqlStore};

pub const PASSWORD: &str = "correct horse battery staple";
pub const EMAIL: &str = "user@example.com";

/// The account the service tests sign in as.
pub fn account(user: &str) -> Account {
    Account {
        user_id: user.to_owned(),
        email: EMAIL.to_owned(),
    }
}

/// The sealer every test process uses (one fixed key, so several processes agree).
pub fn sealer() -> AeadSealer {
    AeadSealer::new(SealingKey::from_bytes("test-2026", [7; 32]))
}

/// `DATABASE_URL`, or `None` (the PostgreSQL tests are skipped, and say so) — except under
/// CI (`CI=true`), where a missing database fails the run instead.
pub fn postgres_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("DATABASE_URL is not set: under CI the PostgreSQL tests must run")
        }
        _ => {
            eprintln!("SKIPPED: the PostgreSQL tests (set DATABASE_URL=postgres://… to run them)");
            None
        }
    }
}

/// A name no other test (or earlier run) uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A migrated store whose connections all work in `schema` (created if missing).
pub async fn postgres_in_schema(url: &str, schema: &str) -> SqlStore {
    let store = postgres_in_schema_unmigrated(url, schema).await;
    store.migrate().await.expect("migrations apply");
    store
}

/// A store in `schema` (created if missing), nothing applied.
pub async fn postgres_in_schema_unmigrated(url: &str, schema: &str) -> SqlStore {
    let admin = SqlStore::connect(url).await.expect("PostgreSQL reachable");
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(admin.pool())
        .await
        .expect("create schema");
    admin.pool().close().await;
    let search_path = format!("SET search_path TO {schema}");
    let options = AnyPoolOptions::new()
        .max_connections(16)
        .after_connect(move |conn, _| {
            let search_path = search_path.clone();
            Box::pin(async move {
                sqlx::query(&search_path).execute(conn).await?;
                Ok(())
            })
        });
    SqlStore::connect_with(url, options)
        .await
        .expect("PostgreSQL reachable")
}

/// One database under test.
pub enum Db {
    /// A SQLite file in a temp dir (kept until the value drops).
    Sqlite {
        store: SqlStore,
        dir: tempfile::TempDir,
        path: PathBuf,
    },
    /// A fresh schema in `DATABASE_URL`.
    Postgres { store: SqlStore, schema: String },
}

impl Db {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("twostep.db");
        let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("SQLite opens");
        store.migrate().await.expect("migrations apply");
        Self::Sqlite { store, dir, path }
    }

    pub async fn postgres() -> Option<Self> {
        let url = postgres_url()?;
        let schema = unique_name("twostep_test");
        let store = postgres_in_schema(&url, &schema).await;
        Some(Self::Postgres { store, schema })
    }

    /// SQLite, and PostgreSQL when configured.
    pub async fn all() -> Vec<Self> {
        let mut all = vec![Self::sqlite().await];
        all.extend(Self::postgres().await);
        all
    }

    pub fn store(&self) -> &SqlStore {
        match self {
            Self::Sqlite { store, .. } | Self::Postgres { store, .. } => store,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
        }
    }

    /// Everything the database holds of ours, as bytes: the SQLite files (database, WAL) as
    /// they are on disk; PostgreSQL's rows as text (`bytea` shows as hex).
    pub async fn dump(&self) -> Vec<u8> {
        match self {
            Self::Sqlite { dir, .. } => {
                let mut bytes = Vec::new();
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
                }
                bytes
            }
            Self::Postgres { store, .. } => {
                let mut bytes = Vec::new();
                for table in [
                    "twostep_accounts",
                    "twostep_org_policies",
                    "twostep_consumed_states",
                    "twostep_security_events",
                ] {
                    let rows: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                            .fetch_all(store.pool())
                            .await
                            .unwrap();
                    for row in rows {
                        bytes.extend(row.into_bytes());
                    }
                }
                bytes
            }
        }
    }
}

/// A user with 2FA on, enrolled straight through the store.
pub struct Enrolled {
    pub secret: Secret,
    pub codes: Vec<String>,
    pub record: CredentialRecord,
}

pub async fn enroll(store: &SqlStore, user: &str, now: u64) -> Enrolled {
    let mut rng = rand::rng();
    let secret = Secret::generate(&mut rng);
    let hash = HashParams::new(8, 1, 1).unwrap();
    let (issued, recovery_codes) = RecoveryCodeSet::generate(&mut rng, 10, &hash, now).unwrap();
    let record = CredentialRecord {
        secret: sealer().seal_secret(user, &secret).unwrap(),
        params: TotpParams::default(),
        last_accepted_step: None,
        recovery_codes,
        enabled_at: now,
    };
    let revision = store.account(user).await.unwrap().revision;
    assert!(
        store
            .create_credential(user, revision, record.clone(), &[])
            .await
            .unwrap()
    );
    Enrolled {
        secret,
        codes: issued.codes().iter().map(ToString::to_string).collect(),
        record,
    }
}

pub type TestService = Service<SqlStore, RecordingMailer, FixedPasswords, MemoryDirectory>;

/// The service over `store`, with the AEAD sealer and a clock at `now`.
pub fn service(
    store: SqlStore,
    now: u64,
) -> (TestService, Arc<SettableClock>, Arc<RecordingAudit>) {
    let clock = Arc::new(SettableClock::at(now));
    let audit = Arc::new(RecordingAudit::default());
    let service = Service::builder(store, sealer())
        .mailer(RecordingMailer::default())
        .reauthenticate(FixedPasswords::default())
        .directory(MemoryDirectory::default())
        .audit(Arc::clone(&audit))
        .clock(Arc::clone(&clock))
        .issuer("twostep tests")
        .build();
    (service, clock, audit)
}
