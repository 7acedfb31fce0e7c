//! Recovery codes end to end: shape and check symbol (property tests), normalisation,
//! one-time consumption, re-issue, the stored form and what never leaks.

use proptest::prelude::*;
use twostep_recovery::{
    CODE_SYMBOLS, ConsumeError, HashParams, IssuedCodes, Locale, ParseError, RecoveryCode,
    RecoveryCodeSet, RedeemError, SetError,
};

const ALPHABET: &str = "0123456789abcdefghjkmnpqrstvwxyz";
const NOW: u64 = 1_764_288_000; // 2025-11-28

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn fast() -> HashParams {
    HashParams::new(8, 1, 1).expect("minimal Argon2 costs")
}

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn issue(count: usize) -> (IssuedCodes, RecoveryCodeSet) {
    RecoveryCodeSet::generate(&mut rand::rng(), count, &fast(), NOW).expect("generates")
}

/// Codes from a seeded RNG, so a failing property case can be replayed and shrunk.
#[allow(clippy::expect_used)] // a failed setup is a failed test
fn issue_seeded(seed: u64, count: usize) -> (IssuedCodes, RecoveryCodeSet) {
    use rand::SeedableRng as _;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    RecoveryCodeSet::generate(&mut rng, count, &fast(), NOW).expect("generates")
}

fn canonical(code: &RecoveryCode) -> String {
    code.to_string().replace('-', "")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_codes_are_unique_and_normalise_to_themselves(seed in any::<u64>()) {
        let (issued, set) = issue_seeded(seed, 10);
        prop_assert_eq!(set.len(), 10);
        let mut seen: Vec<String> = issued.codes().iter().map(canonical).collect();
        for code in issued.codes() {
            let shown = code.to_string();
            prop_assert_eq!(shown.len(), CODE_SYMBOLS + 3);
            prop_assert!(shown.chars().all(|c| c == '-' || ALPHABET.contains(c)));
            prop_assert_eq!(RecoveryCode::parse(&shown).expect("own form").to_string(), shown);
        }
        seen.sort();
        seen.dedup();
        prop_assert_eq!(seen.len(), 10);
    }

    #[test]
    fn every_normalisation_variant_is_the_same_code(
        upper in proptest::collection::vec(any::<bool>(), CODE_SYMBOLS),
        separators in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just("  "), Just("\t")], CODE_SYMBOLS),
        lookalikes in proptest::collection::vec(any::<bool>(), CODE_SYMBOLS),
        seed in any::<u64>(),
    ) {
        let (issued, _) = issue_seeded(seed, 1);
        let code = &issued.codes()[0];
        let mut typed = String::new();
        for (i, ch) in canonical(code).chars().enumerate() {
            let ch = match (ch, lookalikes[i]) {
                ('0', true) => 'O',
                ('1', true) => if upper[i] { 'I' } else { 'l' },
                (ch, _) if upper[i] => ch.to_ascii_uppercase(),
                (ch, _) => ch,
            };
            typed.push(ch);
            typed.push_str(separators[i]);
        }
        prop_assert_eq!(RecoveryCode::parse(&typed).expect("a variant").to_string(), code.to_string());
    }

    #[test]
    fn the_check_symbol_catches_every_substitution_and_adjacent_transposition(seed in any::<u64>()) {
        let (issued, _) = issue_seeded(seed, 1);
        let symbols: Vec<char> = canonical(&issued.codes()[0]).chars().collect();
        for position in 0..CODE_SYMBOLS {
            for replacement in ALPHABET.chars().filter(|c| *c != symbols[position]) {
                let mut typo = symbols.clone();
                typo[position] = replacement;
                let typo: String = typo.into_iter().collect();
                prop_assert_eq!(RecoveryCode::parse(&typo).err(), Some(ParseError::CheckFailed), "{}", typo);
            }
        }
        for position in 0..CODE_SYMBOLS - 1 {
            if symbols[position] != symbols[position + 1] {
                let mut swapped = symbols.clone();
                swapped.swap(position, position + 1);
                let swapped: String = swapped.into_iter().collect();
                prop_assert_eq!(RecoveryCode::parse(&swapped).err(), Some(ParseError::CheckFailed), "{}", swapped);
            }
        }
    }

    #[test]
    fn normalisation_never_panics(input in "\\PC{0,40}") {
        let _ = RecoveryCode::parse(&input);
    }
}

