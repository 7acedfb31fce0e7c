//! Ready pages for every 2FA screen, in English and Korean (feature `ui`).
//!
//! [`TwoStep::pages`](crate::TwoStep::pages) mounts server-rendered pages for the second step at sign-in, the 2FA
//! tab, the enable wizard, re-issue, disable and an organisation's security settings. Every
//! form posts back and is answered with a redirect (post/redirect/get) and a one-time
//! message; every page comes wrapped in the application's layout ([`Pages::layout`]), so it
//! looks like the rest of the app. The texts come from one catalogue in two languages: the
//! request's `?lang=en|ko`, then the one chosen before in the session, then
//! `Accept-Language` ([`Lang`]).
//!
//! Every form carries the session's anti-CSRF token, compared in constant time, and a
//! cross-site `POST` (by `Sec-Fetch-Site`, or else `Origin` against `Host`) is refused before
//! that ([`refuse_cross_site`], which an application puts on its own forms too). No crate
//! fits the token here: the maintained ones keep it in a cookie set for every visitor, while
//! this one lives in the `tower-sessions` session the pages already need, is made at each
//! change of sign-in stage, and creates no session for a visitor. Every answer carries the
//! page headers ([`security_headers`]): a Content-Security-Policy of `'self'` (no inline
//! script or style), no framing, no sniffing, no referrer, no caching.

mod handlers;
mod html;
mod text;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use tower_sessions::Session;
use twostep_enrollment::{Account, Directory, Mailer, Reauthenticate, Store};

use crate::{Error, SignInStep};

pub use html::date;
pub use maud;

/// The language of the pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Korean (한국어), the language of the console twostep reproduces.
    Ko,
}

/// Where the session keeps the language chosen with `?lang=`.
const LANG: &str = "twostep.lang";

impl Lang {
    /// The language tag: `en` or `ko`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ko => "ko",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        // Whitespace may surround a tag, never split one: `ko\r_x` is no Korean.
        let primary = tag.trim().split(['-', '_']).next()?;
        if primary.eq_ignore_ascii_case("ko") {
            Some(Self::Ko)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else {
            None
        }
    }

    /// The first language of an `Accept-Language` header these pages speak, by preference.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut ranked: Vec<(u16, Self)> = header
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let lang = Self::from_tag(parts.next()?)?;
                let quality = parts
                    .find_map(|param| param.trim().strip_prefix("q="))
                    .map_or(Some(1000), quality)?;
                (quality > 0).then_some((quality, lang))
            })
            .collect();
        // Stable: of equal preference, the first listed.
        ranked.sort_by_key(|(quality, _)| std::cmp::Reverse(*quality));
        ranked.first().map(|(_, lang)| *lang)
    }
}

/// A q-value (`0`, `0.8`, `1.000`) in thousandths; `None` if it is not one.
fn quality(q: &str) -> Option<u16> {
    let (whole, fraction) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl<St: Send + Sync> FromRequestParts<St> for Lang {
    type Rejection = std::convert::Infallible;

    /// `?lang=` (remembered in the session if there is one), else the session's choice,
    /// else `Accept-Language`, else English.
    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<Session>().cloned();
        let asked = parts.uri.query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "lang")
                .and_then(|(_, value)| Self::from_tag(&value))
        });
        if let Some(lang) = asked {
            // Remembered only in a session that exists: a visitor's `?lang=` creates none.
            if let Some(session) = session.as_ref().filter(|session| session.id().is_some()) {
                let _ = session.insert(LANG, lang).await;
            }
            return Ok(lang);
        }
        if let Some(session) = &session
            && let Ok(Some(lang)) = session.get::<Self>(LANG).await
        {
            return Ok(lang);
        }
        Ok(parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .and_then(Self::from_accept_language)
            .unwrap_or_default())
    }
}

/// A one-time message for the next page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// Good news (`true`) or a refusal.
    pub ok: bool,
    /// The message, in the page's language.
    pub text: String,
}

const FLASH: &str = "twostep.flash";

/// Shows `text` on the next page of the session (the application's pages too, if their
/// layout shows [`Frame::flash`] or calls [`take_flash`]).
///
/// # Errors
/// The session store failed.
pub async fn flash(session: &Session, ok: bool, text: impl Into<String>) -> Result<(), Error> {
    let flash = Flash {
        ok,
        text: text.into(),
    };
    session.insert(FLASH, flash).await?;
    Ok(())
}

/// The session's one-time message, taken: it shows once.
///
/// # Errors
/// The session store failed.
pub async fn take_flash(session: &Session) -> Result<Option<Flash>, Error> {
    Ok(session.remove::<Flash>(FLASH).await.ok().flatten())
}

