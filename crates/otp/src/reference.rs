//! A deliberately naive TOTP verifier, for differential tests and fuzzing (feature
//! `test-util`).
//!
//! It re-keys HMAC for every step, formats codes as strings, compares with `==` and walks the
//! window from the oldest step — everything the real verifier avoids — so that the two share
//! no code beyond the parameter types. Never use it to verify real logins.

use hmac::Hmac;
use hmac::digest::{KeyInit, Mac};

use crate::{Accepted, Algorithm, MalformedCode, Rejection, TotpParams, Window};

/// Verifies `input` the slow, obvious way. Same contract as [`crate::Totp::verify`].
///
/// # Errors
/// The [`Rejection`] the real verifier must also return.
pub fn totp_verify(
    key: &[u8],
    params: TotpParams,
    window: Window,
    input: &str,
    unix_time: u64,
    last_accepted_step: Option<u64>,
) -> Result<Accepted, Rejection> {
    let digits = usize::from(params.digits.get());
    let typed: String = input.chars().filter(|c| *c != ' ' && *c != '-').collect();
    // Compare outcomes of this function by `Rejection::kind`: the reason inside `Malformed`
    // is not modelled here.
    if input.len() > 64 || typed.chars().any(|c| !c.is_ascii_digit()) || typed.len() != digits {
        return Err(Rejection::Malformed(MalformedCode::InvalidCharacter));
    }
    let Some(elapsed) = unix_time.checked_sub(params.t0) else {
        return Err(Rejection::TimeBeforeT0);
    };
    let current = elapsed / u64::from(params.period.seconds());
    let mut result = Err(Rejection::Mismatch);
    for step in current.saturating_sub(u64::from(window.back()))
        ..=current.saturating_add(u64::from(window.forward()))
    {
        if hotp(key, params.algorithm, step, digits) == typed {
            if last_accepted_step.is_none_or(|used| step > used) {
                let drift = i128::from(step) - i128::from(current);
                result = Ok(accepted(step, i64::try_from(drift).unwrap_or(i64::MAX)));
            } else if result.is_err() {
                result = Err(Rejection::Replayed);
            }
        }
    }
    result
}

/// The zero-padded HOTP code for `counter`, computed from scratch.
pub fn hotp(key: &[u8], algorithm: Algorithm, counter: u64, digits: usize) -> String {
    let hash = match algorithm {
        Algorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(key, counter),
        Algorithm::Sha256 => mac::<Hmac<sha2::Sha256>>(key, counter),
        Algorithm::Sha512 => mac::<Hmac<sha2::Sha512>>(key, counter),
    };
    let offset = usize::from(hash.last().copied().unwrap_or(0) & 0x0f);
    let word = hash.get(offset..offset.saturating_add(4)).map_or(0, |b| {
        b.iter()
            .fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte))
    });
    let value = u64::from(word & 0x7fff_ffff) % 10u64.pow(u32::try_from(digits).unwrap_or(8));
    format!("{value:0digits$}")
}

fn mac<M: Mac + KeyInit>(key: &[u8], counter: u64) -> Vec<u8> {
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(&counter.to_be_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn accepted(step: u64, drift: i64) -> Accepted {
    Accepted { step, drift }
}
