//! The store conformance suite (feature `test-util`): every [`Store`] implementation runs it.
//!
//! ```no_run
//! use twostep_enrollment::memory::MemoryStore;
//!
//! // In a test: `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]`.
//! async fn my_store_conforms() {
//!     // Each call gives a fresh, empty store; a database store connects to a new database.
//!     twostep_enrollment::conformance::run(|| async { MemoryStore::default() }).await;
//! }
//! ```
//!
//! It checks the [`Store`] contract, one function per clause: each conditional write wins only
//! when its condition holds (the revision read, the step, the counters) and changes nothing
//! otherwise; every credential write moves the revision on and nothing else does; a state is
//! consumed once; and of 100 concurrent writes racing for one thing (one TOTP step, one
//! revision, one throttle value, one new credential, one state, one organisation policy)
//! exactly one wins. Then it drives every flow of the service over the store and completes
//! each pending state twice — a copy, a snapshot restored, 20 at once — expecting exactly one
//! success. Violations panic with a message, as assertions do.
// A test suite reports violations by panicking, like `assert!`.
#![allow(clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;

use twostep_otp::{Secret, TotpParams};
use twostep_policy::{GraceChange, Mandate, OrgPolicy};
use twostep_recovery::{HashParams, RecoveryCodeSet};

mod failing;
mod flows;
mod log;

use crate::app::{
    AcceptStep, ConsumedState, CredentialRecord, FORGET_CONSUMED_AFTER_SECONDS, SealedSecret,
    StateId, Store, StoredAccount, StoredOrgPolicy,
};
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

/// Runs the whole suite against stores from `make` (a fresh, empty store each time): first
/// each clause of the [`Store`] contract, then every flow of the [`Service`](crate::Service)
/// completed twice — cloned, sealed and opened again, and raced — over the store.
pub async fn run<S, F, Fut>(make: F)
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    credentials_are_created_once_at_the_revision_read(make().await).await;
    steps_only_move_forward(make().await).await;
    accepting_a_step_settles_the_counters(make().await).await;
    recovery_codes_are_replaced_only_at_the_revision_read(make().await).await;
    removal_is_conditional_on_the_revision(make().await).await;
    a_reset_clears_the_factor_and_its_guards_at_the_revision_read(make().await).await;
    the_security_revision_moves_with_the_factor_alone(make().await).await;
    counters_leave_the_revision_alone(make().await).await;
    a_forgotten_id_reused_completes_nothing_from_before(make().await).await;
    states_are_consumed_once(make().await).await;
    a_sign_in_records_its_challenge_with_its_write(make().await).await;
    accounts_are_read_together_in_order(make().await).await;
    any_id_reads(make().await).await;
    throttle_is_compare_and_set(make().await).await;
    org_policies_are_compare_and_set(make().await).await;
    org_policies_are_read_together_in_order(make().await).await;
    log::a_write_logs_its_events_exactly_when_it_wins(make().await).await;
    log::the_log_reads_newest_first_page_by_page(make().await).await;
    let store = Arc::new(make().await);
    races_have_exactly_one_winner(&[Arc::clone(&store), store]).await;
    flows::run(make).await;
}

async fn security<S: Store>(store: &S) -> u64 {
    store.account("u").await.expect("store").security_revision
}

async fn revision<S: Store>(store: &S, user: &str) -> u64 {
    store.account(user).await.expect("store").revision
}

