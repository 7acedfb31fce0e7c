//! `otp`: a command-line tool for TOTP/HOTP codes, secrets, Key URIs and QR codes, built on
//! `twostep-otp` — like `oathtool`, for people and scripts.
//!
//! ```text
//! cargo run --example otp -- secret
//! cargo run --example otp -- code   --secret B32 [--time UNIX] [PARAMS]
//! cargo run --example otp -- hotp   --secret B32 --counter N [--algorithm A] [--digits N]
//! cargo run --example otp -- verify --secret B32 --code C [--time UNIX] [--back N] [--forward N] [--last-step S] [PARAMS]
//! cargo run --example otp -- uri    --secret B32 --issuer I --account A [PARAMS]
//! cargo run --example otp -- parse-uri URI
//! cargo run --example otp -- qr     --secret B32 --issuer I --account A (--svg FILE | --png FILE | --terminal) [PARAMS]
//! ```
//!
//! PARAMS are `--algorithm sha1|sha256|sha512`, `--digits 6|7|8` and `--period SECONDS`
//! (defaults SHA-1, 6, 30). Exit status: 0 success, 1 a rejected code, 2 bad usage or input.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use twostep::otp::{
    Algorithm, Digits, Hotp, HotpParams, KeyUri, OtpKind, Period, Secret, Strength, Totp,
    TotpParams, Window,
};

const USAGE: &str = "usage: otp <secret|code|hotp|verify|uri|parse-uri|qr> [options]
  secret                                      print a new 160-bit base32 secret
  code      --secret B32 [--time UNIX] [P]    print the TOTP code
  hotp      --secret B32 --counter N [P]      print the HOTP code
  verify    --secret B32 --code C [--time UNIX] [--back N] [--forward N] [--last-step S] [P]
  uri       --secret B32 --issuer I --account A [P]
  parse-uri URI
  qr        --secret B32 --issuer I --account A (--svg FILE | --png FILE | --terminal) [P]
P: --algorithm sha1|sha256|sha512  --digits 6|7|8  --period SECONDS";

fn main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("otp: {message}");
            ExitCode::from(2)
        }
    }
}

/// Every option any command takes; each command reads the ones it needs.
#[derive(Default)]
struct Options {
    secret: Option<String>,
    time: Option<u64>,
    algorithm: Algorithm,
    digits: Digits,
    period: Period,
    counter: Option<u64>,
    code: Option<String>,
    back: Option<u8>,
    forward: Option<u8>,
    last_step: Option<u64>,
    issuer: Option<String>,
    account: Option<String>,
    svg: Option<OsString>,
    png: Option<OsString>,
    terminal: bool,
    positional: Vec<String>,
}

fn parse_options(args: Vec<OsString>) -> Result<Options, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut options = Options::default();
    let text = |parser: &mut lexopt::Parser| -> Result<String, String> {
        parser
            .value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|_| "arguments must be UTF-8".to_owned())
    };
    let number = |parser: &mut lexopt::Parser, name: &str| -> Result<u64, String> {
        text(parser)?
            .parse()
            .map_err(|_| format!("--{name} takes a non-negative integer"))
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("secret") => options.secret = Some(text(&mut parser)?),
            Long("time") => options.time = Some(number(&mut parser, "time")?),
            Long("algorithm") => {
                options.algorithm = text(&mut parser)?
                    .parse()
                    .map_err(|e| format!("--algorithm: {e}"))?;
            }
            Long("digits") => {
                let digits = u8::try_from(number(&mut parser, "digits")?).unwrap_or(u8::MAX);
                options.digits = Digits::new(digits).map_err(|e| format!("--digits: {e}"))?;
            }
            Long("period") => {
                let period = u32::try_from(number(&mut parser, "period")?).unwrap_or(0);
                options.period = Period::new(period).map_err(|e| format!("--period: {e}"))?;
            }
            Long("counter") => options.counter = Some(number(&mut parser, "counter")?),
            Long("code") => options.code = Some(text(&mut parser)?),
            Long("back") => options.back = Some(small(number(&mut parser, "back")?)),
            Long("forward") => options.forward = Some(small(number(&mut parser, "forward")?)),
            Long("last-step") => options.last_step = Some(number(&mut parser, "last-step")?),
            Long("issuer") => options.issuer = Some(text(&mut parser)?),
            Long("account") => options.account = Some(text(&mut parser)?),
            Long("svg") => options.svg = Some(parser.value().map_err(|e| e.to_string())?),
            Long("png") => options.png = Some(parser.value().map_err(|e| e.to_string())?),
            Long("terminal") => options.terminal = true,
            Short('h') | Long("help") => return Err(USAGE.to_owned()),
            Value(value) => options.positional.push(
                value
                    .into_string()
                    .map_err(|_| "arguments must be UTF-8".to_owned())?,
            ),
            other => return Err(format!("{}\n{USAGE}", other.unexpected())),
        }
    }
    Ok(options)
}

fn small(n: u64) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

