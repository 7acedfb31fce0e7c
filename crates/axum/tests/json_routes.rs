//! The whole flow over the JSON routes, as a single-page app drives it: sign-in with the
//! second step, the enable wizard, re-issue, disable, an organisation's requirement — and
//! what each stage of a session may reach.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Client, PASSWORD, World, account};
use serde_json::json;
use twostep_otp::Totp;
use twostep_policy::{Membership, Role};

#[tokio::test]
async fn enable_then_sign_in_with_a_code_then_a_recovery_code() {
    let w = World::new();
    let (mut client, totp, codes) = w.enabled("alice").await;
    let status = client.get("/2fa/status").await;
    assert_eq!(status.status, StatusCode::OK);
    assert!(status.json["enabled_at"].is_u64());
    assert_eq!(status.json["recovery_codes_left"], 10);

    client.post("/2fa/sign-out", json!({})).await;
    assert_eq!(client.get("/me").await.status, StatusCode::UNAUTHORIZED);

    let step = client.sign_in("alice").await;
    assert_eq!(step.json, json!({ "next": "second_step" }));
    let wrong = client
        .post("/2fa/second-step", json!({ "code": "000000" }))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.json["error"], "wrong_code");
    assert_eq!(wrong.json["restart"], false);
    let code = w.next_code(&totp);
    let signed_in = client
        .post("/2fa/second-step", json!({ "code": code }))
        .await;
    assert_eq!(
        signed_in.json,
        json!({ "next": "signed_in" }),
        "{signed_in:?}"
    );
    assert_eq!(client.get("/me").await.json["email"], "alice@example.com");

    client.post("/2fa/sign-out", json!({})).await;
    client.sign_in("alice").await;
    let with_recovery = client
        .post("/2fa/second-step", json!({ "code": codes[0] }))
        .await;
    assert_eq!(
        with_recovery.json["recovery_codes_left"],
        json!({ "remaining": 9, "low": false })
    );
}

#[tokio::test]
async fn the_wizard_refuses_a_wrong_email_code_and_an_unticked_done() {
    let w = World::new();
    let mut client = w.client();
    client.sign_in("alice").await;
    assert_eq!(client.get("/2fa/enable").await.json["step"], "not_started");
    client.post("/2fa/enable/start", json!({})).await;
    let wrong = client
        .post("/2fa/enable/email-code", json!({ "code": "000000" }))
        .await;
    assert_eq!(wrong.json["error"], "wrong_email_code");
    assert_eq!(wrong.json["attempts_left"], 4);
    // The step is still pending: the page shows it again.
    assert_eq!(client.get("/2fa/enable").await.json["step"], "email_code");
    // A step of another screen is refused without touching this one.
    let early = client
        .post("/2fa/enable/done", json!({ "saved": true }))
        .await;
    assert_eq!(early.json["error"], "no_pending_step");
    assert_eq!(client.get("/2fa/enable").await.json["step"], "email_code");
}

