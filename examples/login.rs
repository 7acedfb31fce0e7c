//! axum-login's SQLite example, with two-step verification added by twostep-axum.
//!
//! The app is the one axum-login ships as its SQLite example: a users table, an
//! `AuthnBackend` checking Argon2 password hashes, a sign-in form, a page behind
//! `login_required!`, sign-out, and sessions in SQLite through `tower-sessions-sqlx-store`
//! (templates inline with maud, to need no template files). **twostep adds 70 lines**, each
//! between a `// twostep ▼` and a `// twostep ▲` mark (the marks counted): its store and
//! service, the password check and mailer it asks of the app, the decision after the
//! password, and its pages with their guard. Then the signed-in page has a two-step
//! verification tab, the sign-in a second step, and the forms CSRF protection.
//!
//! ```text
//! cargo run --example login [-- --addr 127.0.0.1:3000]
//! ```
//!
//! Sign in as `ferris` with `hunter42`; mail (the wizard's email code) goes to the terminal.

use std::net::SocketAddr;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Router, middleware};
use axum_login::{AuthManagerLayerBuilder, AuthUser, AuthnBackend, UserId, login_required};
use maud::{Markup, html};
use serde::Deserialize;
use sqlx::SqlitePool;
use time::Duration;
use tower_sessions::{ExpiredDeletion as _, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;
// twostep ▼
use tower_sessions::Session;
use twostep::axum::TwoStep;
use twostep::axum::ui::{self, Lang, Pages};
use twostep::enrollment::{Account, Mail, Mailer, Reauthenticate, Service};
use twostep::store_sqlx::{AeadSealer, SealingKey, SqlStore};
// twostep ▲

#[derive(Clone, sqlx::FromRow)]
struct User {
    id: i64,
    username: String,
    password: String,
}

// Not derived: the password hash stays out of logs.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish()
    }
}

impl AuthUser for User {
    type Id = i64;
    fn id(&self) -> i64 {
        self.id
    }
    // A new password ends the user's sessions.
    fn session_auth_hash(&self) -> &[u8] {
        self.password.as_bytes()
    }
}

