//! The async [`Service`]: drives the machines against the application's traits.
//!
//! It owns no state besides its collaborators and policies. The pending state of each flow
//! (an [`EmailCodeSent`], a [`LoginChallenge`], …) is handed back to the caller, which keeps
//! it — sealed ([`Service::seal`]), in its session — and passes it to the next call. What the
//! service adds to the machines:
//!
//! - **Every flow completes at most once.** The write that completes a flow is conditional
//!   on what the flow is bound to: the wizard on the account's revision when it began, a
//!   sign-in on the revision it read (recording its challenge as spent in the same write), a
//!   re-issue on the issue of codes it replaces, a disable on its credential's fingerprint
//!   and the revision it read with the code, the wizard's email step on its own id
//!   ([`Store::consume_state`]). A state completed, then cloned, sealed and opened again or
//!   raced, gets a typed error — [`ServiceError::Replayed`], or `AlreadyEnabled` /
//!   `NotEnabled` when the copy's own flow already changed the account — and changes
//!   nothing.
//! - **N concurrent guesses never get more than the budget's worth of answers.** Email codes,
//!   recovery codes and passwords are reserved before they are checked: a failure is recorded
//!   with a compare-and-set first and given back when the machine says the attempt did not
//!   count. TOTP codes, cheap to check, are settled optimistically: the step and the counters
//!   are written together only if the counters are still as read, and no outcome is reported
//!   before such a write.
//! - **Argon2 never runs on the async workers.** Recovery codes are hashed and checked on
//!   the service's own [`HashingThreads`](crate::HashingThreads), at most
//!   [`ServiceBuilder::max_concurrent_hashes`] at once (each holding one memory block of
//!   19 MiB by default, kept between evaluations) and one per user at a time, below the
//!   priority of the rest of the process. So a flood of recovery-code guesses neither stalls
//!   other requests nor grows memory, and one user's guesses hold at most one of the permits
//!   everyone shares.
//! - Mail, audit events and sealing happen at the right moment, and only after the write
//!   they report.
//!
//! It does not keep sessions, check first passwords, or rate-limit by IP address: those stay
//! with the application.

// Refusals hand the pending state back by value, like the machines do.
#![allow(clippy::result_large_err)]

mod disable;
mod enable;
mod hashing;
mod log;
mod login;
mod mandate;
mod reissue;
mod reset;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rand_core::UnwrapErr;
use twostep_otp::{Rejection, Secret, UriError};
use twostep_recovery::{RedeemError, SetError};

use crate::app::{
    AuditEvent, AuditKind, AuditLog, BoxError, Client, Clock, ConsumedState, CredentialRecord,
    Directory, Mail, Mailer, Notice, Reauthenticate, SealedSecret, Sealer, StateId, Store,
    StoredAccount, SystemClock,
};
use crate::disable::DisableError;
use crate::email_code::EmailCodeError;
use crate::enable::Account;
use crate::enable::EnableError;
use crate::login::LoginError;
use crate::policies::Policies;
use crate::reissue::ReissueError;
use crate::sealed::StateKey;
use crate::throttle::{Locked, PasswordRefused, Throttle, ThrottlePolicy};
use hashing::{HashingPool, Turn};
use twostep_policy::{DisableRefused, Membership};

pub use enable::EMAIL_CODES_PER_COOLDOWN;
use login::Purpose;
pub use login::{EnrollmentReminder, LoginStep, RecoveryCodesLeft, SignedIn};

#[cfg(doc)]
use crate::{enable::EmailCodeSent, login::LoginChallenge};

/// How often a conditional write is retried under contention before giving up: enough for a
/// hundred concurrent requests, few enough that contention cannot amplify one request into
/// thousands of queries.
const MAX_RETRIES: usize = 128;

/// The collaborator a [`ServiceError::Backend`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Collaborator {
    /// The [`Store`].
    Store,
    /// The [`Mailer`].
    Mail,
    /// The password check ([`Reauthenticate`]).
    Reauthenticate,
    /// The [`Sealer`].
    Seal,
    /// The [`Directory`] of organisations.
    Directory,
    /// The threads that hash recovery codes (a hashing job panicked, or they could not start).
    Hashing,
}

impl core::fmt::Display for Collaborator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Store => "the credential store",
            Self::Mail => "the mailer",
            Self::Reauthenticate => "the password check",
            Self::Seal => "the secret sealer",
            Self::Directory => "the organisation directory",
            Self::Hashing => "recovery-code hashing",
        })
    }
}

