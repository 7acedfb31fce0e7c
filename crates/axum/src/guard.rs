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
//! The guard needs `tower-sessions`' `SessionManagerLayer` outside it. It reads the session;
//! it never writes one, so a request without a cookie creates no session here.

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
use twostep_enrollment::Account;

use crate::Error;
use crate::session::{self, Stage};

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

/// A layer that lets only fully signed-in sessions through to the routes it guards.
///
/// ```
/// use axum::{Router, routing::get};
/// use twostep_axum::{RequireSignedIn, SignedIn};
///
/// async fn dashboard(SignedIn(account): SignedIn) -> String {
///     format!("Hello, {}", account.email)
/// }
///
/// let app: Router = Router::new()
///     .route("/dashboard", get(dashboard))
///     .route_layer(RequireSignedIn::json());
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct RequireSignedIn {
    answer: Answer,
}

impl RequireSignedIn {
    /// Answers others with the JSON [`Error`]: for single-page apps and mobile clients.
    pub fn json() -> Self {
        Self {
            answer: Answer::Json,
        }
    }

    /// Answers others with a redirect to the page where they must go.
    pub fn redirect(to: Redirects) -> Self {
        Self {
            answer: Answer::Redirect(Arc::new(to)),
        }
    }
}

impl<S> Layer<S> for RequireSignedIn {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            answer: self.answer.clone(),
        }
    }
}

/// The service [`RequireSignedIn`] wraps around a route.
#[derive(Clone, Debug)]
pub struct Guarded<S> {
    inner: S,
    answer: Answer,
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

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this request; the fresh one waits its turn.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let answer = self.answer.clone();
        let session = request.extensions().get::<Session>().cloned();
        Box::pin(async move {
            let Some(session) = session else {
                tracing::error!("twostep: RequireSignedIn needs SessionManagerLayer outside it");
                return Ok(Error::internal().into_response());
            };
            match session::stage(&session).await {
                Ok(Some(Stage::SignedIn { .. })) => inner.call(request).await,
                Ok(stage) => Ok(answer.refuse(stage.as_ref())),
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}

/// The fully signed-in user of the request's session; refused (the JSON [`Error`]) for
/// anyone else. Behind [`RequireSignedIn`], it always is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn(pub Account);

impl<St: Send + Sync> FromRequestParts<St> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match session::stage(&session).await {
            Ok(Some(Stage::SignedIn { user })) => Ok(Self(user.account())),
            Ok(stage) => Err(Error::not_at(stage.as_ref()).into_response()),
            Err(error) => Err(error.into_response()),
        }
    }
}
