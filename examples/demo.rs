//! The twostep demo: every two-step verification flow, screen by screen, in the terminal.
//!
//! `cargo run --example demo` walks through it against an embedded SQLite database (a file
//! in a fresh temp dir; nothing to install), or against PostgreSQL with
//! `cargo run --example demo -- --database-url postgres://USER@HOST:PORT/DB`. TOTP secrets
//! are sealed with XChaCha20-Poly1305 under a key made for the run. It plays the user: the
//! email code from the console mailer, the QR code and manual key of the authenticator setup,
//! the first code, the recovery codes and their download file, sign-in with a code (and the
//! same code refused), sign-in with a recovery code, re-issue (an old code then refused), and
//! disable; and the organisation mandate: refused to an admin without 2FA, switched on with a
//! preview once she has it, a member sent to enroll at sign-in, and disabling blocked until it
//! is off.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use twostep::enrollment::Account;
use twostep::enrollment::memory::{
    FixedPasswords, MemoryDirectory, RecordingAudit, RecordingMailer, SettableClock,
};
use twostep::enrollment::{Clock, LoginStep, Mail, Saved, Service, Store as _};
use twostep::otp::Totp;
use twostep::policy::{Membership, Role};
use twostep::recovery::Locale;
use twostep::store_sqlx::{AeadSealer, SealingKey, SqlStore};

const ISSUER: &str = "DFINERY";
const USER: &str = "alice";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
const ORG: &str = "DFINERY Team";
const MEMBER: &str = "bob";

type Demo = Service<SqlStore, Arc<RecordingMailer>, FixedPasswords, MemoryDirectory>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let database_url = match parse_args() {
        Ok(url) => url,
        Err(error) => {
            eprintln!("demo: {error}\nusage: demo [--database-url sqlite://PATH|postgres://…]");
            return ExitCode::from(2);
        }
    };
    match run(database_url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `--database-url URL`, if given.
fn parse_args() -> Result<Option<String>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut url = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("database-url") => url = Some(parser.value()?.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(url)
}

fn screen(title: &str) {
    println!("\n== {title} ==\n");
}

/// Prints the mail the console mailer "sent", and returns the email code among it.
fn show_mail(mailer: &RecordingMailer) -> Option<String> {
    let mut code = None;
    for mail in mailer.take() {
        match mail {
            Mail::EmailCode { to, code: sent, .. } => {
                println!(
                    "  [mail to {to}] Your {ISSUER} verification code is {}",
                    sent.expose()
                );
                code = Some(sent.expose().to_owned());
            }
            Mail::Notice { to, notice } => println!("  [mail to {to}] Security notice: {notice:?}"),
            _ => {}
        }
    }
    code
}

async fn status(service: &Demo) -> Result<&'static str, Box<dyn std::error::Error>> {
    Ok(if service.status(USER).await?.is_enabled() {
        "ON"
    } else {
        "OFF"
    })
}

