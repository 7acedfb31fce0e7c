//! The ready pages (feature `ui`) over HTTP: languages, anti-CSRF tokens, cross-site forms,
//! page headers, where each sign-in stage is sent, and the wizard in Korean.
#![cfg(feature = "ui")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{PASSWORD, World};
use serde_json::json;
use twostep_policy::{Membership, Role};

/// A page request as a browser sends it, in `lang` by `Accept-Language`.
fn page(path: &str, lang: &str) -> Request<Body> {
    Request::get(path)
        .header(header::ACCEPT_LANGUAGE, lang)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_second_step_speaks_the_browser_language_and_keeps_a_chosen_one() {
    let w = World::new();
    let (mut client, _, _) = w.enabled("alice").await;
    client.post("/2fa/sign-out", json!({})).await;
    client.sign_in("alice").await;
    let korean = client
        .send(page("/login/second-step", "ko-KR,ko;q=0.9,en;q=0.8"))
        .await;
    assert_eq!(korean.status, StatusCode::OK);
    assert!(korean.text.contains("인증 앱을 열고"), "{}", korean.text);
    assert!(korean.text.contains("<html lang=\"ko\">"));
    let english = client
        .send(page("/login/second-step", "en-US,en;q=0.9,ko;q=0.8"))
        .await;
    assert!(english.text.contains("Open your authenticator app"));
    // `?lang=` overrides the header, and the session remembers it.
    client.send(page("/login/second-step?lang=ko", "en")).await;
    let remembered = client.send(page("/login/second-step", "en")).await;
    assert!(remembered.text.contains("인증 앱을 열고"));
}

#[tokio::test]
async fn a_form_without_the_session_token_is_refused_and_changes_nothing() {
    let w = World::new();
    let (mut client, _, _) = w.enabled("alice").await;
    for fields in [
        vec![("password", PASSWORD)],
        vec![("password", PASSWORD), ("csrf", "00")],
    ] {
        let refused = client.form("/account/2fa/disable", &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.text.contains("csrf-refused"));
    }
    assert_eq!(client.get("/2fa/disable").await.json["step"], "password");
    let tab = client.get("/account/2fa/disable").await;
    let accepted = client
        .form(
            "/account/2fa/disable",
            &[("password", PASSWORD), ("csrf", &tab.csrf())],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    assert_eq!(client.get("/2fa/disable").await.json["step"], "code");
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_the_token() {
    let w = World::new();
    let (mut client, _, _) = w.enabled("alice").await;
    let csrf = client.get("/account/2fa/reissue").await.csrf();
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let mut request = Request::post("/account/2fa/disable")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "console.example")
            .header(name, value)
            .body(Body::from(format!("password={PASSWORD}&csrf={csrf}")))
            .unwrap();
        if name == "origin" {
            request.headers_mut().remove("sec-fetch-site");
        }
        assert_eq!(
            client.send(request).await.status,
            StatusCode::FORBIDDEN,
            "{name}"
        );
    }
    assert_eq!(client.get("/2fa/disable").await.json["step"], "password");
}

#[tokio::test]
async fn pages_and_assets_carry_the_headers_and_create_no_session() {
    let w = World::new();
    let mut visitor = w.client();
    for method in [Method::GET, Method::HEAD] {
        for path in [
            "/assets/twostep/twostep.css",
            "/assets/twostep/twostep.js",
            "/account/2fa",
        ] {
            let request = Request::builder()
                .method(method.clone())
                .uri(path)
                .body(Body::empty());
            let answer = visitor.send(request.unwrap()).await;
            assert!(answer.set_cookie.is_none(), "{method} {path}");
            for name in [
                "content-security-policy",
                "x-frame-options",
                "x-content-type-options",
            ] {
                assert!(answer.headers.contains_key(name), "{method} {path}: {name}");
            }
        }
    }
    assert_eq!(w.sessions.count(), 0);
}

#[tokio::test]
async fn each_stage_is_sent_where_it_must_go() {
    let w = World::new();
    let mut visitor = w.client();
    assert_eq!(visitor.get("/account/2fa").await.location(), Some("/login"));

    let (mut alice, _, _) = w.enabled("alice").await;
    alice.post("/2fa/sign-out", json!({})).await;
    alice.sign_in("alice").await;
    for path in [
        "/account/2fa",
        "/account/2fa/enable",
        "/account/2fa/recovery-codes.txt",
        "/org/security",
    ] {
        assert_eq!(
            alice.get(path).await.location(),
            Some("/login/second-step"),
            "{path}"
        );
    }

    w.directory
        .join(Membership::new("acme", "alice", Role::Owner, 0));
    w.directory
        .join(Membership::new("acme", "bob", Role::Member, 0));
    let (mut owner, _, _) = w.enabled("carol").await;
    w.directory
        .join(Membership::new("acme", "carol", Role::Admin, 0));
    owner
        .json(
            "PUT",
            "/2fa/orgs/acme/security",
            json!({ "required": true }),
        )
        .await;
    let mut bob = w.client();
    bob.sign_in("bob").await;
    for path in [
        "/account/2fa",
        "/account/2fa/reissue",
        "/org/security",
        "/login/second-step",
    ] {
        assert_eq!(
            bob.get(path).await.location(),
            Some("/account/2fa/enable"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_wizard_in_korean_from_the_email_code_to_done() {
    let w = World::new();
    let mut client = w.client();
    client.sign_in("alice").await;
    let start = client.send(page("/account/2fa/enable?lang=ko", "en")).await;
    assert!(start.text.contains("인증 요청"), "{}", start.text);
    let sent = client
        .form("/account/2fa/enable/start", &[("csrf", &start.csrf())])
        .await;
    assert_eq!(sent.location(), Some("/account/2fa/enable"), "{sent:?}");
    let code = w.mailer.last_email_code("alice@example.com").unwrap();
    let wrong = client
        .form(
            "/account/2fa/enable/email-code",
            &[("code", "000000"), ("csrf", &start.csrf())],
        )
        .await;
    assert_eq!(wrong.location(), Some("/account/2fa/enable"));
    let again = client.get("/account/2fa/enable").await;
    assert!(
        again
            .text
            .contains("이메일 인증번호가 올바르지 않습니다. 4번 더"),
        "{}",
        again.text
    );
    client
        .form(
            "/account/2fa/enable/email-code",
            &[("code", code.expose()), ("csrf", &start.csrf())],
        )
        .await;
    let setup = client.get("/account/2fa/enable").await;
    assert!(setup.text.contains("시간 기준"));
    let uri = client.get("/2fa/enable").await.json["otpauth_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let totp = twostep_otp::KeyUri::parse(&uri).unwrap().to_totp().unwrap();
    let first = w.next_code(&totp);
    client
        .form(
            "/account/2fa/enable/authenticator",
            &[("code", &first), ("csrf", &start.csrf())],
        )
        .await;
    let codes = client.get("/account/2fa/enable").await;
    assert!(codes.text.contains("복구 코드를 저장했습니다"));
    let file = client.get("/account/2fa/recovery-codes.txt").await;
    assert!(file.text.contains("복구 코드"), "{}", file.text);
    let unticked = client
        .form("/account/2fa/enable/done", &[("csrf", &start.csrf())])
        .await;
    assert_eq!(unticked.location(), Some("/account/2fa/enable"));
    let done = client
        .form(
            "/account/2fa/enable/done",
            &[("saved", "on"), ("csrf", &start.csrf())],
        )
        .await;
    assert_eq!(done.location(), Some("/account/2fa"));
    let tab = client.get("/account/2fa").await;
    assert!(tab.text.contains("2단계 인증이 켜졌습니다"), "{}", tab.text);
    assert!(tab.text.contains("10개 남음"));
}

#[tokio::test]
async fn the_token_changes_when_the_sign_in_stage_does() {
    let w = World::new();
    let (mut client, totp, _) = w.enabled("alice").await;
    let before = client.get("/account/2fa/reissue").await.csrf();
    client.post("/2fa/sign-out", json!({})).await;
    client.sign_in("alice").await;
    let half = client.get("/login/second-step").await.csrf();
    assert_ne!(half, before);
    let code = w.next_code(&totp);
    let signed_in = client
        .form("/login/second-step", &[("code", &code), ("csrf", &half)])
        .await;
    assert_eq!(signed_in.location(), Some("/"));
    let after = client.get("/account/2fa/reissue").await.csrf();
    assert_ne!(after, half);
    // The token of the half-signed-in stage no longer passes.
    let stale = client
        .form(
            "/account/2fa/reissue",
            &[("password", PASSWORD), ("csrf", &half)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_owner_resets_a_member_from_the_reset_page_in_korean() {
    let w = World::acme();
    let (mut alice, _, _) = w.enabled("alice").await;
    let (mut bob, bob_totp, _) = w.enabled("bob").await;
    let form = bob
        .send(page("/org/security/reset?member=alice&lang=ko", "en"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.text.contains("2단계 인증을 초기화할까요"),
        "{}",
        form.text
    );
    let csrf = form.csrf();

    // A wrong code: back to the form, nothing reset.
    let wrong = bob
        .form(
            "/org/security/reset",
            &[
                ("member", "alice"),
                ("password", PASSWORD),
                ("code", "000000"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(
        wrong.location(),
        Some("/org/security/reset?org=acme&member=alice")
    );
    assert_eq!(alice.get("/me").await.status, StatusCode::OK);

    let code = w.next_code(&bob_totp);
    let reset = bob
        .form(
            "/org/security/reset",
            &[
                ("member", "alice"),
                ("password", PASSWORD),
                ("code", &code),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(reset.location(), Some("/org/security"), "{reset:?}");
    let org = bob.send(page("/org/security", "ko")).await;
    assert!(
        org.text.contains("2단계 인증을 초기화했습니다"),
        "{}",
        org.text
    );
    assert!(
        org.text.contains("관리자가 2단계 인증 초기화"),
        "{}",
        org.text
    );
    // The member's sessions end; the member's own tab tells the reset, by whom.
    assert_eq!(alice.get("/me").await.status, StatusCode::UNAUTHORIZED);
    let mut again = w.client();
    again.sign_in("alice").await;
    let tab = again.send(page("/account/2fa", "en")).await;
    assert!(
        tab.text.contains("2FA reset by an administrator"),
        "{}",
        tab.text
    );
    assert!(tab.text.contains("bob"), "{}", tab.text);
}

#[tokio::test]
async fn a_member_neither_sees_the_organisations_log_nor_resets() {
    let w = World::acme();
    let (mut alice, alice_totp, _) = w.enabled("alice").await;
    w.enabled("bob").await;
    let org = alice.send(page("/org/security", "en")).await;
    assert!(!org.text.contains("security-log"), "{}", org.text);
    let form = alice
        .send(page("/org/security/reset?member=bob", "en"))
        .await;
    let code = w.next_code(&alice_totp);
    let refused = alice
        .form(
            "/org/security/reset",
            &[
                ("member", "bob"),
                ("password", PASSWORD),
                ("code", &code),
                ("csrf", &form.csrf()),
            ],
        )
        .await;
    let back = alice.get(refused.location().unwrap()).await;
    assert!(
        back.text.contains("Only owners and admins"),
        "{}",
        back.text
    );
    assert!(
        w.twostep
            .service()
            .status("bob")
            .await
            .unwrap()
            .is_enabled()
    );
}
