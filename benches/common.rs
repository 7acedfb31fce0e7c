//! What the TOTP benches share: the contenders, the wrong code, and the floor.

use std::hint::black_box;

use twostep_otp::{Secret, Totp, TotpParams};

/// The RFC 6238 SHA-1 seed.
pub(crate) const KEY: &[u8; 20] = b"12345678901234567890";
/// The verification time.
pub(crate) const NOW: u64 = 1_700_000_000;

/// totp-rs 6 with the same parameters and a ±1 window.
pub(crate) fn totp_rs(key: &[u8]) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_secret(key)
        .with_skew(1)
        .with_step_duration(30)
        .with_digits(6)
        .build()
        .expect("valid totp-rs config")
}

/// twostep-otp with the defaults (SHA-1, 6 digits, 30 s, ±1 window).
pub(crate) fn twostep(key: &[u8]) -> Totp {
    Totp::new(
        &Secret::from_bytes(key).expect("20 bytes"),
        TotpParams::default(),
    )
}

/// A code that matches no step of the ±1 window at `NOW`, so every verifier scans it all.
pub(crate) fn wrong_code(totp: &Totp) -> String {
    let step = TotpParams::default().step_at(NOW).expect("after T0");
    let window: Vec<String> = (step - 1..=step + 1)
        .map(|s| totp.generate_at_step(s).to_string())
        .collect();
    let code = (0..)
        .map(|n: u32| format!("{:06}", n * 7_919 % 1_000_000))
        .find(|code| !window.contains(code))
        .expect("a code outside the window");
    assert!(twostep(KEY).verify(&code, NOW, None).is_err());
    assert!(totp_rs(KEY).check(&code, NOW).is_none());
    code
}

/// The floor: six single-block SHA-1 compressions, each from a midstate, and nothing else —
/// the least a verifier of a ±1 window does once the key's HMAC pads are precomputed.
pub(crate) fn six_sha1_compressions() -> u32 {
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