/// Why a service call did not go through. The texts are fit to show the user; the variants
/// carry what an application needs to say more (a deadline, attempts left).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The pending state outlived its lifetime: start the flow again.
    #[error("this step took too long; start again")]
    Expired,
    /// The pending state was completed already — by a copy of it, or a concurrent request —
    /// or two-step verification changed since it began: start the flow again.
    #[error("this step was already completed or is out of date; start again")]
    Replayed,
    /// The pending state belongs to another account than the one given.
    #[error("this step belongs to another account")]
    WrongUser,
    /// The sealed pending state does not open: edited, forged, another user's or another
    /// service's, from an older version, or sealed under a longer lifetime than the policies
    /// allow now. Start the flow again.
    #[error("this step cannot be continued; start again")]
    InvalidState,
    /// The user has two-step verification on already.
    #[error("two-step verification is already on")]
    AlreadyEnabled,
    /// The user does not have two-step verification on.
    #[error("two-step verification is not on")]
    NotEnabled,
    /// Too many failed attempts: until a time ([`Locked::Until`]), or until an operator
    /// unlocks it ([`Locked::Hard`], [`Service::unlock`]).
    #[error("{}", locked_text(.0))]
    Locked(Locked),
    /// The email code was wrong.
    #[error("the email code is wrong; {}", attempts_left_text(*.attempts_left))]
    WrongEmailCode {
        /// Attempts left for this code.
        attempts_left: u8,
    },
    /// The email code expired or ran out of attempts: send a new one (the wizard goes on).
    #[error("the email code has expired; send a new one")]
    EmailCodeExpired,
    /// A new email code may be sent only from `after` (Unix time).
    #[error("a new code was sent a moment ago; wait a minute before asking again")]
    ResendTooSoon {
        /// When a new code may be sent.
        after: u64,
    },
    /// The authenticator code was malformed, wrong or already used.
    #[error("the authentication code was not accepted: {0}")]
    Code(Rejection),
    /// The recovery code was malformed, wrong or already used.
    #[error("the recovery code was not accepted: {0}")]
    RecoveryCode(RedeemError),
    /// The password was wrong.
    #[error("the password is wrong")]
    WrongPassword,
    /// "Done" without ticking "I saved my recovery codes".
    #[error("save your recovery codes and confirm that you did")]
    NotSaved,
    /// An organisation requires two-step verification, so it cannot be turned off.
    #[error(transparent)]
    Mandated(#[from] DisableRefused),
    /// An organisation policy change was refused.
    #[error(transparent)]
    Policy(#[from] twostep_policy::Refusal),
    /// The configured issuer cannot appear in an authenticator app (see
    /// [`twostep_otp::KeyUri::totp`]): a configuration error.
    #[error("the setup screen cannot be shown: the issuer is not valid")]
    Issuer(#[source] UriError),
    /// Making recovery codes failed.
    #[error("the recovery codes could not be made")]
    RecoveryCodes(#[source] SetError),
    /// Concurrent requests kept changing the account; this one did nothing.
    #[error("another request changed two-step verification at the same time; try again")]
    Conflict,
    /// A collaborator failed; nothing was changed by this call beyond what its flow already
    /// reported.
    #[error("{collaborator} failed")]
    Backend {
        /// Which one.
        collaborator: Collaborator,
        /// Its error.
        #[source]
        source: crate::BoxError,
    },
}

fn attempts_left_text(left: u8) -> String {
    match left {
        1 => "1 attempt left".to_owned(),
        left => format!("{left} attempts left"),
    }
}

/// A wait in words, rounded up: "less than a minute", "1 minute", "14 minutes", "2 hours".
fn wait_text(seconds: u64) -> String {
    match seconds {
        0..60 => "less than a minute".to_owned(),
        60..3_600 => plural(seconds.div_ceil(60), "minute"),
        _ => plural(seconds.div_ceil(3_600), "hour"),
    }
}

/// `text` with its first letter in upper case.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn plural(count: u64, unit: &str) -> String {
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

fn locked_text(locked: &Locked) -> &'static str {
    match locked {
        Locked::Until(_) => "too many failed attempts; try again later",
        Locked::Hard => {
            "two-step verification is locked after too many failed attempts; ask support to unlock it"
        }
    }
}

impl ServiceError {
    fn backend(collaborator: Collaborator, error: impl Into<crate::BoxError>) -> Self {
        Self::Backend {
            collaborator,
            source: error.into(),
        }
    }

    fn store(error: impl Into<crate::BoxError>) -> Self {
        Self::backend(Collaborator::Store, error)
    }

    /// The error as a sentence to show the user: a capital, a full stop, plurals that agree,
    /// and for a lock or a resend cooldown the time left from `now` (the service's clock). A
    /// backend failure says only that nothing was changed: its cause is for the logs
    /// ([`Error::source`](std::error::Error::source)), never for the user.
    ///
    /// ```
    /// use twostep_enrollment::{Locked, ServiceError};
    ///
    /// let locked = ServiceError::Locked(Locked::Until(1_000 + 14 * 60));
    /// assert_eq!(locked.message(1_000), "Too many failed attempts. Try again in 14 minutes.");
    /// let wrong = ServiceError::WrongEmailCode { attempts_left: 1 };
    /// assert_eq!(wrong.message(0), "The email code is wrong. 1 attempt left.");
    /// ```
    pub fn message(&self, now: u64) -> String {
        match self {
            Self::Locked(Locked::Until(until)) => format!(
                "Too many failed attempts. Try again in {}.",
                wait_text(until.saturating_sub(now))
            ),
            Self::Locked(Locked::Hard) => "Two-step verification is locked after too many \
                failed attempts. Ask support to unlock it."
                .to_owned(),
            Self::WrongEmailCode { attempts_left } => format!(
                "The email code is wrong. {}.",
                sentence(&attempts_left_text(*attempts_left))
            ),
            Self::ResendTooSoon { after } => format!(
                "A new code was sent a moment ago. Ask for another in {}.",
                wait_text(after.saturating_sub(now))
            ),
            Self::Backend { .. } => {
                "Something went wrong on our side; nothing was changed. Try again.".to_owned()
            }
            other => format!("{}.", sentence(&other.to_string())),
        }
    }

    /// Whether the flow is over: the pending state cannot be used again.
    fn ends_flow(&self) -> bool {
        matches!(
            self,
            Self::Expired
                | Self::Replayed
                | Self::WrongUser
                | Self::InvalidState
                | Self::AlreadyEnabled
                | Self::NotEnabled
        )
    }
}

impl From<Locked> for ServiceError {
    fn from(locked: Locked) -> Self {
        Self::Locked(locked)
    }
}

impl From<PasswordRefused> for ServiceError {
    fn from(refused: PasswordRefused) -> Self {
        match refused {
            PasswordRefused::Locked(locked) => Self::Locked(locked),
            PasswordRefused::Wrong => Self::WrongPassword,
        }
    }
}

impl From<EmailCodeError> for ServiceError {
    fn from(error: EmailCodeError) -> Self {
        match error {
            EmailCodeError::Wrong { attempts_left } => Self::WrongEmailCode { attempts_left },
            EmailCodeError::Expired => Self::EmailCodeExpired,
            EmailCodeError::ResendTooSoon(after) => Self::ResendTooSoon { after },
        }
    }
}

impl From<EnableError> for ServiceError {
    fn from(error: EnableError) -> Self {
        match error {
            EnableError::Expired => Self::Expired,
            EnableError::EmailCode(error) => error.into(),
            EnableError::Locked(locked) => locked.into(),
            EnableError::Code(rejection) => Self::Code(rejection),
            EnableError::NotSaved => Self::NotSaved,
            EnableError::RecoveryCodes(error) => Self::RecoveryCodes(error),
            EnableError::Uri(error) => Self::Issuer(error),
        }
    }
}

impl From<LoginError> for ServiceError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Expired => Self::Expired,
            LoginError::WrongUser => Self::WrongUser,
            LoginError::Locked(locked) => locked.into(),
            LoginError::Code(rejection) => Self::Code(rejection),
            LoginError::RecoveryCode(error) => Self::RecoveryCode(error),
        }
    }
}

