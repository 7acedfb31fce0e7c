//! The JSON routes: every step of the flow for single-page apps and mobile clients.
//!
//! Each route answers the step's view as JSON, or the [`Error`] body with its status. Every
//! `POST`/`PUT` takes a JSON body (`{}` where there is nothing to say), so a cross-site form
//! cannot send one: browsers send `application/json` across sites only after a CORS preflight,
//! which an application that does not opt in refuses. Every answer carries
//! `Cache-Control: no-store` (some hold a new key or recovery codes).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower_sessions::Session;
use twostep_enrollment::{Directory, Mailer, Reauthenticate, Store};
use twostep_recovery::{DownloadFile, Locale};

use crate::TwoStep;

/// A code: from the mail, the authenticator app, or a recovery code.
#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

/// The password, to re-authenticate before a re-issue or a disable.
#[derive(Deserialize)]
struct PasswordBody {
    password: String,
}

/// "Done", with whether "I saved them" was ticked.
#[derive(Deserialize)]
struct SavedBody {
    saved: bool,
}

/// Nothing to say; still JSON, so that only a same-site script can send it.
#[derive(Deserialize)]
struct Empty {}

/// Which page of a security log: older than the event `before`.
#[derive(Deserialize)]
struct LogPage {
    before: Option<u64>,
}

/// An organisation's requirement, on or off.
#[derive(Deserialize)]
struct MandateBody {
    required: bool,
}

/// The language of a download: `?lang=ko` for Korean, English otherwise.
#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

impl LangQuery {
    fn locale(&self) -> Locale {
        match self.lang.as_deref() {
            Some("ko") => Locale::Ko,
            _ => Locale::En,
        }
    }
}

/// The recovery codes as a file to save.
pub(crate) fn attachment(file: DownloadFile) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", file.file_name);
    let mut response = file.contents.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

