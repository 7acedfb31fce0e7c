//! Arbitrary bytes decoded as a stored recovery-code set: a typed error or a set, never a
//! panic; a decoded set serializes to a form that decodes to the same set.
//! (Matching is not fuzzed here: it runs Argon2 at the stored costs.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use twostep_recovery::RecoveryCodeSet;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = serde_json::from_slice::<RecoveryCodeSet>(data) {
        assert!(!set.is_empty() && set.remaining() <= set.len());
        let json = serde_json::to_vec(&set).expect("a set serializes");
        let again: RecoveryCodeSet = serde_json::from_slice(&json).expect("its own form decodes");
        assert_eq!(again, set);
    }
});