const CSRF: &str = "twostep.csrf";

/// A new anti-CSRF token for the session: at each change of sign-in stage.
pub(crate) async fn issue_csrf(session: &Session) -> Result<(), Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| Error::internal())?;
    let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    session.insert(CSRF, token).await?;
    Ok(())
}

/// The session's anti-CSRF token, for an application's own forms on signed-in pages (a
/// hidden `csrf` field). `None` for a session not signed in at all: a visitor's form is
/// guarded by [`refuse_cross_site`] instead.
///
/// # Errors
/// The session store failed.
pub async fn csrf_token(session: &Session) -> Result<Option<String>, Error> {
    Ok(session.get::<String>(CSRF).await?)
}

/// Whether `sent` is the session's token (in constant time).
pub async fn csrf_matches(session: &Session, sent: &str) -> bool {
    match csrf_token(session).await {
        Ok(Some(expected)) => bool::from(expected.as_bytes().ct_eq(sent.as_bytes())),
        _ => false,
    }
}

/// Whether a request that changes something came from another site: `Sec-Fetch-Site`
/// where the browser sends it, else `Origin` against `Host`. Requests with neither (not from
/// a browser) pass.
fn cross_site(request: &Request) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or_default();
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            origin_host.as_bytes() != host.as_bytes()
        }
        (Some(_), None) => true,
        _ => false,
    }
}

/// Middleware refusing a cross-site `POST` (or other unsafe method) with `403`: put it on the
/// application's own forms, the visitor's sign-in and sign-up among them, with
/// `axum::middleware::from_fn(refuse_cross_site)`.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if cross_site(&request) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(request).await
}

/// The headers every page and asset carries; for the application's routes with
/// `axum::middleware::map_response(security_headers)`. A header the handler set stays.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
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
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// Which screen a page is, for the application's navigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Area {
    /// The second step at sign-in: the user is not signed in yet.
    SecondStep,
    /// The enable wizard while an organisation requires it: nothing else is reachable.
    Enrolling,
    /// The 2FA tab, the wizard, re-issue and disable.
    Account,
    /// An organisation's security settings.
    Org,
    /// A refused form.
    Refused,
}

/// What the application's layout wraps around a page.
#[derive(Debug)]
#[non_exhaustive]
pub struct Frame<'a> {
    /// The page's title, for `<title>` and a heading.
    pub title: &'a str,
    /// The page's language, for `<html lang>`.
    pub lang: Lang,
    /// Which screen it is.
    pub area: Area,
    /// The email of the session's user, signed in or on the way.
    pub user: Option<&'a str>,
    /// The session's anti-CSRF token, for the layout's own forms (sign-out).
    pub csrf: &'a str,
    /// The one-time message to show.
    pub flash: Option<Flash>,
    /// The stylesheet and script links for `<head>`.
    pub head: maud::Markup,
    /// The page.
    pub body: maud::Markup,
}

/// Where the pages are and what wraps them. Paths are absolute; the defaults suit an app
/// that signs in at `/login`, has its home at `/` and keeps account settings under
/// `/account`.
#[derive(Clone)]
pub struct Pages {
    paths: Paths,
    layout: Arc<dyn Fn(Frame<'_>) -> maud::Markup + Send + Sync>,
    pub(crate) member_accounts: Option<MemberAccounts>,
}

/// The application's lookup of a member's account by user id.
pub(crate) type MemberAccounts = Arc<
    dyn Fn(String) -> core::pin::Pin<Box<dyn Future<Output = Option<Account>> + Send>>
        + Send
        + Sync,
>;

/// The paths of the pages and of the application's pages they lead to.
#[derive(Clone, Debug)]
pub(crate) struct Paths {
    pub(crate) account: String,
    pub(crate) second_step: String,
    pub(crate) org_security: String,
    pub(crate) sign_in: String,
    pub(crate) signed_in: String,
    pub(crate) assets: String,
}

impl Default for Pages {
    fn default() -> Self {
        Self {
            paths: Paths {
                account: "/account/2fa".to_owned(),
                second_step: "/login/second-step".to_owned(),
                org_security: "/org/security".to_owned(),
                sign_in: "/login".to_owned(),
                signed_in: "/".to_owned(),
                assets: "/assets/twostep".to_owned(),
            },
            layout: Arc::new(html::default_layout),
            member_accounts: None,
        }
    }
}

impl core::fmt::Debug for Pages {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pages")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl Pages {
    /// The 2FA tab (default `/account/2fa`); the wizard is under it at `/enable`,
    /// re-issue at `/reissue`, disable at `/disable`.
    pub fn account(mut self, path: impl Into<String>) -> Self {
        self.paths.account = path.into();
        self
    }

