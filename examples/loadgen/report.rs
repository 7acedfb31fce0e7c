//! What a run records and prints: every request's kind, start, latency and outcome; the
//! per-kind tables (count, percentiles, errors by kind); the progress bar; the checks that
//! fail the run and the targets that are only reported.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// The kinds of request, as the tables name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    /// `POST /login`: email and password (lowest-cost Argon2 hashes).
    Password,
    /// `GET /login/second-step`: the form and its anti-CSRF token (and the message of a
    /// refusal).
    Page,
    /// `POST /login/second-step` with a TOTP code.
    SecondStep,
    /// The same TOTP code sent twice at once on two sessions of one user.
    SameCodeTwice,
    /// `POST /login/second-step` with a right recovery code.
    Recovery,
    /// `POST /login/second-step` with a well-formed wrong recovery code (the flood).
    WrongGuess,
    /// `POST /load-floor`: one `SELECT` and one conditional `UPDATE`.
    Floor,
    /// `GET /org/security`: an organisation's mandate preview.
    OrgPreview,
    /// `GET /org`: the members' status page.
    OrgMembers,
    /// `POST /login` of an organisation member without 2FA (signed in at once).
    MemberLogin,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Password => "sign-in (password)",
            Self::Page => "second-step page",
            Self::SecondStep => "second step (TOTP)",
            Self::SameCodeTwice => "same code twice",
            Self::Recovery => "recovery-code sign-in",
            Self::WrongGuess => "wrong recovery code",
            Self::Floor => "floor",
            Self::OrgPreview => "mandate preview",
            Self::OrgMembers => "members' status",
            Self::MemberLogin => "member's login",
        }
    }
}

/// The outcome label of a request that went as it should.
pub(crate) const OK: &str = "ok";

/// One request.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub(crate) kind: Kind,
    /// When it started, after the recorder's start.
    pub(crate) at: Duration,
    pub(crate) latency: Duration,
    /// [`OK`], or what went wrong.
    pub(crate) label: String,
}

impl Sample {
    pub(crate) fn ok(&self) -> bool {
        self.label == OK
    }

    pub(crate) fn end(&self) -> Duration {
        self.at + self.latency
    }
}

/// Every request of a phase.
#[derive(Debug)]
pub(crate) struct Recorder {
    start: Instant,
    samples: Mutex<Vec<Sample>>,
    total: AtomicU64,
    errors: AtomicU64,
}

