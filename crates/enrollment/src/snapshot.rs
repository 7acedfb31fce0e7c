//! Snapshots of the flows' pending states, for keeping them between two requests in a
//! server-side session store.
//!
//! A [`PendingEnable`] holds whichever step the wizard is at; a [`SaveNewCodes`] the new codes
//! of a re-issue; a [`LoginChallenge`] (and the [`ConfirmWithCode`] of disabling) a pending
//! second step. Every serialized form carries a schema version. The first two carry
//! **secrets**: the new TOTP key (base32) and the plaintext recovery codes shown. Keep it server-side only — in the session store's database or
//! memory, never in a cookie, a hidden form field or a log. Decoding is defensive: an unknown
//! version, a short key, a malformed code or an invalid stored set is a typed error.

use serde::{Deserialize, Serialize};
use twostep_otp::Secret;
use twostep_recovery::{IssuedCodes, RecoveryCode, RecoveryCodeSet};
use zeroize::Zeroizing;

use crate::app::StateId;
use crate::disable::ConfirmWithCode;
use crate::email_code::EmailChallenge;
use crate::enable::{Account, AuthenticatorSetup, EmailCodeSent, SaveRecoveryCodes};
use crate::login::LoginChallenge;
use crate::reissue::{Replacing, SaveNewCodes};

/// The schema version written into snapshots. Version 2 added the account revision and the
/// challenges' ids (which make every state complete once); version 1 snapshots are refused
/// (start again).
pub const SNAPSHOT_VERSION: u32 = 2;

/// The enable wizard at any of its pending steps.
#[derive(Debug)]
#[non_exhaustive]
pub enum PendingEnable {
    /// Waiting for the email code.
    EmailCodeSent(EmailCodeSent),
    /// Showing the QR code, waiting for the first code.
    AuthenticatorSetup(AuthenticatorSetup),
    /// Showing the recovery codes, waiting for "Done".
    SaveRecoveryCodes(SaveRecoveryCodes),
}

/// A snapshot that cannot be restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Written by another schema version.
    #[error("unsupported snapshot version {0}")]
    Version(u32),
    /// The TOTP key is not valid base32 of at least 128 bits.
    #[error("the snapshot's key is invalid")]
    Secret,
    /// A recovery code does not parse (wrong shape or check symbol).
    #[error("a recovery code in the snapshot is invalid")]
    RecoveryCode,
    /// A snapshot of another flow (a login challenge offered as a disable step, or the reverse).
    #[error("the snapshot belongs to another flow")]
    WrongFlow,
    /// The shown codes do not fit the set (another count).
    #[error("the snapshot's recovery codes do not fit its set")]
    Mismatch,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    user_id: String,
    email: String,
    revision: u64,
    started_at: u64,
    #[serde(flatten)]
    step: StoredStep,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
enum StoredStep {
    EmailCodeSent {
        challenge: EmailChallenge,
    },
    AuthenticatorSetup {
        secret: Zeroizing<String>,
    },
    SaveRecoveryCodes {
        secret: Zeroizing<String>,
        confirmed_step: u64,
        codes: Vec<Zeroizing<String>>,
        set: RecoveryCodeSet,
    },
}

impl Serialize for PendingEnable {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (account, revision, started_at, step) = match self {
            Self::EmailCodeSent(state) => {
                let (account, revision, started_at, challenge) = state.parts();
                (
                    account,
                    revision,
                    started_at,
                    StoredStep::EmailCodeSent {
                        challenge: challenge.clone(),
                    },
                )
            }
            Self::AuthenticatorSetup(state) => {
                let (account, revision, started_at, secret) = state.parts();
                (
                    account,
                    revision,
                    started_at,
                    StoredStep::AuthenticatorSetup {
                        secret: secret.to_base32(),
                    },
                )
            }
            Self::SaveRecoveryCodes(state) => {
                let (account, revision, started_at, secret, confirmed_step, issued, set) =
                    state.parts();
                let codes = show_codes(issued);
                let step = StoredStep::SaveRecoveryCodes {
                    secret: secret.to_base32(),
                    confirmed_step,
                    codes,
                    set: set.clone(),
                };
                (account, revision, started_at, step)
            }
        };
        Stored {
            version: SNAPSHOT_VERSION,
            user_id: account.user_id.clone(),
            email: account.email.clone(),
            revision,
            started_at,
            step,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PendingEnable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        restore(stored).map_err(serde::de::Error::custom)
    }
}

