//! The async [`Service`]: drives the machines against the application's traits.
//!
//! It owns no state besides its collaborators and policies. The pending state of each flow
//! (an [`EmailCodeSent`], a [`LoginChallenge`], …) is handed back to the caller, which keeps
//! it server-side — in its session store, keyed by the session — and passes it to the next
//! call. What the service adds to the machines:
//!
//! - **N concurrent guesses never get more than the budget's worth of answers.** Email codes,
//!   recovery codes and passwords are reserved before they are checked: a failure is recorded
//!   with a compare-and-set first and given back on success. TOTP codes, cheap to check, are
//!   settled optimistically: the step and the counters are written together only if the
//!   counters are still as read, and no outcome is reported before such a write — a right
//!   code costs two store round trips ([`Store::account`], [`Store::accept_step`]).
//! - **Every one-time write is conditional** ([`Store`] contract): of N concurrent requests
//!   with one code, exactly one commits; the others fail as replays.
//! - Mail, audit events and sealing happen at the right moment, and only after the write
//!   they report.

// Refusals hand the pending state back by value, like the machines do.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use rand_core::CryptoRng;
use twostep_otp::Rejection;
use twostep_recovery::RedeemError;

use crate::app::{
    AuditEvent, AuditKind, AuditLog, BoxError, Clock, CredentialRecord, Directory, Mail, Mailer,
    Notice, Reauthenticate, Sealer, Store, StoredAccount,
};
use crate::disable::{self, ConfirmWithCode, DisableError};
use crate::enable::{
    self, Account, AuthenticatorSetup, EmailCodeSent, EnableError, EnablePolicy, SaveRecoveryCodes,
};
use crate::login::{self, Answer, Commit, LoginChallenge, LoginError, LoginPolicy, StoredFactor};
use crate::reissue::{self, ReissueError, ReissuePolicy, SaveNewCodes};
use crate::throttle::{Locked, Throttle, ThrottlePolicy};
use twostep_policy::{Affected, DisableRefused, Membership, OrgPolicy, Requirement, TwoFactor};

/// How often a compare-and-set is retried under contention before giving up: enough for a
/// hundred concurrent requests, few enough that contention cannot amplify one request into
/// thousands of queries.
const MAX_RETRIES: usize = 128;

/// An attempt recorded as a failure ahead of its check.
#[derive(Clone, Copy, Debug)]
struct Reservation {
    /// The counters before the reservation, as the machines take them.
    before: Throttle,
    /// The counters with the reservation: what stands if the attempt fails.
    reserved: Throttle,
}

