//! The first factor's companions every app needs and often gets wrong: a bounded pool for
//! Argon2id password hashing, and a throttle on wrong passwords.
//!
//! Argon2id takes its memory (19 MiB at the `argon2` crate's defaults) for every hash, so
//! unbounded concurrent sign-ins or sign-ups take the server's memory with them (48 at once
//! peaked near 1 GiB in the console before this). [`Passwords`] hashes and checks on a few
//! [`HashingThreads`] of its own, one hash each at a time, below the priority of the
//! requests; the rest wait their turn holding no memory. Its own threads, not tokio's
//! blocking pool: the allocator keeps a freed Argon2 block in the arena of the thread that
//! used it, and the blocking pool runs one job on one thread and the next on another, so 48
//! checks spread over 16 arenas still held ~600 MiB.
//! Wrong passwords are counted per key — the normalized email — in this process: 10 per 15
//! minutes, then a wait (never a hard lock, which would let anyone lock a victim out); an
//! unknown email costs the same Argon2 work and counts the same, so neither the answer nor
//! its timing says who is registered. Across several servers each counts its own; the
//! second step's throttle, which counts in the store, is the one that binds.
//!
//! It does not store users or passwords: that stays the application's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::OnceCell;
use twostep_enrollment::{
    Clock as _, HashingThreads, Locked, SystemClock, Throttle, ThrottlePolicy,
};

/// How many counters the throttle keeps before it forgets those whose window has passed.
const PRUNE_ABOVE: usize = 10_000;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Too many wrong passwords for this key: wait (until when, it says).
    #[error("too many wrong passwords; try again later")]
    Locked(Locked),
    /// The hash could not be made, or the hashing threads are gone.
    #[error("the password could not be hashed")]
    Hash,
}

impl PasswordError {
    /// The message to show, in English; `now` (Unix time) words a wait.
    pub fn message(&self, now: u64) -> String {
        match self {
            Self::Locked(locked) => twostep_enrollment::ServiceError::Locked(*locked).message(now),
            Self::Hash => "Something went wrong; try again.".to_owned(),
        }
    }
}

/// Password hashing on a bounded pool, and a per-key throttle on wrong passwords. Cheap to
/// clone (shared).
///
/// ```
/// use twostep_axum::Passwords;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), twostep_axum::PasswordError> {
/// let passwords = Passwords::new(2);
/// let stored = passwords.hash("correct horse").await?;     // keep this PHC string
/// assert!(passwords.verify("ann@example.com", "correct horse", Some(&stored)).await?);
/// assert!(!passwords.verify("ann@example.com", "guess", Some(&stored)).await?);
/// assert!(!passwords.verify("nobody@example.com", "guess", None).await?); // same work
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    threads: HashingThreads,
    policy: ThrottlePolicy,
    counters: Mutex<HashMap<String, Throttle>>,
    /// A hash of nothing anyone knows, checked for unknown keys.
    dummy: OnceCell<String>,
}

