//! Every step of the seed flow over the session: the second step at sign-in, the enable
//! wizard, re-issue, disable and an organisation's security settings.
//!
//! Each step reads where the session stands, opens the flow's sealed state for the session's
//! user, drives the [`Service`](twostep_enrollment::Service), seals what the flow leaves
//! pending and answers a view. A step the session's stage does not allow is refused
//! ([`Error::code`] `not_signed_in`); a step of a flow not under way is `no_pending_step`.
//! Whether a state completes once is the service's business, not the session's: a copy of
//! the session (two tabs, a replayed cookie, two servers) races through the store.

use tower_sessions::Session;
use twostep_enrollment::{
    Account, ConfirmWithCode, Directory, LoginChallenge, LoginStep, Mailer, PendingEnable,
    PendingState, Reauthenticate, Refusal, SaveNewCodes, Saved, ServiceError, Store,
};
use twostep_recovery::{DownloadFile, IssuedCodes, Locale};
use zeroize::Zeroizing;

use crate::session::{self, Flow, Stage, User};
use crate::views::{
    AuthenticatorView, DisableView, Done, Finished, MandateView, OrgSecurityView,
    RecoveryCodesLeft, RecoveryCodesView, ReissueView, Reminder, SecurityLogView, SessionStage,
    SignInStep, StatusView, WizardStep, WizardView,
};
use crate::{Error, TwoStep};

/// Events per page of a security log.
const LOG_PAGE: u32 = 20;

fn codes_view(codes: &IssuedCodes) -> RecoveryCodesView {
    RecoveryCodesView {
        codes: codes
            .codes()
            .iter()
            .map(|code| Zeroizing::new(code.to_string()))
            .collect(),
    }
}

