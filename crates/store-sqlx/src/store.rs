//! [`SqlStore`]: the [`Store`] contract as single conditional SQL statements.
//!
//! Every statement is written once, with `$N` placeholders that both SQLite and PostgreSQL
//! read; only the schema differs (`migrations/sqlite`, `migrations/postgres`).

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, ConnectOptions, Row};

use twostep_enrollment::{
    AcceptStep, AuditEvent, AuditKind, BoxError, ConsumedState, CredentialRecord, EventQuery,
    EventsOf, FORGET_CONSUMED_AFTER_SECONDS, LoggedEvent, SealedSecret, Sealer, StateId, Store,
    StoredAccount, StoredOrgPolicy, Throttle,
};
use twostep_policy::OrgPolicy;
use twostep_recovery::RecoveryCodeSet;

/// The schema's migrations for one database: version, description (as sqlx's `migrate!`
/// would name them, so databases it migrated stay valid) and SQL, embedded at build time.
/// Embedding them here rather than with `migrate!` spares applications sqlx's `macros`
/// feature, which builds the database drivers a second time for the proc macro.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

const SQLITE_MIGRATIONS: Embedded = Embedded(&[
    (
        1,
        "accounts",
        include_str!("../migrations/sqlite/0001_accounts.sql"),
    ),
    (
        2,
        "revisions and consumed states",
        include_str!("../migrations/sqlite/0002_revisions_and_consumed_states.sql"),
    ),
    (
        3,
        "completed states",
        include_str!("../migrations/sqlite/0003_completed_states.sql"),
    ),
    (
        4,
        "org policy revisions",
        include_str!("../migrations/sqlite/0004_org_policy_revisions.sql"),
    ),
    (
        5,
        "recovery codes last",
        include_str!("../migrations/sqlite/0005_recovery_codes_last.sql"),
    ),
    (
        6,
        "security revision",
        include_str!("../migrations/sqlite/0006_security_revision.sql"),
    ),
    (
        7,
        "security events",
        include_str!("../migrations/sqlite/0007_security_events.sql"),
    ),
]);

const POSTGRES_MIGRATIONS: Embedded = Embedded(&[
    (
        1,
        "accounts",
        include_str!("../migrations/postgres/0001_accounts.sql"),
    ),
    (
        2,
        "revisions and consumed states",
        include_str!("../migrations/postgres/0002_revisions_and_consumed_states.sql"),
    ),
    (
        3,
        "completed states",
        include_str!("../migrations/postgres/0003_completed_states.sql"),
    ),
    (
        4,
        "org policy revisions",
        include_str!("../migrations/postgres/0004_org_policy_revisions.sql"),
    ),
    (
        5,
        "recovery codes last",
        include_str!("../migrations/postgres/0005_recovery_codes_last.sql"),
    ),
    (
        6,
        "security revision",
        include_str!("../migrations/postgres/0006_security_revision.sql"),
    ),
    (
        7,
        "security events",
        include_str!("../migrations/postgres/0007_security_events.sql"),
    ),
]);

type Resolved = Result<Vec<Migration>, sqlx::error::BoxDynError>;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> core::pin::Pin<Box<dyn core::future::Future<Output = Resolved> + Send + 'static>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                let (description, sql) = (description.into(), sql.into());
                Migration::new(version, description, MigrationType::Simple, sql, false)
            })
            .collect();
        Box::pin(core::future::ready(Ok(migrations)))
    }
}

impl Embedded {
    async fn migrator(self) -> Result<Migrator, StoreError> {
        Migrator::new(self).await.map_err(StoreError::Migrate)
    }
}

