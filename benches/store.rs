//! The login second step on a real database under concurrent clients, beside the floor: the
//! same database work issued bare through the same pool — one `SELECT` of the credential row
//! and one conditional single-row `UPDATE` — which any correct implementation must pay.
//!
//! `DATABASE_URL=postgres://… cargo bench -p twostep-benches --bench store` measures
//! PostgreSQL and SQLite; without `DATABASE_URL`, SQLite only. Both contenders write
//! through the store's write pool: on SQLite its one writer connection. Rounds alternate between the
//! two contenders so both see the same machine; the median of each is reported.
//!
//! Each client owns its users and its clock, and every login uses a newer TOTP step than
//! that user's last one, so every measured login succeeds (the success path is the one with
//! the inherent two round trips, plus the one that records the challenge as used). Logins go
//! through `Service::verify_login`: read the row, unseal the secret (XChaCha20-Poly1305),
//! verify the code, record the challenge once, settle step and counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use sqlx::any::AnyPoolOptions;
use twostep_enrollment::Account;
use twostep_enrollment::memory::{FixedPasswords, RecordingAudit, RecordingMailer, SettableClock};
use twostep_enrollment::{CredentialRecord, LoginChallenge, Service, Store};
use twostep_otp::{Secret, Totp, TotpParams};
use twostep_recovery::{HashParams, RecoveryCodeSet};
use twostep_store_sqlx::{AeadSealer, SealingKey, SqlStore};

const USERS_PER_CLIENT: usize = 16;
const ROUNDS: usize = 7;
const ROUND: Duration = Duration::from_secs(2);
const BASE_TIME: u64 = 1_800_000_000;

fn sealer() -> AeadSealer {
    AeadSealer::new(SealingKey::from_bytes("bench", [3; 32]))
}

/// Enrolls `user` with a fresh secret and ten recovery codes (the row a real login reads).
async fn enroll(store: &SqlStore, user: &str) -> Totp {
    let mut rng = rand::rng();
    let secret = Secret::generate(&mut rng);
    let hash = HashParams::new(8, 1, 1).unwrap(); // PHC strings as long as the default's
    let (_, recovery_codes) = RecoveryCodeSet::generate(&mut rng, 10, &hash, BASE_TIME).unwrap();
    let record = CredentialRecord {
        secret: sealer().seal_secret(user, &secret).unwrap(),
        params: TotpParams::default(),
        last_accepted_step: None,
        recovery_codes,
        enabled_at: BASE_TIME,
    };
    assert!(store.create_credential(user, 0, record, &[]).await.unwrap());
    Totp::new(&secret, TotpParams::default())
}

type BenchService = Service<SqlStore, RecordingMailer, FixedPasswords>;

/// A bench user's account.
fn account(user: &str) -> Account {
    Account {
        user_id: user.to_owned(),
        email: "bench@example.com".into(),
    }
}

/// One client of the twostep side: its service (and clock), its users and the challenges
/// of its next round.
struct LoginClient {
    service: BenchService,
    clock: Arc<SettableClock>,
    users: Vec<(String, Totp)>,
    challenges: Vec<LoginChallenge>,
    now: u64,
}

/// A contender's client. A round is what comes before the second step, untimed, then the
/// second step of each of its users, timed; every client's timed part runs only beside
/// the others' timed parts (see [`measure`]).
trait Client: Send + 'static {
    /// What comes before the second steps of the next round.
    fn prepare(&mut self) -> impl Future<Output = ()> + Send;
    /// Signs each user in once; says how many were signed in.
    fn logins(&mut self) -> impl Future<Output = u64> + Send;
}

impl LoginClient {
    async fn new(store: &SqlStore, client: usize) -> Self {
        let clock = Arc::new(SettableClock::at(BASE_TIME));
        let service = Service::builder(store.clone(), sealer())
            .mailer(RecordingMailer::default())
            .reauthenticate(FixedPasswords::default())
            .audit(RecordingAudit::default())
            .clock(Arc::clone(&clock))
            .issuer("bench")
            .build();
        let mut users = Vec::new();
        for i in 0..USERS_PER_CLIENT {
            let user = format!("login-{client}-{i}");
            let totp = enroll(store, &user).await;
            users.push((user, totp));
        }
        Self {
            service,
            clock,
            users,
            challenges: Vec::new(),
            now: BASE_TIME,
        }
    }
}

impl Client for LoginClient {
    /// The challenges, from `begin_login`, a step later than the last round's: the second
    /// step is what is compared.
    async fn prepare(&mut self) {
        self.now += 30;
        self.clock.set(self.now);
        self.challenges.clear();
        for (user, _) in &self.users {
            let begun = self.service.begin_login(&account(user)).await.unwrap();
            self.challenges.push(begun.into_challenge().unwrap());
        }
    }

