//! The security log's clauses of the [`Store`] contract: a write stores the events it carries
//! exactly when it wins, and the log reads back newest first, page by page, by user (with the
//! changes they made as an actor) and by organisation. A store without a log must answer no
//! events at all; which kind a store is, the suite finds out by recording one event.

use twostep_policy::OrgPolicy;

use super::{sample_record, step_write};
use crate::app::{AuditEvent, AuditKind, EventQuery, LoggedEvent, Store};

/// An event of `kind` for `user`, with every field a log keeps set.
fn event(user: &str, kind: AuditKind, at: u64) -> AuditEvent {
    AuditEvent {
        user_id: user.to_owned(),
        at,
        kind,
        actor: None,
        org: None,
        ip: Some([192, 0, 2, 1].into()),
        user_agent: Some("Mozilla/5.0 (conformance; \u{d55c}\u{ad6d}\u{c5b4})".to_owned()),
    }
}

/// The events of a page, without their ids.
fn events(page: &[LoggedEvent]) -> Vec<AuditEvent> {
    page.iter().map(|logged| logged.event.clone()).collect()
}

async fn page<S: Store>(store: &S, query: &EventQuery) -> Vec<LoggedEvent> {
    store.events(query).await.expect("store")
}

/// Whether `store` keeps a log: one event recorded reads back, or none does, ever.
async fn keeps_a_log<S: Store>(store: &S) -> bool {
    let probe = event("probe", AuditKind::Unlocked, 1);
    store
        .record_events(std::slice::from_ref(&probe))
        .await
        .expect("store");
    let logged = page(store, &EventQuery::user("probe", 10)).await;
    match events(&logged).as_slice() {
        [] => false,
        [one] if *one == probe => true,
        other => panic!("one event recorded, read back as {other:?}"),
    }
}

pub(super) async fn a_write_logs_its_events_exactly_when_it_wins<S: Store>(store: S) {
    let keeps = keeps_a_log(&store).await;
    let mut expected: Vec<AuditEvent> = Vec::new();
    let check = |expected: &[AuditEvent], after: &str| {
        let store = &store;
        let newest_first: Vec<AuditEvent> = if keeps {
            expected.iter().rev().cloned().collect()
        } else {
            Vec::new()
        };
        let after = after.to_owned();
        async move {
            let logged = page(store, &EventQuery::user("u", 100)).await;
            assert_eq!(events(&logged), newest_first, "the log after {after}");
        }
    };
    let record = sample_record(1);
    let mut at = 10;
    let mut next = |kind| {
        at += 1;
        event("u", kind, at)
    };

    // Each write at a stale revision loses and logs nothing.
    let stale = 7;
    let lost = next(AuditKind::Enabled);
    let won = store
        .create_credential("u", stale, record.clone(), std::slice::from_ref(&lost))
        .await
        .expect("store");
    assert!(!won, "a create at a stale revision");
    check(&expected, "a lost create").await;

    let enabled = next(AuditKind::Enabled);
    assert!(
        store
            .create_credential("u", 0, record.clone(), std::slice::from_ref(&enabled))
            .await
            .expect("store")
    );
    expected.push(enabled);
    check(&expected, "enable").await;

    let read = store.account("u").await.expect("store");
    let signed_in = next(AuditKind::LoginWithCode);
    let write = step_write(&read, 5, read.throttle);
    assert!(
        store
            .accept_step("u", write, std::slice::from_ref(&signed_in))
            .await
            .expect("store")
    );
    expected.push(signed_in);
    let replayed = next(AuditKind::LoginWithCode);
    let write = step_write(&read, 5, read.throttle);
    assert!(
        !store
            .accept_step("u", write, std::slice::from_ref(&replayed))
            .await
            .expect("store"),
        "the same step again"
    );
    check(&expected, "a sign-in and its replay").await;

    let read = store.account("u").await.expect("store");
    // The set as a sign-in would write it back (which code was used is not the clause).
    let set = record.recovery_codes.clone();
    let completed = Some(read.completed.clone());
    let with_code = next(AuditKind::LoginWithRecoveryCode);
    for (revision, wins) in [(stale, false), (read.revision, true)] {
        let won = store
            .replace_recovery_codes(
                "u",
                revision,
                set.clone(),
                completed.clone(),
                std::slice::from_ref(&with_code),
            )
            .await
            .expect("store");
        assert_eq!(won, wins, "a recovery code at revision {revision}");
    }
    expected.push(with_code);
    let reissued = next(AuditKind::RecoveryCodesReissued);
    let read = store.account("u").await.expect("store");
    let fresh = sample_record(3).recovery_codes;
    assert!(
        store
            .replace_recovery_codes(
                "u",
                read.revision,
                fresh,
                None,
                std::slice::from_ref(&reissued)
            )
            .await
            .expect("store")
    );
    expected.push(reissued);
    check(&expected, "a recovery code and a re-issue").await;

    let read = store.account("u").await.expect("store");
    let disabled = next(AuditKind::Disabled);
    for (revision, wins) in [(stale, false), (read.revision, true)] {
        let won = store
            .remove_credential("u", revision, std::slice::from_ref(&disabled))
            .await
            .expect("store");
        assert_eq!(won, wins, "a disable at revision {revision}");
    }
    expected.push(disabled);
    check(&expected, "a disable").await;

    let read = store.account("u").await.expect("store");
    let enabled = next(AuditKind::Enabled);
    let created = store
        .create_credential("u", read.revision, record, std::slice::from_ref(&enabled))
        .await;
    assert!(created.expect("store"));
    expected.push(enabled);
    let mut reset = next(AuditKind::Reset);
    reset.actor = Some("admin".to_owned());
    reset.org = Some("acme".to_owned());
    let read = store.account("u").await.expect("store");
    for (revision, wins) in [(stale, false), (read.revision, true)] {
        let won = store
            .reset_credential("u", revision, std::slice::from_ref(&reset))
            .await
            .expect("store");
        assert_eq!(won, wins, "a reset at revision {revision}");
    }
    expected.push(reset.clone());
    check(&expected, "enable again and a reset").await;

    let mut mandate = event("admin", AuditKind::MandateSet, 90);
    mandate.org = Some("acme".to_owned());
    for (revision, wins) in [(stale, false), (0, true)] {
        let won = store
            .compare_and_set_org_policy(
                "acme",
                revision,
                OrgPolicy::new("acme"),
                std::slice::from_ref(&mandate),
            )
            .await
            .expect("store");
        assert_eq!(won, wins, "a policy at revision {revision}");
    }
    let org = page(&store, &EventQuery::org("acme", 100)).await;
    let admin = page(&store, &EventQuery::user("admin", 100)).await;
    let (org_expected, admin_expected) = if keeps {
        (vec![mandate.clone(), reset.clone()], vec![mandate, reset])
    } else {
        (Vec::new(), Vec::new())
    };
    assert_eq!(events(&org), org_expected, "the organisation's events");
    assert_eq!(
        events(&admin),
        admin_expected,
        "the actor's: their own, and the reset they made"
    );
}

