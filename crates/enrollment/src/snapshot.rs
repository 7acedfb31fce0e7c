//! The plaintext of sealed pending states (see [`crate::sealed`]): each flow's state as JSON,
//! with a schema version, decoded defensively — an unknown version, a short key, a malformed
//! code or a set that does not fit is refused. Only the sealer reads and writes it.

use serde::{Deserialize, Serialize};
use twostep_otp::Secret;
use twostep_recovery::{IssuedCodes, RecoveryCode, RecoveryCodeSet};
use zeroize::Zeroizing;

use crate::app::StateId;
use crate::email_code::EmailChallenge;
use crate::enable::{Account, AuthenticatorSetup, EmailCodeSent, SaveRecoveryCodes};
use crate::login::LoginChallenge;
use crate::reissue::{Replacing, SaveNewCodes};
use crate::sealed::{decode_json, encode_json};

/// The schema version inside sealed states. Version 3 is the first sealed one; the plain JSON
/// snapshots of versions 1 and 2 do not open at all.
const SNAPSHOT_VERSION: u32 = 3;

/// The enable wizard at any of its pending steps: what to keep between its requests, sealed
/// ([`Service::seal`](crate::Service::seal)).
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

impl PendingEnable {
    /// The account being set up.
    pub fn account(&self) -> &Account {
        match self {
            Self::EmailCodeSent(state) => state.account(),
            Self::AuthenticatorSetup(state) => state.account(),
            Self::SaveRecoveryCodes(state) => state.account(),
        }
    }

    /// When the wizard started (Unix time): its lifetime counts from here.
    pub(crate) fn started_at(&self) -> u64 {
        match self {
            Self::EmailCodeSent(state) => state.parts().2,
            Self::AuthenticatorSetup(state) => state.parts().2,
            Self::SaveRecoveryCodes(state) => state.parts().2,
        }
    }

    /// The wizard's id, the same at every step.
    pub(crate) fn wizard(&self) -> StateId {
        match self {
            Self::EmailCodeSent(state) => state.parts().3,
            Self::AuthenticatorSetup(state) => state.parts().3,
            Self::SaveRecoveryCodes(state) => state.parts().3.0,
        }
    }
}

impl From<EmailCodeSent> for PendingEnable {
    fn from(state: EmailCodeSent) -> Self {
        Self::EmailCodeSent(state)
    }
}

impl From<AuthenticatorSetup> for PendingEnable {
    fn from(state: AuthenticatorSetup) -> Self {
        Self::AuthenticatorSetup(state)
    }
}

impl From<SaveRecoveryCodes> for PendingEnable {
    fn from(state: SaveRecoveryCodes) -> Self {
        Self::SaveRecoveryCodes(state)
    }
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
        wizard: [u8; 16],
        challenge: EmailChallenge,
    },
    AuthenticatorSetup {
        wizard: [u8; 16],
        secret: Zeroizing<String>,
    },
    SaveRecoveryCodes {
        wizard: [u8; 16],
        claimed: bool,
        secret: Zeroizing<String>,
        confirmed_step: u64,
        codes: Vec<Zeroizing<String>>,
        set: RecoveryCodeSet,
    },
}

pub(crate) fn encode_enable(state: &PendingEnable, out: &mut Zeroizing<Vec<u8>>) -> Option<()> {
    let (account, revision, started_at, step) = match state {
        PendingEnable::EmailCodeSent(state) => {
            let (account, revision, started_at, wizard, challenge) = state.parts();
            (
                account,
                revision,
                started_at,
                StoredStep::EmailCodeSent {
                    wizard: *wizard.as_bytes(),
                    challenge: challenge.clone(),
                },
            )
        }
        PendingEnable::AuthenticatorSetup(state) => {
            let (account, revision, started_at, wizard, secret) = state.parts();
            (
                account,
                revision,
                started_at,
                StoredStep::AuthenticatorSetup {
                    wizard: *wizard.as_bytes(),
                    secret: secret.to_base32(),
                },
            )
        }
        PendingEnable::SaveRecoveryCodes(state) => {
            let (
                account,
                revision,
                started_at,
                (wizard, claimed),
                secret,
                confirmed_step,
                issued,
                set,
            ) = state.parts();
            let codes = show_codes(issued);
            let step = StoredStep::SaveRecoveryCodes {
                wizard: *wizard.as_bytes(),
                claimed,
                secret: secret.to_base32(),
                confirmed_step,
                codes,
                set: set.clone(),
            };
            (account, revision, started_at, step)
        }
    };
    let stored = Stored {
        version: SNAPSHOT_VERSION,
        user_id: account.user_id.clone(),
        email: account.email.clone(),
        revision,
        started_at,
        step,
    };
    encode_json(&stored, out)
}

