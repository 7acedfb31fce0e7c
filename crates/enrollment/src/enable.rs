//! The enable wizard as a sans-IO state machine.
//!
//! ```text
//! start ──► EmailCodeSent ──verify_email──► AuthenticatorSetup ──confirm──► SaveRecoveryCodes ──complete(saved)──► Enabled
//!              │  ▲ resend                      (QR, manual key)            (copy, download)                    (one atomic write)
//! ```
//!
//! Each transition takes the state by value with `now` and returns the next state, or the
//! state back with the reason ([`Refused`]). Nothing is written anywhere until
//! [`SaveRecoveryCodes::complete`] returns [`Enabled`], whose [`NewCredential`] the caller
//! stores in one atomic write: abandoning the wizard at any step, or letting it expire, leaves
//! the user's credential untouched, and starting again begins afresh with a new secret.
//!
//! The pending states hold the new secret and, at the last step, the plaintext recovery
//! codes; they zeroize on drop and print `[redacted]`. They leave the service only sealed
//! ([`Service::seal`](crate::Service::seal)).
//!
//! The machine calls no trait and reads no clock; the caller passes `now`, the RNG and the
//! account's [`Throttle`], and stores what comes back.

// A refused step hands the state back by value, as the type-state design intends; boxing it
// would allocate on every wrong code for no gain.
#![allow(clippy::result_large_err)]

use rand_core::CryptoRng;
use twostep_otp::{Accepted, KeyUri, Rejection, Secret, Totp, TotpParams, UriError};
use twostep_recovery::{DownloadFile, IssuedCodes, Locale, RecoveryCodeSet, SetError};

use crate::app::StateId;
use crate::email_code::{EmailChallenge, EmailCode, EmailCodeError};
use crate::policies::Policies;
use crate::throttle::{Locked, Throttle};

/// The user enabling two-step verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The application's user id.
    pub user_id: String,
    /// The login email: the email code goes there, and it is the account name in the app.
    pub email: String,
}

/// Why a step of the wizard did not advance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnableError {
    /// The wizard took longer than its lifetime: start again.
    #[error("the setup expired; start again")]
    Expired,
    /// The email code was wrong, expired or resent too soon.
    #[error(transparent)]
    EmailCode(#[from] EmailCodeError),
    /// Too many failed attempts on this account.
    #[error(transparent)]
    Locked(#[from] Locked),
    /// The authenticator code was malformed, wrong or replayed.
    #[error("the authenticator code was not accepted")]
    Code(#[from] Rejection),
    /// "Done" without ticking "I saved my recovery codes".
    #[error("save your recovery codes and confirm that you did")]
    NotSaved,
    /// Generating the recovery codes failed.
    #[error(transparent)]
    RecoveryCodes(#[from] SetError),
    /// The issuer or account cannot be put in an otpauth:// URI.
    #[error(transparent)]
    Uri(#[from] UriError),
}

/// A step that did not advance: the state to keep (possibly updated, e.g. one attempt fewer)
/// and why.
#[derive(Debug)]
pub(crate) struct Refused<S> {
    /// The state to keep. After [`EnableError::Expired`] it is dead: start again.
    pub state: S,
    /// Why the step did not advance.
    pub error: EnableError,
}

/// The mail with the email code, for the application's mailer.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct EmailCodeMail {
    /// The recipient: the account's login email.
    pub to: String,
    /// The code to put in the body.
    pub code: EmailCode,
    /// When it expires (Unix time).
    pub expires_at: u64,
}

/// Step 1: an email code was sent to the login address. It keeps the code only hashed, and
/// a six-digit code's hash falls to a million guesses: it is safe to keep only sealed
/// ([`Service::seal`](crate::Service::seal)), as every pending state is.
#[derive(Clone, Debug)]
pub struct EmailCodeSent {
    account: Account,
    revision: u64,
    started_at: u64,
    /// The wizard's own id, the same across resends: its email step completes once,
    /// whichever of its codes passes.
    wizard: StateId,
    challenge: EmailChallenge,
}

/// Step 2: the email was verified; the new secret is shown as a QR code and a manual key.
#[derive(Debug)]
pub struct AuthenticatorSetup {
    account: Account,
    revision: u64,
    started_at: u64,
    wizard: StateId,
    secret: Secret,
}

/// Step 3: the first code was confirmed; the recovery codes are shown and must be saved.
#[derive(Debug)]
pub struct SaveRecoveryCodes {
    account: Account,
    revision: u64,
    started_at: u64,
    wizard: StateId,
    /// Whether a "Done" of this state claimed the wizard's end and then failed to write: its
    /// next "Done" writes without claiming again.
    claimed: bool,
    secret: Secret,
    confirmed_step: u64,
    issued: IssuedCodes,
    set: RecoveryCodeSet,
}

/// The wizard is done: write [`Enabled::credential`] atomically, then send the notice.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct Enabled {
    /// The credential to store, in one atomic write.
    pub credential: NewCredential,
    /// The account's revision when the wizard started: create the credential only while it
    /// is still this one (see [`Store::create_credential`](crate::Store::create_credential)),
    /// so the wizard completes once, and never after the credential changed meanwhile.
    pub revision: u64,
    /// Whom to notify that two-step verification was turned on.
    pub notify: String,
}

/// A credential ready to store.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct NewCredential {
    /// The application's user id.
    pub user_id: String,
    /// The TOTP secret; seal it at rest.
    pub secret: Secret,
    /// Its parameters.
    pub params: TotpParams,
    /// The step of the code that confirmed the setup: that code cannot then log in.
    pub last_accepted_step: u64,
    /// The recovery codes, hashed.
    pub recovery_codes: RecoveryCodeSet,
    /// When it was enabled (Unix time).
    pub enabled_at: u64,
}

/// What the authenticator-setup screen shows. `Debug` shows neither the key nor the URI.
#[non_exhaustive]
pub struct SetupView {
    /// The otpauth:// URI behind the QR code (render it with `KeyUri::to_qr` and feature
    /// `qr` of `twostep-otp`).
    pub key_uri: KeyUri,
    /// The key for manual entry, in groups of four.
    pub manual_key: zeroize::Zeroizing<String>,
    /// The account name the app shows.
    pub account: String,
    /// The key type to choose in the app: "time based".
    pub time_based: bool,
}

impl core::fmt::Debug for SetupView {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SetupView")
            .field("account", &self.account)
            .field("time_based", &self.time_based)
            .finish_non_exhaustive()
    }
}