impl From<ReissueError> for ServiceError {
    fn from(error: ReissueError) -> Self {
        match error {
            ReissueError::WrongPassword => Self::WrongPassword,
            ReissueError::Locked(locked) => locked.into(),
            ReissueError::NotSaved => Self::NotSaved,
            ReissueError::Expired => Self::Expired,
            ReissueError::RecoveryCodes(error) => Self::RecoveryCodes(error),
        }
    }
}

impl From<DisableError> for ServiceError {
    fn from(error: DisableError) -> Self {
        match error {
            DisableError::WrongPassword => Self::WrongPassword,
            DisableError::Locked(locked) => locked.into(),
            DisableError::Code(error) => error.into(),
        }
    }
}

/// A refused step: the pending state to keep, if it is still usable, and why.
///
/// It is an [`Error`](std::error::Error) whose text is the reason's, so `?` passes it on;
/// `state` is `None` exactly when the flow must start again.
#[derive(Debug)]
#[non_exhaustive]
pub struct Refusal<S> {
    /// The state to pass to the next attempt; `None` when the flow must start again
    /// (expired, completed already, or the account changed meanwhile).
    pub state: Option<S>,
    /// Why.
    pub error: ServiceError,
}

impl<S> Refusal<S> {
    /// The state back, unless the error ends the flow.
    fn new(state: S, error: impl Into<ServiceError>) -> Self {
        let error = error.into();
        Self {
            state: (!error.ends_flow()).then_some(state),
            error,
        }
    }

    /// The flow is over.
    fn end(error: impl Into<ServiceError>) -> Self {
        Self {
            state: None,
            error: error.into(),
        }
    }

    /// The state back with `error` — or with the store's error, if settling the attempt's
    /// reservation failed first (`settled`).
    fn after(settled: Result<(), ServiceError>, state: S, error: impl Into<ServiceError>) -> Self {
        match settled {
            Ok(()) => Self::new(state, error),
            Err(failure) => Self::new(state, failure),
        }
    }
}

impl<S> From<ServiceError> for Refusal<S> {
    fn from(error: ServiceError) -> Self {
        Self::end(error)
    }
}

impl<S> core::fmt::Display for Refusal<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.error.fmt(f)
    }
}

impl<S: core::fmt::Debug> std::error::Error for Refusal<S> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The text is the error's own: its cause comes next, not the error again.
        std::error::Error::source(&self.error)
    }
}

impl<S> From<Refusal<S>> for ServiceError {
    /// The reason alone, for callers that drop the state on any refusal.
    fn from(refusal: Refusal<S>) -> Self {
        refusal.error
    }
}

