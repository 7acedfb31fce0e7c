//! [`HashingThreads`]: a few threads of their own for Argon2 work.
//!
//! An Argon2 evaluation takes tens of milliseconds and holds its memory cost (19 MiB by
//! default) while it runs, so it belongs neither on an async runtime's workers (it would
//! stall every other request) nor on tokio's blocking pool: that pool runs each job on
//! whichever of its (up to 512) threads is free, the allocator keeps freed blocks in the
//! arena of the thread that used them, and a burst of guesses leaves the process holding
//! hundreds of megabytes long after it ended. Here a fixed number of threads take the jobs
//! in turn, each keeps one block for all its evaluations
//! ([`twostep_recovery::keep_memory_on_this_thread`]), and each runs below the process's
//! other threads (about `nice 10` on Linux), so that under a flood of guesses the operating
//! system serves cheap requests — second steps with a TOTP code — first.
//!
//! It does not decide who waits: the service's per-user lanes and shared permits do, before
//! a job is handed over.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// The priority of the hashing threads, on `thread-priority`'s scale of 0 to 99 (49 is the
/// default): 23 maps to `nice 9` on Linux, a tenth of a default thread's share of a busy core.
const PRIORITY: u8 = 23;

/// Why a job did not run to an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashingError {
    /// The operating system refused a hashing thread.
    #[error("a hashing thread could not be started")]
    Spawn(#[source] std::io::Error),
    /// The job ended without an answer (it panicked).
    #[error("the hashing job ended without an answer")]
    Lost,
}

/// A fixed number of threads that run Argon2 jobs one at a time each, keep their Argon2
/// memory between jobs and run at a lower priority. The threads start with the first job
/// and end when the last clone is dropped. Cheap to clone (shared).
///
/// ```
/// use twostep_enrollment::HashingThreads;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), twostep_enrollment::HashingError> {
/// let threads = HashingThreads::new(2);
/// let running = threads.spawn(|| 6 * 7)?; // runs to its end even if `running` is dropped
/// assert_eq!(running.await?, 42);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HashingThreads {
    inner: Arc<Inner>,
}

struct Inner {
    /// The jobs' queue, once the threads are started; they end when it is dropped.
    jobs: Mutex<Option<Sender<Job>>>,
    threads: usize,
}

impl core::fmt::Debug for HashingThreads {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HashingThreads")
            .field("threads", &self.inner.threads)
            .finish_non_exhaustive()
    }
}

impl HashingThreads {
    /// `threads` threads (at least one), started with the first job.
    pub fn new(threads: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                jobs: Mutex::new(None),
                threads: threads.max(1),
            }),
        }
    }

    /// How many threads run jobs, so how many jobs run at once.
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// Queues `job` for the next free thread. From here it runs to its end, whatever happens
    /// to the handle: a caller that gives up waiting does not take back the work.
    ///
    /// # Errors
    /// [`HashingError::Spawn`] if the threads were not running yet and could not be started.
    pub fn spawn<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<JobHandle<T>, HashingError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(job());
        });
        let mut jobs = self
            .inner
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let queue = match &mut *jobs {
            Some(queue) => queue,
            none => none.insert(self.start()?),
        };
        // The threads outlive every sender (they catch panics), so this cannot fail; if it
        // did, the dropped job reads as `Lost`.
        let _ = queue.send(job);
        Ok(JobHandle(answered))
    }

    /// Starts the threads; they end when the returned sender is dropped.
    fn start(&self) -> Result<Sender<Job>, HashingError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..self.inner.threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name("twostep-hashing".to_owned())
                .spawn(move || work(&queue))
                .map_err(HashingError::Spawn)?;
        }
        Ok(jobs)
    }
}

/// A hashing thread: lowers its priority, keeps its Argon2 memory, and takes jobs until the
/// queue is dropped. A job that panics loses its answer, not the thread.
fn work(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    twostep_recovery::keep_memory_on_this_thread();
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

/// Runs this thread below the process's others. A refusal leaves it as it was: hashing is
/// then only less polite, never wrong.
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    if let Ok(value) = ThreadPriorityValue::try_from(PRIORITY) {
        let _ = set_current_thread_priority(ThreadPriority::Crossplatform(value));
    }
}

/// A job handed to [`HashingThreads`]: await it for the answer. Dropping it does not stop
/// the job.
#[derive(Debug)]
pub struct JobHandle<T>(tokio::sync::oneshot::Receiver<T>);

impl<T> JobHandle<T> {
    /// Whether the job has answered.
    #[cfg(test)]
    pub(crate) fn is_answered(&self) -> bool {
        !self.0.is_empty()
    }
}

impl<T> Future for JobHandle<T> {
    type Output = Result<T, HashingError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.map_err(|_| HashingError::Lost))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_its_threads_run_at_once() {
        let threads = HashingThreads::new(2);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (running, most) = (Arc::clone(&running), Arc::clone(&most));
                threads
                    .spawn(move || {
                        most.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, SeqCst);
                    })
                    .unwrap()
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        assert_eq!(most.load(SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panicking_job_loses_its_answer_not_the_thread() {
        let threads = HashingThreads::new(1);
        let lost = threads.spawn(|| panic!("a bug in a job")).unwrap().await;
        assert!(matches!(lost, Err::<(), _>(HashingError::Lost)));
        assert_eq!(
            threads.spawn(|| "still here").unwrap().await.unwrap(),
            "still here"
        );
    }

    #[tokio::test]
    async fn a_dropped_handle_does_not_stop_the_job() {
        let threads = HashingThreads::new(1);
        let (done, finished) = std::sync::mpsc::channel();
        drop(threads.spawn(move || done.send(()).unwrap()).unwrap());
        finished.recv_timeout(Duration::from_secs(30)).unwrap();
    }

    /// This thread's nice value, as Linux reports it (field 19 of its `stat`).
    #[cfg(target_os = "linux")]
    fn nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let (_, fields) = stat.rsplit_once(')').unwrap();
        fields.split_whitespace().nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_threads_run_below_the_others() {
        let threads = HashingThreads::new(1);
        let theirs = threads.spawn(nice).unwrap().await.unwrap();
        assert!(
            theirs > nice(),
            "hashing at nice {theirs}, others at {}",
            nice()
        );
    }
}