/// A database failure, or a stored value this crate cannot read back. Never carries a secret,
/// a code or a connection password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed a statement, or the connection failed.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Applying the schema failed.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The URL names neither SQLite nor PostgreSQL (or its feature is off).
    #[error("unsupported database {0:?}: expected sqlite: or postgres:")]
    Unsupported(String),
    /// A stored value does not decode (edited by hand, or written by something else).
    #[error("the stored {0} is corrupt")]
    Corrupt(&'static str),
    /// A value to store does not fit SQL's signed 64-bit integers.
    #[error("the {0} is too large to store")]
    OutOfRange(&'static str),
    /// A value to store does not encode.
    #[error("the {0} does not encode")]
    Encode(&'static str),
    /// Re-sealing a secret during rotation failed (the sealer's error).
    #[error("re-sealing a secret failed")]
    Seal(#[source] BoxError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

/// The twostep tables in a SQLite or PostgreSQL database.
///
/// On PostgreSQL, one connection pool. On a SQLite file, reads go through the pool and writes
/// through a pool of one connection of their own: SQLite lets one writer in at a time, and
/// writers on several connections collide on its lock and sleep in its busy handler (1 to
/// 100 ms), where one writer connection queues them, in order, without sleeping.
///
/// See the [crate documentation](crate) for the statements and why each is atomic.
#[derive(Clone)]
pub struct SqlStore {
    /// Reads (and, but on a SQLite file, writes).
    pool: AnyPool,
    /// Writes: on a SQLite file one connection, elsewhere `pool` again.
    writes: AnyPool,
    /// How long the security log keeps an event.
    event_retention: std::time::Duration,
}

impl core::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqlStore")
            .field("connections", &self.pool.size())
            .field("write_connections", &self.writes.size())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects a pool to `url`: `sqlite://PATH` (the file is created if missing),
    /// `sqlite::memory:`, or `postgres://USER@HOST:PORT/DB`. Call [`SqlStore::migrate`] next.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] for another scheme; [`StoreError::Database`] if the
    /// database cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, AnyPoolOptions::new()).await
    }

    /// [`SqlStore::connect`] with your own pool settings (size, timeouts, `after_connect`).
    /// On a SQLite file, the writes' pool takes the same settings but one connection.
    ///
    /// # Errors
    /// As [`SqlStore::connect`].
    pub async fn connect_with(url: &str, pool: AnyPoolOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let scheme = url.split(':').next().unwrap_or_default();
        let (url, one_writer) = match scheme {
            // An in-memory database is one per connection: reads and writes share the pool.
            "sqlite" if cfg!(feature = "sqlite") && url.contains(":memory:") => {
                (url.to_owned(), false)
            }
            "sqlite" if cfg!(feature = "sqlite") => {
                if url.contains("mode=") {
                    (url.to_owned(), true)
                } else {
                    let separator = if url.contains('?') { '&' } else { '?' };
                    (format!("{url}{separator}mode=rwc"), true)
                }
            }
            "postgres" | "postgresql" if cfg!(feature = "postgres") => (url.to_owned(), false),
            other => return Err(StoreError::Unsupported(other.to_owned())),
        };
        let options: AnyConnectOptions = url.parse()?;
        // Statements are logged by sqlx at debug level only; they carry no secret anyway
        // (parameters are not logged).
        let options = options.disable_statement_logging();
        let writes = one_writer.then(|| {
            let min = pool.get_min_connections().min(1);
            pool.clone().max_connections(1).min_connections(min)
        });
        let pool = pool.connect_with(options.clone()).await?;
        let writes = match writes {
            Some(writes) => writes.connect_with(options).await?,
            None => pool.clone(),
        };
        Ok(Self::from_pools(pool, writes))
    }

    /// A store over an existing pool (whose drivers must be installed:
    /// `sqlx::any::install_default_drivers()`), for reads and writes alike. On a SQLite file,
    /// [`SqlStore::from_pools`] with a one-connection pool for the writes serves writers
    /// better.
    pub fn from_pool(pool: AnyPool) -> Self {
        Self::from_pools(pool.clone(), pool)
    }

    /// A store reading through `reads` and writing through `writes` (on a SQLite file, a
    /// pool of one connection, as [`SqlStore::connect`] makes).
    pub fn from_pools(reads: AnyPool, writes: AnyPool) -> Self {
        Self {
            pool: reads,
            writes,
            event_retention: DEFAULT_EVENT_RETENTION,
        }
    }

    /// Keeps the security log's events for `retention` (a year by default): older ones are
    /// deleted as new events without a write of their own arrive
    /// ([`Store::record_events`](twostep_enrollment::Store::record_events)).
    ///
    /// ```no_run
    /// # async fn open() -> Result<(), twostep_store_sqlx::StoreError> {
    /// use std::time::Duration;
    /// use twostep_store_sqlx::SqlStore;
    /// let store = SqlStore::connect("sqlite://twostep.db?mode=rwc")
    ///     .await?
    ///     .retain_events_for(Duration::from_secs(90 * 24 * 3600));
    /// # let _ = store; Ok(()) }
    /// ```
    #[must_use]
    pub fn retain_events_for(mut self, retention: std::time::Duration) -> Self {
        self.event_retention = retention;
        self
    }

    /// The pool the store reads through, for your own queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool the store writes through: on a SQLite file its one writer connection, else
    /// the same as [`SqlStore::pool`]. Write through it too, so that your writes queue with
    /// the store's instead of colliding with them on SQLite's lock.
    pub fn write_pool(&self) -> &AnyPool {
        &self.writes
    }

    /// Closes both pools, waiting for their connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writes.close().await;
    }

    /// Creates or upgrades the twostep tables (versioned migrations shipped with this crate;
    /// applying them again is a no-op). SQLite databases are switched to WAL, so readers do
    /// not wait for the writer.
    ///
    /// # Errors
    /// [`StoreError::Migrate`] or [`StoreError::Database`].
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.writes.acquire().await?;
        match conn.backend_name() {
            "SQLite" => {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut *conn)
                    .await?;
                SQLITE_MIGRATIONS
                    .migrator()
                    .await?
                    .run(&mut *conn)
                    .await
                    .map_err(StoreError::Migrate)
            }
            "PostgreSQL" => POSTGRES_MIGRATIONS
                .migrator()
                .await?
                .run(&mut *conn)
                .await
                .map_err(StoreError::Migrate),
            other => Err(StoreError::Unsupported(other.to_owned())),
        }
    }

    /// Deletes an organisation's stored policy, for when the organisation is deleted.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn forget_org(&self, org: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM twostep_org_policies WHERE org_id = $1")
            .bind(org)
            .execute(&self.writes)
            .await?;
        Ok(changed_one(&result))
    }

    /// Re-seals every TOTP secret that `sealer` reports as not under its current key
    /// ([`Sealer::is_current`]); returns how many it re-sealed. Each row is replaced only if
    /// its ciphertext is still the one read, so a concurrent disable or re-enable wins and is
    /// left alone. Re-sealing changes no secret, so it leaves the revision (and every pending
    /// flow) alone. Run it after adding a new current key (keeping the old one for opening),
    /// then retire the old key.
    ///
    /// # Errors
    /// [`StoreError::Seal`] if a secret does not open or seal (nothing after it is
    /// re-sealed; rows before it stay re-sealed, which is safe); [`StoreError::Database`].
    pub async fn rotate_secrets(&self, sealer: &impl Sealer) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, secret_key_id, secret_ciphertext FROM twostep_accounts \
             WHERE secret_ciphertext IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut resealed = 0;
        for row in rows {
            let user: String = row.try_get(0)?;
            let sealed = SealedSecret {
                key_id: row.try_get(1)?,
                ciphertext: row.try_get(2)?,
            };
            if sealer.is_current(&sealed) {
                continue;
            }
            let secret = sealer.open(&user, &sealed).map_err(StoreError::Seal)?;
            let new = sealer.seal(&user, &secret).map_err(StoreError::Seal)?;
            let done = sqlx::query(
                "UPDATE twostep_accounts SET secret_key_id = $3, secret_ciphertext = $4 \
                 WHERE user_id = $1 AND secret_ciphertext = $2",
            )
            .bind(&user)
            .bind(&sealed.ciphertext)
            .bind(&new.key_id)
            .bind(&new.ciphertext)
            .execute(&self.writes)
            .await?;
            resealed += usize::from(done.rows_affected() == 1);
        }
        Ok(resealed)
    }
}