impl<S, M, R, D> TwoStep<S, M, R, D>
where
    S: Store + 'static,
    M: Mailer + 'static,
    R: Reauthenticate + 'static,
    D: Directory + 'static,
{
    /// The JSON routes, to [`nest`](Router::nest) where the application wants them (inside
    /// its `SessionManagerLayer`):
    ///
    /// | route | body | answers |
    /// | --- | --- | --- |
    /// | `POST /second-step` | `{"code"}` | [`SignInStep`](crate::SignInStep) |
    /// | `POST /sign-out` | `{}` | `204` |
    /// | `GET /status` | | [`StatusView`](crate::StatusView) |
    /// | `GET /enable` | | [`WizardView`](crate::WizardView) |
    /// | `POST /enable/start`, `/enable/resend` | `{}` | [`WizardView`](crate::WizardView) |
    /// | `POST /enable/email-code`, `/enable/authenticator` | `{"code"}` | [`WizardView`](crate::WizardView) |
    /// | `POST /enable/done` | `{"saved"}` | [`Finished`](crate::Finished) |
    /// | `POST /enable/cancel` | `{}` | [`Finished`](crate::Finished) |
    /// | `GET /recovery-codes.txt?lang=ko` | | the codes on screen as a file |
    /// | `GET /reissue` | | [`ReissueView`](crate::ReissueView) |
    /// | `POST /reissue/start` | `{"password"}` | [`ReissueView`](crate::ReissueView) |
    /// | `POST /reissue/done` | `{"saved"}` | [`Finished`](crate::Finished) |
    /// | `POST /reissue/cancel` | `{}` | [`Finished`](crate::Finished) |
    /// | `GET /disable` | | [`DisableView`](crate::DisableView) |
    /// | `POST /disable/start` | `{"password"}` | [`DisableView`](crate::DisableView) |
    /// | `POST /disable/confirm` | `{"code"}` | [`Finished`](crate::Finished) |
    /// | `POST /disable/cancel` | `{}` | [`Finished`](crate::Finished) |
    /// | `GET /orgs/{org}/security` | | [`OrgSecurityView`](crate::OrgSecurityView) |
    /// | `PUT /orgs/{org}/security` | `{"required"}` | [`Finished`](crate::Finished) |
    /// | `GET /security-log?before=` | | [`SecurityLogView`](crate::SecurityLogView) |
    /// | `GET /orgs/{org}/security-log?before=` | | [`SecurityLogView`](crate::SecurityLogView) |
    ///
    /// Each step checks the session's stage itself: the second step only half-way through a
    /// sign-in, the wizard also for a session an organisation holds to it, the rest only
    /// fully signed in. The first factor is the application's: after checking a password it
    /// calls [`TwoStep::password_verified`].
    pub fn json_router(&self) -> Router {
        Router::new()
            .route(
                "/second-step",
                post(|State(t): State<Self>, session: Session, Json(body): Json<CodeBody>| async move {
                    t.verify_second_step(&session, &body.code).await.map(Json)
                }),
            )
            .route(
                "/sign-out",
                post(|State(t): State<Self>, session: Session, Json(Empty {}): Json<Empty>| async move {
                    t.sign_out(&session)
                        .await
                        .map(|()| axum::http::StatusCode::NO_CONTENT)
                }),
            )
            .route(
                "/status",
                get(|State(t): State<Self>, session: Session| async move {
                    t.status(&session).await.map(Json)
                }),
            )
            .route(
                "/enable",
                get(|State(t): State<Self>, session: Session| async move {
                    t.wizard(&session).await.map(Json)
                }),
            )
            .route(
                "/enable/start",
                post(|State(t): State<Self>, session: Session, Json(Empty {}): Json<Empty>| async move {
                    t.start_enable(&session).await.map(Json)
                }),
            )
            .route(
                "/enable/resend",
                post(|State(t): State<Self>, session: Session, Json(Empty {}): Json<Empty>| async move {
                    t.resend_email_code(&session).await.map(Json)
                }),
            )
            .route(
                "/enable/email-code",
                post(|State(t): State<Self>, session: Session, Json(body): Json<CodeBody>| async move {
                    t.verify_email_code(&session, &body.code).await.map(Json)
                }),
            )
            .route(
                "/enable/authenticator",
                post(|State(t): State<Self>, session: Session, Json(body): Json<CodeBody>| async move {
                    t.confirm_authenticator(&session, &body.code).await.map(Json)
                }),
            )
            .route(
                "/enable/done",
                post(|State(t): State<Self>, session: Session, Json(body): Json<SavedBody>| async move {
                    t.complete_enable(&session, body.saved).await.map(Json)
                }),
            )
            .route(
                "/enable/cancel",
                post(|State(t): State<Self>, session: Session, Json(Empty {}): Json<Empty>| async move {
                    t.cancel_enable(&session).await.map(Json)
                }),
            )
            .route(
                "/recovery-codes.txt",
                get(|State(t): State<Self>, session: Session, Query(query): Query<LangQuery>| async move {
                    t.recovery_codes_file(&session, query.locale()).await.map(attachment)
                }),
            )
            .route(
                "/reissue",
                get(|State(t): State<Self>, session: Session| async move {
                    t.reissue(&session).await.map(Json)
                }),
            )
            .route(
                "/reissue/start",
                post(|State(t): State<Self>, session: Session, Json(body): Json<PasswordBody>| async move {
                    t.start_reissue(&session, &body.password).await.map(Json)
                }),
            )
            .route(
                "/reissue/done",
                post(|State(t): State<Self>, session: Session, Json(body): Json<SavedBody>| async move {
                    t.complete_reissue(&session, body.saved).await.map(Json)
                }),
            )
            .route(
                "/reissue/cancel",
                post(|State(t): State<Self>, session: Session, Json(Empty {}): Json<Empty>| async move {
                    t.cancel_reissue(&session).await.map(Json)
                }),
            )
            .route(
                "/disable",
                get(|State(t): State<Self>, session: Session| async move {
                    t.disable(&session).await.map(Json)
                }),
            )
            .route(
                "/disable/start",
                post(|State(t): State<Self>, session: Session, Json(body): Json<PasswordBody>| async move {
                    t.start_disable(&session, &body.password).await.map(Json)
                }),
            )
            .route(
                "/disable/confirm",
                post(|State(t): State<Self>, session: Session, Json(body): Json<CodeBody>| async move {
                    t.confirm_disable(&session, &body.code).await.map(Json)
                }),
            )
            .route(
                "/disable/cancel",
                post(|State(t): State<Self>, session: Session, Json(Empty {}): Json<Empty>| async move {
                    t.cancel_disable(&session).await.map(Json)
                }),
            )
            .route(
                "/orgs/{org}/security",
                get(|State(t): State<Self>, session: Session, Path(org): Path<String>| async move {
                    t.org_security(&session, &org).await.map(Json)
                })
                .put(
                    |State(t): State<Self>,
                     session: Session,
                     Path(org): Path<String>,
                     Json(body): Json<MandateBody>| async move {
                        t.set_org_mandate(&session, &org, body.required).await.map(Json)
                    },
                ),
            )
            .route(
                "/security-log",
                get(|State(t): State<Self>, session: Session, Query(page): Query<LogPage>| async move {
                    t.security_log(&session, page.before).await.map(Json)
                }),
            )
            .route(
                "/orgs/{org}/security-log",
                get(
                    |State(t): State<Self>,
                     session: Session,
                     Path(org): Path<String>,
                     Query(page): Query<LogPage>| async move {
                        t.org_security_log(&session, &org, page.before).await.map(Json)
                    },
                ),
            )
            .layer(axum::middleware::map_response(no_store))
            .layer(axum::middleware::from_fn(crate::record_client))
            .with_state(self.clone())
    }
}