/// Why a service call did not go through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A step of the enable wizard was refused.
    #[error(transparent)]
    Enable(#[from] EnableError),
    /// The second step was refused.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// Re-issuing was refused.
    #[error(transparent)]
    Reissue(#[from] ReissueError),
    /// Disabling was refused.
    #[error(transparent)]
    Disable(#[from] DisableError),
    /// Too many failed attempts.
    #[error(transparent)]
    Locked(#[from] Locked),
    /// The user has two-step verification on already.
    #[error("two-step verification is already on")]
    AlreadyEnabled,
    /// The pending state belongs to another account than the session's.
    #[error("this step belongs to another account")]
    WrongUser,
    /// The user does not have two-step verification on.
    #[error("two-step verification is not on")]
    NotEnabled,
    /// An organisation requires two-step verification, so it cannot be turned off.
    #[error(transparent)]
    Mandated(#[from] DisableRefused),
    /// An organisation policy change was refused.
    #[error(transparent)]
    Policy(#[from] twostep_policy::Refusal),
    /// A concurrent request changed the credential first; this one did nothing.
    #[error("another request changed two-step verification at the same time; try again")]
    Conflict,
    /// The store, mailer, sealer or password check failed; nothing was changed by this call
    /// beyond what its message says.
    #[error("a backend failed")]
    Backend(#[source] BoxError),
}

/// A refused call: the pending state to keep, if it is still usable, and why.
#[derive(Debug)]
#[non_exhaustive]
pub struct Refusal<S> {
    /// The state to pass to the next attempt; `None` when the flow must start again.
    pub state: Option<S>,
    /// Why.
    pub error: ServiceError,
}

impl<S> Refusal<S> {
    fn keep(state: S, error: impl Into<ServiceError>) -> Self {
        Self {
            state: Some(state),
            error: error.into(),
        }
    }

    fn end(error: impl Into<ServiceError>) -> Self {
        Self {
            state: None,
            error: error.into(),
        }
    }
}

/// The audit event for a counted failure at the second step.
fn failure_kind(error: LoginError) -> AuditKind {
    match error {
        LoginError::Code(Rejection::Replayed) => AuditKind::ReplayDetected,
        _ => AuditKind::SecondStepFailed,
    }
}

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Backend(Box::new(error))
}

/// A successful second step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedIn {
    /// With a recovery code: how many are left, and whether to urge a re-issue.
    pub recovery_codes_left: Option<(usize, bool)>,
}

/// What follows a correct password.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginStep {
    /// Signed in: no second factor and no mandate due. With `enrol_by`, an organisation
    /// requires 2FA from that deadline: show the reminder.
    SignedIn {
        /// The organisation and the deadline (Unix time) of the earliest pending mandate.
        enrol_by: Option<(String, u64)>,
    },
    /// Ask for a code: keep the challenge in the half-authenticated session.
    SecondStep(LoginChallenge),
    /// An organisation requires 2FA now: send the user to the enrollment wizard; nothing else
    /// is reachable until it is done.
    EnrolmentRequired {
        /// The organisation requiring it.
        org_id: String,
    },
}

impl LoginStep {
    /// The challenge, if a second step is needed.
    pub fn into_challenge(self) -> Option<LoginChallenge> {
        match self {
            Self::SecondStep(challenge) => Some(challenge),
            _ => None,
        }
    }
}

/// The policies of all flows.
#[derive(Clone, Debug)]
pub struct Policies {
    /// The enable wizard.
    pub enable: EnablePolicy,
    /// The login step and disabling.
    pub login: LoginPolicy,
    /// Re-issuing recovery codes.
    pub reissue: ReissuePolicy,
}

impl Policies {
    /// The defaults for `issuer`, with one shared throttle.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            enable: EnablePolicy::new(issuer),
            login: LoginPolicy::default(),
            reissue: ReissuePolicy::default(),
        }
    }
}

/// The flows, wired to the application.
pub struct Service<S, M, R, D> {
    store: S,
    mailer: M,
    reauth: R,
    directory: D,
    sealer: Arc<dyn Sealer>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    policies: Policies,
}

impl<S: Store, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// Wires the flows to the application.
    #[allow(clippy::too_many_arguments)] // one per collaborator; a builder would add nothing
    pub fn new(
        store: S,
        mailer: M,
        reauth: R,
        directory: D,
        sealer: Arc<dyn Sealer>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        policies: Policies,
    ) -> Self {
        Self {
            store,
            mailer,
            reauth,
            directory,
            sealer,
            audit,
            clock,
            policies,
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The policies.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    fn audit(&self, user_id: &str, kind: AuditKind) {
        self.audit.record(AuditEvent {
            user_id: user_id.to_owned(),
            at: self.clock.now(),
            kind,
        });
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

    async fn credential(&self, user: &str) -> Result<CredentialRecord, ServiceError> {
        self.store
            .credential(user)
            .await
            .map_err(backend)?
            .ok_or(ServiceError::NotEnabled)
    }

    /// Records a failure ahead of an attempt; returns the counters from before it.
    async fn reserve(
        &self,
        user: &str,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> Result<Reservation, ServiceError> {
        for _ in 0..MAX_RETRIES {
            let current = self.store.throttle(user).await.map_err(backend)?;
            current.check(policy, now)?;
            let reserved = current.record_failure(policy, now);
            if self
                .store
                .compare_and_set_throttle(user, current, reserved)
                .await
                .map_err(backend)?
            {
                return Ok(Reservation {
                    before: current,
                    reserved,
                });
            }
        }
        Err(ServiceError::Conflict)
    }

    /// After a failed attempt, given the counters it left (`after`): if they used up the
    /// budget, the audit event and, where the address is known, the lockout notice — once,
    /// from the attempt that crossed the line. Every counted failure ends here.
    async fn failed(
        &self,
        user: &str,
        after: Throttle,
        policy: &ThrottlePolicy,
        now: u64,
        email: Option<&str>,
    ) {
        if after.check(policy, now).is_err() {
            self.audit(user, AuditKind::Locked);
            if let Some(email) = email {
                // The refusal stands whether or not the notice goes out.
                self.notify(email, Notice::LockedOut).await;
            }
        }
    }

    /// What every code check starts with: the stored credential, an attempt reserved in the
    /// throttle, and the secret unsealed.
    async fn prepare_check(
        &self,
        user: &str,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> Result<(CredentialRecord, Reservation, twostep_otp::Secret), ServiceError> {
        let record = self.credential(user).await?;
        let reservation = self.reserve(user, policy, now).await?;
        match self.sealer.open(user, &record.secret) {
            Ok(secret) => Ok((record, reservation, secret)),
            Err(error) => {
                // Not a guess: give the attempt back.
                let _ = self.refund(user, reservation, false).await;
                Err(ServiceError::Backend(error))
            }
        }
    }

    /// What re-issue and disable start with: an attempt reserved, the password checked, the
    /// machine's first step run. A right password gives its attempt back but is not a second
    /// factor: it does not restart the consecutive-failure count towards the hard lock.
    async fn reauthenticate<T, E: Into<ServiceError>>(
        &self,
        user: &str,
        password: &str,
        policy: &ThrottlePolicy,
        now: u64,
        start: impl FnOnce(bool, Throttle) -> Result<(T, Throttle), (E, Throttle)>,
    ) -> Result<T, ServiceError> {
        let reservation = self.reserve(user, policy, now).await?;
        let verified = match self.reauth.verify_password(user, password).await {
            Ok(verified) => verified,
            Err(error) => {
                let _ = self.refund(user, reservation, false).await;
                return Err(backend(error));
            }
        };
        match start(verified, reservation.before) {
            Ok((state, _)) => {
                self.refund(user, reservation, false).await?;
                Ok(state)
            }
            // A wrong password: the machine counted it (the reservation stands). No address
            // here for the lockout notice; the audit event still goes.
            Err((error, after)) if after != reservation.before => {
                self.failed(user, reservation.reserved, policy, now, None)
                    .await;
                Err(error.into())
            }
            // Not a guess (the new codes could not be made): the attempt goes back.
            Err((error, _)) => {
                let _ = self.refund(user, reservation, false).await;
                Err(error.into())
            }
        }
    }

    /// Gives a reservation back (see [`Throttle::refund`]). `succeeded` — a verified code —
    /// also restarts the consecutive-failure count.
    async fn refund(
        &self,
        user: &str,
        reservation: Reservation,
        succeeded: bool,
    ) -> Result<(), ServiceError> {
        // Most often the counters are still as the reservation left them: try that first,
        // without reading them again.
        let mut current = reservation.reserved;
        for _ in 0..MAX_RETRIES {
            let refunded = current.refund(reservation.reserved.window_start, succeeded);
            if self
                .store
                .compare_and_set_throttle(user, current, refunded)
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            current = self.store.throttle(user).await.map_err(backend)?;
        }
        Err(ServiceError::Conflict)
    }

    /// An operator (or a support procedure with its own identity proofing) lifts a lock —
    /// including the hard lock after 100 consecutive failures.
    ///
    /// # Errors
    /// A backend failure, or [`ServiceError::Conflict`] under extreme contention.
    pub async fn unlock(&self, user: &str) -> Result<(), ServiceError> {
        for _ in 0..MAX_RETRIES {
            let current = self.store.throttle(user).await.map_err(backend)?;
            if self
                .store
                .compare_and_set_throttle(user, current, current.unlocked())
                .await
                .map_err(backend)?
            {
                self.audit(user, AuditKind::Unlocked);
                return Ok(());
            }
        }
        Err(ServiceError::Conflict)
    }

    // ---- Enable (seed step 2) ----

    /// Starts the enable wizard: mails an email code to the account's login email.
    ///
    /// # Errors
    /// [`ServiceError::AlreadyEnabled`], or a backend failure.
    pub async fn start_enable<G: CryptoRng + ?Sized>(
        &self,
        account: Account,
        rng: &mut G,
    ) -> Result<EmailCodeSent, ServiceError> {
        if self
            .store
            .credential(&account.user_id)
            .await
            .map_err(backend)?
            .is_some()
        {
            return Err(ServiceError::AlreadyEnabled);
        }
        let user_id = account.user_id.clone();
        let (state, mail) = enable::start(account, rng, &self.policies.enable, self.clock.now());
        self.mailer
            .send(Mail::EmailCode {
                to: mail.to,
                code: mail.code,
                expires_at: mail.expires_at,
            })
            .await
            .map_err(backend)?;
        self.audit(&user_id, AuditKind::EnableStarted);
        Ok(state)
    }

    /// Mails a new email code after the cooldown.
    ///
    /// # Errors
    /// A [`Refusal`] with the state back.
    pub async fn resend_email_code<G: CryptoRng + ?Sized>(
        &self,
        state: EmailCodeSent,
        rng: &mut G,
    ) -> Result<EmailCodeSent, Refusal<EmailCodeSent>> {
        let (state, mail) = state
            .resend(rng, &self.policies.enable, self.clock.now())
            .map_err(|refused| Refusal::keep(refused.state, refused.error))?;
        match self
            .mailer
            .send(Mail::EmailCode {
                to: mail.to,
                code: mail.code,
                expires_at: mail.expires_at,
            })
            .await
        {
            Ok(()) => Ok(state),
            Err(error) => Err(Refusal::keep(state, backend(error))),
        }
    }

    /// Checks the email code; the returned state shows the QR code and manual key.
    ///
    /// Besides the code's own five attempts (kept in the state), each check is reserved in the
    /// account's shared throttle, so replaying one session copy of the state in concurrent
    /// requests cannot multiply the attempts.
    ///
    /// # Errors
    /// A [`Refusal`] with the state back (one attempt fewer).
    pub async fn verify_email<G: CryptoRng + ?Sized>(
        &self,
        state: EmailCodeSent,
        input: &str,
        rng: &mut G,
    ) -> Result<AuthenticatorSetup, Refusal<EmailCodeSent>> {
        let now = self.clock.now();
        let user = state.account().user_id.clone();
        let policy = &self.policies.enable;
        let reservation = match self.reserve(&user, &policy.throttle, now).await {
            Ok(reservation) => reservation,
            Err(error) => return Err(Refusal::keep(state, error)),
        };
        match state.verify_email(input, rng, policy, now) {
            Ok(next) => {
                // Proof of the mailbox, not a second factor: give the attempt back only.
                let _ = self.refund(&user, reservation, false).await;
                Ok(next)
            }
            Err(refused) => {
                if matches!(refused.error, EnableError::Expired) {
                    let _ = self.refund(&user, reservation, false).await;
                } else {
                    let email = refused.state.account().email.clone();
                    self.failed(
                        &user,
                        reservation.reserved,
                        &policy.throttle,
                        now,
                        Some(&email),
                    )
                    .await;
                }
                Err(Refusal::keep(refused.state, refused.error))
            }
        }
    }

    /// Checks the first code from the app; the returned state shows the recovery codes.
    ///
    /// # Errors
    /// A [`Refusal`] with the state back; wrong codes count against the account.
    pub async fn confirm_authenticator<G: CryptoRng + ?Sized>(
        &self,
        state: AuthenticatorSetup,
        input: &str,
        rng: &mut G,
    ) -> Result<SaveRecoveryCodes, Refusal<AuthenticatorSetup>> {
        let now = self.clock.now();
        let user = state.account().user_id.clone();
        let policy = &self.policies.enable;
        let reservation = match self.reserve(&user, &policy.throttle, now).await {
            Ok(reservation) => reservation,
            Err(error) => return Err(Refusal::keep(state, error)),
        };
        match state.confirm(input, reservation.before, rng, policy, now) {
            Ok((next, _)) => match self.refund(&user, reservation, true).await {
                Ok(()) => Ok(next),
                Err(error) => Err(Refusal::end(error)),
            },
            Err((refused, _)) => {
                if matches!(refused.error, EnableError::Code(_)) {
                    let email = refused.state.account().email.clone();
                    self.failed(
                        &user,
                        reservation.reserved,
                        &policy.throttle,
                        now,
                        Some(&email),
                    )
                    .await;
                } else {
                    // Expired, or the codes could not be made: not a guess.
                    self.refund(&user, reservation, false)
                        .await
                        .map_err(Refusal::end)?;
                }
                Err(Refusal::keep(refused.state, refused.error))
            }
        }
    }

    /// "Done" with "I saved them" ticked: the one write of the wizard, then the notice.
    ///
    /// # Errors
    /// A [`Refusal`]: not ticked or expired (state back), already enabled meanwhile, or a
    /// backend failure (nothing written).
    pub async fn complete_enable(
        &self,
        state: SaveRecoveryCodes,
        saved: bool,
    ) -> Result<(), Refusal<SaveRecoveryCodes>> {
        let now = self.clock.now();
        let enabled = state
            .complete(saved, &self.policies.enable, now)
            .map_err(|refused| Refusal::keep(refused.state, refused.error))?;
        let credential = enabled.credential;
        let sealed = self
            .sealer
            .seal(&credential.user_id, &credential.secret)
            .map_err(|e| Refusal::end(ServiceError::Backend(e)))?;
        let record = CredentialRecord {
            secret: sealed,
            params: credential.params,
            last_accepted_step: Some(credential.last_accepted_step),
            recovery_codes: credential.recovery_codes,
            enabled_at: credential.enabled_at,
        };
        let created = self
            .store
            .create_credential(&credential.user_id, record)
            .await
            .map_err(|e| Refusal::end(backend(e)))?;
        if !created {
            return Err(Refusal::end(ServiceError::AlreadyEnabled));
        }
        self.audit(&credential.user_id, AuditKind::Enabled);
        self.notify(&enabled.notify, Notice::Enabled).await;
        Ok(())
    }

    // ---- Login (seed step 3) ----

    /// After the password: a second step if the user has 2FA; otherwise whether an
    /// organisation requires enrolment now, or by a deadline. A pending enrollment does not
    /// count as 2FA.
    ///
    /// # Errors
    /// A backend failure.
    pub async fn begin_login(&self, user: &str) -> Result<LoginStep, ServiceError> {
        let now = self.clock.now();
        let enabled = self
            .store
            .credential(user)
            .await
            .map_err(backend)?
            .is_some();
        if let Some(challenge) = login::begin(user, enabled, &self.policies.login, now) {
            return Ok(LoginStep::SecondStep(challenge));
        }
        Ok(match self.requirement(user, TwoFactor::None, now).await? {
            Requirement::EnrolNow { org_id } => LoginStep::EnrolmentRequired { org_id },
            Requirement::EnrolBy { org_id, deadline } => LoginStep::SignedIn {
                enrol_by: Some((org_id, deadline)),
            },
            _ => LoginStep::SignedIn { enrol_by: None },
        })
    }

    /// The user's memberships, each with its organisation's stored policy (or none).
    async fn memberships_with_policies(
        &self,
        user: &str,
    ) -> Result<Vec<(Membership, OrgPolicy)>, ServiceError> {
        let memberships = self.directory.memberships(user).await.map_err(backend)?;
        let mut pairs = Vec::with_capacity(memberships.len());
        for membership in memberships {
            let policy = self
                .store
                .org_policy(&membership.org_id)
                .await
                .map_err(backend)?
                .unwrap_or_else(|| OrgPolicy::new(&membership.org_id));
            pairs.push((membership, policy));
        }
        Ok(pairs)
    }

    /// Refuses while an organisation of the user mandates 2FA.
    async fn may_disable(&self, user: &str) -> Result<(), ServiceError> {
        let pairs = self.memberships_with_policies(user).await?;
        let refs: Vec<(&Membership, &OrgPolicy)> = pairs.iter().map(|(m, p)| (m, p)).collect();
        Ok(twostep_policy::may_disable(&refs)?)
    }

    /// What the user's organisations require of them.
    ///
    /// # Errors
    /// A backend failure.
    pub async fn requirement(
        &self,
        user: &str,
        two_factor: TwoFactor,
        now: u64,
    ) -> Result<Requirement, ServiceError> {
        let pairs = self.memberships_with_policies(user).await?;
        let refs: Vec<(&Membership, &OrgPolicy)> = pairs.iter().map(|(m, p)| (m, p)).collect();
        Ok(twostep_policy::requirement(&refs, two_factor, now))
    }

    /// Checks a TOTP or recovery code typed at the second step (one input box; see
    /// [`Answer::guess`]). On success the challenge is spent and the user is signed in.
    ///
    /// # Errors
    /// A [`Refusal`] with the challenge back while it is usable.
    pub async fn verify_login(
        &self,
        challenge: LoginChallenge,
        session_user: &str,
        input: &str,
        email: &str,
    ) -> Result<SignedIn, Refusal<LoginChallenge>> {
        if challenge.user_id() != session_user {
            return Err(Refusal::keep(challenge, LoginError::WrongUser));
        }
        let now = self.clock.now();
        // An expired challenge is not a guess: refuse it before spending an attempt.
        if now >= challenge.expires_at() {
            return Err(Refusal::end(LoginError::Expired));
        }
        match Answer::guess(input) {
            answer @ Answer::Totp(_) => self.login_with_code(challenge, answer, email, now).await,
            answer @ Answer::RecoveryCode(_) => {
                self.login_with_recovery_code(challenge, answer, email, now)
                    .await
            }
        }
    }

    /// The second step with a TOTP code, checked optimistically: the account is read once, the
    /// code verified in memory, and the step and the counters settled by one conditional write
    /// — two round trips for a right code. No outcome is reported unless that write (or, for a
    /// wrong code, the failure's compare-and-set) finds the counters as they were read; when it
    /// does not, the attempt starts over from a fresh read. So every reported outcome is
    /// serialised with every other, and concurrent guesses cannot overrun the budget.
    async fn login_with_code(
        &self,
        challenge: LoginChallenge,
        answer: Answer<'_>,
        email: &str,
        now: u64,
    ) -> Result<SignedIn, Refusal<LoginChallenge>> {
        let user = challenge.user_id().to_owned();
        let policy = self.policies.login;
        for _ in 0..MAX_RETRIES {
            let (record, throttle) = match self.store.account(&user).await {
                Ok(StoredAccount {
                    credential: Some(record),
                    throttle,
                }) => (record, throttle),
                Ok(_) => return Err(Refusal::keep(challenge, ServiceError::NotEnabled)),
                Err(error) => return Err(Refusal::keep(challenge, backend(error))),
            };
            let secret = match self.sealer.open(&user, &record.secret) {
                Ok(secret) => secret,
                Err(error) => return Err(Refusal::keep(challenge, ServiceError::Backend(error))),
            };
            let factor = StoredFactor::of(&record, &secret);
            match challenge
                .clone()
                .verify(&user, answer, factor, throttle, &policy, now)
            {
                Ok(verified) => {
                    let Commit::AcceptStep { step } = verified.commit else {
                        // A TOTP answer only ever commits a step.
                        return Err(Refusal::end(LoginError::Code(Rejection::Mismatch)));
                    };
                    match self
                        .store
                        .accept_step(&user, step, throttle, verified.throttle)
                        .await
                    {
                        Ok(true) => {
                            self.audit(&user, AuditKind::LoginWithCode);
                            return Ok(SignedIn {
                                recovery_codes_left: None,
                            });
                        }
                        // A concurrent login took the step (the next read shows a replay) or
                        // the counters moved: read again.
                        Ok(false) => continue,
                        Err(error) => return Err(Refusal::keep(challenge, backend(error))),
                    }
                }
                // Locked: nothing to record, and reported as every other flow reports it.
                Err(refused) if refused.throttle == throttle => {
                    let error = match refused.error {
                        LoginError::Locked(locked) => ServiceError::Locked(locked),
                        other => other.into(),
                    };
                    return Err(Refusal::keep(refused.challenge, error));
                }
                Err(refused) => {
                    match self
                        .store
                        .compare_and_set_throttle(&user, throttle, refused.throttle)
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(error) => return Err(Refusal::keep(refused.challenge, backend(error))),
                    }
                    self.audit(&user, failure_kind(refused.error));
                    self.failed(&user, refused.throttle, &policy.throttle, now, Some(email))
                        .await;
                    return Err(Refusal::keep(refused.challenge, refused.error));
                }
            }
        }
        Err(Refusal::keep(challenge, ServiceError::Conflict))
    }

    /// The second step with a recovery code. Each check costs an Argon2 evaluation, too much
    /// to repeat on contention, so an attempt is reserved in the counters before it.
    async fn login_with_recovery_code(
        &self,
        challenge: LoginChallenge,
        answer: Answer<'_>,
        email: &str,
        now: u64,
    ) -> Result<SignedIn, Refusal<LoginChallenge>> {
        let user = challenge.user_id().to_owned();
        let policy = self.policies.login;
        let (record, reservation, secret) =
            match self.prepare_check(&user, &policy.throttle, now).await {
                Ok(prepared) => prepared,
                Err(error) => return Err(Refusal::keep(challenge, error)),
            };
        let factor = StoredFactor::of(&record, &secret);
        let verified =
            match challenge.verify(&user, answer, factor, reservation.before, &policy, now) {
                Ok(verified) => verified,
                Err(refused) => {
                    let typo = matches!(
                        refused.error,
                        LoginError::RecoveryCode(RedeemError::Malformed(_))
                    );
                    if typo {
                        self.refund(&user, reservation, false)
                            .await
                            .map_err(|e| Refusal::keep(refused.challenge.clone(), e))?;
                    } else {
                        self.audit(&user, failure_kind(refused.error));
                        self.failed(
                            &user,
                            reservation.reserved,
                            &policy.throttle,
                            now,
                            Some(email),
                        )
                        .await;
                    }
                    return Err(Refusal::keep(refused.challenge, refused.error));
                }
            };
        let Commit::ConsumeRecoveryCode {
            set,
            remaining,
            low,
            ..
        } = verified.commit
        else {
            // A recovery-code answer only ever consumes a code.
            return Err(Refusal::end(LoginError::RecoveryCode(RedeemError::NoMatch)));
        };
        // The one-time write. Losing it to a concurrent request makes this attempt a replay.
        match self
            .store
            .replace_recovery_codes(&user, &record.recovery_codes, set)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                self.audit(&user, AuditKind::ReplayDetected);
                return Err(Refusal::end(LoginError::RecoveryCode(RedeemError::NoMatch)));
            }
            Err(error) => return Err(Refusal::end(backend(error))),
        }
        // The login counts from here: giving the reservation back and the notice are best
        // effort and cannot turn it into a failure.
        let _ = self.refund(&user, reservation, true).await;
        self.audit(&user, AuditKind::LoginWithRecoveryCode);
        self.notify(email, Notice::RecoveryCodeUsed { remaining })
            .await;
        Ok(SignedIn {
            recovery_codes_left: Some((remaining, low)),
        })
    }

    // ---- Re-issue recovery codes (seed step 4) ----

    /// Checks the password again and generates new codes to show. The old codes still work
    /// until [`Service::complete_reissue`].
    ///
    /// # Errors
    /// Not enabled, locked, a wrong password (counted), or a backend failure.
    pub async fn start_reissue<G: CryptoRng + ?Sized>(
        &self,
        user: &str,
        password: &str,
        rng: &mut G,
    ) -> Result<SaveNewCodes, ServiceError> {
        let credential = self.credential(user).await?;
        let policy = self.policies.reissue;
        let now = self.clock.now();
        self.reauthenticate(user, password, &policy.throttle, now, |verified, before| {
            reissue::start(
                user,
                credential.enabled_at,
                verified,
                before,
                rng,
                &policy,
                now,
            )
        })
        .await
    }

    /// "Done" with "I saved them": replaces the whole set at once, then notifies.
    ///
    /// # Errors
    /// A [`Refusal`]: not ticked or expired (state back), or a backend failure.
    pub async fn complete_reissue(
        &self,
        state: SaveNewCodes,
        user: &str,
        email: &str,
    ) -> Result<(), Refusal<SaveNewCodes>> {
        let reissued = state
            .complete(true, self.clock.now())
            .map_err(|(state, error)| Refusal::keep(state, error))?;
        if reissued.user_id != user {
            return Err(Refusal::end(ServiceError::WrongUser));
        }
        for _ in 0..MAX_RETRIES {
            let current = self.credential(user).await.map_err(Refusal::end)?;
            if current.enabled_at != reissued.enabled_at {
                // 2FA was disabled and enabled again since: these codes belong to no credential.
                return Err(Refusal::end(ServiceError::Conflict));
            }
            let replaced = self
                .store
                .replace_recovery_codes(
                    user,
                    &current.recovery_codes,
                    reissued.recovery_codes.clone(),
                )
                .await
                .map_err(|e| Refusal::end(backend(e)))?;
            if replaced {
                self.audit(user, AuditKind::RecoveryCodesReissued);
                self.notify(email, Notice::RecoveryCodesReissued).await;
                return Ok(());
            }
        }
        Err(Refusal::end(ServiceError::Conflict))
    }

    // ---- Disable (seed step 5) ----

    /// Checks the password again; the returned state asks for a code.
    ///
    /// # Errors
    /// Not enabled, locked, a wrong password (counted), or a backend failure.
    pub async fn start_disable(
        &self,
        user: &str,
        password: &str,
    ) -> Result<ConfirmWithCode, ServiceError> {
        self.credential(user).await?;
        self.may_disable(user).await?;
        let policy = self.policies.login;
        let now = self.clock.now();
        self.reauthenticate(user, password, &policy.throttle, now, |verified, before| {
            disable::start(user, verified, before, &policy, now)
        })
        .await
    }

    /// Checks an authenticator or recovery code and removes the second factor — secret,
    /// recovery codes and replay state — in one conditional write, then notifies.
    ///
    /// # Errors
    /// A [`Refusal`] with the state back while usable.
    pub async fn confirm_disable(
        &self,
        state: ConfirmWithCode,
        user: &str,
        input: &str,
        email: &str,
    ) -> Result<(), Refusal<ConfirmWithCode>> {
        let policy = self.policies.login;
        let now = self.clock.now();
        // Not guesses: refuse them before spending an attempt.
        if state.user_id() != user {
            return Err(Refusal::keep(state, LoginError::WrongUser));
        }
        if now >= state.expires_at() {
            return Err(Refusal::end(LoginError::Expired));
        }
        let (record, reservation, secret) =
            match self.prepare_check(user, &policy.throttle, now).await {
                Ok(prepared) => prepared,
                Err(error) => return Err(Refusal::keep(state, error)),
            };
        let factor = StoredFactor::of(&record, &secret);
        match state.confirm(
            user,
            Answer::guess(input),
            factor,
            reservation.before,
            &policy,
            now,
        ) {
            Ok(_) => {}
            Err((state, error, _)) => {
                self.audit(user, AuditKind::SecondStepFailed);
                self.failed(
                    user,
                    reservation.reserved,
                    &policy.throttle,
                    now,
                    Some(email),
                )
                .await;
                return Err(Refusal::keep(state, error));
            }
        }
        // A mandate may have been switched on since the password step.
        if let Err(error) = self.may_disable(user).await {
            let _ = self.refund(user, reservation, true).await;
            return Err(Refusal::end(error));
        }
        // Conditional on the record read: a code used concurrently elsewhere changed it.
        match self.store.remove_credential(user, &record).await {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::end(ServiceError::Conflict)),
            Err(error) => return Err(Refusal::end(backend(error))),
        }
        let _ = self.refund(user, reservation, true).await;
        self.audit(user, AuditKind::Disabled);
        self.notify(email, Notice::Disabled).await;
        Ok(())
    }

    // ---- Org mandates (seed step 1) ----

    /// The actor's membership of `org`, their 2FA status, and the org's current policy.
    async fn mandate_context(
        &self,
        actor: &str,
        org: &str,
    ) -> Result<(Membership, TwoFactor, Option<OrgPolicy>), ServiceError> {
        let membership = self
            .directory
            .memberships(actor)
            .await
            .map_err(backend)?
            .into_iter()
            .find(|m| m.org_id == org)
            .ok_or(twostep_policy::Refusal::NotAMember)?;
        let two_factor = match self.store.credential(actor).await.map_err(backend)? {
            Some(_) => TwoFactor::Enabled,
            None => TwoFactor::None,
        };
        let policy = self.store.org_policy(org).await.map_err(backend)?;
        Ok((membership, two_factor, policy))
    }

    /// Applies a policy change decided by `change` with a compare-and-set, then audits it.
    async fn change_policy(
        &self,
        actor: &str,
        org: &str,
        kind: AuditKind,
        change: impl Fn(
            &OrgPolicy,
            &Membership,
            TwoFactor,
        ) -> Result<OrgPolicy, twostep_policy::Refusal>,
    ) -> Result<OrgPolicy, ServiceError> {
        for _ in 0..MAX_RETRIES {
            let (membership, two_factor, stored) = self.mandate_context(actor, org).await?;
            let current = stored.clone().unwrap_or_else(|| OrgPolicy::new(org));
            let next = change(&current, &membership, two_factor)?;
            if self
                .store
                .compare_and_set_org_policy(org, stored.as_ref(), next.clone())
                .await
                .map_err(backend)?
            {
                self.audit(actor, kind);
                return Ok(next);
            }
        }
        Err(ServiceError::Conflict)
    }

    /// Before switching the mandate on: the members without 2FA and their deadlines. Only
    /// the organisation's owners and admins may see it (it says who lacks 2FA).
    ///
    /// # Errors
    /// [`ServiceError::Policy`] for anyone else, or a backend failure.
    pub async fn preview_mandate(
        &self,
        actor: &str,
        org: &str,
        grace_seconds: u64,
    ) -> Result<Vec<Affected>, ServiceError> {
        let (membership, _, _) = self.mandate_context(actor, org).await?;
        if !membership.role.manages_security() {
            return Err(twostep_policy::Refusal::NotOwnerOrAdmin.into());
        }
        let members = self.directory.members(org).await.map_err(backend)?;
        let mut statuses = Vec::with_capacity(members.len());
        for member in members {
            let enabled = self
                .store
                .credential(&member.user_id)
                .await
                .map_err(backend)?
                .is_some();
            statuses.push((
                member,
                if enabled {
                    TwoFactor::Enabled
                } else {
                    TwoFactor::None
                },
            ));
        }
        Ok(OrgPolicy::new(org).preview(&statuses, grace_seconds, self.clock.now()))
    }

    /// Switches the mandate on: only an owner or admin of `org` with 2FA enabled.
    ///
    /// # Errors
    /// [`ServiceError::Policy`] saying why not, or a backend failure.
    pub async fn set_mandate(
        &self,
        actor: &str,
        org: &str,
        grace_seconds: u64,
    ) -> Result<OrgPolicy, ServiceError> {
        let now = self.clock.now();
        self.change_policy(
            actor,
            org,
            AuditKind::MandateSet,
            |policy, membership, two_factor| {
                policy.set_mandate(membership, two_factor, grace_seconds, now)
            },
        )
        .await
    }

    /// Changes the grace period for members the mandate applies to from now on.
    ///
    /// # Errors
    /// As [`Service::set_mandate`].
    pub async fn set_mandate_grace(
        &self,
        actor: &str,
        org: &str,
        grace_seconds: u64,
    ) -> Result<OrgPolicy, ServiceError> {
        let now = self.clock.now();
        self.change_policy(
            actor,
            org,
            AuditKind::MandateGraceChanged,
            |policy, membership, two_factor| {
                policy.set_grace(membership, two_factor, grace_seconds, now)
            },
        )
        .await
    }

    /// Switches the mandate off.
    ///
    /// # Errors
    /// As [`Service::set_mandate`].
    pub async fn clear_mandate(&self, actor: &str, org: &str) -> Result<OrgPolicy, ServiceError> {
        self.change_policy(
            actor,
            org,
            AuditKind::MandateCleared,
            |policy, membership, two_factor| policy.clear_mandate(membership, two_factor),
        )
        .await
    }
}
