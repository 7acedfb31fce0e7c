//! The enable wizard: email code, QR code and manual key, first code, recovery codes.
//!
//! The pending step lives in the session; each form names the step it was for, and one
//! handler advances whichever step is pending.

use axum::extract::{Extension, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use twostep::enrollment::PendingEnable;
use twostep::enrollment::SetupView;
use twostep::enrollment::{Refusal, Saved, ServiceError};
use twostep::recovery::Locale;

use crate::app::{App, SessionId, Shared, Sid, account_of, attachment, usable, with_cookie};
use crate::pages::{self, Area};
use crate::session::Auth;

/// The organisation whose mandate holds the session to the wizard, if any.
pub(crate) fn enrolling_for(app: &App, id: &str) -> Option<String> {
    app.sessions.with(id, |session| match &session.auth {
        Auth::MustEnrol { org, .. } => Some(org.clone()),
        _ => None,
    })
}

/// The wizard's area: the whole console, or only the wizard while enrollment is required.
pub(crate) fn wizard_area(app: &App, id: &str) -> Area {
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

pub(crate) async fn enable_page(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let email = app.user(&id);
    let csrf = app.csrf(&id);
    let policy = app.service.policies();
    let screen = app.sessions.with(&id, |session| match &session.enable {
        None => Ok(WizardScreen::Start),
        Some(PendingEnable::EmailCodeSent(sent)) => Ok(WizardScreen::EmailCode {
            sent_to: sent.account().email.clone(),
        }),
        Some(PendingEnable::AuthenticatorSetup(setup)) => app
            .service
            .setup_view(setup)
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

pub(crate) async fn enable_start(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let account = account_of(&app.user(&id));
    match app.service.start_enable(&account).await {
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

pub(crate) async fn enable_resend(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let Some(PendingEnable::EmailCodeSent(sent)) = take_step(&app, &id, "email") else {
        return Redirect::to(WIZARD).into_response();
    };
    let account = account_of(&app.user(&id));
    match app.service.resend_email_code(&account, sent).await {
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
pub(crate) struct StepForm {
    /// Which step the form was for.
    step: String,
    #[serde(default)]
    code: String,
    /// The "I have saved my recovery codes" box.
    saved: Option<String>,
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
pub(crate) async fn enable_step(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<StepForm>,
) -> Response {
    let Some(pending) = take_step(&app, &id, &form.step) else {
        return Redirect::to(WIZARD).into_response();
    };
    let service = &app.service;
    let account = &account_of(&app.user(&id));
    let (next, refused) = match pending {
        PendingEnable::EmailCodeSent(sent) => outcome(
            service.verify_email(account, sent, &form.code).await,
            PendingEnable::AuthenticatorSetup,
            PendingEnable::EmailCodeSent,
        ),
        PendingEnable::AuthenticatorSetup(setup) => outcome(
            service
                .confirm_authenticator(account, setup, &form.code)
                .await,
            PendingEnable::SaveRecoveryCodes,
            PendingEnable::AuthenticatorSetup,
        ),
        PendingEnable::SaveRecoveryCodes(save) => {
            let saved = if form.saved.is_some() {
                Saved::Yes
            } else {
                Saved::No
            };
            match service.complete_enable(account, save, saved).await {
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

pub(crate) async fn enable_download(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let policy = app.service.policies();
    let file = app.sessions.with(&id, |session| match &session.enable {
        Some(PendingEnable::SaveRecoveryCodes(save)) => {
            Some(save.download_file(&policy.issuer, Locale::En))
        }
        _ => None,
    });
    match file {
        Some(file) => attachment(file),
        None => (StatusCode::NOT_FOUND, "no recovery codes to download").into_response(),
    }
}

pub(crate) async fn enable_cancel(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    put_enable(&app, &id, None);
    let to = match wizard_area(&app, &id) {
        Area::Enrolling => WIZARD,
        _ => "/account/2fa",
    };
    app.back(&id, to, true, "Setup cancelled; nothing was saved.")
}