#[derive(Clone, Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Clone, Debug)]
struct Backend {
    db: SqlitePool,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    TaskJoin(#[from] tokio::task::JoinError),
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = Error;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, Error> {
        let user: Option<User> = sqlx::query_as("select * from users where username = ?")
            .bind(creds.username)
            .fetch_optional(&self.db)
            .await?;
        // Argon2 is slow on purpose: off the async workers.
        Ok(tokio::task::spawn_blocking(move || {
            user.filter(|user| {
                let hash = argon2::PasswordHash::new(&user.password);
                let argon2 = argon2::Argon2::default();
                hash.is_ok_and(|hash| {
                    argon2
                        .verify_password(creds.password.as_bytes(), &hash)
                        .is_ok()
                })
            })
        })
        .await?)
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Error> {
        Ok(sqlx::query_as("select * from users where id = ?")
            .bind(id)
            .fetch_optional(&self.db)
            .await?)
    }
}

type AuthSession = axum_login::AuthSession<Backend>;

// twostep ▼
// The password check before re-issuing recovery codes or disabling, and the mailer of the
// wizard's email code: the two things twostep asks of the app here.
impl Reauthenticate for Backend {
    type Error = Error;
    async fn verify_password(&self, user: &str, password: &str) -> Result<bool, Error> {
        let creds = Credentials {
            username: user.to_owned(),
            password: password.to_owned(),
        };
        Ok(self.authenticate(creds).await?.is_some())
    }
}

struct Terminal;

impl Mailer for Terminal {
    type Error = std::convert::Infallible;
    async fn send(&self, mail: Mail) -> Result<(), Self::Error> {
        if let Mail::EmailCode { to, code, .. } = mail {
            println!("mail to {to}: your code is {}", code.expose());
        }
        Ok(())
    }
}

type TwoFactor = TwoStep<SqlStore, Terminal, Backend>;
// twostep ▲

fn page(title: &str, body: Markup) -> Markup {
    html! { (maud::DOCTYPE) html { head { title { (title) } } body { h1 { (title) } (body) } } }
}

async fn login_page() -> Markup {
    page(
        "Sign in",
        html! {
            form method="post" action="/login" {
                input name="username" id="username" placeholder="username";
                input type="password" name="password" id="password" placeholder="password";
                button type="submit" id="submit" { "Sign in" }
            }
        },
    )
}

async fn login(
    mut auth_session: AuthSession,
    // twostep ▼
    session: Session,
    lang: Lang,
    axum::Extension(twostep): axum::Extension<TwoFactor>,
    // twostep ▲
    Form(creds): Form<Credentials>,
) -> Response {
    let user = match auth_session.authenticate(creds).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return (
                StatusCode::UNAUTHORIZED,
                page("Invalid credentials", html! {}),
            )
                .into_response();
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if auth_session.login(&user).await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    // twostep ▼
    // The password passed: signed in, or on to the second step (or the enable wizard).
    let account = Account {
        user_id: user.username.clone(),
        email: user.username,
    };
    match twostep.password_verified(&session, &account).await {
        Ok(step) => Pages::default().after_password(&session, lang, &step).await,
        Err(error) => error.into_response(),
    }
    // twostep ▲
}

async fn logout(mut auth_session: AuthSession, session: Session) -> Response {
    match auth_session.logout().await {
        Ok(_) => {
            let _ = session.flush().await;
            Redirect::to("/login").into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn protected(auth_session: AuthSession) -> Markup {
    let name = auth_session
        .user
        .map(|user| user.username)
        .unwrap_or_default();
    page(
        "Protected",
        html! {
            p id="welcome" { "Logged in as " (name) }
            // twostep ▼
            p { a href="/account/2fa" id="two-factor" { "Two-step verification" } }
            // twostep ▲
            p { a href="/logout" id="logout" { "Log out" } }
        },
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 3000));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--addr" {
            addr = args.next().ok_or("--addr needs a value")?.parse()?;
        }
    }
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("login.db").display()
    );
    let db = SqlitePool::connect(&url).await?;
    sqlx::query("create table users (id integer primary key, username text unique not null, password text not null)")
        .execute(&db)
        .await?;
    let hash = argon2::Argon2::default()
        .hash_password(b"hunter42")
        .map_err(|e| e.to_string())?;
    sqlx::query("insert into users (username, password) values ('ferris', ?)")
        .bind(hash.to_string())
        .execute(&db)
        .await?;

    let session_store = SqliteStore::new(db.clone());
    session_store.migrate().await?;
    let deletion = tokio::spawn(
        session_store
            .clone()
            .continuously_delete_expired(tokio::time::Duration::from_secs(60)),
    );
    let session_layer = SessionManagerLayer::new(session_store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(Duration::days(1)));
    let backend = Backend { db };

    // twostep ▼
    // Its tables beside the app's; TOTP secrets sealed under a key made for this run.
    let store = SqlStore::connect(&url).await?;
    store.migrate().await?;
    let sealer = AeadSealer::new(SealingKey::generate("run")?);
    let service = Service::builder(store, sealer)
        .mailer(Terminal)
        .reauthenticate(backend.clone());
    let twostep: TwoFactor = TwoStep::new(service.issuer("axum-login example").build());
    // twostep ▲

    let auth_layer = AuthManagerLayerBuilder::new(backend, session_layer).build();
    let app = Router::new()
        .route("/", get(protected))
        .route_layer(login_required!(Backend, login_url = "/login"))
        // twostep ▼
        .route_layer(Pages::default().require_signed_in(&twostep))
        .merge(twostep.pages(Pages::default()))
        // twostep ▲
        .route("/login", get(login_page).post(login))
        .route("/logout", get(logout))
        // twostep ▼
        .layer(axum::Extension(twostep))
        .layer(middleware::from_fn(ui::refuse_cross_site))
        .layer(middleware::map_response(ui::security_headers))
        // twostep ▲
        .layer(auth_layer);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "axum-login example with twostep on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    deletion.abort();
    Ok(())
}