#[tokio::test]
async fn done_without_the_tick_keeps_the_codes_on_screen() {
    let w = World::new();
    let mut client = w.client();
    client.sign_in("alice").await;
    let (_, shown) = w.to_codes(&mut client, "alice").await;
    let unticked = client
        .post("/2fa/enable/done", json!({ "saved": false }))
        .await;
    assert_eq!(unticked.json["error"], "not_saved");
    let again = client.get("/2fa/enable").await;
    assert_eq!(again.json["codes"], shown.json["codes"]);
    let file = client.get("/2fa/recovery-codes.txt?lang=ko").await;
    assert_eq!(file.status, StatusCode::OK);
    let first_code = shown.json["codes"][0].as_str().unwrap();
    assert!(file.text.contains(first_code));
    assert!(
        file.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
}

#[tokio::test]
async fn reissue_replaces_the_codes_and_disable_turns_it_off() {
    let w = World::new();
    let (mut client, _, old) = w.enabled("alice").await;
    assert_eq!(client.get("/2fa/reissue").await.json["step"], "password");
    let wrong = client
        .post("/2fa/reissue/start", json!({ "password": "guess" }))
        .await;
    assert_eq!(wrong.json["error"], "wrong_password");
    let shown = client
        .post("/2fa/reissue/start", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(shown.json["step"], "recovery_codes");
    let done = client
        .post("/2fa/reissue/done", json!({ "saved": true }))
        .await;
    assert_eq!(done.json["done"], "reissued");

    assert_eq!(client.get("/2fa/disable").await.json["step"], "password");
    let asked = client
        .post("/2fa/disable/start", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(asked.json["step"], "code");
    let stale = client
        .post("/2fa/disable/confirm", json!({ "code": old[0] }))
        .await;
    assert_eq!(stale.json["error"], "wrong_recovery_code", "{stale:?}");
    let new = shown.json["codes"][0].as_str().unwrap();
    let off = client
        .post("/2fa/disable/confirm", json!({ "code": new }))
        .await;
    assert_eq!(off.json["done"], "disabled");
    assert!(client.get("/2fa/status").await.json["enabled_at"].is_null());
}

#[tokio::test]
async fn a_half_signed_in_session_reaches_only_the_second_step() {
    let w = World::new();
    let (mut client, _, _) = w.enabled("alice").await;
    client.post("/2fa/sign-out", json!({})).await;
    client.sign_in("alice").await;
    for path in [
        "/me",
        "/dashboard",
        "/2fa/status",
        "/2fa/enable",
        "/2fa/reissue",
        "/2fa/disable",
    ] {
        let answer = client.get(path).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(answer.json["error"], "second_step_required", "{path}");
    }
    let start = client.post("/2fa/enable/start", json!({})).await;
    assert_eq!(start.json["error"], "second_step_required");
    let reissue = client
        .post("/2fa/reissue/start", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(reissue.json["error"], "second_step_required");
}

#[tokio::test]
async fn signed_out_the_guard_and_the_steps_refuse() {
    let w = World::new();
    let mut client = w.client();
    assert_eq!(client.get("/me").await.json["error"], "not_signed_in");
    assert_eq!(
        client.get("/dashboard").await.json["error"],
        "not_signed_in"
    );
    let code = client
        .post("/2fa/second-step", json!({ "code": "123456" }))
        .await;
    assert_eq!(code.json["error"], "not_signed_in");
    assert_eq!(code.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_session_id_changes_at_every_stage_and_the_old_one_signs_nothing_in() {
    let w = World::new();
    let (mut client, totp, _) = w.enabled("alice").await;
    client.post("/2fa/sign-out", json!({})).await;
    // A visitor's session, as a fixation attack plants it.
    client.post("/visit", json!({})).await;
    let planted = client.clone();
    assert!(planted.cookie.is_some());
    client.sign_in("alice").await;
    let half = client.clone();
    assert_ne!(half.cookie, planted.cookie);
    let code = w.next_code(&totp);
    client
        .post("/2fa/second-step", json!({ "code": code }))
        .await;
    assert_ne!(client.cookie, half.cookie);
    assert_eq!(client.get("/me").await.status, StatusCode::OK);
    for mut old in [planted, half] {
        assert_ne!(old.get("/me").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn requests_without_a_cookie_create_no_session() {
    let w = World::new();
    let mut client = w.client();
    for _ in 0..50 {
        client.cookie = None;
        let answer = client.get("/me").await;
        assert!(answer.set_cookie.is_none());
        client.get("/2fa/status").await;
    }
    assert_eq!(w.sessions.count(), 0);
}

#[tokio::test]
async fn a_form_post_is_refused_and_sends_no_mail() {
    let w = World::new();
    let mut client = w.client();
    client.sign_in("alice").await;
    // What a cross-site form can send: no JSON content type.
    let request = Request::post("/2fa/enable/start")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(""))
        .unwrap();
    let answer = client.send(request).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(w.mailer.last_email_code("alice@example.com").is_none());
}

#[tokio::test]
async fn every_answer_is_not_stored_by_caches() {
    let w = World::new();
    let mut client = w.client();
    client.sign_in("alice").await;
    for answer in [
        client.get("/2fa/enable").await,
        client.post("/2fa/enable/start", json!({})).await,
        client.get("/2fa/reissue").await,
    ] {
        assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}

#[tokio::test]
async fn the_session_store_holds_no_secret_and_an_edited_entry_opens_nothing() {
    let w = World::new();
    let mut alice = w.client();
    alice.sign_in("alice").await;
    let setup = w.to_setup(&mut alice, "alice").await;
    let key = setup.json["manual_key"].as_str().unwrap().replace(' ', "");
    let cookie = alice.cookie.clone().unwrap();
    let kept = w
        .sessions
        .get(&cookie, "twostep.enable")
        .unwrap()
        .to_string();
    assert!(!kept.to_lowercase().contains(&key.to_lowercase()[..16]));

    // Mallory moves Alice's wizard into her own session: it does not open for her.
    let mut mallory = w.client();
    mallory.sign_in("mallory").await;
    let theirs = mallory.cookie.clone().unwrap();
    w.sessions.set(
        &theirs,
        "twostep.enable",
        serde_json::from_str(&kept).unwrap(),
    );
    let stolen = mallory.get("/2fa/enable").await;
    assert_eq!(stolen.json["step"], "not_started", "{stolen:?}");
    let first = w.next_code(
        &twostep_otp::KeyUri::parse(setup.json["otpauth_uri"].as_str().unwrap())
            .unwrap()
            .to_totp()
            .unwrap(),
    );
    w.sessions.set(
        &theirs,
        "twostep.enable",
        serde_json::from_str(&kept).unwrap(),
    );
    let used = mallory
        .post("/2fa/enable/authenticator", json!({ "code": first }))
        .await;
    assert_eq!(used.json["error"], "invalid_state", "{used:?}");
    assert_eq!(
        w.twostep
            .service()
            .status("alice")
            .await
            .unwrap()
            .enabled_at,
        None
    );
    assert_eq!(
        w.twostep
            .service()
            .status("mallory")
            .await
            .unwrap()
            .enabled_at,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_on_one_server_and_the_code_on_another() {
    let w = World::new();
    let (mut client, totp, _) = w.enabled("alice").await;
    client.post("/2fa/sign-out", json!({})).await;
    client.sign_in("alice").await;
    let code = w.next_code(&totp);
    let (mut on_a, mut on_b) = (client.clone(), client.on(&w.b));
    let a = tokio::spawn({
        let code = code.clone();
        async move {
            let answer = on_a.post("/2fa/second-step", json!({ "code": code })).await;
            (answer, on_a)
        }
    });
    let b = tokio::spawn(async move {
        let answer = on_b.post("/2fa/second-step", json!({ "code": code })).await;
        (answer, on_b)
    });
    let ((a, on_a), (b, on_b)) = (a.await.unwrap(), b.await.unwrap());
    let won = [&a, &b]
        .iter()
        .filter(|answer| answer.status == StatusCode::OK)
        .count();
    assert_eq!(won, 1, "{a:?} {b:?}");
    let winner = if a.status == StatusCode::OK {
        on_a
    } else {
        on_b
    };
    assert_eq!(winner.on(&w.b).get("/me").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_and_a_done_sent_together_never_both_win() {
    for _ in 0..20 {
        let w = World::new();
        let mut client = w.client();
        client.sign_in("alice").await;
        w.to_codes(&mut client, "alice").await;
        let (mut done, mut cancel) = (client.clone(), client.on(&w.b));
        let done = tokio::spawn(async move {
            done.post("/2fa/enable/done", json!({ "saved": true }))
                .await
        });
        let cancel =
            tokio::spawn(async move { cancel.post("/2fa/enable/cancel", json!({})).await });
        let (done, cancel) = (done.await.unwrap(), cancel.await.unwrap());
        let enabled = w
            .twostep
            .service()
            .status("alice")
            .await
            .unwrap()
            .is_enabled();
        assert_eq!(done.status == StatusCode::OK, enabled, "{done:?}");
        assert_eq!(cancel.status == StatusCode::OK, !enabled, "{cancel:?}");
    }
}

#[tokio::test]
async fn a_cancel_after_done_says_two_factor_is_on() {
    let w = World::new();
    let (mut client, _, _) = w.enabled("alice").await;
    let late = client.post("/2fa/enable/cancel", json!({})).await;
    assert_eq!(late.json["error"], "already_enabled");
}

#[tokio::test]
async fn a_mandated_member_reaches_only_the_wizard_until_it_is_done() {
    let w = World::acme();
    let (mut bob, _, _) = w.enabled("bob").await;
    let preview = bob.get("/2fa/orgs/acme/security").await;
    assert_eq!(preview.json["preview"], json!(["alice"]), "{preview:?}");
    let set = bob
        .json(
            "PUT",
            "/2fa/orgs/acme/security",
            json!({ "required": true }),
        )
        .await;
    assert_eq!(set.json["done"], "mandate_set", "{set:?}");

    let mut alice = w.client();
    let step = alice.sign_in("alice").await;
    assert_eq!(
        step.json,
        json!({ "next": "enrollment_required", "org": "acme" })
    );
    for path in [
        "/me",
        "/dashboard",
        "/2fa/status",
        "/2fa/reissue",
        "/2fa/orgs/acme/security",
    ] {
        let answer = alice.get(path).await;
        assert_eq!(answer.json["error"], "enrollment_required", "{path}");
    }
    assert_eq!(alice.get("/2fa/enable").await.json["required_by"], "acme");
    let held = alice.cookie.clone();
    w.enable(&mut alice, "alice").await;
    assert_ne!(alice.cookie, held);
    assert_eq!(alice.get("/me").await.status, StatusCode::OK);

    // A member who does not manage security sees the requirement, not who lacks 2FA.
    let view = alice.get("/2fa/orgs/acme/security").await;
    assert_eq!(view.json["manages"], false);
    assert!(view.json["preview"].is_null());
    let refused = alice
        .json(
            "PUT",
            "/2fa/orgs/acme/security",
            json!({ "required": false }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let mut mallory = w.client();
    mallory.sign_in("mallory").await;
    let answer = mallory.get("/2fa/orgs/acme/security").await;
    assert_eq!(answer.json["error"], "not_a_member");
}

/// Another session of `user`, signed in with a code on the other server.
async fn on_the_other_server(w: &World, user: &str, totp: &Totp) -> Client {
    let mut other = w.client().on(&w.b);
    other.sign_in(user).await;
    let code = w.next_code(totp);
    let signed_in = other
        .post("/2fa/second-step", json!({ "code": code }))
        .await;
    assert_eq!(
        signed_in.json,
        json!({ "next": "signed_in" }),
        "{signed_in:?}"
    );
    other
}

/// Whether a session was signed out for good: refused at the guard and at every step, its
/// cookie cleared, and a copy of the old cookie worth nothing either.
async fn assert_signed_out(session: &mut Client) {
    let copy = session.clone();
    let refused = session.get("/me").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{refused:?}");
    assert_eq!(refused.json["error"], "not_signed_in");
    assert_eq!(session.cookie, None, "the session was deleted");
    for mut replayed in [session.clone(), copy] {
        assert_eq!(
            replayed.get("/dashboard").await.status,
            StatusCode::UNAUTHORIZED
        );
        // Not even a new authenticator: a stolen session must not enroll its own.
        let started = replayed.post("/2fa/enable/start", json!({})).await;
        assert_eq!(started.json["error"], "not_signed_in", "{started:?}");
    }
}

#[tokio::test]
async fn a_disable_signs_the_other_sessions_out_and_keeps_its_own() {
    let w = World::new();
    let (mut here, totp, codes) = w.enabled("alice").await;
    let mut there = on_the_other_server(&w, "alice", &totp).await;
    assert_eq!(there.get("/me").await.status, StatusCode::OK);

    here.post("/2fa/disable/start", json!({ "password": PASSWORD }))
        .await;
    let off = here
        .post("/2fa/disable/confirm", json!({ "code": codes[0] }))
        .await;
    assert_eq!(off.json, json!({ "done": "disabled", "signed_in": true }));
    assert_eq!(here.on(&w.b).get("/me").await.status, StatusCode::OK);
    assert_signed_out(&mut there).await;
}

#[tokio::test]
async fn a_reissue_signs_the_other_sessions_out_and_keeps_its_own() {
    let w = World::new();
    let (mut here, totp, _) = w.enabled("alice").await;
    let mut there = on_the_other_server(&w, "alice", &totp).await;

    here.post("/2fa/reissue/start", json!({ "password": PASSWORD }))
        .await;
    let done = here
        .post("/2fa/reissue/done", json!({ "saved": true }))
        .await;
    assert_eq!(done.json, json!({ "done": "reissued", "signed_in": true }));
    assert_eq!(here.get("/me").await.status, StatusCode::OK);
    assert_signed_out(&mut there).await;
}

#[tokio::test]
async fn an_enable_signs_the_password_only_sessions_out() {
    let w = World::new();
    let mut there = w.client().on(&w.b);
    there.sign_in("alice").await;
    let (mut here, _, _) = w.enabled("alice").await;
    assert_eq!(here.get("/me").await.status, StatusCode::OK);
    assert_signed_out(&mut there).await;
}

#[tokio::test]
async fn a_reset_signs_every_session_of_the_member_out() {
    let w = World::new();
    w.directory
        .join(Membership::new("acme", "bob", Role::Admin, 0));
    w.directory
        .join(Membership::new("acme", "alice", Role::Member, 0));
    let (mut alice, totp, _) = w.enabled("alice").await;
    let mut alice_there = on_the_other_server(&w, "alice", &totp).await;
    let (mut bob, bob_totp, _) = w.enabled("bob").await;
    let code = w.next_code(&bob_totp);
    w.twostep
        .service()
        .reset_member(&account("bob"), "acme", &account("alice"), PASSWORD, &code)
        .await
        .unwrap();

    assert_signed_out(&mut alice).await;
    assert_signed_out(&mut alice_there).await;
    assert_eq!(
        bob.get("/me").await.status,
        StatusCode::OK,
        "the admin's own"
    );
    // The member signs in again with the password alone, 2FA off.
    let mut again = w.client();
    assert_eq!(again.sign_in("alice").await.json["next"], "signed_in");
}

#[tokio::test]
async fn a_failed_change_signs_nobody_out() {
    let w = World::new();
    let (mut here, totp, _) = w.enabled("alice").await;
    let mut there = on_the_other_server(&w, "alice", &totp).await;
    here.post("/2fa/disable/start", json!({ "password": PASSWORD }))
        .await;
    let wrong = here
        .post("/2fa/disable/confirm", json!({ "code": "000000" }))
        .await;
    assert_eq!(wrong.json["error"], "wrong_code", "{wrong:?}");
    here.post("/2fa/second-step", json!({ "code": "000000" }))
        .await;
    for session in [&mut here, &mut there] {
        assert_eq!(session.get("/me").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_security_log_pages_a_users_events_and_an_organisations_to_its_managers() {
    let w = World::acme();
    let (mut alice, _, _) = w.enabled("alice").await;
    let (mut bob, _, _) = w.enabled("bob").await;
    let set = bob
        .json(
            "PUT",
            "/2fa/orgs/acme/security",
            json!({ "required": true }),
        )
        .await;
    assert_eq!(set.json["done"], "mandate_set");

    let log = alice.get("/2fa/security-log").await;
    let kinds: Vec<&str> = log.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["enabled", "enable_started"], "{log:?}");
    assert_eq!(log.json["events"][0]["user"], "alice");
    assert!(log.json["older"].is_null(), "one page");

    let org = bob.get("/2fa/orgs/acme/security-log").await;
    assert_eq!(org.json["events"][0]["kind"], "mandate_set", "{org:?}");
    assert_eq!(org.json["events"][0]["org"], "acme");
    let refused = alice.get("/2fa/orgs/acme/security-log").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    let signed_out = w.client().get("/2fa/security-log").await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
}
