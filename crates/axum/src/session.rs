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
//!
//! A stage past the password keeps the user's security revision from when it was reached
//! ([`Status::security_revision`](twostep_enrollment::Status::security_revision)).
//! [`current`] compares it with the stored one on every read that grants something, and
//! signs out a session whose user's second factor changed since — enabled, re-issued,
//! disabled or reset, from another session or another server.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use twostep_enrollment::{
    Account, Directory, Mailer, Reauthenticate, SealedState, Service, ServiceError, Store,
};

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
    EnrollmentRequired {
        user: User,
        org: String,
        revision: u64,
    },
    /// Fully signed in.
    SignedIn { user: User, revision: u64 },
}

impl Stage {
    /// The user and the security revision the stage was reached at, past the password.
    fn revision(&self) -> Option<(&User, u64)> {
        match self {
            Self::SignedIn { user, revision } | Self::EnrollmentRequired { user, revision, .. } => {
                Some((user, *revision))
            }
            Self::SecondStep { .. } => None,
        }
    }
}

/// Where the stored security revision of a user is read: the service, behind a pointer
/// that does not name its four type parameters (the guard holds one).
pub(crate) trait Revisions: Send + Sync {
    fn security_revision<'a>(
        &'a self,
        user: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<u64, ServiceError>> + Send + 'a>>;
}

impl<S, M, R, D> Revisions for Service<S, M, R, D>
where
    S: Store + 'static,
    M: Mailer + 'static,
    R: Reauthenticate + 'static,
    D: Directory + 'static,
{
    fn security_revision<'a>(
        &'a self,
        user: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<u64, ServiceError>> + Send + 'a>> {
        Box::pin(async move { Ok(self.status(user).await?.security_revision) })
    }
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

/// The session's stage as stored, unchecked: for what grants nothing (a page's wording, where
/// to redirect). Whatever lets a user act reads [`current`].
pub(crate) async fn stage(session: &Session) -> Result<Option<Stage>, Error> {
    // An entry that does not decode (another version's, or edited) counts as none.
    Ok(session
        .get_value(STAGE)
        .await?
        .and_then(|value| serde_json::from_value(value).ok()))
}

/// The session's stage, if it still holds: a stage past the password whose user's security
/// revision moved on since is signed out — the whole session deleted, the application's
/// entries too, as [`TwoStep::sign_out`](crate::TwoStep::sign_out) — and counts as none.
pub(crate) async fn current(
    session: &Session,
    revisions: &dyn Revisions,
) -> Result<Option<Stage>, Error> {
    let stage = stage(session).await?;
    if let Some((user, revision)) = stage.as_ref().and_then(Stage::revision)
        && revisions.security_revision(&user.id).await? != revision
    {
        session.flush().await?;
        return Ok(None);
    }
    Ok(stage)
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
