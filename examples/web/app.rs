//! The routes, the session guard and the handlers.
//!
//! Every request passes [`guard`] first: it finds or starts the session, refuses a `POST`
//! whose form lacks the session's anti-CSRF token, and sends a half signed-in session to the
//! one page it may see. Handlers then drive `twostep`'s [`Service`] and answer every `POST`
//! with a redirect (post/redirect/get), carrying the outcome in a one-time flash message.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Form, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use twostep::enrollment::enable::{Account, EnableError, SetupView};
use twostep::enrollment::reissue::ReissueError;
use twostep::enrollment::snapshot::PendingEnable;
use twostep::enrollment::{Locked, LoginStep, Refusal, Service, ServiceError, Store as _};
use twostep::policy::Role;
use twostep::recovery::{DownloadFile, Locale};
use twostep::store_sqlx::SqlStore;

use crate::accounts::{Accounts, SignInThrottle, SignUpError};
use crate::mail::Outbox;
use crate::mail::unix_now;
use crate::pages::{self, Area, Frame};
use crate::session::{self, Auth, Sessions};

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

type Shared = State<Arc<App>>;

/// The current session's id, put in place by [`guard`].
#[derive(Clone, Debug)]
struct SessionId(String);

type Sid = Extension<SessionId>;

/// The largest form body read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// All routes, behind the guard.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .route("/signup", get(sign_up_page).post(sign_up))
        .route("/login", get(sign_in_page).post(sign_in))
        .route(
            "/login/second-step",
            get(second_step_page).post(second_step),
        )
        .route("/logout", post(sign_out))
        .route("/mail", get(mailbox))
        .route("/account", get(profile))
        .route("/account/2fa", get(two_factor))
        .route("/account/2fa/enable", get(enable_page).post(enable_step))
        .route("/account/2fa/enable/start", post(enable_start))
        .route("/account/2fa/enable/resend", post(enable_resend))
        .route(
            "/account/2fa/enable/recovery-codes.txt",
            get(enable_download),
        )
        .route("/account/2fa/enable/cancel", post(enable_cancel))
        .route(
            "/account/2fa/reissue",
            get(reissue_page).post(reissue_start),
        )
        .route(
            "/account/2fa/reissue/recovery-codes.txt",
            get(reissue_download),
        )
        .route("/account/2fa/reissue/done", post(reissue_done))
        .route("/account/2fa/reissue/cancel", post(reissue_cancel))
        .route(
            "/account/2fa/disable",
            get(disable_page).post(disable_start),
        )
        .route("/account/2fa/disable/confirm", post(disable_confirm))
        .route("/account/2fa/disable/cancel", post(disable_cancel))
        .route("/org", get(org_members))
        .route("/org/role", post(org_role))
        .route("/org/security", get(org_security).post(org_security_set))
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
    fn render(&self, id: &str, title: &str, area: Area, body: Markup) -> Markup {
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

    fn csrf(&self, id: &str) -> String {
        self.sessions.with(id, |session| session.csrf.clone())
    }

    /// The user of a session that is signed in, or held to the enable wizard by a mandate;
    /// empty for any other (the guard keeps those out of the pages that ask, and an empty
    /// user matches no account).
    fn user(&self, id: &str) -> String {
        self.sessions.with(id, |session| match &session.auth {
            Auth::SignedIn { email } | Auth::MustEnrol { email, .. } => email.clone(),
            Auth::Visitor | Auth::SecondStep { .. } => String::new(),
        })
    }

    fn flash(&self, id: &str, ok: bool, text: impl Into<String>) {
        self.sessions.with(id, |session| session.flash(ok, text));
    }

    /// Flashes `text` and redirects to `to`.
    fn back(&self, id: &str, to: &str, ok: bool, text: impl Into<String>) -> Response {
        self.flash(id, ok, text);
        Redirect::to(to).into_response()
    }

    /// Flashes what went wrong: the service's own message for an expected refusal, a generic
    /// one (and the cause on stderr) for a backend failure.
    fn fail(&self, id: &str, to: &str, error: &ServiceError) -> Response {
        self.back(id, to, false, user_message(error))
    }
}

fn user_message(error: &ServiceError) -> String {
    if let ServiceError::Backend(cause) = error {
        eprintln!("backend failure: {cause}");
        return "Something went wrong on our side; nothing was changed. Try again.".to_owned();
    }
    if let ServiceError::Locked(locked) = error {
        return locked_message(*locked);
    }
    capitalized(&error.to_string()) + "."
}

/// Too many failures: until when, in words.
fn locked_message(locked: Locked) -> String {
    match locked {
        Locked::Until(at) => format!("Too many failed attempts; try again after {}.", date(at)),
        _ => "Too many failed attempts; ask an administrator to unlock your account.".to_owned(),
    }
}

