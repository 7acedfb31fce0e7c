//! `KeyUri::parse` on arbitrary bytes: it never panics, and whatever it accepts round-trips:
//! `parse(to_uri(parse(x)))` succeeds, equals `parse(x)`, and prints the same URI again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twostep_otp::KeyUri;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = KeyUri::parse(input) else {
        return;
    };
    let printed = uri.to_uri();
    let reparsed = match KeyUri::parse(&printed) {
        Ok(reparsed) => reparsed,
        Err(e) => panic!("to_uri() output does not parse again: {e} ({e:?})"),
    };
    assert_eq!(reparsed, uri, "round trip changed the Key URI");
    assert_eq!(*reparsed.to_uri(), *printed, "to_uri() is not stable");
});
