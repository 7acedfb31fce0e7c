//! The pages' routes: each `GET` renders a view in the application's layout; each `POST`
//! checks the form's token, takes the step and redirects with a one-time message.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Form, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tower_sessions::Session;
use twostep_enrollment::{Directory, Mailer, Reauthenticate, ServiceError, Store};

use crate::session::{self, Stage};
use crate::ui::html::{self, Ctx};
use crate::ui::text::{self, Text};
use crate::ui::{Area, Frame, Lang, Pages, take_flash};
use crate::views::{Done, SignInStep};
use crate::{Error, TwoStep, json};

/// The largest form read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The pages' state: the flows and where things are.
struct Ui<S, M, R, D> {
    twostep: TwoStep<S, M, R, D>,
    pages: Arc<Pages>,
}

impl<S, M, R, D> Clone for Ui<S, M, R, D> {
    fn clone(&self) -> Self {
        Self {
            twostep: self.twostep.clone(),
            pages: Arc::clone(&self.pages),
        }
    }
}

/// A form whose anti-CSRF token matched the session's, from this site.
struct Checked<T>(T);

impl<S, M, R, D, T> FromRequest<Ui<S, M, R, D>> for Checked<T>
where
    S: Store + 'static,
    M: Mailer + 'static,
    R: Reauthenticate + 'static,
    D: Directory + 'static,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, ui: &Ui<S, M, R, D>) -> Result<Self, Response> {
        let cross_site = super::cross_site(&request);
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, ui)
            .await
            .map_err(IntoResponse::into_response)?;
        let Ok(lang) = Lang::from_request_parts(&mut parts, ui).await;
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
        };
        let sent = form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == "csrf")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        if cross_site || !super::csrf_matches(&session, &sent).await {
            // Back home, not to the Referer: a forged form's page would name its own site.
            let ctx = ui.ctx(&session, lang).await;
            let body = html::refused(&ctx.as_ctx(&ui.pages), &ui.pages.paths.signed_in);
            let page = ui
                .frame(&ctx, Text::of(lang).title_refused, Area::Refused, body)
                .await;
            return Err((StatusCode::FORBIDDEN, page).into_response());
        }
        let request = Request::from_parts(parts, Body::from(bytes));
        let Form(form) = Form::<T>::from_request(request, ui)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self(form))
    }
}

/// What a page renders with: language, token, user, message.
struct PageCtx {
    lang: Lang,
    csrf: String,
    user: Option<String>,
}

