//! Paired timing of TOTP verification (wrong code, window ±1): twostep-otp, totp-rs 6 and the
//! six-compression floor measured in alternating short rounds, so that the slow drifts of a
//! shared or virtual machine hit all three alike. Prints the median per-round ratios.
//!
//! `cargo bench -p twostep-benches --bench otp_paired` (criterion's absolute figures are in
//! the `otp` bench).

use std::hint::black_box;
use std::time::Instant;

mod common;
use common::{KEY, NOW, six_sha1_compressions, totp_rs, twostep, wrong_code};

const ROUNDS: usize = 301;
const ITERATIONS: u32 = 2_000;

fn nanos_per_call(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let ours = twostep(KEY);
    let theirs = totp_rs(KEY);
    let code = wrong_code(&ours);

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
            black_box(six_sha1_compressions());
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
