//! The machines' own tests, beside them: the flows driven by hand with a controllable clock.
//! (The machines are private; the service's tests are in `tests/`.) Here: an account enrolled
//! through the real wizard, shared by the three files.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

mod enable_wizard;
mod login_step;
mod reissue_and_disable;

use crate::Policies;
use crate::Throttle;
use crate::enable::{self, Account, NewCredential};
use crate::login::StoredFactor;
use twostep_otp::Totp;
use twostep_recovery::{HashParams, IssuedCodes};

/// A user's account, with their address at example.com.
pub(crate) fn account(user: &str) -> Account {
    Account {
        user_id: user.into(),
        email: format!("{user}@example.com"),
    }
}

/// The time the wizard runs at.
pub(crate) const T0: u64 = 1_764_288_000;

/// An account that went through the enable wizard at `T0`.
pub(crate) struct Enrolled {
    pub(crate) credential: NewCredential,
    pub(crate) recovery_codes: Vec<String>,
    pub(crate) setup_code: String,
}

/// Argon2id at its minimal costs, to keep tests fast (never use outside tests).
pub(crate) fn fast_hash() -> HashParams {
    HashParams::new(8, 1, 1).expect("minimal costs")
}

/// The default policies with fast Argon2 costs.
pub(crate) fn policies() -> Policies {
    let mut policies = Policies::new("DFINERY");
    policies.recovery_hash = fast_hash();
    policies
}

/// Enables 2FA for `alice` through the wizard at `T0`.
pub(crate) fn enrolled() -> Enrolled {
    let policy = policies();
    let mut rng = rand::rng();
    let account = Account {
        user_id: "alice".into(),
        email: "alice@example.com".into(),
    };
    let (sent, mail) = enable::start(account, 0, &mut rng, &policy, T0);
    let setup = sent
        .verify_email(mail.code.expose(), &mut rng, &policy, T0)
        .map_err(|r| r.error)
        .expect("email");
    let totp = setup
        .view(&policy)
        .expect("view")
        .key_uri
        .to_totp()
        .expect("totp");
    let setup_code = totp.generate(T0 + 30).expect("after T0").to_string();
    let (save, _) = setup
        .confirm(&setup_code, Throttle::default(), &mut rng, &policy, T0 + 30)
        .map_err(|(r, _)| r.error)
        .expect("code");
    let recovery_codes = shown(save.codes());
    let credential = save
        .complete(true, &policy, T0 + 40)
        .expect("done")
        .credential;
    Enrolled {
        credential,
        recovery_codes,
        setup_code,
    }
}

/// The codes as the user reads them off the screen.
pub(crate) fn shown(issued: &IssuedCodes) -> Vec<String> {
    issued.codes().iter().map(ToString::to_string).collect()
}

pub(crate) fn factor(credential: &NewCredential, last: Option<u64>) -> StoredFactor<'_> {
    StoredFactor {
        secret: &credential.secret,
        params: credential.params,
        last_accepted_step: last,
        recovery_codes: &credential.recovery_codes,
    }
}

pub(crate) fn code_at(credential: &NewCredential, now: u64) -> String {
    Totp::new(&credential.secret, credential.params)
        .generate(now)
        .unwrap()
        .to_string()
}

/// Whether `needle` occurs in `text` as a whole token, not inside a longer run of letters or
/// digits (a six-digit code may appear by chance inside a ten-digit timestamp).
pub(crate) fn contains_token(text: &str, needle: &str) -> bool {
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The code with its first symbol replaced by another: a single substitution, which the
/// check symbol always catches (reversing a code, by contrast, slips through 1 time in 32).
pub(crate) fn one_typo(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    chars[0] = if chars[0] == '2' { '3' } else { '2' };
    chars.into_iter().collect()
}
