//! Org mandates enforced by the service: who may switch them on, the preview, login telling a
//! mandated member to enroll, disabling blocked under a mandate, and the audit trail.

mod common;

use std::sync::Arc;

use common::acct;
use common::orgs::{T0, enable, world};
use twostep_enrollment::Account;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryDirectory, MemoryStore, PlaintextSealer, RecordingMailer, SettableClock,
};
use twostep_enrollment::{
    AcceptStep, AuditEvent, AuditKind, Clock, ConsumedState, CredentialRecord, LoginStep, Service,
    ServiceError, Store, StoredAccount, StoredOrgPolicy, Throttle,
};
use twostep_policy::{Affected, DisableRefused, Membership, OrgPolicy, Refusal, Role};
use twostep_recovery::RecoveryCodeSet;

const DAY: u64 = 86_400;

#[tokio::test]
async fn only_owners_and_admins_with_completed_two_factor_switch_the_mandate() {
    let world = world();
    let refused = |result: Result<_, ServiceError>| match result {
        Err(ServiceError::Policy(refusal)) => refusal,
        other => panic!("expected a policy refusal, got {other:?}"),
    };
    assert_eq!(
        refused(world.service.set_mandate(&acct("bob"), "acme", 0).await),
        Refusal::NotOwnerOrAdmin
    );
    assert_eq!(
        refused(world.service.set_mandate(&acct("ada"), "acme", 0).await),
        Refusal::ActorWithoutTwoFactor
    );
    // A pending enrollment does not count.
    let account = Account {
        user_id: "ada".into(),
        email: "ada@example.com".into(),
    };
    let _pending = world.service.start_enable(&account).await.unwrap();
    assert_eq!(
        refused(world.service.set_mandate(&acct("ada"), "acme", 0).await),
        Refusal::ActorWithoutTwoFactor
    );
    // One email code per account per minute, however often the wizard starts.
    world.clock.advance(60);
    assert_eq!(
        refused(
            world
                .service
                .set_mandate(&acct("ada"), "elsewhere", 0)
                .await
        ),
        Refusal::NotAMember
    );

    enable(&world, "ada").await;
    let policy = world
        .service
        .set_mandate(&acct("ada"), "acme", 7 * DAY)
        .await
        .unwrap();
    assert_eq!(
        policy.mandate.as_ref().map(|m| m.set_by.as_str()),
        Some("ada")
    );
    enable(&world, "olga").await;
    world
        .service
        .clear_mandate(&acct("olga"), "acme")
        .await
        .unwrap();
    let mandates: Vec<_> = world
        .audit
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, AuditKind::MandateSet | AuditKind::MandateCleared))
        .map(|e| (e.kind, e.user_id, e.org, e.actor))
        .collect();
    let acme = Some("acme".to_owned());
    assert_eq!(
        mandates,
        [
            (AuditKind::MandateSet, "ada".to_owned(), acme.clone(), None),
            (AuditKind::MandateCleared, "olga".to_owned(), acme, None),
        ],
        "each names who changed the mandate, and of which organisation"
    );
}

#[tokio::test]
async fn the_preview_lists_the_members_without_two_factor() {
    let world = world();
    enable(&world, "ada").await;
    let affected = world
        .service
        .preview_mandate(&acct("ada"), "acme", 3 * DAY)
        .await
        .unwrap();
    let mut users: Vec<&str> = affected
        .iter()
        .map(|a: &Affected| a.user_id.as_str())
        .collect();
    users.sort_unstable();
    assert_eq!(users, ["bob", "cy", "olga"]);
    assert!(affected.iter().all(|a| a.deadline == T0 + 3 * DAY));
}

#[tokio::test]
async fn login_tells_mandated_members_to_enroll_by_the_deadline_then_now() {
    let world = world();
    enable(&world, "ada").await;
    world
        .service
        .set_mandate(&acct("ada"), "acme", 2 * DAY)
        .await
        .unwrap();
    match world.service.begin_login(&acct("bob")).await.unwrap() {
        LoginStep::SignedIn {
            reminder: Some(reminder),
            ..
        } => assert_eq!(
            (reminder.org_id.as_str(), reminder.deadline),
            ("acme", T0 + 2 * DAY)
        ),
        other => panic!("{other:?}"),
    }
    world.clock.advance(2 * DAY);
    assert!(
        matches!(world.service.begin_login(&acct("bob")).await.unwrap(), LoginStep::EnrollmentRequired { org_id, .. } if org_id == "acme")
    );
    // A started but unfinished enrollment changes nothing; finishing it does.
    let account = Account {
        user_id: "bob".into(),
        email: "bob@example.com".into(),
    };
    let _pending = world.service.start_enable(&account).await.unwrap();
    assert!(matches!(
        world.service.begin_login(&acct("bob")).await.unwrap(),
        LoginStep::EnrollmentRequired { .. }
    ));
    world.clock.advance(60); // one email code per account per minute
    enable(&world, "bob").await;
    assert!(matches!(
        world.service.begin_login(&acct("bob")).await.unwrap(),
        LoginStep::SecondStep(_)
    ));
    // Someone outside the organisation is not affected.
    world.directory.leave("acme", "cy");
    assert!(matches!(
        world.service.begin_login(&acct("cy")).await.unwrap(),
        LoginStep::SignedIn { reminder: None, .. }
    ));
}