impl SqlStore {
    /// Runs `update` — the assignments that clear a credential — with both revisions moved
    /// on, if the user has a credential and the revision is still `revision`.
    async fn clear_credential(
        &self,
        update: &'static str,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let query = format!(
            "{update}, revision = revision + 1, security_revision = security_revision + 1 \
             WHERE user_id = $1 AND secret_ciphertext IS NOT NULL AND revision = $2"
        );
        let revision = to_db(revision, "revision")?;
        self.write_logged(
            &query,
            |q| Ok(q.bind(user.to_owned()).bind(revision)),
            events,
        )
        .await
    }

    /// Runs `write` — one conditional statement on one row, its parameters bound by `bind` —
    /// and, if it changed the row, logs `events` with it, all or nothing: on PostgreSQL in
    /// the same statement (`WITH changed AS (… RETURNING 1) INSERT … FROM changed`), so a
    /// sign-in stays one round trip; elsewhere in one transaction.
    async fn write_logged(
        &self,
        write: &str,
        bind: impl for<'q> FnOnce(AnyQuery<'q>) -> Result<AnyQuery<'q>, StoreError>,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        match events {
            [] => {
                let result = bind(sqlx::query(write))?.execute(&self.writes).await?;
                Ok(changed_one(&result))
            }
            [event] if self.is_postgres() => {
                let first = parameters(write) + 1;
                let values: Vec<String> = (first..first + EVENT_COLUMNS_COUNT)
                    .map(|n| format!("${n}"))
                    .collect();
                let sql = format!(
                    "WITH changed AS ({write} RETURNING 1) \
                     INSERT INTO twostep_security_events ({EVENT_COLUMNS}) \
                     SELECT {} FROM changed",
                    values.join(", ")
                );
                let query = bind(sqlx::query(&sql))?.bind_event(event)?;
                Ok(changed_one(&query.execute(&self.writes).await?))
            }
            // SQLite has no such statement: the event rides in the row, and a trigger logs
            // it within the statement (migration 0007).
            [event] if write.starts_with(UPDATE_ACCOUNT) => {
                let sql = write.replacen(
                    UPDATE_ACCOUNT,
                    &format!(
                        "{UPDATE_ACCOUNT}logged_event = ${}, ",
                        parameters(write) + 1
                    ),
                    1,
                );
                let query = bind(sqlx::query(&sql))?.bind(event_json(event)?);
                Ok(changed_one(&query.execute(&self.writes).await?))
            }
            events => {
                let mut tx = self.writes.begin().await?;
                let changed = changed_one(&bind(sqlx::query(write))?.execute(&mut *tx).await?);
                if changed {
                    for event in events {
                        sqlx::query(INSERT_EVENT)
                            .bind_event(event)?
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(changed)
            }
        }
    }

    fn is_postgres(&self) -> bool {
        matches!(
            self.pool.connect_options().database_url.scheme(),
            "postgres" | "postgresql"
        )
    }

    /// Whether `user` could have a row: PostgreSQL's text holds no NUL character, so an id
    /// with one has nothing stored (writing one is a database error); SQLite holds any.
    fn could_hold(&self, user: &str) -> bool {
        !user.contains('\0') || !self.is_postgres()
    }

    /// The rows `select` (columns, then `WHERE` and the id column) finds for `ids`, in one
    /// statement whatever their number: the ids travel as one JSON array, one bound
    /// parameter, where a placeholder each would run into the databases' limits (65,535 on
    /// PostgreSQL) and cost a statement per chunk — an organisation of 100,000 members is
    /// one read.
    async fn rows_of(&self, select: &str, ids: &[&str]) -> Result<Vec<AnyRow>, StoreError> {
        let asked: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| self.could_hold(id))
            .collect();
        if asked.is_empty() {
            return Ok(Vec::new());
        }
        let list = if self.is_postgres() {
            "SELECT json_array_elements_text($1::json)"
        } else {
            "SELECT value FROM json_each($1)"
        };
        let ids = serde_json::to_string(&asked).map_err(|_| StoreError::Encode("ids"))?;
        Ok(sqlx::query(&format!("{select} IN ({list})"))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Forgets consumed states an hour after they expired (clocks differ between servers),
    /// swept by about one call in 256 (ids are random) so the table stays small without a
    /// second statement on every login. Returns the expiry before which an entry may be
    /// taken anew.
    async fn sweep_consumed(&self, id: StateId, now: u64) -> Result<i64, StoreError> {
        let forget_before = now.saturating_sub(FORGET_CONSUMED_AFTER_SECONDS);
        let forget_before = i64::try_from(forget_before).unwrap_or(i64::MAX);
        if id.as_bytes()[0] == 0 {
            sqlx::query("DELETE FROM twostep_consumed_states WHERE expires_at <= $1")
                .bind(forget_before)
                .execute(&self.writes)
                .await?;
        }
        Ok(forget_before)
    }
}

