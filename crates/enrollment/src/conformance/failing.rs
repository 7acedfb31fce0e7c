//! A [`Store`] that fails one chosen call: failure injection for the flows suite. The call
//! fails before it reaches the store under test, so nothing of it is written — the
//! "connection refused" kind of failure, which every flow must survive with its state in
//! hand.

use std::sync::atomic::{AtomicUsize, Ordering};

use twostep_policy::OrgPolicy;
use twostep_recovery::RecoveryCodeSet;

use crate::app::{
    AcceptStep, AuditEvent, BoxError, ConsumedState, CredentialRecord, EventQuery, LoggedEvent,
    StateId, Store, StoredAccount, StoredOrgPolicy,
};
use crate::throttle::Throttle;

/// Wraps a store; its `fail`-th call from now (counting from 0) fails, once.
pub(crate) struct Failing<S> {
    inner: S,
    calls: AtomicUsize,
    fail_at: AtomicUsize,
}

impl<S: Store> Failing<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            fail_at: AtomicUsize::new(usize::MAX),
        }
    }

    /// Makes the `n`-th call from now fail.
    pub(crate) fn fail_call(&self, n: usize) {
        let now = self.calls.load(Ordering::SeqCst);
        self.fail_at.store(now.saturating_add(n), Ordering::SeqCst);
    }

    /// Whether the armed failure has happened.
    pub(crate) fn failed(&self) -> bool {
        self.calls.load(Ordering::SeqCst) > self.fail_at.load(Ordering::SeqCst)
    }

    fn call(&self) -> Result<(), BoxError> {
        let number = self.calls.fetch_add(1, Ordering::SeqCst);
        if number == self.fail_at.load(Ordering::SeqCst) {
            return Err("injected failure".into());
        }
        Ok(())
    }
}

impl<S: Store> Store for Failing<S> {
    type Error = BoxError;

    async fn account(&self, user: &str) -> Result<StoredAccount, Self::Error> {
        self.call()?;
        self.inner.account(user).await.map_err(Into::into)
    }

    async fn accounts(&self, users: &[&str]) -> Result<Vec<StoredAccount>, Self::Error> {
        self.call()?;
        self.inner.accounts(users).await.map_err(Into::into)
    }

    async fn create_credential(
        &self,
        user: &str,
        revision: u64,
        record: CredentialRecord,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.call()?;
        let created = self
            .inner
            .create_credential(user, revision, record, events)
            .await;
        created.map_err(Into::into)
    }

    async fn accept_step(
        &self,
        user: &str,
        write: AcceptStep,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.call()?;
        let accepted = self.inner.accept_step(user, write, events).await;
        accepted.map_err(Into::into)
    }

    async fn replace_recovery_codes(
        &self,
        user: &str,
        revision: u64,
        new: RecoveryCodeSet,
        completed: Option<Vec<ConsumedState>>,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.call()?;
        let replaced = self
            .inner
            .replace_recovery_codes(user, revision, new, completed, events)
            .await;
        replaced.map_err(Into::into)
    }

    async fn remove_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.call()?;
        let removed = self.inner.remove_credential(user, revision, events).await;
        removed.map_err(Into::into)
    }

    async fn reset_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.call()?;
        let reset = self.inner.reset_credential(user, revision, events).await;
        reset.map_err(Into::into)
    }

    async fn record_events(&self, events: &[AuditEvent]) -> Result<(), Self::Error> {
        self.call()?;
        self.inner.record_events(events).await.map_err(Into::into)
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<LoggedEvent>, Self::Error> {
        self.call()?;
        self.inner.events(query).await.map_err(Into::into)
    }

    async fn forget_user(&self, user: &str) -> Result<bool, Self::Error> {
        self.call()?;
        self.inner.forget_user(user).await.map_err(Into::into)
    }

    async fn is_consumed(&self, user: &str, id: StateId, now: u64) -> Result<bool, Self::Error> {
        self.call()?;
        self.inner
            .is_consumed(user, id, now)
            .await
            .map_err(Into::into)
    }

    async fn consume_state(
        &self,
        user: &str,
        state: ConsumedState,
        now: u64,
    ) -> Result<bool, Self::Error> {
        self.call()?;
        let consumed = self.inner.consume_state(user, state, now).await;
        consumed.map_err(Into::into)
    }

    async fn throttle(&self, user: &str) -> Result<Throttle, Self::Error> {
        self.call()?;
        self.inner.throttle(user).await.map_err(Into::into)
    }

    async fn compare_and_set_throttle(
        &self,
        user: &str,
        expected: Throttle,
        new: Throttle,
    ) -> Result<bool, Self::Error> {
        self.call()?;
        let set = self
            .inner
            .compare_and_set_throttle(user, expected, new)
            .await;
        set.map_err(Into::into)
    }

    async fn org_policy(&self, org: &str) -> Result<StoredOrgPolicy, Self::Error> {
        self.call()?;
        self.inner.org_policy(org).await.map_err(Into::into)
    }

    async fn org_policies(&self, orgs: &[&str]) -> Result<Vec<StoredOrgPolicy>, Self::Error> {
        self.call()?;
        self.inner.org_policies(orgs).await.map_err(Into::into)
    }

    async fn compare_and_set_org_policy(
        &self,
        org: &str,
        revision: u64,
        new: OrgPolicy,
        events: &[AuditEvent],
    ) -> Result<bool, Self::Error> {
        self.call()?;
        let set = self
            .inner
            .compare_and_set_org_policy(org, revision, new, events)
            .await;
        set.map_err(Into::into)
    }
}
