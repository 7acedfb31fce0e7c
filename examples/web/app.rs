//! The routes: the console's own pages around twostep's.
//!
//! twostep-axum brings the 2FA screens (`TwoStep::pages`), the session's sign-in stage and
//! the guard for route groups; the console keeps its users, organisations, mailbox and
//! chrome. Sessions are `tower-sessions`' (in the database, so several console processes can
//! share them); a visitor gets none until they sign in.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;
use tower_sessions::Session;
use twostep::axum::ui::{self, Lang, Pages};
use twostep::axum::{SessionStage, SignedIn, TwoStep};
use twostep::enrollment::{Account, Clock as _, Directory as _, SystemClock};
use twostep::store_sqlx::SqlStore;

use crate::accounts::{Accounts, AccountsError, SignUpError};
use crate::mail::Outbox;
use crate::pages::{self, Chrome, Nav};

/// twostep as the console wires it.
pub(crate) type Console = TwoStep<SqlStore, Arc<Outbox>, Accounts, Accounts>;

/// What the console's handlers share.
pub(crate) struct App {
    pub twostep: Console,
    pub pages: Pages,
    pub accounts: Accounts,
    pub outbox: Arc<Outbox>,
}

type Shared = State<Arc<App>>;

/// The console: its pages, twostep's, and the page headers on every answer; with `floor`,
/// the load generator's floor route behind the same layers.
pub(crate) fn router(app: Arc<App>, floor: Option<Router>) -> Router {
    let signed_in = Router::new()
        .route("/account", get(profile))
        .route("/org", get(members))
        .route("/org/role", post(set_role))
        .route_layer(app.pages.require_signed_in(&app.twostep));
    Router::new()
        .route("/", get(home))
        .route("/login", get(sign_in_page).post(sign_in))
        .route("/signup", get(sign_up_page).post(sign_up))
        .route("/signup/confirm/{token}", get(confirm_sign_up))
        .route("/mail", get(mailbox))
        // Any stage may sign out, the half signed-in too.
        .route("/logout", post(sign_out))
        .route("/assets/console.css", get(css))
        .with_state(Arc::clone(&app))
        .merge(signed_in.with_state(Arc::clone(&app)))
        .merge(app.twostep.pages(app.pages.clone()))
        .merge(floor.unwrap_or_default())
        .layer(middleware::from_fn(ui::refuse_cross_site))
        .layer(middleware::map_response(ui::security_headers))
}

impl App {
    /// One of the console's own pages, in its chrome, with the session's one-time message.
    async fn page(
        &self,
        session: &Session,
        lang: Lang,
        title: &str,
        nav: Nav,
        body: Markup,
    ) -> Markup {
        let user = self.twostep.stage(session).await.ok().flatten();
        let csrf = ui::csrf_token(session)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let flash = ui::take_flash(session).await.ok().flatten();
        let chrome = Chrome {
            title,
            lang,
            nav,
            user: user.as_ref().map(|(account, _)| account.email.as_str()),
            csrf: &csrf,
            flash,
            head: self.pages.head(),
        };
        pages::layout(chrome, body)
    }

    /// Where a session that already passed the password belongs instead of a visitor's page.
    async fn signed_in_elsewhere(&self, session: &Session) -> Option<Redirect> {
        Some(Redirect::to(
            match self.twostep.stage(session).await.ok()??.1 {
                SessionStage::SecondStep => "/login/second-step",
                SessionStage::EnrollmentRequired { .. } => "/account/2fa/enable",
                SessionStage::SignedIn => "/account",
            },
        ))
    }
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::CSS,
    )
}

async fn home(State(app): Shared, session: Session) -> Redirect {
    app.signed_in_elsewhere(&session)
        .await
        .unwrap_or_else(|| Redirect::to("/login"))
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
    #[serde(default)]
    org: String,
}