pub(super) async fn the_log_reads_newest_first_page_by_page<S: Store>(store: S) {
    if !keeps_a_log(&store).await {
        return;
    }
    let recorded: Vec<AuditEvent> = (0..7)
        .map(|n| {
            let mut recorded = event(if n % 2 == 0 { "a" } else { "b" }, AuditKind::Locked, n);
            if n == 5 {
                recorded.actor = Some("a".to_owned());
                recorded.org = Some("acme".to_owned());
            }
            recorded
        })
        .collect();
    // Two calls: ids order events across calls, not only within one.
    let (first, second) = recorded.split_at(3);
    store.record_events(first).await.expect("store");
    store.record_events(second).await.expect("store");
    // "a": its own (0, 2, 4, 6) and the one it made (5), newest first.
    let wanted: Vec<AuditEvent> = [6, 5, 4, 2, 0]
        .iter()
        .filter_map(|&n| recorded.get(n).cloned())
        .collect();
    let mut read = Vec::new();
    let mut query = EventQuery::user("a", 2);
    loop {
        let logged = page(&store, &query).await;
        assert!(logged.len() <= 2, "a page holds at most its limit");
        assert!(
            logged
                .iter()
                .zip(logged.iter().skip(1))
                .all(|(newer, older)| newer.id > older.id),
            "newest first, by id: {logged:?}"
        );
        let Some(last) = logged.last() else { break };
        query = EventQuery::user("a", 2).before(last.id);
        read.extend(events(&logged));
    }
    assert_eq!(read, wanted, "every page of a's events, in order");
    let org = page(&store, &EventQuery::org("acme", 10)).await;
    assert_eq!(
        events(&org),
        recorded.get(5).cloned().into_iter().collect::<Vec<_>>()
    );
    assert!(
        page(&store, &EventQuery::user("nobody", 10))
            .await
            .is_empty()
    );
    assert!(page(&store, &EventQuery::user("a", 0)).await.is_empty());
}
