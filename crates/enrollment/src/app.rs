//! The application traits the [`Service`](crate::Service) drives the machines against: the
//! store, the mailer, password re-authentication, the audit log, secret sealing and the
//! clock.
//!
//! Each trait is narrow and states its **Contract**. The async ones use
//! `fn … -> impl Future<Output = …> + Send` with an associated `Error`; `Clock`, `Sealer` and
//! `AuditLog` are synchronous and dyn-compatible. Minimal implementations for tests and
//! examples live in [`memory`](crate::memory) (feature `test-util`); SQLite and PostgreSQL
//! ones in `twostep-store-sqlx`.

use core::future::Future;

use twostep_otp::{Secret, TotpParams};
use twostep_policy::{Membership, OrgPolicy};
use twostep_recovery::RecoveryCodeSet;

use crate::email_code::EmailCode;
use crate::throttle::Throttle;

/// A boxed backend error, as the service reports it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A TOTP secret sealed for storage, with the id of the key that sealed it (so keys can
/// rotate: old ciphertexts name their key).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// Which sealing key.
    pub key_id: String,
    /// The ciphertext (or, with [`memory::PlaintextSealer`](crate::memory), the key itself).
    pub ciphertext: Vec<u8>,
}

impl core::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A user's stored second factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRecord {
    /// The sealed TOTP secret.
    pub secret: SealedSecret,
    /// Its parameters.
    pub params: TotpParams,
    /// The last accepted TOTP step; every later code must be for a newer step.
    pub last_accepted_step: Option<u64>,
    /// The recovery codes, hashed.
    pub recovery_codes: RecoveryCodeSet,
    /// When 2FA was enabled (Unix time).
    pub enabled_at: u64,
}

/// A user's credential, failure counters and revision, read together (one row, one round
/// trip, in SQL).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredAccount {
    /// The second factor, if two-step verification is on.
    pub credential: Option<CredentialRecord>,
    /// The failure counters (`Throttle::default()` if none were stored).
    pub throttle: Throttle,
    /// The credential's revision: `0` for a user whose credential was never written, then one
    /// more with every write to it (created, a step accepted, recovery codes replaced,
    /// removed). It never goes back, not even when the credential is removed, so a pending
    /// state that carries the revision it saw can complete only while nothing else changed
    /// the credential — and, since its own write moves the revision on, only once.
    pub revision: u64,
    /// The login challenges this account's sign-ins completed, until they may be forgotten
    /// ([`ConsumedState::forgettable`]): a copy of one of them is spent, and is refused
    /// before it can count an attempt. Written only with the step or the recovery codes that
    /// completed them, by the same conditional write.
    pub completed: Vec<ConsumedState>,
    /// The security revision: `0` at first, then one more with every change to the second
    /// factor itself — enabled, recovery codes re-issued, disabled, reset, forgotten — and
    /// never with a sign-in or an attempt. It never goes back. The application mixes it into
    /// its session validation (for `axum-login`, `AuthUser::session_auth_hash`), so a session
    /// signed in before such a change is signed out at its next request, on every server.
    pub security_revision: u64,
}

/// How long after a consumed state's `expires_at` a store may forget it (see
/// [`Store::consume_state`]): a margin for clocks that differ between servers. A check that
/// finishes after the state expired is refused by the service at the write, so only a server
/// whose clock is behind could still take a copy for live; one more than a minute off also
/// refuses right TOTP codes (±1 step of 30 seconds), so a minute is enough. Short on
/// purpose: an account row keeps its completed sign-ins for this long, and every sign-in
/// reads and writes them.
pub const FORGET_CONSUMED_AFTER_SECONDS: u64 = 60;

/// A pending state recorded as completed: kept in [`StoredAccount::completed`] (login
/// challenges) or by [`Store::consume_state`] (email codes), so that a copy of the state finds
/// it spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConsumedState {
    /// The state's id.
    pub id: StateId,
    /// When the state expires (Unix time).
    pub expires_at: u64,
}

impl ConsumedState {
    /// Whether a store may forget the record at `now`:
    /// [`FORGET_CONSUMED_AFTER_SECONDS`] past the state's expiry.
    pub fn forgettable(&self, now: u64) -> bool {
        now >= self
            .expires_at
            .saturating_add(FORGET_CONSUMED_AFTER_SECONDS)
    }
}

/// The write that signs a user in with a TOTP code (see [`Store::accept_step`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptStep {
    /// The account's revision as read: the write happens only while it is still this one.
    pub revision: u64,
    /// The TOTP step to accept: only if the last accepted step is unset or lower.
    pub step: u64,
    /// The counters as read: the write happens only while they are still these.
    pub expected: Throttle,
    /// The counters to store.
    pub new: Throttle,
    /// The completed states to store in place of those read: the login's challenge added,
    /// records past their forgetting time dropped.
    pub completed: Vec<ConsumedState>,
}

/// The identity of one pending state (a login challenge, an email code): what
/// [`Store::consume_state`] records, so that copies of the state cannot complete it again.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateId([u8; 16]);