impl core::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Passwords")
            .field("threads", &self.inner.threads.threads())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// `threads` hashing threads (at least one, started with the first hash), so at most that
    /// many hashes at once; 10 wrong passwords per key per 15 minutes.
    pub fn new(threads: usize) -> Self {
        Self::with_policy(
            threads,
            ThrottlePolicy {
                max_failures: 10,
                hard_lock_after: u32::MAX,
                ..ThrottlePolicy::default()
            },
        )
    }

    /// As [`Passwords::new`], counting wrong passwords by `policy`.
    pub fn with_policy(threads: usize, policy: ThrottlePolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                threads: HashingThreads::new(threads),
                policy,
                counters: Mutex::default(),
                dummy: OnceCell::new(),
            }),
        }
    }

    /// Hashes `password` (Argon2id, a fresh salt) into a PHC string to store, on the pool.
    ///
    /// # Errors
    /// [`PasswordError::Hash`].
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = zeroize::Zeroizing::new(password.to_owned());
        self.blocking(move || {
            argon2::Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|_| PasswordError::Hash)
        })
        .await?
    }

    /// Whether `password` matches `stored` (`None`: the key is unknown, checked against a
    /// dummy hash all the same). A wrong one counts against `key`; a right one is not
    /// counted. The attempt is counted before the check, so concurrent guesses cannot
    /// overrun the budget.
    ///
    /// # Errors
    /// [`PasswordError::Locked`] while `key` has spent its budget (nothing is checked);
    /// [`PasswordError::Hash`].
    pub async fn verify(
        &self,
        key: &str,
        password: &str,
        stored: Option<&str>,
    ) -> Result<bool, PasswordError> {
        let window = self.reserve(key)?;
        let known = stored.is_some();
        let hash = match stored {
            Some(stored) => stored.to_owned(),
            None => self.dummy().await?,
        };
        let password = zeroize::Zeroizing::new(password.to_owned());
        let matches = self
            .blocking(move || {
                argon2::PasswordHash::new(&hash).is_ok_and(|hash| {
                    argon2::Argon2::default()
                        .verify_password(password.as_bytes(), &hash)
                        .is_ok()
                })
            })
            .await?;
        let right = known && matches;
        if right {
            self.refund(key, window);
        }
        Ok(right)
    }

    /// Counts an attempt against `key` before it is checked; the window to refund in.
    fn reserve(&self, key: &str) -> Result<u64, PasswordError> {
        let now = SystemClock.now();
        let policy = &self.inner.policy;
        let mut counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if counters.len() > PRUNE_ABOVE {
            counters.retain(|_, throttle| {
                throttle.check(policy, now).is_err()
                    || now < throttle.window_start.saturating_add(policy.window_seconds)
            });
        }
        let throttle = counters.entry(key.to_owned()).or_default();
        throttle.check(policy, now).map_err(PasswordError::Locked)?;
        *throttle = throttle.record_failure(policy, now);
        Ok(throttle.window_start)
    }

    fn refund(&self, key: &str, window_start: u64) {
        let mut counters = self
            .inner
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(throttle) = counters.get_mut(key) {
            *throttle = throttle.refund(window_start, true);
        }
    }

    /// The dummy hash, made once, on first use (concurrent first uses wait for the one).
    async fn dummy(&self) -> Result<String, PasswordError> {
        self.inner
            .dummy
            .get_or_try_init(|| async {
                let mut secret = [0u8; 16];
                getrandom::fill(&mut secret).map_err(|_| PasswordError::Hash)?;
                self.hash(&format!("{secret:?}")).await
            })
            .await
            .cloned()
    }

    /// Runs `work` on a hashing thread, when one is free.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let running = self
            .inner
            .threads
            .spawn(work)
            .map_err(|_| PasswordError::Hash)?;
        running.await.map_err(|_| PasswordError::Hash)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn ten_wrong_passwords_then_even_the_right_one_waits() {
        let passwords = Passwords::new(2);
        let stored = passwords.hash("right").await.unwrap();
        for _ in 0..10 {
            assert!(!passwords.verify("k", "wrong", Some(&stored)).await.unwrap());
        }
        let locked = passwords.verify("k", "right", Some(&stored)).await;
        assert!(matches!(
            locked,
            Err(PasswordError::Locked(Locked::Until(_)))
        ));
        // Another key is not affected.
        assert!(
            passwords
                .verify("other", "right", Some(&stored))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_right_password_costs_no_attempt() {
        let passwords = Passwords::new(1);
        let stored = passwords.hash("right").await.unwrap();
        for _ in 0..20 {
            assert!(passwords.verify("k", "right", Some(&stored)).await.unwrap());
        }
    }

    #[tokio::test]
    async fn unknown_keys_count_like_known_ones() {
        let passwords = Passwords::new(1);
        for _ in 0..10 {
            assert!(!passwords.verify("ghost", "guess", None).await.unwrap());
        }
        assert!(passwords.verify("ghost", "guess", None).await.is_err());
    }
}
