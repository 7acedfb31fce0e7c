//! The routes, the session guard, and what the handlers share.
//!
//! Every request passes [`guard`] first: it finds or starts the session, refuses a `POST`
//! whose form lacks the session's anti-CSRF token, and sends a half signed-in session to the
//! one page it may see. The handlers (in `sign_in`, `account`, `wizard` and `org`) then drive
//! `twostep`'s [`Service`] and answer every `POST` with a redirect (post/redirect/get),
//! carrying the outcome in a one-time flash message.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use twostep::enrollment::Account;
use twostep::enrollment::{Clock as _, Refusal, Service, ServiceError, SystemClock};
use twostep::policy::Role;
use twostep::recovery::DownloadFile;
use twostep::store_sqlx::SqlStore;

use crate::accounts::{Accounts, SignInThrottle};
use crate::mail::Outbox;
use crate::pages::{self, Area, Frame};
use crate::session::{self, Auth, Sessions};
use crate::{account, org, sign_in, wizard};

/// The twostep service as this app wires it.
pub(crate) type Console = Service<SqlStore, Arc<Outbox>, Accounts, Accounts>;

/// What every handler shares.
pub(crate) struct App {
    pub service: Console,
    pub accounts: Accounts,
    pub sign_in_throttle: SignInThrottle,
    pub outbox: Arc<Outbox>,
    pub sessions: Sessions,
}

pub(crate) type Shared = State<Arc<App>>;

/// The current session's id, put in place by [`guard`].
#[derive(Clone, Debug)]
pub(crate) struct SessionId(pub(crate) String);

pub(crate) type Sid = Extension<SessionId>;

/// The largest form body read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// All routes, behind the guard.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .route("/signup", get(sign_in::sign_up_page).post(sign_in::sign_up))
        .route("/login", get(sign_in::sign_in_page).post(sign_in::sign_in))
        .route(
            "/login/second-step",
            get(sign_in::second_step_page).post(sign_in::second_step),
        )
        .route("/logout", post(sign_in::sign_out))
        .route("/mail", get(sign_in::mailbox))
        .route("/account", get(account::profile))
        .route("/account/2fa", get(account::two_factor))
        .route(
            "/account/2fa/enable",
            get(wizard::enable_page).post(wizard::enable_step),
        )
        .route("/account/2fa/enable/start", post(wizard::enable_start))
        .route("/account/2fa/enable/resend", post(wizard::enable_resend))
        .route(
            "/account/2fa/enable/recovery-codes.txt",
            get(wizard::enable_download),
        )
        .route("/account/2fa/enable/cancel", post(wizard::enable_cancel))
        .route(
            "/account/2fa/reissue",
            get(account::reissue_page).post(account::reissue_start),
        )
        .route(
            "/account/2fa/reissue/recovery-codes.txt",
            get(account::reissue_download),
        )
        .route("/account/2fa/reissue/done", post(account::reissue_done))
        .route("/account/2fa/reissue/cancel", post(account::reissue_cancel))
        .route(
            "/account/2fa/disable",
            get(account::disable_page).post(account::disable_start),
        )
        .route(
            "/account/2fa/disable/confirm",
            post(account::disable_confirm),
        )
        .route("/account/2fa/disable/cancel", post(account::disable_cancel))
        .route("/org", get(org::org_members))
        .route("/org/role", post(org::org_role))
        .route(
            "/org/security",
            get(org::org_security).post(org::org_security_set),
        )
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .with_state(app)
}

// ---------------------------------------------------------------------------------------
// The guard: sessions, CSRF, what a half signed-in session may reach.

/// Where a session in state `auth` may go; `Err` holds where to send it instead.
fn reachable(auth: &Auth, path: &str) -> Result<(), &'static str> {
    if path == "/logout" {
        return Ok(());
    }
    match auth {
        Auth::Visitor => match path {
            "/" | "/login" | "/signup" => Ok(()),
            _ => Err("/login"),
        },
        Auth::SecondStep { .. } => match path {
            "/login/second-step" => Ok(()),
            _ => Err("/login/second-step"),
        },
        // The wizard's pages, and the mailbox: the wizard mails a code.
        Auth::MustEnrol { .. } => match path {
            "/account/2fa/enable"
            | "/account/2fa/enable/start"
            | "/account/2fa/enable/resend"
            | "/account/2fa/enable/recovery-codes.txt"
            | "/account/2fa/enable/cancel"
            | "/mail" => Ok(()),
            _ => Err("/account/2fa/enable"),
        },
        Auth::SignedIn { .. } => match path {
            "/login" | "/signup" | "/login/second-step" => Err("/account"),
            _ => Ok(()),
        },
    }
}

