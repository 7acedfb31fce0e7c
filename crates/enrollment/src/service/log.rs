//! Reading the security log through the service: a user's own page, and an organisation's
//! for its owners and admins. The store keeps the log ([`Store::events`]); this module decides
//! who may read which part of it.

use twostep_policy::Refusal;

use super::{Service, ServiceError};
use crate::app::{Directory, EventQuery, LoggedEvent, Mailer, Reauthenticate, Store};

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// A page of `user`'s security log, newest first: their factor's events (enabled,
    /// sign-ins, failures, locks, re-issued, disabled, reset and by whom) and the changes
    /// they made as an owner or admin. Older pages follow with `before`, the last id of the
    /// page before. Empty with a store that keeps no log.
    ///
    /// # Errors
    /// A store failure.
    ///
    /// ```
    /// # use twostep_enrollment::memory::{FixedPasswords, MemoryStore, RecordingMailer};
    /// # async fn show(
    /// #     service: &twostep_enrollment::Service<MemoryStore, RecordingMailer, FixedPasswords>,
    /// # ) -> Result<(), twostep_enrollment::ServiceError> {
    /// for logged in service.security_log("alice", None, 20).await? {
    ///     println!("{} {}", logged.event.at, logged.event.kind.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn security_log(
        &self,
        user: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, ServiceError> {
        self.log_page(EventQuery::user(user, limit), before).await
    }

    /// A page of `org`'s security log, newest first — its requirement's changes and the
    /// resets made in it — for `actor`, an owner or admin of `org`.
    ///
    /// # Errors
    /// [`ServiceError::Policy`]: `actor` is not a member of `org`, or neither owner nor
    /// admin; a directory or store failure.
    pub async fn org_security_log(
        &self,
        actor: &str,
        org: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, ServiceError> {
        if !self.membership(actor, org).await?.role.manages_security() {
            return Err(Refusal::NotOwnerOrAdmin.into());
        }
        self.log_page(EventQuery::org(org, limit), before).await
    }

    async fn log_page(
        &self,
        query: EventQuery,
        before: Option<u64>,
    ) -> Result<Vec<LoggedEvent>, ServiceError> {
        let query = match before {
            Some(id) => query.before(id),
            None => query,
        };
        self.store.events(&query).await.map_err(ServiceError::store)
    }
}
