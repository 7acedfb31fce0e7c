//! Snapshots of the enable wizard's pending state, for keeping it between two requests in a
//! server-side session store.
//!
//! A [`PendingEnable`] holds whichever step the wizard is at. Its serialized form carries a
//! schema version and **secrets**: the new TOTP key (base32) and, at the last step, the
//! plaintext recovery codes. Keep it server-side only — in the session store's database or
//! memory, never in a cookie, a hidden form field or a log. Decoding is defensive: an unknown
//! version, a short key, a malformed code or an invalid stored set is a typed error.

use serde::{Deserialize, Serialize};
use twostep_otp::Secret;
use twostep_recovery::{IssuedCodes, RecoveryCode, RecoveryCodeSet};
use zeroize::Zeroizing;

use crate::email_code::EmailChallenge;
use crate::enable::{Account, AuthenticatorSetup, EmailCodeSent, SaveRecoveryCodes};

/// The schema version written into snapshots.
pub const SNAPSHOT_VERSION: u32 = 1;

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
    /// The shown codes do not fit the set (another count).
    #[error("the snapshot's recovery codes do not fit its set")]
    Mismatch,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    user_id: String,
    email: String,
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
        let (account, started_at, step) = match self {
            Self::EmailCodeSent(state) => {
                let (account, started_at, challenge) = state.parts();
                (
                    account,
                    started_at,
                    StoredStep::EmailCodeSent {
                        challenge: challenge.clone(),
                    },
                )
            }
            Self::AuthenticatorSetup(state) => {
                let (account, started_at, secret) = state.parts();
                (
                    account,
                    started_at,
                    StoredStep::AuthenticatorSetup {
                        secret: secret.to_base32(),
                    },
                )
            }
            Self::SaveRecoveryCodes(state) => {
                let (account, started_at, secret, confirmed_step, issued, set) = state.parts();
                let codes = issued
                    .codes()
                    .iter()
                    .map(|code| Zeroizing::new(code.to_string()))
                    .collect();
                let step = StoredStep::SaveRecoveryCodes {
                    secret: secret.to_base32(),
                    confirmed_step,
                    codes,
                    set: set.clone(),
                };
                (account, started_at, step)
            }
        };
        Stored {
            version: SNAPSHOT_VERSION,
            user_id: account.user_id.clone(),
            email: account.email.clone(),
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
            EmailCodeSent::from_parts(account, stored.started_at, challenge),
        ),
        StoredStep::AuthenticatorSetup { secret: text } => PendingEnable::AuthenticatorSetup(
            AuthenticatorSetup::from_parts(account, stored.started_at, secret(&text)?),
        ),
        StoredStep::SaveRecoveryCodes {
            secret: text,
            confirmed_step,
            codes,
            set,
        } => {
            if codes.len() != set.len() {
                return Err(SnapshotError::Mismatch);
            }
            let codes = codes
                .iter()
                .map(|code| RecoveryCode::parse(code).map_err(|_| SnapshotError::RecoveryCode))
                .collect::<Result<Vec<_>, _>>()?;
            let issued = IssuedCodes::new(codes, set.created_at());
            PendingEnable::SaveRecoveryCodes(SaveRecoveryCodes::from_parts(
                account,
                stored.started_at,
                secret(&text)?,
                confirmed_step,
                issued,
                set,
            ))
        }
    })
}
