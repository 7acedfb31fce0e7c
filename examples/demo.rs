//! The twostep demo: enrol an authenticator app and verify a code, end to end.
//!
//! `cargo run --example demo` — shows a new secret as a QR code in the terminal (scan it with
//! any authenticator app), the manual-entry key, then verifies the current code and shows that
//! the same code is refused a second time; then issues recovery codes, saves the download
//! file, and signs in with one of them as if the phone were lost. Later versions grow this
//! into the whole product flow (email check, login, re-issue, disable, org mandates).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use twostep::otp::{KeyUri, Secret, Totp, TotpParams};
use twostep::recovery::{HashParams, Locale, RecoveryCodeSet};

const ISSUER: &str = "DFINERY";
const ACCOUNT: &str = "alice@example.com";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let params = TotpParams::default();
    let secret = Secret::generate(&mut rand::rng());
    let totp = Totp::new(&secret, params);
    let manual_key = secret.to_base32_grouped();
    let uri = KeyUri::totp(secret, Some(ISSUER), ACCOUNT, params)?;

    println!("== Two-step verification: set up your authenticator app ==\n");
    println!("Scan this QR code with Google Authenticator, Microsoft Authenticator, 2FAS, …\n");
    print!("{}", *uri.to_qr()?.to_terminal());
    println!("\nCan't scan it? Enter the key by hand:");
    println!("  Account:  {ACCOUNT} ({ISSUER})");
    println!("  Key:      {}", *manual_key);
    println!(
        "  Type:     time based, {} digits, every {} s",
        params.digits.get(),
        params.period.seconds()
    );

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    // The demo plays the user: it reads the code the app would show right now.
    let code = totp.generate(now)?.to_string();
    println!("\n== Confirm with the 6-digit code from the app ==\n");
    println!("  You typed:  {code}");
    let accepted = totp
        .verify(&code, now, None)
        .map_err(|rejection| format!("the code was refused: {rejection}"))?;
    println!(
        "  Accepted:   step {} (drift {}); store it as the last accepted step",
        accepted.step, accepted.drift
    );
    match totp.verify(&code, now, Some(accepted.step)) {
        Err(rejection) => println!("  Again:      refused ({rejection}) — each code works once"),
        Ok(_) => return Err("a replayed code was accepted".into()),
    }
    println!(
        "  Wrong code: refused ({})",
        totp.verify("000000", now, Some(accepted.step))
            .err()
            .map_or("?".into(), |r| r.to_string())
    );

    println!("\n== Save your recovery codes (required) ==\n");
    let (issued, stored) =
        RecoveryCodeSet::generate(&mut rand::rng(), 10, &HashParams::default(), now)?;
    for code in issued.codes() {
        println!("  {code}");
    }
    let file = issued.download_file(ISSUER, ACCOUNT, Locale::En);
    let path = save_privately(&file.file_name, file.contents.as_bytes())?;
    println!("\n  Downloaded: {}", path.display());
    println!(
        "  Stored:     {} Argon2id hashes, no code in the clear",
        stored.len()
    );
    println!("  [x] I have saved my recovery codes    [ Done ]");

    println!("\nTwo-step verification is on for {ACCOUNT}.");

    println!("\n== Later: the phone is lost; sign in with a recovery code ==\n");
    let first = issued
        .codes()
        .first()
        .ok_or("no recovery codes were issued")?;
    let typed = first.to_string().to_uppercase();
    let redeemed = stored.redeem(&typed, now + 86_400)?;
    println!("  You typed:  {typed}");
    println!("  Accepted:   {} recovery codes left", redeemed.remaining);
    match redeemed.set.redeem(&typed, now + 86_460) {
        Err(error) => println!("  Again:      refused ({error})"),
        Ok(_) => return Err("a used recovery code was accepted".into()),
    }
    Ok(())
}

/// Writes the "downloaded" file into a fresh directory of its own, readable by the owner
/// only, never over an existing file or through a planted link.
fn save_privately(name: &str, contents: &[u8]) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write as _;
    let dir = std::env::temp_dir().join(format!("twostep-demo-{}", std::process::id()));
    std::fs::create_dir(&dir)?;
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&path)?.write_all(contents)?;
    Ok(path)
}
