//! Secrets (generation, base32 import, strength, redaction) and otpauth:// Key URIs (the KUF
//! examples, tolerance, strictness, round trips).

use proptest::prelude::*;
use twostep_otp::{
    Algorithm, Digits, HotpParams, KeyUri, NameField, OtpKind, ParamError, Period, Secret,
    SecretError, Strength, TotpParams, UriError,
};

const SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[test]
fn generated_secrets_are_160_bits_by_default_and_distinct() {
    let mut rng = rand::rng();
    let a = Secret::generate(&mut rng);
    let b = Secret::generate(&mut rng);
    assert_eq!(a.bits(), 160);
    assert_eq!(a.to_base32().len(), 32);
    assert_ne!(a, b);
    assert_eq!(
        Secret::generate_for(Algorithm::Sha256, &mut rng).bits(),
        256
    );
    assert_eq!(
        Secret::generate_for(Algorithm::Sha512, &mut rng).bits(),
        512
    );
}

#[test]
fn minimum_lengths_are_enforced_with_clear_errors() {
    assert_eq!(
        Secret::from_bytes(&[0u8; 15]).err(),
        Some(SecretError::TooShort {
            bits: 120,
            min_bits: 128
        })
    );
    assert_eq!(
        Secret::from_bytes(&[0u8; 16]).map(|s| s.strength()),
        Ok(Strength::Minimum)
    );
    assert_eq!(
        Secret::from_bytes(&[0u8; 65]).err(),
        Some(SecretError::TooLong { max_bytes: 64 })
    );
    // An 80-bit secret: refused by the strict import, accepted and flagged by the legacy one.
    assert_eq!(
        Secret::from_base32("JBSWY3DPEHPK3PXP").err(),
        Some(SecretError::TooShort {
            bits: 80,
            min_bits: 128
        })
    );
    let legacy = Secret::from_base32_legacy("JBSWY3DPEHPK3PXP").expect("80 bits");
    assert_eq!(legacy.expose_bytes(), b"Hello!\xde\xad\xbe\xef");
    assert_eq!(legacy.strength(), Strength::BelowMinimum);
    assert!(Secret::from_base32_legacy("MZXW6YTBOI").is_err(), "48 bits");
}

#[test]
fn base32_import_is_forgiving_about_presentation_only() {
    let expected = b"12345678901234567890";
    for input in [
        SEED_B32,
        "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
        "gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
    ] {
        assert_eq!(
            Secret::from_base32(input).map(|s| s.expose_bytes().to_vec()),
            Ok(expected.to_vec()),
            "{input}"
        );
    }
    // 20-byte seeds need no padding; 32-byte ones would, and it is omitted when encoding.
    let long = Secret::from_bytes(b"12345678901234567890123456789012").expect("32 bytes");
    assert_eq!(
        *long.to_base32(),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"
    );
    assert_eq!(
        Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA======").ok(),
        Some(long)
    );

    assert_eq!(
        Secret::from_base32("GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ").err(),
        Some(SecretError::InvalidCharacter { position: 15 })
    );
    assert_eq!(
        Secret::from_base32("GEZDGNBVGY3TQOJQ=GEZDGNBVGY3TQOJQ").err(),
        Some(SecretError::InvalidCharacter { position: 17 })
    );
    // Non-zero pad bits (…GEZB instead of …GEZA) and an impossible length.
    assert_eq!(
        Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZB").err(),
        Some(SecretError::NonCanonical)
    );
    assert_eq!(
        Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQG").err(),
        Some(SecretError::NonCanonical)
    );
}

#[test]
fn key_uri_format_examples_parse() {
    let uri = KeyUri::parse(
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
    )
    .expect("KUF example");
    assert_eq!(
        (uri.issuer(), uri.account()),
        (Some("Example"), "alice@google.com")
    );
    assert_eq!(uri.totp_params(), Some(TotpParams::default()));
    assert_eq!(uri.secret().strength(), Strength::BelowMinimum);

    let uri = KeyUri::parse("otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30")
        .expect("KUF example");
    assert_eq!(
        (uri.issuer(), uri.account()),
        (Some("ACME Co"), "john.doe@email.com")
    );
    assert_eq!(
        uri.secret().expose_bytes(),
        &[
            0x3d, 0xc6, 0xca, 0xa4, 0x82, 0x4a, 0x6d, 0x28, 0x87, 0x67, 0xb2, 0x33, 0x1e, 0x20,
            0xb4, 0x31, 0x66, 0xcb, 0x85, 0xd9
        ]
    );

    let uri = KeyUri::parse(
        "otpauth://totp/Big%20Corporation%3A%20alice%40bigco.com?secret=JBSWY3DPEHPK3PXP",
    )
    .expect("encoded colon");
    assert_eq!(
        (uri.issuer(), uri.account()),
        (Some("Big Corporation"), "alice@bigco.com")
    );

    let uri = KeyUri::parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP").expect("no issuer");
    assert_eq!((uri.issuer(), uri.account()), (None, "alice"));
}

