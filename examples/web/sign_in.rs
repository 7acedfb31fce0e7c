//! Sign-up, sign-in (the password, then the second step), sign-out, and the mailbox.

use axum::extract::{Extension, Form, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use twostep::enrollment::{LoginStep, ServiceError};

use crate::accounts::SignUpError;
use crate::app::{
    App, CodeForm, SessionId, Shared, Sid, account_of, date, user_message, with_cookie,
};
use crate::mail::unix_now;
use crate::pages::{self, Area};
use crate::session::{self, Auth};
use crate::wizard::wizard_area;

#[derive(Deserialize)]
pub(crate) struct Credentials {
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

pub(crate) async fn sign_in_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
    let csrf = app.csrf(&id);
    app.render(&id, "Sign in", Area::Public, sign_in_form(&csrf, false))
}

pub(crate) async fn sign_up_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
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

pub(crate) async fn sign_up(
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

pub(crate) async fn sign_in(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<Credentials>,
) -> Response {
    let email = normalize_email(&form.email);
    let window = match app.sign_in_throttle.reserve(&email, unix_now()) {
        Ok(window) => window,
        Err(locked) => {
            let message = user_message(&ServiceError::from(locked));
            return app.back(&id, "/login", false, message);
        }
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
pub(crate) async fn after_password(app: &App, id: &str, email: String) -> Response {
    let step = match app.service.begin_login(&account_of(&email)).await {
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
        LoginStep::EnrollmentRequired { org_id } => (
            Auth::MustEnrol { email, org: org_id },
            "/account/2fa/enable",
            None,
        ),
        LoginStep::SignedIn { reminder } => {
            let text = reminder.map(|reminder| {
                (
                    false,
                    format!(
                        "{} requires two-step verification from {}. Set it up before then.",
                        reminder.org_id,
                        date(reminder.deadline)
                    ),
                )
            });
            (Auth::SignedIn { email }, "/account", text)
        }
    };
    let new = app.sessions.rotate(id, auth);
    if let Some((ok, text)) = flash {
        app.flash(&new, ok, text);
    }
    with_cookie(&new, Redirect::to(to))
}

#[derive(Deserialize)]
pub(crate) struct MethodQuery {
    #[serde(default)]
    method: String,
}

pub(crate) async fn second_step_page(
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

pub(crate) async fn second_step(
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
    let account = account_of(&email);
    match app
        .service
        .verify_login(&account, challenge, &form.code)
        .await
    {
        Ok(signed_in) => {
            let new = app.sessions.rotate(&id, Auth::SignedIn { email });
            if let Some(left) = signed_in.recovery_codes {
                let mut text = format!(
                    "Signed in with a recovery code. {} recovery codes left.",
                    left.remaining
                );
                if left.low {
                    text.push_str(" Re-issue your recovery codes soon.");
                }
                app.flash(&new, !left.low, text);
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

pub(crate) async fn sign_out(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
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

pub(crate) async fn mailbox(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
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