/// `text` with its first letter in upper case: the library's messages are sentence parts.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A fresh CSPRNG that may be held across an `.await` (the thread-local one may not).
fn rng() -> StdRng {
    StdRng::from_rng(&mut rand::rng())
}

fn with_cookie(id: &str, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    if let Ok(value) = HeaderValue::from_str(&session::set_cookie(id)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn attachment(file: DownloadFile) -> Response {
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

fn date(unix: u64) -> String {
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

// ---------------------------------------------------------------------------------------
// Sign-up, sign-in, the second step, sign-out.

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
    #[serde(default)]
    org: String,
}

fn sign_in_form(csrf: &str, sign_up: bool) -> Markup {
    let action = if sign_up { "/signup" } else { "/login" };
    html! {
        form method="post" action=(action) {
            (pages::csrf_field(csrf))
            label for="email" { "Email" }
            input type="email" name="email" id="email" autocomplete="username" autofocus required;
            label for="password" { "Password" }
            input type="password" name="password" id="password"
                autocomplete=(if sign_up { "new-password" } else { "current-password" }) required;
            @if sign_up {
                label for="org" { "Organisation" }
                input type="text" name="org" id="org" required placeholder="Acme Inc.";
                p.dim { "The first account of an organisation owns it; later ones join as members." }
                button type="submit" id="submit" { "Create account" }
            } @else {
                button type="submit" id="submit" { "Sign in" }
            }
        }
        p {
            @if sign_up { "Have an account? " a href="/login" { "Sign in" } }
            @else { "New here? " a href="/signup" { "Create an account" } }
        }
    }
}

async fn sign_in_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
    let csrf = app.csrf(&id);
    app.render(&id, "Sign in", Area::Public, sign_in_form(&csrf, false))
}

async fn sign_up_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
    let csrf = app.csrf(&id);
    app.render(
        &id,
        "Create an account",
        Area::Public,
        sign_in_form(&csrf, true),
    )
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

async fn sign_up(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<Credentials>,
) -> Response {
    let email = normalize_email(&form.email);
    match app
        .accounts
        .sign_up(&email, &form.password, &form.org)
        .await
    {
        Ok(_) => after_password(&app, &id, email).await,
        Err(SignUpError::Backend(error)) => {
            eprintln!("sign-up failed: {error}");
            app.back(&id, "/signup", false, "Something went wrong; try again.")
        }
        Err(refused) => app.back(&id, "/signup", false, format!("{refused}.")),
    }
}

async fn sign_in(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<Credentials>,
) -> Response {
    let email = normalize_email(&form.email);
    let window = match app.sign_in_throttle.reserve(&email, unix_now()) {
        Ok(window) => window,
        Err(locked) => return app.back(&id, "/login", false, locked_message(locked)),
    };
    match app.accounts.check_password(&email, &form.password).await {
        Ok(true) => {
            app.sign_in_throttle.refund(&email, window);
            after_password(&app, &id, email).await
        }
        // One answer for an unknown email and a wrong password.
        Ok(false) => app.back(&id, "/login", false, "Wrong email or password."),
        Err(error) => {
            eprintln!("sign-in failed: {error}");
            app.back(&id, "/login", false, "Something went wrong; try again.")
        }
    }
}

/// After a correct password: signed in, a second step, or the enable wizard an organisation
/// requires. The session gets a new id either way.
async fn after_password(app: &App, id: &str, email: String) -> Response {
    let step = match app.service.begin_login(&email).await {
        Ok(step) => step,
        Err(error) => return app.fail(id, "/login", &error),
    };
    let (auth, to, flash) = match step {
        LoginStep::SecondStep(challenge) => (
            Auth::SecondStep { email, challenge },
            "/login/second-step",
            None,
        ),
        // The wizard page says which organisation requires it.
        LoginStep::EnrolmentRequired { org_id } => (
            Auth::MustEnrol { email, org: org_id },
            "/account/2fa/enable",
            None,
        ),
        LoginStep::SignedIn { enrol_by } => {
            let text = enrol_by.map(|(org, deadline)| {
                (
                    false,
                    format!(
                        "{org} requires two-step verification from {}. Set it up before then.",
                        date(deadline)
                    ),
                )
            });
            (Auth::SignedIn { email }, "/account", text)
        }
        _ => return app.back(id, "/login", false, "Sign-in is not possible right now."),
    };
    let new = app.sessions.rotate(id, auth);
    if let Some((ok, text)) = flash {
        app.flash(&new, ok, text);
    }
    with_cookie(&new, Redirect::to(to))
}

#[derive(Deserialize)]
struct MethodQuery {
    #[serde(default)]
    method: String,
}

async fn second_step_page(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Query(query): Query<MethodQuery>,
) -> Markup {
    let csrf = app.csrf(&id);
    let recovery = query.method == "recovery";
    let body = html! {
        (pages::tabs(&[("/login/second-step", "Authenticator app"),
                       ("/login/second-step?method=recovery", "Recovery code")],
                     if recovery { "/login/second-step?method=recovery" } else { "/login/second-step" }))
        @if recovery {
            p { "Lost your phone? Enter one of the recovery codes you saved. Each works once." }
            (pages::code_form(&csrf, "/login/second-step", None, "Recovery code", "code", "Sign in"))
        } @else {
            p { "Open your authenticator app and enter the 6-digit code it shows for this account." }
            (pages::code_form(&csrf, "/login/second-step", None, "Authentication code", "code", "Sign in"))
            p { a href="/login/second-step?method=recovery" id="use-recovery" { "Use a recovery code instead" } }
        }
        (pages::cancel_button(&csrf, "/logout", "Cancel sign-in"))
    };
    app.render(&id, "Two-step verification", Area::Public, body)
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn second_step(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<CodeForm>,
) -> Response {
    let pending = app.sessions.with(&id, |session| {
        match std::mem::replace(&mut session.auth, Auth::Visitor) {
            Auth::SecondStep { email, challenge } => Some((email, challenge)),
            other => {
                session.auth = other;
                None
            }
        }
    });
    let Some((email, challenge)) = pending else {
        return Redirect::to("/login").into_response();
    };
    match app
        .service
        .verify_login(challenge, &email, &form.code, &email)
        .await
    {
        Ok(signed_in) => {
            let new = app.sessions.rotate(&id, Auth::SignedIn { email });
            if let Some((left, low)) = signed_in.recovery_codes_left {
                let mut text =
                    format!("Signed in with a recovery code. {left} recovery codes left.");
                if low {
                    text.push_str(" Re-issue your recovery codes soon.");
                }
                app.flash(&new, !low, text);
            }
            with_cookie(&new, Redirect::to("/account"))
        }
        Err(refusal) => {
            let message = user_message(&refusal.error);
            match refusal.state {
                Some(challenge) => {
                    app.sessions.with(&id, |session| {
                        session.auth = Auth::SecondStep { email, challenge };
                    });
                    app.back(&id, "/login/second-step", false, message)
                }
                None => app.back(&id, "/login", false, message),
            }
        }
    }
}

async fn sign_out(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    app.sessions.end(&id);
    (
        [(
            header::SET_COOKIE,
            format!(
                "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                session::COOKIE
            ),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

async fn mailbox(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
    let email = app.user(&id);
    let area = match wizard_area(&app, &id) {
        Area::Enrolling => Area::Enrolling,
        _ => Area::Mail,
    };
    let body = html! {
        p.dim { "For local use: the console mailer prints every message it sends and keeps "
            "yours here, newest first." }
        @for mail in app.outbox.newest_first().into_iter().filter(|mail| mail.to == email) {
            article.mail {
                div { strong.subject { (mail.subject) } }
                div.dim { "To " span.to { (mail.to) } " · " (date(mail.at)) }
                p.body { (mail.body) }
            }
        }
    };
    app.render(&id, "Mailbox", area, body)
}

// ---------------------------------------------------------------------------------------
// Account management.

const ACCOUNT_TABS: [(&str, &str); 2] = [
    ("/account", "Profile"),
    ("/account/2fa", "Two-step verification"),
];

async fn profile(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let email = app.user(&id);
    let membership = match app.accounts.membership(&email).await {
        Ok(membership) => membership,
        Err(error) => {
            eprintln!("profile: {error}");
            None
        }
    };
    let body = html! {
        (pages::tabs(&ACCOUNT_TABS, "/account"))
        table {
            tr { th { "Email" } td { (email) } }
            @if let Some(membership) = membership {
                tr { th { "Organisation" } td { (membership.org_id) } }
                tr { th { "Role" } td { (role_name(membership.role)) } }
            }
        }
    };
    app.render(&id, "Account management", Area::Account, body)
        .into_response()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        _ => "Member",
    }
}

async fn two_factor(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let email = app.user(&id);
    let credential = match app.service.store().credential(&email).await {
        Ok(credential) => credential,
        Err(error) => {
            eprintln!("2FA tab: {error}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "storage failure").into_response();
        }
    };
    let body = html! {
        (pages::tabs(&ACCOUNT_TABS, "/account/2fa"))
        p { "Two-step verification asks for a code from an authenticator app after your password." }
        @if let Some(credential) = credential {
            p { "Status: " span.status.on id="status" { "On" } }
            table {
                tr { th { "Method" } td { "Authenticator app (time-based codes)" } }
                tr { th { "Enabled" } td { (date(credential.enabled_at)) } }
                tr { th { "Recovery codes" } td id="codes-left" {
                    (credential.recovery_codes.remaining()) " of " (credential.recovery_codes.len()) " left" } }
            }
            div.row {
                a.button.secondary href="/account/2fa/reissue" id="reissue" { "Re-issue recovery codes" }
                a.button.secondary href="/account/2fa/disable" id="disable" { "Disable two-step verification" }
            }
        } @else {
            p { "Status: " span.status.off id="status" { "Off" } }
            a.button href="/account/2fa/enable" id="enable" { "Enable two-step verification" }
        }
    };
    app.render(&id, "Account management", Area::Account, body)
        .into_response()
}

// ---------------------------------------------------------------------------------------
// The enable wizard.

/// The organisation whose mandate holds the session to the wizard, if any.
fn enrolling_for(app: &App, id: &str) -> Option<String> {
    app.sessions.with(id, |session| match &session.auth {
        Auth::MustEnrol { org, .. } => Some(org.clone()),
        _ => None,
    })
}

/// The wizard's area: the whole console, or only the wizard while enrolment is required.
fn wizard_area(app: &App, id: &str) -> Area {
    match enrolling_for(app, id) {
        Some(_) => Area::Enrolling,
        None => Area::Account,
    }
}

/// What the wizard page shows, copied out of the session so that rendering (the QR code's
/// PNG) does not hold the sessions' lock.
enum WizardScreen {
    Start,
    EmailCode { sent_to: String },
    Setup(Box<SetupView>),
    RecoveryCodes(Vec<String>),
}

async fn enable_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let email = app.user(&id);
    let csrf = app.csrf(&id);
    let policy = &app.service.policies().enable;
    let screen = app.sessions.with(&id, |session| match &session.enable {
        None => Ok(WizardScreen::Start),
        Some(PendingEnable::EmailCodeSent(sent)) => Ok(WizardScreen::EmailCode {
            sent_to: sent.account().email.clone(),
        }),
        Some(PendingEnable::AuthenticatorSetup(setup)) => setup
            .view(policy)
            .map(|view| WizardScreen::Setup(Box::new(view)))
            .map_err(|error| error.to_string()),
        Some(PendingEnable::SaveRecoveryCodes(save)) => Ok(WizardScreen::RecoveryCodes(
            save.codes()
                .codes()
                .iter()
                .map(ToString::to_string)
                .collect(),
        )),
        Some(_) => Err("unknown wizard step".to_owned()),
    });
    let cancel = pages::cancel_button(&csrf, "/account/2fa/enable/cancel", "Cancel");
    let body = screen.and_then(|screen| {
        Ok(match screen {
            WizardScreen::Start => html! {
                (pages::wizard_steps(0..=0))
                p { "First, confirm your login email: we send a verification code to it." }
                form method="post" action="/account/2fa/enable/start" {
                    (pages::csrf_field(&csrf))
                    label for="email" { "Email" }
                    input type="email" id="email" value=(email) readonly;
                    button type="submit" id="send-code" { "Send code" }
                }
            },
            WizardScreen::EmailCode { sent_to } => html! {
                (pages::wizard_steps(0..=0))
                p { "We sent a verification code to " strong { (sent_to) } ". "
                    "Check your inbox (locally: the " a href="/mail" target="_blank" { "Mailbox" } ")." }
                (pages::code_form(&csrf, WIZARD, Some("email"), "Verification code", "email-code", "Verify"))
                form.inline method="post" action="/account/2fa/enable/resend" {
                    (pages::csrf_field(&csrf))
                    button.link type="submit" { "Send a new code" }
                }
                " · " (cancel)
            },
            WizardScreen::Setup(view) => {
                let qr = view.key_uri.to_qr().map_err(|error| error.to_string())?;
                // Half the PNG's 8 pixels a module, with its 4-module quiet zone: whole pixels
                // a module, as sharp on screen (and to a phone's camera) as can be.
                let side = (qr.modules() + 8) * 4;
                let qr = qr.to_png_data_uri().map_err(|error| error.to_string())?;
                html! {
                    (pages::wizard_steps(1..=2))
                    div.qr {
                        img id="qr" src=(qr.as_str()) width=(side) height=(side) alt="QR code for your authenticator app";
                        div {
                            p { "Scan the QR code with an authenticator app (Google Authenticator, 2FAS, "
                                "Microsoft Authenticator, 1Password…). It shows up as "
                                strong { (policy.issuer) } "." }
                            p { "Can't scan it? Enter the key by hand:" }
                            table {
                                tr { th { "Account name" } td id="account-name" { (view.account) } }
                                tr { th { "Key" } td { code.key id="manual-key" { (view.manual_key.as_str()) } } }
                                tr { th { "Type of key" } td { "Time based" } }
                            }
                        }
                    }
                    (pages::code_form(&csrf, WIZARD, Some("app"), "6-digit code from the app", "app-code", "Verify"))
                    (cancel)
                }
            }
            WizardScreen::RecoveryCodes(codes) => html! {
                (pages::wizard_steps(3..=3))
                (pages::recovery_codes(&csrf, &codes, "/account/2fa/enable/recovery-codes.txt",
                    (WIZARD, Some("done")), "/account/2fa/enable/cancel"))
            },
        })
    });
    match body {
        Ok(body) => {
            let body = html! {
                @if let Some(org) = enrolling_for(&app, &id) {
                    p.flash.error id="required-by" { (org) " requires two-step verification for every member. "
                        "Set it up to continue using the console." }
                }
                (body)
            };
            let area = wizard_area(&app, &id);
            app.render(&id, "Enable two-step verification", area, body)
                .into_response()
        }
        Err(error) => {
            eprintln!("enable page: {error}");
            app.sessions.with(&id, |session| session.enable = None);
            app.back(
                &id,
                WIZARD,
                false,
                "The setup could not be shown; start again.",
            )
        }
    }
}

const WIZARD: &str = "/account/2fa/enable";

/// The name of the wizard's pending step, which each of its forms carries back: a stale form
/// (a second tab, the back button) is then not taken as the input of another step.
fn step_name(pending: &PendingEnable) -> &'static str {
    match pending {
        PendingEnable::EmailCodeSent(_) => "email",
        PendingEnable::AuthenticatorSetup(_) => "app",
        PendingEnable::SaveRecoveryCodes(_) => "done",
        _ => "",
    }
}

/// Takes the wizard's pending state out of the session if it is at step `step`.
fn take_step(app: &App, id: &str, step: &str) -> Option<PendingEnable> {
    app.sessions.with(id, |session| {
        let pending = session.enable.take()?;
        if step_name(&pending) == step {
            Some(pending)
        } else {
            session.enable = Some(pending);
            None
        }
    })
}

fn put_enable(app: &App, id: &str, state: Option<PendingEnable>) {
    app.sessions.with(id, |session| session.enable = state);
}

async fn enable_start(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let email = app.user(&id);
    let account = Account {
        user_id: email.clone(),
        email,
    };
    match app.service.start_enable(account, &mut rng()).await {
        Ok(sent) => {
            put_enable(&app, &id, Some(PendingEnable::EmailCodeSent(sent)));
            Redirect::to(WIZARD).into_response()
        }
        Err(error) => wizard_refused(&app, id, &error),
    }
}

/// A refused wizard step. If 2FA is on already (enabled from another tab or session), a
/// session held to the wizard by a mandate must now pass the second step: it signs in again.
fn wizard_refused(app: &App, id: String, error: &ServiceError) -> Response {
    if !matches!(error, ServiceError::AlreadyEnabled) {
        return app.fail(&id, WIZARD, error);
    }
    let text = "Two-step verification is already on.";
    if enrolling_for(app, &id).is_none() {
        return app.back(&id, "/account/2fa", true, text);
    }
    let id = app.sessions.rotate(&id, Auth::Visitor);
    app.flash(&id, true, format!("{text} Sign in again with your code."));
    with_cookie(&id, Redirect::to("/login"))
}

async fn enable_resend(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let Some(PendingEnable::EmailCodeSent(sent)) = take_step(&app, &id, "email") else {
        return Redirect::to(WIZARD).into_response();
    };
    match app.service.resend_email_code(sent, &mut rng()).await {
        Ok(sent) => {
            put_enable(&app, &id, Some(PendingEnable::EmailCodeSent(sent)));
            app.back(&id, WIZARD, true, "A new code is on its way.")
        }
        Err(refusal) => {
            let (state, error) = usable(refusal);
            put_enable(&app, &id, state.map(PendingEnable::EmailCodeSent));
            app.fail(&id, WIZARD, &error)
        }
    }
}

#[derive(Deserialize)]
struct StepForm {
    /// Which step the form was for.
    step: String,
    #[serde(default)]
    code: String,
    /// The "I have saved my recovery codes" box.
    saved: Option<String>,
}

/// The state a refusal leaves usable: none after the flow's lifetime ran out (the user starts
/// again rather than meeting "expired" at every try).
fn usable<S>(refusal: Refusal<S>) -> (Option<S>, ServiceError) {
    let expired = matches!(
        refusal.error,
        ServiceError::Enable(EnableError::Expired) | ServiceError::Reissue(ReissueError::Expired)
    );
    let state = if expired { None } else { refusal.state };
    (state, refusal.error)
}

/// The state a step leaves pending, and why it was refused (if it was).
type StepOutcome = (Option<PendingEnable>, Option<ServiceError>);

fn outcome<A, B>(
    result: Result<A, Refusal<B>>,
    next: fn(A) -> PendingEnable,
    keep: fn(B) -> PendingEnable,
) -> StepOutcome {
    match result {
        Ok(state) => (Some(next(state)), None),
        Err(refusal) => {
            let (state, error) = usable(refusal);
            (state.map(keep), Some(error))
        }
    }
}

/// Every step of the wizard after the first: the email code, the first app code, and Done.
async fn enable_step(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<StepForm>,
) -> Response {
    let Some(pending) = take_step(&app, &id, &form.step) else {
        return Redirect::to(WIZARD).into_response();
    };
    let service = &app.service;
    let mut rng = rng();
    let (next, refused) = match pending {
        PendingEnable::EmailCodeSent(sent) => outcome(
            service.verify_email(sent, &form.code, &mut rng).await,
            PendingEnable::AuthenticatorSetup,
            PendingEnable::EmailCodeSent,
        ),
        PendingEnable::AuthenticatorSetup(setup) => outcome(
            service
                .confirm_authenticator(setup, &form.code, &mut rng)
                .await,
            PendingEnable::SaveRecoveryCodes,
            PendingEnable::AuthenticatorSetup,
        ),
        PendingEnable::SaveRecoveryCodes(save) => {
            match service.complete_enable(save, form.saved.is_some()).await {
                Ok(()) => return enabled(&app, id),
                Err(refusal) => {
                    let (state, error) = usable(refusal);
                    (state.map(PendingEnable::SaveRecoveryCodes), Some(error))
                }
            }
        }
        other => (Some(other), None),
    };
    put_enable(&app, &id, next);
    match refused {
        Some(error) => wizard_refused(&app, id, &error),
        None => Redirect::to(WIZARD).into_response(),
    }
}

/// 2FA is on: a session held to the wizard by a mandate is now fully signed in.
fn enabled(app: &App, id: String) -> Response {
    let enrolling = app.sessions.with(&id, |session| match &session.auth {
        Auth::MustEnrol { email, .. } => Some(email.clone()),
        _ => None,
    });
    let id = match enrolling {
        Some(email) => app.sessions.rotate(&id, Auth::SignedIn { email }),
        None => id,
    };
    app.flash(
        &id,
        true,
        "Two-step verification is on. You will be asked for a code at every sign-in.",
    );
    with_cookie(&id, Redirect::to("/account/2fa"))
}

async fn enable_download(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let policy = &app.service.policies().enable;
    let file = app.sessions.with(&id, |session| match &session.enable {
        Some(PendingEnable::SaveRecoveryCodes(save)) => {
            Some(save.download_file(policy, Locale::En))
        }
        _ => None,
    });
    match file {
        Some(file) => attachment(file),
        None => (StatusCode::NOT_FOUND, "no recovery codes to download").into_response(),
    }
}

#[derive(Deserialize)]
struct SavedForm {
    saved: Option<String>,
}

async fn enable_cancel(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    put_enable(&app, &id, None);
    let to = match wizard_area(&app, &id) {
        Area::Enrolling => WIZARD,
        _ => "/account/2fa",
    };
    app.back(&id, to, true, "Setup cancelled; nothing was saved.")
}

// ---------------------------------------------------------------------------------------
// Re-issue recovery codes.

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
}

async fn reissue_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
    let csrf = app.csrf(&id);
    let codes = app.sessions.with(&id, |session| {
        session.reissue.as_ref().map(|save| {
            save.codes()
                .codes()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        })
    });
    let body = match codes {
        None => pages::password_form(
            &csrf,
            "/account/2fa/reissue",
            "Enter your password to issue new recovery codes. The old codes stop working once you are done.",
        ),
        Some(codes) => pages::recovery_codes(
            &csrf,
            &codes,
            "/account/2fa/reissue/recovery-codes.txt",
            ("/account/2fa/reissue/done", None),
            "/account/2fa/reissue/cancel",
        ),
    };
    app.render(&id, "Re-issue recovery codes", Area::Account, body)
}

async fn reissue_start(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<PasswordForm>,
) -> Response {
    let email = app.user(&id);
    match app
        .service
        .start_reissue(&email, &form.password, &mut rng())
        .await
    {
        Ok(save) => {
            app.sessions
                .with(&id, |session| session.reissue = Some(save));
            Redirect::to("/account/2fa/reissue").into_response()
        }
        Err(error) => app.fail(&id, "/account/2fa/reissue", &error),
    }
}

async fn reissue_download(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let email = app.user(&id);
    let issuer = app.service.policies().enable.issuer.clone();
    let file = app.sessions.with(&id, |session| {
        session
            .reissue
            .as_ref()
            .map(|save| save.download_file(&issuer, &email, Locale::En))
    });
    match file {
        Some(file) => attachment(file),
        None => (StatusCode::NOT_FOUND, "no recovery codes to download").into_response(),
    }
}

async fn reissue_done(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<SavedForm>,
) -> Response {
    let email = app.user(&id);
    if form.saved.is_none() {
        return app.back(
            &id,
            "/account/2fa/reissue",
            false,
            "Tick the box once you have saved the new codes.",
        );
    }
    let Some(save) = app.sessions.with(&id, |session| session.reissue.take()) else {
        return Redirect::to("/account/2fa").into_response();
    };
    match app.service.complete_reissue(save, &email, &email).await {
        Ok(()) => app.back(
            &id,
            "/account/2fa",
            true,
            "New recovery codes are in force; the old ones no longer work.",
        ),
        Err(refusal) => {
            let (state, error) = usable(refusal);
            app.sessions.with(&id, |session| session.reissue = state);
            app.fail(&id, "/account/2fa/reissue", &error)
        }
    }
}

async fn reissue_cancel(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    app.sessions.with(&id, |session| session.reissue = None);
    app.back(
        &id,
        "/account/2fa",
        true,
        "Nothing changed: your old recovery codes still work.",
    )
}

// ---------------------------------------------------------------------------------------
// Disable.

async fn disable_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
    let csrf = app.csrf(&id);
    let confirming = app.sessions.with(&id, |session| session.disable.is_some());
    let body = if confirming {
        html! {
            p { "Confirm with one of these:" }
            h3 { "A code from your authenticator app" }
            (pages::code_form(&csrf, "/account/2fa/disable/confirm", None, "Authentication code", "app-code", "Disable"))
            h3 { "Or a recovery code" }
            (pages::code_form(&csrf, "/account/2fa/disable/confirm", None, "Recovery code", "recovery-code", "Disable"))
            (pages::cancel_button(&csrf, "/account/2fa/disable/cancel", "Cancel"))
        }
    } else {
        pages::password_form(
            &csrf,
            "/account/2fa/disable",
            "Enter your password to turn two-step verification off.",
        )
    };
    app.render(&id, "Disable two-step verification", Area::Account, body)
}

async fn disable_start(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<PasswordForm>,
) -> Response {
    let email = app.user(&id);
    match app.service.start_disable(&email, &form.password).await {
        Ok(confirm) => {
            app.sessions
                .with(&id, |session| session.disable = Some(confirm));
            Redirect::to("/account/2fa/disable").into_response()
        }
        Err(error) => app.fail(&id, "/account/2fa", &error),
    }
}

async fn disable_confirm(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<CodeForm>,
) -> Response {
    let email = app.user(&id);
    let Some(confirm) = app.sessions.with(&id, |session| session.disable.take()) else {
        return Redirect::to("/account/2fa/disable").into_response();
    };
    match app
        .service
        .confirm_disable(confirm, &email, &form.code, &email)
        .await
    {
        Ok(()) => app.back(&id, "/account/2fa", true, "Two-step verification is off."),
        Err(refusal) => {
            let keep = refusal.state.is_some();
            app.sessions
                .with(&id, |session| session.disable = refusal.state);
            let to = if keep {
                "/account/2fa/disable"
            } else {
                "/account/2fa"
            };
            app.fail(&id, to, &refusal.error)
        }
    }
}

async fn disable_cancel(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    app.sessions.with(&id, |session| session.disable = None);
    app.back(&id, "/account/2fa", true, "Two-step verification stays on.")
}

// ---------------------------------------------------------------------------------------
// Org management.

const ORG_TABS: [(&str, &str); 2] = [("/org", "Members"), ("/org/security", "Security settings")];

async fn org_members(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    use twostep::enrollment::Directory as _;
    let email = app.user(&id);
    let csrf = app.csrf(&id);
    let Ok(Some(me)) = app.accounts.membership(&email).await else {
        return app.back(
            &id,
            "/account",
            false,
            "You do not belong to an organisation.",
        );
    };
    let members = app.accounts.members(&me.org_id).await.unwrap_or_default();
    // Who has no 2FA is for those who manage security to know (as the mandate preview is).
    let manager = me.role.manages_security();
    let mut rows = Vec::with_capacity(members.len());
    for member in members {
        let on = manager
            && matches!(
                app.service.store().credential(&member.user_id).await,
                Ok(Some(_))
            );
        rows.push((member, on));
    }
    let body = html! {
        (pages::tabs(&ORG_TABS, "/org"))
        p { "Organisation: " strong { (me.org_id) } }
        table id="members" {
            tr { th { "Member" } th { "Role" } @if manager { th { "Two-step verification" } } @if me.role == Role::Owner { th {} } }
            @for (member, on) in &rows {
                tr {
                    td { (member.user_id) }
                    td { (role_name(member.role)) }
                    @if manager { td { span.status.on[*on].off[!*on] { @if *on { "On" } @else { "Off" } } } }
                    @if me.role == Role::Owner {
                        td {
                            @if member.role != Role::Owner {
                                form.inline method="post" action="/org/role" {
                                    (pages::csrf_field(&csrf))
                                    input type="hidden" name="member" value=(member.user_id);
                                    input type="hidden" name="admin" value=(if member.role == Role::Admin { "0" } else { "1" });
                                    button.link type="submit" { @if member.role == Role::Admin { "Make member" } @else { "Make admin" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    app.render(&id, "Org management", Area::Org, body)
        .into_response()
}

#[derive(Deserialize)]
struct RoleForm {
    member: String,
    admin: String,
}

async fn org_role(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<RoleForm>,
) -> Response {
    let email = app.user(&id);
    let Ok(Some(me)) = app.accounts.membership(&email).await else {
        return Redirect::to("/org").into_response();
    };
    match app
        .accounts
        .set_role(&email, &me.org_id, &form.member, form.admin == "1")
        .await
    {
        Ok(true) => app.back(&id, "/org", true, "Role changed."),
        Ok(false) => app.back(&id, "/org", false, "Only the owner can change roles."),
        Err(error) => {
            eprintln!("role change: {error}");
            app.back(&id, "/org", false, "Something went wrong; try again.")
        }
    }
}

async fn org_security(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let email = app.user(&id);
    let csrf = app.csrf(&id);
    let Ok(Some(me)) = app.accounts.membership(&email).await else {
        return app.back(
            &id,
            "/account",
            false,
            "You do not belong to an organisation.",
        );
    };
    let policy = app
        .service
        .store()
        .org_policy(&me.org_id)
        .await
        .ok()
        .flatten();
    let mandate = policy.and_then(|policy| policy.mandate);
    let preview = match mandate {
        Some(_) => None,
        None => Some(app.service.preview_mandate(&email, &me.org_id, 0).await),
    };
    let body = html! {
        (pages::tabs(&ORG_TABS, "/org/security"))
        h3 { "Two-step verification for all members" }
        p { "When required, members without two-step verification must set it up at their next "
            "sign-in, and no member can turn it off. Only owners and admins who use two-step "
            "verification themselves can change this." }
        form method="post" action="/org/security" {
            (pages::csrf_field(&csrf))
            @match &mandate {
                Some(mandate) => {
                    p.switch { span.status.on id="mandate" { "Required" } " since " (date(mandate.since)) " (set by " (mandate.set_by) ")" }
                    input type="hidden" name="require" value="off";
                    button.danger type="submit" id="mandate-switch" { "Stop requiring two-step verification" }
                }
                None => {
                    p.switch { span.status.off id="mandate" { "Not required" } }
                    input type="hidden" name="require" value="on";
                    button type="submit" id="mandate-switch" { "Require two-step verification" }
                }
            }
        }
        @match preview {
            Some(Ok(affected)) => {
                h3 { "Preview" }
                @if affected.is_empty() {
                    p id="preview" { "Every member already uses two-step verification." }
                } @else {
                    p { "These members do not use two-step verification yet and will have to set it up at their next sign-in:" }
                    ul id="preview" { @for member in &affected { li { (member.user_id) } } }
                }
            }
            Some(Err(error)) => p.flash.error id="preview-refused" { (user_message(&error)) },
            None => {}
        }
    };
    app.render(&id, "Org management", Area::Org, body)
        .into_response()
}

#[derive(Deserialize)]
struct MandateForm {
    require: String,
}

async fn org_security_set(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<MandateForm>,
) -> Response {
    let email = app.user(&id);
    let Ok(Some(me)) = app.accounts.membership(&email).await else {
        return Redirect::to("/org").into_response();
    };
    let result = if form.require == "on" {
        app.service.set_mandate(&email, &me.org_id, 0).await
    } else {
        app.service.clear_mandate(&email, &me.org_id).await
    };
    match result {
        Ok(policy) if policy.mandate.is_some() => app.back(
            &id,
            "/org/security",
            true,
            "Two-step verification is now required for every member.",
        ),
        Ok(_) => app.back(
            &id,
            "/org/security",
            true,
            "Two-step verification is no longer required.",
        ),
        Err(error) => app.fail(&id, "/org/security", &error),
    }
}
