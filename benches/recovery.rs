//! One recovery-code attempt against a stored set of 10, beside one Argon2id evaluation (the
//! floor) and the naive design that salts each code apart and so hashes the attempt once per
//! stored code. All at the default costs (Argon2id, 19 MiB, 2 passes).
//!
//! `cargo bench -p twostep-benches --bench recovery`, then `python3 benches/ratios.py`.

use std::hint::black_box;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{Criterion, criterion_group, criterion_main};
use twostep_recovery::{HashParams, RecoveryCodeSet};

fn argon2id() -> Argon2<'static> {
    let params = Params::new(
        Params::DEFAULT_M_COST,
        Params::DEFAULT_T_COST,
        Params::DEFAULT_P_COST,
        Some(32),
    )
    .unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn attempt_against_ten(c: &mut Criterion) {
    let (_, set) =
        RecoveryCodeSet::generate(&mut rand::rng(), 10, &HashParams::default(), 0).unwrap();
    // Well-formed (its check symbol is right) but not in the set: the full cost of a guess.
    let guess = "0000-0000-0000-0000";
    assert!(set.redeem(guess, 1).is_err());
    let argon = argon2id();
    let salts: Vec<[u8; 16]> = (0..10u8).map(|i| [i; 16]).collect();

    let mut group = c.benchmark_group("recovery_attempt_set_of_10");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("floor-one-argon2id", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            argon
                .hash_password_into(black_box(b"0000000000000000"), &salts[0], &mut out)
                .unwrap();
            out
        })
    });
    group.bench_function("twostep-recovery", |b| {
        b.iter(|| set.redeem(black_box(guess), 1))
    });
    group.bench_function("naive-salt-per-code", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            for salt in &salts {
                argon
                    .hash_password_into(black_box(b"0000000000000000"), salt, &mut out)
                    .unwrap();
            }
            out
        })
    });
    group.finish();
}

criterion_group!(benches, attempt_against_ten);
criterion_main!(benches);
