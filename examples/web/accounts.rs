//! The application's own users and organisations, in two tables next to twostep's: what a
//! real app already has before it adds two-step verification. They are wired to twostep
//! through two traits: [`Reauthenticate`] (the password check before re-issue and disable)
//! and [`Directory`] (who belongs to which organisation, in which role).
//!
//! Passwords are hashed with Argon2id (PHC strings, the `argon2` crate's defaults), on a
//! blocking thread so a hash does not stall the server's other requests; wrong passwords are
//! throttled per email ([`SignInThrottle`]). Every account belongs to one organisation: the
//! first to sign up with an organisation's name owns it; later ones join it as members, and
//! the owner can make them admins. (Joining by name is a demo shortcut: a real console
//! invites members.)

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use std::collections::HashMap;
use std::sync::Mutex;

use rand::RngExt as _;
use sqlx::{AnyPool, Row as _};
use twostep::enrollment::{Directory, Locked, Reauthenticate, Throttle, ThrottlePolicy};
use twostep::policy::{Membership, Role};

use crate::mail::unix_now;

/// A failure of the accounts backend.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AccountsError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("password hashing failed")]
    Hash,
    #[error("a stored role is not one of owner, admin, member")]
    Corrupt,
}

/// Why a sign-up was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignUpError {
    #[error("an account with this email already exists")]
    Taken,
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Backend(#[from] AccountsError),
}

/// The users and memberships tables.
#[derive(Clone, Debug)]
pub(crate) struct Accounts {
    pool: AnyPool,
    /// The hash of a random password, checked against when an email is unknown.
    dummy_hash: String,
}

impl Accounts {
    /// Creates the tables if they are missing.
    pub(crate) async fn open(pool: AnyPool) -> Result<Self, AccountsError> {
        for statement in [
            "CREATE TABLE IF NOT EXISTS web_users (
                email TEXT PRIMARY KEY,
                password_hash TEXT NOT NULL,
                created_at BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS web_members (
                org TEXT NOT NULL,
                email TEXT NOT NULL,
                role TEXT NOT NULL,
                joined_at BIGINT NOT NULL,
                PRIMARY KEY (org, email))",
            // One owner per organisation, even when two first sign-ups race.
            "CREATE UNIQUE INDEX IF NOT EXISTS web_members_one_owner
                ON web_members (org) WHERE role = 'owner'",
        ] {
            sqlx::query(statement).execute(&pool).await?;
        }
        let dummy: [u8; 16] = rand::rng().random();
        let dummy_hash = hash_password(format!("{dummy:?}")).await?;
        Ok(Self { pool, dummy_hash })
    }

    /// Creates an account, in `org` (as its owner if it is new). Returns the role.
    pub(crate) async fn sign_up(
        &self,
        email: &str,
        password: &str,
        org: &str,
    ) -> Result<Role, SignUpError> {
        // Control characters (a newline forges a log line) and bidirectional overrides (U+202E
        // shows "moc.evil@" as "@live.com") have no place in an address or a name.
        let unfit = |text: &str| text.chars().any(|c| c.is_control() || is_bidi_control(c));
        if unfit(email) || unfit(org) {
            return Err(SignUpError::Invalid(
                "use letters, digits and punctuation only",
            ));
        }
        if !email.contains('@') || email.len() > 254 {
            return Err(SignUpError::Invalid("enter a valid email address"));
        }
        if password.chars().count() < 8 {
            return Err(SignUpError::Invalid(
                "use a password of at least 8 characters",
            ));
        }
        if org.trim().is_empty() || org.len() > 100 {
            return Err(SignUpError::Invalid("enter your organisation's name"));
        }
        let hash = hash_password(password.to_owned()).await?;
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await.map_err(AccountsError::from)?;
        let created = sqlx::query(
            "INSERT INTO web_users (email, password_hash, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(email)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(AccountsError::from)?;
        if created.rows_affected() == 0 {
            return Err(SignUpError::Taken);
        }
        // The first member owns the organisation. Two first sign-ups racing could both see
        // no member; the one-owner index then refuses the second (and its transaction).
        sqlx::query(
            "INSERT INTO web_members (org, email, role, joined_at)
             SELECT $1, $2, CASE WHEN EXISTS (SELECT 1 FROM web_members WHERE org = $1)
                                 THEN 'member' ELSE 'owner' END, $3",
        )
        .bind(org.trim())
        .bind(email)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(AccountsError::from)?;
        tx.commit().await.map_err(AccountsError::from)?;
        Ok(self
            .membership(email)
            .await?
            .map_or(Role::Member, |membership| membership.role))
    }

    /// Whether `password` is the password of `email`. An unknown email costs the same Argon2
    /// evaluation as a known one, so the answer's timing does not tell them apart.
    pub(crate) async fn check_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<bool, AccountsError> {
        let stored: Option<String> =
            sqlx::query("SELECT password_hash FROM web_users WHERE email = $1")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .map_err(|_| AccountsError::Hash)?;
        Ok(known && matches)
    }

    /// The user's organisation membership.
    pub(crate) async fn membership(
        &self,
        email: &str,
    ) -> Result<Option<Membership>, AccountsError> {
        let row =
            sqlx::query("SELECT org, email, role, joined_at FROM web_members WHERE email = $1")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| membership_of(&row)).transpose()
    }

