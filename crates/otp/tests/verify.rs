//! Verification behaviour: window, replay (newest-match), malformed input, HOTP look-ahead,
//! and property tests against the naive reference verifier.

use proptest::prelude::*;
use twostep_otp::reference;
use twostep_otp::{
    Accepted, Algorithm, Digits, Hotp, HotpParams, MalformedCode, Period, Rejection, Secret, Totp,
    TotpParams, Window,
};

const SEED: &[u8] = b"12345678901234567890";
const PERIOD: u64 = 30;

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn totp() -> Totp {
    Totp::new(
        &Secret::from_bytes(SEED).expect("seed"),
        TotpParams::default(),
    )
}

fn code_at_step(totp: &Totp, step: u64) -> String {
    totp.generate_at_step(step).to_string()
}

#[test]
fn default_window_accepts_one_step_each_way_and_reports_drift() {
    let totp = totp();
    let now = 1_000 * PERIOD + 7;
    for (step, drift) in [(999, -1), (1_000, 0), (1_001, 1)] {
        let accepted = totp.verify(&code_at_step(&totp, step), now, None);
        assert_eq!(accepted.map(|a| (a.step, a.drift)), Ok((step, drift)));
    }
    for step in [998, 1_002] {
        assert_eq!(
            totp.verify(&code_at_step(&totp, step), now, None),
            Err(Rejection::Mismatch)
        );
    }
}

#[test]
fn back_and_forward_are_configured_apart() {
    let totp = totp().with_window(Window::new(2, 0).expect("valid"));
    let now = 1_000 * PERIOD;
    assert!(totp.verify(&code_at_step(&totp, 998), now, None).is_ok());
    assert_eq!(
        totp.verify(&code_at_step(&totp, 1_001), now, None),
        Err(Rejection::Mismatch)
    );
    let strict = totp.with_window(Window::STRICT);
    assert_eq!(
        strict.verify(&code_at_step(&strict, 999), now, None),
        Err(Rejection::Mismatch)
    );
    assert!(
        strict
            .verify(&code_at_step(&strict, 1_000), now, None)
            .is_ok()
    );
}

#[test]
fn replay_cases_of_rfc6238_section_5_2() {
    let totp = totp();
    let t = 5_000u64;
    let now = |step: u64| step * PERIOD;
    // (a) code(T+1) accepted at T, resubmitted at T+1.
    let a = totp
        .verify(&code_at_step(&totp, t + 1), now(t), None)
        .expect("accepted");
    assert_eq!(a.step, t + 1);
    assert_eq!(
        totp.verify(&code_at_step(&totp, t + 1), now(t + 1), Some(a.step)),
        Err(Rejection::Replayed)
    );
    // (b) code(T) accepted at T, resubmitted at T+1, still inside the back window.
    let b = totp
        .verify(&code_at_step(&totp, t), now(t), None)
        .expect("accepted");
    assert_eq!(
        totp.verify(&code_at_step(&totp, t), now(t + 1), Some(b.step)),
        Err(Rejection::Replayed)
    );
    // (c) after code(T), code(T−1) is refused.
    assert_eq!(
        totp.verify(&code_at_step(&totp, t - 1), now(t), Some(b.step)),
        Err(Rejection::Replayed)
    );
    // (d) after code(T), code(T+1) is accepted.
    assert_eq!(
        totp.verify(&code_at_step(&totp, t + 1), now(t), Some(b.step))
            .map(|a| a.step),
        Ok(t + 1)
    );
}

#[test]
fn a_code_colliding_with_a_used_earlier_step_still_accepts_the_newer_step() {
    // With the RFC seed, steps 910 737 and 910 738 both give 911617 (found by search).
    let totp = totp();
    let (older, newer) = (910_737u64, 910_738u64);
    assert_eq!(code_at_step(&totp, older), "911617");
    assert_eq!(code_at_step(&totp, newer), "911617");
    let now = newer * PERIOD;
    // Fresh credential: the newest matching step wins, not the earliest.
    assert_eq!(totp.verify("911617", now, None).map(|a| a.step), Ok(newer));
    // The older step was used: the code still logs in, for its own (newer) step.
    assert_eq!(
        totp.verify("911617", now, Some(older)).map(|a| a.step),
        Ok(newer)
    );
    // Both used: replay.
    assert_eq!(
        totp.verify("911617", now, Some(newer)),
        Err(Rejection::Replayed)
    );
}

