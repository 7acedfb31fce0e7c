//! A small app on twostep-axum, a session store the tests can look into, and an HTTP client
//! with a cookie jar.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Session, SessionManagerLayer};
use twostep_axum::{SignedIn, TwoStep};
use twostep_enrollment::memory::{
    FixedPasswords, MemoryDirectory, MemoryStore, PlaintextSealer, RecordingMailer, SettableClock,
};
use twostep_enrollment::{Account, Clock as _, Policies, Service, StateKey};
use twostep_otp::{KeyUri, Totp};
use twostep_policy::{Membership, Role};

pub const T0: u64 = 1_764_288_000;
pub const PASSWORD: &str = "correct horse";

pub type Wired =
    TwoStep<Arc<MemoryStore>, Arc<RecordingMailer>, FixedPasswords, Arc<MemoryDirectory>>;

/// A session store whose records the tests can count and edit, as an attacker with the
/// database could.
#[derive(Clone, Debug, Default)]
pub struct Sessions(Arc<Mutex<HashMap<Id, Record>>>);

impl Sessions {
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The value under `key` in the session `cookie` names.
    pub fn get(&self, cookie: &str, key: &str) -> Option<Value> {
        let id: Id = cookie.split_once('=')?.1.parse().ok()?;
        self.0.lock().unwrap().get(&id)?.data.get(key).cloned()
    }

    /// Sets `key` in the session `cookie` names.
    pub fn set(&self, cookie: &str, key: &str, value: Value) {
        let id: Id = cookie.split_once('=').unwrap().1.parse().unwrap();
        let mut sessions = self.0.lock().unwrap();
        let record = sessions.get_mut(&id).unwrap();
        record.data.insert(key.to_owned(), value);
    }
}

#[async_trait::async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut sessions = self.0.lock().unwrap();
        while sessions.contains_key(&record.id) {
            record.id = Id::default();
        }
        sessions.insert(record.id, record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0.lock().unwrap().insert(record.id, record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.lock().unwrap().remove(id);
        Ok(())
    }
}

/// Two servers of one deployment: the same twostep store, state key and session store.
pub struct World {
    pub a: Router,
    pub b: Router,
    pub twostep: Wired,
    pub sessions: Sessions,
    pub clock: Arc<SettableClock>,
    pub mailer: Arc<RecordingMailer>,
    pub directory: Arc<MemoryDirectory>,
}

pub fn account(user: &str) -> Account {
    Account {
        user_id: user.to_owned(),
        email: format!("{user}@example.com"),
    }
}

impl World {
    pub fn new() -> Self {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(SettableClock::at(T0));
        let mailer = Arc::new(RecordingMailer::default());
        let directory = Arc::new(MemoryDirectory::default());
        let sessions = Sessions::default();
        let key = [9u8; 32];
        let server = || {
            let mut policies = Policies::new("Acme");
            // Argon2id at its minimal costs, to keep tests fast.
            policies.recovery_hash = twostep_recovery::HashParams::new(8, 1, 1).unwrap();
            let passwords = ["alice", "bob", "mallory"]
                .into_iter()
                .fold(FixedPasswords::default(), |p, user| p.with(user, PASSWORD));
            let service = Service::builder(Arc::clone(&store), PlaintextSealer)
                .mailer(Arc::clone(&mailer))
                .reauthenticate(passwords)
                .directory(Arc::clone(&directory))
                .clock(Arc::clone(&clock))
                .policies(policies)
                .state_key(StateKey::from_bytes(key))
                .build();
            TwoStep::new(service)
        };
        let twostep = server();
        Self {
            a: app(twostep.clone(), sessions.clone()),
            b: app(server(), sessions.clone()),
            twostep,
            sessions,
            clock,
            mailer,
            directory,
        }
    }

    /// [`World::new`] with an organisation, "acme": bob owns it, alice is a member.
    pub fn acme() -> Self {
        let world = Self::new();
        world
            .directory
            .join(Membership::new("acme", "bob", Role::Owner, 0));
        world
            .directory
            .join(Membership::new("acme", "alice", Role::Member, 0));
        world
    }

    pub fn client(&self) -> Client {
        Client {
            app: self.a.clone(),
            cookie: None,
        }
    }

    /// The current code of `totp`, half a minute on (a code is accepted once).
    pub fn next_code(&self, totp: &Totp) -> String {
        self.clock.advance(30);
        totp.generate(self.clock.now()).unwrap().to_string()
    }

    /// Signs `user` in (password only) and runs the whole wizard over JSON; returns the client,
    /// the authenticator and the recovery codes.
    pub async fn enabled(&self, user: &str) -> (Client, Totp, Vec<String>) {
        let mut client = self.client();
        let signed_in = client.sign_in(user).await;
        assert_eq!(signed_in.json["next"], "signed_in", "{signed_in:?}");
        let (totp, codes) = self.enable(&mut client, user).await;
        (client, totp, codes)
    }

