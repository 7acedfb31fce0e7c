//! The verification path allocates nothing: a counting global allocator watches `verify` for
//! all three algorithms, for right, wrong, replayed and malformed codes.
//!
//! The count is process-wide, so this file runs without libtest (`harness = false`): a plain
//! `main` on one thread, where nothing but the code under test can allocate while it counts.

// A test, though not a `#[test]` (clippy allows `expect` only inside those).
#![allow(clippy::expect_used)]

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use twostep_otp::{Algorithm, Digits, Hotp, HotpParams, Secret, Totp, TotpParams, Window};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    verify_performs_zero_heap_allocations();
    println!("test verify_performs_zero_heap_allocations ... ok");
}

fn verify_performs_zero_heap_allocations() {
    let now = 1_700_000_000u64;
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let secret = Secret::from_bytes(&[7u8; 64]).expect("64 bytes");
        let params = TotpParams {
            algorithm,
            digits: Digits::new(8).expect("8"),
            ..TotpParams::default()
        };
        let totp = Totp::new(&secret, params).with_window(Window::new(2, 2).expect("valid"));
        let hotp = Hotp::new(
            &secret,
            HotpParams {
                algorithm,
                digits: Digits::SIX,
            },
        );
        // Prepare every input before counting.
        let right = totp.generate(now).expect("after T0").to_string();
        let spaced = format!("{} {}", &right[..4], &right[4..]);
        let hotp_right = hotp.generate(3).to_string();
        let step = params.step_at(now).expect("after T0");

        let region = Region::new(GLOBAL);
        let mut outcomes = 0usize;
        outcomes += usize::from(totp.verify(&right, now, None).is_ok());
        outcomes += usize::from(totp.verify(&spaced, now, Some(step - 1)).is_ok());
        outcomes += usize::from(totp.verify(&right, now, Some(step)).is_err()); // replayed
        outcomes += usize::from(totp.verify("00000000", now, None).is_err()); // wrong
        outcomes += usize::from(totp.verify("12a4", now, None).is_err()); // malformed
        outcomes += usize::from(hotp.verify(&hotp_right, 0, 5).is_ok());
        let stats = region.change();

        assert_eq!(outcomes, 6, "{algorithm}: each outcome as expected");
        assert_eq!(stats.allocations, 0, "{algorithm}: {stats:?}");
        assert_eq!(stats.reallocations, 0, "{algorithm}: {stats:?}");
    }
}