async fn credentials_are_created_once_at_the_revision_read<S: Store>(store: S) {
    let record = sample_record(1);
    assert_eq!(
        store.account("u").await.expect("store"),
        StoredAccount::default(),
        "a fresh store has no credential, default counters and revision 0"
    );
    assert!(
        !store
            .create_credential("u", 1, record.clone(), &[])
            .await
            .expect("store"),
        "a create at a revision the account never had loses"
    );
    assert!(
        store
            .create_credential("u", 0, record.clone(), &[])
            .await
            .expect("store"),
        "the first create at the revision read wins"
    );
    assert_eq!(
        revision(&store, "u").await,
        1,
        "a create moves the revision on"
    );
    assert!(
        !store
            .create_credential("u", 1, sample_record(2), &[])
            .await
            .expect("store"),
        "a second create loses while a credential exists"
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
    assert_eq!(revision(&store, "other").await, 0);
}

async fn steps_only_move_forward<S: Store>(store: S) {
    assert!(!accept(&store, "u", 5).await, "no credential, no step");
    store
        .create_credential("u", 0, sample_record(1), &[])
        .await
        .expect("store");
    assert!(accept(&store, "u", 5).await, "the first step is accepted");
    assert_eq!(
        revision(&store, "u").await,
        2,
        "an accepted step moves the revision on"
    );
    assert!(
        !accept(&store, "u", 5).await,
        "the same step twice is refused"
    );
    assert!(!accept(&store, "u", 4).await, "an older step is refused");
    assert_eq!(revision(&store, "u").await, 2, "a refused step leaves it");
    assert!(accept(&store, "u", 6).await, "a newer step is accepted");
    let stored = store.credential("u").await.expect("store").expect("exists");
    assert_eq!(stored.last_accepted_step, Some(6));
}

/// Accepts `step` with the account as it is: the plain replay check.
async fn accept<S: Store>(store: &S, user: &str, step: u64) -> bool {
    let account = store.account(user).await.expect("store");
    store
        .accept_step(user, step_write(&account, step, account.throttle), &[])
        .await
        .expect("store")
}

/// The write that accepts `step` over `account` as read, from counters read as `expected`,
/// keeping its completed states.
fn step_write(account: &StoredAccount, step: u64, expected: Throttle) -> AcceptStep {
    AcceptStep {
        revision: account.revision,
        step,
        expected,
        new: expected.record_success(),
        completed: account.completed.clone(),
    }
}

async fn accepting_a_step_settles_the_counters<S: Store>(store: S) {
    let policy = ThrottlePolicy::default();
    let record = sample_record(1);
    store
        .create_credential("u", 0, record.clone(), &[])
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
            throttle: failed,
            revision: 1,
            completed: Vec::new(),
            security_revision: 1,
        },
        "the account reads credential, counters and revision together"
    );
    let read = store.account("u").await.expect("store");
    assert!(
        !store
            .accept_step("u", step_write(&read, 7, Throttle::default()), &[])
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
            .accept_step("u", step_write(&read, 7, failed), &[])
            .await
            .expect("store")
    );
    let account = store.account("u").await.expect("store");
    assert_eq!(
        (
            account
                .credential
                .as_ref()
                .and_then(|c| c.last_accepted_step),
            account.throttle
        ),
        (Some(7), failed.record_success()),
        "an accepted step settles both"
    );
    assert!(
        !store
            .accept_step("u", step_write(&account, 7, account.throttle), &[])
            .await
            .expect("store"),
        "a replayed step leaves the counters alone"
    );
    assert!(
        !store
            .accept_step("u", step_write(&read, 8, failed.record_success()), &[])
            .await
            .expect("store"),
        "a revision that moved since it was read refuses a newer step too"
    );
    assert_eq!(
        store.throttle("u").await.expect("store"),
        failed.record_success()
    );
}

async fn recovery_codes_are_replaced_only_at_the_revision_read<S: Store>(store: S) {
    assert!(
        !store
            .replace_recovery_codes("u", 0, sample_record(1).recovery_codes, None, &[])
            .await
            .expect("store"),
        "no credential, no replacement"
    );
    let (record, codes) = sample_record_with_codes(7);
    store
        .create_credential("u", 0, record.clone(), &[])
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
            .replace_recovery_codes("u", 1, used.clone(), None, &[])
            .await
            .expect("store"),
        "a replacement at the revision read wins"
    );
    assert_eq!(revision(&store, "u").await, 2, "and moves the revision on");
    let twice = record
        .recovery_codes
        .redeem(first, 9)
        .expect("a valid code")
        .set;
    assert!(
        !store
            .replace_recovery_codes("u", 1, twice, None, &[])
            .await
            .expect("store"),
        "codes read before a code was used must not replace the codes after"
    );
    assert_eq!(
        store
            .credential("u")
            .await
            .expect("store")
            .map(|c| c.recovery_codes),
        Some(used),
        "the replacement stays"
    );
}

