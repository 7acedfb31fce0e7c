//! Known-answer tests: RFC 4226 Appendix D, RFC 6238 Appendix B and the derived vectors of
//! `standards.md` Appendix C.

use twostep_otp::{
    Algorithm, Digits, Hotp, HotpParams, ParamError, Period, Secret, Totp, TotpParams,
};

const SEED_SHA1: &[u8] = b"12345678901234567890";
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn secret(bytes: &[u8]) -> Secret {
    Secret::from_bytes(bytes).expect("RFC seeds are long enough")
}

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn totp(seed: &[u8], algorithm: Algorithm, digits: u8) -> Totp {
    let params = TotpParams {
        algorithm,
        digits: Digits::new(digits).expect("valid digits"),
        ..TotpParams::default()
    };
    Totp::new(&secret(seed), params)
}

#[test]
fn rfc4226_appendix_d_hotp_values() {
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    let hotp = Hotp::new(&secret(SEED_SHA1), HotpParams::default());
    for (counter, code) in (0u64..).zip(expected) {
        assert_eq!(
            hotp.generate(counter).to_string(),
            code,
            "counter {counter}"
        );
    }
}

#[test]
fn hotp_seven_and_eight_digits() {
    let hotp = |digits| {
        Hotp::new(
            &secret(SEED_SHA1),
            HotpParams {
                algorithm: Algorithm::Sha1,
                digits: Digits::new(digits).expect("valid digits"),
            },
        )
    };
    assert_eq!(hotp(7).generate(7).to_string(), "2162583");
    assert_eq!(hotp(8).generate(7).to_string(), "82162583");
    assert_eq!(hotp(7).generate(8).to_string(), "3399871");
    assert_eq!(hotp(8).generate(8).to_string(), "73399871");
}

const TIMES: [u64; 6] = [
    59,
    1_111_111_109,
    1_111_111_111,
    1_234_567_890,
    2_000_000_000,
    20_000_000_000,
];

#[test]
fn rfc6238_appendix_b_all_eighteen_rows() {
    let table: [(&[u8], Algorithm, [&str; 6]); 3] = [
        (
            SEED_SHA1,
            Algorithm::Sha1,
            [
                "94287082", "07081804", "14050471", "89005924", "69279037", "65353130",
            ],
        ),
        (
            SEED_SHA256,
            Algorithm::Sha256,
            [
                "46119246", "68084774", "67062674", "91819424", "90698825", "77737706",
            ],
        ),
        (
            SEED_SHA512,
            Algorithm::Sha512,
            [
                "90693936", "25091201", "99943326", "93441116", "38618901", "47863826",
            ],
        ),
    ];
    for (seed, algorithm, codes) in table {
        let totp = totp(seed, algorithm, 8);
        for (time, code) in TIMES.into_iter().zip(codes) {
            assert_eq!(
                totp.generate(time).expect("after T0").to_string(),
                code,
                "{algorithm} at {time}"
            );
            assert!(
                totp.verify(code, time, None).is_ok(),
                "{algorithm} verifies at {time}"
            );
        }
    }
}

#[test]
fn six_digit_codes_derived_from_appendix_b() {
    let table: [(&[u8], Algorithm, [&str; 6]); 3] = [
        (
            SEED_SHA1,
            Algorithm::Sha1,
            ["287082", "081804", "050471", "005924", "279037", "353130"],
        ),
        (
            SEED_SHA256,
            Algorithm::Sha256,
            ["119246", "084774", "062674", "819424", "698825", "737706"],
        ),
        (
            SEED_SHA512,
            Algorithm::Sha512,
            ["693936", "091201", "943326", "441116", "618901", "863826"],
        ),
    ];
    for (seed, algorithm, codes) in table {
        let totp = totp(seed, algorithm, 6);
        for (time, code) in TIMES.into_iter().zip(codes) {
            assert_eq!(
                totp.generate(time).expect("after T0").to_string(),
                code,
                "{algorithm} at {time}"
            );
        }
    }
}

#[test]
fn the_twenty_byte_seed_with_sha2_gives_other_codes() {
    // Catches a seed mix-up (RFC 6238 errata 2866).
    assert_eq!(
        totp(SEED_SHA1, Algorithm::Sha256, 8)
            .generate(59)
            .expect("after T0")
            .to_string(),
        "32247374"
    );
    assert_eq!(
        totp(SEED_SHA1, Algorithm::Sha512, 8)
            .generate(59)
            .expect("after T0")
            .to_string(),
        "69342147"
    );
}

#[test]
fn steps_count_from_t0_in_periods() {
    let params = TotpParams::default();
    assert_eq!(params.step_at(59), Ok(1));
    assert_eq!(params.step_at(60), Ok(2));
    assert_eq!(params.step_at(20_000_000_000), Ok(0x27BC_86AA));

    let sixty = TotpParams {
        period: Period::new(60).expect("valid period"),
        ..TotpParams::default()
    };
    let totp = Totp::new(&secret(SEED_SHA1), sixty);
    assert_eq!(totp.generate(119).expect("after T0").to_string(), "287082");

    let shifted = TotpParams {
        t0: 30,
        ..TotpParams::default()
    };
    let totp = Totp::new(&secret(SEED_SHA1), shifted);
    assert_eq!(totp.generate(59).expect("after T0").to_string(), "755224");
    assert_eq!(
        totp.generate(29).map(|c| c.to_string()),
        Err(ParamError::TimeBeforeT0)
    );
}

#[test]
fn extreme_times_and_periods_never_panic() {
    for period in [1, 30, u32::MAX] {
        for t0 in [0, 1, u64::MAX] {
            let params = TotpParams {
                period: Period::new(period).expect("non-zero"),
                t0,
                ..TotpParams::default()
            };
            let totp = Totp::new(&secret(SEED_SHA1), params);
            for time in [0, 1, 59, u64::MAX - 1, u64::MAX] {
                let _ = totp.generate(time);
                let _ = totp.verify("123456", time, Some(u64::MAX));
                let _ = totp.verify("123456", time, None);
            }
        }
    }
}
