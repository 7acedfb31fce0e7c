//! Stored parameters are validated again when deserialized.
#![cfg(feature = "serde")]

use twostep_otp::{Algorithm, Digits, Period, TotpParams, Window};

#[test]
fn valid_parameters_round_trip() {
    let params = TotpParams {
        algorithm: Algorithm::Sha256,
        digits: Digits::EIGHT,
        period: Period::new(60).expect("60"),
        t0: 5,
    };
    let json = serde_json::to_string(&params).expect("serializes");
    assert_eq!(
        json,
        r#"{"algorithm":"SHA256","digits":8,"period":60,"t0":5}"#
    );
    assert_eq!(
        serde_json::from_str::<TotpParams>(&json).expect("deserializes"),
        params
    );
    let window: Window = serde_json::from_str(r#"{"back":1,"forward":0}"#).expect("valid");
    assert_eq!(window, Window::new(1, 0).expect("valid"));
}

#[test]
fn corrupted_stored_parameters_are_errors_not_panics() {
    for json in [
        r#"{"algorithm":"SHA1","digits":9,"period":30}"#,
        r#"{"algorithm":"SHA1","digits":0,"period":30}"#,
        r#"{"algorithm":"SHA1","digits":6,"period":0}"#,
        r#"{"algorithm":"MD5","digits":6,"period":30}"#,
        r#"{"algorithm":"SHA1","digits":6,"period":-1}"#,
    ] {
        assert!(serde_json::from_str::<TotpParams>(json).is_err(), "{json}");
    }
    assert!(serde_json::from_str::<Window>(r#"{"back":200,"forward":0}"#).is_err());
    // Wide windows are chosen in code (`Window::risky_wide`), never by a stored setting.
    assert!(serde_json::from_str::<Window>(r#"{"back":3,"forward":0}"#).is_err());
}
