//! Seeding the database before the console starts: enrolling a thousand users through the
//! wizard would take minutes (Argon2 at every step), so the console's own tables are filled
//! with SQL and the twostep tables through the library (`SqlStore::migrate`,
//! `Store::create_credential` with secrets sealed by `AeadSealer` under the key the console
//! gets).
//!
//! Every seeded user has the same password, hashed once at Argon2's lowest cost (the PHC
//! string carries its parameters, so the console checks it as cheaply), so that the first
//! factor does not dominate the second step's figures; and the same recovery-code set,
//! generated once at the default cost (`HashParams::default()`), so that a wrong guess costs
//! a real Argon2 evaluation and the load generator knows right codes. TOTP secrets are drawn
//! at random and kept in memory.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use argon2::password_hash::PasswordHasher as _;
use sqlx::AnyPool;
use twostep::enrollment::{CredentialRecord, Store as _};
use twostep::otp::{Secret, Totp, TotpParams};
use twostep::recovery::{HashParams, RecoveryCodeSet};
use twostep::store_sqlx::{AeadSealer, SqlStore};

use crate::Result;

/// One seeded user, enrolled.
#[derive(Debug)]
pub(crate) struct User {
    pub(crate) email: String,
    pub(crate) totp: Totp,
    /// The newest TOTP step sent for this user and possibly accepted (0: none). For a floor
    /// user, the newest step the floor route was sent.
    pub(crate) last: AtomicU64,
    /// The next unused recovery code.
    pub(crate) next_code: AtomicUsize,
    /// Wrong recovery codes sent for this user.
    pub(crate) guesses: AtomicU32,
}

/// How many users of each kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    /// Users signing in with TOTP codes.
    pub(crate) step: usize,
    /// Users signing in with recovery codes.
    pub(crate) recovery: usize,
    /// Accounts the flood of wrong recovery codes goes to.
    pub(crate) flood: usize,
    /// Rows the floor route reads and writes.
    pub(crate) floor: usize,
}

/// What was seeded.
#[derive(Debug)]
pub(crate) struct Seed {
    pub(crate) users: Vec<User>,
    pub(crate) step: Range<usize>,
    pub(crate) recovery: Range<usize>,
    pub(crate) flood: Range<usize>,
    pub(crate) floor: Range<usize>,
    /// The right recovery codes, in the stored set's order.
    pub(crate) codes: Vec<String>,
    /// Well-formed recovery codes of another set: wrong for everyone.
    pub(crate) wrong: Vec<String>,
    /// The set every user has.
    pub(crate) set: RecoveryCodeSet,
    /// The password hash every user has.
    pub(crate) password_hash: String,
}

impl Seed {
    pub(crate) fn user(&self, index: usize) -> Option<&User> {
        self.users.get(index)
    }
}

/// Unix time now.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The console's tables, from the file the console creates them from (it runs the same
/// statements again at start, which then do nothing).
async fn console_tables(pool: &AnyPool) -> Result<()> {
    let schema = include_str!("../web/schema.sql");
    for statement in schema.split(';').filter(|sql| !sql.trim().is_empty()) {
        sqlx::query(statement).execute(pool).await?;
    }
    Ok(())
}

/// The password's hash at Argon2id's lowest cost (8 KiB, one pass, one lane).
fn cheap_password_hash() -> Result<String> {
    let params = argon2::Params::new(8, 1, 1, None).map_err(|error| error.to_string())?;
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let hash = argon2
        .hash_password(crate::http::PASSWORD.as_bytes())
        .map_err(|error| error.to_string())?;
    Ok(hash.to_string())
}