async fn run(database_url: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let dir = private_dir()?;
    let (url, shown) = match database_url {
        Some(url) => (url, "the database at --database-url".to_owned()),
        None => {
            let path = dir.join("twostep.db");
            (
                format!("sqlite://{}", path.display()),
                path.display().to_string(),
            )
        }
    };
    let store = SqlStore::connect(&url).await?;
    store.migrate().await?;
    // A rerun against the same database starts again from nothing for the demo's own users.
    for user in [USER, MEMBER] {
        store.forget_user(user).await?;
    }
    store.forget_org(ORG).await?;
    println!("Stored in {shown}; TOTP secrets sealed with a key made for this run.");
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(SettableClock::at(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
    ));
    let service = Service::builder(store, AeadSealer::new(SealingKey::generate("demo")?))
        .mailer(Arc::clone(&mailer))
        .reauthenticate(FixedPasswords::default().with(USER, PASSWORD))
        .directory(directory())
        .audit(RecordingAudit::default())
        .clock(Arc::clone(&clock))
        .issuer(ISSUER)
        .build();
    // The demo plays the user; between screens some seconds pass.
    let later = |seconds| clock.advance(seconds);

    let account = Account {
        user_id: USER.into(),
        email: EMAIL.into(),
    };
    let member = Account {
        user_id: MEMBER.into(),
        email: format!("{MEMBER}@example.com"),
    };

    screen("Org management > Security settings (alice is an admin of DFINERY Team)");
    match service.set_mandate(&account, ORG, 0).await {
        Err(error) => println!("  [Require 2FA for all members] refused: {error}"),
        Ok(_) => return Err("an admin without 2FA switched the mandate on".into()),
    }

    screen("Account management > 2FA");
    println!("  Two-step verification: {}", status(&service).await?);

    screen("Enable 1/4: verify your email");
    let sent = service.start_enable(&account).await?;
    let email_code = show_mail(&mailer).ok_or("no email code was sent")?;
    println!("  You type: {email_code}");
    let setup = service.verify_email(&account, sent, &email_code).await?;

    screen("Enable 2/4: scan the QR code with your authenticator app");
    let view = service.setup_view(&setup)?;
    print!("{}", *view.key_uri.to_qr()?.to_terminal());
    println!("\n  Can't scan it? Enter the key by hand:");
    println!("    Account name: {}", view.account);
    println!("    Key:          {}", *view.manual_key);
    println!("    Type of key:  time based");
    let phone = view.key_uri.to_totp().ok_or("not a TOTP key")?;

    screen("Enable 3/4: enter the 6-digit code from the app");
    later(20);
    let first_code = app_code(&phone, clock.now())?;
    println!("  You type: {first_code}");
    let save = service
        .confirm_authenticator(&account, setup, &first_code)
        .await?;

    screen("Enable 4/4: save your recovery codes (required)");
    for code in save.codes().codes() {
        println!("  {code}");
    }
    let file = save.download_file(&service.policies().issuer, Locale::En);
    let path = save_privately(&dir, &file.file_name, file.contents.as_bytes())?;
    println!("\n  [Copy to clipboard]  [Download] → {}", path.display());
    let recovery: Vec<String> = save
        .codes()
        .codes()
        .iter()
        .map(ToString::to_string)
        .collect();
    println!("  [x] I have saved my recovery codes   [Done]");
    service.complete_enable(&account, save, Saved::Yes).await?;
    show_mail(&mailer);
    println!("  Two-step verification: {}", status(&service).await?);

    screen("Org management > Security settings: require 2FA for every member");
    for affected in service.preview_mandate(&account, ORG, 0).await? {
        println!(
            "  Preview: {} has no 2FA yet and must enroll at next sign-in",
            affected.user_id
        );
    }
    service.set_mandate(&account, ORG, 0).await?;
    println!("  [Require 2FA for all members] on");
    match service.begin_login(&member).await? {
        LoginStep::EnrollmentRequired { org_id, .. } => {
            println!(
                "  {MEMBER} signs in: {org_id} requires two-step verification → the enable wizard"
            )
        }
        other => return Err(format!("{MEMBER} was not sent to enroll: {other:?}").into()),
    }

    screen("Sign in: email + password, then the code from the app");
    let challenge = service
        .begin_login(&account)
        .await?
        .into_challenge()
        .ok_or("a second step was expected")?;
    let replayed = service.verify_login(&account, challenge, &first_code).await;
    let challenge = match replayed {
        Err(refusal) => {
            println!("  The setup code again: refused ({})", refusal.error);
            refusal
                .state
                .ok_or("the challenge should still be usable")?
        }
        Ok(_) => return Err("the setup code logged in".into()),
    };
    later(30);
    let code = app_code(&phone, clock.now())?;
    service.verify_login(&account, challenge, &code).await?;
    println!("  You type {code}: signed in");
    let challenge = service
        .begin_login(&account)
        .await?
        .into_challenge()
        .ok_or("a second step was expected")?;
    match service.verify_login(&account, challenge, &code).await {
        Err(refusal) => println!(
            "  The same code in another sign-in: refused ({})",
            refusal.error
        ),
        Ok(_) => return Err("a replayed code logged in".into()),
    }

    screen("Sign in with a recovery code (the phone is lost)");
    let first = recovery.first().ok_or("no recovery codes")?;
    let challenge = service
        .begin_login(&account)
        .await?
        .into_challenge()
        .ok_or("a second step was expected")?;
    let signed_in = service.verify_login(&account, challenge, first).await?;
    let left = signed_in.recovery_codes.map_or(0, |left| left.remaining);
    println!("  You type {first}: signed in, {left} recovery codes left");
    show_mail(&mailer);

    screen("Re-issue recovery codes: password, new codes, Done");
    let save = service.start_reissue(&account, PASSWORD).await?;
    let new_codes: Vec<String> = save
        .codes()
        .codes()
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "  {} new codes, e.g. {}",
        new_codes.len(),
        new_codes.first().ok_or("no codes")?
    );
    service.complete_reissue(&account, save, Saved::Yes).await?;
    show_mail(&mailer);
    let old = recovery.get(1).ok_or("no second code")?;
    let challenge = service
        .begin_login(&account)
        .await?
        .into_challenge()
        .ok_or("a second step was expected")?;
    match service.verify_login(&account, challenge, old).await {
        Err(refusal) => println!("  An old code: refused ({})", refusal.error),
        Ok(_) => return Err("an old recovery code still worked".into()),
    }

    screen("Disable: password, then a recovery code");
    match service.start_disable(&account, PASSWORD).await {
        Err(error) => println!("  Refused while the organisation requires 2FA: {error}"),
        Ok(_) => return Err("2FA could be disabled under a mandate".into()),
    }
    service.clear_mandate(&account, ORG).await?;
    println!("  (the admin switches the organisation's requirement off)");
    let confirm = service.start_disable(&account, PASSWORD).await?;
    let new_code = new_codes.first().ok_or("no codes")?;
    service.confirm_disable(&account, confirm, new_code).await?;
    show_mail(&mailer);
    println!("  Two-step verification: {}", status(&service).await?);
    Ok(())
}

/// What the authenticator app shows at `now`.
fn app_code(phone: &Totp, now: u64) -> Result<String, Box<dyn std::error::Error>> {
    Ok(phone.generate(now)?.to_string())
}

/// A fresh directory of the demo's own (the SQLite file and the "downloaded" codes go there),
/// readable by the owner only.
fn private_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("twostep-demo-{}", std::process::id()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir)?;
    Ok(dir)
}

/// Writes the "downloaded" file, never over an existing file or through a planted link.
fn save_privately(
    dir: &std::path::Path,
    name: &str,
    contents: &[u8],
) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write as _;
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&path)?.write_all(contents)?;
    Ok(path)
}

/// The organisation: alice administers it, bob is a member without 2FA.
fn directory() -> MemoryDirectory {
    let directory = MemoryDirectory::default();
    directory.join(Membership::new(ORG, USER, Role::Admin, 0));
    directory.join(Membership::new(ORG, MEMBER, Role::Member, 0));
    directory
}