/// Starts the wizard for `account`, whose stored revision is `revision` (see
/// [`StoredAccount::revision`](crate::StoredAccount::revision)), and sends the first email
/// code.
pub(crate) fn start<R: CryptoRng + ?Sized>(
    account: Account,
    revision: u64,
    rng: &mut R,
    policy: &Policies,
    now: u64,
) -> (EmailCodeSent, EmailCodeMail) {
    let (code, challenge) = EmailChallenge::issue(rng, policy, now);
    let mail = EmailCodeMail {
        to: account.email.clone(),
        code,
        expires_at: challenge.expires_at(),
    };
    let state = EmailCodeSent {
        account,
        revision,
        started_at: now,
        wizard: StateId::generate(rng),
        challenge,
    };
    (state, mail)
}

fn expired(started_at: u64, policy: &Policies, now: u64) -> bool {
    now >= started_at.saturating_add(policy.pending_ttl_seconds)
}

impl EmailCodeSent {
    pub(crate) fn parts(&self) -> (&Account, u64, u64, StateId, &EmailChallenge) {
        (
            &self.account,
            self.revision,
            self.started_at,
            self.wizard,
            &self.challenge,
        )
    }

    pub(crate) fn from_parts(
        account: Account,
        revision: u64,
        started_at: u64,
        wizard: StateId,
        challenge: EmailChallenge,
    ) -> Self {
        Self {
            account,
            revision,
            started_at,
            wizard,
            challenge,
        }
    }

    /// The wizard's id: its email step completes once, whichever of its codes passes — a
    /// copy from before a resend cannot pass it again with the old code (record it with
    /// [`Store::consume_state`](crate::Store::consume_state) before moving on).
    pub(crate) fn id(&self) -> StateId {
        self.wizard
    }

    /// When the whole wizard expires (Unix time).
    pub(crate) fn wizard_expires_at(&self, policy: &Policies) -> u64 {
        self.started_at.saturating_add(policy.pending_ttl_seconds)
    }

    /// When the code now pending expires (Unix time).
    pub fn expires_at(&self) -> u64 {
        self.challenge.expires_at()
    }

    /// Wrong attempts the code now pending still allows.
    pub fn attempts_left(&self) -> u8 {
        self.challenge.attempts_left()
    }