#[tokio::test]
async fn disabling_is_refused_under_a_mandate_until_leaving_or_clearing() {
    let world = world();
    enable(&world, "ada").await;
    enable(&world, "bob").await;
    world
        .service
        .set_mandate(&acct("ada"), "acme", 0)
        .await
        .unwrap();
    let refused = world
        .service
        .start_disable(&acct("bob"), "pw")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ServiceError::Mandated(DisableRefused { org_id }) if org_id == "acme"),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("acme"));
    world.directory.leave("acme", "bob");
    assert!(
        world
            .service
            .start_disable(&acct("bob"), "pw")
            .await
            .is_ok(),
        "after leaving the organisation"
    );
    world
        .directory
        .join(Membership::new("acme", "bob", Role::Member, T0));
    assert!(
        world
            .service
            .start_disable(&acct("bob"), "pw")
            .await
            .is_err()
    );
    world
        .service
        .clear_mandate(&acct("ada"), "acme")
        .await
        .unwrap();
    assert!(
        world
            .service
            .start_disable(&acct("bob"), "pw")
            .await
            .is_ok(),
        "after the mandate is cleared"
    );
}

#[tokio::test]
async fn a_mandate_switched_on_between_password_and_code_still_blocks_disabling() {
    let world = world();
    enable(&world, "ada").await;
    enable(&world, "bob").await;
    let confirm = world
        .service
        .start_disable(&acct("bob"), "pw")
        .await
        .unwrap();
    world
        .service
        .set_mandate(&acct("ada"), "acme", 0)
        .await
        .unwrap();
    world.clock.advance(30);
    let record = world
        .service
        .store()
        .credential("bob")
        .await
        .unwrap()
        .unwrap();
    let secret = twostep_enrollment::Sealer::open(&PlaintextSealer, "bob", &record.secret).unwrap();
    let code = twostep_otp::Totp::new(&secret, record.params)
        .generate(world.clock.now())
        .unwrap()
        .to_string();
    let refused = world
        .service
        .confirm_disable(
            &Account {
                user_id: "bob".into(),
                email: "bob@example.com".into(),
            },
            confirm,
            &code,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, ServiceError::Mandated(_)),
        "{:?}",
        refused.error
    );
    assert!(
        world
            .service
            .store()
            .credential("bob")
            .await
            .unwrap()
            .is_some(),
        "2FA stays on"
    );
}

#[tokio::test]
async fn only_owners_and_admins_see_who_lacks_two_factor() {
    let world = world();
    let refused = world
        .service
        .preview_mandate(&acct("bob"), "acme", 0)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::Policy(Refusal::NotOwnerOrAdmin)),
        "{refused:?}"
    );
    let refused = world
        .service
        .preview_mandate(&acct("ada"), "elsewhere", 0)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::Policy(Refusal::NotAMember)),
        "{refused:?}"
    );
}

/// Counts the policy and account reads of the store it wraps (a batch counts once); with
/// `short`, a batch read of policies answers one entry too few (a third-party store's bug).
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    policy_reads: std::sync::atomic::AtomicUsize,
    account_reads: std::sync::atomic::AtomicUsize,
    short: std::sync::atomic::AtomicBool,
}