// ---- Conversions between Rust values and columns ----

fn to_db(value: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange(what))
}

fn from_db<T: TryFrom<i64>>(value: i64, what: &'static str) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::Corrupt(what))
}

/// The three counter columns: `window_start`, `window_failures`, `consecutive_failures`.
fn throttle_columns(throttle: Throttle) -> Result<[i64; 3], StoreError> {
    Ok([
        to_db(throttle.window_start, "throttle window")?,
        i64::from(throttle.window_failures),
        i64::from(throttle.consecutive_failures),
    ])
}

/// A credential as its columns.
struct RecordColumns {
    key_id: String,
    ciphertext: Vec<u8>,
    params: String,
    last_step: Option<i64>,
    codes: String,
    enabled_at: i64,
}

/// A query on the pool, as `sqlx::query` builds it.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binding the column groups, in their order.
trait BindColumns {
    /// The three counter columns.
    fn bind_throttle(self, columns: [i64; 3]) -> Self;
    /// The six credential columns.
    fn bind_record(self, columns: RecordColumns) -> Self;
    /// A consumed state after its user: id, expiry, and the expiry before which an entry may
    /// be taken anew.
    fn bind_consumed(self, id: StateId, expires_at: u64, forget_before: i64) -> Self;
    /// A sign-in's step write after its user: revision, step, expected counters, new
    /// counters, completed states.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] for values SQL's integers cannot hold.
    fn bind_step(self, write: &AcceptStep) -> Result<Self, StoreError>
    where
        Self: Sized;
    /// An event's columns ([`EVENT_COLUMNS`]).
    fn bind_event(self, event: &AuditEvent) -> Result<Self, StoreError>
    where
        Self: Sized;
}

impl BindColumns for AnyQuery<'_> {
    fn bind_throttle(self, [start, failures, consecutive]: [i64; 3]) -> Self {
        self.bind(start).bind(failures).bind(consecutive)
    }

    fn bind_record(self, columns: RecordColumns) -> Self {
        self.bind(columns.key_id)
            .bind(columns.ciphertext)
            .bind(columns.params)
            .bind(columns.last_step)
            .bind(columns.codes)
            .bind(columns.enabled_at)
    }

    fn bind_consumed(self, id: StateId, expires_at: u64, forget_before: i64) -> Self {
        self.bind(id.as_bytes().to_vec())
            // Beyond SQL's integers is as good as never.
            .bind(i64::try_from(expires_at).unwrap_or(i64::MAX))
            .bind(forget_before)
    }

    fn bind_event(self, event: &AuditEvent) -> Result<Self, StoreError> {
        Ok(self
            .bind(event.user_id.clone())
            .bind(to_db(event.at, "event time")?)
            .bind(event.kind.name())
            .bind(event.actor.clone())
            .bind(event.org.clone())
            .bind(event.ip.map(|ip| ip.to_string()))
            .bind(event.user_agent.clone()))
    }

    fn bind_step(self, write: &AcceptStep) -> Result<Self, StoreError> {
        Ok(self
            .bind(to_db(write.revision, "revision")?)
            .bind(to_db(write.step, "TOTP step")?)
            .bind_throttle(throttle_columns(write.expected)?)
            .bind_throttle(throttle_columns(write.new)?)
            .bind(encode_completed(&write.completed)))
    }
}

impl RecordColumns {
    fn new(record: &CredentialRecord) -> Result<Self, StoreError> {
        Ok(Self {
            key_id: record.secret.key_id.clone(),
            ciphertext: record.secret.ciphertext.clone(),
            params: serde_json::to_string(&record.params)
                .map_err(|_| StoreError::Encode("TOTP parameters"))?,
            last_step: record
                .last_accepted_step
                .map(|step| to_db(step, "TOTP step"))
                .transpose()?,
            codes: recovery_set_json(&record.recovery_codes)?,
            enabled_at: to_db(record.enabled_at, "enable time")?,
        })
    }
}

/// The recovery-code set as stored. Serialization is deterministic, so equal sets have equal
/// text and the compare-and-set can compare text.
fn recovery_set_json(set: &RecoveryCodeSet) -> Result<String, StoreError> {
    serde_json::to_string(set).map_err(|_| StoreError::Encode("recovery-code set"))
}

/// The columns of an account, as [`decode_account`] reads them; the user id last.
const ACCOUNT_COLUMNS: &str = "SELECT secret_key_id, secret_ciphertext, totp_params, \
    last_accepted_step, recovery_codes, enabled_at, \
    window_start, window_failures, consecutive_failures, revision, completed_states, \
    security_revision, user_id FROM twostep_accounts WHERE user_id";

/// The columns of an organisation's policy, as [`decode_policy`] reads them; the org id last.
const POLICY_COLUMNS: &str =
    "SELECT policy, revision, org_id FROM twostep_org_policies WHERE org_id";

fn decode_policy(row: &AnyRow) -> Result<StoredOrgPolicy, StoreError> {
    let policy: String = row.try_get(0)?;
    Ok(StoredOrgPolicy {
        policy: Some(
            serde_json::from_str(&policy)
                .map_err(|_| StoreError::Corrupt("organisation policy"))?,
        ),
        revision: from_db(row.try_get(1)?, "policy revision")?,
    })
}