async fn removal_is_conditional_on_the_revision<S: Store>(store: S) {
    assert!(
        !store.remove_credential("u", 0, &[]).await.expect("store"),
        "nothing to remove"
    );
    let record = sample_record(1);
    store
        .create_credential("u", 0, record.clone(), &[])
        .await
        .expect("store");
    accept(&store, "u", 9).await;
    assert!(
        !store.remove_credential("u", 1, &[]).await.expect("store"),
        "a credential changed since the revision read is not removed"
    );
    assert!(store.remove_credential("u", 2, &[]).await.expect("store"));
    let account = store.account("u").await.expect("store");
    assert!(
        account.credential.is_none(),
        "secret, codes and replay state are gone"
    );
    assert_eq!(account.revision, 3, "the revision never goes back");
    assert!(!accept(&store, "u", 10).await);
    assert!(
        !store.remove_credential("u", 3, &[]).await.expect("store"),
        "removed once"
    );
    assert!(
        !store
            .create_credential("u", 0, record.clone(), &[])
            .await
            .expect("store"),
        "a create from before the removal loses"
    );
    assert!(
        store
            .create_credential("u", 3, record, &[])
            .await
            .expect("store"),
        "enabling again starts from the revision the removal left"
    );
}

async fn a_reset_clears_the_factor_and_its_guards_at_the_revision_read<S: Store>(store: S) {
    let policy = ThrottlePolicy::default();
    assert!(
        !store.reset_credential("u", 0, &[]).await.expect("store"),
        "nothing to reset"
    );
    store
        .create_credential("u", 0, sample_record(1), &[])
        .await
        .expect("store");
    let read = store.account("u").await.expect("store");
    let mut write = step_write(&read, 9, read.throttle);
    write.completed.push(ConsumedState {
        id: StateId::from_bytes([4; 16]),
        expires_at: u64::MAX,
    });
    assert!(store.accept_step("u", write, &[]).await.expect("store"));
    // A hard lock: more consecutive failures than any window allows.
    let mut locked = Throttle::default();
    for at in 0..policy.hard_lock_after {
        locked = locked.record_failure(&policy, u64::from(at) * 3_600);
    }
    assert!(
        locked.check(&policy, u64::MAX / 2).is_err(),
        "locked for good"
    );
    assert!(
        store
            .compare_and_set_throttle("u", Throttle::default(), locked)
            .await
            .expect("store")
    );
    let counters_only = Throttle::default().record_failure(&policy, 10);
    store
        .compare_and_set_throttle("other", Throttle::default(), counters_only)
        .await
        .expect("store");
    assert!(
        !store.reset_credential("u", 1, &[]).await.expect("store"),
        "a reset read before the sign-in loses to it"
    );
    assert!(
        !store
            .reset_credential("other", 0, &[])
            .await
            .expect("store"),
        "counters alone are no credential to reset"
    );
    assert!(store.reset_credential("u", 2, &[]).await.expect("store"));
    let account = store.account("u").await.expect("store");
    assert_eq!(
        account,
        StoredAccount {
            revision: 3,
            security_revision: 2,
            ..StoredAccount::default()
        },
        "credential, counters (the lock with them) and completed states are gone at once; \
         both revisions move on"
    );
    assert!(
        !store.reset_credential("u", 3, &[]).await.expect("store"),
        "reset once"
    );
    assert!(
        !store
            .create_credential("u", 2, sample_record(2), &[])
            .await
            .expect("store"),
        "a wizard begun before the reset does not complete after it"
    );
    assert!(
        store
            .create_credential("u", 3, sample_record(2), &[])
            .await
            .expect("store"),
        "enrolling again starts from the revision the reset left"
    );
}