impl StateId {
    /// The id as bytes, to store.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// An id from stored bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// A fresh random id.
    pub(crate) fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }
}

impl core::fmt::Debug for StateId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StateId(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

/// An organisation's policy as stored, with its revision: `0` (and no policy) while none was
/// ever stored, then one more with every write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredOrgPolicy {
    /// The policy, if one was ever stored.
    pub policy: Option<OrgPolicy>,
    /// The revision a write must find to replace it.
    pub revision: u64,
}

/// Where credentials, failure counters and organisation policies live.
///
/// # Contract
///
/// Each clause is checked by the public [`conformance`](crate::conformance) suite (feature
/// `test-util`), one test function per clause, named after it.
///
/// - **Atomic and conditional.** Every method is atomic on its own. The conditional ones
///   (`create_credential`, `accept_step`, `replace_recovery_codes`, `remove_credential`,
///   `consume_state`, `compare_and_set_throttle`, `compare_and_set_org_policy`) return
///   `Ok(false)` when their condition does not hold, and then change nothing; of N concurrent
///   calls whose conditions overlap, exactly one wins — across processes and store handles,
///   not just tasks (in SQL: one conditional statement or a transaction).
/// - **Revisions.** Every write to the credential (`create_credential`, `accept_step`,
///   `replace_recovery_codes`, `remove_credential`, `forget_user`) adds one to the user's
///   [`StoredAccount::revision`]; counters and policies do not touch it, and it never goes
///   back. The writes that complete a flow are conditional on the revision the service read,
///   so a pending state — cloned, sealed and opened again, or raced — completes at most once,
///   and only over the credential it was checked against.
/// - **Forgetting.** `forget_user` clears the user's credential, counters and completed states
///   and moves the revision on, whatever was stored — so an id deleted and reused by a new
///   account completes no pending state of the old one.
/// - **Completed states.** A sign-in's write — `accept_step`, or `replace_recovery_codes` with
///   `completed` — stores the account's [`StoredAccount::completed`] list with it, all or
///   nothing, conditional on the revision read: of two copies of one challenge, the second
///   finds the revision moved, reads again and finds its challenge spent. A sign-in with a
///   TOTP code is then two round trips — [`Store::account`] and `accept_step` — the least any
///   correct store can do.
/// - **Consumed states.** `consume_state` records a pending state's id once (the wizard's
///   email step, the email codes' ration): `Ok(true)` the first time, `Ok(false)` ever after
///   — at least until it is [`forgettable`](ConsumedState::forgettable), long after the
///   service refuses the state as expired; `is_consumed` reads the same record.
/// - **Organisation policies.** A policy has a revision of its own ([`StoredOrgPolicy`]);
///   `compare_and_set_org_policy` writes only at the revision read and moves it on.
/// - **Batches.** `accounts` and `org_policies` answer in the order asked, an entry for every
///   id (the default for one with nothing stored): a member list or a sign-in's
///   organisations cost one read, whatever their number.
/// - **Any id.** User and organisation ids are the application's strings: any of them reads
///   (as nothing stored, where the store cannot hold it), and one odd id fails no batch.
/// - **Security log.** Each write that changes a second factor or an organisation's policy
///   carries the events of its change (`events`). A store that keeps a security log
///   ([`Store::events`]) stores them in the same transaction as the change, and only if the
///   write is made: a process killed right after the write loses no event, and a write that
///   lost its race leaves none. [`Store::record_events`] appends the events no write carries.
///   A store without a log ignores them all and answers no events.
/// - **Failures.** A failed call (`Err`) leaves the previous state intact.
/// - **Independence.** Counters of different users are independent; a user without counters
///   has `Throttle::default()`.
///
/// A minimal implementation (see [`memory::MemoryStore`](crate::memory::MemoryStore) for a
/// complete one):
///
/// ```
/// use std::collections::{HashMap, HashSet};
/// use std::sync::Mutex;
/// use twostep_enrollment::{AcceptStep, AuditEvent, ConsumedState, CredentialRecord, StateId, Store, StoredAccount, StoredOrgPolicy, Throttle};
/// use twostep_policy::OrgPolicy;
/// use twostep_recovery::RecoveryCodeSet;
///
/// #[derive(Default)]
/// struct Tables {
///     accounts: HashMap<String, StoredAccount>,
///     consumed: HashSet<(String, StateId)>,
///     policies: HashMap<String, StoredOrgPolicy>,
/// }
///
/// #[derive(Default)]
/// struct Tiny(Mutex<Tables>);
///
/// impl Tiny {
///     /// Runs `write` on the user's account if `condition` holds.
///     fn write(
///         &self,
///         user: &str,
///         condition: impl FnOnce(&StoredAccount) -> bool,
///         write: impl FnOnce(&mut StoredAccount),
///     ) -> bool {
///         let mut tables = self.0.lock().unwrap();
///         let account = tables.accounts.entry(user.to_owned()).or_default();
///         if !condition(account) {
///             return false;
///         }
///         write(account);
///         true
///     }
/// }
///
/// impl Store for Tiny {
///     type Error = std::convert::Infallible;
///     async fn account(&self, user: &str) -> Result<StoredAccount, Self::Error> {
///         Ok(self.0.lock().unwrap().accounts.get(user).cloned().unwrap_or_default())
///     }
///     async fn create_credential(&self, user: &str, revision: u64, record: CredentialRecord, _: &[AuditEvent]) -> Result<bool, Self::Error> {
///         Ok(self.write(user, |a| a.credential.is_none() && a.revision == revision, |a| {
///             a.credential = Some(record);
///             a.revision += 1;
///             a.security_revision += 1;
///         }))
///     }
///     async fn accept_step(&self, user: &str, write: AcceptStep, _: &[AuditEvent]) -> Result<bool, Self::Error> {
///         let newer = |a: &StoredAccount| {
///             a.credential.as_ref().is_some_and(|c| c.last_accepted_step.is_none_or(|last| last < write.step))
///         };
///         let holds = |a: &StoredAccount| a.revision == write.revision && a.throttle == write.expected;
///         Ok(self.write(user, |a| newer(a) && holds(a), |a| {
///             if let Some(c) = a.credential.as_mut() { c.last_accepted_step = Some(write.step) }
///             a.throttle = write.new;
///             a.completed = write.completed;
///             a.revision += 1;
///         }))
///     }
///     async fn replace_recovery_codes(&self, user: &str, revision: u64, new: RecoveryCodeSet, completed: Option<Vec<ConsumedState>>, _: &[AuditEvent]) -> Result<bool, Self::Error> {
///         Ok(self.write(user, |a| a.credential.is_some() && a.revision == revision, |a| {
///             if let Some(c) = a.credential.as_mut() { c.recovery_codes = new }
///             match completed {
///                 Some(completed) => a.completed = completed, // a sign-in
///                 None => a.security_revision += 1,           // a re-issue
///             }
///             a.revision += 1;
///         }))
///     }
///     async fn remove_credential(&self, user: &str, revision: u64, _: &[AuditEvent]) -> Result<bool, Self::Error> {
///         Ok(self.write(user, |a| a.credential.is_some() && a.revision == revision, |a| {
///             a.credential = None;
///             a.revision += 1;
///             a.security_revision += 1;
///         }))
///     }
///     async fn reset_credential(&self, user: &str, revision: u64, _: &[AuditEvent]) -> Result<bool, Self::Error> {
///         Ok(self.write(user, |a| a.credential.is_some() && a.revision == revision, |a| {
///             *a = StoredAccount {
///                 revision: a.revision + 1,
///                 security_revision: a.security_revision + 1,
///                 ..StoredAccount::default()
///             };
///         }))
///     }
///     async fn compare_and_set_throttle(&self, user: &str, expected: Throttle, new: Throttle) -> Result<bool, Self::Error> {
///         Ok(self.write(user, |a| a.throttle == expected, |a| a.throttle = new))
///     }
///     async fn forget_user(&self, user: &str) -> Result<bool, Self::Error> {
///         let mut tables = self.0.lock().unwrap();
///         tables.consumed.retain(|(owner, _)| owner != user);
///         let account = tables.accounts.entry(user.to_owned()).or_default();
///         let had = account.credential.is_some() || account.throttle != Throttle::default();
///         *account = StoredAccount {
///             revision: account.revision + 1,
///             security_revision: account.security_revision + 1,
///             ..StoredAccount::default()
///         };
///         Ok(had)
///     }
///     async fn is_consumed(&self, user: &str, id: StateId, _now: u64) -> Result<bool, Self::Error> {
///         Ok(self.0.lock().unwrap().consumed.contains(&(user.to_owned(), id)))
///     }
///     async fn consume_state(&self, user: &str, state: ConsumedState, _now: u64) -> Result<bool, Self::Error> {
///         Ok(self.0.lock().unwrap().consumed.insert((user.to_owned(), state.id)))
///     }
///     async fn org_policy(&self, org: &str) -> Result<StoredOrgPolicy, Self::Error> {
///         Ok(self.0.lock().unwrap().policies.get(org).cloned().unwrap_or_default())
///     }
///     async fn compare_and_set_org_policy(&self, org: &str, revision: u64, new: OrgPolicy, _: &[AuditEvent]) -> Result<bool, Self::Error> {
///         let mut tables = self.0.lock().unwrap();
///         let stored = tables.policies.entry(org.to_owned()).or_default();
///         if stored.revision != revision { return Ok(false) }
///         *stored = StoredOrgPolicy { policy: Some(new), revision: revision + 1 };
///         Ok(true)
///     }
/// }
/// ```
pub trait Store: Send + Sync {
    /// A backend failure: any error type, or a [`BoxError`] as it is.
    type Error: Into<BoxError> + core::fmt::Debug + Send + 'static;