    /// Makes `member` an admin or a plain member of `org`; only the owner may.
    pub(crate) async fn set_role(
        &self,
        actor: &str,
        org: &str,
        member: &str,
        admin: bool,
    ) -> Result<bool, AccountsError> {
        let role = if admin { "admin" } else { "member" };
        let done = sqlx::query(
            "UPDATE web_members SET role = $4 WHERE org = $1 AND email = $2 AND role <> 'owner'
             AND EXISTS (SELECT 1 FROM web_members o WHERE o.org = $1 AND o.email = $3
                         AND o.role = 'owner')",
        )
        .bind(org)
        .bind(member)
        .bind(actor)
        .bind(role)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// The invisible characters that reorder text (Unicode's bidirectional controls).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

async fn hash_password(password: String) -> Result<String, AccountsError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|_| AccountsError::Hash)?
    .map_err(|_| AccountsError::Hash)
}

fn membership_of(row: &sqlx::any::AnyRow) -> Result<Membership, AccountsError> {
    let org: String = row.try_get(0)?;
    let email: String = row.try_get(1)?;
    let role = match row.try_get::<String, _>(2)?.as_str() {
        "owner" => Role::Owner,
        "admin" => Role::Admin,
        "member" => Role::Member,
        _ => return Err(AccountsError::Corrupt),
    };
    let joined_at: i64 = row.try_get(3)?;
    Ok(Membership::new(
        &org,
        &email,
        role,
        u64::try_from(joined_at).unwrap_or(0),
    ))
}

impl Reauthenticate for Accounts {
    type Error = AccountsError;

    async fn verify_password(&self, user: &str, password: &str) -> Result<bool, Self::Error> {
        self.check_password(user, password).await
    }
}

impl Directory for Accounts {
    type Error = AccountsError;

    async fn memberships(&self, user: &str) -> Result<Vec<Membership>, Self::Error> {
        Ok(self.membership(user).await?.into_iter().collect())
    }

    async fn members(&self, org: &str) -> Result<Vec<Membership>, Self::Error> {
        let rows = sqlx::query(
            "SELECT org, email, role, joined_at FROM web_members WHERE org = $1 ORDER BY joined_at, email",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(membership_of).collect()
    }
}

/// Wrong passwords at sign-in, counted per email in this process's memory (unknown emails
/// too, so the answer does not tell them apart): 10 per 15 minutes, then wait. No hard lock,
/// which would let anyone lock a victim out. The service throttles the second step and the
/// password checks of re-issue and disable itself.
#[derive(Debug)]
pub(crate) struct SignInThrottle {
    policy: ThrottlePolicy,
    by_email: Mutex<HashMap<String, Throttle>>,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self {
            policy: ThrottlePolicy {
                max_failures: 10,
                hard_lock_after: u32::MAX,
                ..ThrottlePolicy::default()
            },
            by_email: Mutex::default(),
        }
    }
}

impl SignInThrottle {
    /// Counts an attempt as failed before it is checked, so concurrent guesses cannot overrun
    /// the budget; returns the window to [`refund`](Self::refund) in if it succeeds.
    ///
    /// # Errors
    /// [`Locked`] while the budget is spent.
    pub(crate) fn reserve(&self, email: &str, now: u64) -> Result<u64, Locked> {
        let mut counters = self.lock();
        let throttle = counters.entry(email.to_owned()).or_default();
        throttle.check(&self.policy, now)?;
        *throttle = throttle.record_failure(&self.policy, now);
        Ok(throttle.window_start)
    }

    /// Takes back the reservation of a successful sign-in.
    pub(crate) fn refund(&self, email: &str, window_start: u64) {
        if let Some(throttle) = self.lock().get_mut(email) {
            *throttle = throttle.refund(window_start, true);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Throttle>> {
        self.by_email
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