/// A visitor's form again, with what went wrong: rendered, not redirected, so that a failed
/// sign-in leaves no session behind.
async fn visitor_form(
    app: &App,
    session: &Session,
    lang: Lang,
    sign_up: bool,
    email: &str,
    error: &str,
) -> Response {
    let title = if sign_up {
        "Create an account"
    } else {
        "Sign in"
    };
    let body = maud::html! {
        @if !error.is_empty() { p id="flash" class="flash error" { (error) } }
        (pages::sign_in_form(sign_up, email))
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    (
        status,
        app.page(session, lang, title, Nav::Public, body).await,
    )
        .into_response()
}

/// A server failure behind a visitor's form: logged, and answered `503` (try again), not as
/// a refusal of what the visitor typed.
async fn visitor_failure(
    app: &App,
    session: &Session,
    lang: Lang,
    sign_up: bool,
    email: &str,
    what: &str,
    error: &(dyn std::fmt::Display + Sync),
) -> Response {
    eprintln!("{what} failed: {error}");
    let message = "Something went wrong; try again.";
    let mut answer = visitor_form(app, session, lang, sign_up, email, message).await;
    *answer.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    answer
}

async fn sign_in_page(State(app): Shared, session: Session, lang: Lang) -> Response {
    match app.signed_in_elsewhere(&session).await {
        Some(elsewhere) => elsewhere.into_response(),
        None => visitor_form(&app, &session, lang, false, "", "").await,
    }
}

async fn sign_up_page(State(app): Shared, session: Session, lang: Lang) -> Response {
    match app.signed_in_elsewhere(&session).await {
        Some(elsewhere) => elsewhere.into_response(),
        None => visitor_form(&app, &session, lang, true, "", "").await,
    }
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

async fn sign_in(
    State(app): Shared,
    session: Session,
    lang: Lang,
    Form(form): Form<Credentials>,
) -> Response {
    let email = normalize_email(&form.email);
    match app.accounts.check_password(&email, &form.password).await {
        Ok(true) => after_password(&app, &session, lang, email).await,
        // One answer for an unknown email and a wrong password.
        Ok(false) => {
            let wrong = "Wrong email or password.";
            visitor_form(&app, &session, lang, false, &email, wrong).await
        }
        Err(AccountsError::Password(error)) => {
            let message = error.message(SystemClock.now());
            visitor_form(&app, &session, lang, false, &email, &message).await
        }
        Err(error) => visitor_failure(&app, &session, lang, false, &email, "sign-in", &error).await,
    }
}

/// A sign-up: the same answer whether the address is new or registered already (as a
/// password reset answers); the mail says which, to the address's owner.
async fn sign_up(
    State(app): Shared,
    session: Session,
    lang: Lang,
    Form(form): Form<Credentials>,
) -> Response {
    let email = normalize_email(&form.email);
    match app
        .accounts
        .request_sign_up(&email, &form.password, &form.org)
        .await
    {
        Ok(Some(token)) => app.outbox.send_own(
            &email,
            "Finish creating your account",
            &format!("Open this link to finish creating your account: /signup/confirm/{token}"),
        ),
        Ok(None) => app.outbox.send_own(
            &email,
            "Someone tried to sign up with your address",
            "You already have an account: sign in instead. If this was not you, ignore this mail.",
        ),
        Err(SignUpError::Backend(error)) => {
            return visitor_failure(&app, &session, lang, true, &email, "sign-up", &error).await;
        }
        Err(refused) => {
            let message = format!("{refused}.");
            return visitor_form(&app, &session, lang, true, &email, &message).await;
        }
    }
    let body = maud::html! {
        p id="check-inbox" { "Check your inbox: we sent a link to " strong { (email) }
            " to finish creating your account. (Locally: the console prints it.)" }
    };
    app.page(&session, lang, "Create an account", Nav::Public, body)
        .await
        .into_response()
}

/// A sign-up's mailed link: the account exists from here, and the session is signed in.
async fn confirm_sign_up(
    State(app): Shared,
    session: Session,
    lang: Lang,
    Path(token): Path<String>,
) -> Response {
    match app.accounts.confirm_sign_up(&token).await {
        Ok(Some(email)) => after_password(&app, &session, lang, email).await,
        Ok(None) => {
            let message = "This link is no longer valid: sign up again, or sign in.";
            visitor_form(&app, &session, lang, true, "", message).await
        }
        Err(error) => visitor_failure(&app, &session, lang, true, "", "sign-up", &error).await,
    }
}

/// After a correct password: twostep decides — signed in, the second step, or the wizard an
/// organisation requires. The console uses the login email as the user id.
async fn after_password(app: &App, session: &Session, lang: Lang, email: String) -> Response {
    let account = Account {
        user_id: email.clone(),
        email,
    };
    match app.twostep.password_verified(session, &account).await {
        Ok(step) => app.pages.after_password(session, lang, &step).await,
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(app): Shared, session: Session, Form(form): Form<CsrfForm>) -> Response {
    if !ui::csrf_matches(&session, &form.csrf).await {
        return StatusCode::FORBIDDEN.into_response();
    }
    match app.twostep.sign_out(&session).await {
        Ok(()) => Redirect::to("/login").into_response(),
        Err(error) => error.into_response(),
    }
}

async fn profile(
    State(app): Shared,
    session: Session,
    lang: Lang,
    SignedIn(me): SignedIn,
) -> Markup {
    let membership = app.accounts.membership(&me.user_id).await.ok().flatten();
    let body = pages::profile(&me.email, membership.as_ref(), lang);
    app.page(&session, lang, "Account management", Nav::Account, body)
        .await
}

async fn members(
    State(app): Shared,
    session: Session,
    lang: Lang,
    SignedIn(me): SignedIn,
) -> Response {
    let Ok(Some(me)) = app.accounts.membership(&me.user_id).await else {
        let _ = ui::flash(&session, false, "You do not belong to an organisation.").await;
        return Redirect::to("/account").into_response();
    };
    let members = app.accounts.members(&me.org_id).await.unwrap_or_default();
    // Who has no 2FA is for those who manage security to know (one query for the list).
    let statuses = if me.role.manages_security() {
        let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
        app.twostep
            .service()
            .statuses(&ids)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let rows: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, member)| (member.clone(), statuses.get(i).map(|s| s.is_enabled())))
        .collect();
    let csrf = ui::csrf_token(&session)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let body = pages::members(&me, &rows, &csrf);
    app.page(&session, lang, "Org management", Nav::Org, body)
        .await
        .into_response()
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    csrf: String,
    member: String,
    admin: String,
}

async fn set_role(
    State(app): Shared,
    session: Session,
    SignedIn(me): SignedIn,
    Form(form): Form<RoleForm>,
) -> Response {
    if !ui::csrf_matches(&session, &form.csrf).await {
        return StatusCode::FORBIDDEN.into_response();
    }
    let org = app
        .accounts
        .membership(&me.user_id)
        .await
        .ok()
        .flatten()
        .map(|m| m.org_id);
    let changed = match org {
        Some(org) => {
            app.accounts
                .set_role(&me.user_id, &org, &form.member, form.admin == "1")
                .await
        }
        None => Ok(false),
    };
    let (ok, text) = match changed {
        Ok(true) => (true, "Role changed."),
        Ok(false) => (false, "Only the owner can change roles."),
        Err(error) => {
            eprintln!("role change: {error}");
            (false, "Something went wrong; try again.")
        }
    };
    let _ = ui::flash(&session, ok, text).await;
    Redirect::to("/org").into_response()
}

/// The mailbox, to the signed-in and to those enrolling (the wizard mails them a code).
async fn mailbox(State(app): Shared, session: Session, lang: Lang) -> Response {
    let (me, nav) = match app.twostep.stage(&session).await.ok().flatten() {
        Some((me, SessionStage::SignedIn)) => (me, Nav::Mail),
        Some((me, SessionStage::EnrollmentRequired { .. })) => (me, Nav::Enrolling),
        Some((_, SessionStage::SecondStep)) => {
            return Redirect::to("/login/second-step").into_response();
        }
        None => return Redirect::to("/login").into_response(),
    };
    let mails: Vec<_> = app
        .outbox
        .newest_first()
        .into_iter()
        .filter(|mail| mail.to == me.email)
        .collect();
    app.page(&session, lang, "Mailbox", nav, pages::mailbox(&mails))
        .await
        .into_response()
}
