//! Paired timing of TOTP verification (wrong code, window ±1): twostep-otp, totp-rs 6 and the
//! six-compression floor measured in alternating short rounds, so that the slow drifts of a
//! shared or virtual machine hit all three alike. Prints the median per-round ratios.
//!
//! `cargo bench -p twostep-benches --bench otp_paired` (criterion's absolute figures are in
//! the `otp` bench).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    missing_docs
)] // bench setup

use std::hint::black_box;
use std::time::Instant;

use twostep_otp::{Secret, Totp, TotpParams};

const KEY: &[u8; 20] = b"12345678901234567890";
const NOW: u64 = 1_700_000_000;
const ROUNDS: usize = 301;
const ITERATIONS: u32 = 2_000;

fn nanos_per_call(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
}

fn floor() -> u32 {
    let midstate = [
        0x6745_2301u32,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let mut acc = 0u32;
    for counter in 0..6u64 {
        let mut block = [0u8; 64];
        block[..8].copy_from_slice(&black_box(counter).to_be_bytes());
        let mut state = black_box(midstate);
        sha1::block_api::compress(&mut state, core::slice::from_ref(&block));
        acc ^= state[4];
    }
    acc
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let ours = Totp::new(&Secret::from_bytes(KEY).unwrap(), TotpParams::default());
    let theirs = totp_rs::Builder::new()
        .with_secret(&KEY[..])
        .with_skew(1)
        .build()
        .unwrap();
    let step = TotpParams::default().step_at(NOW).unwrap();
    let window: Vec<String> = (step - 1..=step + 1)
        .map(|s| ours.generate_at_step(s).to_string())
        .collect();
    let code = (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|c| !window.contains(c))
        .unwrap();
    assert!(ours.verify(&code, NOW, None).is_err() && theirs.check(&code, NOW).is_none());

    let (mut ours_ns, mut theirs_ns, mut floor_ns) = (Vec::new(), Vec::new(), Vec::new());
    let (mut vs_totp_rs, mut vs_floor) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let o = nanos_per_call(|| {
            let _ = black_box(ours.verify(black_box(&code), black_box(NOW), None));
        });
        let t = nanos_per_call(|| {
            black_box(theirs.check(black_box(&code), black_box(NOW)));
        });
        let f = nanos_per_call(|| {
            black_box(floor());
        });
        ours_ns.push(o);
        theirs_ns.push(t);
        floor_ns.push(f);
        vs_totp_rs.push(t / o);
        vs_floor.push(o / f);
    }
    println!("verify, wrong code, window ±1 — medians of {ROUNDS} alternating rounds");
    println!(
        "  twostep-otp                {:7.1} ns",
        median(&mut ours_ns)
    );
    println!(
        "  totp-rs 6                  {:7.1} ns",
        median(&mut theirs_ns)
    );
    println!(
        "  floor: 6 SHA-1 compressions{:7.1} ns",
        median(&mut floor_ns)
    );
    println!(
        "  totp-rs 6 / twostep-otp    {:7.2}x",
        median(&mut vs_totp_rs)
    );
    println!(
        "  twostep-otp / floor        {:7.2}x",
        median(&mut vs_floor)
    );
}