#[test]
fn malformed_input_is_a_typed_error_before_any_hashing() {
    let cases: [(&str, ParseError); 5] = [
        ("", ParseError::Empty),
        (" - -", ParseError::Empty),
        (
            "abcd-efgh-jkmn-pqr",
            ParseError::WrongLength {
                expected: 16,
                found: 15,
            },
        ),
        (
            "abcd-efgh-jkmn-pqrst",
            ParseError::WrongLength {
                expected: 16,
                found: 17,
            },
        ),
        (
            "abcd-efgh-jkmn-pqru",
            ParseError::InvalidCharacter { position: 18 },
        ),
    ];
    for (input, error) in cases {
        assert_eq!(RecoveryCode::parse(input).err(), Some(error), "{input:?}");
    }
    assert!(matches!(
        RecoveryCode::parse("abcd_efgh"),
        Err(ParseError::InvalidCharacter { position: 4 })
    ));
    assert!(matches!(
        RecoveryCode::parse("ａbcd-efgh-jkmn-pqrs"),
        Err(ParseError::InvalidCharacter { position: 0 })
    ));
    assert!(matches!(
        RecoveryCode::parse(&"a".repeat(10_000)),
        Err(ParseError::WrongLength { .. })
    ));
    let (_, set) = issue(3);
    assert!(matches!(
        set.redeem("not a code", NOW),
        Err(RedeemError::Malformed(_))
    ));
}

#[test]
fn a_code_works_once_and_consuming_touches_only_that_code() {
    let (issued, set) = issue(10);
    let typed = issued.codes()[4]
        .to_string()
        .to_uppercase()
        .replace('-', " ");
    let redeemed = set.redeem(&typed, NOW + 60).expect("a valid code");
    assert_eq!(redeemed.slot.index(), 4);
    assert_eq!(redeemed.remaining, 9);
    // The old set is untouched; the new one differs in exactly that code.
    assert_eq!(set.remaining(), 10);
    let used: Vec<Option<u64>> = redeemed.set.used_at().collect();
    assert_eq!(used.iter().filter(|u| u.is_some()).count(), 1);
    assert_eq!(used[4], Some(NOW + 60));
    // Never again, in any spelling; the other codes still work.
    assert_eq!(
        redeemed.set.redeem(&typed, NOW + 61).err(),
        Some(RedeemError::NoMatch)
    );
    assert_eq!(redeemed.set.find(&issued.codes()[4]).expect("hashes"), None);
    assert!(
        redeemed
            .set
            .redeem(&issued.codes()[5].to_string(), NOW + 62)
            .is_ok()
    );
    // Consuming a used slot is refused.
    assert_eq!(
        redeemed.set.consume(redeemed.slot, NOW + 63).err(),
        Some(ConsumeError::AlreadyUsed)
    );
}

#[test]
fn the_low_warning_starts_at_three_remaining() {
    let (issued, mut set) = issue(5);
    let mut lows = Vec::new();
    for code in issued.codes() {
        let redeemed = set.redeem(&code.to_string(), NOW).expect("valid");
        lows.push((redeemed.remaining, redeemed.low));
        set = redeemed.set;
    }
    assert_eq!(
        lows,
        [(4, false), (3, true), (2, true), (1, true), (0, true)]
    );
    assert!(set.is_low());
}

#[test]
fn a_reissued_set_replaces_the_old_one_entirely() {
    let (old_codes, old_set) = issue(10);
    let (new_codes, new_set) = issue(10);
    for code in old_codes.codes() {
        assert_eq!(
            new_set.find(code).expect("hashes"),
            None,
            "an old code never matches the new set"
        );
    }
    // A slot found in the old set cannot consume a code of the new one.
    let slot = old_set
        .find(&old_codes.codes()[0])
        .expect("hashes")
        .expect("found");
    assert_eq!(
        new_set.consume(slot, NOW).err(),
        Some(ConsumeError::WrongSet)
    );
    // And two sets cannot be merged through their stored form.
    let mut old: serde_json::Value = serde_json::to_value(&old_set).unwrap();
    let new: serde_json::Value = serde_json::to_value(&new_set).unwrap();
    old["codes"][0] = new["codes"][0].clone();
    assert!(
        serde_json::from_value::<RecoveryCodeSet>(old)
            .unwrap_err()
            .to_string()
            .contains(&SetError::Mixed.to_string())
    );
    assert!(
        new_set
            .redeem(&new_codes.codes()[0].to_string(), NOW)
            .is_ok()
    );
}

