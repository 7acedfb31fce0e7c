//! How much a flood of recovery-code guesses delays everything else on the runtime.
//!
//! `cargo bench -p twostep-benches --bench argon2_isolation` runs, on a 2-worker tokio
//! runtime, 16 concurrent wrong recovery codes (each one Argon2id evaluation at the default
//! costs, 19 MiB) while an unrelated task ticks every millisecond, and reports how late the
//! ticks came. Side by side, in one run:
//!
//! - **inline**: the codes checked in the async tasks themselves, as the first edition of the
//!   service did — the two workers are busy hashing and every other task waits;
//! - **service**: the same guesses through `Service::verify_login`, which hashes on its own
//!   threads below the process's priority, at most half as many at once as the machine has
//!   cores.
//!
//! Figures are wall-clock lateness of a 1 ms sleep, so they include the timer's own
//! granularity; the bench prints the median of rounds of each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use twostep_enrollment::Account;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryStore, PlaintextSealer, RecordingAudit, RecordingMailer, SettableClock,
};
use twostep_enrollment::{Clock, Policies, Saved, Service, Store as _};
use twostep_recovery::{HashParams, RecoveryCodeSet};

const GUESSES: usize = 16;
const ROUNDS: usize = 5;
const NOW: u64 = 1_800_000_000;

type Bench = Service<MemoryStore, Arc<RecordingMailer>, FixedPasswords>;

/// The ticker's worst lateness so far.
static WORST: std::sync::Mutex<Duration> = std::sync::Mutex::new(Duration::ZERO);

fn worst_seen(cell: &std::sync::Mutex<Duration>) -> Duration {
    std::mem::take(&mut *cell.lock().unwrap())
}

/// A ticker that records its worst lateness in `WORST` as it goes.
async fn tick_forever() {
    loop {
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let late = start.elapsed().saturating_sub(Duration::from_millis(1));
        let mut worst = WORST.lock().unwrap();
        *worst = (*worst).max(late);
    }
}

/// The worst lateness of a 1 ms tick while `load` runs to its end.
async fn lateness_during(load: impl Future<Output = ()> + Send + 'static) -> Duration {
    worst_seen(&WORST);
    let ticker = tokio::spawn(tick_forever());
    // Let the ticker settle into its rhythm first.
    tokio::time::sleep(Duration::from_millis(20)).await;
    worst_seen(&WORST);
    tokio::spawn(load).await.unwrap();
    ticker.abort();
    let _ = ticker.await;
    worst_seen(&WORST)
}

fn account() -> Account {
    Account {
        user_id: "alice".into(),
        email: "alice@example.com".into(),
    }
}

/// A service with alice enabled (default Argon2 costs), whose budget allows every guess.
async fn enabled_service() -> (Arc<Bench>, RecoveryCodeSet) {
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(SettableClock::at(NOW));
    let mut policies = Policies::new("bench");
    policies.throttle.max_failures = 10_000;
    policies.throttle.hard_lock_after = 10_000;
    let service = Service::builder(MemoryStore::default(), PlaintextSealer)
        .mailer(Arc::clone(&mailer))
        .reauthenticate(FixedPasswords::default())
        .audit(RecordingAudit::default())
        .clock(Arc::clone(&clock))
        .policies(policies)
        .build();
    let sent = service.start_enable(&account()).await.unwrap();
    let code = mailer.last_email_code("alice@example.com").unwrap();
    let setup = service
        .verify_email(&account(), sent, code.expose())
        .await
        .unwrap();
    let totp = service
        .setup_view(&setup)
        .unwrap()
        .key_uri
        .to_totp()
        .unwrap();
    let first = totp.generate(clock.now()).unwrap().to_string();
    let save = service
        .confirm_authenticator(&account(), setup, &first)
        .await
        .unwrap();
    service
        .complete_enable(&account(), save, Saved::Yes)
        .await
        .unwrap();
    let set = service
        .store()
        .credential("alice")
        .await
        .unwrap()
        .unwrap()
        .recovery_codes;
    (Arc::new(service), set)
}

/// Well-formed codes of another set: each costs a full Argon2 evaluation and matches nothing.
fn wrong_codes() -> Vec<String> {
    let params = HashParams::new(8, 1, 1).unwrap();
    let (issued, _) = RecoveryCodeSet::generate(&mut rand::rng(), GUESSES, &params, NOW).unwrap();
    issued.codes().iter().map(ToString::to_string).collect()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (service, set) = enabled_service().await;
        let codes = Arc::new(wrong_codes());
        let (mut inline, mut pooled) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let (set, codes_inline) = (Arc::new(set.clone()), Arc::clone(&codes));
            inline.push(
                lateness_during(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    for i in 0..GUESSES {
                        let (set, codes) = (Arc::clone(&set), Arc::clone(&codes_inline));
                        // Argon2 right in the async task.
                        tasks.spawn(async move { set.redeem(&codes[i], NOW).is_ok() });
                    }
                    while tasks.join_next().await.is_some() {}
                })
                .await,
            );
            let (service, codes) = (Arc::clone(&service), Arc::clone(&codes));
            pooled.push(
                lateness_during(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    for i in 0..GUESSES {
                        let (service, codes) = (Arc::clone(&service), Arc::clone(&codes));
                        tasks.spawn(async move {
                            let challenge = service
                                .begin_login(&account())
                                .await
                                .unwrap()
                                .into_challenge()
                                .unwrap();
                            service
                                .verify_login(&account(), challenge, &codes[i])
                                .await
                                .is_ok()
                        });
                    }
                    while tasks.join_next().await.is_some() {}
                })
                .await,
            );
        }
        println!(
            "{GUESSES} concurrent wrong recovery codes (Argon2id, default costs), 2 workers:"
        );
        println!(
            "  worst lateness of a 1 ms tick, median of {ROUNDS} rounds: inline {:.1} ms, service (hashing threads) {:.1} ms",
            median(inline).as_secs_f64() * 1e3,
            median(pooled).as_secs_f64() * 1e3,
        );
    });
}