/// Sessions follow credentials: every change to the factor itself moves the security
/// revision on — so an application's other sessions of the user end — and nothing a
/// sign-in, a failed attempt or a lost race writes does.
async fn the_security_revision_moves_with_the_factor_alone<S: Store>(store: S) {
    let policy = ThrottlePolicy::default();
    let (record, _) = sample_record_with_codes(1);
    let mut expected = 0;
    assert_eq!(security(&store).await, expected, "a fresh account");
    let changes: [(&str, bool); 9] = [
        ("enable", true),
        ("sign in", false),
        ("sign in with a recovery code", false),
        ("fail", false),
        ("lose a race", false),
        ("re-issue", true),
        ("disable", true),
        ("enable again and reset", true),
        ("forget", true),
    ];
    for (change, moves) in changes {
        let read = store.account("u").await.expect("store");
        let done = match change {
            "enable" => {
                store
                    .create_credential("u", read.revision, record.clone(), &[])
                    .await
            }
            "sign in" => {
                store
                    .accept_step("u", step_write(&read, 5, read.throttle), &[])
                    .await
            }
            "sign in with a recovery code" => {
                let codes = record.recovery_codes.clone();
                let completed = Some(read.completed.clone());
                store
                    .replace_recovery_codes("u", read.revision, codes, completed, &[])
                    .await
            }
            "fail" => {
                let failed = read.throttle.record_failure(&policy, 10);
                store
                    .compare_and_set_throttle("u", read.throttle, failed)
                    .await
            }
            "lose a race" => store
                .remove_credential("u", read.revision - 1, &[])
                .await
                .map(|won| !won),
            "re-issue" => {
                let codes = record.recovery_codes.clone();
                store
                    .replace_recovery_codes("u", read.revision, codes, None, &[])
                    .await
            }
            "disable" => store.remove_credential("u", read.revision, &[]).await,
            "enable again and reset" => {
                let created = store
                    .create_credential("u", read.revision, record.clone(), &[])
                    .await;
                assert!(created.expect("store"), "enabled again");
                expected += 1;
                store.reset_credential("u", read.revision + 1, &[]).await
            }
            _ => store.forget_user("u").await.map(|_| true),
        };
        assert!(done.expect("store"), "{change}");
        if moves {
            expected += 1;
        }
        assert_eq!(
            security(&store).await,
            expected,
            "{change}: the security revision {}",
            if moves { "moves on once" } else { "stays" }
        );
    }
}

async fn counters_leave_the_revision_alone<S: Store>(store: S) {
    let policy = ThrottlePolicy::default();
    store
        .create_credential("u", 0, sample_record(1), &[])
        .await
        .expect("store");
    let failed = Throttle::default().record_failure(&policy, 10);
    assert!(
        store
            .compare_and_set_throttle("u", Throttle::default(), failed)
            .await
            .expect("store")
    );
    assert_eq!(
        revision(&store, "u").await,
        1,
        "a failed attempt does not make the user's pending flows stale"
    );
}

/// An account deleted and its id registered again (emails as ids): a pending state from the
/// old account — which carries the revision it read — must not complete for the new one,
/// whatever the old account had stored: nothing, counters only (after an operator's
/// unlock, counters at zero), or a credential.
async fn a_forgotten_id_reused_completes_nothing_from_before<S: Store>(store: S) {
    let policy = ThrottlePolicy::default();
    let failed = Throttle::default().record_failure(&policy, 10);
    store
        .compare_and_set_throttle("counted", Throttle::default(), failed)
        .await
        .expect("store");
    store
        .compare_and_set_throttle("unlocked", Throttle::default(), failed)
        .await
        .expect("store");
    store
        .compare_and_set_throttle("unlocked", failed, Throttle::default())
        .await
        .expect("store");
    store
        .create_credential("enabled", 0, sample_record(1), &[])
        .await
        .expect("store");
    for (user, had) in [
        ("never-seen", false),
        ("counted", true),
        ("unlocked", false),
        ("enabled", true),
    ] {
        let before = revision(&store, user).await;
        assert_eq!(store.forget_user(user).await.expect("store"), had, "{user}");
        let account = store.account(user).await.expect("store");
        assert!(
            account.credential.is_none(),
            "{user}: the credential is gone"
        );
        assert_eq!(
            account.throttle,
            Throttle::default(),
            "{user}: counters too"
        );
        assert!(account.revision > before, "{user}: the revision moved on");
        assert!(
            !store
                .create_credential(user, before, sample_record(2), &[])
                .await
                .expect("store"),
            "{user}: a wizard from before the account was forgotten does not complete"
        );
        assert!(
            store
                .create_credential(user, account.revision, sample_record(2), &[])
                .await
                .expect("store"),
            "{user}: the new account enrolls from the revision the forgetting left"
        );
    }
}