/// Records a completed state: a new entry, or one old enough to be forgotten taken anew.
const CONSUME_STATE: &str = "INSERT INTO twostep_consumed_states (user_id, state_id, expires_at) \
    VALUES ($1, $2, $3) ON CONFLICT (user_id, state_id) DO UPDATE \
    SET expires_at = excluded.expires_at \
    WHERE twostep_consumed_states.expires_at <= $4";

/// A sign-in with a TOTP code in one statement: the revision, the replay check and the
/// counters' compare-and-set as its condition, the step, the counters and the completed
/// challenge as its write. A concurrent sign-in (a copy of the challenge, the same code) or a
/// concurrent failure makes this one match nothing.
const ACCEPT_STEP: &str = "UPDATE twostep_accounts SET last_accepted_step = $3, \
    window_start = $7, window_failures = $8, consecutive_failures = $9, \
    completed_states = $10, revision = revision + 1 \
    WHERE user_id = $1 AND secret_ciphertext IS NOT NULL AND revision = $2 \
    AND (last_accepted_step IS NULL OR last_accepted_step < $3) \
    AND window_start = $4 AND window_failures = $5 AND consecutive_failures = $6";

/// The completed states as stored: `<id in hex>:<expiry>`, comma-separated.
/// Written on every sign-in, so without a formatter: one allocation for the whole text.
fn encode_completed(completed: &[ConsumedState]) -> String {
    let mut text = String::with_capacity(completed.len() * 54);
    let mut hex = [0u8; 32];
    let mut number = itoa::Buffer::new();
    for (i, state) in completed.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        // 16 bytes always fill the 32 hex digits: the encoding cannot fail.
        if hex::encode_to_slice(state.id.as_bytes(), &mut hex).is_ok() {
            text.extend(hex.iter().map(|&digit| char::from(digit)));
        }
        text.push(':');
        text.push_str(number.format(state.expires_at));
    }
    text
}

fn decode_completed(text: &str) -> Result<Vec<ConsumedState>, StoreError> {
    let corrupt = || StoreError::Corrupt("completed states");
    text.split(',')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (hex, expires_at) = entry.split_once(':').ok_or_else(corrupt)?;
            let mut id = [0u8; 16];
            hex::decode_to_slice(hex, &mut id).map_err(|_| corrupt())?;
            Ok(ConsumedState {
                id: StateId::from_bytes(id),
                expires_at: expires_at.parse().map_err(|_| corrupt())?,
            })
        })
        .collect()
}

/// The counters alone: what reserving and refunding an attempt read.
const SELECT_THROTTLE: &str = "SELECT window_start, window_failures, consecutive_failures \
    FROM twostep_accounts WHERE user_id = $1";

/// The three counter columns, from column `first` on.
fn decode_throttle(row: &AnyRow, first: usize) -> Result<Throttle, StoreError> {
    Ok(Throttle {
        window_start: from_db(row.try_get(first)?, "throttle window")?,
        window_failures: from_db(row.try_get(first + 1)?, "failure count")?,
        consecutive_failures: from_db(row.try_get(first + 2)?, "failure count")?,
    })
}

fn decode_account(row: &AnyRow) -> Result<StoredAccount, StoreError> {
    let throttle = decode_throttle(row, 6)?;
    let revision = from_db(row.try_get(9)?, "revision")?;
    let completed: String = row.try_get(10)?;
    let security_revision = from_db(row.try_get(11)?, "security revision")?;
    let key_id: Option<String> = row.try_get(0)?;
    let ciphertext: Option<Vec<u8>> = row.try_get(1)?;
    let params: Option<String> = row.try_get(2)?;
    let last_step: Option<i64> = row.try_get(3)?;
    let codes: Option<String> = row.try_get(4)?;
    let enabled_at: Option<i64> = row.try_get(5)?;
    let credential = match (key_id, ciphertext, params, codes, enabled_at) {
        (None, None, None, None, None) => None,
        (Some(key_id), Some(ciphertext), Some(params), Some(codes), Some(enabled_at)) => {
            Some(CredentialRecord {
                secret: SealedSecret { key_id, ciphertext },
                params: serde_json::from_str(&params)
                    .map_err(|_| StoreError::Corrupt("TOTP parameters"))?,
                last_accepted_step: last_step
                    .map(|step| from_db(step, "TOTP step"))
                    .transpose()?,
                recovery_codes: serde_json::from_str(&codes)
                    .map_err(|_| StoreError::Corrupt("recovery-code set"))?,
                enabled_at: from_db(enabled_at, "enable time")?,
            })
        }
        _ => return Err(StoreError::Corrupt("credential")),
    };
    Ok(StoredAccount {
        credential,
        throttle,
        revision,
        completed: decode_completed(&completed)?,
        security_revision,
    })
}

/// The assignments that remove a credential: secret, parameters, codes and replay state.
macro_rules! no_credential {
    () => {
        "secret_key_id = NULL, secret_ciphertext = NULL, totp_params = NULL, \
         last_accepted_step = NULL, recovery_codes = NULL, enabled_at = NULL"
    };
}

/// The assignments that clear what guards a credential: the counters and completed states.
macro_rules! no_guards {
    () => {
        "window_start = 0, window_failures = 0, consecutive_failures = 0, completed_states = ''"
    };
}

fn changed_one(result: &sqlx::any::AnyQueryResult) -> bool {
    result.rows_affected() == 1
}

impl Store for SqlStore {
    type Error = StoreError;

