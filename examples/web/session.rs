//! Server-side sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie, everything
//! else in this process's memory.
//!
//! The pending states of the flows (the wizard's new key, the recovery codes on screen, a
//! login challenge) are secrets, so they stay here and never travel in a cookie or a form.
//! An application running several servers would keep them, sealed (`Service::seal`), in a
//! shared store instead. Sessions end after [`IDLE_TIMEOUT`] without a request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngExt as _;
use twostep::enrollment::ConfirmWithCode;
use twostep::enrollment::LoginChallenge;
use twostep::enrollment::PendingEnable;
use twostep::enrollment::SaveNewCodes;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "twostep_session";
/// How long an unused session lives.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Who the session belongs to, and how far they have signed in.
#[derive(Debug)]
pub(crate) enum Auth {
    /// Nobody yet.
    Visitor,
    /// The password was right; the second step is pending. Only the second-step page is
    /// reachable.
    SecondStep {
        email: String,
        challenge: LoginChallenge,
    },
    /// The password was right, and an organisation requires 2FA now: only the enable
    /// wizard is reachable until it is done.
    MustEnrol { email: String, org: String },
    /// Fully signed in.
    SignedIn { email: String },
}

impl Auth {
    /// The signed-in (or half signed-in) user.
    pub(crate) fn email(&self) -> Option<&str> {
        match self {
            Self::Visitor => None,
            Self::SecondStep { email, .. }
            | Self::MustEnrol { email, .. }
            | Self::SignedIn { email } => Some(email),
        }
    }
}

/// A message shown once, on the next page.
#[derive(Clone, Debug)]
pub(crate) struct Flash {
    pub ok: bool,
    pub text: String,
}

/// One browser's session.
#[derive(Debug)]
pub(crate) struct Session {
    /// The anti-CSRF token every form carries back.
    pub csrf: String,
    pub auth: Auth,
    /// The enable wizard, while it runs.
    pub enable: Option<PendingEnable>,
    /// New recovery codes on screen, waiting for "Done".
    pub reissue: Option<SaveNewCodes>,
    /// A disable waiting for its code.
    pub disable: Option<ConfirmWithCode>,
    pub flash: Option<Flash>,
    last_seen: Instant,
}

impl Session {
    fn new(auth: Auth) -> Self {
        Self {
            csrf: random_token(),
            auth,
            enable: None,
            reissue: None,
            disable: None,
            flash: None,
            last_seen: Instant::now(),
        }
    }

    /// Shows `text` on the next page.
    pub(crate) fn flash(&mut self, ok: bool, text: impl Into<String>) {
        self.flash = Some(Flash {
            ok,
            text: text.into(),
        });
    }
}

/// All sessions of this process.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// The session behind a cookie value, or a new visitor's session; with whether it is new.
    pub(crate) fn resume_or_start(&self, cookie: Option<&str>) -> (String, bool) {
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, session| now.duration_since(session.last_seen) < IDLE_TIMEOUT);
        if let Some(id) = cookie
            && let Some(session) = sessions.get_mut(id)
        {
            session.last_seen = now;
            return (id.to_owned(), false);
        }
        let id = random_token();
        sessions.insert(id.clone(), Session::new(Auth::Visitor));
        (id, true)
    }

    /// Runs `f` on the session `id`. If it ended meanwhile (signed out, or replaced by a
    /// sign-in while this request ran), on a throwaway visitor's session: an ended session
    /// never comes back, nor does what a late request would write into it.
    pub(crate) fn with<T>(&self, id: &str, f: impl FnOnce(&mut Session) -> T) -> T {
        let mut sessions = self.lock();
        match sessions.get_mut(id) {
            Some(session) => f(session),
            None => f(&mut Session::new(Auth::Visitor)),
        }
    }

    /// Replaces session `old` by a fresh one (new id, new CSRF token) signed in as `auth`,
    /// carrying over only the flash message: a sign-in never reuses an id that was handed out
    /// before it (session fixation). Returns the new id.
    pub(crate) fn rotate(&self, old: &str, auth: Auth) -> String {
        let mut sessions = self.lock();
        let flash = sessions.remove(old).and_then(|session| session.flash);
        let id = random_token();
        let mut session = Session::new(auth);
        session.flash = flash;
        sessions.insert(id.clone(), session);
        id
    }

    /// Ends session `id`.
    pub(crate) fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave a session half-written in a way that
        // matters more than losing the process, so a poisoned lock is used as it is.
        self.by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// 256 random bits, hex-encoded: session ids and CSRF tokens.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The `Set-Cookie` value for session `id`. Not `Secure`, because the example serves plain
/// HTTP on loopback; behind TLS add `Secure` (and the `__Host-` prefix).
pub(crate) fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict")
}

/// The session id in a `Cookie` header, if any.
pub(crate) fn cookie_value(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE).then_some(value)
    })
}
