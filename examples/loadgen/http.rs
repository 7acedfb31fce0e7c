//! HTTP/1.1 to the console over loopback (hyper-util's pooled client), and the console's
//! sign-in forms as a browser fills them: the session cookie, the anti-CSRF token of the
//! second-step form, the redirects that say how a step went, and the message a refused step
//! leaves on the next page.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::report::{Kind, OK, Recorder};

/// An answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// The `Location` header, or empty.
    pub(crate) location: String,
    /// The session cookie the answer set (`id=…`), if it set one.
    pub(crate) cookie: Option<String>,
    pub(crate) body: Bytes,
}

impl Reply {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> Option<String> {
        let text = self.text();
        let needle = "name=\"csrf\" value=\"";
        let at = text.find(needle)? + needle.len();
        let rest = text.get(at..)?;
        Some(rest.split('"').next()?.to_owned())
    }

    /// The text of the page's one-time message (`id="flash"`), if it shows one.
    fn flash(&self) -> Option<String> {
        let text = self.text();
        let at = text.find("id=\"flash\"")?;
        let rest = text.get(at..)?;
        let start = rest.find('>')? + 1;
        let rest = rest.get(start..)?;
        let end = rest.find('<')?;
        Some(rest.get(..end)?.trim().to_owned())
    }

    /// A short label for an answer that was not the expected one.
    fn label(&self) -> String {
        match self.status {
            300..=399 => format!("{} to {}", self.status, self.location),
            _ => {
                let text = self.text();
                // The JSON error of twostep-axum, or the console's message.
                let detail = error_code(&text)
                    .map(|code| format!("{{\"error\":\"{code}\"}}"))
                    .or_else(|| self.flash())
                    .unwrap_or_else(|| {
                        if text.trim().is_empty() {
                            "(empty body)".to_owned()
                        } else {
                            let start: String = text.chars().take(60).collect();
                            format!("({:?}…)", start.trim())
                        }
                    });
                format!("HTTP {} {detail}", self.status)
            }
        }
    }
}

/// `"error":"…"` of a twostep-axum JSON error.
fn error_code(text: &str) -> Option<String> {
    let at = text.find("\"error\":\"")? + "\"error\":\"".len();
    Some(text.get(at..)?.split('"').next()?.to_owned())
}

/// Why no answer came.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Failure {
    /// None within the client's bound: a hang.
    Timeout,
    /// The connection failed (refused, reset, closed early).
    Connection,
}

impl Failure {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Timeout => "no answer within the client's timeout",
            Self::Connection => "connection failed",
        }
    }
}

/// The pooled client, and the console it talks to (which a restart moves to another port).
#[derive(Debug)]
pub(crate) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    base: RwLock<Arc<str>>,
}

impl Http {
    pub(crate) fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            client,
            timeout,
            base: RwLock::new(Arc::from("")),
        }
    }

    /// A client of its own on the same console: its connections close when it is dropped,
    /// as a crowd's would when it goes away.
    pub(crate) fn apart(&self) -> Self {
        let http = Self::new(self.timeout);
        http.set_base(&self.base());
        http
    }

    /// The console's address from now on (`http://127.0.0.1:PORT`).
    pub(crate) fn set_base(&self, base: &str) {
        *self.base.write().unwrap_or_else(PoisonError::into_inner) = Arc::from(base);
    }

    fn base(&self) -> Arc<str> {
        Arc::clone(&self.base.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// One request: a `GET`, or a form `POST` as a same-origin browser sends it.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form: Option<&[(&str, &str)]>,
    ) -> Result<Reply, Failure> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base()));
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let body = match form {
            Some(fields) => {
                request = request
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header("sec-fetch-site", "same-origin");
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish()
            }
            None => String::new(),
        };
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| Failure::Connection)?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|_| Failure::Connection)?;
            let (parts, body) = response.into_parts();
            let text = |name| {
                parts
                    .headers
                    .get_all(name)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            };
            let location = text(header::LOCATION)
                .into_iter()
                .next()
                .unwrap_or_default();
            let cookie = text(header::SET_COOKIE)
                .into_iter()
                .filter(|value| !value.contains("Max-Age=0"))
                .find_map(|value| value.split(';').next().map(str::to_owned));
            let body = body
                .collect()
                .await
                .map_err(|_| Failure::Connection)?
                .to_bytes();
            Ok(Reply {
                status: parts.status.as_u16(),
                location,
                cookie,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }
}

/// A session held at the second step: its cookie and the form's token.
#[derive(Clone, Debug)]
pub(crate) struct AtSecondStep {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

/// How a second step went.
#[derive(Debug)]
pub(crate) enum Submitted {
    /// Signed in (`303` to `/account`).
    SignedIn,
    /// Refused, cleanly: back to the form (`again`), or to the sign-in page; with the
    /// page's message when it was asked for.
    Refused { again: bool, reason: String },
    /// No clean answer (a server error, a hang, a broken connection): whether the code was
    /// used is not known.
    Failed(String),
}

/// The console's forms over [`Http`], each request recorded.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub(crate) http: Arc<Http>,
    pub(crate) rec: Arc<Recorder>,
    /// Set when the clients using this context are told to stop.
    pub(crate) stop: Arc<AtomicBool>,
}

