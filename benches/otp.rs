//! TOTP verification: twostep-otp beside totp-rs 6 in the same groups, and the floor — six
//! single-block SHA-1 compressions, the least any verifier of a ±1 window must do once the
//! HMAC pads of the key are precomputed (two compressions per step; totp-rs re-keys, four).
//!
//! `cargo bench -p twostep-benches --bench otp`, then `python3 benches/ratios.py` for the
//! ratios the README quotes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use common::{KEY, NOW, six_sha1_compressions, totp_rs, twostep, wrong_code};

fn verify_wrong_code(c: &mut Criterion) {
    let ours = twostep(KEY);
    let theirs = totp_rs(KEY);
    let code = wrong_code(&ours);

    let mut group = c.benchmark_group("verify_wrong_code_window_1");
    group.bench_function("twostep-otp", |b| {
        b.iter(|| ours.verify(black_box(&code), black_box(NOW), black_box(None)))
    });
    group.bench_function("totp-rs-6", |b| {
        b.iter(|| theirs.check(black_box(&code), black_box(NOW)))
    });
    group.bench_function("floor-6-sha1-compressions", |b| {
        b.iter(six_sha1_compressions)
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