/// Rows of the console's users (and, with an organisation, of its members), many per
/// statement, in one transaction.
async fn insert_console_users(
    pool: &AnyPool,
    emails: &[String],
    hash: &str,
    org: Option<(&str, &str)>,
    now: i64,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    for chunk in emails.chunks(200) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO web_users (email, password_hash, created_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for email in chunk {
            query = query.bind(email.as_str()).bind(hash).bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    if let Some((org, owner)) = org {
        for chunk in emails.chunks(200) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let n = 4 * i;
                    format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
                })
                .collect();
            let sql = format!(
                "INSERT INTO web_members (org, email, role, joined_at) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for email in chunk {
                let role = if email == owner { "owner" } else { "member" };
                query = query.bind(org).bind(email.as_str()).bind(role).bind(now);
            }
            query.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Enrolls `users` (email, credential) through `Store::create_credential`, a few at once.
async fn enroll(store: &SqlStore, users: Vec<(String, CredentialRecord)>) -> Result<()> {
    let workers = 8;
    let per_worker = users.len().div_ceil(workers).max(1);
    let mut tasks = tokio::task::JoinSet::new();
    let mut users = users.into_iter();
    loop {
        let chunk: Vec<_> = users.by_ref().take(per_worker).collect();
        if chunk.is_empty() {
            break;
        }
        let store = store.clone();
        tasks.spawn(async move {
            for (email, record) in chunk {
                if !store.create_credential(&email, 0, record, &[]).await? {
                    return Err(format!("{email} was enrolled already").into());
                }
            }
            Ok::<(), crate::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// A fresh secret for `email`, sealed, in a credential holding `set`.
fn credential(
    sealer: &AeadSealer,
    email: &str,
    set: &RecoveryCodeSet,
    now: u64,
) -> Result<(Totp, CredentialRecord)> {
    let secret = Secret::generate(&mut rand::rng());
    let record = CredentialRecord {
        secret: sealer.seal_secret(email, &secret)?,
        params: TotpParams::default(),
        last_accepted_step: None,
        recovery_codes: set.clone(),
        enabled_at: now,
    };
    Ok((Totp::new(&secret, TotpParams::default()), record))
}

/// Migrates and seeds the database behind `store`.
pub(crate) async fn seed(store: &SqlStore, sealer: &AeadSealer, sizes: Sizes) -> Result<Seed> {
    store.migrate().await?;
    console_tables(store.pool()).await?;
    let now = unix_now();
    let (issued, set) =
        RecoveryCodeSet::generate(&mut rand::rng(), 10, &HashParams::default(), now)?;
    let codes: Vec<String> = issued.codes().iter().map(ToString::to_string).collect();
    let cheap = HashParams::new(8, 1, 1)?;
    let (other, _) = RecoveryCodeSet::generate(&mut rand::rng(), 10, &cheap, now)?;
    let wrong: Vec<String> = other.codes().iter().map(ToString::to_string).collect();
    let password_hash = cheap_password_hash()?;

    let mut emails = Vec::new();
    let mut ranges = Vec::new();
    for (prefix, count) in [
        ("step", sizes.step),
        ("rec", sizes.recovery),
        ("flood", sizes.flood),
        ("floor", sizes.floor),
    ] {
        let start = emails.len();
        emails.extend((0..count).map(|i| format!("{prefix}-{i}@load.test")));
        ranges.push(start..emails.len());
    }
    let [step, recovery, flood, floor]: [Range<usize>; 4] = ranges
        .try_into()
        .map_err(|_| "four kinds of users expected")?;
    let signed_now = i64::try_from(now)?;
    insert_console_users(store.pool(), &emails, &password_hash, None, signed_now).await?;
    let mut users = Vec::with_capacity(emails.len());
    let mut records = Vec::with_capacity(emails.len());
    for email in emails {
        let (totp, record) = credential(sealer, &email, &set, now)?;
        records.push((email.clone(), record));
        users.push(User {
            email,
            totp,
            last: AtomicU64::new(0),
            next_code: AtomicUsize::new(0),
            guesses: AtomicU32::new(0),
        });
    }
    enroll(store, records).await?;
    Ok(Seed {
        users,
        step,
        recovery,
        flood,
        floor,
        codes,
        wrong,
        set,
        password_hash,
    })
}

/// An organisation seeded for scenario 6.
#[derive(Debug)]
pub(crate) struct Org {
    pub(crate) name: String,
    pub(crate) members: usize,
    pub(crate) enrolled: usize,
    /// Its owner (no 2FA: signs in with the password alone).
    pub(crate) owner: String,
    /// A member without 2FA.
    pub(crate) member: String,
}

/// An organisation of `members` (the owner among them), one member in ten enrolled.
pub(crate) async fn org(
    store: &SqlStore,
    sealer: &Arc<AeadSealer>,
    seed: &Seed,
    members: usize,
) -> Result<Org> {
    let name = format!("org-{members}");
    let owner = format!("{name}-owner@load.test");
    let mut emails = vec![owner.clone()];
    emails.extend((1..members).map(|i| format!("{name}-{i}@load.test")));
    let now = unix_now();
    insert_console_users(
        store.pool(),
        &emails,
        &seed.password_hash,
        Some((&name, &owner)),
        i64::try_from(now)?,
    )
    .await?;
    let mut records = Vec::new();
    for email in emails.iter().skip(1).step_by(10) {
        let (_, record) = credential(sealer, email, &seed.set, now)?;
        records.push((email.clone(), record));
    }
    let enrolled = records.len();
    enroll(store, records).await?;
    // A member not enrolled: the second of the list is enrolled, the third is not.
    let member = emails
        .get(2)
        .cloned()
        .ok_or("an organisation of at least three")?;
    Ok(Org {
        name,
        members,
        enrolled,
        owner,
        member,
    })
}

/// A user's next TOTP step, reserved: newer than the last one sent, and one the console's
/// ±1 window accepts when the code arrives up to `slack` seconds from now (the step before
/// the current one only while that much of the current one is left). `None` while the
/// user's next step is still in the future.
pub(crate) fn reserve_step(user: &User, slack: u64) -> Option<u64> {
    let now = unix_now();
    let current = now / 30;
    let earliest = if now % 30 + slack < 30 {
        current.saturating_sub(1)
    } else {
        current
    };
    let last = user.last.load(Ordering::Relaxed);
    let step = (last + 1).max(earliest);
    if step > current + 1 {
        return None;
    }
    user.last.store(step, Ordering::Relaxed);
    Some(step)
}

/// Seconds until the next TOTP step begins.
pub(crate) fn until_next_step() -> std::time::Duration {
    std::time::Duration::from_secs(30 - unix_now() % 30)
}