    /// Sends a new code in place of the old one, after the cooldown.
    ///
    /// # Errors
    /// [`EmailCodeError::ResendTooSoon`] inside the cooldown; [`EnableError::Expired`] after
    /// the wizard's lifetime.
    pub(crate) fn resend<R: CryptoRng + ?Sized>(
        self,
        rng: &mut R,
        policy: &Policies,
        now: u64,
    ) -> Result<(Self, EmailCodeMail), Refused<Self>> {
        if expired(self.started_at, policy, now) {
            return Err(Refused {
                state: self,
                error: EnableError::Expired,
            });
        }
        if let Err(error) = self.challenge.check_resend(policy, now) {
            return Err(Refused {
                state: self,
                error: error.into(),
            });
        }
        let (code, challenge) = EmailChallenge::issue(rng, policy, now);
        let mail = EmailCodeMail {
            to: self.account.email.clone(),
            code,
            expires_at: challenge.expires_at(),
        };
        Ok((Self { challenge, ..self }, mail))
    }

    /// Checks the email code; on success draws the new TOTP secret.
    ///
    /// # Errors
    /// [`EnableError::EmailCode`] for a wrong or expired code (the returned state has one
    /// attempt fewer); [`EnableError::Expired`] after the wizard's lifetime.
    pub(crate) fn verify_email<R: CryptoRng + ?Sized>(
        self,
        input: &str,
        rng: &mut R,
        policy: &Policies,
        now: u64,
    ) -> Result<AuthenticatorSetup, Refused<Self>> {
        if expired(self.started_at, policy, now) {
            return Err(Refused {
                state: self,
                error: EnableError::Expired,
            });
        }
        match self.challenge.verify(input, now) {
            Ok(()) => Ok(AuthenticatorSetup {
                account: self.account,
                revision: self.revision,
                started_at: self.started_at,
                wizard: self.wizard,
                secret: Secret::generate_for(policy.totp.algorithm, rng),
            }),
            Err((challenge, error)) => Err(Refused {
                state: Self { challenge, ..self },
                error: error.into(),
            }),
        }
    }

    /// The account being set up.
    pub fn account(&self) -> &Account {
        &self.account
    }
}

impl AuthenticatorSetup {
    pub(crate) fn parts(&self) -> (&Account, u64, u64, StateId, &Secret) {
        (
            &self.account,
            self.revision,
            self.started_at,
            self.wizard,
            &self.secret,
        )
    }

    pub(crate) fn from_parts(
        account: Account,
        revision: u64,
        started_at: u64,
        wizard: StateId,
        secret: Secret,
    ) -> Self {
        Self {
            account,
            revision,
            started_at,
            wizard,
            secret,
        }
    }

    /// The account being set up.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// What the screen shows: the Key URI for the QR code, the grouped manual key, the
    /// account name and "time based". The account name is the login email made fit for a Key
    /// URI ([`twostep_otp::fit_name`]), so any address the application accepted can be set
    /// up.
    ///
    /// # Errors
    /// [`EnableError::Uri`] if the policy's issuer cannot appear in a Key URI (a colon, for
    /// example): a configuration error, the same for every user.
    pub(crate) fn view(&self, policy: &Policies) -> Result<SetupView, EnableError> {
        let secret = Secret::from_bytes(self.secret.expose_bytes())
            .map_err(|_| EnableError::Uri(UriError::Label))?;
        let account = twostep_otp::fit_name(&self.account.email);
        let key_uri = KeyUri::totp(secret, Some(&policy.issuer), &account, policy.totp)?;
        Ok(SetupView {
            key_uri,
            manual_key: self.secret.to_base32_grouped(),
            account,
            time_based: true,
        })
    }

