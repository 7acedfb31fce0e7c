//! `Secret::from_base32` and `from_base32_legacy` on arbitrary strings: no panics; the strict
//! decoder accepts exactly what the legacy one accepts with at least 128 bits, to the same
//! bytes; and an accepted secret decodes back to itself from both `to_base32` and
//! `to_base32_grouped`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twostep_otp::{MIN_SECRET_BITS, Secret};

fuzz_target!(|input: &str| {
    let strict = Secret::from_base32(input);
    let legacy = Secret::from_base32_legacy(input);

    match (&strict, &legacy) {
        (Ok(s), Ok(l)) => assert_eq!(s, l, "strict and legacy decoders disagree on the bytes"),
        (Ok(_), Err(e)) => panic!("strict decoder accepts what legacy rejects: {e:?}"),
        (Err(_), Ok(l)) => assert!(
            l.bits() < MIN_SECRET_BITS,
            "strict decoder rejects a {}-bit secret the legacy one accepts",
            l.bits()
        ),
        (Err(_), Err(_)) => {}
    }

    if let Ok(secret) = &legacy {
        let plain = secret.to_base32();
        match Secret::from_base32_legacy(&plain) {
            Ok(again) => assert_eq!(&again, secret, "to_base32() decodes to another secret"),
            Err(e) => panic!("to_base32() output does not decode: {e:?}"),
        }
        let grouped = secret.to_base32_grouped();
        match Secret::from_base32_legacy(&grouped) {
            Ok(again) => assert_eq!(
                &again, secret,
                "to_base32_grouped() decodes to another secret"
            ),
            Err(e) => panic!("to_base32_grouped() output does not decode: {e:?}"),
        }
    }
});
