//! The console over plain HTTP (no browser): what it must not give away or keep.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Http, printed_after, start_example};

const PASSWORD: &str = "correct horse battery staple";

async fn console() -> (
    tokio::process::Child,
    String,
    common::Log,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("console.db").display());
    let (server, base, log) = start_example("web", &["--database-url", &database], &[]).await;
    (server, base, log, dir)
}

/// Signing up with a registered address answers exactly as with a new one (as a password
/// reset does); only the mail, to the address's owner, says which.
#[tokio::test]
async fn sign_up_does_not_tell_who_is_registered() {
    let (_server, base, log, _dir) = console().await;
    let form = |email: &'static str| [("email", email), ("password", PASSWORD), ("org", "Acme")];
    let new = Http::default()
        .post(&base, "/signup", &form("ann@acme.test"))
        .await;
    assert_eq!(new.status, 200);
    let token = printed_after(&[&log], ": /signup/confirm/").await;
    let confirmed = Http::default()
        .get(&base, &format!("/signup/confirm/{token}"))
        .await;
    assert_eq!(confirmed.location(), "/account");
    // The link works once.
    let reused = Http::default()
        .get(&base, &format!("/signup/confirm/{token}"))
        .await;
    assert!(reused.body.contains("no longer valid"));

    let again = Http::default()
        .post(&base, "/signup", &form("ann@acme.test"))
        .await;
    assert_eq!((again.status, &again.body), (new.status, &new.body));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mail = log.lines().join("\n");
    assert_eq!(mail.matches("/signup/confirm/").count(), 1, "{mail}");
    assert!(mail.contains("mail to ann@acme.test: Someone tried to sign up"));
    // Ann's password is still hers.
    let signed_in = Http::default()
        .post(
            &base,
            "/login",
            &[("email", "ann@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed_in.location(), "/account");
}

/// A newline forged an audit line; U+202E showed an address reversed.
#[tokio::test]
async fn control_and_bidi_characters_are_refused_at_sign_up() {
    let (_server, base, log, _dir) = console().await;
    for email in [
        "eve@acme.test\naudit: ann@acme.test Disabled",
        "eve\u{202e}tset.emca@acme.test",
    ] {
        let answer = Http::default()
            .post(
                &base,
                "/signup",
                &[("email", email), ("password", PASSWORD), ("org", "Acme")],
            )
            .await;
        assert_eq!(answer.status, 401, "{email:?}");
        assert!(answer.body.contains("letters, digits and punctuation"));
    }
    let org = "Acme\u{202e}";
    let answer = Http::default()
        .post(
            &base,
            "/signup",
            &[
                ("email", "eve@acme.test"),
                ("password", PASSWORD),
                ("org", org),
            ],
        )
        .await;
    assert_eq!(answer.status, 401);
    assert!(
        !log.lines()
            .iter()
            .any(|line| line.starts_with("audit: ann"))
    );
}

/// A visitor gets no session, the assets neither, and every answer carries the page headers.
#[tokio::test]
async fn visitors_get_no_session_and_every_answer_the_headers() {
    let (_server, base, _log, _dir) = console().await;
    let mut visitor = Http::default();
    for path in [
        "/",
        "/login",
        "/signup",
        "/account",
        "/assets/console.css",
        "/assets/twostep/twostep.css",
    ] {
        for method in ["GET", "HEAD"] {
            let answer = visitor.send(&base, method, path, None).await;
            assert!(
                !answer.headers.contains_key("set-cookie"),
                "{method} {path}"
            );
            for name in [
                "content-security-policy",
                "x-frame-options",
                "x-content-type-options",
            ] {
                assert!(answer.headers.contains_key(name), "{method} {path}: {name}");
            }
        }
    }
    // A wrong password neither.
    let wrong = visitor
        .post(
            &base,
            "/login",
            &[("email", "nobody@acme.test"), ("password", "guess")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(!wrong.headers.contains_key("set-cookie"));
}
