//! The store conformance suite (feature `test-util`): every [`Store`] implementation runs it.
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn my_store_conforms() {
//!     twostep_enrollment::conformance::run(MyStore::connect_fresh).await;
//! }
//! ```
//!
//! It checks the [`Store`] contract: each conditional write wins only when its condition
//! holds and changes nothing otherwise, and of 100 concurrent writes racing for one thing
//! (one TOTP step, one recovery-code set, one throttle value, one new credential, one
//! removal, one organisation policy) exactly one wins. Violations panic with a message, as assertions do.
// A test suite reports violations by panicking, like `assert!`.
#![allow(clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;

use twostep_otp::{Secret, TotpParams};
use twostep_policy::{GraceChange, Mandate, OrgPolicy};
use twostep_recovery::{HashParams, RecoveryCodeSet};

use crate::app::{CredentialRecord, SealedSecret, Store, StoredAccount};
use crate::throttle::{Throttle, ThrottlePolicy};

/// Concurrent contenders in each race.
pub const CONTENDERS: usize = 100;

/// A credential to store, with fresh recovery codes (hashed at minimal cost).
pub fn sample_record(now: u64) -> CredentialRecord {
    sample_record_with_codes(now).0
}

/// [`sample_record`] and the plaintext of its recovery codes.
pub fn sample_record_with_codes(now: u64) -> (CredentialRecord, Vec<String>) {
    let mut rng = SeedRng(now);
    let params = HashParams::new(8, 1, 1).expect("minimal Argon2 costs are valid");
    let (issued, recovery_codes) =
        RecoveryCodeSet::generate(&mut rng, 3, &params, now).expect("generates");
    let codes = issued.codes().iter().map(ToString::to_string).collect();
    let secret = Secret::generate(&mut rng);
    let record = CredentialRecord {
        secret: SealedSecret {
            key_id: "test".into(),
            ciphertext: secret.expose_bytes().to_vec(),
        },
        params: TotpParams::default(),
        last_accepted_step: None,
        recovery_codes,
        enabled_at: now,
    };
    (record, codes)
}

/// Runs the whole suite against stores from `make` (a fresh, empty store each time).
pub async fn run<S, F, Fut>(make: F)
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    credentials_are_created_once(make().await).await;
    steps_only_move_forward(make().await).await;
    accepting_a_step_settles_the_counters(make().await).await;
    recovery_codes_are_replaced_only_from_what_was_read(make().await).await;
    removal_is_conditional(make().await).await;
    throttle_is_compare_and_set(make().await).await;
    org_policies_are_compare_and_set(make().await).await;
    races_have_exactly_one_winner(Arc::new(make().await)).await;
}

async fn credentials_are_created_once<S: Store>(store: S) {
    let record = sample_record(1);
    assert!(
        store.credential("u").await.expect("store").is_none(),
        "a fresh store is empty"
    );
    assert!(
        store
            .create_credential("u", record.clone())
            .await
            .expect("store"),
        "first create wins"
    );
    assert!(
        !store
            .create_credential("u", sample_record(2))
            .await
            .expect("store"),
        "second create loses"
    );
    assert_eq!(
        store.credential("u").await.expect("store"),
        Some(record),
        "the first record stays"
    );
    assert!(
        store.credential("other").await.expect("store").is_none(),
        "users are independent"
    );
}

async fn steps_only_move_forward<S: Store>(store: S) {
    assert!(!accept(&store, "u", 5).await, "no credential, no step");
    store
        .create_credential("u", sample_record(1))
        .await
        .expect("store");
    assert!(accept(&store, "u", 5).await, "the first step is accepted");
    assert!(
        !accept(&store, "u", 5).await,
        "the same step twice is refused"
    );
    assert!(!accept(&store, "u", 4).await, "an older step is refused");
    assert!(accept(&store, "u", 6).await, "a newer step is accepted");
    let stored = store.credential("u").await.expect("store").expect("exists");
    assert_eq!(stored.last_accepted_step, Some(6));
}

/// Accepts `step` with the counters as they are: the plain replay check.
async fn accept<S: Store>(store: &S, user: &str, step: u64) -> bool {
    let throttle = store.throttle(user).await.expect("store");
    store
        .accept_step(user, step, throttle, throttle.record_success())
        .await
        .expect("store")
}

