//! In-memory implementations of every application trait, for tests, examples and the demo
//! (feature `test-util`). They keep the [`Store`] contract with one mutex; they are not for
//! production: nothing survives a restart, and [`PlaintextSealer`] does not encrypt.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use twostep_otp::Secret;
use twostep_policy::{Membership, OrgPolicy};
use twostep_recovery::RecoveryCodeSet;

use crate::app::{
    AcceptStep, AuditEvent, AuditLog, BoxError, Clock, ConsumedState, CredentialRecord, Directory,
    EventQuery, LoggedEvent, Mail, Mailer, Reauthenticate, SealedSecret, Sealer, StateId, Store,
    StoredAccount, StoredOrgPolicy,
};
use crate::email_code::EmailCode;
use crate::throttle::Throttle;

/// A mutex was poisoned by a panic in another thread.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("the in-memory store's lock was poisoned")]
pub struct Poisoned;

#[derive(Default)]
struct Tables {
    accounts: HashMap<String, StoredAccount>,
    consumed: HashMap<(String, StateId), ConsumedState>,
    policies: HashMap<String, StoredOrgPolicy>,
    /// The security log, oldest first; an event's id is its place plus one.
    events: Vec<LoggedEvent>,
}

impl Tables {
    fn log(&mut self, events: &[AuditEvent]) {
        for event in events {
            let id = self.events.len() as u64 + 1;
            self.events.push(LoggedEvent::new(id, event.clone()));
        }
    }
}

/// A [`Store`] in `HashMap`s behind one mutex.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Tables) -> T) -> Result<T, Poisoned> {
        let mut tables = self.tables.lock().map_err(|_| Poisoned)?;
        Ok(f(&mut tables))
    }

    /// Applies `write` to the user's account and logs `events` if `condition` holds on it;
    /// says whether it did.
    fn write_if(
        &self,
        user: &str,
        condition: impl FnOnce(&StoredAccount) -> bool,
        write: impl FnOnce(&mut StoredAccount),
        events: &[AuditEvent],
    ) -> Result<bool, Poisoned> {
        self.with(|t| {
            let account = t.accounts.entry(user.to_owned()).or_default();
            let holds = condition(account);
            if holds {
                write(account);
                t.log(events);
            }
            holds
        })
    }
}

impl Store for MemoryStore {
    type Error = Poisoned;

    async fn account(&self, user: &str) -> Result<StoredAccount, Poisoned> {
        self.with(|t| t.accounts.get(user).cloned().unwrap_or_default())
    }

    async fn create_credential(
        &self,
        user: &str,
        revision: u64,
        record: CredentialRecord,
        events: &[AuditEvent],
    ) -> Result<bool, Poisoned> {
        self.write_if(
            user,
            |account| account.credential.is_none() && account.revision == revision,
            |account| {
                account.credential = Some(record);
                account.revision += 1;
                account.security_revision += 1;
            },
            events,
        )
    }

    async fn accept_step(
        &self,
        user: &str,
        write: AcceptStep,
        events: &[AuditEvent],
    ) -> Result<bool, Poisoned> {
        let step = write.step;
        self.write_if(
            user,
            |account| {
                account.revision == write.revision
                    && account.throttle == write.expected
                    && account.credential.as_ref().is_some_and(|record| {
                        record.last_accepted_step.is_none_or(|last| last < step)
                    })
            },
            |account| {
                if let Some(record) = account.credential.as_mut() {
                    record.last_accepted_step = Some(step);
                }
                account.throttle = write.new;
                account.completed = write.completed;
                account.revision += 1;
            },
            events,
        )
    }

    async fn replace_recovery_codes(
        &self,
        user: &str,
        revision: u64,
        new: RecoveryCodeSet,
        completed: Option<Vec<ConsumedState>>,
        events: &[AuditEvent],
    ) -> Result<bool, Poisoned> {
        self.write_if(
            user,
            |account| account.credential.is_some() && account.revision == revision,
            |account| {
                if let Some(record) = account.credential.as_mut() {
                    record.recovery_codes = new;
                }
                match completed {
                    Some(completed) => account.completed = completed,
                    // A re-issue, not a sign-in.
                    None => account.security_revision += 1,
                }
                account.revision += 1;
            },
            events,
        )
    }

