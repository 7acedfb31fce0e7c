//! What twostep keeps in the `tower-sessions` session: how far its user has signed in, and the
//! sealed pending state of each flow under way.
//!
//! Everything here is either a plain fact about the session (who passed the password, whether
//! the second step is done) or a [`SealedState`] that only the service opens, for that user.
//! A session store — memory, SQLite, PostgreSQL — can hold it without learning a secret, and
//! a flow moved into another user's session, or edited, does not open there. The stage itself
//! is as trusted as the session store, as a signed-in user id is in any session: whoever can
//! write session rows can sign anyone in, sealed or not. This module does not decide what a
//! stage may reach: that is [`guard`](crate::guard)'s.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use twostep_enrollment::{Account, SealedState};

use crate::Error;

/// How far the session's user has signed in.
const STAGE: &str = "twostep.stage";

/// The user as the session keeps them: [`Account`] is not `Serialize`, and need not be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) email: String,
}

impl From<&Account> for User {
    fn from(account: &Account) -> Self {
        Self {
            id: account.user_id.clone(),
            email: account.email.clone(),
        }
    }
}

impl User {
    pub(crate) fn account(&self) -> Account {
        Account {
            user_id: self.id.clone(),
            email: self.email.clone(),
        }
    }
}

/// How far the session's user has signed in, once the application said the password was
/// right.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub(crate) enum Stage {
    /// The password was right; the code is awaited.
    SecondStep { user: User, challenge: SealedState },
    /// The password was right, and an organisation requires 2FA now: the wizard only.
    EnrollmentRequired { user: User, org: String },
    /// Fully signed in.
    SignedIn { user: User },
}

/// A flow whose pending state the session may hold, each under its own key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Enable,
    Reissue,
    Disable,
}

impl Flow {
    const ALL: [Self; 3] = [Self::Enable, Self::Reissue, Self::Disable];

    fn key(self) -> &'static str {
        match self {
            Self::Enable => "twostep.enable",
            Self::Reissue => "twostep.reissue",
            Self::Disable => "twostep.disable",
        }
    }
}

pub(crate) async fn stage(session: &Session) -> Result<Option<Stage>, Error> {
    // An entry that does not decode (another version's, or edited) counts as none.
    Ok(session
        .get_value(STAGE)
        .await?
        .and_then(|value| serde_json::from_value(value).ok()))
}

/// Moves the session to `stage` under a new id, dropping every pending flow: a change of who
/// is signed in never keeps an id handed out before it (session fixation), nor a flow begun
/// by someone else.
pub(crate) async fn enter(session: &Session, stage: &Stage) -> Result<(), Error> {
    for flow in Flow::ALL {
        session.remove_value(flow.key()).await?;
    }
    session.cycle_id().await?;
    session.insert(STAGE, stage).await?;
    #[cfg(feature = "ui")]
    crate::ui::issue_csrf(session).await?;
    Ok(())
}

/// Records a new stage without a new id: the same user, a step further on the same stage.
pub(crate) async fn update(session: &Session, stage: &Stage) -> Result<(), Error> {
    session.insert(STAGE, stage).await?;
    Ok(())
}

/// Ends twostep's part of the session: stage and pending flows.
pub(crate) async fn leave(session: &Session) -> Result<(), Error> {
    for flow in Flow::ALL {
        session.remove_value(flow.key()).await?;
    }
    session.remove_value(STAGE).await?;
    session.cycle_id().await?;
    Ok(())
}

pub(crate) async fn pending(session: &Session, flow: Flow) -> Result<Option<SealedState>, Error> {
    Ok(session
        .get_value(flow.key())
        .await?
        .and_then(|value| serde_json::from_value(value).ok()))
}

pub(crate) async fn keep(
    session: &Session,
    flow: Flow,
    state: Option<SealedState>,
) -> Result<(), Error> {
    match state {
        Some(state) => session.insert(flow.key(), state).await?,
        None => {
            session.remove_value(flow.key()).await?;
        }
    }
    Ok(())
}