    /// The user's credential, failure counters and revision, read together.
    fn account(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<StoredAccount, Self::Error>> + Send;

    /// The accounts of many users, in the order asked. The provided method reads them one by
    /// one; a database answers it in one query.
    fn accounts(
        &self,
        users: &[&str],
    ) -> impl Future<Output = Result<Vec<StoredAccount>, Self::Error>> + Send {
        async move {
            let mut accounts = Vec::with_capacity(users.len());
            for user in users {
                accounts.push(self.account(user).await?);
            }
            Ok(accounts)
        }
    }

    /// The user's credential, if two-step verification is on.
    fn credential(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Option<CredentialRecord>, Self::Error>> + Send {
        async move { Ok(self.account(user).await?.credential) }
    }

    /// Stores a new credential if the user has none **and** the revision is still `revision`,
    /// and moves the revision and the security revision on; otherwise changes nothing
    /// (`Ok(false)`).
    fn create_credential(
        &self,
        user: &str,
        revision: u64,
        record: CredentialRecord,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Signs in with a TOTP code: sets the last accepted step to `write.step`, the counters to
    /// `write.new` and the completed states to `write.completed`, and moves the revision on
    /// (`Ok(true)`) — if the user has a credential, the revision is still `write.revision`,
    /// the step is unset or lower than `write.step` **and** the counters still equal
    /// `write.expected`; otherwise changes nothing (`Ok(false)`).
    fn accept_step(
        &self,
        user: &str,
        write: AcceptStep,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Replaces the recovery codes with `new` — and, for a sign-in with a recovery code, the
    /// completed states with `completed` — if the user has a credential and the revision is
    /// still `revision`, and moves the revision on. A re-issue (`completed` is `None`) moves
    /// the security revision on too; a sign-in does not.
    fn replace_recovery_codes(
        &self,
        user: &str,
        revision: u64,
        new: RecoveryCodeSet,
        completed: Option<Vec<ConsumedState>>,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Removes the credential — secret, recovery codes and replay state at once — if the
    /// revision is still `revision`, and moves the revision and the security revision on.
    /// The counters stay.
    fn remove_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Resets the user's second factor for an organisation's owner or admin: removes the
    /// credential — secret, recovery codes and replay state — sets the counters back to zero
    /// (a lock goes with them) and empties the completed states, all in one write, if the
    /// user has a credential and the revision is still `revision`; moves the revision and the
    /// security revision on.
    /// Otherwise changes nothing (`Ok(false)`): a sign-in or another change since the read
    /// wins, and the caller reads again. States recorded by [`Store::consume_state`] stay.
    fn reset_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Forgets everything stored for `user` — credential, counters and completed states — as
    /// when the account is deleted, or by an operator for a user who must enroll again. The
    /// revision and the security revision move on **always**, even for a user with nothing
    /// stored (a store that keeps
    /// rows keeps the id's row with just the revision): an id may be reused by a new account,
    /// and no pending state from before may complete for it. Returns whether a credential or
    /// counters were there.
    fn forget_user(&self, user: &str) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Whether `consume_state` recorded the state `id` of `user` (and has not forgotten it by
    /// `now`): a copy of a step that already passed is refused before it can count a guess.
    fn is_consumed(
        &self,
        user: &str,
        id: StateId,
        now: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Records that the pending state `state` of `user` completed (the wizard's email step):
    /// `Ok(true)` the first time, `Ok(false)` if it was recorded before. A record may be
    /// forgotten once it is [`forgettable`](ConsumedState::forgettable) at `now`.
    fn consume_state(
        &self,
        user: &str,
        state: ConsumedState,
        now: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The user's failure counters.
    fn throttle(&self, user: &str) -> impl Future<Output = Result<Throttle, Self::Error>> + Send {
        async move { Ok(self.account(user).await?.throttle) }
    }

    /// Replaces the counters with `new` if they still equal `expected`.
    fn compare_and_set_throttle(
        &self,
        user: &str,
        expected: Throttle,
        new: Throttle,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The organisation's 2FA policy and its revision.
    fn org_policy(
        &self,
        org: &str,
    ) -> impl Future<Output = Result<StoredOrgPolicy, Self::Error>> + Send;

    /// The policies of many organisations, in the order asked: what a sign-in reads for the
    /// user's organisations. The provided method reads them one by one; a database answers it
    /// in one query.
    fn org_policies(
        &self,
        orgs: &[&str],
    ) -> impl Future<Output = Result<Vec<StoredOrgPolicy>, Self::Error>> + Send {
        async move {
            let mut policies = Vec::with_capacity(orgs.len());
            for org in orgs {
                policies.push(self.org_policy(org).await?);
            }
            Ok(policies)
        }
    }

    /// Stores `new` as the organisation's policy and moves its revision on if the revision is
    /// still `revision` (`0`: none stored yet); otherwise changes nothing (`Ok(false)`).
    fn compare_and_set_org_policy(
        &self,
        org: &str,
        revision: u64,
        new: OrgPolicy,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Appends to the security log the events no write carries: an enable started, a failed
    /// attempt, a lock, an unlock. The provided method keeps nothing, as a store without a
    /// log does.
    fn record_events(
        &self,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = events;
        async { Ok(()) }
    }

    /// A page of the security log, newest first: a user's events (those of their factor and
    /// those they made as an actor) or an organisation's. The provided method answers none,
    /// as a store without a log does.
    fn events(
        &self,
        query: &EventQuery,
    ) -> impl Future<Output = Result<Vec<LoggedEvent>, Self::Error>> + Send {
        let _ = query;
        async { Ok(Vec::new()) }
    }
}

/// Whose events a page of the security log holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventsOf {
    /// A user's: their factor's, and the changes they made to others' (as the actor).
    User(String),
    /// An organisation's: its policy's changes and the resets made in it.
    Org(String),
}

/// A page of the security log to read ([`Store::events`]): newest first, at most `limit`
/// events, older than the event `before` (an id from the previous page) when set.
///
/// ```
/// use twostep_enrollment::EventQuery;
/// let first = EventQuery::user("alice", 20);
/// let next = EventQuery::user("alice", 20).before(118);
/// # let _ = (first, next);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventQuery {
    /// Whose events.
    pub of: EventsOf,
    /// Only events older than this one: the next page.
    pub before: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

impl EventQuery {
    /// The first page of `user`'s events.
    pub fn user(user: impl Into<String>, limit: u32) -> Self {
        Self {
            of: EventsOf::User(user.into()),
            before: None,
            limit,
        }
    }

    /// The first page of `org`'s events.
    pub fn org(org: impl Into<String>, limit: u32) -> Self {
        Self {
            of: EventsOf::Org(org.into()),
            before: None,
            limit,
        }
    }

    /// The page after the one that ended with the event `id`.
    #[must_use]
    pub fn before(mut self, id: u64) -> Self {
        self.before = Some(id);
        self
    }

    /// Whether `event` belongs on this query's pages (not counting `before` and `limit`).
    pub fn matches(&self, event: &AuditEvent) -> bool {
        match &self.of {
            EventsOf::User(user) => {
                event.user_id == *user || event.actor.as_deref() == Some(user.as_str())
            }
            EventsOf::Org(org) => event.org.as_deref() == Some(org.as_str()),
        }
    }
}

/// An event as the security log keeps it: with its id, which orders the log (a later event
/// has a greater id) and pages it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedEvent {
    /// The event's place in the log.
    pub id: u64,
    /// The event.
    pub event: AuditEvent,
}

impl LoggedEvent {
    /// `event` at `id`.
    pub fn new(id: u64, event: AuditEvent) -> Self {
        Self { id, event }
    }
}

/// Where users' organisation memberships come from: the application's own tables.
///
/// # Contract
///
/// Current data: a user who left an organisation is no longer listed; roles are mapped onto
/// [`twostep_policy::Role`].
///
/// ```
/// use twostep_enrollment::Directory;
/// use twostep_policy::{Membership, Role};
///
/// struct OneOrg;
/// impl Directory for OneOrg {
///     type Error = std::convert::Infallible;
///     async fn memberships(&self, user: &str) -> Result<Vec<Membership>, Self::Error> {
///         Ok(vec![Membership::new("acme", user, Role::Member, 0)])
///     }
///     async fn members(&self, org: &str) -> Result<Vec<Membership>, Self::Error> {
///         Ok(if org == "acme" { vec![Membership::new("acme", "alice", Role::Owner, 0)] } else { vec![] })
///     }
/// }
/// ```
pub trait Directory: Send + Sync {
    /// A backend failure: any error type, or a [`BoxError`] as it is.
    type Error: Into<BoxError> + core::fmt::Debug + Send + 'static;

    /// The organisations the user belongs to.
    fn memberships(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<Membership>, Self::Error>> + Send;

    /// The members of an organisation.
    fn members(
        &self,
        org: &str,
    ) -> impl Future<Output = Result<Vec<Membership>, Self::Error>> + Send;
}

/// What the user is told by mail.
#[derive(Debug)]
#[non_exhaustive]
pub enum Mail {
    /// The enable wizard's email code.
    EmailCode {
        /// The login email.
        to: String,
        /// The code, for the body only.
        code: EmailCode,
        /// When it expires (Unix time).
        expires_at: u64,
    },
    /// A security notice.
    Notice {
        /// The login email.
        to: String,
        /// What happened.
        notice: Notice,
    },
}

/// Security notices sent after the fact, over email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// Two-step verification was turned on.
    Enabled,
    /// Two-step verification was turned off.
    Disabled,
    /// New recovery codes replaced the old ones.
    RecoveryCodesReissued,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed {
        /// Unused codes left.
        remaining: usize,
    },
    /// Too many failed attempts locked two-step verification.
    LockedOut,
    /// An owner or admin of an organisation reset two-step verification: the account signs
    /// in with its password alone until it enrolls again (at once where a mandate requires
    /// it).
    Reset,
}

/// Sends mail.
///
/// # Contract
///
/// `send` delivers or queues the message before it returns `Ok`; it never logs the body of
/// an [`Mail::EmailCode`]. If the email code cannot be sent, that step fails and nothing is
/// written. Security notices go out after the write they report; a failed notice neither
/// undoes nor fails that step.
///
/// ```
/// use twostep_enrollment::{Mail, Mailer};
///
/// struct Console;
/// impl Mailer for Console {
///     type Error = std::convert::Infallible;
///     async fn send(&self, mail: Mail) -> Result<(), Self::Error> {
///         match mail {
///             Mail::EmailCode { to, code, .. } => println!("to {to}: your code is {}", code.expose()),
///             Mail::Notice { to, notice } => println!("to {to}: {notice:?}"),
///             _ => {}
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Mailer: Send + Sync {
    /// A delivery failure: any error type, or a [`BoxError`] as it is.
    type Error: Into<BoxError> + core::fmt::Debug + Send + 'static;

    /// Sends one message.
    fn send(&self, mail: Mail) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Checks a user's password again before re-issue and disable. Named apart from
/// `password_hash::PasswordVerifier`.
///
/// # Contract
///
/// `Ok(true)` only for the user's current password. It need not throttle: the service
/// counts wrong passwords in the shared budget.
///
/// ```
/// use twostep_enrollment::Reauthenticate;
///
/// struct Fixed;
/// impl Reauthenticate for Fixed {
///     type Error = std::convert::Infallible;
///     async fn verify_password(&self, user: &str, password: &str) -> Result<bool, Self::Error> {
///         Ok(user == "alice" && password == "correct horse")
///     }
/// }
/// ```
pub trait Reauthenticate: Send + Sync {
    /// A backend failure: any error type, or a [`BoxError`] as it is.
    type Error: Into<BoxError> + core::fmt::Debug + Send + 'static;

    /// Whether `password` is the user's password.
    fn verify_password(
        &self,
        user: &str,
        password: &str,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

/// Seals TOTP secrets at rest.
///
/// # Contract
///
/// `open(user, seal(user, s)) == s`; a ciphertext sealed for one user does not open for
/// another (the user id is associated data), and tampering is detected. Errors never carry
/// key or secret material.
///
/// ```
/// use twostep_enrollment::{BoxError, SealedSecret, Sealer};
/// use twostep_otp::Secret;
///
/// /// Stores the key as given: for tests only.
/// struct Plain;
/// impl Sealer for Plain {
///     fn seal(&self, _user: &str, secret: &Secret) -> Result<SealedSecret, BoxError> {
///         Ok(SealedSecret { key_id: "plain".into(), ciphertext: secret.expose_bytes().to_vec() })
///     }
///     fn open(&self, _user: &str, sealed: &SealedSecret) -> Result<Secret, BoxError> {
///         Ok(Secret::from_bytes(&sealed.ciphertext)?)
///     }
/// }
/// ```
pub trait Sealer: Send + Sync {
    /// Seals `secret` for `user`.
    ///
    /// # Errors
    /// A backend failure.
    fn seal(&self, user: &str, secret: &Secret) -> Result<SealedSecret, BoxError>;

    /// Opens a sealed secret of `user`.
    ///
    /// # Errors
    /// A wrong key, another user's ciphertext, or tampering.
    fn open(&self, user: &str, sealed: &SealedSecret) -> Result<Secret, BoxError>;

    /// Whether `sealed` was sealed under the current key. Stores re-seal the others when asked
    /// to rotate; a sealer without key rotation keeps the default, `true`.
    fn is_current(&self, sealed: &SealedSecret) -> bool {
        let _ = sealed;
        true
    }
}

/// Audit events: every change to a user's second factor. They carry no secret, code or
/// recovery code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEvent {
    /// Whose factor — or, for a change to an organisation's settings, who made it.
    pub user_id: String,
    /// When (Unix time).
    pub at: u64,
    /// What happened.
    pub kind: AuditKind,
    /// Who made the change when it was not `user_id` themselves: the owner or admin who
    /// reset a member's second factor.
    pub actor: Option<String>,
    /// The organisation the change was made in: a mandate's changes, a reset.
    pub org: Option<String>,
    /// The client's address, where the application passed it ([`Client`]).
    pub ip: Option<std::net::IpAddr>,
    /// The client's user agent, where the application passed it ([`Client`]), at most
    /// [`Client::MAX_USER_AGENT`] bytes.
    pub user_agent: Option<String>,
}

impl AuditEvent {
    /// An event of `kind` for `user_id` at `at`, with no actor, organisation or client: what a
    /// store reading its log starts from.
    pub fn new(user_id: impl Into<String>, kind: AuditKind, at: u64) -> Self {
        Self {
            user_id: user_id.into(),
            at,
            kind,
            actor: None,
            org: None,
            ip: None,
            user_agent: None,
        }
    }
}

/// The client of the request under way, as the security log keeps it: its address and user
/// agent. The application sets it around one request's calls with [`Client::scope`]; the
/// events the service records inside carry it ([`AuditEvent::ip`],
/// [`AuditEvent::user_agent`]). Outside a scope, events carry neither.
///
/// ```
/// # async fn handle() {}
/// # async fn request() {
/// use twostep_enrollment::Client;
/// let client = Client::new(Some([203, 0, 113, 7].into()), Some("Mozilla/5.0"));
/// client.scope(handle()).await;
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Client {
    /// The client's address, as the application determined it (behind a proxy, from the
    /// header the proxy sets — never one a client could forge).
    pub ip: Option<std::net::IpAddr>,
    /// The `User-Agent` header, cut to [`Client::MAX_USER_AGENT`] bytes.
    pub user_agent: Option<String>,
}

tokio::task_local! {
    static CLIENT: Client;
}

impl Client {
    /// The longest user agent kept, in bytes: a header of any length costs the log no more.
    pub const MAX_USER_AGENT: usize = 256;

    /// A client at `ip` with `user_agent`, cut at a character boundary to
    /// [`Client::MAX_USER_AGENT`] bytes.
    pub fn new(ip: Option<std::net::IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent.map(|agent| {
            let mut end = agent.len().min(Self::MAX_USER_AGENT);
            while !agent.is_char_boundary(end) {
                end -= 1;
            }
            agent.get(..end).unwrap_or_default().to_owned()
        });
        Self { ip, user_agent }
    }

    /// Runs `work` — the service calls of one request — with this client as the one its
    /// events carry.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CLIENT.scope(self, work).await
    }

    /// The client of the scope under way, if any.
    pub(crate) fn current() -> Self {
        CLIENT.try_with(Self::clone).unwrap_or_default()
    }
}

/// What an [`AuditEvent`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditKind {
    /// The enable wizard started (an email code was sent).
    EnableStarted,
    /// Two-step verification was turned on.
    Enabled,
    /// A login passed the second step with a TOTP code.
    LoginWithCode,
    /// A login passed the second step with a recovery code.
    LoginWithRecoveryCode,
    /// A second-step attempt failed.
    SecondStepFailed,
    /// A TOTP code was replayed.
    ReplayDetected,
    /// The account hit the failure limit.
    Locked,
    /// An operator lifted a lock.
    Unlocked,
    /// New recovery codes replaced the old ones.
    RecoveryCodesReissued,
    /// Two-step verification was turned off.
    Disabled,
    /// An owner or admin (`actor`) of an organisation (`org`) reset the user's second
    /// factor: secret, recovery codes and counters removed.
    Reset,
    /// An organisation's 2FA mandate was switched on (`user_id` is the actor, `org` the
    /// organisation).
    MandateSet,
    /// An organisation's grace period was changed (`user_id` is the actor, `org` the
    /// organisation).
    MandateGraceChanged,
    /// An organisation's 2FA mandate was switched off (`user_id` is the actor, `org` the
    /// organisation).
    MandateCleared,
}
impl AuditKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 14] = [
        Self::EnableStarted,
        Self::Enabled,
        Self::LoginWithCode,
        Self::LoginWithRecoveryCode,
        Self::SecondStepFailed,
        Self::ReplayDetected,
        Self::Locked,
        Self::Unlocked,
        Self::RecoveryCodesReissued,
        Self::Disabled,
        Self::Reset,
        Self::MandateSet,
        Self::MandateGraceChanged,
        Self::MandateCleared,
    ];

    /// The kind's stable name, in `snake_case`: what a stored log keeps and a JSON view shows.
    ///
    /// ```
    /// use twostep_enrollment::AuditKind;
    /// assert_eq!(AuditKind::LoginWithRecoveryCode.name(), "login_with_recovery_code");
    /// assert_eq!(AuditKind::from_name("reset"), Some(AuditKind::Reset));
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Self::EnableStarted => "enable_started",
            Self::Enabled => "enabled",
            Self::LoginWithCode => "login_with_code",
            Self::LoginWithRecoveryCode => "login_with_recovery_code",
            Self::SecondStepFailed => "second_step_failed",
            Self::ReplayDetected => "replay_detected",
            Self::Locked => "locked",
            Self::Unlocked => "unlocked",
            Self::RecoveryCodesReissued => "recovery_codes_reissued",
            Self::Disabled => "disabled",
            Self::Reset => "reset",
            Self::MandateSet => "mandate_set",
            Self::MandateGraceChanged => "mandate_grace_changed",
            Self::MandateCleared => "mandate_cleared",
        }
    }

    /// The kind named `name` ([`AuditKind::name`]); `None` for a name this version does not
    /// know.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "enable_started" => Self::EnableStarted,
            "enabled" => Self::Enabled,
            "login_with_code" => Self::LoginWithCode,
            "login_with_recovery_code" => Self::LoginWithRecoveryCode,
            "second_step_failed" => Self::SecondStepFailed,
            "replay_detected" => Self::ReplayDetected,
            "locked" => Self::Locked,
            "unlocked" => Self::Unlocked,
            "recovery_codes_reissued" => Self::RecoveryCodesReissued,
            "disabled" => Self::Disabled,
            "reset" => Self::Reset,
            "mandate_set" => Self::MandateSet,
            "mandate_grace_changed" => Self::MandateGraceChanged,
            "mandate_cleared" => Self::MandateCleared,
            _ => return None,
        })
    }
}

/// Where audit events go.
///
/// # Contract
///
/// `record` does not block for long and does not fail the flow: buffer or drop on trouble.
///
/// ```
/// use twostep_enrollment::{AuditEvent, AuditLog};
/// struct Stderr;
/// impl AuditLog for Stderr {
///     fn record(&self, event: AuditEvent) {
///         eprintln!("2fa: {} {:?} at {}", event.user_id, event.kind, event.at);
///     }
/// }
/// ```
pub trait AuditLog: Send + Sync {
    /// Records one event.
    fn record(&self, event: AuditEvent);
}

/// The time, in Unix seconds.
///
/// # Contract
///
/// The server's clock, never a time a client sent. Need not be monotonic.
///
/// ```
/// use twostep_enrollment::{Clock, SystemClock};
/// assert!(SystemClock.now() > 1_700_000_000);
/// ```
pub trait Clock: Send + Sync {
    /// Now, in Unix seconds.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
    }
}

// Shared handles work wherever the trait does, so one store or mailer can serve the service
// and the rest of the application.

impl<T: Store + ?Sized> Store for std::sync::Arc<T> {
    type Error = T::Error;