async fn states_are_consumed_once<S: Store>(store: S) {
    let state = |byte, expires_at| ConsumedState {
        id: StateId::from_bytes([byte; 16]),
        expires_at,
    };
    let consume =
        |user, byte, expires_at, now| store.consume_state(user, state(byte, expires_at), now);
    let id = |byte| StateId::from_bytes([byte; 16]);
    assert!(!store.is_consumed("u", id(7), 10).await.expect("store"));
    assert!(
        consume("u", 7, 100, 10).await.expect("store"),
        "the first completion is recorded"
    );
    assert!(
        store.is_consumed("u", id(7), 20).await.expect("store"),
        "and reads as recorded"
    );
    assert!(!store.is_consumed("v", id(7), 20).await.expect("store"));
    assert!(
        !consume("u", 7, 100, 20).await.expect("store"),
        "a second completion of the same state is refused"
    );
    assert!(
        consume("u", 8, 100, 20).await.expect("store"),
        "states are independent"
    );
    assert!(
        consume("v", 7, 100, 20).await.expect("store"),
        "users are independent"
    );
    assert!(
        !consume("u", 7, 200, 99).await.expect("store"),
        "still refused until it expires"
    );
    let late = 100 + FORGET_CONSUMED_AFTER_SECONDS - 1;
    assert!(
        !consume("u", 7, 100, late).await.expect("store"),
        "and for an hour after: clocks differ between servers"
    );
    assert_eq!(
        store.account("u").await.expect("store"),
        StoredAccount::default(),
        "consuming a state changes nothing else"
    );
}

/// A sign-in writes its challenge into the account's completed states with its step or its
/// recovery codes, in one conditional write: a copy of the challenge reads it there.
async fn a_sign_in_records_its_challenge_with_its_write<S: Store>(store: S) {
    let (record, codes) = sample_record_with_codes(1);
    store
        .create_credential("u", 0, record.clone(), &[])
        .await
        .expect("store");
    let challenge = |byte| ConsumedState {
        id: StateId::from_bytes([byte; 16]),
        expires_at: 1_000,
    };
    let read = store.account("u").await.expect("store");
    let mut write = step_write(&read, 5, read.throttle);
    write.completed = vec![challenge(1)];
    assert!(
        store
            .accept_step("u", write.clone(), &[])
            .await
            .expect("store")
    );
    let account = store.account("u").await.expect("store");
    assert_eq!(
        account.completed,
        vec![challenge(1)],
        "the challenge is read back with the account"
    );
    assert_eq!(account.revision, 2);
    write.step = 6;
    write.completed = vec![challenge(1), challenge(2)];
    assert!(
        !store.accept_step("u", write, &[]).await.expect("store"),
        "a write over a revision that moved records nothing"
    );
    assert_eq!(
        store.account("u").await.expect("store").completed,
        vec![challenge(1)]
    );

    let used = record
        .recovery_codes
        .redeem(codes.first().expect("codes"), 2)
        .expect("a valid code")
        .set;
    let completed = vec![challenge(1), challenge(3)];
    assert!(
        store
            .replace_recovery_codes("u", 2, used, Some(completed.clone()), &[])
            .await
            .expect("store")
    );
    let account = store.account("u").await.expect("store");
    assert_eq!(account.completed, completed, "with the recovery codes too");
    let reissued = sample_record(3).recovery_codes;
    assert!(
        store
            .replace_recovery_codes("u", 3, reissued, None, &[])
            .await
            .expect("store")
    );
    assert_eq!(
        store.account("u").await.expect("store").completed,
        completed,
        "a re-issue leaves them"
    );
}

async fn accounts_are_read_together_in_order<S: Store>(store: S) {
    store
        .create_credential("b", 0, sample_record(1), &[])
        .await
        .expect("store");
    let users = ["b", "a", "missing", "b"];
    let together = store.accounts(&users).await.expect("store");
    let mut one_by_one = Vec::new();
    for user in users {
        one_by_one.push(store.account(user).await.expect("store"));
    }
    assert_eq!(
        together, one_by_one,
        "in the order asked, missing users as default"
    );
    assert!(
        store.accounts(&[]).await.expect("store").is_empty(),
        "no users, no accounts"
    );
    // More ids than PostgreSQL binds to one statement: an organisation's worth.
    let many: Vec<String> = (0..70_000).map(|n| format!("member-{n}")).collect();
    let mut asked: Vec<&str> = many.iter().map(String::as_str).collect();
    asked.push("b");
    let answered = store.accounts(&asked).await.expect("store");
    assert_eq!(answered.len(), asked.len(), "whatever their number");
    assert!(answered.last().is_some_and(|b| b.credential.is_some()));
}