/// The password every seeded user has.
pub(crate) const PASSWORD: &str = "load-test password";

impl Ctx {
    /// Sends and records one request; `expected` says whether the answer is the one hoped
    /// for.
    async fn request(
        &self,
        kind: Kind,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form: Option<&[(&str, &str)]>,
        expected: impl Fn(&Reply) -> bool,
    ) -> Result<Reply, String> {
        let started = Instant::now();
        match self.http.send(method, path, cookie, form).await {
            Ok(reply) if expected(&reply) => {
                self.rec.record(kind, started, OK);
                Ok(reply)
            }
            Ok(reply) => {
                let label = reply.label();
                self.rec.record(kind, started, label.clone());
                Err(label)
            }
            Err(failure) => {
                self.rec.record(kind, started, failure.label());
                Err(failure.label().to_owned())
            }
        }
    }

    /// Email and password, then the second-step form: a session waiting for the code.
    pub(crate) async fn begin(&self, email: &str) -> Result<AtSecondStep, String> {
        let form = [("email", email), ("password", PASSWORD)];
        let signed = self
            .request(
                Kind::Password,
                Method::POST,
                "/login",
                None,
                Some(&form),
                |reply| reply.status == 303 && reply.location == "/login/second-step",
            )
            .await?;
        let cookie = signed
            .cookie
            .ok_or("no session cookie after the password")?;
        let page = self
            .request(
                Kind::Page,
                Method::GET,
                "/login/second-step",
                Some(&cookie),
                None,
                |reply| reply.status == 200 && reply.csrf().is_some(),
            )
            .await?;
        let csrf = page.csrf().ok_or("no token on the second-step form")?;
        Ok(AtSecondStep { cookie, csrf })
    }

    /// Email and password of a user without 2FA, recorded as `kind`: the signed-in cookie.
    pub(crate) async fn sign_in_directly(&self, kind: Kind, email: &str) -> Result<String, String> {
        let form = [("email", email), ("password", PASSWORD)];
        let reply = self
            .request(kind, Method::POST, "/login", None, Some(&form), |reply| {
                reply.status == 303 && reply.location == "/account"
            })
            .await?;
        reply.cookie.ok_or_else(|| "no session cookie".to_owned())
    }

    /// A signed-in page, recorded as `kind`: its size in bytes.
    pub(crate) async fn page(&self, kind: Kind, path: &str, cookie: &str) -> Result<usize, String> {
        let reply = self
            .request(kind, Method::GET, path, Some(cookie), None, |reply| {
                reply.status == 200
            })
            .await?;
        Ok(reply.body.len())
    }

    /// Sends `code` on the second-step form, recorded as `kind`. A refusal is recorded as
    /// [`OK`] when `refusal_expected` (a wrong guess), else with the page's message when
    /// `explain` (one more request).
    pub(crate) async fn submit(
        &self,
        session: &AtSecondStep,
        code: &str,
        kind: Kind,
        refusal_expected: bool,
        explain: bool,
    ) -> Submitted {
        let form = [("csrf", session.csrf.as_str()), ("code", code)];
        let started = Instant::now();
        let answer = self
            .http
            .send(
                Method::POST,
                "/login/second-step",
                Some(&session.cookie),
                Some(&form),
            )
            .await;
        let reply = match answer {
            Ok(reply) => reply,
            Err(failure) => {
                self.rec.record(kind, started, failure.label());
                return Submitted::Failed(failure.label().to_owned());
            }
        };
        let again = match (reply.status, reply.location.as_str()) {
            (303, "/account") => {
                let label = if refusal_expected {
                    "signed in with a wrong code"
                } else {
                    OK
                };
                self.rec.record(kind, started, label);
                return Submitted::SignedIn;
            }
            (303, "/login/second-step") => true,
            (303, "/login") => false,
            _ => {
                let label = reply.label();
                self.rec.record(kind, started, label.clone());
                return Submitted::Failed(label);
            }
        };
        let latency_end = Instant::now();
        let mut reason = String::new();
        if explain && !refusal_expected {
            // The refusal's message, on the page the redirect leads to (not timed).
            let cookie = reply.cookie.as_deref().unwrap_or(&session.cookie);
            if let Ok(page) = self
                .http
                .send(Method::GET, &reply.location, Some(cookie), None)
                .await
            {
                reason = page.flash().unwrap_or_default();
            }
        }
        let label = if refusal_expected {
            OK.to_owned()
        } else if reason.is_empty() {
            format!("refused ({})", reply.location)
        } else {
            format!("refused: {reason}")
        };
        // The latency is the POST's alone.
        let latency = latency_end.saturating_duration_since(started);
        self.rec.record_latency(kind, started, latency, label);
        Submitted::Refused { again, reason }
    }

    /// The floor route: `user`'s row read and its step moved to `step`.
    pub(crate) async fn floor(&self, user: &str, step: u64) -> bool {
        let step = step.to_string();
        let form = [("user", user), ("step", step.as_str())];
        self.request(
            Kind::Floor,
            Method::POST,
            "/load-floor",
            None,
            Some(&form),
            |reply| reply.status == 303 && reply.location == "/account",
        )
        .await
        .is_ok()
    }
}