    fn account(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<StoredAccount, Self::Error>> + Send {
        (**self).account(user)
    }

    fn accounts(
        &self,
        users: &[&str],
    ) -> impl Future<Output = Result<Vec<StoredAccount>, Self::Error>> + Send {
        (**self).accounts(users)
    }

    fn credential(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Option<CredentialRecord>, Self::Error>> + Send {
        (**self).credential(user)
    }

    fn create_credential(
        &self,
        user: &str,
        revision: u64,
        record: CredentialRecord,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).create_credential(user, revision, record, events)
    }

    fn accept_step(
        &self,
        user: &str,
        write: AcceptStep,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).accept_step(user, write, events)
    }

    fn replace_recovery_codes(
        &self,
        user: &str,
        revision: u64,
        new: RecoveryCodeSet,
        completed: Option<Vec<ConsumedState>>,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).replace_recovery_codes(user, revision, new, completed, events)
    }

    fn remove_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).remove_credential(user, revision, events)
    }

    fn reset_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).reset_credential(user, revision, events)
    }

    fn forget_user(&self, user: &str) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).forget_user(user)
    }

    fn record_events(
        &self,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).record_events(events)
    }

    fn events(
        &self,
        query: &EventQuery,
    ) -> impl Future<Output = Result<Vec<LoggedEvent>, Self::Error>> + Send {
        (**self).events(query)
    }

    fn is_consumed(
        &self,
        user: &str,
        id: StateId,
        now: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).is_consumed(user, id, now)
    }

    fn consume_state(
        &self,
        user: &str,
        state: ConsumedState,
        now: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).consume_state(user, state, now)
    }

    fn throttle(&self, user: &str) -> impl Future<Output = Result<Throttle, Self::Error>> + Send {
        (**self).throttle(user)
    }

    fn compare_and_set_throttle(
        &self,
        user: &str,
        expected: Throttle,
        new: Throttle,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).compare_and_set_throttle(user, expected, new)
    }

    fn org_policy(
        &self,
        org: &str,
    ) -> impl Future<Output = Result<StoredOrgPolicy, Self::Error>> + Send {
        (**self).org_policy(org)
    }

    fn org_policies(
        &self,
        orgs: &[&str],
    ) -> impl Future<Output = Result<Vec<StoredOrgPolicy>, Self::Error>> + Send {
        (**self).org_policies(orgs)
    }

    fn compare_and_set_org_policy(
        &self,
        org: &str,
        revision: u64,
        new: OrgPolicy,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).compare_and_set_org_policy(org, revision, new, events)
    }
}