    async fn remove_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, Poisoned> {
        self.write_if(
            user,
            |account| account.credential.is_some() && account.revision == revision,
            |account| {
                account.credential = None;
                account.revision += 1;
                account.security_revision += 1;
            },
            events,
        )
    }

    async fn reset_credential(
        &self,
        user: &str,
        revision: u64,
        events: &[AuditEvent],
    ) -> Result<bool, Poisoned> {
        self.write_if(
            user,
            |account| account.credential.is_some() && account.revision == revision,
            |account| {
                *account = StoredAccount {
                    revision: account.revision + 1,
                    security_revision: account.security_revision + 1,
                    ..StoredAccount::default()
                };
            },
            events,
        )
    }

    async fn forget_user(&self, user: &str) -> Result<bool, Poisoned> {
        self.with(|t| {
            t.consumed.retain(|(owner, _), _| owner != user);
            let account = t.accounts.entry(user.to_owned()).or_default();
            let had = account.credential.is_some() || account.throttle != Throttle::default();
            *account = StoredAccount {
                revision: account.revision.saturating_add(1),
                security_revision: account.security_revision.saturating_add(1),
                ..StoredAccount::default()
            };
            had
        })
    }

    async fn is_consumed(&self, user: &str, id: StateId, now: u64) -> Result<bool, Poisoned> {
        self.with(|t| {
            t.consumed
                .get(&(user.to_owned(), id))
                .is_some_and(|recorded| !recorded.forgettable(now))
        })
    }

    async fn consume_state(
        &self,
        user: &str,
        state: ConsumedState,
        now: u64,
    ) -> Result<bool, Poisoned> {
        self.with(|t| {
            t.consumed.retain(|_, recorded| !recorded.forgettable(now));
            match t.consumed.entry((user.to_owned(), state.id)) {
                Entry::Occupied(_) => false,
                Entry::Vacant(entry) => {
                    entry.insert(state);
                    true
                }
            }
        })
    }

    async fn compare_and_set_throttle(
        &self,
        user: &str,
        expected: Throttle,
        new: Throttle,
    ) -> Result<bool, Poisoned> {
        self.write_if(
            user,
            |account| account.throttle == expected,
            |account| account.throttle = new,
            &[],
        )
    }

    async fn org_policy(&self, org: &str) -> Result<StoredOrgPolicy, Poisoned> {
        self.with(|t| t.policies.get(org).cloned().unwrap_or_default())
    }

    async fn org_policies(&self, orgs: &[&str]) -> Result<Vec<StoredOrgPolicy>, Poisoned> {
        self.with(|t| {
            orgs.iter()
                .map(|org| t.policies.get(*org).cloned().unwrap_or_default())
                .collect()
        })
    }

    async fn compare_and_set_org_policy(
        &self,
        org: &str,
        revision: u64,
        new: OrgPolicy,
        events: &[AuditEvent],
    ) -> Result<bool, Poisoned> {
        self.with(|t| {
            let stored = t.policies.entry(org.to_owned()).or_default();
            if stored.revision != revision {
                return false;
            }
            *stored = StoredOrgPolicy {
                policy: Some(new),
                revision: revision.saturating_add(1),
            };
            t.log(events);
            true
        })
    }

    async fn record_events(&self, events: &[AuditEvent]) -> Result<(), Poisoned> {
        self.with(|t| t.log(events))
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<LoggedEvent>, Poisoned> {
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        self.with(|t| {
            t.events
                .iter()
                .rev()
                .filter(|logged| query.before.is_none_or(|before| logged.id < before))
                .filter(|logged| query.matches(&logged.event))
                .take(limit)
                .cloned()
                .collect()
        })
    }
}

/// A [`Mailer`] that keeps what it sends, for tests and the demo's "sent mail" view.
#[derive(Default)]
pub struct RecordingMailer {
    sent: Mutex<Vec<Mail>>,
}

impl RecordingMailer {
    /// Takes the mail sent so far.
    pub fn take(&self) -> Vec<Mail> {
        self.sent
            .lock()
            .map(|mut sent| std::mem::take(&mut *sent))
            .unwrap_or_default()
    }