#[test]
fn the_stored_form_holds_argon2id_phc_strings_and_round_trips() {
    let (issued, set) = issue(10);
    let set = set
        .redeem(&issued.codes()[2].to_string(), NOW + 5)
        .expect("valid")
        .set;
    let json = serde_json::to_string(&set).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["created_at"], NOW);
    let codes = value["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    for stored in codes {
        assert!(
            stored["hash"]
                .as_str()
                .unwrap()
                .starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
            "{stored}"
        );
    }
    assert_eq!(codes[2]["used_at"], NOW + 5);
    let decoded: RecoveryCodeSet = serde_json::from_str(&json).unwrap();
    assert_eq!(decoded, set);
    assert_eq!(
        decoded.redeem(&issued.codes()[2].to_string(), NOW).err(),
        Some(RedeemError::NoMatch)
    );
    assert!(decoded.redeem(&issued.codes()[3].to_string(), NOW).is_ok());
}

#[test]
fn verification_uses_the_parameters_stored_with_the_hashes() {
    // A set hashed with other costs still verifies: the costs travel in the PHC strings.
    let other = HashParams::new(16, 2, 1).unwrap();
    let (issued, set) = RecoveryCodeSet::generate(&mut rand::rng(), 3, &other, NOW).unwrap();
    let decoded: RecoveryCodeSet =
        serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
    assert_eq!(decoded.params(), other);
    assert!(decoded.redeem(&issued.codes()[1].to_string(), NOW).is_ok());
}

#[test]
fn corrupted_stored_sets_are_typed_errors() {
    let (_, set) = issue(3);
    let good: serde_json::Value = serde_json::to_value(&set).unwrap();
    let hash = good["codes"][0]["hash"].as_str().unwrap().to_owned();
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value = good.clone();
        edit(&mut value);
        serde_json::from_value::<RecoveryCodeSet>(value)
            .unwrap_err()
            .to_string()
    };
    assert!(with(&|v| v["version"] = 2.into()).contains("version 2"));
    assert!(with(&|v| v["codes"] = serde_json::json!([])).contains("not 0"));
    assert!(with(&|v| v["codes"][1]["hash"] = "plaintext".into()).contains("code 1"));
    assert!(
        with(&|v| v["codes"][1]["hash"] = hash.replace("argon2id", "argon2i").into())
            .contains("code 1")
    );
    assert!(
        with(&|v| v["codes"][1]["hash"] = hash.replace("m=8", "m=2097152").into())
            .contains("code 1")
    );
    assert!(with(&|v| v["codes"][1]["hash"] = hash.clone().into()).contains("twice"));
    assert!(serde_json::from_str::<RecoveryCodeSet>("{").is_err());
    assert!(serde_json::from_str::<RecoveryCodeSet>("[]").is_err());
}

#[test]
fn plaintext_never_appears_in_debug_errors_or_the_stored_form() {
    let (issued, set) = issue(10);
    let redeemed = set.redeem(&issued.codes()[0].to_string(), NOW).unwrap();
    let stored = serde_json::to_string(&redeemed.set).unwrap();
    let debug = format!(
        "{issued:?} {set:?} {redeemed:?} {:?} {:?} {:?}",
        issued.codes(),
        issued.download_file("DFINERY", "a@b.c", Locale::En),
        set.redeem(&issued.codes()[0].to_string(), NOW).err(),
    );
    let errors: String = [
        RecoveryCode::parse(&format!("{}x", issued.codes()[1]))
            .unwrap_err()
            .to_string(),
        redeemed
            .set
            .redeem(&issued.codes()[0].to_string(), NOW)
            .unwrap_err()
            .to_string(),
    ]
    .concat();
    for code in issued.codes() {
        for text in [&stored, &debug, &errors] {
            assert!(!text.to_lowercase().contains(&canonical(code)), "{text}");
            assert!(!text.contains(&code.to_string()), "{text}");
        }
    }
}