impl<S, M, R, D> TwoStep<S, M, R, D>
where
    S: Store + 'static,
    M: Mailer + 'static,
    R: Reauthenticate + 'static,
    D: Directory + 'static,
{
    /// The session's stage, if it still holds ([`session::current`]).
    async fn current(&self, session: &Session) -> Result<Option<Stage>, Error> {
        session::current(session, &*self.service).await
    }

    /// The session's user and security revision, if fully signed in.
    async fn signed_in(&self, session: &Session) -> Result<(User, u64), Error> {
        match self.current(session).await? {
            Some(Stage::SignedIn { user, revision }) => Ok((user, revision)),
            other => Err(Error::not_at(other.as_ref())),
        }
    }

    /// The session's user, if it may use the enable wizard: fully signed in, or held to it by
    /// a mandate (with the organisation).
    async fn enrolling(&self, session: &Session) -> Result<(User, u64, Option<String>), Error> {
        match self.current(session).await? {
            Some(Stage::SignedIn { user, revision }) => Ok((user, revision, None)),
            Some(Stage::EnrollmentRequired {
                user,
                org,
                revision,
            }) => Ok((user, revision, Some(org))),
            other => Err(Error::not_at(other.as_ref())),
        }
    }

    /// After this session changed its user's second factor, which moved the security revision
    /// from `before` by one: the session goes on, fully signed in, at the new revision (under
    /// a new id with `new_id`). Had anything else changed it too — a reset, another
    /// session's change — the session is signed out, as its next request would be; the answer
    /// is then `false`.
    async fn changed(
        &self,
        session: &Session,
        user: User,
        before: u64,
        new_id: bool,
    ) -> Result<bool, Error> {
        let revision = self.service.status(&user.id).await?.security_revision;
        if before.checked_add(1) != Some(revision) {
            session.flush().await?;
            return Ok(false);
        }
        let stage = Stage::SignedIn { user, revision };
        if new_id {
            session::enter(session, &stage).await?;
        } else {
            session::update(session, &stage).await?;
        }
        Ok(true)
    }

    // ----------------------------------------------------------------------------------
    // Sign-in.

    /// After the application checked the password of `account`: signs the session in, or
    /// holds it at the second step, or at the enable wizard an organisation requires. The
    /// session gets a new id whatever the answer.
    ///
    /// # Errors
    /// A backend failure (the session is left as it was).
    pub async fn password_verified(
        &self,
        session: &Session,
        account: &Account,
    ) -> Result<SignInStep, Error> {
        let user = User::from(account);
        let (stage, step) = match self.service.begin_login(account).await? {
            LoginStep::SignedIn {
                reminder,
                security_revision,
            } => (
                Stage::SignedIn {
                    user,
                    revision: security_revision,
                },
                SignInStep::SignedIn {
                    reminder: reminder.map(|reminder| Reminder {
                        org: reminder.org_id,
                        deadline: reminder.deadline,
                    }),
                    recovery_codes_left: None,
                },
            ),
            LoginStep::SecondStep(challenge) => (
                Stage::SecondStep {
                    user,
                    challenge: self.service.seal(&challenge)?,
                },
                SignInStep::SecondStep,
            ),
            LoginStep::EnrollmentRequired {
                org_id,
                security_revision,
            } => (
                Stage::EnrollmentRequired {
                    user,
                    org: org_id.clone(),
                    revision: security_revision,
                },
                SignInStep::EnrollmentRequired { org: org_id },
            ),
        };
        session::enter(session, &stage).await?;
        Ok(step)
    }

    /// The second step: a code from the authenticator app, or a recovery code. Signs the
    /// session in under a new id.
    ///
    /// # Errors
    /// `not_signed_in` without a pending second step; the service's refusal otherwise. When
    /// the error says [`Error::restart`], the session is back to signed out.
    pub async fn verify_second_step(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<SignInStep, Error> {
        let Some(Stage::SecondStep { user, challenge }) = self.current(session).await? else {
            return Err(Error::not_signed_in());
        };
        let challenge: LoginChallenge = match self.service.open(&user.id, &challenge) {
            Ok(challenge) => challenge,
            Err(error) => return Err(self.sign_in_again(session, error).await),
        };
        match self
            .service
            .verify_login(&user.account(), challenge, code)
            .await
        {
            Ok(signed_in) => {
                let revision = signed_in.security_revision;
                session::enter(session, &Stage::SignedIn { user, revision }).await?;
                Ok(SignInStep::SignedIn {
                    reminder: None,
                    recovery_codes_left: signed_in.recovery_codes.map(|left| RecoveryCodesLeft {
                        remaining: left.remaining,
                        low: left.low,
                    }),
                })
            }
            Err(Refusal {
                state: Some(challenge),
                error,
                ..
            }) => {
                let challenge = self.service.seal(&challenge)?;
                session::update(session, &Stage::SecondStep { user, challenge }).await?;
                Err(Error::refused(error, false))
            }
            Err(Refusal {
                state: None, error, ..
            }) => Err(self.sign_in_again(session, error).await),
        }
    }

    /// Ends a sign-in that cannot go on: the session is signed out, and the error says start
    /// again.
    async fn sign_in_again(&self, session: &Session, error: ServiceError) -> Error {
        match session::leave(session).await {
            Ok(()) => Error::refused(error, true),
            Err(session_error) => session_error,
        }
    }

    /// Signs the session out: everything in it is deleted, the application's entries too.
    ///
    /// # Errors
    /// The session store failed.
    pub async fn sign_out(&self, session: &Session) -> Result<(), Error> {
        session.flush().await?;
        Ok(())
    }

    /// The session's user and how far they have signed in; `None` for a visitor.
    ///
    /// # Errors
    /// The session store failed.
    pub async fn stage(&self, session: &Session) -> Result<Option<(Account, SessionStage)>, Error> {
        Ok(self.current(session).await?.map(|stage| match stage {
            Stage::SecondStep { user, .. } => (user.account(), SessionStage::SecondStep),
            Stage::EnrollmentRequired { user, org, .. } => {
                (user.account(), SessionStage::EnrollmentRequired { org })
            }
            Stage::SignedIn { user, .. } => (user.account(), SessionStage::SignedIn),
        }))
    }

    /// The fully signed-in user of the session, if any.
    ///
    /// # Errors
    /// The session store failed.
    pub async fn signed_in_account(&self, session: &Session) -> Result<Option<Account>, Error> {
        Ok(match self.current(session).await? {
            Some(Stage::SignedIn { user, .. }) => Some(user.account()),
            _ => None,
        })
    }

    // ----------------------------------------------------------------------------------
    // The two-step verification tab.

    /// The signed-in user's 2FA status.
    ///
    /// # Errors
    /// `not_signed_in`, or a backend failure.
    pub async fn status(&self, session: &Session) -> Result<StatusView, Error> {
        let (user, _) = self.signed_in(session).await?;
        let status = self.service.status(&user.id).await?;
        Ok(StatusView {
            email: user.email,
            enabled_at: status.enabled_at,
            recovery_codes_left: status.recovery_codes_left,
            recovery_codes_low: status.recovery_codes_low,
            locked_until: match status.locked {
                Some(twostep_enrollment::Locked::Until(until)) => Some(until),
                _ => None,
            },
            hard_locked: matches!(status.locked, Some(twostep_enrollment::Locked::Hard)),
        })
    }

    // ----------------------------------------------------------------------------------
    // The enable wizard.

    /// The wizard where it stands. A pending state that expired or does not open is dropped:
    /// the wizard shows its start again.
    ///
    /// # Errors
    /// `not_signed_in`, or a failure to render the setup.
    pub async fn wizard(&self, session: &Session) -> Result<WizardView, Error> {
        let (user, _, required_by) = self.enrolling(session).await?;
        let pending = match session::pending(session, Flow::Enable).await? {
            Some(sealed) => self.service.open::<PendingEnable>(&user.id, &sealed).ok(),
            None => None,
        };
        let step = match &pending {
            Some(state) => self.wizard_step(state)?,
            None => {
                session::keep(session, Flow::Enable, None).await?;
                WizardStep::NotStarted { email: user.email }
            }
        };
        Ok(WizardView { required_by, step })
    }

    fn wizard_step(&self, state: &PendingEnable) -> Result<WizardStep, Error> {
        Ok(match state {
            PendingEnable::EmailCodeSent(sent) => WizardStep::EmailCode {
                sent_to: sent.account().email.clone(),
            },
            PendingEnable::AuthenticatorSetup(setup) => {
                let view = self.service.setup_view(setup)?;
                let qr = view.key_uri.to_qr().map_err(|_| Error::internal())?;
                // Four pixels a module, with the 4-module quiet zone: sharp at its natural size.
                let qr_side = (qr.modules() + 8) * 4;
                WizardStep::Authenticator(AuthenticatorView {
                    issuer: self.service.policies().issuer.clone(),
                    account: view.account,
                    manual_key: view.manual_key,
                    otpauth_uri: view.key_uri.to_uri(),
                    qr_png: qr.to_png_data_uri().map_err(|_| Error::internal())?,
                    qr_side,
                })
            }
            PendingEnable::SaveRecoveryCodes(save) => {
                WizardStep::RecoveryCodes(codes_view(save.codes()))
            }
            _ => return Err(Error::internal()),
        })
    }

    /// Keeps the wizard's next state and answers the wizard's view.
    async fn wizard_next(
        &self,
        session: &Session,
        required_by: Option<String>,
        state: PendingEnable,
    ) -> Result<WizardView, Error> {
        let step = self.wizard_step(&state)?;
        self.keep(session, Flow::Enable, Some(&state)).await?;
        Ok(WizardView { required_by, step })
    }

    /// Keeps what a refused step hands back (or drops the flow) and answers the error.
    async fn refused<T: PendingState, U>(
        &self,
        session: &Session,
        flow: Flow,
        refusal: Refusal<U>,
        wrap: impl FnOnce(U) -> T,
    ) -> Error {
        let restart = refusal.state.is_none();
        let state = refusal.state.map(wrap);
        if let Err(error) = self.keep(session, flow, state.as_ref()).await {
            return error;
        }
        self.refusal_error(session, refusal.error, restart).await
    }

    /// A wizard that finds 2FA on already (enabled from another session): a session held to
    /// it by a mandate must now pass the second step, so it signs in again.
    async fn refusal_error(&self, session: &Session, error: ServiceError, restart: bool) -> Error {
        if matches!(error, ServiceError::AlreadyEnabled)
            && let Ok(Some(Stage::EnrollmentRequired { .. })) = self.current(session).await
        {
            return self.sign_in_again(session, error).await;
        }
        Error::refused(error, restart)
    }

    /// Seals `state` into the session as `flow`'s pending state, or drops the flow.
    async fn keep<T: PendingState>(
        &self,
        session: &Session,
        flow: Flow,
        state: Option<&T>,
    ) -> Result<(), Error> {
        let sealed = match state {
            Some(state) => Some(self.service.seal(state)?),
            None => None,
        };
        session::keep(session, flow, sealed).await
    }

    /// The pending state of `flow`, opened for `user`. One that does not open is dropped.
    async fn open<T: PendingState>(
        &self,
        session: &Session,
        flow: Flow,
        user: &User,
    ) -> Result<T, Error> {
        let sealed = session::pending(session, flow)
            .await?
            .ok_or_else(Error::no_pending_step)?;
        match self.service.open(&user.id, &sealed) {
            Ok(state) => Ok(state),
            Err(error) => {
                session::keep(session, flow, None).await?;
                Err(Error::refused(error, true))
            }
        }
    }

    /// Step 1: mails a code to the login email (a new wizard replaces one under way).
    ///
    /// # Errors
    /// `not_signed_in`; `already_enabled`; `resend_too_soon`; a mail or store failure.
    pub async fn start_enable(&self, session: &Session) -> Result<WizardView, Error> {
        let (user, _, required_by) = self.enrolling(session).await?;
        match self.service.start_enable(&user.account()).await {
            Ok(sent) => self.wizard_next(session, required_by, sent.into()).await,
            Err(error) => Err(self.refusal_error(session, error, false).await),
        }
    }

    /// Mails a new email code in place of the pending one.
    ///
    /// # Errors
    /// `no_pending_step` unless the wizard waits for the email code; `resend_too_soon`; a
    /// mail failure (the old code still works).
    pub async fn resend_email_code(&self, session: &Session) -> Result<WizardView, Error> {
        let (user, _, required_by) = self.enrolling(session).await?;
        let PendingEnable::EmailCodeSent(sent) = self.open(session, Flow::Enable, &user).await?
        else {
            return Err(Error::no_pending_step());
        };
        match self.service.resend_email_code(&user.account(), sent).await {
            Ok(sent) => self.wizard_next(session, required_by, sent.into()).await,
            Err(refusal) => Err(self
                .refused(session, Flow::Enable, refusal, PendingEnable::from)
                .await),
        }
    }

    /// Step 1's code, from the mail: shows the QR code and key next.
    ///
    /// # Errors
    /// `no_pending_step` unless the wizard waits for the email code; the service's refusal.
    pub async fn verify_email_code(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<WizardView, Error> {
        let (user, _, required_by) = self.enrolling(session).await?;
        let PendingEnable::EmailCodeSent(sent) = self.open(session, Flow::Enable, &user).await?
        else {
            return Err(Error::no_pending_step());
        };
        match self.service.verify_email(&user.account(), sent, code).await {
            Ok(setup) => self.wizard_next(session, required_by, setup.into()).await,
            Err(refusal) => Err(self
                .refused(session, Flow::Enable, refusal, PendingEnable::from)
                .await),
        }
    }

    /// Steps 2–3: the first code from the app, which shows the recovery codes next.
    ///
    /// # Errors
    /// `no_pending_step` unless the wizard shows the QR code; the service's refusal.
    pub async fn confirm_authenticator(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<WizardView, Error> {
        let (user, _, required_by) = self.enrolling(session).await?;
        let PendingEnable::AuthenticatorSetup(setup) =
            self.open(session, Flow::Enable, &user).await?
        else {
            return Err(Error::no_pending_step());
        };
        match self
            .service
            .confirm_authenticator(&user.account(), setup, code)
            .await
        {
            Ok(save) => self.wizard_next(session, required_by, save.into()).await,
            Err(refusal) => Err(self
                .refused(session, Flow::Enable, refusal, PendingEnable::from)
                .await),
        }
    }

    /// Step 4, "Done": with the codes saved, turns 2FA on. A session held to the wizard by a
    /// mandate is then fully signed in, under a new id.
    ///
    /// # Errors
    /// `no_pending_step` unless the wizard shows the recovery codes; `not_saved` (the codes
    /// stay on screen); the service's refusal.
    pub async fn complete_enable(&self, session: &Session, saved: bool) -> Result<Finished, Error> {
        let (user, revision, required_by) = self.enrolling(session).await?;
        let PendingEnable::SaveRecoveryCodes(save) =
            self.open(session, Flow::Enable, &user).await?
        else {
            return Err(Error::no_pending_step());
        };
        let saved = if saved { Saved::Yes } else { Saved::No };
        match self
            .service
            .complete_enable(&user.account(), save, saved)
            .await
        {
            Ok(()) => {
                session::keep(session, Flow::Enable, None).await?;
                let signed_in = self
                    .changed(session, user, revision, required_by.is_some())
                    .await?;
                Ok(Finished {
                    done: Done::Enabled,
                    signed_in,
                })
            }
            Err(refusal) => Err(self
                .refused(session, Flow::Enable, refusal, PendingEnable::from)
                .await),
        }
    }

    /// Leaves the wizard: nothing was saved — unless 2FA is on by now (a "Done" from this
    /// wizard, or another, went first), which the answer then says.
    ///
    /// # Errors
    /// `not_signed_in`; `already_enabled` if 2FA is on; a backend failure.
    pub async fn cancel_enable(&self, session: &Session) -> Result<Finished, Error> {
        let (user, _, required_by) = self.enrolling(session).await?;
        let pending = match session::pending(session, Flow::Enable).await? {
            Some(sealed) => self.service.open::<PendingEnable>(&user.id, &sealed).ok(),
            None => None,
        };
        session::keep(session, Flow::Enable, None).await?;
        let cancelled = match pending {
            Some(pending) => self.service.cancel_enable(&user.account(), pending).await,
            None if self.service.status(&user.id).await?.is_enabled() => {
                Err(ServiceError::AlreadyEnabled)
            }
            None => Ok(()),
        };
        if let Err(error) = cancelled {
            return Err(self.refusal_error(session, error, true).await);
        }
        Ok(Finished {
            done: Done::EnableCancelled,
            signed_in: required_by.is_none(),
        })
    }

    /// The recovery codes on screen as a file to download, in `locale`: the wizard's, or the
    /// re-issue's.
    ///
    /// # Errors
    /// `no_pending_step` unless codes are on screen.
    pub async fn recovery_codes_file(
        &self,
        session: &Session,
        locale: Locale,
    ) -> Result<DownloadFile, Error> {
        let issuer = &self.service.policies().issuer;
        if let Ok((user, ..)) = self.enrolling(session).await
            && let Ok(PendingEnable::SaveRecoveryCodes(save)) =
                self.open(session, Flow::Enable, &user).await
        {
            return Ok(save.download_file(issuer, locale));
        }
        let (user, _) = self.signed_in(session).await?;
        let save: SaveNewCodes = self.open(session, Flow::Reissue, &user).await?;
        Ok(save.download_file(issuer, locale))
    }

    // ----------------------------------------------------------------------------------
    // Re-issue.

    /// The re-issue where it stands.
    ///
    /// # Errors
    /// `not_signed_in`, or the session store failed.
    pub async fn reissue(&self, session: &Session) -> Result<ReissueView, Error> {
        let (user, _) = self.signed_in(session).await?;
        Ok(
            match self
                .open::<SaveNewCodes>(session, Flow::Reissue, &user)
                .await
            {
                Ok(save) => ReissueView::RecoveryCodes(codes_view(save.codes())),
                Err(_) => ReissueView::Password,
            },
        )
    }

    /// With the password: new recovery codes on screen (the old ones work until "Done").
    ///
    /// # Errors
    /// `not_signed_in`; `wrong_password`, `locked`, `not_enabled`; a backend failure.
    pub async fn start_reissue(
        &self,
        session: &Session,
        password: &str,
    ) -> Result<ReissueView, Error> {
        let (user, _) = self.signed_in(session).await?;
        let save = self
            .service
            .start_reissue(&user.account(), password)
            .await?;
        self.keep(session, Flow::Reissue, Some(&save)).await?;
        Ok(ReissueView::RecoveryCodes(codes_view(save.codes())))
    }

    /// "Done" with the new codes saved: they replace the old ones.
    ///
    /// # Errors
    /// `no_pending_step`; `not_saved` (the codes stay on screen); the service's refusal.
    pub async fn complete_reissue(
        &self,
        session: &Session,
        saved: bool,
    ) -> Result<Finished, Error> {
        let (user, revision) = self.signed_in(session).await?;
        let save: SaveNewCodes = self.open(session, Flow::Reissue, &user).await?;
        let saved = if saved { Saved::Yes } else { Saved::No };
        match self
            .service
            .complete_reissue(&user.account(), save, saved)
            .await
        {
            Ok(()) => {
                session::keep(session, Flow::Reissue, None).await?;
                Ok(Finished {
                    done: Done::Reissued,
                    signed_in: self.changed(session, user, revision, false).await?,
                })
            }
            Err(refusal) => Err(self
                .refused(session, Flow::Reissue, refusal, |save| save)
                .await),
        }
    }

    /// Leaves the re-issue: the old codes still work.
    ///
    /// # Errors
    /// `not_signed_in`, or the session store failed.
    pub async fn cancel_reissue(&self, session: &Session) -> Result<Finished, Error> {
        self.signed_in(session).await?;
        session::keep(session, Flow::Reissue, None).await?;
        Ok(Finished {
            done: Done::ReissueCancelled,
            signed_in: true,
        })
    }

    // ----------------------------------------------------------------------------------
    // Disable.

    /// The disable where it stands.
    ///
    /// # Errors
    /// `not_signed_in`, or the session store failed.
    pub async fn disable(&self, session: &Session) -> Result<DisableView, Error> {
        let (user, _) = self.signed_in(session).await?;
        Ok(
            match self
                .open::<ConfirmWithCode>(session, Flow::Disable, &user)
                .await
            {
                Ok(_) => DisableView::Code,
                Err(_) => DisableView::Password,
            },
        )
    }

    /// With the password: asks for a code next.
    ///
    /// # Errors
    /// `not_signed_in`; `wrong_password`, `locked`, `not_enabled`, `mandated`; a backend
    /// failure.
    pub async fn start_disable(
        &self,
        session: &Session,
        password: &str,
    ) -> Result<DisableView, Error> {
        let (user, _) = self.signed_in(session).await?;
        let confirm = self
            .service
            .start_disable(&user.account(), password)
            .await?;
        self.keep(session, Flow::Disable, Some(&confirm)).await?;
        Ok(DisableView::Code)
    }

    /// A code from the app or a recovery code: turns 2FA off.
    ///
    /// # Errors
    /// `no_pending_step`; the service's refusal.
    pub async fn confirm_disable(&self, session: &Session, code: &str) -> Result<Finished, Error> {
        let (user, revision) = self.signed_in(session).await?;
        let confirm: ConfirmWithCode = self.open(session, Flow::Disable, &user).await?;
        match self
            .service
            .confirm_disable(&user.account(), confirm, code)
            .await
        {
            Ok(()) => {
                session::keep(session, Flow::Disable, None).await?;
                Ok(Finished {
                    done: Done::Disabled,
                    signed_in: self.changed(session, user, revision, false).await?,
                })
            }
            Err(refusal) => Err(self
                .refused(session, Flow::Disable, refusal, |confirm| confirm)
                .await),
        }
    }

    /// Leaves the disable: 2FA stays on.
    ///
    /// # Errors
    /// `not_signed_in`, or the session store failed.
    pub async fn cancel_disable(&self, session: &Session) -> Result<Finished, Error> {
        self.signed_in(session).await?;
        session::keep(session, Flow::Disable, None).await?;
        Ok(Finished {
            done: Done::DisableCancelled,
            signed_in: true,
        })
    }

    // ----------------------------------------------------------------------------------
    // Organisation security settings.

    /// `org`'s security settings for a signed-in member: the requirement, and to its owners
    /// and admins, without a requirement, who would have to set 2FA up.
    ///
    /// # Errors
    /// `not_signed_in`; `not_allowed` for someone outside `org`; a backend failure.
    pub async fn org_security(
        &self,
        session: &Session,
        org: &str,
    ) -> Result<OrgSecurityView, Error> {
        let (user, _) = self.signed_in(session).await?;
        let manages = self.membership(&user, org).await?;
        let mandate = self
            .service
            .org_policy(org)
            .await?
            .and_then(|policy| policy.mandate);
        let preview = match (&mandate, manages) {
            (None, true) => Some(
                self.service
                    .preview_mandate(&user.account(), org, 0)
                    .await?
                    .into_iter()
                    .map(|affected| affected.user_id)
                    .collect(),
            ),
            _ => None,
        };
        Ok(OrgSecurityView {
            org: org.to_owned(),
            manages,
            mandate: mandate.map(|mandate| MandateView {
                since: mandate.since,
                set_by: mandate.set_by,
            }),
            preview,
        })
    }

    /// Requires 2FA of every member of `org` now, or stops requiring it: an owner or admin
    /// who has 2FA.
    ///
    /// # Errors
    /// `not_signed_in`; `not_allowed` saying why not; a backend failure.
    pub async fn set_org_mandate(
        &self,
        session: &Session,
        org: &str,
        required: bool,
    ) -> Result<Finished, Error> {
        let (user, _) = self.signed_in(session).await?;
        self.membership(&user, org).await?;
        let actor = user.account();
        let done = if required {
            self.service.set_mandate(&actor, org, 0).await?;
            Done::MandateSet
        } else {
            self.service.clear_mandate(&actor, org).await?;
            Done::MandateCleared
        };
        Ok(Finished {
            done,
            signed_in: true,
        })
    }

    // ----------------------------------------------------------------------------------
    // Security logs and resets.

    /// A page of the signed-in user's security log, newest first, older than the event
    /// `before` when set.
    ///
    /// # Errors
    /// `not_signed_in`, or a backend failure.
    pub async fn security_log(
        &self,
        session: &Session,
        before: Option<u64>,
    ) -> Result<SecurityLogView, Error> {
        let (user, _) = self.signed_in(session).await?;
        let page = self
            .service
            .security_log(&user.id, before, LOG_PAGE)
            .await?;
        Ok(SecurityLogView::of(page, LOG_PAGE))
    }

    /// A page of `org`'s security log, for its owners and admins.
    ///
    /// # Errors
    /// `not_signed_in`; `not_allowed` for anyone else; a backend failure.
    pub async fn org_security_log(
        &self,
        session: &Session,
        org: &str,
        before: Option<u64>,
    ) -> Result<SecurityLogView, Error> {
        let (user, _) = self.signed_in(session).await?;
        let page = self
            .service
            .org_security_log(&user.id, org, before, LOG_PAGE)
            .await?;
        Ok(SecurityLogView::of(page, LOG_PAGE))
    }

    /// Resets `member`'s second factor in `org`, for the signed-in user — an owner or admin
    /// of `org` with 2FA — confirmed with their password and a code of their own. The
    /// member's sessions end at their next request; the member is told by mail.
    ///
    /// # Errors
    /// `not_signed_in`; `not_allowed` saying why not (not a member, not owner or admin, no
    /// 2FA of their own, the member is an owner, their own account); `wrong_password`,
    /// `wrong_code`, `locked`; `not_enabled` for a member without 2FA; a backend failure.
    pub async fn reset_member(
        &self,
        session: &Session,
        org: &str,
        member: &Account,
        password: &str,
        code: &str,
    ) -> Result<Finished, Error> {
        let (user, _) = self.signed_in(session).await?;
        self.service
            .reset_member(&user.account(), org, member, password, code)
            .await?;
        Ok(Finished {
            done: Done::MemberReset,
            signed_in: true,
        })
    }

    /// Whether `user` manages security in `org`; refused if they are not a member.
    async fn membership(&self, user: &User, org: &str) -> Result<bool, Error> {
        let membership = self.service.membership(&user.id, org).await?;
        Ok(membership.role.manages_security())
    }
}