    /// The newest email code sent to `to`, if any (and forgets the mail before it).
    pub fn last_email_code(&self, to: &str) -> Option<EmailCode> {
        self.take().into_iter().rev().find_map(|mail| match mail {
            Mail::EmailCode {
                to: recipient,
                code,
                ..
            } if recipient == to => Some(code),
            _ => None,
        })
    }
}

impl Mailer for RecordingMailer {
    type Error = Poisoned;

    async fn send(&self, mail: Mail) -> Result<(), Poisoned> {
        self.sent.lock().map_err(|_| Poisoned)?.push(mail);
        Ok(())
    }
}

/// Passwords in a map: a [`Reauthenticate`] for tests.
#[derive(Default)]
pub struct FixedPasswords {
    passwords: HashMap<String, String>,
}

impl FixedPasswords {
    /// With `user`'s password set.
    #[must_use]
    pub fn with(mut self, user: &str, password: &str) -> Self {
        self.passwords.insert(user.to_owned(), password.to_owned());
        self
    }
}

impl Reauthenticate for FixedPasswords {
    type Error = std::convert::Infallible;

    async fn verify_password(&self, user: &str, password: &str) -> Result<bool, Self::Error> {
        Ok(self
            .passwords
            .get(user)
            .is_some_and(|known| known == password))
    }
}

/// A [`Sealer`] that stores the key as given. For tests only: it does not encrypt.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlaintextSealer;

impl Sealer for PlaintextSealer {
    fn seal(&self, _user: &str, secret: &Secret) -> Result<SealedSecret, BoxError> {
        Ok(SealedSecret {
            key_id: "plaintext".to_owned(),
            ciphertext: secret.expose_bytes().to_vec(),
        })
    }

    fn open(&self, _user: &str, sealed: &SealedSecret) -> Result<Secret, BoxError> {
        Ok(Secret::from_bytes(&sealed.ciphertext)?)
    }
}

/// An [`AuditLog`] that keeps the events.
#[derive(Default)]
pub struct RecordingAudit {
    events: Mutex<Vec<AuditEvent>>,
}

impl RecordingAudit {
    /// The events so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events
            .lock()
            .map(|events| events.clone())
            .unwrap_or_default()
    }
}

impl AuditLog for RecordingAudit {
    fn record(&self, event: AuditEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

/// A [`Clock`] the test sets.
#[derive(Debug, Default)]
pub struct SettableClock {
    now: AtomicU64,
}

impl SettableClock {
    /// A clock at `now`.
    pub fn at(now: u64) -> Self {
        Self {
            now: AtomicU64::new(now),
        }
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: u64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for SettableClock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// Memberships in a list: a [`Directory`] for tests and the demo.
#[derive(Default)]
pub struct MemoryDirectory {
    memberships: Mutex<Vec<Membership>>,
}

impl MemoryDirectory {
    /// Adds (or replaces) a membership.
    pub fn join(&self, membership: Membership) {
        if let Ok(mut all) = self.memberships.lock() {
            all.retain(|m| !(m.org_id == membership.org_id && m.user_id == membership.user_id));
            all.push(membership);
        }
    }

    /// Removes a user from an organisation.
    pub fn leave(&self, org: &str, user: &str) {
        if let Ok(mut all) = self.memberships.lock() {
            all.retain(|m| !(m.org_id == org && m.user_id == user));
        }
    }
}

impl Directory for MemoryDirectory {
    type Error = Poisoned;

    async fn memberships(&self, user: &str) -> Result<Vec<Membership>, Poisoned> {
        let all = self.memberships.lock().map_err(|_| Poisoned)?;
        Ok(all.iter().filter(|m| m.user_id == user).cloned().collect())
    }

    async fn members(&self, org: &str) -> Result<Vec<Membership>, Poisoned> {
        let all = self.memberships.lock().map_err(|_| Poisoned)?;
        Ok(all.iter().filter(|m| m.org_id == org).cloned().collect())
    }
}