    /// Deletes what twostep keeps about `user` — credential, recovery codes, counters and
    /// completed states — in one transaction, for when the account itself is deleted (or, by
    /// an operator, to let a user who lost the sealing key's secrets enroll again). Only the
    /// user id and its revision stay, moved on (a row is made for a user who had none), so a
    /// pending state from before cannot complete for a new account that reuses the id.
    /// Returns whether there was a credential or counters.
    async fn forget_user(&self, user: &str) -> Result<bool, StoreError> {
        // An id the database cannot hold has nothing stored, and no state can ever complete
        // for it here.
        if !self.could_hold(user) {
            return Ok(false);
        }
        let mut tx = self.writes.begin().await?;
        sqlx::query("DELETE FROM twostep_consumed_states WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        let had = sqlx::query(
            "SELECT 1 FROM twostep_accounts WHERE user_id = $1 AND (secret_ciphertext IS NOT NULL \
               OR window_start <> 0 OR window_failures <> 0 OR consecutive_failures <> 0)",
        )
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        sqlx::query(concat!(
            "INSERT INTO twostep_accounts (user_id, revision, security_revision) \
             VALUES ($1, 1, 1) ON CONFLICT (user_id) DO UPDATE SET ",
            no_credential!(),
            ", ",
            no_guards!(),
            ", revision = twostep_accounts.revision + 1, \
             security_revision = twostep_accounts.security_revision + 1"
        ))
        .bind(user)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(had)
    }

    async fn account(&self, user: &str) -> Result<StoredAccount, StoreError> {
        if !self.could_hold(user) {
            return Ok(StoredAccount::default());
        }
        let row = sqlx::query(&format!("{ACCOUNT_COLUMNS} = $1"))
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map_or_else(|| Ok(StoredAccount::default()), decode_account)
    }

    /// One query per 500 users (`WHERE user_id IN (…)`). Ids the database cannot hold are
    /// not asked for: one such member must not fail the whole list.
    async fn accounts(&self, users: &[&str]) -> Result<Vec<StoredAccount>, StoreError> {
        let mut found = std::collections::HashMap::with_capacity(users.len());
        for row in self.rows_of(ACCOUNT_COLUMNS, users).await? {
            let user: String = row.try_get(12)?;
            found.insert(user, decode_account(&row)?);
        }
        Ok(users
            .iter()
            .map(|user| found.get(*user).cloned().unwrap_or_default())
            .collect())
    }

    /// Only the counters (the provided method would read and decode the whole row).
    async fn throttle(&self, user: &str) -> Result<Throttle, StoreError> {
        if !self.could_hold(user) {
            return Ok(Throttle::default());
        }
        let row = sqlx::query(SELECT_THROTTLE)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map_or_else(|| Ok(Throttle::default()), |row| decode_throttle(row, 0))
    }

    async fn create_credential(
        &self,
        user: &str,
        revision: u64,
        record: CredentialRecord,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let columns = RecordColumns::new(&record)?;
        if revision == 0 {
            // No row reads as revision 0; a row may exist holding only counters: fill it
            // unless it has a secret or was ever written.
            let insert = "INSERT INTO twostep_accounts (user_id, secret_key_id, \
                     secret_ciphertext, totp_params, last_accepted_step, recovery_codes, \
                     enabled_at, revision, security_revision) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 1) \
                 ON CONFLICT (user_id) DO UPDATE SET \
                     secret_key_id = excluded.secret_key_id, \
                     secret_ciphertext = excluded.secret_ciphertext, \
                     totp_params = excluded.totp_params, \
                     last_accepted_step = excluded.last_accepted_step, \
                     recovery_codes = excluded.recovery_codes, \
                     enabled_at = excluded.enabled_at, \
                     revision = 1, \
                     security_revision = twostep_accounts.security_revision + 1 \
                 WHERE twostep_accounts.secret_ciphertext IS NULL \
                   AND twostep_accounts.revision = 0";
            let bind = binder(|q| Ok(q.bind(user.to_owned()).bind_record(columns)));
            self.write_logged(insert, bind, events).await
        } else {
            let update = "UPDATE twostep_accounts SET secret_key_id = $2, \
                     secret_ciphertext = $3, totp_params = $4, last_accepted_step = $5, \
                     recovery_codes = $6, enabled_at = $7, revision = revision + 1, \
                     security_revision = security_revision + 1 \
                 WHERE user_id = $1 AND secret_ciphertext IS NULL AND revision = $8";
            let revision = to_db(revision, "revision")?;
            let bind = binder(|q| Ok(q.bind(user.to_owned()).bind_record(columns).bind(revision)));
            self.write_logged(update, bind, events).await
        }
    }

    /// One conditional `UPDATE`: a sign-in with a TOTP code is one read and one write.
    async fn accept_step(
        &self,
        user: &str,
        write: AcceptStep,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let bind = binder(|q| q.bind(user.to_owned()).bind_step(&write));
        self.write_logged(ACCEPT_STEP, bind, events).await
    }

    async fn replace_recovery_codes(
        &self,
        user: &str,
        revision: u64,
        new: RecoveryCodeSet,
        completed: Option<Vec<ConsumedState>>,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        // Without `completed` (a re-issue) the column is written back as it is, and the
        // security revision moves on.
        let reissue = i64::from(completed.is_none());
        let revision = to_db(revision, "revision")?;
        let codes = recovery_set_json(&new)?;
        let completed = completed.as_deref().map(encode_completed);
        let bind = binder(|q| {
            Ok(q.bind(user.to_owned())
                .bind(revision)
                .bind(codes)
                .bind(completed)
                .bind(reissue))
        });
        self.write_logged(
            "UPDATE twostep_accounts SET recovery_codes = $3, \
                 completed_states = COALESCE($4, completed_states), revision = revision + 1, \
                 security_revision = security_revision + $5 \
             WHERE user_id = $1 AND secret_ciphertext IS NOT NULL AND revision = $2",
            bind,
            events,
        )
        .await
    }

