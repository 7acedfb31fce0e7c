//! The store on real databases: the conformance suite, logins through the service, what a
//! dump of the tables holds, failed writes, key rotation and corrupt rows. Each test runs on
//! SQLite, and on PostgreSQL when `DATABASE_URL` is set (required under `CI=true`).

mod common;

use std::sync::Arc;

use common::{Db, PASSWORD, account, enroll, sealer, service};
use twostep_enrollment::memory::{FixedPasswords, RecordingMailer, SettableClock};
use twostep_enrollment::{
    AcceptStep, AuditEvent, AuditKind, ConsumedState, EventQuery, LoginStep, Saved, Service,
    ServiceError, StateId, Store, StoredAccount, Throttle, ThrottlePolicy,
};
use twostep_otp::{Rejection, Totp};
use twostep_recovery::RedeemError;
use twostep_store_sqlx::{AeadSealer, SealingKey, SqlStore, StoreError};

const NOW: u64 = 1_800_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let next = std::sync::atomic::AtomicU32::new(0);
    twostep_enrollment::conformance::run(|| {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.path().join(format!("{n}.db"));
        async move {
            let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            store.migrate().await.unwrap();
            store
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_on_postgres() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    twostep_enrollment::conformance::run(|| {
        let url = url.clone();
        async move { common::postgres_in_schema(&url, &common::unique_name("conformance")).await }
    })
    .await;
}

/// Two handles on one database — two pools, as two servers have — racing for each thing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_between_two_handles_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    twostep_enrollment::conformance::races_between_handles(|| async {
        let first = SqlStore::connect(&url).await.unwrap();
        first.migrate().await.unwrap();
        (first, SqlStore::connect(&url).await.unwrap())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_between_two_handles_on_postgres() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let schema = common::unique_name("two_handles");
    twostep_enrollment::conformance::races_between_handles(|| async {
        let first = common::postgres_in_schema(&url, &schema).await;
        (first, common::postgres_in_schema(&url, &schema).await)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_through_the_service() {
    for db in Db::all().await {
        let name = db.name();
        let enrolled = enroll(db.store(), "alice", NOW).await;
        let (service, _, _) = service(db.store().clone(), NOW + 60);
        let challenge = || async {
            match service.begin_login(&account("alice")).await.unwrap() {
                LoginStep::SecondStep(challenge) => challenge,
                other => panic!("{name}: expected the second step, got {other:?}"),
            }
        };
        let totp = Totp::new(&enrolled.secret, enrolled.record.params);
        let code = totp.generate(NOW + 60).unwrap().to_string();
        let signed_in = service
            .verify_login(&account("alice"), challenge().await, &code)
            .await
            .unwrap();
        assert_eq!(signed_in.recovery_codes, None, "{name}");
        let replay = service
            .verify_login(&account("alice"), challenge().await, &code)
            .await
            .unwrap_err();
        assert!(
            matches!(replay.error, ServiceError::Code(Rejection::Replayed)),
            "{name}: {:?}",
            replay.error
        );

        let recovery = &enrolled.codes[3];
        let signed_in = service
            .verify_login(&account("alice"), challenge().await, recovery)
            .await
            .unwrap();
        let left = signed_in
            .recovery_codes
            .map(|left| (left.remaining, left.low));
        assert_eq!(left, Some((9, false)), "{name}");
        let again = service
            .verify_login(&account("alice"), challenge().await, recovery)
            .await
            .unwrap_err();
        assert!(
            matches!(
                again.error,
                ServiceError::RecoveryCode(RedeemError::NoMatch)
            ),
            "{name}: {:?}",
            again.error
        );
        let account = db.store().account("alice").await.unwrap();
        let stored = account.credential.unwrap();
        assert_eq!(stored.recovery_codes.remaining(), 9, "{name}");
        assert_eq!(
            stored.last_accepted_step,
            Some((NOW + 60) / 30),
            "{name}: the accepted step is stored"
        );
        assert_eq!(
            account.throttle.consecutive_failures, 1,
            "{name}: the reused code counted (the recovery login before it restarted the count)"
        );
    }
}

/// Every spelling of a secret or code that could leak into a dump.
fn spellings(enrolled: &common::Enrolled) -> Vec<(String, Vec<u8>)> {
    let mut needles = Vec::new();
    let bytes = enrolled.secret.expose_bytes().to_vec();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let base32 = enrolled.secret.to_base32().to_string();
    needles.push(("secret bytes".to_owned(), bytes));
    needles.push(("secret hex".to_owned(), hex.into_bytes()));
    needles.push(("secret base32".to_owned(), base32.clone().into_bytes()));
    needles.push((
        "secret base32, lowercase".to_owned(),
        base32.to_lowercase().into_bytes(),
    ));
    for code in &enrolled.codes {
        let compact = code.replace('-', "");
        for spelling in [code.clone(), compact.clone(), compact.to_lowercase()] {
            needles.push((format!("recovery code {code}"), spelling.into_bytes()));
        }
    }
    needles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_secret_or_recovery_code_in_the_database() {
    for db in Db::all().await {
        let mut all = Vec::new();
        for user in ["alice", "bob", "carol"] {
            all.push(enroll(db.store(), user, NOW).await);
        }
        // Use one recovery code, so a rewritten set is in the files too.
        let (service, _, _) = service(db.store().clone(), NOW + 5);
        let LoginStep::SecondStep(challenge) = service.begin_login(&account("bob")).await.unwrap()
        else {
            panic!("bob has 2FA")
        };
        service
            .verify_login(&account("bob"), challenge, &all[1].codes[0])
            .await
            .unwrap();

        let dump = db.dump().await;
        let contains = |needle: &[u8]| dump.windows(needle.len()).any(|w| w == needle);
        // The scan reads real content: what is stored in the clear is found.
        assert!(contains(b"carol"), "{}: the dump holds the rows", db.name());
        assert!(contains(b"$argon2id$"), "{}: and the hashes", db.name());
        for enrolled in &all {
            for (what, needle) in spellings(enrolled) {
                assert!(
                    !contains(&needle),
                    "{}: {what} is in the database",
                    db.name()
                );
            }
        }
    }
}

/// The security log as text, every column an event could leak through (its id and time
/// apart, whose digits a code could match by chance).
#[allow(clippy::unwrap_used)] // a failed read is a failed test
async fn logged_text(store: &SqlStore) -> String {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT user_id || ' ' || kind || ' ' || COALESCE(actor, '') || ' ' || \
             COALESCE(org, '') || ' ' || COALESCE(ip, '') || ' ' || COALESCE(user_agent, '') \
         FROM twostep_security_events",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_log_holds_no_secret_or_code() {
    for db in Db::all().await {
        let name = db.name();
        let alice = enroll(db.store(), "alice", NOW).await;
        let bob = enroll(db.store(), "bob", NOW).await;
        let clock = Arc::new(SettableClock::at(NOW + 60));
        let service = Service::builder(db.store().clone(), sealer())
            .mailer(RecordingMailer::default())
            .reauthenticate(FixedPasswords::default().with("alice", PASSWORD))
            .clock(Arc::clone(&clock))
            .build();
        let me = account("alice");
        let totp = Totp::new(&alice.secret, alice.record.params);
        let mut typed = Vec::new();
        // Every kind of input the log sees: right and wrong, codes and recovery codes.
        for input in [
            "000000".to_owned(),
            bob.codes[0].clone(),
            totp.generate(NOW + 60).unwrap().to_string(),
            alice.codes[0].clone(),
        ] {
            let LoginStep::SecondStep(challenge) = service.begin_login(&me).await.unwrap() else {
                panic!("{name}: alice has 2FA")
            };
            let _ = service.verify_login(&me, challenge, &input).await;
            typed.push(input);
        }
        let save = service.start_reissue(&me, PASSWORD).await.unwrap();
        let new: Vec<String> = save
            .codes()
            .codes()
            .iter()
            .map(ToString::to_string)
            .collect();
        service
            .complete_reissue(&me, save, Saved::Yes)
            .await
            .unwrap();
        clock.advance(60);
        let confirm = service.start_disable(&me, PASSWORD).await.unwrap();
        service
            .confirm_disable(&me, confirm, &new[0])
            .await
            .unwrap();

        if name == "SQLite" {
            // The column an event passes through on its way to the log keeps nothing.
            let left: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM twostep_accounts WHERE logged_event IS NOT NULL",
            )
            .fetch_one(db.store().pool())
            .await
            .unwrap();
            assert_eq!(left, 0, "{name}: events left in the account rows");
        }
        let log = logged_text(db.store()).await;
        // The scan reads real content: every kind of event is there.
        for kind in [
            "second_step_failed",
            "login_with_code",
            "login_with_recovery_code",
            "recovery_codes_reissued",
            "disabled",
        ] {
            assert!(log.contains(kind), "{name}: {kind} is logged: {log}");
        }
        let mut needles = spellings(&alice);
        needles.extend(spellings(&bob));
        for code in typed.iter().chain(&new) {
            needles.push((format!("the input {code}"), code.clone().into_bytes()));
            let compact = code.replace('-', "");
            needles.push((format!("the input {code}, compact"), compact.into_bytes()));
        }
        for (what, needle) in needles {
            let needle = String::from_utf8_lossy(&needle).into_owned();
            assert!(!log.contains(&needle), "{name}: {what} is in the log");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_older_than_the_retention_are_deleted_as_new_ones_arrive() {
    for db in Db::all().await {
        let name = db.name();
        let store = db
            .store()
            .clone()
            .retain_events_for(std::time::Duration::from_secs(100));
        let event = |at| AuditEvent::new("alice", AuditKind::Locked, at);
        store
            .record_events(&[event(NOW), event(NOW + 50)])
            .await
            .unwrap();
        let kept = |store: SqlStore| async move {
            let page = store.events(&EventQuery::user("alice", 10)).await.unwrap();
            page.iter()
                .map(|logged| logged.event.at)
                .collect::<Vec<_>>()
        };
        assert_eq!(kept(store.clone()).await, [NOW + 50, NOW], "{name}");
        // A year on the default retention, 100 seconds here: the first is gone.
        store.record_events(&[event(NOW + 120)]).await.unwrap();
        assert_eq!(kept(store.clone()).await, [NOW + 120, NOW + 50], "{name}");
    }
}

/// Installs a trigger that fails any update of `user`'s row after the row was written, so
/// the statement fails midway and the database must roll it back.
#[allow(clippy::unwrap_used)] // a failed setup is a failed test
async fn fail_updates_of(db: &Db, user: &str) {
    let statements: Vec<String> = match db {
        Db::Sqlite { .. } => vec![format!(
            "CREATE TRIGGER twostep_fail AFTER UPDATE ON twostep_accounts \
             WHEN NEW.user_id = '{user}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )],
        Db::Postgres { .. } => vec![
            "CREATE FUNCTION twostep_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER twostep_fail AFTER UPDATE ON twostep_accounts FOR EACH ROW \
                 WHEN (NEW.user_id = '{user}') EXECUTE FUNCTION twostep_fail()"
            ),
        ],
    };
    for statement in statements {
        sqlx::query(&statement)
            .execute(db.store().pool())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_midway_leaves_the_previous_state() {
    let policy = ThrottlePolicy::default();
    for db in Db::all().await {
        let name = db.name();
        let store = db.store();
        let enrolled = enroll(store, "doomed", NOW).await;
        let failed = Throttle::default().record_failure(&policy, NOW);
        assert!(
            store
                .compare_and_set_throttle("doomed", Throttle::default(), failed)
                .await
                .unwrap()
        );
        let before = store.account("doomed").await.unwrap();
        fail_updates_of(&db, "doomed").await;

        let revision = before.revision;
        let other_set = common::enroll(store, "donor", NOW)
            .await
            .record
            .recovery_codes;
        // Each of these writes' conditions holds, so each reaches the row and the trigger.
        let writes = [
            store.accept_step("doomed", step(&before, 5), &[]).await,
            store
                .replace_recovery_codes("doomed", revision, other_set, None, &[])
                .await,
            store.remove_credential("doomed", revision, &[]).await,
            store
                .compare_and_set_throttle("doomed", failed, Throttle::default())
                .await,
        ];
        for (i, result) in writes.into_iter().enumerate() {
            assert!(
                matches!(result, Err(StoreError::Database(_))),
                "{name}: write {i} did not fail: {result:?}"
            );
        }
        assert!(
            !store
                .create_credential("doomed", revision, enrolled.record.clone(), &[])
                .await
                .unwrap(),
            "{name}: a second credential is refused by its condition, before any write"
        );
        assert_eq!(
            store.account("doomed").await.unwrap(),
            before,
            "{name}: nothing changed"
        );
        assert!(
            store.account("donor").await.unwrap().credential.is_some(),
            "{name}: other rows still write"
        );
    }
}

/// The write that accepts `step` over `account` as read.
fn step(account: &StoredAccount, step: u64) -> AcceptStep {
    AcceptStep {
        revision: account.revision,
        step,
        expected: account.throttle,
        new: account.throttle.record_success(),
        completed: account.completed.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_inside_a_write_leaves_the_previous_state() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let store = db.store();
    enroll(store, "alice", NOW).await;
    let before = store.account("alice").await.unwrap();

    // Hold the row so the store's UPDATE waits inside the database, then kill its connection.
    let mut holder = store.pool().begin().await.unwrap();
    sqlx::query("SELECT user_id FROM twostep_accounts WHERE user_id = 'alice' FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let writer = {
        let (store, write) = (store.clone(), step(&before, 99));
        tokio::spawn(async move { store.accept_step("alice", write, &[]).await })
    };
    let mut killed = false;
    for _ in 0..200 {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND query LIKE 'UPDATE twostep_accounts SET last_accepted_step%'",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        if let Some(pid) = pids.first() {
            sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(*pid)
                .execute(store.pool())
                .await
                .unwrap();
            killed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(killed, "the writer was seen waiting on the row");
    let result = writer.await.unwrap();
    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "the write failed: {result:?}"
    );
    holder.rollback().await.unwrap();
    assert_eq!(store.account("alice").await.unwrap(), before);
    assert!(
        store
            .accept_step("alice", step(&before, 99), &[])
            .await
            .unwrap(),
        "the pool recovers and the step is still free"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_reseals_what_old_keys_sealed() {
    for db in Db::all().await {
        let name = db.name();
        let store = db.store();
        let alice = enroll(store, "alice", NOW).await; // sealed under "test-2026"
        let rotated = AeadSealer::new(SealingKey::from_bytes("next", [9; 32]))
            .with_old_key(SealingKey::from_bytes("test-2026", [7; 32]));
        assert_eq!(store.rotate_secrets(&rotated).await.unwrap(), 1, "{name}");
        assert_eq!(
            store.rotate_secrets(&rotated).await.unwrap(),
            0,
            "{name}: nothing left to re-seal"
        );
        let sealed = store.credential("alice").await.unwrap().unwrap().secret;
        assert_eq!(sealed.key_id, "next", "{name}");
        let new_only = AeadSealer::new(SealingKey::from_bytes("next", [9; 32]));
        assert_eq!(
            new_only
                .open_secret("alice", &sealed)
                .unwrap()
                .expose_bytes(),
            alice.secret.expose_bytes(),
            "{name}: the old key can retire"
        );
        assert!(
            matches!(
                sealer().open_secret("alice", &sealed),
                Err(twostep_store_sqlx::SealError::UnknownKey(_))
            ),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_rows_are_typed_errors() {
    for db in Db::all().await {
        let name = db.name();
        let store = db.store();
        enroll(store, "alice", NOW).await;
        for (column, value) in [
            ("totp_params", "'{\"algorithm\":\"MD5\"}'"),
            ("recovery_codes", "'not json'"),
            ("enabled_at", "NULL"),
            ("window_failures", "-1"),
        ] {
            sqlx::query(&format!(
                "UPDATE twostep_accounts SET {column} = {value} WHERE user_id = 'alice'"
            ))
            .execute(store.pool())
            .await
            .unwrap();
            let read = store.account("alice").await;
            assert!(
                matches!(read, Err(StoreError::Corrupt(_))),
                "{name}: {column} = {value}: {read:?}"
            );
            // Put a sound row back for the next case.
            sqlx::query("DELETE FROM twostep_accounts WHERE user_id = 'alice'")
                .execute(store.pool())
                .await
                .unwrap();
            enroll(store, "alice", NOW).await;
        }
    }
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_them() {
    let error = SqlStore::connect("mysql://root:hunter2@db/app")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unsupported(ref scheme) if scheme == "mysql"));
    assert!(!error.to_string().contains("hunter2"));
}

/// The migrations embedded in the crate are the files in `migrations/`, as sqlx reads them
/// (the `migrate!` macro earlier versions used): a database migrated from the files, as a
/// deployment's own tooling would, migrates again as a no-op, and a missing one is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_migrations_match_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("files.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    let files = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let migrator = sqlx::migrate::Migrator::new(files).await.unwrap();
    let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7], "one file per migration");
    let mut conn = store.pool().acquire().await.unwrap();
    migrator.run(&mut *conn).await.unwrap();
    drop(conn);
    store
        .migrate()
        .await
        .expect("the embedded migrations match what was applied");
    enroll(&store, "alice", NOW).await;
    assert!(store.account("alice").await.unwrap().credential.is_some());
}

/// Migration 5 makes the accounts table anew with the recovery codes last: every account
/// written before reads back the same after, and the codes still come with a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_the_recovery_codes_keeps_every_account() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlStore::connect(&format!("sqlite://{}", dir.path().join("old.db").display()))
        .await
        .unwrap();
    let mut stores = vec![("SQLite", "sqlite", sqlite)];
    if let Some(url) = common::postgres_url() {
        let schema = common::unique_name("before_5");
        let postgres = common::postgres_in_schema_unmigrated(&url, &schema).await;
        stores.push(("PostgreSQL", "postgres", postgres));
    }
    for (name, files, store) in stores {
        // The schema as migrations 1 to 4 left it.
        let before_5 = tempfile::tempdir().unwrap();
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(files);
        for entry in std::fs::read_dir(&from).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_str().unwrap().to_owned();
            if file.as_str() < "0005" {
                std::fs::copy(&path, before_5.path().join(file)).unwrap();
            }
        }
        let migrator = sqlx::migrate::Migrator::new(before_5.path()).await.unwrap();
        let mut conn = store.pool().acquire().await.unwrap();
        migrator.run(&mut *conn).await.unwrap();
        drop(conn);
        // Today's writes set the security revision, which migration 6 adds: the column is
        // there for them, and gone again before the migrations run.
        let security_revision = "ALTER TABLE twostep_accounts \
             ADD COLUMN security_revision BIGINT NOT NULL DEFAULT 0";
        sqlx::query(security_revision)
            .execute(store.pool())
            .await
            .unwrap();
        // An enrolled user who signed in, one with counters only, one forgotten.
        enroll(&store, "alice", NOW).await;
        let mut write = step(&store.account("alice").await.unwrap(), 7);
        write.completed.push(ConsumedState {
            id: StateId::from_bytes([9; 16]),
            expires_at: NOW + 300,
        });
        assert!(
            store.accept_step("alice", write, &[]).await.unwrap(),
            "{name}"
        );
        let policy = ThrottlePolicy::default();
        let failed = Throttle::default().record_failure(&policy, NOW);
        assert!(
            store
                .compare_and_set_throttle("bob", Throttle::default(), failed)
                .await
                .unwrap(),
            "{name}"
        );
        enroll(&store, "carol", NOW).await;
        assert!(store.forget_user("carol").await.unwrap(), "{name}");
        let users = ["alice", "bob", "carol", "nobody"];
        let mut before = store.accounts(&users).await.unwrap();
        // Accounts from before migration 6 start at security revision 0.
        for account in &mut before {
            account.security_revision = 0;
        }
        let codes_of_alice = "SELECT recovery_codes FROM twostep_accounts WHERE user_id = 'alice'";
        let codes_before: String = sqlx::query_scalar(codes_of_alice)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(
            !before[0].completed.is_empty(),
            "{name}: alice's sign-in is kept"
        );

        sqlx::query("ALTER TABLE twostep_accounts DROP COLUMN security_revision")
            .execute(store.pool())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.accounts(&users).await.unwrap(), before, "{name}");
        let codes_after: String = sqlx::query_scalar(codes_of_alice)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(
            codes_after, codes_before,
            "{name}: the stored text, to the byte"
        );
        let columns = if files == "sqlite" {
            "SELECT name FROM pragma_table_info('twostep_accounts') ORDER BY cid"
        } else {
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'twostep_accounts' \
             ORDER BY ordinal_position"
        };
        let columns: Vec<String> = sqlx::query_scalar(columns)
            .fetch_all(store.pool())
            .await
            .unwrap();
        let codes_at = columns.iter().position(|c| c == "recovery_codes");
        let after_codes = codes_at.map(|at| &columns[at + 1..]);
        // On SQLite, also the column a write's event passes through (its trigger empties it
        // within the statement, and SQLite writes whole pages: no prefix to keep).
        let expected: &[&str] = match files {
            "sqlite" => &["security_revision", "logged_event"],
            _ => &["security_revision"],
        };
        assert_eq!(
            after_codes.map(|after| after.iter().map(String::as_str).collect::<Vec<_>>()),
            Some(expected.to_vec()),
            "{name}: after the codes, only what a sign-in does not write either"
        );
        let orphan = sqlx::query(
            "UPDATE twostep_accounts SET recovery_codes = NULL WHERE user_id = 'alice'",
        )
        .execute(store.pool())
        .await;
        assert!(orphan.is_err(), "{name}: a secret without codes is refused");
    }
}

/// Forgetting a user clears credential, counters and completed states in one transaction,
/// but moves the revision on: a wizard started before cannot enable 2FA for a new account
/// that reuses the id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_user_keeps_only_a_revision_nothing_before_can_complete() {
    for db in Db::all().await {
        let (store, name) = (db.store(), db.name());
        let wizard_began_at = store.account("alice").await.unwrap().revision;
        let enrolled = enroll(store, "alice", NOW).await;
        let policy = ThrottlePolicy::default();
        let failed = Throttle::default().record_failure(&policy, NOW);
        assert!(
            store
                .compare_and_set_throttle("alice", Throttle::default(), failed)
                .await
                .unwrap()
        );
        assert!(store.forget_user("alice").await.unwrap(), "{name}");
        let account = store.account("alice").await.unwrap();
        assert!(account.credential.is_none(), "{name}");
        assert_eq!(account.throttle, Throttle::default(), "{name}");
        assert!(account.revision > 1, "{name}: the revision moved on");
        assert!(
            !store
                .create_credential("alice", wizard_began_at, enrolled.record.clone(), &[])
                .await
                .unwrap(),
            "{name}: a wizard from before the deletion cannot complete"
        );
        assert!(
            !store.forget_user("alice").await.unwrap(),
            "{name}: nothing left"
        );
    }
}

/// On a SQLite file the store writes through one connection of its own and reads through
/// the others: concurrent writers queue for that connection rather than for the database
/// lock, and readers go on while a write transaction is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writes_queue_on_one_connection_and_reads_go_on() {
    let db = Db::sqlite().await;
    let store = db.store();
    for i in 0..16 {
        enroll(store, &format!("user-{i}"), NOW).await;
    }
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        writers.spawn(async move {
            let user = format!("user-{i}");
            let read = store.account(&user).await.unwrap();
            store
                .accept_step(&user, step(&read, 99), &[])
                .await
                .unwrap()
        });
    }
    while let Some(accepted) = writers.join_next().await {
        assert!(accepted.unwrap());
    }
    assert_eq!(store.write_pool().size(), 1, "one writer connection");

    // A write transaction held open on the writer: reads answer, the store's next write
    // waits for it and then goes through.
    let mut held = store.write_pool().begin().await.unwrap();
    sqlx::query(
        "UPDATE twostep_accounts SET window_failures = window_failures WHERE user_id = 'user-0'",
    )
    .execute(&mut *held)
    .await
    .unwrap();
    let before = store.account("user-1").await.unwrap();
    let waiting = {
        let store = store.clone();
        tokio::spawn(async move { store.accept_step("user-1", step(&before, 100), &[]).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "the write waits for the writer");
    held.commit().await.unwrap();
    assert!(waiting.await.unwrap().unwrap());
}