/// User ids are the application's: any string reads — as nothing stored, where the store
/// cannot hold it (PostgreSQL's text holds no NUL) — and one odd member never fails a batch.
async fn any_id_reads<S: Store>(store: S) {
    store
        .create_credential("b", 0, sample_record(1), &[])
        .await
        .expect("store");
    let odd = ["nul\0inside", "line\nbreak", "\u{202e}override", ""];
    for user in odd {
        assert_eq!(
            store.account(user).await.expect("any id reads"),
            StoredAccount::default(),
            "{user:?}"
        );
        assert_eq!(
            store.throttle(user).await.expect("any id reads"),
            Throttle::default()
        );
    }
    let mut users = vec!["b"];
    users.extend(odd);
    let accounts = store
        .accounts(&users)
        .await
        .expect("one odd id fails no batch");
    assert_eq!(accounts.len(), users.len());
    assert!(accounts.first().is_some_and(|b| b.credential.is_some()));
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
    let none = StoredOrgPolicy::default();
    assert_eq!(store.org_policy("acme").await.expect("store"), none);
    assert!(
        store
            .compare_and_set_org_policy("acme", 0, first.clone(), &[])
            .await
            .expect("store")
    );
    assert!(
        !store
            .compare_and_set_org_policy("acme", 0, second.clone(), &[])
            .await
            .expect("store"),
        "stale: one exists"
    );
    assert!(
        store
            .compare_and_set_org_policy("acme", 1, second.clone(), &[])
            .await
            .expect("store")
    );
    assert!(
        !store
            .compare_and_set_org_policy("acme", 1, first.clone(), &[])
            .await
            .expect("store"),
        "stale: the revision moved on"
    );
    let stored = store.org_policy("acme").await.expect("store");
    assert_eq!(
        stored,
        StoredOrgPolicy {
            policy: Some(second.clone()),
            revision: 2
        }
    );
    assert!(
        store
            .compare_and_set_org_policy("acme", 2, second.clone(), &[])
            .await
            .expect("store"),
        "writing the same policy again is a write: the revision moves on"
    );
    assert_eq!(store.org_policy("other").await.expect("store"), none);
}

/// A sign-in reads the policies of all the user's organisations at once.
async fn org_policies_are_read_together_in_order<S: Store>(store: S) {
    let policy = OrgPolicy::new("b");
    store
        .compare_and_set_org_policy("b", 0, policy.clone(), &[])
        .await
        .expect("store");
    let orgs = ["b", "a", "nul\0inside", "b"];
    let together = store.org_policies(&orgs).await.expect("store");
    let mut one_by_one = Vec::new();
    for org in orgs {
        one_by_one.push(store.org_policy(org).await.expect("store"));
    }
    assert_eq!(together, one_by_one, "the same as one by one, in order");
    assert_eq!(together.len(), 4);
    assert_eq!(
        together.first().and_then(|stored| stored.policy.clone()),
        Some(policy)
    );
}

/// The races of [`run`] again, the contenders split between two handles on one database — two
/// connection pools, two clients, as two servers have. `handles` gives two handles on a
/// fresh, empty database each time it is called.
///
/// ```no_run
/// use std::sync::Arc;
/// use twostep_enrollment::memory::MemoryStore;
///
/// # async fn doc() {
/// // A database store connects twice to one new database; the memory store shares itself.
/// twostep_enrollment::conformance::races_between_handles(|| async {
///     let store = Arc::new(MemoryStore::default());
///     (Arc::clone(&store), store)
/// })
/// .await;
/// # }
/// ```
pub async fn races_between_handles<S, F, Fut>(handles: F)
where
    S: Store + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = (S, S)>,
{
    let (first, second) = handles().await;
    races_have_exactly_one_winner(&[Arc::new(first), Arc::new(second)]).await;
}

