//! Two console processes on one PostgreSQL database serve one user: sessions live in the
//! database, pending states are sealed under the key both share, so the password passes on
//! one and the code on the other, and one code raced against both signs in once; and a
//! session ends on both servers when the user's second factor changes from another — reset by
//! the organisation's owner, or turned off by the user.
//!
//! Needs `DATABASE_URL` (a PostgreSQL server, as `.ci/run` starts); without it the test says
//! it was skipped (under `CI=true` that is a failure). Plain HTTP/1.1 over TCP: no browser.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{App, Http, Log, printed_after, start_example};
use twostep::otp::{Secret, Totp, TotpParams};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread")]
async fn the_password_on_one_server_and_the_code_on_the_other_one_code_signs_in_once() {
    let Ok(database) = std::env::var("DATABASE_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but DATABASE_URL is not set"
        );
        eprintln!("SKIPPED: set DATABASE_URL to a PostgreSQL server to run it");
        return;
    };
    let keys = [
        (
            "TWOSTEP_STATE_KEY",
            "c3RhdGUga2V5IGZvciB0d28gY29uc29sZSBzZXJ2ZXI=",
        ),
        (
            "TWOSTEP_SEALING_KEY",
            "c2VhbGluZyBrZXkgZm9yIHR3byBjb25zb2xlIHNydnM=",
        ),
    ];
    // One after the other: each creates its tables if missing.
    let (_a, a, log_a) = start_example("web", &["--database-url", &database], &keys).await;
    let (_b, b, log_b) = start_example("web", &["--database-url", &database], &keys).await;
    let email = format!("two-{}@servers.test", std::process::id());
    // Its own organisation: the database outlives the run, and the first to sign up owns it.
    let org = format!("Two {}", std::process::id());

    // Sign up on A, open the mailed link on B; enable 2FA stepping between the servers.
    let mut user = Http::default();
    let answer = user
        .post(
            &a,
            "/signup",
            &[("email", &email), ("password", PASSWORD), ("org", &org)],
        )
        .await;
    assert!(answer.body.contains("check-inbox"), "{answer:?}");
    let token = printed_after(&[&log_a], ": /signup/confirm/").await;
    let confirmed = user.get(&b, &format!("/signup/confirm/{token}")).await;
    assert_eq!(confirmed.location(), "/account", "{confirmed:?}");
    let csrf = user.get(&b, "/account/2fa/enable").await.csrf();
    user.post(&a, "/account/2fa/enable/start", &[("csrf", &csrf)])
        .await;
    let code = emailed_code(&printed_after(&[&log_a, &log_b], "code is ").await);
    user.post(
        &b,
        "/account/2fa/enable/email-code",
        &[("code", &code), ("csrf", &csrf)],
    )
    .await;
    let setup = user.get(&a, "/account/2fa/enable").await;
    let key = setup.text_of("manual-key");
    let app = App(Totp::new(
        &Secret::from_base32(&key).unwrap(),
        TotpParams::default(),
    ));
    let first = app.code_after(0);
    user.post(
        &b,
        "/account/2fa/enable/authenticator",
        &[("code", &first), ("csrf", &csrf)],
    )
    .await;
    let codes = recovery_codes(&user.get(&a, "/account/2fa/enable").await.body);
    assert_eq!(codes.len(), 10, "{codes:?}");
    let done = user
        .post(
            &a,
            "/account/2fa/enable/done",
            &[("saved", "on"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.location(), "/account/2fa");
    assert_eq!(user.get(&b, "/account/2fa").await.text_of("status"), "On");

    // Sign out; the password on A, then one code sent to both at once: one wins.
    let csrf = user.get(&a, "/account").await.csrf();
    user.post(&b, "/logout", &[("csrf", &csrf)]).await;
    let half = user
        .post(&a, "/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(half.location(), "/login/second-step");
    let csrf = user.get(&b, "/login/second-step").await.csrf();
    let code = app.code_after(30);
    let fields = [("code", code.as_str()), ("csrf", csrf.as_str())];
    let (mut on_a, mut on_b) = (user.clone(), user.clone());
    let (from_a, from_b) = tokio::join!(
        on_a.post(&a, "/login/second-step", &fields),
        on_b.post(&b, "/login/second-step", &fields),
    );
    let winners: Vec<_> = [(&from_a, on_a), (&from_b, on_b)]
        .into_iter()
        .filter(|(answer, _)| answer.location() == "/account")
        .collect();
    assert_eq!(winners.len(), 1, "{from_a:?}\n{from_b:?}");
    let (_, mut winner) = winners.into_iter().next().unwrap();
    // Signed in on both servers.
    for server in [&a, &b] {
        let page = winner.get(server, "/account").await;
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.body.contains(&email));
    }

    // A second session, on B. 2FA turned off from the first, on A, signs it out on both.
    let mut other = Http::default();
    let half = other
        .post(&b, "/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(half.location(), "/login/second-step", "{half:?}");
    // Recovery codes: the app's next code would be too soon after the one just spent.
    let csrf = other.get(&b, "/login/second-step").await.csrf();
    let signed_in = other
        .post(
            &b,
            "/login/second-step",
            &[("code", &codes[0]), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(signed_in.location(), "/account", "{signed_in:?}");
    let stolen = other.clone();

    // A member of the organisation, with 2FA, signed in on B; the owner resets it on A.
    let member = format!("member-{}@servers.test", std::process::id());
    let (mut member_on_b, _, _) = enrolled_on(&b, &log_b, &member, &org).await;
    assert_eq!(member_on_b.get(&b, "/account").await.status, 200);
    let member_copy = member_on_b.clone();
    let form = winner
        .get(&a, &format!("/org/security/reset?member={member}"))
        .await;
    assert!(form.body.contains("reset-intro"), "{form:?}");
    let reset = winner
        .post(
            &a,
            "/org/security/reset",
            &[
                ("member", member.as_str()),
                ("password", PASSWORD),
                // The owner's app code was spent at sign-in: a recovery code confirms.
                ("code", &codes[2]),
                ("csrf", &form.csrf()),
            ],
        )
        .await;
    assert_eq!(reset.location(), "/org/security", "{reset:?}");
    for (mut session, server) in [(member_on_b, &b), (member_copy, &a)] {
        let page = session.get(server, "/account").await;
        assert_eq!(page.location(), "/login", "the member's session: {page:?}");
    }
    assert_eq!(winner.get(&b, "/account").await.status, 200, "the owner's");

    // The owner turns her own 2FA off on A: her session on B ends.
    let csrf = winner.get(&a, "/account/2fa/disable").await.csrf();
    winner
        .post(
            &a,
            "/account/2fa/disable",
            &[("password", PASSWORD), ("csrf", &csrf)],
        )
        .await;
    let off = winner
        .post(
            &a,
            "/account/2fa/disable/confirm",
            &[("code", &codes[1]), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(off.location(), "/account/2fa", "{off:?}");
    assert_eq!(
        winner.get(&b, "/account").await.status,
        200,
        "its own goes on"
    );
    for (mut session, server) in [(other, &b), (stolen.clone(), &a), (stolen, &b)] {
        let page = session.get(server, "/account").await;
        assert_eq!(page.location(), "/login", "{page:?}");
    }
}

/// Signs `email` up on `server` (joining `org`) and turns 2FA on there, reading the mail
/// from `log`: the session, the authenticator and the recovery codes.
async fn enrolled_on(server: &str, log: &Log, email: &str, org: &str) -> (Http, App, Vec<String>) {
    let mut user = Http::default();
    let fields = [("email", email), ("password", PASSWORD), ("org", org)];
    user.post(server, "/signup", &fields).await;
    let token = printed_after(&[log], ": /signup/confirm/").await;
    user.get(server, &format!("/signup/confirm/{token}")).await;
    let csrf = user.get(server, "/account/2fa/enable").await.csrf();
    user.post(server, "/account/2fa/enable/start", &[("csrf", &csrf)])
        .await;
    let code = emailed_code(&printed_after(&[log], "code is ").await);
    let fields = [("code", code.as_str()), ("csrf", csrf.as_str())];
    user.post(server, "/account/2fa/enable/email-code", &fields)
        .await;
    let key = user
        .get(server, "/account/2fa/enable")
        .await
        .text_of("manual-key");
    let app = App(Totp::new(
        &Secret::from_base32(&key).unwrap(),
        TotpParams::default(),
    ));
    let first = app.code_after(0);
    let fields = [("code", first.as_str()), ("csrf", csrf.as_str())];
    user.post(server, "/account/2fa/enable/authenticator", &fields)
        .await;
    let codes = recovery_codes(&user.get(server, "/account/2fa/enable").await.body);
    let fields = [("saved", "on"), ("csrf", csrf.as_str())];
    user.post(server, "/account/2fa/enable/done", &fields).await;
    assert_eq!(
        user.get(server, "/account/2fa").await.text_of("status"),
        "On"
    );
    (user, app, codes)
}

/// The recovery codes a page shows.
fn recovery_codes(page: &str) -> Vec<String> {
    let Some((_, list)) = page.split_once("id=\"recovery-codes\">") else {
        return Vec::new();
    };
    let list = list.split("</ol>").next().unwrap_or_default();
    list.split("<code>")
        .skip(1)
        .filter_map(|item| item.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

/// The code at the start of a mail's text after "code is ".
fn emailed_code(rest: &str) -> String {
    rest.chars().take_while(char::is_ascii_digit).collect()
}