/// A user's two-step verification at a glance, for settings pages and member lists. It
/// carries no secret and no code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// When two-step verification was turned on (Unix time); `None` while it is off.
    pub enabled_at: Option<u64>,
    /// Unused recovery codes (0 while off).
    pub recovery_codes_left: usize,
    /// Whether so few recovery codes are left that the user should re-issue them.
    pub recovery_codes_low: bool,
    /// Whether checks are refused now, and until when.
    pub locked: Option<Locked>,
    /// The security revision ([`StoredAccount::security_revision`]): it moves on when 2FA is
    /// enabled, its recovery codes re-issued, or it is disabled or reset — never with a
    /// sign-in. Keep the value a session signed in with, and sign the session out when it
    /// differs: a reset or a disable then ends the user's other sessions at their next
    /// request, on every server. With `axum-login`, mix it into
    /// `AuthUser::session_auth_hash`.
    ///
    /// ```
    /// # use twostep_enrollment::memory::{FixedPasswords, MemoryStore, RecordingMailer};
    /// # async fn check(
    /// #     service: &twostep_enrollment::Service<MemoryStore, RecordingMailer, FixedPasswords>,
    /// # ) -> Result<(), twostep_enrollment::ServiceError> {
    /// let signed_in_with = service.status("alice").await?.security_revision;
    /// // … at each later request of that session:
    /// if service.status("alice").await?.security_revision != signed_in_with {
    ///     // sign the session out
    /// }
    /// # Ok(()) }
    /// ```
    pub security_revision: u64,
}

impl Status {
    /// Whether two-step verification is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled_at.is_some()
    }

    fn of(account: &StoredAccount, throttle: &ThrottlePolicy, now: u64) -> Self {
        let credential = account.credential.as_ref();
        Self {
            enabled_at: credential.map(|c| c.enabled_at),
            recovery_codes_left: credential.map_or(0, |c| c.recovery_codes.remaining()),
            recovery_codes_low: credential.is_some_and(|c| c.recovery_codes.is_low()),
            locked: account.throttle.check(throttle, now).err(),
            security_revision: account.security_revision,
        }
    }
}

/// The organisations' directory of an application without organisations: nobody belongs to
/// any, so no mandate ever applies. The [`ServiceBuilder`]'s default.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOrganizations;

impl Directory for NoOrganizations {
    type Error = std::convert::Infallible;

    async fn memberships(&self, _user: &str) -> Result<Vec<Membership>, Self::Error> {
        Ok(Vec::new())
    }

    async fn members(&self, _org: &str) -> Result<Vec<Membership>, Self::Error> {
        Ok(Vec::new())
    }
}

/// Audit events as `tracing` events at `INFO` (target `twostep::audit`): the
/// [`ServiceBuilder`]'s default. They carry no secret. The ids are the application's and
/// may hold anything (an email address with a newline, a right-to-left override): it is
/// written escaped, so it can neither forge a log line nor reorder one on screen.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingAudit;

impl AuditLog for TracingAudit {
    fn record(&self, event: AuditEvent) {
        tracing::info!(
            target: "twostep::audit",
            user_id = %event.user_id.escape_debug(),
            kind = ?event.kind,
            actor = event.actor.as_deref().map(str::escape_debug).map(tracing::field::display),
            org = event.org.as_deref().map(str::escape_debug).map(tracing::field::display),
            at = event.at,
            "two-step verification event"
        );
    }
}

/// Builds a [`Service`]: the store and the sealer first, then the mailer and the password
/// check (both required: [`ServiceBuilder::build`] exists once they are set), and optionally
/// the rest.
///
/// Defaults: the system clock, no organisations ([`NoOrganizations`]), audit events to
/// `tracing` ([`TracingAudit`]), [`Policies::new`] with the issuer `"twostep"` (set yours with
/// [`ServiceBuilder::issuer`]), and as many concurrent Argon2 evaluations as the machine has
/// cores.
#[must_use = "a builder does nothing until built"]
pub struct ServiceBuilder<S, M, R, D> {
    store: S,
    mailer: M,
    reauth: R,
    directory: D,
    sealer: Arc<dyn Sealer>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    policies: Policies,
    max_concurrent_hashes: usize,
    state_key: StateKey,
}

impl<S: Store> Service<S, (), (), NoOrganizations> {
    /// Starts building a service over `store`, sealing TOTP secrets with `sealer`.
    ///
    /// ```
    /// use twostep_enrollment::memory::{FixedPasswords, MemoryStore, PlaintextSealer, RecordingMailer};
    /// use twostep_enrollment::Service;
    ///
    /// let service = Service::builder(MemoryStore::default(), PlaintextSealer)
    ///     .mailer(RecordingMailer::default())
    ///     .reauthenticate(FixedPasswords::default().with("alice", "correct horse"))
    ///     .issuer("DFINERY")
    ///     .build();
    /// assert_eq!(service.policies().issuer, "DFINERY");
    /// ```
    pub fn builder(
        store: S,
        sealer: impl Sealer + 'static,
    ) -> ServiceBuilder<S, (), (), NoOrganizations> {
        ServiceBuilder {
            store,
            mailer: (),
            reauth: (),
            directory: NoOrganizations,
            sealer: Arc::new(sealer),
            audit: Arc::new(TracingAudit),
            clock: Arc::new(SystemClock),
            policies: Policies::new("twostep"),
            max_concurrent_hashes: std::thread::available_parallelism()
                .map_or(1, |cores| (cores.get() / 2).max(1)),
            state_key: StateKey::generate(),
        }
    }
}

