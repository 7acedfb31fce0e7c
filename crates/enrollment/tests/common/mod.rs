//! Helpers shared by the service tests.
#![allow(
    dead_code,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)] // each test file uses a subset

pub(crate) mod orgs;

use twostep_recovery::HashParams;

/// Argon2id at its minimal costs, to keep tests fast (never use outside tests).
pub(crate) fn fast_hash() -> HashParams {
    HashParams::new(8, 1, 1).expect("minimal costs")
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

/// The codes as the user reads them off the screen.
pub(crate) fn shown(issued: &twostep_recovery::IssuedCodes) -> Vec<String> {
    issued.codes().iter().map(ToString::to_string).collect()
}

/// A user's account, with their address at example.com.
pub(crate) fn acct(user: &str) -> twostep_enrollment::Account {
    twostep_enrollment::Account {
        user_id: user.into(),
        email: format!("{user}@example.com"),
    }
}