impl Counting {
    fn read(&self) {
        self.policy_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn read_accounts(&self) {
        self.account_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Store for Counting {
    type Error = <MemoryStore as Store>::Error;

    async fn account(&self, user: &str) -> Result<StoredAccount, Self::Error> {
        self.read_accounts();
        self.inner.account(user).await
    }
    async fn accounts(&self, users: &[&str]) -> Result<Vec<StoredAccount>, Self::Error> {
        self.read_accounts();
        self.inner.accounts(users).await
    }
    async fn create_credential(
        &self,
        user: &str,
        revision: u64,
        record: CredentialRecord,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner
            .create_credential(user, revision, record, events)
            .await
    }
    async fn accept_step(
        &self,
        user: &str,
        write: AcceptStep,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner.accept_step(user, write, events).await
    }
    async fn replace_recovery_codes(
        &self,
        user: &str,
        revision: u64,
        new: RecoveryCodeSet,
        completed: Option<Vec<ConsumedState>>,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        let inner = &self.inner;
        inner
            .replace_recovery_codes(user, revision, new, completed, events)
            .await
    }
    async fn remove_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner.remove_credential(user, revision, events).await
    }
    async fn reset_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner.reset_credential(user, revision, events).await
    }
    async fn forget_user(&self, user: &str) -> Result<bool, Self::Error> {
        self.inner.forget_user(user).await
    }
    async fn is_consumed(
        &self,
        user: &str,
        id: twostep_enrollment::StateId,
        now: u64,
    ) -> Result<bool, Self::Error> {
        self.inner.is_consumed(user, id, now).await
    }
    async fn consume_state(
        &self,
        user: &str,
        state: ConsumedState,
        now: u64,
    ) -> Result<bool, Self::Error> {
        self.inner.consume_state(user, state, now).await
    }
    async fn compare_and_set_throttle(
        &self,
        user: &str,
        expected: Throttle,
        new: Throttle,
    ) -> Result<bool, Self::Error> {
        self.inner
            .compare_and_set_throttle(user, expected, new)
            .await
    }
    async fn org_policy(&self, org: &str) -> Result<StoredOrgPolicy, Self::Error> {
        self.read();
        self.inner.org_policy(org).await
    }
    async fn org_policies(&self, orgs: &[&str]) -> Result<Vec<StoredOrgPolicy>, Self::Error> {
        self.read();
        let mut answer = self.inner.org_policies(orgs).await?;
        if self.short.load(std::sync::atomic::Ordering::SeqCst) {
            answer.pop();
        }
        Ok(answer)
    }
    async fn compare_and_set_org_policy(
        &self,
        org: &str,
        revision: u64,
        new: OrgPolicy,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.inner
            .compare_and_set_org_policy(org, revision, new, events)
            .await
    }
}

/// Every sign-in ran one policy query per membership (N+1): a member of 12 organisations
/// cost 12. It is one read of all of them now.
#[tokio::test]
async fn a_sign_in_reads_its_organisations_policies_at_once() {
    let directory = Arc::new(MemoryDirectory::default());
    for org in 0..12 {
        directory.join(Membership::new(
            &format!("org{org}"),
            "bob",
            Role::Member,
            0,
        ));
    }
    let store = Arc::new(Counting::default());
    let service = Service::builder(Arc::clone(&store), PlaintextSealer)
        .mailer(RecordingMailer::default())
        .reauthenticate(FixedPasswords::default())
        .directory(directory)
        .clock(SettableClock::at(T0))
        .build();
    let step = service.begin_login(&acct("bob")).await.unwrap();
    assert!(matches!(step, LoginStep::SignedIn { reminder: None, .. }));
    assert_eq!(
        store.policy_reads.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// The preview read the actor's own account and the org's policy, which it never used:
/// two store reads of the five it cost. It is the members' statuses in one read now.
#[tokio::test]
async fn the_preview_reads_the_store_once_whatever_the_members() {
    let directory = Arc::new(MemoryDirectory::default());
    directory.join(Membership::new("acme", "ada", Role::Admin, 0));
    for member in 0..50 {
        directory.join(Membership::new(
            "acme",
            &format!("m{member}"),
            Role::Member,
            0,
        ));
    }
    let store = Arc::new(Counting::default());
    let service = Service::builder(Arc::clone(&store), PlaintextSealer)
        .mailer(RecordingMailer::default())
        .reauthenticate(FixedPasswords::default())
        .directory(directory)
        .clock(SettableClock::at(T0))
        .build();
    let affected = service
        .preview_mandate(&acct("ada"), "acme", DAY)
        .await
        .unwrap();
    assert_eq!(affected.len(), 51);
    let reads =
        |count: &std::sync::atomic::AtomicUsize| count.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(reads(&store.account_reads), 1, "the members' batch only");
    assert_eq!(reads(&store.policy_reads), 0);
}

/// A store that answered a batch of policies short made the mandating organisation vanish
/// from the sign-in's decision: "signed in" instead of "enroll now". A short answer is a
/// store failure.
#[tokio::test]
async fn a_short_batch_answer_fails_the_sign_in_instead_of_dropping_a_mandate() {
    let directory = Arc::new(MemoryDirectory::default());
    directory.join(Membership::new("acme", "bob", Role::Member, 0));
    let store = Arc::new(Counting::default());
    let mut policy = OrgPolicy::new("acme");
    policy.mandate = Some(twostep_policy::Mandate {
        since: T0 - 1,
        set_by: "ada".into(),
        grace: Vec::new(),
    });
    assert!(
        store
            .compare_and_set_org_policy("acme", 0, policy, &[])
            .await
            .unwrap()
    );
    let service = Service::builder(Arc::clone(&store), PlaintextSealer)
        .mailer(RecordingMailer::default())
        .reauthenticate(FixedPasswords::default())
        .directory(directory)
        .clock(SettableClock::at(T0))
        .build();
    assert!(matches!(
        service.begin_login(&acct("bob")).await.unwrap(),
        LoginStep::EnrollmentRequired { .. }
    ));
    store.short.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        service.begin_login(&acct("bob")).await,
        Err(ServiceError::Backend { .. })
    ));
}
