//! A console mailer for local use: every message is printed to stdout and kept in memory for
//! the `/mail` page, which stands in for the signed-in user's inbox.
//!
//! It prints the email code, which a real mailer must never log (see the `Mailer`
//! contract); swap it for your mail service before this leaves a developer's machine.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use twostep::enrollment::{Mail, Mailer, Notice};

/// One message as the user would read it.
#[derive(Clone, Debug)]
pub(crate) struct SentMail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// When it was sent (Unix time).
    pub at: u64,
}

/// The console mailer.
#[derive(Debug)]
pub(crate) struct Outbox {
    issuer: String,
    sent: Mutex<Vec<SentMail>>,
}

impl Outbox {
    pub(crate) fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            sent: Mutex::default(),
        }
    }

    /// Sends one of the console's own messages (not twostep's).
    pub(crate) fn send_own(&self, to: &str, subject: &str, body: &str) {
        self.deliver(to.to_owned(), subject.to_owned(), body.to_owned());
    }

    fn deliver(&self, to: String, subject: String, body: String) {
        println!("mail to {to}: {subject}\n  {}", body.replace('\n', "\n  "));
        self.lock().push(SentMail {
            to,
            subject,
            body,
            at: unix_now(),
        });
    }

    /// Every message sent since start, newest first.
    pub(crate) fn newest_first(&self) -> Vec<SentMail> {
        let mut sent = self.lock().clone();
        sent.reverse();
        sent
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SentMail>> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The subject and body of a security notice.
fn notice_text(issuer: &str, notice: Notice) -> (String, String) {
    let (subject, body) = match notice {
        Notice::Enabled => (
            "Two-step verification is on",
            "Two-step verification was turned on for your account.".to_owned(),
        ),
        Notice::Disabled => (
            "Two-step verification is off",
            "Two-step verification was turned off for your account.".to_owned(),
        ),
        Notice::RecoveryCodesReissued => (
            "New recovery codes",
            "New recovery codes were issued; the old ones no longer work.".to_owned(),
        ),
        Notice::RecoveryCodeUsed { remaining } => (
            "A recovery code was used",
            format!("A recovery code was used to sign in. {remaining} codes are left."),
        ),
        Notice::LockedOut => (
            "Too many failed attempts",
            "Two-step verification is locked for a while after too many failed attempts."
                .to_owned(),
        ),
        Notice::Reset => (
            "Two-step verification was reset",
            "An owner or admin of your organisation reset two-step verification for your \
             account. Set it up again from your security settings."
                .to_owned(),
        ),
        _ => ("Security notice", format!("{notice:?}")),
    };
    (
        format!("[{issuer}] {subject}"),
        format!("{body}\nIf this was not you, change your password and contact your admin."),
    )
}

impl Mailer for Outbox {
    type Error = std::convert::Infallible;

    async fn send(&self, mail: Mail) -> Result<(), Self::Error> {
        let issuer = &self.issuer;
        let (to, subject, body) = match mail {
            Mail::EmailCode {
                to,
                code,
                expires_at,
            } => {
                let minutes = expires_at.saturating_sub(unix_now()).div_ceil(60);
                (
                    to,
                    format!("[{issuer}] Your verification code"),
                    format!(
                        "Your verification code is {} (valid for {minutes} minutes).",
                        code.expose()
                    ),
                )
            }
            Mail::Notice { to, notice } => {
                let (subject, body) = notice_text(issuer, notice);
                (to, subject, body)
            }
            _ => return Ok(()),
        };
        self.deliver(to, subject, body);
        Ok(())
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