    /// The wizard over JSON up to the QR code: its answer, with the key.
    pub async fn to_setup(&self, client: &mut Client, user: &str) -> Answer {
        let started = client.post("/2fa/enable/start", json!({})).await;
        assert_eq!(started.json["step"], "email_code", "{started:?}");
        let code = self.mailer.last_email_code(&account(user).email).unwrap();
        let setup = client
            .post("/2fa/enable/email-code", json!({ "code": code.expose() }))
            .await;
        assert_eq!(setup.json["step"], "authenticator", "{setup:?}");
        setup
    }

    /// The wizard over JSON up to the recovery codes: the authenticator, and the answer
    /// showing the codes.
    pub async fn to_codes(&self, client: &mut Client, user: &str) -> (Totp, Answer) {
        let setup = self.to_setup(client, user).await;
        let uri = setup.json["otpauth_uri"].as_str().unwrap();
        let totp = KeyUri::parse(uri).unwrap().to_totp().unwrap();
        let first = self.next_code(&totp);
        let shown = client
            .post("/2fa/enable/authenticator", json!({ "code": first }))
            .await;
        assert_eq!(shown.json["step"], "recovery_codes", "{shown:?}");
        (totp, shown)
    }

    pub async fn enable(&self, client: &mut Client, user: &str) -> (Totp, Vec<String>) {
        let (totp, shown) = self.to_codes(client, user).await;
        let codes = shown.json["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap().to_owned())
            .collect();
        let done = client
            .post("/2fa/enable/done", json!({ "saved": true }))
            .await;
        assert_eq!(done.json["done"], "enabled", "{done:?}");
        (totp, codes)
    }
}

/// The application around twostep: its own sign-in (the first factor), a page only the
/// fully signed-in reach, and twostep's JSON routes.
fn app(twostep: Wired, sessions: Sessions) -> Router {
    let sign_in = {
        let twostep = twostep.clone();
        post(
            move |session: Session, Json(body): Json<Value>| async move {
                let user = body["user"].as_str().unwrap_or_default().to_owned();
                if body["password"] != PASSWORD {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                twostep
                    .password_verified(&session, &account(&user))
                    .await
                    .map(Json)
                    .into_response()
            },
        )
    };
    let router =
        Router::new()
            .route(
                "/me",
                get(|SignedIn(account): SignedIn| async move {
                    Json(json!({ "email": account.email }))
                }),
            )
            // A page that trusts the guard alone.
            .route(
                "/dashboard",
                get(|| async { Json(json!({ "page": "dashboard" })) }),
            )
            .route_layer(twostep.require_signed_in())
            .route("/sign-in", sign_in)
            // The application's own use of a visitor's session (a cart, a language).
            .route(
                "/visit",
                post(|session: Session| async move {
                    session.insert("app.visited", true).await.unwrap();
                }),
            )
            .nest("/2fa", twostep.json_router());
    #[cfg(feature = "ui")]
    let router = router.merge(
        twostep.pages(
            twostep_axum::ui::Pages::default()
                .member_accounts(|user| async move { Some(account(&user)) }),
        ),
    );
    router.layer(SessionManagerLayer::new(sessions).with_secure(false))
}

/// An answer: status, JSON body (or `Null`), and whether it set a cookie.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub json: Value,
    pub text: String,
    pub set_cookie: Option<String>,
    pub headers: axum::http::HeaderMap,
}

/// A browser: one cookie jar against one server (switch with [`Client::on`]).
#[derive(Clone)]
pub struct Client {
    pub app: Router,
    pub cookie: Option<String>,
}

impl Answer {
    /// Where a redirect goes.
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .map(|value| value.to_str().unwrap())
    }

    /// The anti-CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let needle = "name=\"csrf\" value=\"";
        let at = self.text.find(needle).expect("a form") + needle.len();
        self.text[at..].split('"').next().unwrap().to_owned()
    }
}

impl Client {
    /// The same cookie jar against another server.
    pub fn on(&self, app: &Router) -> Self {
        Self {
            app: app.clone(),
            cookie: self.cookie.clone(),
        }
    }

    pub async fn sign_in(&mut self, user: &str) -> Answer {
        self.post("/sign-in", json!({ "user": user, "password": PASSWORD }))
            .await
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Answer {
        self.json("POST", path, body).await
    }

    /// A form as a browser on this site posts it, with the page's anti-CSRF token.
    pub async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    pub async fn json(&mut self, method: &str, path: &str, body: Value) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    pub async fn send(&mut self, mut request: Request<Body>) -> Answer {
        if let Some(cookie) = &self.cookie {
            request
                .headers_mut()
                .insert(header::COOKIE, cookie.parse().unwrap());
        }
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let set_cookie = headers
            .get(header::SET_COOKIE)
            .map(|value| value.to_str().unwrap().to_owned());
        if let Some(set) = &set_cookie {
            let pair = set.split(';').next().unwrap().trim().to_owned();
            self.cookie = if set.contains("Max-Age=0") {
                None
            } else {
                Some(pair)
            };
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            json,
            text,
            set_cookie,
            headers,
        }
    }
}