#[test]
fn parsing_tolerates_real_world_variation() {
    let uri = KeyUri::parse("OTPAUTH://TOTP/Acme:bob?SECRET=gezdgnbvgy3tqojqgezdgnbvgy3tqojq%3D%3D%3D%3D&algorithm=sha256&digits=8&period=60&image=https%3A%2F%2Fx&color=red#frag")
        .expect("tolerant");
    assert_eq!(uri.algorithm(), Algorithm::Sha256);
    assert_eq!(uri.digits(), Digits::EIGHT);
    assert_eq!(
        uri.kind(),
        OtpKind::Totp {
            period: Period::new(60).expect("60")
        }
    );
    assert_eq!(uri.issuer(), Some("Acme"), "issuer from the label prefix");
    // `+` is a literal plus, not a space.
    let uri = KeyUri::parse(&format!(
        "otpauth://totp/A+B:c+d?secret={SEED_B32}&issuer=A+B"
    ))
    .expect("plus");
    assert_eq!((uri.issuer(), uri.account()), (Some("A+B"), "c+d"));
    // HOTP with its counter.
    let uri = KeyUri::parse(&format!(
        "otpauth://hotp/Acme:bob?secret={SEED_B32}&counter=42"
    ))
    .expect("hotp");
    assert_eq!(uri.kind(), OtpKind::Hotp { counter: 42 });
    assert_eq!(
        uri.to_hotp().map(|h| h.generate(0).to_string()),
        Some("755224".into())
    );
}

#[test]
fn parsing_is_strict_where_codes_or_names_would_change() {
    let cases: [(&str, UriError); 14] = [
        (
            "https://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            UriError::Scheme,
        ),
        (
            "otpauth://motp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            UriError::Type,
        ),
        (
            "otpauth://totp/?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            UriError::Label,
        ),
        (
            "otpauth://totp/%FF?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            UriError::Label,
        ),
        (
            "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=B",
            UriError::IssuerMismatch,
        ),
        ("otpauth://totp/A:b", UriError::MissingParameter("secret")),
        (
            "otpauth://hotp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            UriError::MissingParameter("counter"),
        ),
        (
            "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            UriError::DuplicateParameter("secret"),
        ),
        (
            "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=MD5",
            UriError::Param(ParamError::UnknownAlgorithm),
        ),
        (
            "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=300",
            UriError::InvalidParameter("digits"),
        ),
        (
            "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=9",
            UriError::Param(ParamError::Digits(9)),
        ),
        (
            "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&period=0",
            UriError::Param(ParamError::Period),
        ),
        (
            "otpauth://totp/A:b:c?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            UriError::InvalidName(NameField::Account),
        ),
        (
            "otpauth://totp/A:b?secret=JBSWY3DP",
            UriError::Secret(SecretError::TooShort {
                bits: 40,
                min_bits: 80,
            }),
        ),
    ];
    for (input, error) in cases {
        assert_eq!(KeyUri::parse(input).err(), Some(error), "{input}");
    }
    assert_eq!(
        KeyUri::parse(&"otpauth://".repeat(1_000)).err(),
        Some(UriError::TooLong)
    );
}

