//! Account management: the profile, the two-step verification tab, re-issuing recovery
//! codes, and disabling two-step verification.

use axum::extract::{Extension, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use twostep::enrollment::Saved;
use twostep::recovery::Locale;

use crate::app::{
    CodeForm, SessionId, Shared, Sid, account_of, attachment, date, role_name, usable,
};
use crate::pages::{self, Area};

const ACCOUNT_TABS: [(&str, &str); 2] = [
    ("/account", "Profile"),
    ("/account/2fa", "Two-step verification"),
];

pub(crate) async fn profile(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
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

pub(crate) async fn two_factor(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let email = app.user(&id);
    let status = match app.service.status(&email).await {
        Ok(status) => status,
        Err(error) => {
            eprintln!("2FA tab: {error}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "storage failure").into_response();
        }
    };
    let body = html! {
        (pages::tabs(&ACCOUNT_TABS, "/account/2fa"))
        p { "Two-step verification asks for a code from an authenticator app after your password." }
        @if let Some(enabled_at) = status.enabled_at {
            p { "Status: " span.status.on id="status" { "On" } }
            table {
                tr { th { "Method" } td { "Authenticator app (time-based codes)" } }
                tr { th { "Enabled" } td { (date(enabled_at)) } }
                tr { th { "Recovery codes" } td id="codes-left" {
                    (status.recovery_codes_left) " left"
                    @if status.recovery_codes_low { " — re-issue them soon" } } }
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

#[derive(Deserialize)]
pub(crate) struct SavedForm {
    saved: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    password: String,
}

pub(crate) async fn reissue_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
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

pub(crate) async fn reissue_start(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<PasswordForm>,
) -> Response {
    let email = app.user(&id);
    match app
        .service
        .start_reissue(&account_of(&email), &form.password)
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

pub(crate) async fn reissue_download(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
) -> Response {
    let issuer = app.service.policies().issuer.clone();
    let file = app.sessions.with(&id, |session| {
        session
            .reissue
            .as_ref()
            .map(|save| save.download_file(&issuer, Locale::En))
    });
    match file {
        Some(file) => attachment(file),
        None => (StatusCode::NOT_FOUND, "no recovery codes to download").into_response(),
    }
}

pub(crate) async fn reissue_done(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<SavedForm>,
) -> Response {
    let account = account_of(&app.user(&id));
    let Some(save) = app.sessions.with(&id, |session| session.reissue.take()) else {
        return Redirect::to("/account/2fa").into_response();
    };
    let saved = if form.saved.is_some() {
        Saved::Yes
    } else {
        Saved::No
    };
    match app.service.complete_reissue(&account, save, saved).await {
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

pub(crate) async fn reissue_cancel(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
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

pub(crate) async fn disable_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Markup {
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

pub(crate) async fn disable_start(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<PasswordForm>,
) -> Response {
    let email = app.user(&id);
    match app
        .service
        .start_disable(&account_of(&email), &form.password)
        .await
    {
        Ok(confirm) => {
            app.sessions
                .with(&id, |session| session.disable = Some(confirm));
            Redirect::to("/account/2fa/disable").into_response()
        }
        Err(error) => app.fail(&id, "/account/2fa", &error),
    }
}

pub(crate) async fn disable_confirm(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<CodeForm>,
) -> Response {
    let account = account_of(&app.user(&id));
    let Some(confirm) = app.sessions.with(&id, |session| session.disable.take()) else {
        return Redirect::to("/account/2fa/disable").into_response();
    };
    match app
        .service
        .confirm_disable(&account, confirm, &form.code)
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

pub(crate) async fn disable_cancel(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    app.sessions.with(&id, |session| session.disable = None);
    app.back(&id, "/account/2fa", true, "Two-step verification stays on.")
}