#[test]
fn malformed_codes_are_rejected_before_any_hmac() {
    let totp = totp();
    for input in [
        "",
        "      ",
        "12345",
        "1234567",
        "12a456",
        "１２３４５６",
        "+12345",
        "12345６",
    ] {
        assert!(
            matches!(totp.verify(input, 59, None), Err(Rejection::Malformed(_))),
            "{input:?} is malformed"
        );
    }
    assert_eq!(
        totp.verify("", 59, None),
        Err(Rejection::Malformed(MalformedCode::Empty))
    );
    assert_eq!(
        totp.verify(" - ", 59, None),
        Err(Rejection::Malformed(MalformedCode::Empty))
    );
    assert_eq!(
        totp.verify("12345", 59, None),
        Err(Rejection::Malformed(MalformedCode::WrongLength {
            expected: 6
        }))
    );
    assert_eq!(
        totp.verify(&"1".repeat(1_000), 59, None),
        Err(Rejection::Malformed(MalformedCode::WrongLength {
            expected: 6
        }))
    );
    // Spaces and dashes are typing aids, not errors.
    assert!(totp.verify("287 082", 59, None).is_ok());
    assert!(totp.verify("287-082", 59, None).is_ok());
}

#[test]
fn time_before_t0_is_a_typed_rejection() {
    let params = TotpParams {
        t0: 100,
        ..TotpParams::default()
    };
    let totp = Totp::new(&Secret::from_bytes(SEED).expect("seed"), params);
    assert_eq!(
        totp.verify("123456", 99, None),
        Err(Rejection::TimeBeforeT0)
    );
}

#[test]
fn near_the_epoch_the_window_is_clipped_not_wrapped() {
    let totp = totp();
    assert_eq!(
        totp.verify("755224", 0, None).map(|a| (a.step, a.drift)),
        Ok((0, 0))
    );
    assert_eq!(
        totp.verify("287082", 0, None).map(|a| (a.step, a.drift)),
        Ok((1, 1))
    );
}

#[test]
fn hotp_look_ahead_accepts_the_earliest_match_and_advances_the_counter() {
    let hotp = Hotp::new(
        &Secret::from_bytes(SEED).expect("seed"),
        HotpParams::default(),
    );
    let code = |c| hotp.generate(c).to_string();
    let accepted = hotp.verify(&code(5), 3, 3).expect("within look-ahead");
    assert_eq!((accepted.counter, accepted.next_counter), (5, 6));
    assert_eq!(
        hotp.verify(&code(7), 3, 3),
        Err(Rejection::Mismatch),
        "beyond look-ahead"
    );
    assert_eq!(
        hotp.verify(&code(5), 6, 3),
        Err(Rejection::Mismatch),
        "already used"
    );
    assert_eq!(
        hotp.verify("12 34", 0, 3),
        Err(Rejection::Malformed(MalformedCode::WrongLength {
            expected: 6
        }))
    );
}

#[test]
fn hotp_never_accepts_the_last_counter_so_no_code_stays_valid_forever() {
    let hotp = Hotp::new(
        &Secret::from_bytes(SEED).expect("seed"),
        HotpParams::default(),
    );
    let code = |c| hotp.generate(c).to_string();
    let accepted = hotp
        .verify(&code(u64::MAX - 1), u64::MAX - 1, 3)
        .expect("the last usable counter");
    assert_eq!(accepted.next_counter, u64::MAX);
    assert_eq!(
        hotp.verify(&code(u64::MAX - 1), u64::MAX, 3),
        Err(Rejection::Mismatch)
    );
    assert_eq!(
        hotp.verify(&code(u64::MAX), u64::MAX, 3),
        Err(Rejection::Mismatch)
    );
}

#[test]
fn a_code_of_another_length_never_matches() {
    let params = TotpParams {
        digits: Digits::EIGHT,
        ..TotpParams::default()
    };
    let totp = Totp::new(&Secret::from_bytes(SEED).expect("seed"), params);
    let eight = totp.generate(59).expect("after T0").to_string();
    assert_eq!(eight, "94287082");
    // The last six digits of the right code, parsed as a six-digit code.
    let six = twostep_otp::Code::parse(&eight[2..], Digits::SIX).expect("six digits");
    assert_eq!(totp.verify_code(&six, 59, None), Err(Rejection::Mismatch));
    assert!(totp.verify(&eight, 59, None).is_ok());
}