    /// Checks the first code from the app and issues the recovery codes. The code's step is
    /// kept, so the same code cannot log in afterwards. A wrong code counts against the
    /// account's throttle; the returned [`Throttle`] replaces the stored one either way.
    ///
    /// # Errors
    /// [`EnableError::Locked`] before checking when the budget is spent; [`EnableError::Code`]
    /// for a malformed or wrong code; [`EnableError::Expired`]; [`EnableError::RecoveryCodes`].
    pub(crate) fn confirm<R: CryptoRng + ?Sized>(
        self,
        input: &str,
        throttle: Throttle,
        rng: &mut R,
        policy: &Policies,
        now: u64,
    ) -> Result<(SaveRecoveryCodes, Throttle), (Refused<Self>, Throttle)> {
        if expired(self.started_at, policy, now) {
            return Err((
                Refused {
                    state: self,
                    error: EnableError::Expired,
                },
                throttle,
            ));
        }
        if let Err(locked) = throttle.check(&policy.throttle, now) {
            return Err((
                Refused {
                    state: self,
                    error: locked.into(),
                },
                throttle,
            ));
        }
        let totp = Totp::new(&self.secret, policy.totp).with_window(policy.window);
        let Accepted { step, .. } = match totp.verify(input, now, None) {
            Ok(accepted) => accepted,
            Err(rejection) => {
                let throttle = throttle.record_failure(&policy.throttle, now);
                return Err((
                    Refused {
                        state: self,
                        error: rejection.into(),
                    },
                    throttle,
                ));
            }
        };
        match RecoveryCodeSet::generate(rng, policy.recovery_codes, &policy.recovery_hash, now) {
            Ok((issued, set)) => Ok((
                SaveRecoveryCodes {
                    account: self.account,
                    revision: self.revision,
                    started_at: self.started_at,
                    wizard: self.wizard,
                    claimed: false,
                    secret: self.secret,
                    confirmed_step: step,
                    issued,
                    set,
                },
                throttle.record_success(),
            )),
            // The code was right but nothing could be made: not a guess, nothing to count.
            Err(error) => Err((
                Refused {
                    state: self,
                    error: error.into(),
                },
                throttle,
            )),
        }
    }
}

impl SaveRecoveryCodes {
    #[allow(clippy::type_complexity)] // the fields, for the sealed state
    pub(crate) fn parts(
        &self,
    ) -> (
        &Account,
        u64,
        u64,
        (StateId, bool),
        &Secret,
        u64,
        &IssuedCodes,
        &RecoveryCodeSet,
    ) {
        (
            &self.account,
            self.revision,
            self.started_at,
            (self.wizard, self.claimed),
            &self.secret,
            self.confirmed_step,
            &self.issued,
            &self.set,
        )
    }

    #[allow(clippy::too_many_arguments)] // the fields, from the sealed state
    pub(crate) fn from_parts(
        account: Account,
        revision: u64,
        started_at: u64,
        (wizard, claimed): (StateId, bool),
        secret: Secret,
        confirmed_step: u64,
        issued: IssuedCodes,
        set: RecoveryCodeSet,
    ) -> Self {
        Self {
            account,
            revision,
            started_at,
            wizard,
            claimed,
            secret,
            confirmed_step,
            issued,
            set,
        }
    }

    /// The account being set up.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Whether a "Done" of this very state already claimed the wizard's end.
    pub(crate) fn claimed(&self) -> bool {
        self.claimed
    }

    /// Records that a "Done" of this state claimed the wizard's end.
    pub(crate) fn claim(&mut self) {
        self.claimed = true;
    }

    /// The codes to show, with their clipboard text and download file.
    pub fn codes(&self) -> &IssuedCodes {
        &self.issued
    }

    /// The download file, named after `issuer` (the service's, as authenticator apps show it),
    /// with the account and date.
    pub fn download_file(&self, issuer: &str, locale: Locale) -> DownloadFile {
        self.issued
            .download_file(issuer, &self.account.email, locale)
    }

    /// "Done": only with "I saved them" ticked. Returns the credential to write — the first
    /// and only write of the whole wizard — and keeps the state, to hand back if that write
    /// fails.
    ///
    /// # Errors
    /// [`EnableError::NotSaved`] without the tick; [`EnableError::Expired`];
    /// [`EnableError::Uri`] if the key cannot be copied (never for a key this wizard drew).
    pub(crate) fn complete(
        &self,
        saved: bool,
        policy: &Policies,
        now: u64,
    ) -> Result<Enabled, EnableError> {
        if expired(self.started_at, policy, now) {
            return Err(EnableError::Expired);
        }
        if !saved {
            return Err(EnableError::NotSaved);
        }
        let secret = Secret::from_bytes(self.secret.expose_bytes())
            .map_err(|_| EnableError::Uri(UriError::Label))?;
        Ok(Enabled {
            revision: self.revision,
            notify: self.account.email.clone(),
            credential: NewCredential {
                user_id: self.account.user_id.clone(),
                secret,
                params: policy.totp,
                last_accepted_step: self.confirmed_step,
                recovery_codes: self.set.clone(),
                enabled_at: now,
            },
        })
    }
}