impl Recorder {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            samples: Mutex::default(),
            total: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    }

    /// Time since the recorder's start.
    pub(crate) fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Records a request that started at `started` and just ended.
    pub(crate) fn record(&self, kind: Kind, started: Instant, label: impl Into<String>) {
        self.record_latency(kind, started, started.elapsed(), label);
    }

    /// Records a request that started at `started` and took `latency`.
    pub(crate) fn record_latency(
        &self,
        kind: Kind,
        started: Instant,
        latency: Duration,
        label: impl Into<String>,
    ) {
        let sample = Sample {
            kind,
            at: started.saturating_duration_since(self.start),
            latency,
            label: label.into(),
        };
        self.total.fetch_add(1, Ordering::Relaxed);
        if !sample.ok() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.lock().push(sample);
    }

    /// Requests recorded so far.
    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sample>> {
        self.samples.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Latency percentiles and outcomes of one kind.
#[derive(Debug, Default)]
pub(crate) struct KindSummary {
    pub(crate) count: usize,
    pub(crate) ok: usize,
    /// Sorted latencies.
    latencies: Vec<Duration>,
    pub(crate) errors: BTreeMap<String, usize>,
}

impl KindSummary {
    /// The `p`-th percentile (0 < p ≤ 100), nearest rank.
    pub(crate) fn percentile(&self, p: u32) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = (n * usize::try_from(p).unwrap_or(100)).div_ceil(100);
        self.latencies
            .get(rank.saturating_sub(1).min(n - 1))
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

/// Per-kind summaries of the samples `keep` selects.
pub(crate) fn summarize(
    samples: &[Sample],
    keep: impl Fn(&Sample) -> bool,
) -> BTreeMap<Kind, KindSummary> {
    let mut kinds: BTreeMap<Kind, KindSummary> = BTreeMap::new();
    for sample in samples.iter().filter(|sample| keep(sample)) {
        let summary = kinds.entry(sample.kind).or_default();
        summary.count += 1;
        summary.latencies.push(sample.latency);
        if sample.ok() {
            summary.ok += 1;
        } else {
            *summary.errors.entry(sample.label.clone()).or_default() += 1;
        }
    }
    for summary in kinds.values_mut() {
        summary.latencies.sort_unstable();
    }
    kinds
}

/// Milliseconds with one decimal (or none above 100).
pub(crate) fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

/// MiB from KiB.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib_f64(kib) / 1024.0)
}

fn kib_f64(kib: u64) -> f64 {
    f64::from(u32::try_from(kib).unwrap_or(u32::MAX))
}

/// Count as f64 (exact below 2^53, and counts here are far below).
pub(crate) fn count_f64(count: usize) -> f64 {
    f64::from(u32::try_from(count).unwrap_or(u32::MAX))
}

/// The per-kind table, indented by `indent`.
pub(crate) fn print_table(indent: &str, kinds: &BTreeMap<Kind, KindSummary>) {
    println!(
        "{indent}{:<22} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8}  errors by kind",
        "request", "n", "ok", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for (kind, summary) in kinds {
        let errors = if summary.errors.is_empty() {
            "-".to_owned()
        } else {
            summary
                .errors
                .iter()
                .map(|(label, n)| format!("{n}× {label}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        println!(
            "{indent}{:<22} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8}  {errors}",
            kind.name(),
            summary.count,
            summary.ok,
            ms(summary.percentile(50)),
            ms(summary.percentile(95)),
            ms(summary.percentile(99)),
            ms(summary.max()),
        );
    }
}

/// The checks that fail the run, and the targets that are only reported.
#[derive(Debug, Default)]
pub(crate) struct Verdicts {
    pub(crate) failed: Vec<String>,
}

impl Verdicts {
    /// A correctness check: printed, and remembered when it fails.
    pub(crate) fn check(&mut self, what: &str, passed: bool, detail: &str) {
        if passed {
            println!("  check  ok      {what}{}", suffix(detail));
        } else {
            println!("  check  FAILED  {what}{}", suffix(detail));
            self.failed.push(format!("{what}{}", suffix(detail)));
        }
    }

    /// A performance target: printed as met or missed, never failing the run.
    pub(crate) fn target(&self, what: &str, met: bool, detail: &str) {
        let verdict = if met { "met   " } else { "MISSED" };
        println!("  target {verdict}  {what}{}", suffix(detail));
    }
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// A progress bar for a phase of known length, fed by a recorder; hidden when stderr is not
/// a terminal.
pub(crate) struct Progress {
    bar: ProgressBar,
    done: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub(crate) fn start(label: &str, length: Duration, recorder: &Arc<Recorder>) -> Self {
        let total = u64::try_from(length.as_millis()).unwrap_or(u64::MAX).max(1);
        let bar = ProgressBar::new(total).with_prefix(label.to_owned());
        if let Ok(style) =
            ProgressStyle::with_template("{prefix:>34} [{bar:30}] {elapsed:>4} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        let done = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (bar, done, recorder) = (bar.clone(), Arc::clone(&done), Arc::clone(recorder));
            let start = Instant::now();
            async move {
                while !done.load(Ordering::Relaxed) {
                    let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                    bar.set_position(elapsed.min(total));
                    bar.set_message(format!(
                        "{} requests, {} not ok",
                        recorder.total(),
                        recorder.errors()
                    ));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
        Self { bar, done, task }
    }

    pub(crate) async fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.bar.finish_and_clear();
    }
}
