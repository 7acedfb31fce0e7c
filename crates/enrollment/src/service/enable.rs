//! The enable wizard through the service: email code → setup screen → first code → recovery
//! codes saved → one write.

use std::sync::Arc;

use zeroize::Zeroizing;

use sha2::{Digest as _, Sha256};

use super::{Refusal, Saved, Service, ServiceError, rng, same_account};
use crate::app::{
    AuditKind, ConsumedState, CredentialRecord, Directory, Mail, Mailer, Notice, Reauthenticate,
    StateId, Store,
};
use crate::enable::{
    self, Account, AuthenticatorSetup, EmailCodeMail, EmailCodeSent, SaveRecoveryCodes, SetupView,
};
use crate::snapshot::PendingEnable;

/// How many email codes one account may be sent per time slot as long as the resend cooldown
/// (slots are aligned, so up to twice as many can straddle a boundary), however often its
/// wizard starts again: enough to cancel and start over, too few to flood a mailbox.
pub const EMAIL_CODES_PER_COOLDOWN: u8 = 3;

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// Starts the enable wizard for the signed-in `account`: mails an email code to its login
    /// email. Nothing is stored until [`Service::complete_enable`] — but the mail itself is
    /// rationed: at most [`EMAIL_CODES_PER_COOLDOWN`] email codes per account per resend
    /// cooldown (a minute by default), however often the wizard is started again.
    ///
    /// # Errors
    /// [`ServiceError::AlreadyEnabled`], [`ServiceError::ResendTooSoon`], or a store or mailer
    /// failure.
    pub async fn start_enable(&self, account: &Account) -> Result<EmailCodeSent, ServiceError> {
        let stored = self.account(&account.user_id).await?;
        if stored.credential.is_some() {
            return Err(ServiceError::AlreadyEnabled);
        }
        let now = self.clock.now();
        self.ration_email_codes(&account.user_id, now).await?;
        let (state, mail) = enable::start(
            account.clone(),
            stored.revision,
            &mut rng(),
            &self.policies,
            now,
        );
        self.send_email_code(mail).await?;
        self.audit(&account.user_id, AuditKind::EnableStarted).await;
        Ok(state)
    }

    /// At most [`EMAIL_CODES_PER_COOLDOWN`] email codes per account per cooldown, across every
    /// wizard it starts: each takes one of the cooldown's time slot's places, recorded as a
    /// completed state ([`Store::consume_state`]) once.
    async fn ration_email_codes(&self, user: &str, now: u64) -> Result<(), ServiceError> {
        let cooldown = self.policies.email_code_cooldown_seconds.max(1);
        let slot = now / cooldown;
        let next = slot.saturating_add(1).saturating_mul(cooldown);
        for place in 0..EMAIL_CODES_PER_COOLDOWN {
            let state = ConsumedState {
                id: derived_id(
                    b"twostep email code slot v1\0",
                    &[&slot.to_be_bytes(), &[place]],
                ),
                expires_at: next,
            };
            let taken = self
                .store
                .consume_state(user, state, now)
                .await
                .map_err(ServiceError::store)?;
            if taken {
                return Ok(());
            }
        }
        Err(ServiceError::ResendTooSoon { after: next })
    }

    async fn send_email_code(&self, mail: EmailCodeMail) -> Result<(), ServiceError> {
        let mail = Mail::EmailCode {
            to: mail.to,
            code: mail.code,
            expires_at: mail.expires_at,
        };
        self.mailer
            .send(mail)
            .await
            .map_err(|e| ServiceError::backend(super::Collaborator::Mail, e))
    }

    /// Mails a new email code in place of the old one, after the cooldown.
    ///
    /// # Errors
    /// A [`Refusal`]: [`ServiceError::ResendTooSoon`] (state back), [`ServiceError::Expired`]
    /// or another account's state (start again), or a mailer failure — then the state back
    /// is the one before the resend, whose code was delivered and still works.
    pub async fn resend_email_code(
        &self,
        account: &Account,
        state: EmailCodeSent,
    ) -> Result<EmailCodeSent, Refusal<EmailCodeSent>> {
        same_account(state.account(), account)?;
        let now = self.clock.now();
        let delivered = state.clone();
        let (state, mail) = state
            .resend(&mut rng(), &self.policies, now)
            .map_err(|refused| Refusal::new(refused.state, refused.error))?;
        if let Err(error) = self.ration_email_codes(&account.user_id, now).await {
            return Err(Refusal::new(delivered, error));
        }
        match self.send_email_code(mail).await {
            Ok(()) => Ok(state),
            Err(error) => Err(Refusal::new(delivered, error)),
        }
    }

    /// Checks the email code; the returned state shows the QR code and manual key
    /// ([`Service::setup_view`]). A right code passes once: a copy of the state cannot pass
    /// this step again.
    ///
    /// Besides the code's own five attempts (kept in the state, so counted per copy), each
    /// check is reserved in the account's shared failure budget, so replaying copies of the
    /// state — one after another or in concurrent requests — cannot multiply the attempts
    /// beyond it.
    ///
    /// # Errors
    /// A [`Refusal`] with the state back (one attempt fewer) for a wrong code.
    pub async fn verify_email(
        &self,
        account: &Account,
        state: EmailCodeSent,
        input: &str,
    ) -> Result<AuthenticatorSetup, Refusal<EmailCodeSent>> {
        same_account(state.account(), account)?;
        let now = self.clock.now();
        let user = account.user_id.clone();
        let policy = &self.policies;
        // A copy of a wizard whose email step passed already is spent: it says only "start
        // again", before it can count a guess or answer one.
        match self.store.is_consumed(&user, state.id(), now).await {
            Ok(false) => {}
            Ok(true) => return Err(Refusal::end(ServiceError::Replayed)),
            Err(error) => return Err(Refusal::new(state, ServiceError::store(error))),
        }
        let (reservation, state) = self.reserve_for(&user, policy.throttle, now, state).await?;
        let (id, expires_at) = (state.id(), state.wizard_expires_at(policy));
        let attempts = state.attempts_left();
        // Kept to hand back if recording the step fails: the same right code passes then.
        let before = state.clone();
        match state.verify_email(input, &mut rng(), policy, now) {
            Ok(next) => {
                // Proof of the mailbox, not a second factor: the attempt goes back either way.
                let consumed = self.consume_once(&user, id, expires_at).await;
                let _ = self.refund(&reservation, false).await;
                match consumed {
                    Ok(true) => Ok(next),
                    Ok(false) => Err(Refusal::end(ServiceError::Replayed)),
                    Err(error) => Err(Refusal::new(before, error)),
                }
            }
            Err(refused) => {
                // Counted only when a code was compared: the code lost an attempt. An expired
                // wizard, or a code already dead, compared nothing.
                let after = if refused.state.attempts_left() < attempts {
                    reservation.reserved()
                } else {
                    reservation.before()
                };
                let email = refused.state.account().email.clone();
                let settled = self
                    .settle_failure(&reservation, after, None, Some(&email))
                    .await;
                Err(Refusal::after(settled, refused.state, refused.error))
            }
        }
    }

    /// What the setup screen shows: the Key URI for the QR code, the grouped manual key, the
    /// account name and "time based".
    ///
    /// # Errors
    /// [`ServiceError::Issuer`] if the configured issuer cannot appear in a Key URI.
    pub fn setup_view(&self, state: &AuthenticatorSetup) -> Result<SetupView, ServiceError> {
        Ok(state.view(&self.policies)?)
    }

    /// Checks the first code from the app; the returned state shows the recovery codes,
    /// hashed on the hashing threads.
    ///
    /// # Errors
    /// A [`Refusal`] with the state back; wrong codes count against the account.
    pub async fn confirm_authenticator(
        &self,
        account: &Account,
        state: AuthenticatorSetup,
        input: &str,
    ) -> Result<SaveRecoveryCodes, Refusal<AuthenticatorSetup>> {
        same_account(state.account(), account)?;
        let now = self.clock.now();
        let user = state.account().user_id.clone();
        let email = state.account().email.clone();
        let policy = Arc::clone(&self.policies);
        let (reservation, state) = self.reserve_for(&user, policy.throttle, now, state).await?;
        let input = Zeroizing::new(input.to_owned());
        let before = reservation.before();
        let confirmed = self
            .hash(&reservation, move || {
                state.confirm(&input, before, &mut rng(), &policy, now)
            })
            .await;
        match confirmed {
            Ok(Ok((next, _))) => {
                // Best effort: the code was right, and the step stands either way.
                let _ = self.refund(&reservation, true).await;
                Ok(next)
            }
            Ok(Err((refused, after))) => {
                let settled = self
                    .settle_failure(&reservation, after, None, Some(&email))
                    .await;
                Err(Refusal::after(settled, refused.state, refused.error))
            }
            Err(error) => {
                let _ = self.refund(&reservation, false).await;
                Err(Refusal::end(error))
            }
        }
    }

    /// "Done" with "I saved them" ticked: the one write of the wizard, then the notice. It
    /// completes once: a copy of the state, or one that outlived a disable and re-enable,
    /// gets [`ServiceError::AlreadyEnabled`] or [`ServiceError::Replayed`].
    ///
    /// # Errors
    /// A [`Refusal`]: not ticked (state back), expired, already enabled or replayed (start
    /// again), or a sealer or store failure (nothing written).
    pub async fn complete_enable(
        &self,
        account: &Account,
        mut state: SaveRecoveryCodes,
        saved: Saved,
    ) -> Result<(), Refusal<SaveRecoveryCodes>> {
        same_account(state.account(), account)?;
        let now = self.clock.now();
        let enabled = match state.complete(saved == Saved::Yes, &self.policies, now) {
            Ok(enabled) => enabled,
            Err(error) => return Err(Refusal::new(state, error)),
        };
        let credential = enabled.credential;
        let user = credential.user_id;
        // The wizard ends once, by its "Done" or by its cancel: whichever records its end
        // first. A "Done" that failed after recording it keeps the claim in its state.
        if !state.claimed() {
            let (_, _, started_at, (wizard, _), ..) = state.parts();
            let end = self.wizard_end(wizard, started_at);
            match self.store.consume_state(&user, end, now).await {
                Ok(true) => state.claim(),
                Ok(false) => return Err(self.enable_lost(&user, state).await),
                Err(error) => return Err(Refusal::new(state, ServiceError::store(error))),
            }
        }
        // From here every failure hands the state back: the user's authenticator already holds
        // this key, and "Done" again must be able to finish the job.
        let sealed = match self.sealer.seal(&user, &credential.secret) {
            Ok(sealed) => sealed,
            Err(source) => {
                let collaborator = super::Collaborator::Seal;
                return Err(Refusal::new(
                    state,
                    ServiceError::Backend {
                        collaborator,
                        source,
                    },
                ));
            }
        };
        let record = CredentialRecord {
            secret: sealed,
            params: credential.params,
            last_accepted_step: Some(credential.last_accepted_step),
            recovery_codes: credential.recovery_codes,
            enabled_at: credential.enabled_at,
        };
        let event = self.event(&user, AuditKind::Enabled, None, None);
        let created = self
            .store
            .create_credential(
                &user,
                enabled.revision,
                record,
                std::slice::from_ref(&event),
            )
            .await;
        match created {
            Ok(true) => {}
            Ok(false) => return Err(self.enable_lost(&user, state).await),
            Err(error) => return Err(Refusal::new(state, ServiceError::store(error))),
        }
        self.audit.record(event);
        self.notify(&enabled.notify, Notice::Enabled).await;
        Ok(())
    }

    /// Why a "Done" lost: 2FA is on (another copy's "Done" won), or the wizard ended some
    /// other way (cancelled, or the account changed). The state back only if that could not
    /// be read.
    async fn enable_lost(
        &self,
        user: &str,
        state: SaveRecoveryCodes,
    ) -> Refusal<SaveRecoveryCodes> {
        match self.account(user).await {
            Ok(account) if account.credential.is_some() => {
                Refusal::end(ServiceError::AlreadyEnabled)
            }
            Ok(_) => Refusal::end(ServiceError::Replayed),
            Err(error) => Refusal::new(state, error),
        }
    }

    /// The record of a wizard's end, kept until the wizard could no longer complete anyway.
    fn wizard_end(&self, wizard: StateId, started_at: u64) -> ConsumedState {
        ConsumedState {
            id: derived_id(b"twostep wizard end v1\0", &[wizard.as_bytes()]),
            expires_at: started_at.saturating_add(self.policies.pending_ttl_seconds),
        }
    }

    /// Leaves the wizard at any step: nothing is saved, and no copy of this wizard can finish
    /// any more. A "Done" racing the cancel either wins — the cancel answers
    /// [`ServiceError::AlreadyEnabled`] — or loses with [`ServiceError::Replayed`]; never both.
    /// An expired wizard is left without a write.
    ///
    /// ```
    /// # use twostep_enrollment::memory::{FixedPasswords, MemoryStore, PlaintextSealer, RecordingMailer};
    /// # use twostep_enrollment::{Account, PendingEnable, Service, ServiceError};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ServiceError> {
    /// # let service = Service::builder(MemoryStore::default(), PlaintextSealer)
    /// #     .mailer(RecordingMailer::default()).reauthenticate(FixedPasswords::default()).build();
    /// let alice = Account { user_id: "alice".into(), email: "alice@example.com".into() };
    /// let wizard = service.start_enable(&alice).await?;
    /// service.cancel_enable(&alice, PendingEnable::from(wizard)).await?;
    /// assert!(!service.status("alice").await?.is_enabled());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ServiceError::AlreadyEnabled`] when a "Done" of this wizard went first (2FA is on);
    /// [`ServiceError::Conflict`] when one claimed the end and has not written yet (look at
    /// the status again); [`ServiceError::WrongUser`]; a store failure (nothing recorded).
    pub async fn cancel_enable(
        &self,
        account: &Account,
        state: PendingEnable,
    ) -> Result<(), ServiceError> {
        same_account(state.account(), account)?;
        let user = account.user_id.as_str();
        let now = self.clock.now();
        let end = self.wizard_end(state.wizard(), state.started_at());
        if now >= end.expires_at {
            return Ok(());
        }
        let cancelled = self
            .store
            .consume_state(user, end, now)
            .await
            .map_err(ServiceError::store)?;
        if cancelled {
            return Ok(());
        }
        Err(match self.account(user).await?.credential {
            Some(_) => ServiceError::AlreadyEnabled,
            None => ServiceError::Conflict,
        })
    }
}

/// A state id derived from `parts` under `domain`: records whose id every server computes
/// alike, such as a wizard's end or a slot of the email-code ration.
fn derived_id(domain: &[u8], parts: &[&[u8]]) -> StateId {
    let mut hasher = Sha256::new().chain_update(domain);
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    for (byte, digested) in id.iter_mut().zip(digest) {
        *byte = digested;
    }
    StateId::from_bytes(id)
}
