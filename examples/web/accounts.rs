//! The application's own users and organisations, in two tables next to twostep's: what a
//! real app already has before it adds two-step verification. They are wired to twostep
//! through two traits: [`Reauthenticate`] (the password check before re-issue and disable)
//! and [`Directory`] (who belongs to which organisation, in which role).
//!
//! Passwords are hashed with Argon2id by twostep-axum's [`Passwords`]: on the blocking pool, a
//! few at a time (so a burst of sign-ins or sign-ups cannot take the server's memory), with
//! wrong passwords throttled per email. Every account belongs to one organisation: the
//! first to sign up with an organisation's name owns it; later ones join it as members, and
//! the owner can make them admins. (Joining by name is a demo shortcut: a real console
//! invites members.)

use rand::RngExt as _;
use sqlx::{AnyPool, Row as _};
use twostep::axum::{PasswordError, Passwords};
use twostep::enrollment::{Account, Directory, Reauthenticate};
use twostep::policy::{Membership, Role};

use crate::mail::unix_now;

/// How long a sign-up's mailed link works.
const SIGN_UP_TTL_SECONDS: u64 = 30 * 60;

/// A failure of the accounts backend.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AccountsError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("a stored role is not one of owner, admin, member")]
    Corrupt,
}

/// Why a sign-up was refused. (An address already registered is not a refusal: the answer
/// must not tell who is registered, so that owner is mailed instead.)
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignUpError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Backend(#[from] AccountsError),
}

/// The users and memberships tables.
#[derive(Clone, Debug)]
pub(crate) struct Accounts {
    pool: AnyPool,
    /// Hashing on a bounded pool, and the wrong-password throttle.
    passwords: Passwords,
}

/// The console's tables, created at start if missing.
const SCHEMA: &str = include_str!("schema.sql");

impl Accounts {
    /// Creates the tables if they are missing.
    pub(crate) async fn open(pool: AnyPool) -> Result<Self, AccountsError> {
        for statement in SCHEMA.split(';').filter(|sql| !sql.trim().is_empty()) {
            sqlx::query(statement).execute(&pool).await?;
        }
        let permits = std::thread::available_parallelism().map_or(2, usize::from);
        let passwords = Passwords::new(permits);
        Ok(Self { pool, passwords })
    }

    /// A sign-up: checks the form and keeps it until the link mailed to `email` is opened.
    /// Returns the link's token, or `None` when the address is registered already (mail its
    /// owner instead, and answer the same).
    pub(crate) async fn request_sign_up(
        &self,
        email: &str,
        password: &str,
        org: &str,
    ) -> Result<Option<String>, SignUpError> {
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
        // Hashed whether or not the address is taken: the same work, the same time.
        let hash = self
            .passwords
            .hash(password)
            .await
            .map_err(AccountsError::from)?;
        let taken = sqlx::query("SELECT 1 FROM web_users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(AccountsError::from)?;
        if taken.is_some() {
            return Ok(None);
        }
        let token: [u8; 32] = rand::rng().random();
        let token: String = token.iter().map(|byte| format!("{byte:02x}")).collect();
        let expires_at = i64::try_from(unix_now() + SIGN_UP_TTL_SECONDS).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO web_signups (token, email, password_hash, org, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token)
        .bind(email)
        .bind(hash)
        .bind(org.trim())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(AccountsError::from)?;
        Ok(Some(token))
    }

    /// Opens a sign-up's link, once: creates the account, in its organisation (as its owner
    /// if it is new). Returns the email, or `None` for a link that is unknown, used, expired,
    /// or whose address was registered meanwhile.
    pub(crate) async fn confirm_sign_up(
        &self,
        token: &str,
    ) -> Result<Option<String>, AccountsError> {
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        let pending = sqlx::query(
            "DELETE FROM web_signups WHERE token = $1 RETURNING email, password_hash, org, expires_at",
        )
        .bind(token)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = pending else {
            return Ok(None);
        };
        let (email, hash, org, expires_at): (String, String, String, i64) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        if expires_at <= now {
            tx.commit().await?;
            return Ok(None);
        }
        let created = sqlx::query(
            "INSERT INTO web_users (email, password_hash, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&email)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if created.rows_affected() == 0 {
            tx.commit().await?;
            return Ok(None);
        }
        // The first member owns the organisation. Two first sign-ups racing could both see
        // no member; the one-owner index then refuses the second (and its transaction).
        sqlx::query(
            "INSERT INTO web_members (org, email, role, joined_at)
             SELECT $1, $2, CASE WHEN EXISTS (SELECT 1 FROM web_members WHERE org = $1)
                                 THEN 'member' ELSE 'owner' END, $3",
        )
        .bind(org)
        .bind(&email)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(email))
    }

    /// Whether `password` is the password of `email`: an unknown email costs the same
    /// Argon2 work, and a wrong password counts against the email's throttle.
    ///
    /// # Errors
    /// [`AccountsError::Locked`] while the email waits; a database or hashing failure.
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
        Ok(self
            .passwords
            .verify(email, password, stored.as_deref())
            .await?)
    }

    /// The account of the user `email` (their id), if they signed up.
    pub(crate) async fn account(&self, email: &str) -> Result<Option<Account>, AccountsError> {
        let found = sqlx::query("SELECT 1 FROM web_users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.map(|_| Account {
            user_id: email.to_owned(),
            email: email.to_owned(),
        }))
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
