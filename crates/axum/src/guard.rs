//! Guards for route groups, and the extractor of the signed-in user.
//!
//! An application declares who reaches a group of its routes with
//! [`Router::route_layer`](axum::Router::route_layer), not with a list of paths: only a
//! session fully signed in — past the second step, or past the enable wizard an organisation
//! required — reaches a group behind [`RequireSignedIn`]. A session half-way is answered
//! with where it must go instead: as JSON (`401`/`403`, the [`Error`] body, code
//! `second_step_required`, `enrollment_required` or `not_signed_in`), or with a redirect to
//! the application's pages ([`RequireSignedIn::redirect`]).
//!
//! A signed-in session stays signed in only while its user's second factor is the one it
//! signed in with: the guard reads the user's security revision on every request and signs
//! out a session that predates a change — 2FA enabled, recovery codes re-issued, 2FA
//! disabled or reset by an administrator — made from any session, on any server.
//!
//! The guard needs `tower-sessions`' `SessionManagerLayer` outside it. It reads the session,
//! and writes it only to delete one signed out that way: a request without a cookie creates
//! no session here.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use tower_layer::Layer;
use tower_service::Service;
use tower_sessions::Session;
use twostep_enrollment::{Account, Directory, Mailer, Reauthenticate, Store};

use crate::session::{self, Revisions, Stage};
use crate::{Error, TwoStep};

/// Where an HTML application sends a session that may not reach a guarded group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirects {
    /// Signed out: the sign-in page.
    pub sign_in: String,
    /// The password passed, the code not yet: the second-step page.
    pub second_step: String,
    /// An organisation requires 2FA now: the enable wizard.
    pub enroll: String,
}

#[derive(Clone, Debug)]
enum Answer {
    Json,
    Redirect(Arc<Redirects>),
}

impl Answer {
    fn refuse(&self, stage: Option<&Stage>) -> Response {
        match self {
            Self::Json => Error::not_at(stage).into_response(),
            Self::Redirect(to) => Redirect::to(match stage {
                Some(Stage::SecondStep { .. }) => &to.second_step,
                Some(Stage::EnrollmentRequired { .. }) => &to.enroll,
                Some(Stage::SignedIn { .. }) | None => &to.sign_in,
            })
            .into_response(),
        }
    }
}

/// A layer that lets only fully signed-in sessions through to the routes it guards, and
/// hands them the user as [`SignedIn`]. Made by [`TwoStep::require_signed_in`], since it
/// reads each user's security revision through the service.
///
/// ```
/// use axum::{Router, routing::get};
/// use twostep_axum::{SignedIn, TwoStep};
/// use twostep_axum::twostep_enrollment::Service;
/// use twostep_axum::twostep_enrollment::memory::{
///     FixedPasswords, MemoryStore, PlaintextSealer, RecordingMailer,
/// };
///
/// async fn dashboard(SignedIn(account): SignedIn) -> String {
///     format!("Hello, {}", account.email)
/// }
///
/// let service = Service::builder(MemoryStore::default(), PlaintextSealer)
///     .mailer(RecordingMailer::default())
///     .reauthenticate(FixedPasswords::default())
///     .build();
/// let twostep = TwoStep::new(service);
/// let app: Router = Router::new()
///     .route("/dashboard", get(dashboard))
///     .route_layer(twostep.require_signed_in());
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct RequireSignedIn {
    answer: Answer,
    revisions: Arc<dyn Revisions>,
}

impl core::fmt::Debug for RequireSignedIn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RequireSignedIn")
            .field("answer", &self.answer)
            .finish_non_exhaustive()
    }
}

impl<S, M, R, D> TwoStep<S, M, R, D>
where
    S: Store + 'static,
    M: Mailer + 'static,
    R: Reauthenticate + 'static,
    D: Directory + 'static,
{
    /// The guard for the application's signed-in routes. It answers the others with the JSON
    /// [`Error`] (for single-page apps and mobile clients), or with redirects after
    /// [`RequireSignedIn::redirect`].
    pub fn require_signed_in(&self) -> RequireSignedIn {
        RequireSignedIn {
            answer: Answer::Json,
            revisions: self.service.clone(),
        }
    }
}

impl RequireSignedIn {
    /// Answers others with a redirect to the page where they must go.
    #[must_use]
    pub fn redirect(mut self, to: Redirects) -> Self {
        self.answer = Answer::Redirect(Arc::new(to));
        self
    }
}

impl<S> Layer<S> for RequireSignedIn {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            answer: self.answer.clone(),
            revisions: Arc::clone(&self.revisions),
        }
    }
}

/// The service [`RequireSignedIn`] wraps around a route.
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    answer: Answer,
    revisions: Arc<dyn Revisions>,
}

impl<S: core::fmt::Debug> core::fmt::Debug for Guarded<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Guarded")
            .field("inner", &self.inner)
            .field("answer", &self.answer)
            .finish_non_exhaustive()
    }
}

impl<S> Service<Request> for Guarded<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was polled ready serves this request; the fresh one waits its turn.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let answer = self.answer.clone();
        let revisions = Arc::clone(&self.revisions);
        let session = request.extensions().get::<Session>().cloned();
        Box::pin(async move {
            let Some(session) = session else {
                tracing::error!("twostep: RequireSignedIn needs SessionManagerLayer outside it");
                return Ok(Error::internal().into_response());
            };
            match session::current(&session, &*revisions).await {
                Ok(Some(Stage::SignedIn { user, .. })) => {
                    request.extensions_mut().insert(SignedIn(user.account()));
                    inner.call(request).await
                }
                Ok(stage) => Ok(answer.refuse(stage.as_ref())),
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}

/// The fully signed-in user of the request, as [`RequireSignedIn`] found them: use it in
/// the handlers of the routes it guards. Elsewhere there is no such user to extract; the
/// answer is then an internal error (and an error in the log naming the missing guard).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn(pub Account);

impl<St: Send + Sync> FromRequestParts<St> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            tracing::error!("twostep: SignedIn is extracted behind RequireSignedIn only");
            Error::internal().into_response()
        })
    }
}