fn restore(stored: Stored) -> Result<PendingEnable, SnapshotError> {
    if stored.version != SNAPSHOT_VERSION {
        return Err(SnapshotError::Version(stored.version));
    }
    let account = Account {
        user_id: stored.user_id,
        email: stored.email,
    };
    let secret = |text: &str| Secret::from_base32(text).map_err(|_| SnapshotError::Secret);
    Ok(match stored.step {
        StoredStep::EmailCodeSent { challenge } => PendingEnable::EmailCodeSent(
            EmailCodeSent::from_parts(account, stored.revision, stored.started_at, challenge),
        ),
        StoredStep::AuthenticatorSetup { secret: text } => {
            PendingEnable::AuthenticatorSetup(AuthenticatorSetup::from_parts(
                account,
                stored.revision,
                stored.started_at,
                secret(&text)?,
            ))
        }
        StoredStep::SaveRecoveryCodes {
            secret: text,
            confirmed_step,
            codes,
            set,
        } => {
            let issued = restore_codes(&codes, &set)?;
            PendingEnable::SaveRecoveryCodes(SaveRecoveryCodes::from_parts(
                account,
                stored.revision,
                stored.started_at,
                secret(&text)?,
                confirmed_step,
                issued,
                set,
            ))
        }
    })
}

/// Restores shown recovery codes, checking each and their count against the set.
fn restore_codes(
    codes: &[Zeroizing<String>],
    set: &RecoveryCodeSet,
) -> Result<IssuedCodes, SnapshotError> {
    if codes.len() != set.len() {
        return Err(SnapshotError::Mismatch);
    }
    let codes = codes
        .iter()
        .map(|code| RecoveryCode::parse(code).map_err(|_| SnapshotError::RecoveryCode))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(IssuedCodes::new(codes, set.created_at()))
}

fn show_codes(issued: &IssuedCodes) -> Vec<Zeroizing<String>> {
    issued
        .codes()
        .iter()
        .map(|code| Zeroizing::new(code.to_string()))
        .collect()
}

#[derive(Serialize, Deserialize)]
struct StoredReissue {
    version: u32,
    user_id: String,
    revision: u64,
    replaces_issue: [u8; 16],
    expires_at: u64,
    codes: Vec<Zeroizing<String>>,
    set: RecoveryCodeSet,
}

impl Serialize for SaveNewCodes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (user_id, replacing, expires_at, issued, set) = self.parts();
        StoredReissue {
            version: SNAPSHOT_VERSION,
            user_id: user_id.to_owned(),
            revision: replacing.revision,
            replaces_issue: replacing.issue,
            expires_at,
            codes: show_codes(issued),
            set: set.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SaveNewCodes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = StoredReissue::deserialize(deserializer)?;
        if stored.version != SNAPSHOT_VERSION {
            return Err(serde::de::Error::custom(SnapshotError::Version(
                stored.version,
            )));
        }
        let issued = restore_codes(&stored.codes, &stored.set).map_err(serde::de::Error::custom)?;
        Ok(Self::from_parts(
            stored.user_id,
            Replacing {
                revision: stored.revision,
                issue: stored.replaces_issue,
            },
            stored.expires_at,
            issued,
            stored.set,
        ))
    }
}

/// Which flow a serialized challenge belongs to: a login challenge must never restore as a
/// disable step (which would skip the password), nor the reverse.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Flow {
    Login,
    Disable,
}

/// The serialized form of a [`LoginChallenge`] and of a disable step.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredChallenge {
    version: u32,
    flow: Flow,
    id: [u8; 16],
    user_id: String,
    expires_at: u64,
    /// The disable step's account revision; none for a login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<u64>,
}

impl StoredChallenge {
    fn new(challenge: &LoginChallenge, flow: Flow, revision: Option<u64>) -> Self {
        Self {
            version: SNAPSHOT_VERSION,
            flow,
            id: *challenge.id().as_bytes(),
            user_id: challenge.user_id().to_owned(),
            expires_at: challenge.expires_at(),
            revision,
        }
    }

    fn restore(self, flow: Flow) -> Result<(LoginChallenge, Option<u64>), SnapshotError> {
        if self.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version(self.version));
        }
        if self.flow != flow {
            return Err(SnapshotError::WrongFlow);
        }
        let challenge =
            LoginChallenge::from_parts(StateId::from_bytes(self.id), self.user_id, self.expires_at);
        Ok((challenge, self.revision))
    }
}

impl From<LoginChallenge> for StoredChallenge {
    fn from(challenge: LoginChallenge) -> Self {
        Self::new(&challenge, Flow::Login, None)
    }
}

impl TryFrom<StoredChallenge> for LoginChallenge {
    type Error = SnapshotError;

    fn try_from(stored: StoredChallenge) -> Result<Self, SnapshotError> {
        Ok(stored.restore(Flow::Login)?.0)
    }
}

impl Serialize for ConfirmWithCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredChallenge::new(self.challenge(), Flow::Disable, Some(self.revision()))
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ConfirmWithCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = StoredChallenge::deserialize(deserializer)?;
        let (challenge, revision) = stored
            .restore(Flow::Disable)
            .map_err(serde::de::Error::custom)?;
        let revision = revision.ok_or(serde::de::Error::missing_field("revision"))?;
        Ok(Self::from_parts(challenge, revision))
    }
}
