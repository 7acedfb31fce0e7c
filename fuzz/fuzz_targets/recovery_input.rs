//! Normalisation of typed recovery codes: any string either parses or is a typed error,
//! never a panic; a parsed code's display form parses back to the same code, in upper case
//! and without separators too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twostep_recovery::RecoveryCode;

fuzz_target!(|input: &str| {
    if let Ok(code) = RecoveryCode::parse(input) {
        let shown = code.to_string();
        for variant in [shown.clone(), shown.to_uppercase(), shown.replace('-', "")] {
            let again = RecoveryCode::parse(&variant).expect("a displayed code parses");
            assert_eq!(again.to_string(), shown, "normalisation is not idempotent");
        }
    }
});
