//! Runs the `otp` example binary (built by `cargo test` alongside this test) the way the
//! README documents it, and checks output and exit status of every command.

use std::path::PathBuf;
use std::process::{Command, Output};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn otp_binary() -> PathBuf {
    // target/debug/deps/otp_cli-HASH → target/debug/examples/otp
    let mut path = std::env::current_exe().expect("test binary path");
    path.pop();
    path.pop();
    path.push("examples");
    path.push(format!("otp{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "cargo test builds the examples first: {}",
        path.display()
    );
    path
}

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn otp(args: &[&str]) -> Output {
    Command::new(otp_binary())
        .args(args)
        .output()
        .expect("runs")
}

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

#[test]
fn secret_prints_a_fresh_160_bit_base32_secret() {
    let first = otp(&["secret"]);
    let second = otp(&["secret"]);
    assert!(first.status.success());
    let text = stdout(&first);
    assert_eq!(text.trim().len(), 32, "{text}");
    assert!(
        text.trim()
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    assert_ne!(text, stdout(&second));
}

#[test]
fn code_and_hotp_match_the_rfc_vectors() {
    let out = otp(&[
        "code",
        "--secret",
        SEED,
        "--time",
        "1111111109",
        "--digits",
        "8",
    ]);
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (Some(0), "07081804\n".into())
    );
    let seed256 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";
    let out = otp(&[
        "code",
        "--secret",
        seed256,
        "--time",
        "59",
        "--digits",
        "8",
        "--algorithm",
        "sha256",
    ]);
    assert_eq!(stdout(&out), "46119246\n");
    let out = otp(&["code", "--secret", SEED, "--time", "119", "--period", "60"]);
    assert_eq!(stdout(&out), "287082\n");
    let out = otp(&["hotp", "--secret", SEED, "--counter", "7", "--digits", "7"]);
    assert_eq!(stdout(&out), "2162583\n");
}

#[test]
fn verify_reports_accepted_or_the_rejection_kind() {
    let base = ["verify", "--secret", SEED, "--time", "89"];
    let run = |extra: &[&str]| {
        let out = otp(&[&base[..], extra].concat());
        (out.status.code(), stdout(&out))
    };
    assert_eq!(
        run(&["--code", "287082"]),
        (Some(0), "accepted step=1 drift=-1\n".into())
    );
    assert_eq!(
        run(&["--code", "287 082", "--last-step", "1"]),
        (Some(1), "rejected: replayed\n".into())
    );
    assert_eq!(
        run(&["--code", "287082", "--back", "0"]),
        (Some(1), "rejected: mismatch\n".into())
    );
    assert_eq!(
        run(&["--code", "28708"]),
        (Some(1), "rejected: malformed\n".into())
    );
}

#[test]
fn uri_and_parse_uri_round_trip() {
    let out = otp(&[
        "uri",
        "--secret",
        SEED,
        "--issuer",
        "ACME Co",
        "--account",
        "john doe",
        "--algorithm",
        "sha512",
    ]);
    let uri = stdout(&out);
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/ACME%20Co:john%20doe?secret={SEED}&issuer=ACME%20Co&algorithm=SHA512\n"
        )
    );
    let out = otp(&["parse-uri", uri.trim()]);
    assert_eq!(
        stdout(&out),
        "type=totp\nissuer=ACME Co\naccount=john doe\nalgorithm=SHA512\ndigits=6\nperiod=30\ncounter=\n"
    );
    let out = otp(&[
        "parse-uri",
        "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&issuer=B",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("differ"));
}

#[test]
fn qr_writes_svg_png_and_terminal_output() {
    let dir = std::env::temp_dir().join(format!("twostep-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (svg, png) = (dir.join("code.svg"), dir.join("code.png"));
    let base = [
        "qr",
        "--secret",
        SEED,
        "--issuer",
        "DFINERY",
        "--account",
        "a@example.com",
    ];
    assert!(
        otp(&[&base[..], &["--svg", svg.to_str().unwrap()]].concat())
            .status
            .success()
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert!(
        otp(&[&base[..], &["--png", png.to_str().unwrap()]].concat())
            .status
            .success()
    );
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let out = otp(&[&base[..], &["--terminal"]].concat());
    assert!(stdout(&out).contains('▄'));
    assert_eq!(otp(&base).status.code(), Some(2), "one output is required");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_an_error_message_and_status_2_never_a_panic() {
    for args in [
        &[][..],
        &["bogus"],
        &["code"],
        &["code", "--secret", "not base32!"],
        &["code", "--secret", SEED, "--digits", "9"],
        &["code", "--secret", SEED, "--period", "0"],
        &["code", "--secret", SEED, "--time", "-1"],
        &["code", "--secret", SEED, "--algorithm", "md5"],
        &["hotp", "--secret", SEED],
        &["verify", "--secret", SEED],
        &["verify", "--secret", SEED, "--code", "1", "--back", "99"],
        &["uri", "--secret", SEED, "--issuer", "A:B", "--account", "c"],
    ] {
        let out = otp(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("otp: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