#[test]
fn review_edge_cases() {
    let seed = format!("secret={SEED_B32}");
    // An empty issuer parameter counts as absent.
    let uri =
        KeyUri::parse(&format!("otpauth://totp/Acme:bob?{seed}&issuer=")).expect("empty issuer");
    assert_eq!(uri.issuer(), Some("Acme"));
    // Direction overrides could make an app show another name than the one encoded.
    assert_eq!(
        KeyUri::parse(&format!("otpauth://totp/Acme:bob%E2%80%AEmoc.evil?{seed}")).err(),
        Some(UriError::InvalidName(NameField::Account))
    );
    // Only `SHA-256`-style dashes, not arbitrary ones.
    assert_eq!("sha-256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
    assert!("S-H-A-2-5-6".parse::<Algorithm>().is_err());
    // A name whose encoding would exceed what `parse` reads is refused when building, and an
    // input near the limit that would re-encode longer is refused when parsing.
    let long = "=".repeat(1_500);
    let secret = Secret::from_base32(SEED_B32).expect("seed");
    assert_eq!(
        KeyUri::totp(secret, Some("Acme"), &long, TotpParams::default()).err(),
        Some(UriError::TooLong)
    );
    let near_limit = format!("otpauth://totp/Acme:{}?{seed}", "=".repeat(3_000));
    assert!(near_limit.len() <= twostep_otp::MAX_URI_LEN);
    assert_eq!(KeyUri::parse(&near_limit).err(), Some(UriError::TooLong));
    // Huge base32 input is refused before it is read.
    assert_eq!(
        Secret::from_base32(&" ".repeat(10_000_000)).err(),
        Some(SecretError::TooLong { max_bytes: 64 })
    );
}

#[test]
fn building_follows_the_key_uri_format() {
    let secret = || Secret::from_base32(SEED_B32).expect("seed");
    let uri =
        KeyUri::totp(secret(), Some("ACME Co"), "john doe", TotpParams::default()).expect("valid");
    assert_eq!(
        *uri.to_uri(),
        format!("otpauth://totp/ACME%20Co:john%20doe?secret={SEED_B32}&issuer=ACME%20Co")
    );
    let params = TotpParams {
        algorithm: Algorithm::Sha512,
        digits: Digits::EIGHT,
        period: Period::new(60).expect("60"),
        t0: 0,
    };
    let uri = KeyUri::totp(secret(), Some("A&B"), "x+y@z", params).expect("valid");
    assert_eq!(
        *uri.to_uri(),
        format!(
            "otpauth://totp/A%26B:x%2By@z?secret={SEED_B32}&issuer=A%26B&algorithm=SHA512&digits=8&period=60"
        )
    );
    let uri = KeyUri::hotp(secret(), None, "bob", HotpParams::default(), 7).expect("valid");
    assert_eq!(
        *uri.to_uri(),
        format!("otpauth://hotp/bob?secret={SEED_B32}&counter=7")
    );

    assert_eq!(
        KeyUri::totp(secret(), Some("Acme:Inc"), "bob", TotpParams::default()).err(),
        Some(UriError::InvalidName(NameField::Issuer))
    );
    assert_eq!(
        KeyUri::totp(secret(), Some("Acme"), " bob", TotpParams::default()).err(),
        Some(UriError::InvalidName(NameField::Account))
    );
    assert_eq!(
        KeyUri::totp(secret(), Some("Acme"), "", TotpParams::default()).err(),
        Some(UriError::InvalidName(NameField::Account))
    );
    let shifted = TotpParams {
        t0: 1,
        ..TotpParams::default()
    };
    assert_eq!(
        KeyUri::totp(secret(), None, "bob", shifted).err(),
        Some(UriError::UnsupportedT0)
    );
}

fn name() -> impl Strategy<Value = String> {
    // Any printable text without a colon or edge whitespace, including the characters that
    // need escaping: @ + % & ? # / = and spaces, and non-ASCII.
    "[^:\\p{Cc}\u{200E}\u{200F}\u{061C}\u{202A}-\u{202E}\u{2066}-\u{2069}]{1,24}"
        .prop_filter("no edge whitespace", |s| s.trim() == s)
}

proptest! {
    #[test]
    fn build_then_parse_is_the_identity(
        key in proptest::collection::vec(any::<u8>(), 10..=64),
        issuer in proptest::option::of(name()),
        account in name(),
        algorithm in prop_oneof![Just(Algorithm::Sha1), Just(Algorithm::Sha256), Just(Algorithm::Sha512)],
        digits in 6u8..=8,
        period in 1u32..=u32::MAX,
        counter in proptest::option::of(any::<u64>()),
    ) {
        let secret = || Secret::from_base32_legacy(&base32_of(&key)).expect("≥ 80 bits");
        let digits = Digits::new(digits).expect("6..=8");
        let uri = match counter {
            Some(counter) => KeyUri::hotp(secret(), issuer.as_deref(), &account, HotpParams { algorithm, digits }, counter),
            None => KeyUri::totp(secret(), issuer.as_deref(), &account, TotpParams { algorithm, digits, period: Period::new(period).expect("≥ 1"), t0: 0 }),
        }.expect("valid names");
        let text = uri.to_uri();
        prop_assert!(!text.contains('+'), "spaces and pluses are percent-encoded: {}", *text);
        prop_assert_eq!(KeyUri::parse(&text).expect("parses"), uri);
    }

    #[test]
    fn base32_round_trips(key in proptest::collection::vec(any::<u8>(), 16..=64)) {
        let secret = Secret::from_bytes(&key).expect("16..=64 bytes");
        prop_assert_eq!(Secret::from_base32(&secret.to_base32()).expect("canonical"), Secret::from_bytes(&key).expect("same"));
        prop_assert_eq!(Secret::from_base32(&secret.to_base32_grouped()).expect("grouped"), secret);
    }

    #[test]
    fn parsing_never_panics(input in "otpauth://[a-zA-Z]{0,5}/\\PC{0,40}") {
        let _ = KeyUri::parse(&input);
    }
}

fn base32_of(bytes: &[u8]) -> String {
    base32::encode(base32::Alphabet::Rfc4648 { padding: false }, bytes)
}