impl<S, M, R, D> ServiceBuilder<S, M, R, D> {
    /// Where email codes and security notices go.
    pub fn mailer<M2: Mailer>(self, mailer: M2) -> ServiceBuilder<S, M2, R, D> {
        ServiceBuilder {
            store: self.store,
            mailer,
            reauth: self.reauth,
            directory: self.directory,
            sealer: self.sealer,
            audit: self.audit,
            clock: self.clock,
            policies: self.policies,
            max_concurrent_hashes: self.max_concurrent_hashes,
            state_key: self.state_key,
        }
    }

    /// How passwords are checked again before re-issue and disable.
    pub fn reauthenticate<R2: Reauthenticate>(self, reauth: R2) -> ServiceBuilder<S, M, R2, D> {
        ServiceBuilder {
            store: self.store,
            mailer: self.mailer,
            reauth,
            directory: self.directory,
            sealer: self.sealer,
            audit: self.audit,
            clock: self.clock,
            policies: self.policies,
            max_concurrent_hashes: self.max_concurrent_hashes,
            state_key: self.state_key,
        }
    }

    /// Where organisation memberships come from, for mandates.
    pub fn directory<D2: Directory>(self, directory: D2) -> ServiceBuilder<S, M, R, D2> {
        ServiceBuilder {
            store: self.store,
            mailer: self.mailer,
            reauth: self.reauth,
            directory,
            sealer: self.sealer,
            audit: self.audit,
            clock: self.clock,
            policies: self.policies,
            max_concurrent_hashes: self.max_concurrent_hashes,
            state_key: self.state_key,
        }
    }

    /// Where audit events go.
    pub fn audit(mut self, audit: impl AuditLog + 'static) -> Self {
        self.audit = Arc::new(audit);
        self
    }

    /// The clock (tests set one; the default is the system clock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Every flow's policy at once.
    pub fn policies(mut self, policies: Policies) -> Self {
        self.policies = policies;
        self
    }

    /// The service name authenticator apps show, e.g. `DFINERY`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.policies.issuer = issuer.into();
        self
    }

    /// The key that seals pending states ([`Service::seal`]). Every server of one deployment
    /// needs the same key; without one, the service draws a random key, and its sealed states
    /// open only in this process.
    pub fn state_key(mut self, key: StateKey) -> Self {
        self.state_key = key;
        self
    }

    /// How many Argon2 evaluations (recovery codes) may run at once, each on a hashing thread
    /// that keeps the hash's memory cost; more wait their turn, and one user's wait for each
    /// other. At least 1; by default half the machine's cores (at least 1), so that hashing
    /// never takes every core from the requests that do not hash.
    pub fn max_concurrent_hashes(mut self, permits: usize) -> Self {
        self.max_concurrent_hashes = permits;
        self
    }
}

impl<S: Store, M: Mailer, R: Reauthenticate, D: Directory> ServiceBuilder<S, M, R, D> {
    /// The service.
    pub fn build(self) -> Service<S, M, R, D> {
        Service {
            store: Arc::new(self.store),
            mailer: self.mailer,
            reauth: self.reauth,
            directory: self.directory,
            sealer: self.sealer,
            audit: self.audit,
            clock: self.clock,
            policies: Arc::new(self.policies),
            hashing: HashingPool::new(self.max_concurrent_hashes),
            state_cipher: self.state_key.cipher(),
        }
    }
}

/// The flows, wired to the application. Build one with [`Service::builder`]; share it
/// (`Arc<Service<…>>`) between requests. Every method's future is `Send`.
pub struct Service<S, M, R, D = NoOrganizations> {
    store: Arc<S>,
    mailer: M,
    reauth: R,
    directory: D,
    sealer: Arc<dyn Sealer>,
    audit: Arc<dyn AuditLog>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policies: Arc<Policies>,
    hashing: HashingPool,
    /// Seals and opens pending states.
    pub(crate) state_cipher: chacha20poly1305::XChaCha20Poly1305,
}

/// An attempt recorded as a failure ahead of its check.
#[derive(Clone, Copy, Debug)]
struct Reservation {
    /// The counters before the reservation, as the machines take them.
    before: Throttle,
    /// The counters with the reservation: what stands if the attempt fails.
    reserved: Throttle,
    /// The budget it was taken from.
    policy: ThrottlePolicy,
    /// When.
    now: u64,
}

/// The operating system's CSPRNG. It keeps no state, so futures holding it stay `Send`;
/// like every CSPRNG handle it panics only if the operating system cannot give randomness.
pub(crate) fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