impl PageCtx {
    fn as_ctx<'a>(&'a self, pages: &'a Pages) -> Ctx<'a> {
        Ctx {
            lang: self.lang,
            csrf: &self.csrf,
            paths: &pages.paths,
        }
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct SavedForm {
    saved: Option<String>,
}

#[derive(Deserialize)]
struct Empty {}

#[derive(Deserialize)]
struct MandateForm {
    org: Option<String>,
    #[serde(default)]
    require: String,
}

#[derive(Deserialize)]
struct MethodQuery {
    method: Option<String>,
}

#[derive(Deserialize)]
struct OrgQuery {
    org: Option<String>,
    before: Option<u64>,
}

#[derive(Deserialize)]
struct BeforeQuery {
    before: Option<u64>,
}

#[derive(Deserialize)]
struct MemberQuery {
    org: Option<String>,
    #[serde(default)]
    member: String,
}

#[derive(Deserialize)]
struct ResetForm {
    org: Option<String>,
    #[serde(default)]
    member: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

fn to(path: &str) -> Response {
    Redirect::to(path).into_response()
}

impl<S, M, R, D> Ui<S, M, R, D>
where
    S: Store + 'static,
    M: Mailer + 'static,
    R: Reauthenticate + 'static,
    D: Directory + 'static,
{
    async fn ctx(&self, session: &Session, lang: Lang) -> PageCtx {
        let csrf = super::csrf_token(session).await.ok().flatten();
        let user = match session::stage(session).await {
            Ok(Some(
                Stage::SignedIn { user, .. }
                | Stage::SecondStep { user, .. }
                | Stage::EnrollmentRequired { user, .. },
            )) => Some(user.email),
            _ => None,
        };
        PageCtx {
            lang,
            csrf: csrf.unwrap_or_default(),
            user,
        }
    }

    /// The whole document: the page in the application's layout, with the one-time message.
    async fn frame(&self, ctx: &PageCtx, title: &str, area: Area, body: Markup) -> Markup {
        (self.pages.layout)(Frame {
            title,
            lang: ctx.lang,
            area,
            user: ctx.user.as_deref(),
            csrf: &ctx.csrf,
            flash: None,
            head: html::head(&self.pages.paths),
            body,
        })
    }

    /// Renders a page for the session, taking its one-time message.
    async fn page(
        &self,
        session: &Session,
        lang: Lang,
        title: &str,
        area: Area,
        body: impl FnOnce(&Ctx<'_>) -> Markup,
    ) -> Response {
        let ctx = self.ctx(session, lang).await;
        let body = body(&ctx.as_ctx(&self.pages));
        let flash = take_flash(session).await.ok().flatten();
        (self.pages.layout)(Frame {
            title,
            lang,
            area,
            user: ctx.user.as_deref(),
            csrf: &ctx.csrf,
            flash,
            head: html::head(&self.pages.paths),
            body,
        })
        .into_response()
    }

    /// Redirects with a one-time message.
    async fn back(&self, session: &Session, ok: bool, text: String, path: &str) -> Response {
        if let Err(error) = super::flash(session, ok, text).await {
            return error.into_response();
        }
        to(path)
    }

    /// A refused step: a session at the wrong stage goes where it must; otherwise the
    /// message, and back to `path` (or to the sign-in page when the sign-in must start
    /// again).
    async fn fail(&self, session: &Session, lang: Lang, error: Error, path: &str) -> Response {
        let paths = &self.pages.paths;
        match error.code() {
            "not_signed_in" => return to(&paths.sign_in),
            "second_step_required" => return to(&paths.second_step),
            "enrollment_required" => return to(&format!("{}/enable", paths.account)),
            _ => {}
        }
        let text = text::error(lang, &error, crate::now());
        self.back(session, false, text, path).await
    }

    fn path(&self, tail: &str) -> String {
        format!("{}{tail}", self.pages.paths.account)
    }

    // ---------------------------------------------------------------------------------
    // The second step.

    async fn second_step_page(&self, session: Session, lang: Lang, recovery: bool) -> Response {
        match session::stage(&session).await {
            Ok(Some(Stage::SecondStep { .. })) => {}
            Ok(Some(Stage::SignedIn { .. })) => return to(&self.pages.paths.signed_in),
            Ok(Some(Stage::EnrollmentRequired { .. })) => return to(&self.path("/enable")),
            Ok(None) => return to(&self.pages.paths.sign_in),
            Err(error) => return error.into_response(),
        }
        let title = Text::of(lang).title_second_step;
        self.page(&session, lang, title, Area::SecondStep, |ctx| {
            html::second_step(ctx, recovery)
        })
        .await
    }

    async fn second_step(&self, session: Session, lang: Lang, code: &str) -> Response {
        let paths = &self.pages.paths;
        match self.twostep.verify_second_step(&session, code).await {
            Ok(SignInStep::SignedIn {
                recovery_codes_left: Some(left),
                ..
            }) => {
                let text = text::signed_in_with_recovery_code(lang, left.remaining, left.low);
                self.back(&session, !left.low, text, &paths.signed_in).await
            }
            Ok(_) => to(&paths.signed_in),
            Err(error) if error.restart() => self.fail(&session, lang, error, &paths.sign_in).await,
            Err(error) => self.fail(&session, lang, error, &paths.second_step).await,
        }
    }

    // ---------------------------------------------------------------------------------
    // The 2FA tab and the wizard.

    async fn status_page(&self, session: Session, lang: Lang, before: Option<u64>) -> Response {
        let shown = match self.twostep.status(&session).await {
            Ok(status) => match self.twostep.security_log(&session, before).await {
                Ok(log) => Ok((status, log)),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        match shown {
            Ok((status, log)) => {
                let t = Text::of(lang);
                let older = format!("{}?", self.pages.paths.account);
                self.page(&session, lang, t.title_status, Area::Account, |ctx| {
                    maud::html! {
                        (html::status(ctx, &status))
                        (html::security_log(ctx, t.log_heading, &log, &older))
                    }
                })
                .await
            }
            Err(error) => {
                let path = self.pages.paths.signed_in.clone();
                self.fail(&session, lang, error, &path).await
            }
        }
    }

    async fn wizard_page(&self, session: Session, lang: Lang) -> Response {
        match self.twostep.wizard(&session).await {
            Ok(view) => {
                let area = match view.required_by {
                    Some(_) => Area::Enrolling,
                    None => Area::Account,
                };
                let title = Text::of(lang).title_enable;
                self.page(&session, lang, title, area, |ctx| {
                    html::wizard(ctx, view.required_by.as_deref(), &view.step)
                })
                .await
            }
            Err(error) => {
                let path = self.path("");
                self.fail(&session, lang, error, &path).await
            }
        }
    }

    /// After a wizard step: back to the wizard, or where its refusal leads.
    async fn wizard_step<T>(
        &self,
        session: Session,
        lang: Lang,
        result: Result<T, Error>,
    ) -> Response {
        let wizard = self.path("/enable");
        match result {
            Ok(_) => to(&wizard),
            Err(error) => self.fail(&session, lang, error, &wizard).await,
        }
    }

    async fn finished(
        &self,
        session: Session,
        lang: Lang,
        result: Result<crate::Finished, Error>,
        refused_to: &str,
    ) -> Response {
        let t = Text::of(lang);
        let account = self.path("");
        let (text, path) = match result {
            Ok(finished) => match finished.done {
                Done::Enabled => (t.enabled, account),
                Done::EnableCancelled if !finished.signed_in => {
                    (t.enable_cancelled, self.path("/enable"))
                }
                Done::EnableCancelled => (t.enable_cancelled, account),
                Done::Reissued => (t.reissued, account),
                Done::ReissueCancelled => (t.reissue_cancelled, account),
                Done::Disabled => (t.disabled, account),
                Done::DisableCancelled => (t.disable_cancelled, account),
                Done::MandateSet => (t.mandate_set, self.pages.paths.org_security.clone()),
                Done::MandateCleared => (t.mandate_cleared, self.pages.paths.org_security.clone()),
                Done::MemberReset => (t.member_reset, self.pages.paths.org_security.clone()),
            },
            Err(error) if error.code() == "already_enabled" => {
                let mut text = t.already_on.to_owned();
                // A session the wizard held for a mandate was signed out: sign in again.
                let path = match session::stage(&session).await {
                    Ok(None) => {
                        text.push(' ');
                        text.push_str(t.sign_in_again);
                        self.pages.paths.sign_in.clone()
                    }
                    _ => account,
                };
                return self.back(&session, true, text, &path).await;
            }
            Err(error) => return self.fail(&session, lang, error, refused_to).await,
        };
        self.back(&session, true, text.to_owned(), &path).await
    }

    async fn download(&self, session: Session, lang: Lang) -> Response {
        let locale = match lang {
            Lang::En => twostep_recovery::Locale::En,
            Lang::Ko => twostep_recovery::Locale::Ko,
        };
        match self.twostep.recovery_codes_file(&session, locale).await {
            Ok(file) => json::attachment(file),
            Err(error) => {
                let path = self.path("");
                self.fail(&session, lang, error, &path).await
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Re-issue and disable.

    async fn reissue_page(&self, session: Session, lang: Lang) -> Response {
        match self.twostep.reissue(&session).await {
            Ok(view) => {
                let title = Text::of(lang).title_reissue;
                self.page(&session, lang, title, Area::Account, |ctx| {
                    html::reissue(ctx, &view)
                })
                .await
            }
            Err(error) => {
                let path = self.path("");
                self.fail(&session, lang, error, &path).await
            }
        }
    }

    async fn disable_page(&self, session: Session, lang: Lang) -> Response {
        match self.twostep.disable(&session).await {
            Ok(view) => {
                let title = Text::of(lang).title_disable;
                self.page(&session, lang, title, Area::Account, |ctx| {
                    html::disable(ctx, view)
                })
                .await
            }
            Err(error) => {
                let path = self.path("");
                self.fail(&session, lang, error, &path).await
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // An organisation's security settings.

    /// The organisation asked for, or the user's first.
    async fn org_of(&self, session: &Session, asked: Option<String>) -> Result<String, Error> {
        if let Some(org) = asked {
            return Ok(org);
        }
        let Some(account) = self.twostep.signed_in_account(session).await? else {
            return Err(Error::not_at(session::stage(session).await?.as_ref()));
        };
        let memberships = self.twostep.service().memberships(&account.user_id).await?;
        memberships
            .into_iter()
            .next()
            .map(|membership| membership.org_id)
            .ok_or_else(|| ServiceError::from(twostep_policy::Refusal::NotAMember).into())
    }

    /// The reset page of `member` in `org` (the user's first, if not named).
    async fn reset_page(&self, session: Session, lang: Lang, query: MemberQuery) -> Response {
        if self.pages.member_accounts.is_none() {
            return StatusCode::NOT_FOUND.into_response();
        }
        let org = match self.twostep.signed_in_account(&session).await {
            Ok(Some(_)) => self.org_of(&session, query.org).await,
            Ok(None) => Err(Error::not_at(
                session::stage(&session).await.ok().flatten().as_ref(),
            )),
            Err(error) => Err(error),
        };
        match org {
            Ok(org) => {
                let title = Text::of(lang).title_reset;
                self.page(&session, lang, title, Area::Org, |ctx| {
                    html::reset(ctx, &org, &query.member)
                })
                .await
            }
            Err(error) => {
                let path = self.pages.paths.org_security.clone();
                self.fail(&session, lang, error, &path).await
            }
        }
    }

    /// Resets the member's second factor, with the actor's password and code.
    async fn reset(&self, session: Session, lang: Lang, form: ResetForm) -> Response {
        let Some(find) = self.pages.member_accounts.clone() else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let paths = &self.pages.paths;
        let org = match self.org_of(&session, form.org).await {
            Ok(org) => org,
            Err(error) => return self.fail(&session, lang, error, &paths.org_security).await,
        };
        let result = match find(form.member.clone()).await {
            Some(member) => {
                let (password, code) = (&form.password, &form.code);
                self.twostep
                    .reset_member(&session, &org, &member, password, code)
                    .await
            }
            None => Err(ServiceError::from(twostep_policy::Refusal::NotAMember).into()),
        };
        // A refusal goes back to the form: the password and code are asked again.
        let path = format!("{}/reset?", paths.org_security);
        let query_at = path.len();
        let again = form_urlencoded::Serializer::for_suffix(path, query_at)
            .append_pair("org", &org)
            .append_pair("member", &form.member)
            .finish();
        self.finished(session, lang, result, &again).await
    }

    async fn org_page(
        &self,
        session: Session,
        lang: Lang,
        org: Option<String>,
        before: Option<u64>,
    ) -> Response {
        let view = match self.org_of(&session, org).await {
            Ok(org) => self.twostep.org_security(&session, &org).await,
            Err(error) => Err(error),
        };
        // The organisation's log, to those who manage its security.
        let log = match &view {
            Ok(view) if view.manages => {
                match self
                    .twostep
                    .org_security_log(&session, &view.org, before)
                    .await
                {
                    Ok(log) => Some(log),
                    Err(error) => {
                        let path = self.pages.paths.signed_in.clone();
                        return self.fail(&session, lang, error, &path).await;
                    }
                }
            }
            _ => None,
        };
        match view {
            Ok(view) => {
                let refused = (!view.manages).then(|| {
                    let error =
                        Error::from(ServiceError::from(twostep_policy::Refusal::NotOwnerOrAdmin));
                    text::error(lang, &error, crate::now())
                });
                let t = Text::of(lang);
                let older = format!("{}?org={}&", self.pages.paths.org_security, view.org);
                self.page(&session, lang, t.title_org_security, Area::Org, |ctx| {
                    maud::html! {
                        (html::org_security(ctx, &view, refused.as_deref()))
                        @if let Some(log) = &log {
                            (html::security_log(ctx, t.org_log_heading, log, &older))
                        }
                    }
                })
                .await
            }
            Err(error) => {
                let path = self.pages.paths.signed_in.clone();
                self.fail(&session, lang, error, &path).await
            }
        }
    }
}

impl<S, M, R, D> TwoStep<S, M, R, D>
where
    S: Store + 'static,
    M: Mailer + 'static,
    R: Reauthenticate + 'static,
    D: Directory + 'static,
{
    /// The pages, to [`merge`](Router::merge) into the application's router (inside its
    /// `SessionManagerLayer`), at the paths of `pages`:
    ///
    /// | path | page |
    /// | --- | --- |
    /// | second step (`/login/second-step`) | the code, or a recovery code (`?method=recovery`) |
    /// | account (`/account/2fa`) | the 2FA tab: status, enable, re-issue, disable, the user's security log |
    /// | `…/enable` | the wizard: email code, QR code and key, first code, recovery codes |
    /// | `…/reissue`, `…/disable` | re-issue and disable, each after the password |
    /// | org security (`/org/security`) | the requirement, a preview and the organisation's security log to who manages it |
    /// | `…/reset?member=` | an owner or admin resets a member's 2FA (with [`Pages::member_accounts`]) |
    /// | assets (`/assets/twostep`) | `twostep.css`, `twostep.js` |
    ///
    /// A page the session's stage may not see sends it where it must go (sign-in, second
    /// step, or the wizard an organisation requires).
    pub fn pages(&self, pages: Pages) -> Router {
        let paths = pages.paths.clone();
        let ui = Ui {
            twostep: self.clone(),
            pages: Arc::new(pages),
        };
        let account = |tail: &str| format!("{}{tail}", paths.account);
        type St<S, M, R, D> = State<Ui<S, M, R, D>>;
        Router::new()
            .route(
                &paths.second_step,
                get(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Query(q): Query<MethodQuery>| async move {
                        ui.second_step_page(session, lang, q.method.as_deref() == Some("recovery"))
                            .await
                    },
                )
                .post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<CodeForm>| async move {
                        ui.second_step(session, lang, &form.code).await
                    },
                ),
            )
            .route(
                &format!("{}/cancel", paths.second_step),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     Checked(Empty {}): Checked<Empty>| async move {
                        match ui.twostep.sign_out(&session).await {
                            Ok(()) => to(&ui.pages.paths.sign_in),
                            Err(error) => error.into_response(),
                        }
                    },
                ),
            )
            .route(
                &paths.account,
                get(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Query(q): Query<BeforeQuery>| async move {
                        ui.status_page(session, lang, q.before).await
                    },
                ),
            )
            .route(
                &account("/enable"),
                get(
                    |State(ui): St<S, M, R, D>, session: Session, lang: Lang| async move {
                        ui.wizard_page(session, lang).await
                    },
                ),
            )
            .route(
                &account("/enable/start"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(Empty {}): Checked<Empty>| async move {
                        let result = ui.twostep.start_enable(&session).await;
                        match result {
                            Err(error) if error.code() == "already_enabled" => {
                                ui.finished(session, lang, Err(error), "").await
                            }
                            result => ui.wizard_step(session, lang, result).await,
                        }
                    },
                ),
            )
            .route(
                &account("/enable/resend"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(Empty {}): Checked<Empty>| async move {
                        match ui.twostep.resend_email_code(&session).await {
                            Ok(_) => {
                                let text = Text::of(lang).code_sent_again.to_owned();
                                ui.back(&session, true, text, &ui.path("/enable")).await
                            }
                            result => ui.wizard_step(session, lang, result).await,
                        }
                    },
                ),
            )
            .route(
                &account("/enable/email-code"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<CodeForm>| async move {
                        let result = ui.twostep.verify_email_code(&session, &form.code).await;
                        ui.wizard_step(session, lang, result).await
                    },
                ),
            )
            .route(
                &account("/enable/authenticator"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<CodeForm>| async move {
                        let result = ui.twostep.confirm_authenticator(&session, &form.code).await;
                        ui.wizard_step(session, lang, result).await
                    },
                ),
            )
            .route(
                &account("/enable/done"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<SavedForm>| async move {
                        let result = ui
                            .twostep
                            .complete_enable(&session, form.saved.is_some())
                            .await;
                        let wizard = ui.path("/enable");
                        ui.finished(session, lang, result, &wizard).await
                    },
                ),
            )
            .route(
                &account("/enable/cancel"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(Empty {}): Checked<Empty>| async move {
                        let result = ui.twostep.cancel_enable(&session).await;
                        let wizard = ui.path("/enable");
                        ui.finished(session, lang, result, &wizard).await
                    },
                ),
            )
            .route(
                &account("/recovery-codes.txt"),
                get(
                    |State(ui): St<S, M, R, D>, session: Session, lang: Lang| async move {
                        ui.download(session, lang).await
                    },
                ),
            )
            .route(
                &account("/reissue"),
                get(
                    |State(ui): St<S, M, R, D>, session: Session, lang: Lang| async move {
                        ui.reissue_page(session, lang).await
                    },
                )
                .post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<PasswordForm>| async move {
                        let reissue = ui.path("/reissue");
                        match ui.twostep.start_reissue(&session, &form.password).await {
                            Ok(_) => to(&reissue),
                            Err(error) => ui.fail(&session, lang, error, &reissue).await,
                        }
                    },
                ),
            )
            .route(
                &account("/reissue/done"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<SavedForm>| async move {
                        let result = ui
                            .twostep
                            .complete_reissue(&session, form.saved.is_some())
                            .await;
                        let reissue = ui.path("/reissue");
                        ui.finished(session, lang, result, &reissue).await
                    },
                ),
            )
            .route(
                &account("/reissue/cancel"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(Empty {}): Checked<Empty>| async move {
                        let result = ui.twostep.cancel_reissue(&session).await;
                        let account = ui.path("");
                        ui.finished(session, lang, result, &account).await
                    },
                ),
            )
            .route(
                &account("/disable"),
                get(
                    |State(ui): St<S, M, R, D>, session: Session, lang: Lang| async move {
                        ui.disable_page(session, lang).await
                    },
                )
                .post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<PasswordForm>| async move {
                        match ui.twostep.start_disable(&session, &form.password).await {
                            Ok(_) => to(&ui.path("/disable")),
                            Err(error) => ui.fail(&session, lang, error, &ui.path("")).await,
                        }
                    },
                ),
            )
            .route(
                &account("/disable/confirm"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<CodeForm>| async move {
                        let result = ui.twostep.confirm_disable(&session, &form.code).await;
                        let back = match &result {
                            Err(error) if error.restart() => ui.path(""),
                            _ => ui.path("/disable"),
                        };
                        ui.finished(session, lang, result, &back).await
                    },
                ),
            )
            .route(
                &account("/disable/cancel"),
                post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(Empty {}): Checked<Empty>| async move {
                        let result = ui.twostep.cancel_disable(&session).await;
                        let account = ui.path("");
                        ui.finished(session, lang, result, &account).await
                    },
                ),
            )
            .route(
                &paths.org_security,
                get(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Query(q): Query<OrgQuery>| async move {
                        ui.org_page(session, lang, q.org, q.before).await
                    },
                )
                .post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<MandateForm>| async move {
                        let required = form.require == "on";
                        let result = match ui.org_of(&session, form.org).await {
                            Ok(org) => ui.twostep.set_org_mandate(&session, &org, required).await,
                            Err(error) => Err(error),
                        };
                        let back = ui.pages.paths.org_security.clone();
                        ui.finished(session, lang, result, &back).await
                    },
                ),
            )
            .route(
                &format!("{}/reset", paths.org_security),
                get(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Query(query): Query<MemberQuery>| async move {
                        ui.reset_page(session, lang, query).await
                    },
                )
                .post(
                    |State(ui): St<S, M, R, D>,
                     session: Session,
                     lang: Lang,
                     Checked(form): Checked<ResetForm>| async move {
                        ui.reset(session, lang, form).await
                    },
                ),
            )
            .route(
                &format!("{}/twostep.css", paths.assets),
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                        html::CSS,
                    )
                }),
            )
            .route(
                &format!("{}/twostep.js", paths.assets),
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                        html::JS,
                    )
                }),
            )
            .layer(axum::middleware::map_response(super::security_headers))
            .layer(axum::middleware::from_fn(crate::record_client))
            .with_state(ui)
    }
}
