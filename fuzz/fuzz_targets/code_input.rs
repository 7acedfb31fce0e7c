//! `Code::parse` on arbitrary input (first byte picks 6, 7 or 8 digits, the rest is the typed
//! string): no panics; it accepts exactly the inputs of at most 64 bytes made of ASCII digits,
//! spaces and dashes with exactly `digits` digits; an accepted code displays as exactly those
//! digits and re-parses to an equal code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twostep_otp::{Code, Digits};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(digits) = Digits::new(6 + selector % 3) else {
        unreachable!("6..=8 are valid digit counts");
    };
    let n = usize::from(digits.get());

    let typed: String = input.chars().filter(|c| *c != ' ' && *c != '-').collect();
    let well_formed =
        input.len() <= 64 && typed.len() == n && typed.bytes().all(|b| b.is_ascii_digit());

    match Code::parse(input, digits) {
        Ok(code) => {
            assert!(well_formed, "accepted a malformed input");
            assert_eq!(code.digits(), digits);
            let shown = code.to_string();
            assert_eq!(shown.len(), n, "Display has the wrong length");
            assert!(
                shown.bytes().all(|b| b.is_ascii_digit()),
                "Display is not all digits"
            );
            assert_eq!(shown, typed, "Display differs from the digits typed");
            match Code::parse(&shown, digits) {
                Ok(again) => assert_eq!(again.to_string(), shown, "re-parse changed the code"),
                Err(e) => panic!("Display output does not parse again: {e:?}"),
            }
        }
        Err(e) => assert!(!well_formed, "rejected a well-formed input: {e:?}"),
    }
});