/// A copy of a secret, for a job on the hashing threads.
fn copy_secret(secret: &Secret) -> Result<Secret, ServiceError> {
    Secret::from_bytes(secret.expose_bytes())
        .map_err(|e| ServiceError::backend(Collaborator::Seal, e))
}

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// The store, for the application's own maintenance (deleting users, rotating keys).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The policies.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// The user's two-step verification at a glance: on since when, recovery codes left and
    /// whether they run low, and whether checks are locked.
    ///
    /// # Errors
    /// A store failure.
    pub async fn status(&self, user: &str) -> Result<Status, ServiceError> {
        let account = self.account(user).await?;
        Ok(Status::of(
            &account,
            &self.policies.throttle,
            self.clock.now(),
        ))
    }

    /// [`Service::status`] for many users in one store query ([`Store::accounts`]), in the
    /// order given: for member lists.
    ///
    /// # Errors
    /// A store failure.
    pub async fn statuses(&self, users: &[&str]) -> Result<Vec<Status>, ServiceError> {
        let accounts = self
            .store
            .accounts(users)
            .await
            .map_err(ServiceError::store)?;
        answered_all(users.len(), accounts.len())?;
        let now = self.clock.now();
        let throttle = &self.policies.throttle;
        Ok(accounts
            .iter()
            .map(|account| Status::of(account, throttle, now))
            .collect())
    }

    /// The event of `kind` for `user_id`, now, from the request's [`Client`]: made in the
    /// organisation `org`, by `actor` when not the user.
    fn event(
        &self,
        user_id: &str,
        kind: AuditKind,
        org: Option<&str>,
        actor: Option<&str>,
    ) -> AuditEvent {
        let client = Client::current();
        AuditEvent {
            user_id: user_id.to_owned(),
            at: self.clock.now(),
            kind,
            actor: actor.map(str::to_owned),
            org: org.map(str::to_owned),
            ip: client.ip,
            user_agent: client.user_agent,
        }
    }

    /// Records an event no write carries — in the store's log, then to the [`AuditLog`].
    /// A log that fails does not fail the flow: the failure is reported, as a warning.
    async fn audit(&self, user_id: &str, kind: AuditKind) {
        let event = self.event(user_id, kind, None, None);
        if let Err(error) = self.store.record_events(std::slice::from_ref(&event)).await {
            let error: BoxError = error.into();
            tracing::warn!(user = %user_id.escape_debug(), ?kind, %error, "twostep: an event was not logged");
        }
        self.audit.record(event);
    }

    /// Sends a security notice after the write it reports. Best effort: the write stands,
    /// and failing the step now would only tell the user it did not happen.
    async fn notify(&self, to: &str, notice: Notice) {
        let mail = Mail::Notice {
            to: to.to_owned(),
            notice,
        };
        let _ = self.mailer.send(mail).await;
    }

    async fn account(&self, user: &str) -> Result<StoredAccount, ServiceError> {
        self.store.account(user).await.map_err(ServiceError::store)
    }

    /// The account, which must have two-step verification on.
    async fn enabled_account(&self, user: &str) -> Result<(CredentialRecord, u64), ServiceError> {
        let account = self.account(user).await?;
        let record = account.credential.ok_or(ServiceError::NotEnabled)?;
        Ok((record, account.revision))
    }

    fn open_secret(&self, user: &str, sealed: &SealedSecret) -> Result<Secret, ServiceError> {
        self.sealer
            .open(user, sealed)
            .map_err(|source| ServiceError::Backend {
                collaborator: Collaborator::Seal,
                source,
            })
    }

    /// Runs an Argon2 job on the hashing threads, in the reservation's turn (one check per user
    /// at a time: see [`HashingPool`]), once a permit is free.
    /// `reserved` is the attempt the job checks: from the moment the job is handed to the
    /// pool it runs to the end whatever happens to the request, so the attempt stands even if
    /// the request is dropped (a client that disconnects gets no free Argon2 evaluation);
    /// while it only waits for a permit, a drop gives it back.
    async fn hash<T: Send + 'static>(
        &self,
        reserved: &Unsettled<S>,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let running = self
            .hashing
            .start(&reserved.turn, job)
            .await
            .map_err(|e| ServiceError::backend(Collaborator::Hashing, e))?;
        reserved.handed_off.store(true, Ordering::Release);
        running
            .await
            .map_err(|e| ServiceError::backend(Collaborator::Hashing, e))
    }

    /// Replaces the user's counters with `change(current)`, read and compare-and-set until
    /// the write finds them as read. `first` is a guess at the current value that saves the
    /// first read. Returns the counters before and after.
    async fn update_throttle(
        &self,
        user: &str,
        first: Option<Throttle>,
        change: impl Fn(Throttle) -> Result<Throttle, ServiceError>,
    ) -> Result<(Throttle, Throttle), ServiceError> {
        update_throttle(&*self.store, user, first, change).await
    }

    /// Records a failure ahead of an attempt (refused while locked), once it is the user's
    /// turn at the hashing pool: a check waiting behind another of the same user's holds no
    /// attempt. Until it is settled, the reservation is given back if the request is dropped
    /// (see [`Unsettled`]).
    async fn reserve(
        &self,
        user: &str,
        policy: ThrottlePolicy,
        now: u64,
    ) -> Result<Unsettled<S>, ServiceError> {
        let turn = self
            .hashing
            .turn(user)
            .await
            .map_err(|e| ServiceError::backend(Collaborator::Hashing, e))?;
        let (before, reserved) = self
            .update_throttle(user, None, |current| {
                current.check(&policy, now)?;
                Ok(current.record_failure(&policy, now))
            })
            .await?;
        let reservation = Reservation {
            before,
            reserved,
            policy,
            now,
        };
        Ok(Unsettled {
            store: Arc::clone(&self.store),
            user: user.to_owned(),
            turn,
            reservation,
            armed: AtomicBool::new(true),
            handed_off: AtomicBool::new(false),
        })
    }

    /// The pending state `id`, to record as completed, and the time. The clock is read again
    /// here, as late as possible: a check that outlived the state (a wait for the hashing pool,
    /// a slow store) must not complete it after it expired.
    fn completion(
        &self,
        id: StateId,
        expires_at: u64,
    ) -> Result<(ConsumedState, u64), ServiceError> {
        let now = self.clock.now();
        if now >= expires_at {
            return Err(ServiceError::Expired);
        }
        Ok((ConsumedState { id, expires_at }, now))
    }

    /// Records that the pending state `id` completed: `Ok(false)` if a copy of it already did.
    async fn consume_once(
        &self,
        user: &str,
        id: StateId,
        expires_at: u64,
    ) -> Result<bool, ServiceError> {
        let (state, now) = self.completion(id, expires_at)?;
        self.store
            .consume_state(user, state, now)
            .await
            .map_err(ServiceError::store)
    }

    /// [`Service::reserve`] for a step of `state`: refused with the state back while locked.
    async fn reserve_for<T>(
        &self,
        user: &str,
        policy: ThrottlePolicy,
        now: u64,
        state: T,
    ) -> Result<(Unsettled<S>, T), Refusal<T>> {
        match self.reserve(user, policy, now).await {
            Ok(reservation) => Ok((reservation, state)),
            Err(error) => Err(Refusal::new(state, error)),
        }
    }

    /// Gives a reservation back (see [`Throttle::refund`]), unless it was settled already.
    /// `succeeded` — a verified code — also restarts the consecutive-failure count.
    async fn refund(&self, unsettled: &Unsettled<S>, succeeded: bool) -> Result<(), ServiceError> {
        match unsettled.take() {
            Some(reservation) => {
                refund(&*self.store, &unsettled.user, reservation, succeeded).await
            }
            None => Ok(()),
        }
    }

    /// Settles a reserved attempt as the machine judged it: `after` are the counters the
    /// machine returned from `reservation.before`. An attempt that did not count (a typo
    /// caught before any comparison, an expired state, a lock) gets its reservation back;
    /// one that counted keeps it, is audited with `kind`, and — if it used up the budget —
    /// audits the lock and mails the lockout notice to `email`, once, from the attempt that
    /// crossed the line.
    async fn settle_failure(
        &self,
        unsettled: &Unsettled<S>,
        after: Throttle,
        kind: Option<AuditKind>,
        email: Option<&str>,
    ) -> Result<(), ServiceError> {
        let user = unsettled.user.as_str();
        let Some(reservation) = unsettled.take() else {
            return Ok(());
        };
        if after == reservation.before {
            return refund(&*self.store, user, reservation, false).await;
        }
        if let Some(kind) = kind {
            self.audit(user, kind).await;
        }
        self.failed(
            user,
            reservation.reserved,
            &reservation.policy,
            reservation.now,
            email,
        )
        .await;
        Ok(())
    }

    /// After a counted failure that left the counters `after`: if they used up the budget,
    /// the audit event and, where the address is known, the lockout notice.
    async fn failed(
        &self,
        user: &str,
        after: Throttle,
        policy: &ThrottlePolicy,
        now: u64,
        email: Option<&str>,
    ) {
        if after.check(policy, now).is_err() {
            self.audit(user, AuditKind::Locked).await;
            if let Some(email) = email {
                // The refusal stands whether or not the notice goes out.
                self.notify(email, Notice::LockedOut).await;
            }
        }
    }

    /// What re-issue and disable start with: an attempt reserved, the password checked, the
    /// machine's first step run on the hashing threads (re-issue hashes new codes there). A
    /// right password gives its attempt back but is not a second factor: it does not restart
    /// the consecutive-failure count towards the hard lock.
    async fn reauthenticate<T, E>(
        &self,
        user: &str,
        password: &str,
        policy: ThrottlePolicy,
        now: u64,
        start: impl FnOnce(bool, Throttle) -> Result<(T, Throttle), (E, Throttle)> + Send + 'static,
    ) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        E: Into<ServiceError> + Send + 'static,
    {
        let unsettled = self.reserve(user, policy, now).await?;
        let verified = match self.reauth.verify_password(user, password).await {
            Ok(verified) => verified,
            Err(error) => {
                let _ = self.refund(&unsettled, false).await;
                return Err(ServiceError::backend(Collaborator::Reauthenticate, error));
            }
        };
        let before = unsettled.before();
        let started = match self.hash(&unsettled, move || start(verified, before)).await {
            Ok(started) => started,
            Err(error) => {
                let _ = self.refund(&unsettled, false).await;
                return Err(error);
            }
        };
        match started {
            Ok((state, _)) => {
                self.refund(&unsettled, false).await?;
                Ok(state)
            }
            // No address here for the lockout notice; the audit event still goes.
            Err((error, after)) => {
                self.settle_failure(&unsettled, after, None, None).await?;
                Err(error.into())
            }
        }
    }

    /// An operator (or a support procedure with its own identity proofing) lifts a lock —
    /// including the hard lock after 100 consecutive failures.
    ///
    /// # Errors
    /// A store failure, or [`ServiceError::Conflict`] under extreme contention.
    pub async fn unlock(&self, user: &str) -> Result<(), ServiceError> {
        self.update_throttle(user, None, |current| Ok(current.unlocked()))
            .await?;
        self.audit(user, AuditKind::Unlocked).await;
        Ok(())
    }
}

