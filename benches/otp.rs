//! TOTP verification: twostep-otp beside totp-rs 6 in the same groups, and the floor — six
//! single-block SHA-1 compressions, the least any verifier of a ±1 window must do once the
//! HMAC pads of the key are precomputed (two compressions per step; totp-rs re-keys, four).
//!
//! `cargo bench -p twostep-benches --bench otp`, then `python3 benches/ratios.py` for the
//! ratios the README quotes.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    missing_docs
)] // bench setup

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use twostep_otp::{Secret, Totp, TotpParams};

const KEY: &[u8; 20] = b"12345678901234567890";
const NOW: u64 = 1_700_000_000;

fn totp_rs(key: &[u8]) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_secret(key)
        .with_skew(1)
        .with_step_duration(30)
        .with_digits(6)
        .build()
        .expect("valid totp-rs config")
}

fn twostep(key: &[u8]) -> Totp {
    Totp::new(
        &Secret::from_bytes(key).expect("20 bytes"),
        TotpParams::default(),
    )
}

/// A code that matches no step of the ±1 window at `NOW`, so every verifier scans it all.
fn wrong_code(totp: &Totp) -> String {
    let step = TotpParams::default().step_at(NOW).expect("after T0");
    let window: Vec<String> = (step - 1..=step + 1)
        .map(|s| totp.generate_at_step(s).to_string())
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", n * 7_919 % 1_000_000))
        .find(|code| !window.contains(code))
        .expect("a code outside the window")
}

fn verify_wrong_code(c: &mut Criterion) {
    let ours = twostep(KEY);
    let theirs = totp_rs(KEY);
    let code = wrong_code(&ours);
    assert!(ours.verify(&code, NOW, None).is_err() && theirs.check(&code, NOW).is_none());

    let mut group = c.benchmark_group("verify_wrong_code_window_1");
    group.bench_function("twostep-otp", |b| {
        b.iter(|| ours.verify(black_box(&code), black_box(NOW), black_box(None)))
    });
    group.bench_function("totp-rs-6", |b| {
        b.iter(|| theirs.check(black_box(&code), black_box(NOW)))
    });
    // The floor: six single-block SHA-1 compressions, each from a midstate, and nothing else.
    group.bench_function("floor-6-sha1-compressions", |b| {
        let midstate = [
            0x6745_2301u32,
            0xefcd_ab89,
            0x98ba_dcfe,
            0x1032_5476,
            0xc3d2_e1f0,
        ];
        b.iter(|| {
            let mut acc = 0u32;
            for counter in 0..6u64 {
                let mut block = [0u8; 64];
                block[..8].copy_from_slice(&black_box(counter).to_be_bytes());
                let mut state = black_box(midstate);
                sha1::block_api::compress(&mut state, core::slice::from_ref(&block));
                acc ^= state[4];
            }
            acc
        })
    });
    group.finish();
}

fn verify_right_code(c: &mut Criterion) {
    let ours = twostep(KEY);
    let theirs = totp_rs(KEY);
    let code = ours.generate(NOW).expect("after T0").to_string();
    assert!(ours.verify(&code, NOW, None).is_ok() && theirs.check(&code, NOW).is_some());

    let mut group = c.benchmark_group("verify_right_code_window_1");
    group.bench_function("twostep-otp", |b| {
        b.iter(|| ours.verify(black_box(&code), black_box(NOW), black_box(None)))
    });
    group.bench_function("totp-rs-6", |b| {
        b.iter(|| theirs.check(black_box(&code), black_box(NOW)))
    });
    group.finish();
}

fn stored_secret_to_verdict(c: &mut Criterion) {
    let code = twostep(KEY).generate(NOW).expect("after T0").to_string();
    let mut group = c.benchmark_group("stored_secret_to_verdict");
    group.bench_function("twostep-otp", |b| {
        b.iter(|| twostep(black_box(KEY)).verify(black_box(&code), black_box(NOW), black_box(None)))
    });
    group.bench_function("totp-rs-6", |b| {
        b.iter(|| totp_rs(black_box(KEY)).check(black_box(&code), black_box(NOW)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = verify_wrong_code, verify_right_code, stored_secret_to_verdict
}
criterion_main!(benches);