#[test]
fn debug_output_never_shows_key_material() {
    let secret = Secret::from_bytes(SEED).expect("seed");
    let totp = Totp::new(&secret, TotpParams::default());
    let code = totp.generate(59).expect("after T0");
    let printed = format!("{secret:?} {totp:?} {code:?}");
    assert!(!printed.contains("1234567890"), "{printed}");
    assert!(!printed.contains("GEZDGNBV"), "{printed}");
    assert!(!printed.contains("287082"), "{printed}");
    assert!(printed.contains("[redacted]"));
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

#[allow(clippy::expect_used)] // values within the strategy ranges
fn params() -> impl Strategy<Value = TotpParams> {
    (
        algorithm(),
        6u8..=8,
        prop_oneof![Just(30u32), 1u32..=120],
        0u64..1_000,
    )
        .prop_map(|(algorithm, digits, period, t0)| TotpParams {
            algorithm,
            digits: Digits::new(digits).expect("6..=8"),
            period: Period::new(period).expect("non-zero"),
            t0,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Generate→verify accepts at every offset inside the window and, outside it, accepts
    /// only when the code happens to equal a code inside (as the reference decides).
    #[test]
    fn accepts_exactly_inside_the_window(
        key in proptest::collection::vec(any::<u8>(), 16..=64),
        params in params(),
        back in 0u8..=2,
        forward in 0u8..=2,
        elapsed in 100_000u64..4_000_000_000,
        offset in -4i64..=4,
    ) {
        let secret = Secret::from_bytes(&key).expect("16..=64 bytes");
        let window = Window::new(back, forward).expect("≤ 2");
        let totp = Totp::new(&secret, params).with_window(window);
        let now = params.t0 + elapsed;
        let current = params.step_at(now).expect("after T0");
        let step = current.checked_add_signed(offset).expect("far from 0");
        let code = totp.generate_at_step(step).to_string();
        let result = totp.verify(&code, now, None);
        let inside = -i64::from(back) <= offset && offset <= i64::from(forward);
        if inside {
            let accepted = result.expect("inside the window");
            // The newest match wins; it is this step unless a newer step shares the code.
            prop_assert!(accepted.step >= step);
        }
        prop_assert_eq!(result, reference::totp_verify(&key, params, window, &code, now, None));
    }

    /// After a code is accepted, the same code is refused (unless a newer step in the window
    /// happens to have the same code, which the reference also accepts).
    #[test]
    fn an_accepted_step_is_never_accepted_again(
        key in proptest::collection::vec(any::<u8>(), 16..=64),
        params in params(),
        elapsed in 100_000u64..4_000_000_000,
        offset in -1i64..=1,
        later in 0u64..=90,
    ) {
        let secret = Secret::from_bytes(&key).expect("16..=64 bytes");
        let totp = Totp::new(&secret, params);
        let now = params.t0 + elapsed;
        let step = params.step_at(now).expect("after T0").checked_add_signed(offset).expect("far from 0");
        let code = totp.generate_at_step(step).to_string();
        let first = totp.verify(&code, now, None).expect("inside the window");
        let again = totp.verify(&code, now + later, Some(first.step));
        prop_assert!(again.map_or(true, |a: Accepted| a.step > first.step));
        prop_assert_eq!(again, reference::totp_verify(&key, params, Window::default(), &code, now + later, Some(first.step)));
    }

    /// Arbitrary input: the verifier and the reference agree on every outcome.
    #[test]
    fn agrees_with_the_reference_on_any_input(
        key in proptest::collection::vec(any::<u8>(), 16..=64),
        params in params(),
        input in "[0-9 -]{0,10}|\\PC{0,10}",
        now in any::<u64>(),
        last in proptest::option::of(any::<u64>()),
    ) {
        let secret = Secret::from_bytes(&key).expect("16..=64 bytes");
        let totp = Totp::new(&secret, params);
        let ours = totp.verify(&input, now, last).map_err(|r| r.kind());
        let theirs = reference::totp_verify(&key, params, Window::default(), &input, now, last).map_err(|r| r.kind());
        prop_assert_eq!(ours, theirs);
    }
}