/// A batch read must answer every id asked (the `Store` contract): a short answer is a store
/// failure, never a shorter list — one would drop a member from a preview, or a mandating
/// organisation from a sign-in's decision.
fn answered_all(asked: usize, answered: usize) -> Result<(), ServiceError> {
    if asked == answered {
        Ok(())
    } else {
        Err(ServiceError::store(format!(
            "a batch read answered {answered} of {asked} entries"
        )))
    }
}

/// Refuses a pending state issued to another account than the request's (the session's
/// user): not a guess, so it costs nothing, and the flow is over for this session.
fn same_account(issued_to: &Account, account: &Account) -> Result<(), ServiceError> {
    if issued_to == account {
        Ok(())
    } else {
        Err(ServiceError::WrongUser)
    }
}

/// Whether the user ticked "I saved my recovery codes" before "Done".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Ticked: the codes were copied or downloaded.
    Yes,
    /// Not ticked: "Done" is refused and the codes stay on screen.
    No,
}

/// The account's completed states, read, with `state` added and the forgettable ones dropped:
/// what a sign-in writes back.
fn completed_with(read: &[ConsumedState], state: ConsumedState, now: u64) -> Vec<ConsumedState> {
    read.iter()
        .filter(|recorded| !recorded.forgettable(now))
        .copied()
        .chain([state])
        .collect()
}

