//! The bounded, per-user fair queue in front of the [`HashingThreads`] that run Argon2.
//!
//! Each recovery-code check costs an Argon2 evaluation (19 MiB and tens of milliseconds by
//! default), so at most `permits` run at once, one on each thread. A user first waits for their [`Turn`] — one
//! check per user at a time, taken before the service reserves the attempt, so a guess that
//! only waits holds nothing — and then, with the attempt reserved, for a shared permit: a
//! user with many guesses in flight holds at most one permit, and everyone else's check
//! queues behind at most one of theirs. Users are spread over a fixed number of lanes by a
//! keyed hash, so the memory is bounded whatever the number of users, and nobody can choose
//! another user's lane.
//!
//! It does not decide what an attempt costs: the throttle reservations in the service do.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

use crate::threads::{HashingError, HashingThreads, JobHandle};

/// Lanes users are spread over. Two users share one with probability 1/1024 — then one's
/// checks wait for the other's too, a delay, never a refusal; sixteen checks in flight at
/// once collide about once in eight. About 80 KiB in all.
const LANES: usize = 1024;

/// Why a job could not be started.
#[derive(Debug, thiserror::Error)]
pub(super) enum StartError {
    /// The queue was closed (never happens while the service lives).
    #[error(transparent)]
    Closed(#[from] AcquireError),
    /// The hashing threads could not be started.
    #[error(transparent)]
    Threads(#[from] HashingError),
}

/// Permits for the hashing threads, taken one user at a time.
pub(super) struct HashingPool {
    permits: Arc<Semaphore>,
    lanes: Box<[Arc<Semaphore>]>,
    keys: RandomState,
    threads: HashingThreads,
}

impl HashingPool {
    /// A pool running at most `permits` jobs at once (at least 1), on as many threads.
    pub(super) fn new(permits: usize) -> Self {
        let permits = permits.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            lanes: (0..LANES).map(|_| Arc::new(Semaphore::new(1))).collect(),
            keys: RandomState::new(),
            threads: HashingThreads::new(permits),
        }
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "the index is taken modulo the number of lanes"
    )]
    fn lane(&self, user: &str) -> &Arc<Semaphore> {
        // Truncating the hash to usize keeps it uniform; the remainder is below LANES.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "any bits of the hash will do"
        )]
        let hash = self.keys.hash_one(user) as usize;
        &self.lanes[hash % self.lanes.len()]
    }

    /// Waits for `user`'s turn: until every earlier check of theirs (and of the few users
    /// sharing their lane) has ended.
    ///
    /// # Errors
    /// If the pool was closed (never while the service lives).
    pub(super) async fn turn(&self, user: &str) -> Result<Turn, AcquireError> {
        let lane = Arc::clone(self.lane(user)).acquire_owned().await?;
        Ok(Turn(Arc::new(lane)))
    }

    /// Waits for a free permit, then hands `job` to a hashing thread (a free one: there are
    /// as many as permits); the permit and the turn are held until the job ends. Once this
    /// returns, the job runs to its end whatever happens to the handle or the turn.
    ///
    /// # Errors
    /// If the pool was closed or its threads could not be started.
    pub(super) async fn start<T: Send + 'static>(
        &self,
        turn: &Turn,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<JobHandle<T>, StartError> {
        let permit = Arc::clone(&self.permits).acquire_owned().await?;
        let turn = turn.clone();
        Ok(self.threads.spawn(move || {
            let _held = (turn, permit);
            job()
        })?)
    }
}

/// One user's turn at the pool; it ends when the last clone is dropped (the request's and
/// those of the jobs it started).
#[derive(Clone, Debug)]
pub(super) struct Turn(
    #[expect(
        dead_code,
        reason = "held, never read: dropping the last clone ends the turn"
    )]
    Arc<OwnedSemaphorePermit>,
);

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// A job that runs until its sender sends or is dropped.
    fn held() -> (mpsc::Sender<()>, impl FnOnce() + Send + 'static) {
        let (release, wait) = mpsc::channel();
        (release, move || {
            let _ = wait.recv();
        })
    }

    /// The user's turn, then the job started: what the service does around a reservation.
    async fn start<T: Send + 'static>(
        pool: &HashingPool,
        user: &str,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<JobHandle<T>, StartError> {
        let turn = pool.turn(user).await?;
        pool.start(&turn, job).await
    }

    /// Lets every spawned task run up to its next wait (a current-thread runtime polls them
    /// all before the yielding task again).
    async fn settle() {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }

    // The timeouts only keep a regression from hanging the suite; nothing is timed.
    const HANG: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn one_users_flood_leaves_a_permit_for_another() {
        let pool = Arc::new(HashingPool::new(2));
        let (release_first, job) = held();
        let first = start(&pool, "mallory", job).await.unwrap();
        // Four more of Mallory's guesses, queued before Alice's check.
        let mut releases = Vec::new();
        for _ in 0..4 {
            let (release, job) = held();
            releases.push(release);
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { start(&pool, "mallory", job).await.map(drop) });
        }
        settle().await;
        // Alice's check starts and ends while Mallory's first job still runs: her guesses
        // wait on their own lane, not for the shared permits.
        let alice = async { start(&pool, "alice", || "checked").await.unwrap().await };
        let answer = tokio::time::timeout(HANG, alice).await;
        assert_eq!(
            answer.expect("alice waited behind mallory").unwrap(),
            "checked"
        );
        assert!(!first.is_answered(), "mallory's first job still runs");
        drop((release_first, releases));
        first.await.unwrap();
    }

    #[tokio::test]
    async fn a_users_jobs_run_one_at_a_time() {
        let pool = Arc::new(HashingPool::new(4));
        let (release, job) = held();
        let first = start(&pool, "alice", job).await.unwrap();
        // The task ends as soon as the job is started, not when it ends.
        let second = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { start(&pool, "alice", || "second").await }
        });
        settle().await;
        // With permits to spare, her second job still waits for the first.
        assert!(!second.is_finished(), "two jobs of one user ran at once");
        release.send(()).unwrap();
        let second = tokio::time::timeout(HANG, second).await.unwrap();
        assert_eq!(second.unwrap().unwrap().await.unwrap(), "second");
        first.await.unwrap();
    }

    #[tokio::test]
    async fn the_permit_count_bounds_jobs_across_users() {
        let pool = Arc::new(HashingPool::new(1));
        let (release, job) = held();
        let first = start(&pool, "alice", job).await.unwrap();
        let other = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { start(&pool, "bob", || ()).await }
        });
        settle().await;
        assert!(!other.is_finished(), "a second permit was handed out");
        release.send(()).unwrap();
        let other = tokio::time::timeout(HANG, other).await.unwrap();
        other.unwrap().unwrap().await.unwrap();
        first.await.unwrap();
    }
}