    /// Signs every user in once, each at a newer step than before.
    async fn logins(&mut self) -> u64 {
        let step = TotpParams::default().step_at(self.now).unwrap();
        let mut signed_in = 0;
        let challenges = std::mem::take(&mut self.challenges);
        for ((user, totp), challenge) in self.users.iter().zip(challenges) {
            let code = totp.generate_at_step(step).to_string();
            // One code in a million equals the next step's: the verifier then rightly accepts
            // the newer step, and this user's next login would read as a replay. Skip it.
            if code == totp.generate_at_step(step + 1).to_string() {
                continue;
            }
            self.service
                .verify_login(&account(user), challenge, &code)
                .await
                .unwrap();
            signed_in += 1;
        }
        signed_in
    }
}

/// One client of the floor: the same two statements, bare.
struct BareClient {
    store: SqlStore,
    users: Vec<String>,
    step: i64,
}

impl BareClient {
    async fn new(store: &SqlStore, client: usize) -> Self {
        let mut users = Vec::new();
        for i in 0..USERS_PER_CLIENT {
            let user = format!("bare-{client}-{i}");
            enroll(store, &user).await;
            users.push(user);
        }
        Self {
            store: store.clone(),
            users,
            step: 0,
        }
    }
}

impl Client for BareClient {
    async fn prepare(&mut self) {
        self.step += 1;
    }

    async fn logins(&mut self) -> u64 {
        for user in &self.users {
            sqlx::query(
                "SELECT secret_key_id, secret_ciphertext, totp_params, last_accepted_step, \
                 recovery_codes, enabled_at, window_start, window_failures, \
                 consecutive_failures FROM twostep_accounts WHERE user_id = $1",
            )
            .bind(user)
            .fetch_one(self.store.pool())
            .await
            .unwrap();
            let done = sqlx::query(
                "UPDATE twostep_accounts SET last_accepted_step = $2 WHERE user_id = $1 \
                 AND (last_accepted_step IS NULL OR last_accepted_step < $2)",
            )
            .bind(user)
            .bind(self.step)
            .execute(self.store.write_pool())
            .await
            .unwrap();
            assert_eq!(done.rows_affected(), 1);
        }
        self.users.len() as u64
    }
}

/// Runs `clients` in rounds for one round's time; returns logins per second: each client's
/// logins over the time it spent on them, summed over the clients. The clients prepare
/// together and sign in together (two barriers a round), so that one client's untimed work
/// never runs beside another's timed logins.
async fn measure<C: Client>(clients: &mut [Option<C>]) -> f64 {
    let deadline = Instant::now() + ROUND;
    let barrier = Arc::new(Barrier::new(clients.len()));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = clients
        .iter_mut()
        .map(|slot| {
            let mut client = slot.take().unwrap();
            let (barrier, stop) = (Arc::clone(&barrier), Arc::clone(&stop));
            tokio::spawn(async move {
                let (mut done, mut busy) = (0, Duration::ZERO);
                loop {
                    client.prepare().await;
                    barrier.wait().await;
                    // Written by the last to reach the previous round's second barrier,
                    // before it reached this one: every client reads the same value.
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let start = Instant::now();
                    done += client.logins().await;
                    busy += start.elapsed();
                    if barrier.wait().await.is_leader() && Instant::now() >= deadline {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                (client, done as f64 / busy.as_secs_f64())
            })
        })
        .collect();
    let mut rate = 0.0;
    for (slot, handle) in clients.iter_mut().zip(handles) {
        let (client, client_rate) = handle.await.unwrap();
        *slot = Some(client);
        rate += client_rate;
    }
    rate
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn compare(name: &str, store: SqlStore, clients: usize) {
    let mut logins = Vec::new();
    let mut bare = Vec::new();
    for client in 0..clients {
        logins.push(Some(LoginClient::new(&store, client).await));
        bare.push(Some(BareClient::new(&store, client).await));
    }
    let (mut twostep, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        floor.push(measure(&mut bare).await);
        twostep.push(measure(&mut logins).await);
    }
    let (twostep, floor) = (median(twostep), median(floor));
    println!(
        "{name:<10} {clients:>2} clients   twostep verify_login {twostep:>8.0}/s   \
         bare SELECT+UPDATE {floor:>8.0}/s   ratio {:.2}x",
        twostep / floor
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    sqlx::any::install_default_drivers();
    println!("login second step, success path ({ROUNDS} alternating rounds of {ROUND:?}; medians)");
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let store = SqlStore::connect_with(&url, AnyPoolOptions::new().max_connections(8))
                .await
                .unwrap();
            store.migrate().await.unwrap();
            // A clean slate for the bench's users.
            sqlx::query(
                "DELETE FROM twostep_accounts WHERE user_id LIKE 'login-%' \
                 OR user_id LIKE 'bare-%'",
            )
            .execute(store.pool())
            .await
            .unwrap();
            compare("PostgreSQL", store, 8).await;
        }
        _ => println!("PostgreSQL: skipped (set DATABASE_URL=postgres://… to measure it)"),
    }
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    compare("SQLite", store, 4).await;
}