    async fn remove_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        // Secret, codes and replay state go together; the counters stay.
        self.clear_credential(
            concat!("UPDATE twostep_accounts SET ", no_credential!()),
            user,
            revision,
            events,
        )
        .await
    }

    /// One conditional `UPDATE` of the account row: credential, counters and completed states
    /// go together.
    async fn reset_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        self.clear_credential(
            concat!(
                "UPDATE twostep_accounts SET ",
                no_credential!(),
                ", ",
                no_guards!()
            ),
            user,
            revision,
            events,
        )
        .await
    }

    async fn is_consumed(&self, user: &str, id: StateId, now: u64) -> Result<bool, StoreError> {
        if !self.could_hold(user) {
            return Ok(false);
        }
        let forget_before = now.saturating_sub(FORGET_CONSUMED_AFTER_SECONDS);
        let found = sqlx::query(
            "SELECT 1 FROM twostep_consumed_states \
             WHERE user_id = $1 AND state_id = $2 AND expires_at > $3",
        )
        .bind(user)
        .bind(id.as_bytes().to_vec())
        .bind(i64::try_from(forget_before).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn consume_state(
        &self,
        user: &str,
        state: ConsumedState,
        now: u64,
    ) -> Result<bool, StoreError> {
        let forget_before = self.sweep_consumed(state.id, now).await?;
        let result = sqlx::query(CONSUME_STATE)
            .bind(user)
            .bind_consumed(state.id, state.expires_at, forget_before)
            .execute(&self.writes)
            .await?;
        Ok(changed_one(&result))
    }

    async fn compare_and_set_throttle(
        &self,
        user: &str,
        expected: Throttle,
        new: Throttle,
    ) -> Result<bool, StoreError> {
        let new = throttle_columns(new)?;
        let result = if expected == Throttle::default() {
            // A missing row reads as the default counters: insert it, or update a row that
            // still holds the default.
            sqlx::query(
                "INSERT INTO twostep_accounts \
                     (user_id, window_start, window_failures, consecutive_failures) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id) DO UPDATE SET window_start = excluded.window_start, \
                     window_failures = excluded.window_failures, \
                     consecutive_failures = excluded.consecutive_failures \
                 WHERE twostep_accounts.window_start = 0 \
                   AND twostep_accounts.window_failures = 0 \
                   AND twostep_accounts.consecutive_failures = 0",
            )
            .bind(user)
            .bind_throttle(new)
            .execute(&self.writes)
            .await?
        } else {
            let expected = throttle_columns(expected)?;
            sqlx::query(
                "UPDATE twostep_accounts SET window_start = $5, window_failures = $6, \
                     consecutive_failures = $7 \
                 WHERE user_id = $1 AND window_start = $2 AND window_failures = $3 \
                   AND consecutive_failures = $4",
            )
            .bind(user)
            .bind_throttle(expected)
            .bind_throttle(new)
            .execute(&self.writes)
            .await?
        };
        Ok(changed_one(&result))
    }

    async fn org_policy(&self, org: &str) -> Result<StoredOrgPolicy, StoreError> {
        if !self.could_hold(org) {
            return Ok(StoredOrgPolicy::default());
        }
        let row = sqlx::query(&format!("{POLICY_COLUMNS} = $1"))
            .bind(org)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map_or_else(|| Ok(StoredOrgPolicy::default()), decode_policy)
    }

    /// One query per 500 organisations (`WHERE org_id IN (…)`).
    async fn org_policies(&self, orgs: &[&str]) -> Result<Vec<StoredOrgPolicy>, StoreError> {
        let mut found = std::collections::HashMap::with_capacity(orgs.len());
        for row in self.rows_of(POLICY_COLUMNS, orgs).await? {
            let org: String = row.try_get(2)?;
            found.insert(org, decode_policy(&row)?);
        }
        Ok(orgs
            .iter()
            .map(|org| found.get(*org).cloned().unwrap_or_default())
            .collect())
    }

    async fn compare_and_set_org_policy(
        &self,
        org: &str,
        revision: u64,
        new: OrgPolicy,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let new =
            serde_json::to_string(&new).map_err(|_| StoreError::Encode("organisation policy"))?;
        if revision == 0 {
            let bind = binder(|q| Ok(q.bind(org.to_owned()).bind(new)));
            let insert = "INSERT INTO twostep_org_policies (org_id, policy, revision) \
                 VALUES ($1, $2, 1) ON CONFLICT (org_id) DO NOTHING";
            self.write_logged(insert, bind, events).await
        } else {
            let revision = to_db(revision, "policy revision")?;
            let bind = binder(|q| Ok(q.bind(org.to_owned()).bind(revision).bind(new)));
            let update = "UPDATE twostep_org_policies SET policy = $3, revision = revision + 1 \
                 WHERE org_id = $1 AND revision = $2";
            self.write_logged(update, bind, events).await
        }
    }

    /// Appends `events` in one transaction, and deletes up to a thousand of the oldest events
    /// older than the retention ([`SqlStore::retain_events_for`]) before the newest of them.
    async fn record_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let Some(newest) = events.iter().map(|event| event.at).max() else {
            return Ok(());
        };
        let mut tx = self.writes.begin().await?;
        for event in events {
            sqlx::query(INSERT_EVENT)
                .bind_event(event)?
                .execute(&mut *tx)
                .await?;
        }
        let forget_before = newest.saturating_sub(self.event_retention.as_secs());
        // The oldest ids first, a batch at a time: the log is in time order by id, so no
        // index on the time costs every write that logs an event.
        sqlx::query(
            "DELETE FROM twostep_security_events WHERE id IN \
                 (SELECT id FROM twostep_security_events ORDER BY id LIMIT 1000) \
             AND at < $1",
        )
        .bind(i64::try_from(forget_before).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One indexed query: the user's events and those they made as an actor, or the
    /// organisation's, newest first.
    async fn events(&self, query: &EventQuery) -> Result<Vec<LoggedEvent>, StoreError> {
        let (filter, id) = match &query.of {
            EventsOf::User(user) => ("(user_id = $1 OR actor = $1)", user),
            EventsOf::Org(org) => ("org = $1", org),
            _ => return Ok(Vec::new()),
        };
        if !self.could_hold(id) || query.limit == 0 {
            return Ok(Vec::new());
        }
        let before = query
            .before
            .map_or(Ok(i64::MAX), |id| to_db(id, "event id"))?;
        let rows = sqlx::query(&format!(
            "SELECT id, {EVENT_COLUMNS} FROM twostep_security_events \
             WHERE {filter} AND id < $2 ORDER BY id DESC LIMIT $3"
        ))
        .bind(id.as_str())
        .bind(before)
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_event).collect()
    }
}

/// `bind` as [`SqlStore::write_logged`] takes it: a closure in a `let` is not inferred to
/// bind for every lifetime unless it is passed where one is expected.
fn binder<F>(bind: F) -> F
where
    F: for<'q> FnOnce(AnyQuery<'q>) -> Result<AnyQuery<'q>, StoreError>,
{
    bind
}

