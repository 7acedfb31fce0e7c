//! One database under test: its server (a cluster of our own for PostgreSQL, a temp file
//! for SQLite), the load generator's own connections to it, the seeded users, and the
//! console running on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngExt as _;
use sqlx::any::AnyPoolOptions;
use twostep::store_sqlx::{AeadSealer, SealingKey, SqlStore};

use crate::Result;
use crate::clients::Shared;
use crate::console::{Console, Spec};
use crate::http::{Ctx, Http};
use crate::pg::Cluster;
use crate::report::{Recorder, Verdicts};
use crate::seed::{self, Org, Seed};
use crate::settings::{Db, Settings};

/// Everything a scenario works with.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) db: Db,
    pub(crate) settings: Arc<Settings>,
    /// The load generator's own pool on the database: seeding, checks, injected locks.
    pub(crate) store: SqlStore,
    pub(crate) sealer: Arc<AeadSealer>,
    pub(crate) cluster: Option<Cluster>,
    pub(crate) spec: Spec,
    pub(crate) console: Console,
    pub(crate) http: Arc<Http>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) verdicts: Verdicts,
    /// Organisations seeded for scenario 6.
    pub(crate) orgs: Vec<Org>,
    /// The SQLite file's dir (deleted at the end).
    _dir: Option<tempfile::TempDir>,
}

impl Env {
    /// Starts the database, seeds it, starts the console on it.
    pub(crate) async fn start(
        db: Db,
        settings: &Arc<Settings>,
        console: &std::path::Path,
    ) -> Result<Self> {
        let (url, cluster, dir) = match db {
            Db::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("twostep-loadgen-sqlite.")
                    .tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("console.db").display());
                (url, None, Some(dir))
            }
            Db::Postgres => {
                let bin = crate::pg::bindir().ok_or("PostgreSQL is not installed")?;
                let started = Instant::now();
                let cluster = Cluster::start(&bin).await?;
                println!(
                    "PostgreSQL: a cluster of our own from {} on {} ({:.1} s to start; fsync off, as .ci/postgres)",
                    bin.display(),
                    cluster.url(),
                    started.elapsed().as_secs_f64()
                );
                (cluster.url(), Some(cluster), None)
            }
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30));
        if db == Db::Sqlite {
            // Seeding only: the console's connections keep their own settings.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA synchronous = OFF")
                        .execute(conn)
                        .await
                        .map(drop)
                })
            });
        }
        let store = SqlStore::connect_with(&url, options).await?;
        if cluster.as_ref().is_some_and(|cluster| cluster.statements) {
            sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                .execute(store.pool())
                .await?;
        }
        let key: [u8; 32] = rand::rng().random();
        // The console names the key from its environment "env"; secrets sealed here carry
        // that key id.
        let sealer = Arc::new(AeadSealer::new(SealingKey::from_bytes("env", key)));
        let state_key: [u8; 32] = rand::rng().random();
        let started = Instant::now();
        let seed: Seed = seed::seed(&store, &sealer, settings.sizes).await?;
        println!(
            "seeded {} enrolled users ({} TOTP, {} recovery-code, {} flood, {} floor) in {:.1} s",
            seed.users.len(),
            seed.step.len(),
            seed.recovery.len(),
            seed.flood.len(),
            seed.floor.len(),
            started.elapsed().as_secs_f64()
        );
        let spec = Spec {
            binary: console.to_owned(),
            database_url: url,
            acquire_timeout: settings.acquire_timeout,
            env: vec![
                (
                    "TWOSTEP_SEALING_KEY".to_owned(),
                    SealingKey::from_bytes("env", key).to_base64().to_string(),
                ),
                (
                    "TWOSTEP_STATE_KEY".to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(state_key),
                ),
            ],
        };
        let running = Console::start(&spec).await?;
        let http = Arc::new(Http::new(settings.request_timeout));
        http.set_base(&running.base);
        println!("console: {} on {}", spec.binary.display(), running.base);
        Ok(Self {
            db,
            settings: Arc::clone(settings),
            store,
            sealer,
            cluster,
            spec,
            console: running,
            http,
            shared: Arc::new(Shared::new(Arc::new(seed))),
            verdicts: Verdicts::default(),
            orgs: Vec::new(),
            _dir: dir,
        })
    }

    /// A client context recording into `rec`.
    pub(crate) fn ctx(&self, rec: &Arc<Recorder>) -> Ctx {
        Ctx {
            http: Arc::clone(&self.http),
            rec: Arc::clone(rec),
            stop: Arc::default(),
        }
    }

    /// The console again on the same database (after it was killed or died).
    pub(crate) async fn restart_console(&mut self) -> Result<()> {
        self.console.kill().await;
        self.console = Console::start(&self.spec).await?;
        self.http.set_base(&self.console.base);
        Ok(())
    }

    /// Stops the console; the cluster and the temp dirs go when `self` is dropped.
    pub(crate) async fn stop(mut self) -> Verdicts {
        self.console.kill().await;
        self.store.pool().close().await;
        std::mem::take(&mut self.verdicts)
    }
}