/// Whether the account read lists `id` as completed: a copy of a state that already
/// completed.
fn spent(account: &StoredAccount, id: StateId) -> bool {
    account.completed.iter().any(|recorded| recorded.id == id)
}

/// A reserved attempt not yet settled. Settling it — giving it back, or keeping it as a
/// counted failure — takes it, once. If the request is dropped first (the client went away
/// while its password was checked or its code waited for the hashing pool), dropping this
/// gives the attempt back on the runtime: what was not a judged guess costs nothing. Once
/// the check was handed to the hashing pool, it runs to the end anyway: a drop then leaves
/// the attempt counted, so disconnecting buys no free evaluation.
struct Unsettled<S: Store + 'static> {
    store: Arc<S>,
    user: String,
    /// The user's turn at the hashing pool, held until the attempt is settled.
    turn: Turn,
    reservation: Reservation,
    armed: AtomicBool,
    handed_off: AtomicBool,
}

impl<S: Store + 'static> Unsettled<S> {
    /// The counters before the reservation.
    fn before(&self) -> Throttle {
        self.reservation.before
    }

    /// The counters with the reservation.
    fn reserved(&self) -> Throttle {
        self.reservation.reserved
    }

    /// The reservation, to settle — once: `None` if it was settled already.
    fn take(&self) -> Option<Reservation> {
        self.armed
            .swap(false, Ordering::AcqRel)
            .then_some(self.reservation)
    }
}

impl<S: Store + 'static> Drop for Unsettled<S> {
    fn drop(&mut self) {
        if self.handed_off.load(Ordering::Acquire) {
            return;
        }
        let Some(reservation) = self.take() else {
            return;
        };
        // Outside a runtime there is nothing to run it on: the attempt stays counted, as a
        // failure would.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, user) = (Arc::clone(&self.store), core::mem::take(&mut self.user));
            // The turn ends once the attempt is given back, so the user's next check cannot
            // reserve against counters that still hold this one.
            let turn = self.turn.clone();
            runtime.spawn(async move {
                let _ = refund(&*store, &user, reservation, false).await;
                drop(turn);
            });
        }
    }
}

/// Gives a reservation back (see [`Throttle::refund`]).
async fn refund<S: Store>(
    store: &S,
    user: &str,
    reservation: Reservation,
    succeeded: bool,
) -> Result<(), ServiceError> {
    // Most often the counters are still as the reservation left them: try that first.
    let window = reservation.reserved.window_start;
    let first = Some(reservation.reserved);
    update_throttle(store, user, first, |current| {
        Ok(current.refund(window, succeeded))
    })
    .await
    .map(drop)
}

/// Replaces the user's counters with `change(current)`, read and compare-and-set until the
/// write finds them as read. `first` is a guess at the current value that saves the first
/// read. Returns the counters before and after.
async fn update_throttle<S: Store>(
    store: &S,
    user: &str,
    first: Option<Throttle>,
    change: impl Fn(Throttle) -> Result<Throttle, ServiceError>,
) -> Result<(Throttle, Throttle), ServiceError> {
    let change = &change;
    retry(move |attempt| async move {
        let current = match first {
            Some(current) if attempt == 0 => current,
            _ => store.throttle(user).await.map_err(ServiceError::store)?,
        };
        let new = change(current)?;
        let written = store
            .compare_and_set_throttle(user, current, new)
            .await
            .map_err(ServiceError::store)?;
        Ok(written.then_some((current, new)))
    })
    .await
}

/// Runs `attempt` (given its number, from 0) until it returns `Some` — each attempt reads,
/// decides and makes one conditional write, and `None` means the write lost to a concurrent
/// request — at most [`MAX_RETRIES`] times, then gives up with [`ServiceError::Conflict`].
async fn retry<T, E, Fut>(mut attempt: impl FnMut(usize) -> Fut) -> Result<T, E>
where
    E: From<ServiceError>,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    for number in 0..MAX_RETRIES {
        if let Some(done) = attempt(number).await? {
            return Ok(done);
        }
    }
    Err(ServiceError::Conflict.into())
}