/// How long the security log keeps an event unless told otherwise: a year, as the longest of
/// the large consoles' security logs.
const DEFAULT_EVENT_RETENTION: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// The security log's columns after the id, in the order [`BindColumns::bind_event`] binds
/// them.
const EVENT_COLUMNS: &str = "user_id, at, kind, actor, org, ip, user_agent";
const EVENT_COLUMNS_COUNT: usize = 7;
const INSERT_EVENT: &str = "INSERT INTO twostep_security_events \
     (user_id, at, kind, actor, org, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// How every conditional write of one account begins.
const UPDATE_ACCOUNT: &str = "UPDATE twostep_accounts SET ";

/// An event as SQLite's trigger reads it from `logged_event`.
fn event_json(event: &AuditEvent) -> Result<String, StoreError> {
    serde_json::to_string(&serde_json::json!({
        "user_id": event.user_id,
        "at": to_db(event.at, "event time")?,
        "kind": event.kind.name(),
        "actor": event.actor,
        "org": event.org,
        "ip": event.ip.map(|ip| ip.to_string()),
        "user_agent": event.user_agent,
    }))
    .map_err(|_| StoreError::Encode("event"))
}

/// The highest `$n` in `sql`: the next parameter of a statement wrapped around it is one
/// more.
fn parameters(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            rest.get(..digits)?.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

fn decode_event(row: &AnyRow) -> Result<LoggedEvent, StoreError> {
    let id: i64 = row.try_get(0)?;
    let user_id: String = row.try_get(1)?;
    let at: i64 = row.try_get(2)?;
    let kind: String = row.try_get(3)?;
    let ip: Option<String> = row.try_get(6)?;
    let mut event = AuditEvent::new(
        user_id,
        AuditKind::from_name(&kind).ok_or(StoreError::Corrupt("event kind"))?,
        from_db(at, "event time")?,
    );
    event.actor = row.try_get(4)?;
    event.org = row.try_get(5)?;
    event.ip = ip
        .map(|ip| ip.parse().map_err(|_| StoreError::Corrupt("event address")))
        .transpose()?;
    event.user_agent = row.try_get(7)?;
    Ok(LoggedEvent::new(from_db(id, "event id")?, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(first: u8, expires_at: u64) -> ConsumedState {
        let mut id = [0xa5; 16];
        id[0] = first;
        ConsumedState {
            id: StateId::from_bytes(id),
            expires_at,
        }
    }

    #[test]
    fn completed_states_keep_their_stored_form() {
        // Rows written by earlier versions must still decode: the text form is fixed.
        let completed = [state(0x01, 1_800_000_000), state(0xff, u64::MAX)];
        let text = encode_completed(&completed);
        assert_eq!(
            text,
            "01a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5:1800000000,\
             ffa5a5a5a5a5a5a5a5a5a5a5a5a5a5a5:18446744073709551615"
        );
        assert_eq!(decode_completed(&text).unwrap(), completed);
        assert_eq!(encode_completed(&[]), "");
        assert_eq!(decode_completed("").unwrap(), []);
    }

    #[test]
    fn edited_completed_states_are_corrupt() {
        let good = "01a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5:1800000000";
        assert!(decode_completed(good).is_ok());
        for edited in [
            "01a5a5a5a5a5a5a5a5a5a5a5a5a5a5a:1800000000", // 31 digits
            "01a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5:1800000000", // 34 digits
            "0ga5a5a5a5a5a5a5a5a5a5a5a5a5a5a5:1800000000", // not hex
            "01a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5",           // no expiry
            "01a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5:-1",        // negative
            "01a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5:18446744073709551616",
            "é1a5a5a5a5a5a5a5a5a5a5a5a5a5a5a:1800000000", // 32 bytes, not ASCII
        ] {
            assert!(
                matches!(decode_completed(edited), Err(StoreError::Corrupt(_))),
                "{edited}"
            );
        }
    }
}