fn run(args: Vec<OsString>) -> Result<ExitCode, String> {
    let mut options = parse_options(args)?;
    if options.positional.is_empty() {
        return Err(USAGE.to_owned());
    }
    let command = options.positional.remove(0);
    match command.as_str() {
        "secret" => {
            let secret = Secret::generate_for(options.algorithm, &mut rand::rng());
            println!("{}", *secret.to_base32());
        }
        "code" => {
            let totp = Totp::new(&secret(&options)?, totp_params(&options));
            let code = totp.generate(time(&options)?).map_err(|e| e.to_string())?;
            println!("{code}");
        }
        "hotp" => {
            let counter = options.counter.ok_or("hotp needs --counter N")?;
            let hotp = Hotp::new(&secret(&options)?, hotp_params(&options));
            println!("{}", hotp.generate(counter));
        }
        "verify" => return verify(&options),
        "uri" => println!("{}", *key_uri(&options)?.to_uri()),
        "parse-uri" => return parse_uri(&options.positional),
        "qr" => qr(&options)?,
        other => return Err(format!("unknown command `{other}`\n{USAGE}")),
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(options: &Options) -> Result<ExitCode, String> {
    let code = options.code.as_deref().ok_or("verify needs --code C")?;
    let defaults = Window::default();
    let window = Window::risky_wide(
        options.back.unwrap_or(defaults.back()),
        options.forward.unwrap_or(defaults.forward()),
    )
    .map_err(|e| e.to_string())?;
    let totp = Totp::new(&secret(options)?, totp_params(options)).with_window(window);
    match totp.verify(code, time(options)?, options.last_step) {
        Ok(accepted) => {
            println!("accepted step={} drift={}", accepted.step, accepted.drift);
            Ok(ExitCode::SUCCESS)
        }
        Err(rejection) => {
            println!("rejected: {}", rejection.kind());
            Ok(ExitCode::from(1))
        }
    }
}

fn parse_uri(positional: &[String]) -> Result<ExitCode, String> {
    let [uri] = positional else {
        return Err("parse-uri takes exactly one URI".to_owned());
    };
    let uri = KeyUri::parse(uri).map_err(|e| format!("invalid URI: {e}"))?;
    let (kind, period, counter) = match uri.kind() {
        OtpKind::Totp { period } => ("totp", period.seconds().to_string(), String::new()),
        OtpKind::Hotp { counter } => ("hotp", String::new(), counter.to_string()),
        _ => return Err("unsupported OTP type".to_owned()),
    };
    println!("type={kind}");
    println!("issuer={}", uri.issuer().unwrap_or_default());
    println!("account={}", uri.account());
    println!("algorithm={}", uri.algorithm());
    println!("digits={}", uri.digits().get());
    println!("period={period}");
    println!("counter={counter}");
    Ok(ExitCode::SUCCESS)
}

fn qr(options: &Options) -> Result<(), String> {
    let qr = key_uri(options)?.to_qr().map_err(|e| e.to_string())?;
    match (&options.svg, &options.png, options.terminal) {
        (Some(path), None, false) => std::fs::write(path, qr.to_svg().as_bytes()),
        (None, Some(path), false) => {
            std::fs::write(path, &*qr.to_png().map_err(|e| e.to_string())?)
        }
        (None, None, true) => {
            print!("{}", *qr.to_terminal());
            Ok(())
        }
        _ => return Err("qr needs exactly one of --svg FILE, --png FILE, --terminal".to_owned()),
    }
    .map_err(|e| format!("cannot write the file: {e}"))
}

fn secret(options: &Options) -> Result<Secret, String> {
    let text = options
        .secret
        .as_deref()
        .ok_or("--secret B32 is required")?;
    // Accept the 80-bit secrets older systems issued, but say so.
    let secret = Secret::from_base32_legacy(text).map_err(|e| format!("--secret: {e}"))?;
    if secret.strength() == Strength::BelowMinimum {
        eprintln!(
            "otp: warning: the secret has only {} bits; 128 is the minimum, 160 recommended",
            secret.bits()
        );
    }
    Ok(secret)
}

fn key_uri(options: &Options) -> Result<KeyUri, String> {
    let account = options
        .account
        .as_deref()
        .ok_or("--account A is required")?;
    let issuer = options.issuer.as_deref().ok_or("--issuer I is required")?;
    KeyUri::totp(
        secret(options)?,
        Some(issuer),
        account,
        totp_params(options),
    )
    .map_err(|e| e.to_string())
}

fn totp_params(options: &Options) -> TotpParams {
    TotpParams {
        algorithm: options.algorithm,
        digits: options.digits,
        period: options.period,
        t0: 0,
    }
}

fn hotp_params(options: &Options) -> HotpParams {
    HotpParams {
        algorithm: options.algorithm,
        digits: options.digits,
    }
}

fn time(options: &Options) -> Result<u64, String> {
    match options.time {
        Some(time) => Ok(time),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .map_err(|_| "the system clock is before 1970".to_owned()),
    }
}