#[test]
fn the_clipboard_and_download_texts_hold_every_code() {
    let (issued, _) = issue(10);
    let clipboard = issued.clipboard_text();
    assert_eq!(
        clipboard.lines().collect::<Vec<_>>(),
        issued
            .codes()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    let en = issued.download_file("DFINERY", "alice@example.com", Locale::En);
    assert_eq!(en.file_name, "dfinery-recovery-codes.txt");
    for needle in [
        "DFINERY recovery codes",
        "Account: alice@example.com",
        "Generated: 2025-11-28 (UTC)",
        "used once",
        "safe",
        "stop working",
    ] {
        assert!(en.contents.contains(needle), "{needle}");
    }
    let ko = issued.download_file("DFINERY", "alice@example.com", Locale::Ko);
    for needle in [
        "DFINERY 복구 코드",
        "계정: alice@example.com",
        "생성일: 2025-11-28 (UTC)",
        "한 번만",
        "안전한 곳",
        "재발급",
    ] {
        assert!(ko.contents.contains(needle), "{needle}");
    }
    for code in issued.codes() {
        assert!(en.contents.contains(&code.to_string()) && ko.contents.contains(&code.to_string()));
    }
}

/// An RNG that always returns the same bytes: broken, as some test doubles are.
struct Stuck;
impl rand_core::TryRng for Stuck {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(7)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(7)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(7);
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Stuck {}

#[test]
fn a_broken_rng_is_an_error_not_an_endless_loop() {
    assert_eq!(
        RecoveryCodeSet::generate(&mut Stuck, 2, &fast(), NOW).err(),
        Some(SetError::Randomness)
    );
    assert!(RecoveryCodeSet::generate(&mut Stuck, 1, &fast(), NOW).is_ok());
}

#[test]
fn stored_hashes_with_a_key_id_or_data_are_not_ours() {
    let (_, set) = issue(2);
    let mut value: serde_json::Value = serde_json::to_value(&set).unwrap();
    let hash = value["codes"][0]["hash"]
        .as_str()
        .unwrap()
        .replace("p=1$", "p=1,keyid=AAAA$");
    value["codes"][0]["hash"] = hash.into();
    assert!(
        serde_json::from_value::<RecoveryCodeSet>(value)
            .unwrap_err()
            .to_string()
            .contains("code 0")
    );
}

#[test]
fn counts_and_costs_are_validated() {
    let mut rng = rand::rng();
    assert_eq!(
        RecoveryCodeSet::generate(&mut rng, 0, &fast(), NOW).err(),
        Some(SetError::Count(0))
    );
    assert_eq!(
        RecoveryCodeSet::generate(&mut rng, 33, &fast(), NOW).err(),
        Some(SetError::Count(33))
    );
    assert_eq!(HashParams::new(4, 1, 1).err(), Some(SetError::Params));
    assert_eq!(HashParams::new(8, 0, 1).err(), Some(SetError::Params));
    assert_eq!(HashParams::new(8, 9, 1).err(), Some(SetError::Params));
    assert_eq!(HashParams::new(64, 1, 5).err(), Some(SetError::Params));
    assert_eq!(
        HashParams::new((1 << 18) + 1, 1, 1).err(),
        Some(SetError::Params)
    );
    assert!(HashParams::new(1 << 18, 8, 4).is_ok());
}

/// Later codes are read by their hash alone when they share the first's text up to it: an
/// edit anywhere in one of them is still refused, naming it.
#[test]
fn an_edited_later_code_is_refused_by_index() {
    let (_, set) = issue(10);
    let (_, other) = issue(10);
    let stored: serde_json::Value = serde_json::to_value(&set).unwrap();
    let hash_of = |value: &serde_json::Value, index: usize| {
        value["codes"][index]["hash"].as_str().unwrap().to_owned()
    };
    let first = hash_of(&stored, 3);
    let (prefix, encoded) = first.rsplit_once('$').unwrap();
    let edits = [
        // Another set's code: its salt differs.
        (hash_of(&serde_json::to_value(&other).unwrap(), 0), "mixed"),
        // The hash cut short, lengthened, or not base64.
        (format!("{prefix}${}", &encoded[1..]), "invalid"),
        (format!("{prefix}${encoded}AA"), "invalid"),
        (format!("{prefix}${}*", &encoded[1..]), "invalid"),
        (format!("{prefix}{encoded}"), "invalid"),
        // Another cost in the parameters.
        (first.replacen("m=8,", "m=16,", 1), "mixed"),
    ];
    for (edited, expected) in edits {
        let mut value = stored.clone();
        value["codes"][3]["hash"] = serde_json::Value::String(edited.clone());
        let error = serde_json::from_value::<RecoveryCodeSet>(value)
            .unwrap_err()
            .to_string();
        let wanted = match expected {
            "mixed" => SetError::Mixed.to_string(),
            _ => SetError::InvalidHash { index: 3 }.to_string(),
        };
        assert!(error.contains(&wanted), "{edited}: {error}");
    }
}