pub(crate) fn decode_enable(bytes: &[u8]) -> Option<PendingEnable> {
    let stored: Stored = decode_json(bytes)?;
    if stored.version != SNAPSHOT_VERSION {
        return None;
    }
    let account = Account {
        user_id: stored.user_id,
        email: stored.email,
    };
    let secret = |text: &str| Secret::from_base32(text).ok();
    Some(match stored.step {
        StoredStep::EmailCodeSent { wizard, challenge } => {
            PendingEnable::EmailCodeSent(EmailCodeSent::from_parts(
                account,
                stored.revision,
                stored.started_at,
                StateId::from_bytes(wizard),
                challenge,
            ))
        }
        StoredStep::AuthenticatorSetup {
            wizard,
            secret: text,
        } => PendingEnable::AuthenticatorSetup(AuthenticatorSetup::from_parts(
            account,
            stored.revision,
            stored.started_at,
            StateId::from_bytes(wizard),
            secret(&text)?,
        )),
        StoredStep::SaveRecoveryCodes {
            wizard,
            claimed,
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
                (StateId::from_bytes(wizard), claimed),
                secret(&text)?,
                confirmed_step,
                issued,
                set,
            ))
        }
    })
}

/// Restores shown recovery codes, checking each and their count against the set.
fn restore_codes(codes: &[Zeroizing<String>], set: &RecoveryCodeSet) -> Option<IssuedCodes> {
    if codes.len() != set.len() {
        return None;
    }
    let codes = codes
        .iter()
        .map(|code| RecoveryCode::parse(code).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(IssuedCodes::new(codes, set.created_at()))
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
    email: String,
    revision: u64,
    replaces_issue: [u8; 16],
    expires_at: u64,
    codes: Vec<Zeroizing<String>>,
    set: RecoveryCodeSet,
}

pub(crate) fn encode_reissue(state: &SaveNewCodes, out: &mut Zeroizing<Vec<u8>>) -> Option<()> {
    let (account, replacing, expires_at, issued, set) = state.parts();
    let stored = StoredReissue {
        version: SNAPSHOT_VERSION,
        user_id: account.user_id.clone(),
        email: account.email.clone(),
        revision: replacing.revision,
        replaces_issue: replacing.issue,
        expires_at,
        codes: show_codes(issued),
        set: set.clone(),
    };
    encode_json(&stored, out)
}

pub(crate) fn decode_reissue(bytes: &[u8]) -> Option<SaveNewCodes> {
    let stored: StoredReissue = decode_json(bytes)?;
    if stored.version != SNAPSHOT_VERSION {
        return None;
    }
    let issued = restore_codes(&stored.codes, &stored.set)?;
    let account = Account {
        user_id: stored.user_id,
        email: stored.email,
    };
    Some(SaveNewCodes::from_parts(
        account,
        Replacing {
            revision: stored.revision,
            issue: stored.replaces_issue,
        },
        stored.expires_at,
        issued,
        stored.set,
    ))
}

/// The plaintext of a [`LoginChallenge`], and of a disable step (a challenge behind a
/// password checked again).
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredChallenge {
    version: u32,
    id: [u8; 16],
    user_id: String,
    email: String,
    credential: [u8; 16],
    expires_at: u64,
    /// Whether it is a disable step.
    disable: bool,
}

impl StoredChallenge {
    pub(crate) fn of(challenge: &LoginChallenge, disable: bool) -> Self {
        let account = challenge.account();
        Self {
            version: SNAPSHOT_VERSION,
            id: *challenge.id().as_bytes(),
            user_id: account.user_id.clone(),
            email: account.email.clone(),
            credential: challenge.credential(),
            expires_at: challenge.expires_at(),
            disable,
        }
    }

    /// The challenge, if the plaintext is of this version and of the flow asked for.
    pub(crate) fn restore(self, disable: bool) -> Option<LoginChallenge> {
        if self.version != SNAPSHOT_VERSION || self.disable != disable {
            return None;
        }
        let account = Account {
            user_id: self.user_id,
            email: self.email,
        };
        let id = StateId::from_bytes(self.id);
        Some(LoginChallenge::from_parts(
            id,
            account,
            self.credential,
            self.expires_at,
        ))
    }
}