impl<T: Sealer + ?Sized> Sealer for std::sync::Arc<T> {
    fn seal(&self, user: &str, secret: &Secret) -> Result<SealedSecret, BoxError> {
        (**self).seal(user, secret)
    }

    fn open(&self, user: &str, sealed: &SealedSecret) -> Result<Secret, BoxError> {
        (**self).open(user, sealed)
    }

    fn is_current(&self, sealed: &SealedSecret) -> bool {
        (**self).is_current(sealed)
    }
}

impl<T: AuditLog + ?Sized> AuditLog for std::sync::Arc<T> {
    fn record(&self, event: AuditEvent) {
        (**self).record(event);
    }
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

impl<T: Directory + ?Sized> Directory for std::sync::Arc<T> {
    type Error = T::Error;

    fn memberships(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<Membership>, Self::Error>> + Send {
        (**self).memberships(user)
    }

    fn members(
        &self,
        org: &str,
    ) -> impl Future<Output = Result<Vec<Membership>, Self::Error>> + Send {
        (**self).members(org)
    }
}

impl<T: Mailer + ?Sized> Mailer for std::sync::Arc<T> {
    type Error = T::Error;

    fn send(&self, mail: Mail) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).send(mail)
    }
}

impl<T: Reauthenticate + ?Sized> Reauthenticate for std::sync::Arc<T> {
    type Error = T::Error;

    fn verify_password(
        &self,
        user: &str,
        password: &str,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        (**self).verify_password(user, password)
    }
}