    /// The second step at sign-in (default `/login/second-step`).
    pub fn second_step(mut self, path: impl Into<String>) -> Self {
        self.paths.second_step = path.into();
        self
    }

    /// An organisation's security settings (default `/org/security`; `?org=` picks one of
    /// several).
    pub fn org_security(mut self, path: impl Into<String>) -> Self {
        self.paths.org_security = path.into();
        self
    }

    /// The application's sign-in page, where a sign-in that must start again goes (default
    /// `/login`).
    pub fn sign_in(mut self, path: impl Into<String>) -> Self {
        self.paths.sign_in = path.into();
        self
    }

    /// Where a completed sign-in goes (default `/`).
    pub fn signed_in(mut self, path: impl Into<String>) -> Self {
        self.paths.signed_in = path.into();
        self
    }

    /// Where the stylesheet and script are served (default `/assets/twostep`).
    pub fn assets(mut self, path: impl Into<String>) -> Self {
        self.paths.assets = path.into();
        self
    }

    /// The application's layout around every page: a function of the [`Frame`] to the whole
    /// document. Put [`Frame::head`] in `<head>` and [`Frame::body`] where the page goes.
    pub fn layout(
        mut self,
        layout: impl Fn(Frame<'_>) -> maud::Markup + Send + Sync + 'static,
    ) -> Self {
        self.layout = Arc::new(layout);
        self
    }

    /// The guard for the application's signed-in routes ([`TwoStep::require_signed_in`]),
    /// sending the others to these pages: the sign-in page, the second step, or the wizard an
    /// organisation requires.
    ///
    /// [`TwoStep::require_signed_in`]: crate::TwoStep::require_signed_in
    pub fn require_signed_in<S, M, R, D>(
        &self,
        twostep: &crate::TwoStep<S, M, R, D>,
    ) -> crate::RequireSignedIn
    where
        S: Store + 'static,
        M: Mailer + 'static,
        R: Reauthenticate + 'static,
        D: Directory + 'static,
    {
        twostep.require_signed_in().redirect(crate::Redirects {
            sign_in: self.paths.sign_in.clone(),
            second_step: self.paths.second_step.clone(),
            enroll: format!("{}/enable", self.paths.account),
        })
    }

    /// How the reset page finds a member's account — the email the notice goes to — from their
    /// user id: the application's own lookup (`None` for an unknown id). Without it, the
    /// reset page is not served (`404`); the application can still call
    /// [`TwoStep::reset_member`](crate::TwoStep::reset_member) itself.
    pub fn member_accounts<F, Fut>(mut self, find: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Account>> + Send + 'static,
    {
        self.member_accounts = Some(Arc::new(move |user| Box::pin(find(user))));
        self
    }

    /// The stylesheet and script links, for the `<head>` of the application's own pages.
    pub fn head(&self) -> maud::Markup {
        html::head(&self.paths)
    }

    /// The answer to the application's sign-in form once [`TwoStep::password_verified`]
    /// said where the sign-in stands: a redirect to the second step, to the wizard an
    /// organisation requires, or to the signed-in home (with an organisation's upcoming
    /// requirement as the next page's message).
    ///
    /// [`TwoStep::password_verified`]: crate::TwoStep::password_verified
    pub async fn after_password(
        &self,
        session: &Session,
        lang: Lang,
        step: &SignInStep,
    ) -> Response {
        let path = match step {
            SignInStep::SecondStep => &self.paths.second_step,
            SignInStep::EnrollmentRequired { .. } => {
                return Redirect::to(&format!("{}/enable", self.paths.account)).into_response();
            }
            SignInStep::SignedIn { reminder, .. } => {
                if let Some(reminder) = reminder {
                    let deadline = html::date(reminder.deadline);
                    let text = text::reminder(lang, &reminder.org, &deadline);
                    if let Err(error) = flash(session, false, text).await {
                        return error.into_response();
                    }
                }
                &self.paths.signed_in
            }
        };
        Redirect::to(path).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn accept_language_by_preference() {
        let cases = [
            ("ko-KR,ko;q=0.9,en;q=0.8", Some(Lang::Ko)),
            ("en;q=0.5, ko;q=0.8", Some(Lang::Ko)),
            ("ko;q=0, en", Some(Lang::En)),
            (" ko_KR ", Some(Lang::Ko)),
            ("fr, de", None),
            // Found by the fuzz target: whitespace inside a tag.
            ("ko\r_\0\0\0", None),
            ("ko \t-KR", None),
        ];
        for (header, lang) in cases {
            assert_eq!(Lang::from_accept_language(header), lang, "{header:?}");
        }
    }
}