async fn accepting_a_step_settles_the_counters<S: Store>(store: S) {
    let policy = ThrottlePolicy::default();
    let record = sample_record(1);
    store
        .create_credential("u", record.clone())
        .await
        .expect("store");
    let failed = Throttle::default().record_failure(&policy, 50);
    assert!(
        store
            .compare_and_set_throttle("u", Throttle::default(), failed)
            .await
            .expect("store")
    );
    assert_eq!(
        store.account("u").await.expect("store"),
        StoredAccount {
            credential: Some(record),
            throttle: failed
        },
        "the account reads credential and counters together"
    );
    assert!(
        !store
            .accept_step("u", 7, Throttle::default(), Throttle::default())
            .await
            .expect("store"),
        "counters that changed since they were read refuse the step"
    );
    let account = store.account("u").await.expect("store");
    assert_eq!(
        (
            account.credential.and_then(|c| c.last_accepted_step),
            account.throttle
        ),
        (None, failed),
        "a refused step changes neither the step nor the counters"
    );
    assert!(
        store
            .accept_step("u", 7, failed, failed.record_success())
            .await
            .expect("store")
    );
    let account = store.account("u").await.expect("store");
    assert_eq!(
        (
            account.credential.and_then(|c| c.last_accepted_step),
            account.throttle
        ),
        (Some(7), failed.record_success()),
        "an accepted step settles both"
    );
    assert!(
        !store
            .accept_step("u", 7, failed.record_success(), Throttle::default())
            .await
            .expect("store"),
        "a replayed step leaves the counters alone"
    );
    assert_eq!(
        store.throttle("u").await.expect("store"),
        failed.record_success()
    );
}

async fn recovery_codes_are_replaced_only_from_what_was_read<S: Store>(store: S) {
    // Sets that differ in one code's state only are different sets: a store comparing less
    // (say, creation time and size) would let one recovery code succeed twice.
    let (record, codes) = sample_record_with_codes(7);
    store
        .create_credential("v", record.clone())
        .await
        .expect("store");
    let first = codes.first().expect("three codes");
    let used = record
        .recovery_codes
        .redeem(first, 8)
        .expect("a valid code")
        .set;
    assert!(
        store
            .replace_recovery_codes("v", &record.recovery_codes, used.clone())
            .await
            .expect("store")
    );
    let twice = record
        .recovery_codes
        .redeem(first, 9)
        .expect("a valid code")
        .set;
    assert!(
        !store
            .replace_recovery_codes("v", &record.recovery_codes, twice)
            .await
            .expect("store"),
        "a set read before a code was used must not replace the set after"
    );
    assert!(
        !store.remove_credential("v", &record).await.expect("store"),
        "removal compares the codes' state too"
    );

    let record = sample_record(1);
    store
        .create_credential("u", record.clone())
        .await
        .expect("store");
    let newer = sample_record(2).recovery_codes;
    let stale = sample_record(3).recovery_codes;
    assert!(
        !store
            .replace_recovery_codes("u", &stale, newer.clone())
            .await
            .expect("store"),
        "a stale expectation loses"
    );
    assert!(
        store
            .replace_recovery_codes("u", &record.recovery_codes, newer.clone())
            .await
            .expect("store")
    );
    assert!(
        !store
            .replace_recovery_codes("u", &record.recovery_codes, stale)
            .await
            .expect("store"),
        "the old set is gone"
    );
    let stored = store.credential("u").await.expect("store").expect("exists");
    assert_eq!(stored.recovery_codes, newer);
}

async fn removal_is_conditional<S: Store>(store: S) {
    let record = sample_record(1);
    store
        .create_credential("u", record.clone())
        .await
        .expect("store");
    accept(&store, "u", 9).await;
    assert!(
        !store.remove_credential("u", &record).await.expect("store"),
        "a changed record is not removed"
    );
    let current = store.credential("u").await.expect("store").expect("exists");
    assert!(store.remove_credential("u", &current).await.expect("store"));
    assert!(
        store.credential("u").await.expect("store").is_none(),
        "secret, codes and replay state are gone"
    );
    assert!(!accept(&store, "u", 10).await);
}

async fn throttle_is_compare_and_set<S: Store>(store: S) {
    let policy = ThrottlePolicy::default();
    assert_eq!(
        store.throttle("u").await.expect("store"),
        Throttle::default()
    );
    let failed = Throttle::default().record_failure(&policy, 100);
    assert!(
        store
            .compare_and_set_throttle("u", Throttle::default(), failed)
            .await
            .expect("store")
    );
    assert!(
        !store
            .compare_and_set_throttle("u", Throttle::default(), failed)
            .await
            .expect("store"),
        "stale"
    );
    assert_eq!(store.throttle("u").await.expect("store"), failed);
    assert_eq!(
        store.throttle("other").await.expect("store"),
        Throttle::default()
    );
}