async fn guard(State(app): Shared, request: Request, next: Next) -> Response {
    // The stylesheet and script need no session (and must not start one per request).
    if request.method() == Method::GET && request.uri().path().starts_with("/assets/") {
        return next.run(request).await;
    }
    let cookie = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session::cookie_value)
        .map(str::to_owned);
    let (id, new) = app.sessions.resume_or_start(cookie.as_deref());
    let (mut parts, body) = request.into_parts();
    let body = if parts.method == Method::POST {
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            return finish(
                (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
                &id,
                new,
            );
        };
        let expected = app.sessions.with(&id, |session| session.csrf.clone());
        let sent = form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == "csrf")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        if !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
            let page = refused_form(&app, &id);
            return finish((StatusCode::FORBIDDEN, page).into_response(), &id, new);
        }
        Body::from(bytes)
    } else {
        body
    };
    let path = parts.uri.path().to_owned();
    if let Err(to) = app
        .sessions
        .with(&id, |session| reachable(&session.auth, &path))
    {
        return finish(Redirect::to(to).into_response(), &id, new);
    }
    parts.extensions.insert(SessionId(id.clone()));
    let response = next.run(Request::from_parts(parts, body)).await;
    finish(response, &id, new)
}

/// Sets the cookie of a new session (unless the handler set another) and the headers every
/// page carries.
fn finish(mut response: Response, id: &str, new: bool) -> Response {
    let headers = response.headers_mut();
    if new
        && !headers.contains_key(header::SET_COOKIE)
        && let Ok(value) = HeaderValue::from_str(&session::set_cookie(id))
    {
        headers.insert(header::SET_COOKIE, value);
    }
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn refused_form(app: &App, id: &str) -> Markup {
    app.render(
        id,
        "Form refused",
        Area::Public,
        html! {
            p id="csrf-refused" { "This form was refused: it expired or did not come from this site. "
                "Go back, reload the page and try again." }
            p { a href="/" { "Back to the console" } }
        },
    )
}

// ---------------------------------------------------------------------------------------
// Rendering and small helpers.

impl App {
    /// A whole page for session `id`: its flash message is shown and cleared.
    pub(crate) fn render(&self, id: &str, title: &str, area: Area, body: Markup) -> Markup {
        let (csrf, user, flash) = self.sessions.with(id, |session| {
            (
                session.csrf.clone(),
                session.auth.email().map(str::to_owned),
                session.flash.take(),
            )
        });
        pages::layout(
            Frame {
                title,
                area,
                csrf: &csrf,
                user: user.as_deref(),
                flash,
            },
            body,
        )
    }

    pub(crate) fn csrf(&self, id: &str) -> String {
        self.sessions.with(id, |session| session.csrf.clone())
    }

    /// The user of a session that is signed in, or held to the enable wizard by a mandate;
    /// empty for any other (the guard keeps those out of the pages that ask, and an empty
    /// user matches no account).
    pub(crate) fn user(&self, id: &str) -> String {
        self.sessions.with(id, |session| match &session.auth {
            Auth::SignedIn { email } | Auth::MustEnrol { email, .. } => email.clone(),
            Auth::Visitor | Auth::SecondStep { .. } => String::new(),
        })
    }

    pub(crate) fn flash(&self, id: &str, ok: bool, text: impl Into<String>) {
        self.sessions.with(id, |session| session.flash(ok, text));
    }

    /// Flashes `text` and redirects to `to`.
    pub(crate) fn back(&self, id: &str, to: &str, ok: bool, text: impl Into<String>) -> Response {
        self.flash(id, ok, text);
        Redirect::to(to).into_response()
    }

    /// Flashes what went wrong: the service's own message for an expected refusal, a generic
    /// one (and the cause on stderr) for a backend failure.
    pub(crate) fn fail(&self, id: &str, to: &str, error: &ServiceError) -> Response {
        self.back(id, to, false, user_message(error))
    }
}

pub(crate) fn user_message(error: &ServiceError) -> String {
    if let ServiceError::Backend {
        collaborator,
        source,
    } = error
    {
        eprintln!("backend failure: {collaborator}: {source}");
    }
    error.message(SystemClock.now())
}

/// The signed-in user as twostep knows them: the console uses the login email as user id.
pub(crate) fn account_of(email: &str) -> Account {
    Account {
        user_id: email.to_owned(),
        email: email.to_owned(),
    }
}

pub(crate) fn with_cookie(id: &str, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    if let Ok(value) = HeaderValue::from_str(&session::set_cookie(id)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

pub(crate) fn attachment(file: DownloadFile) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", file.file_name);
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        file.contents.to_string(),
    )
        .into_response()
}

pub(crate) fn date(unix: u64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    i64::try_from(unix)
        .ok()
        .and_then(|unix| time::OffsetDateTime::from_unix_timestamp(unix).ok())
        .and_then(|at| at.format(format).ok())
        .unwrap_or_else(|| unix.to_string())
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        pages::JS,
    )
        .into_response()
}

async fn home(State(app): Shared, Extension(SessionId(id)): Sid) -> Redirect {
    let signed_in = app
        .sessions
        .with(&id, |session| matches!(session.auth, Auth::SignedIn { .. }));
    Redirect::to(if signed_in { "/account" } else { "/login" })
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    pub(crate) code: String,
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        _ => "Member",
    }
}

/// The state a refusal leaves usable (none: start again), and why.
pub(crate) fn usable<S>(refusal: Refusal<S>) -> (Option<S>, ServiceError) {
    (refusal.state, refusal.error)
}
