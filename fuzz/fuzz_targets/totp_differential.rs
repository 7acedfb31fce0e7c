//! Differential test of `Totp::verify` against the naive `twostep_otp::reference::totp_verify`
//! over arbitrary keys, algorithms, digits, periods, T0, windows, times, last accepted steps
//! and inputs. The input is either arbitrary or the real code of a step near the current one
//! (optionally with spaces and dashes), so acceptances and replays are exercised too. Accepted
//! values must be equal and rejections must have the same `Rejection::kind()`. Also checks
//! that `Totp::generate_at_step` matches `reference::hotp`.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use twostep_otp::{Algorithm, Digits, Period, Secret, Totp, TotpParams, Window, reference};

#[derive(Debug, Arbitrary)]
enum Alg {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Arbitrary)]
enum Input {
    /// Whatever the fuzzer comes up with.
    Arbitrary(String),
    /// The real code of step `current + offset` (offset folded into -3..=3), with separators
    /// inserted at the given positions (`true` = dash, `false` = space).
    Real {
        offset: u8,
        separators: Vec<(u8, bool)>,
    },
}

#[derive(Debug, Arbitrary)]
enum LastAccepted {
    None,
    /// `current + offset`, offset folded into -4..=4.
    NearCurrent(u8),
    Any(u64),
}

#[derive(Debug, Arbitrary)]
struct Case {
    key: [u8; 64],
    /// Key length 16 + key_len % 49, i.e. 16..=64 bytes.
    key_len: u8,
    alg: Alg,
    /// 6 + digits % 3.
    digits: u8,
    /// Any non-zero period; 0 is skipped.
    period: u32,
    t0: u16,
    /// Each folded into 0..=2.
    back: u8,
    forward: u8,
    unix_time: u64,
    last: LastAccepted,
    input: Input,
}

fn offset_step(base: u64, offset: i64) -> u64 {
    if offset >= 0 {
        base.saturating_add(offset.unsigned_abs())
    } else {
        base.saturating_sub(offset.unsigned_abs())
    }
}

fuzz_target!(|case: Case| {
    let key_len = 16 + usize::from(case.key_len % 49);
    let Some(key) = case.key.get(..key_len) else {
        return;
    };
    let Ok(secret) = Secret::from_bytes(key) else {
        panic!("a {key_len}-byte key was refused");
    };
    let algorithm = match case.alg {
        Alg::Sha1 => Algorithm::Sha1,
        Alg::Sha256 => Algorithm::Sha256,
        Alg::Sha512 => Algorithm::Sha512,
    };
    let Ok(digits) = Digits::new(6 + case.digits % 3) else {
        return;
    };
    let Ok(period) = Period::new(case.period) else {
        return;
    };
    let Ok(window) = Window::new(case.back % 3, case.forward % 3) else {
        return;
    };
    let params = TotpParams {
        algorithm,
        digits,
        period,
        t0: u64::from(case.t0),
    };
    let totp = Totp::new(&secret, params).with_window(window);

    // The step the verifier will consider current (0 when the time is before T0).
    let current = params.step_at(case.unix_time).unwrap_or(0);

    let input = match &case.input {
        Input::Arbitrary(s) => s.clone(),
        Input::Real { offset, separators } => {
            let step = offset_step(current, i64::from(offset % 7) - 3);
            let code = totp.generate_at_step(step).to_string();
            let expected = reference::hotp(key, algorithm, step, usize::from(digits.get()));
            assert_eq!(
                code, expected,
                "generate_at_step({step}) differs from reference::hotp"
            );
            let mut s = code;
            for &(pos, dash) in separators.iter().take(16) {
                let at = usize::from(pos) % (s.len() + 1);
                s.insert(at, if dash { '-' } else { ' ' });
            }
            s
        }
    };
    let last_accepted_step = match case.last {
        LastAccepted::None => None,
        LastAccepted::NearCurrent(offset) => Some(offset_step(current, i64::from(offset % 9) - 4)),
        LastAccepted::Any(step) => Some(step),
    };

    let real = totp.verify(&input, case.unix_time, last_accepted_step);
    let naive = reference::totp_verify(
        key,
        params,
        window,
        &input,
        case.unix_time,
        last_accepted_step,
    );
    match (&real, &naive) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "accepted values differ"),
        (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "rejections differ: {a:?} vs {b:?}"),
        _ => panic!("verify = {real:?}, reference = {naive:?}"),
    }
});