async fn org_policies_are_compare_and_set<S: Store>(store: S) {
    let first = OrgPolicy::new("acme");
    let mut second = OrgPolicy::new("acme");
    second.mandate = Some(Mandate {
        since: 5,
        set_by: "ada".into(),
        grace: vec![GraceChange {
            from: 5,
            seconds: 60,
        }],
    });
    assert_eq!(store.org_policy("acme").await.expect("store"), None);
    assert!(
        store
            .compare_and_set_org_policy("acme", None, first.clone())
            .await
            .expect("store")
    );
    assert!(
        !store
            .compare_and_set_org_policy("acme", None, second.clone())
            .await
            .expect("store"),
        "stale: one exists"
    );
    assert!(
        store
            .compare_and_set_org_policy("acme", Some(&first), second.clone())
            .await
            .expect("store")
    );
    assert!(
        !store
            .compare_and_set_org_policy("acme", Some(&first), first.clone())
            .await
            .expect("store"),
        "stale"
    );
    assert_eq!(store.org_policy("acme").await.expect("store"), Some(second));
    assert_eq!(store.org_policy("other").await.expect("store"), None);
}

async fn races_have_exactly_one_winner<S: Store + 'static>(store: Arc<S>) {
    let record = sample_record(1);
    let winners = race(&store, |store, _| {
        let record = record.clone();
        async move { store.create_credential("u", record).await }
    })
    .await;
    assert_eq!(winners, 1, "one of {CONTENDERS} concurrent creates wins");

    let winners = race(&store, |store, _| async move {
        store
            .accept_step("u", 42, Throttle::default(), Throttle::default())
            .await
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent acceptances of one step wins"
    );

    // Different steps, one reading of the counters: the counters decide.
    let policy = ThrottlePolicy::default();
    let failed = Throttle::default().record_failure(&policy, 60);
    assert!(
        store
            .compare_and_set_throttle("u", Throttle::default(), failed)
            .await
            .expect("store")
    );
    let winners = race(&store, move |store, i| async move {
        store
            .accept_step("u", 100 + i as u64, failed, failed.record_success())
            .await
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent acceptances from one reading of the counters wins"
    );

    let sets: Vec<RecoveryCodeSet> = (0..4)
        .map(|i| sample_record(10 + i).recovery_codes)
        .collect();
    let sets = Arc::new(sets);
    let expected = Arc::new(record.recovery_codes.clone());
    let winners = race(&store, |store, i| {
        let (sets, expected) = (Arc::clone(&sets), Arc::clone(&expected));
        async move {
            let new = sets.get(i % sets.len()).cloned().expect("non-empty");
            store.replace_recovery_codes("u", &expected, new).await
        }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent replacements from one set wins"
    );

    let winners = race(&store, move |store, i| async move {
        let failed = Throttle::default().record_failure(&policy, 1_000 + i as u64);
        store
            .compare_and_set_throttle("t", Throttle::default(), failed)
            .await
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent throttle updates from one value wins"
    );

    let current = store.credential("u").await.expect("store").expect("exists");
    let current = Arc::new(current);
    let winners = race(&store, |store, _| {
        let current = Arc::clone(&current);
        async move { store.remove_credential("u", &current).await }
    })
    .await;
    assert_eq!(winners, 1, "one of {CONTENDERS} concurrent removals wins");

    let winners = race(&store, |store, i| async move {
        let mut policy = OrgPolicy::new("race");
        policy.mandate = Some(Mandate {
            since: i as u64,
            set_by: format!("admin{i}"),
            grace: Vec::new(),
        });
        store.compare_and_set_org_policy("race", None, policy).await
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent first policies wins"
    );
}

/// Runs `CONTENDERS` tasks at once; returns how many returned `Ok(true)`.
async fn race<S, F, Fut>(store: &Arc<S>, contender: F) -> usize
where
    S: Store + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: Future<Output = Result<bool, S::Error>> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(CONTENDERS));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CONTENDERS {
        let attempt = contender(Arc::clone(store), i);
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            attempt.await
        });
    }
    let mut winners = 0;
    while let Some(result) = tasks.join_next().await {
        if result.expect("task ran").expect("store") {
            winners += 1;
        }
    }
    winners
}

/// A deterministic RNG for fixtures (never for real secrets).
struct SeedRng(u64);

impl rand_core::TryRng for SeedRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::try_from(self.try_next_u64()? >> 32).unwrap_or(0))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(bytes.get(..chunk.len()).unwrap_or_default());
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for SeedRng {}