/// Of [`CONTENDERS`] concurrent writes racing for one thing, across `handles` in turn, one
/// wins.
async fn races_have_exactly_one_winner<S: Store + 'static>(handles: &[Arc<S>]) {
    let store = handles.first().expect("a handle");
    let record = sample_record(1);
    let winners = race(handles, |store, _| {
        let record = record.clone();
        async move { store.create_credential("u", 0, record, &[]).await }
    })
    .await;
    assert_eq!(winners, 1, "one of {CONTENDERS} concurrent creates wins");

    let read = store.account("u").await.expect("store");
    let winners = race(handles, |store, _| {
        let write = step_write(&read, 42, read.throttle);
        async move { store.accept_step("u", write, &[]).await }
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
    let read = store.account("u").await.expect("store");
    let winners = race(handles, |store, i| {
        let write = step_write(&read, 100 + i as u64, failed);
        async move { store.accept_step("u", write, &[]).await }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent acceptances from one reading of the account wins"
    );

    let sets: Vec<RecoveryCodeSet> = (0..4)
        .map(|i| sample_record(10 + i).recovery_codes)
        .collect();
    let sets = Arc::new(sets);
    let read = store.account("u").await.expect("store").revision;
    let winners = race(handles, |store, i| {
        let sets = Arc::clone(&sets);
        async move {
            let new = sets.get(i % sets.len()).cloned().expect("non-empty");
            store
                .replace_recovery_codes("u", read, new, None, &[])
                .await
        }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent replacements at one revision wins"
    );

    let winners = race(handles, move |store, i| async move {
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

    let winners = race(handles, |store, _| async move {
        let state = ConsumedState {
            id: StateId::from_bytes([1; 16]),
            expires_at: u64::MAX,
        };
        store.consume_state("u", state, 1).await
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent completions of one state wins"
    );

    let read = store.account("u").await.expect("store");
    let winners = race(handles, |store, i| {
        // One challenge, each copy with its own newer step: one reading of the account.
        let mut write = step_write(&read, 1_000 + i as u64, read.throttle);
        write.completed.push(ConsumedState {
            id: StateId::from_bytes([2; 16]),
            expires_at: u64::MAX,
        });
        async move { store.accept_step("u", write, &[]).await }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent sign-ins with one challenge records it"
    );

    let read = store.account("u").await.expect("store").revision;
    let winners = race(handles, |store, _| async move {
        store.remove_credential("u", read, &[]).await
    })
    .await;
    assert_eq!(winners, 1, "one of {CONTENDERS} concurrent removals wins");

    let removed = store.account("u").await.expect("store").revision;
    store
        .create_credential("u", removed, record.clone(), &[])
        .await
        .expect("store");
    let read = store.account("u").await.expect("store");
    let winners = race(handles, |store, i| {
        // Half reset, half sign in, all from one reading of the account.
        let write = step_write(&read, 2_000 + i as u64, read.throttle);
        let revision = read.revision;
        async move {
            if i % 2 == 0 {
                store.reset_credential("u", revision, &[]).await
            } else {
                store.accept_step("u", write, &[]).await
            }
        }
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent resets and sign-ins wins"
    );

    let winners = race(handles, |store, i| async move {
        let mut policy = OrgPolicy::new("race");
        policy.mandate = Some(Mandate {
            since: i as u64,
            set_by: format!("admin{i}"),
            grace: Vec::new(),
        });
        store
            .compare_and_set_org_policy("race", 0, policy, &[])
            .await
    })
    .await;
    assert_eq!(
        winners, 1,
        "one of {CONTENDERS} concurrent first policies wins"
    );
}

/// Runs `CONTENDERS` tasks at once; returns how many returned `Ok(true)`.
pub(crate) async fn race<S, F, Fut>(handles: &[Arc<S>], contender: F) -> usize
where
    S: Store + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: Future<Output = Result<bool, S::Error>> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(CONTENDERS));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, handle) in (0..CONTENDERS).zip(handles.iter().cycle()) {
        let attempt = contender(Arc::clone(handle), i);
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
pub(crate) struct SeedRng(pub(crate) u64);

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
