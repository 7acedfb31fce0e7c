//! The web console (`cargo run --example web`) driven through real headless Chromium by
//! ChromeDriver: every screen of the console, the way a user clicks through it, with the
//! authenticator app played by `twostep-otp` from the key shown on the page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`, or the paths in `TWOSTEP_CHROMIUM` / `TWOSTEP_CHROMEDRIVER`).
//! Without them the tests print `SKIPPED` and pass, except under `CI=true`, where they fail.
//! It runs the `web` example binary, which `cargo test` builds alongside (when filtering with
//! `--test web_browser`, add `--example web` so the binary is rebuilt too).
//! Screenshots of the main screens go to `TWOSTEP_SCREENSHOTS` (default:
//! `target/tmp/web-screenshots`); the README shows a set of them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// ^ a failed step is a failed test

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{App, Browser, scan_qr, start_chromedriver, start_example};
use serde_json::json;
use tokio::process::Child;
use twostep::otp::{KeyUri, Secret, Totp, TotpParams};

const PASSWORD: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------------------
// The stories.

/// Sign up → enable (email code, QR/manual key, first code, recovery codes: download, tick,
/// Done) → sign out → sign in with a code → with a recovery code → re-issue → disable.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_enables_signs_in_reissues_and_disables() {
    let Some(console) = Console::start("story").await else {
        return;
    };
    let browser = &console.browser;
    let email = "alice@acme.test";

    console.sign_up(email, "Acme").await;
    console.shot("01-account-management").await;
    browser.click_on("a[href='/account/2fa']").await;
    assert_eq!(browser.text_of("#status").await, "Off");
    console.shot("02-2fa-tab-off").await;

    let enrolled = console.enable_two_factor(email, Shots::En).await;
    assert_eq!(browser.text_of("#status").await, "On");
    assert_eq!(browser.text_of("#codes-left").await, "10 left");
    console.shot("09-2fa-tab-on").await;

    // Sign-in: one answer for a wrong password and an unknown email.
    console.sign_out().await;
    console.shot("10-sign-in").await;
    console.submit_sign_in(email, "not my password").await;
    let wrong_password = browser.text_of("#flash").await;
    console.submit_sign_in("nobody@acme.test", PASSWORD).await;
    assert_eq!(browser.text_of("#flash").await, wrong_password);
    assert_eq!(wrong_password, "Wrong email or password.");

    // The second step with a code from the app (the setup used this step's code, so the app's
    // next code: inside the ±1 window, and newer than the step already accepted).
    console.submit_sign_in(email, PASSWORD).await;
    assert_eq!(browser.path().await, "/login/second-step");
    console.shot("11-second-step").await;
    browser.fill("#code", &enrolled.app.code_after(30)).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(browser.path().await, "/account");

    // The second step with a recovery code.
    console.sign_out().await;
    console.submit_sign_in(email, PASSWORD).await;
    browser.click_on("#use-recovery").await;
    console.shot("12-second-step-recovery-code").await;
    browser.fill("#code", &enrolled.recovery_codes[0]).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(browser.path().await, "/account");
    assert!(
        browser
            .text_of("#flash")
            .await
            .contains("9 recovery codes left"),
        "{}",
        browser.text_of("#flash").await
    );

    // Re-issue: password, new codes saved with the same tick box.
    browser.goto(&console.url("/account/2fa")).await;
    browser.click_on("#reissue").await;
    console.shot("13-reissue-password").await;
    browser.fill("#password", PASSWORD).await;
    browser
        .click_on("form[action='/account/2fa/reissue'] button")
        .await;
    let new_codes = browser.texts_of("#recovery-codes li").await;
    assert_eq!(new_codes.len(), 10);
    assert!(!new_codes.contains(&enrolled.recovery_codes[1]));
    assert!(!browser.is_enabled("#done").await);
    console.shot("14-reissue-codes").await;
    browser.tick("#download").await;
    let file = console.downloaded().await;
    assert!(
        new_codes.iter().all(|code| file.contains(code.as_str())),
        "{file}"
    );
    browser.tick("#saved").await;
    browser.click_on("#done").await;
    assert_eq!(browser.text_of("#codes-left").await, "10 left");

    // Disable: password, then one of the two methods (a new recovery code here; an old one
    // is refused first).
    browser.click_on("#disable").await;
    console.shot("15-disable-password").await;
    browser.fill("#password", PASSWORD).await;
    browser
        .click_on("form[action='/account/2fa/disable'] button")
        .await;
    console.shot("16-disable-choose-method").await;
    browser
        .fill("#recovery-code", &enrolled.recovery_codes[1])
        .await;
    browser.click_on("#recovery-code ~ button").await;
    assert_eq!(browser.path().await, "/account/2fa/disable");
    assert!(browser.text_of("#flash").await.contains("not accepted"));
    browser.fill("#recovery-code", &new_codes[0]).await;
    browser.click_on("#recovery-code ~ button").await;
    assert_eq!(browser.text_of("#status").await, "Off");
    assert_eq!(
        browser.text_of("#flash").await,
        "Two-step verification is off."
    );
    console.shot("17-2fa-disabled").await;
    console.close().await;
}

/// The same story in Korean, the seed guide's language: the language chosen once in the
/// header, every 2FA screen in Korean, and the second step after signing in again.
#[tokio::test(flavor = "multi_thread")]
async fn a_korean_user_enables_and_signs_in_with_every_screen_in_korean() {
    let Some(console) = Console::start("korean").await else {
        return;
    };
    let browser = &console.browser;
    let email = "minji@dfinery.test";
    console.sign_up(email, "Dfinery").await;
    browser.click_on("#lang-ko").await;
    browser.goto(&console.url("/account/2fa")).await;
    assert_eq!(browser.text_of("#status").await, "사용 안 함");
    assert_eq!(browser.text_of("#enable").await, "2단계 인증 활성");
    console.shot("ko-02-2fa-tab-off").await;
    let enrolled = console.enable_two_factor(email, Shots::Ko).await;
    assert_eq!(browser.text_of("#status").await, "사용 중");
    assert_eq!(browser.text_of("#codes-left").await, "10개 남음");
    console.shot("ko-09-2fa-tab-on").await;
    console.sign_out().await;
    console.submit_sign_in(email, PASSWORD).await;
    browser
        .goto(&console.url("/login/second-step?lang=ko"))
        .await;
    assert!(browser.text_of("main").await.contains("6자리 인증번호"));
    console.shot("ko-11-second-step").await;
    browser.fill("#code", &enrolled.app.wrong_code()).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(
        browser.text_of("#flash").await,
        "인증번호가 올바르지 않습니다."
    );
    browser.fill("#code", &enrolled.app.code_after(30)).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(browser.path().await, "/account");
    console.close().await;
}

/// The organisation mandate: refused to a member, and to an owner and an admin without 2FA;
/// switched on with a preview once the owner has it; a member without 2FA (the admin) is then
/// sent to the enable wizard at sign-in and reaches nothing else until it is done.
#[tokio::test(flavor = "multi_thread")]
async fn an_org_mandate_sends_members_without_2fa_to_enrollment() {
    let Some(console) = Console::start("mandate").await else {
        return;
    };
    let browser = &console.browser;
    let (owner, member) = ("olivia@globex.test", "mark@globex.test");

    console.sign_up(owner, "Globex").await;
    console.sign_out().await;

    // A member may neither preview nor switch it.
    console.sign_up(member, "Globex").await;
    browser.goto(&console.url("/org/security")).await;
    assert!(
        browser
            .text_of("#preview-refused")
            .await
            .contains("Only owners and admins")
    );
    browser.click_on("#mandate-switch").await;
    assert!(
        browser
            .text_of("#flash")
            .await
            .contains("Only owners and admins")
    );
    console.sign_out().await;

    // The owner makes him an admin; neither may switch it on before having 2FA.
    console.sign_in(owner).await;
    browser.goto(&console.url("/org")).await;
    browser.click_on("form[action='/org/role'] button").await;
    assert_eq!(browser.text_of("#flash").await, "Role changed.");
    assert!(browser.text_of("#members").await.contains("Admin"));
    for who in [owner, member] {
        if who == member {
            console.sign_out().await;
            console.sign_in(member).await;
        }
        browser.goto(&console.url("/org/security")).await;
        browser.click_on("#mandate-switch").await;
        assert!(
            browser
                .text_of("#flash")
                .await
                .contains("your own account first"),
            "{who}"
        );
        assert_eq!(browser.text_of("#mandate").await, "Not required");
    }
    console.sign_out().await;

    // With 2FA, the owner sees who would be affected and switches it on.
    console.sign_in(owner).await;
    let owner_2fa = console.enable_two_factor(owner, Shots::None).await;
    browser.goto(&console.url("/org/security")).await;
    assert_eq!(
        browser.texts_of("#preview li").await,
        vec![member.to_owned()]
    );
    console.shot("18-org-security-preview").await;
    browser.click_on("#mandate-switch").await;
    assert_eq!(browser.text_of("#mandate").await, "Required");
    console.shot("19-org-security-required").await;
    browser.goto(&console.url("/org")).await;
    console.shot("20-org-members").await;
    console.sign_out().await;

    // The member signs in: straight to the wizard, and nothing else is reachable.
    console.submit_sign_in(member, PASSWORD).await;
    assert_eq!(browser.path().await, "/account/2fa/enable");
    assert!(
        browser
            .text_of("#required-by")
            .await
            .contains("Globex requires")
    );
    console.shot("21-member-sent-to-enrollment").await;
    for page in ["/account", "/account/2fa", "/org", "/account/2fa/disable"] {
        browser.goto(&console.url(page)).await;
        assert_eq!(browser.path().await, "/account/2fa/enable", "{page}");
    }
    console.enable_two_factor(member, Shots::None).await;
    browser.goto(&console.url("/org")).await;
    assert_eq!(browser.path().await, "/org");

    // Under the mandate, 2FA cannot be turned off.
    browser.goto(&console.url("/account/2fa/disable")).await;
    browser.fill("#password", PASSWORD).await;
    browser
        .click_on("form[action='/account/2fa/disable'] button")
        .await;
    assert!(browser.text_of("#flash").await.contains("requires"));
    assert_eq!(browser.text_of("#status").await, "On");

    // The member loses the phone and the codes: the owner resets 2FA from the member list,
    // with the password and a code of her own.
    console.sign_out().await;
    console.submit_sign_in(owner, PASSWORD).await;
    browser.click_on("#use-recovery").await;
    browser.fill("#code", &owner_2fa.recovery_codes[0]).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(browser.path().await, "/account");
    browser.goto(&console.url("/org")).await;
    browser
        .click_on("form[action='/org/security/reset'] button")
        .await;
    assert_eq!(browser.path().await, "/org/security/reset");
    assert!(browser.text_of("#reset-intro").await.contains(member));
    console.shot("22-reset-member").await;
    browser.fill("#password", PASSWORD).await;
    browser.fill("#code", &owner_2fa.app.code_after(30)).await;
    browser.click_on("#reset").await;
    assert_eq!(browser.path().await, "/org/security");
    assert!(browser.text_of("#flash").await.contains("was reset"));
    // The organisation's log: the reset on top, by the owner, then the requirement.
    let events = browser.texts_of("#security-log tr").await;
    assert!(
        events[1].contains("2FA reset by an administrator") && events[1].contains(owner),
        "{events:?}"
    );
    assert!(
        events[2].contains("2FA required of every member"),
        "{events:?}"
    );
    console.shot("23-org-security-log").await;
    console.sign_out().await;

    // The member signs in with the password alone, must set 2FA up again (the requirement),
    // and the 2FA tab says who reset it.
    console.submit_sign_in(member, PASSWORD).await;
    assert_eq!(browser.path().await, "/account/2fa/enable");
    console.enable_two_factor(member, Shots::None).await;
    browser.goto(&console.url("/account/2fa")).await;
    let log = browser.texts_of("#security-log tr").await;
    assert!(log[1].contains("2FA turned on"), "{log:?}");
    assert!(
        log.iter()
            .any(|row| row.contains("2FA reset by an administrator") && row.contains(owner)),
        "{log:?}"
    );
    console.shot("24-security-log").await;
    console.close().await;
}

/// Forms without the session's anti-CSRF token are refused and change nothing; a session
/// between password and code reaches only the second-step page; leaving the wizard early saves
/// nothing; password guesses are throttled.
#[tokio::test(flavor = "multi_thread")]
async fn forms_need_the_csrf_token_and_half_signed_in_sessions_reach_only_the_second_step() {
    let Some(console) = Console::start("guard").await else {
        return;
    };
    let browser = &console.browser;
    let email = "eve@initech.test";

    // A visitor's sign-up form sent from another site (a page of its own origin): refused
    // before anything is looked at.
    let forged = format!(
        "data:text/html,<form method=post action='{}'><input name=email value='{email}'>\
         <input name=password value='{PASSWORD}'><input name=org value=Initech></form>\
         <script>document.forms[0].submit()</script>",
        console.url("/signup")
    );
    browser.goto(&forged).await;
    assert!(
        browser
            .text_of("body")
            .await
            .contains("cross-site request refused")
    );
    // Nothing was created: signing in fails.
    console.submit_sign_in(email, PASSWORD).await;
    assert_eq!(browser.text_of("#flash").await, "Wrong email or password.");

    console.sign_up(email, "Initech").await;

    // Leaving the wizard before Done saves nothing: cancel at the QR code, and leave at the
    // recovery codes (a Done without the tick, sent anyway, is refused too).
    browser.goto(&console.url("/account/2fa/enable")).await;
    browser.click_on("#send-code").await;
    let code = console.emailed_code(email).await;
    browser.goto(&console.url("/account/2fa/enable")).await;
    browser.fill("#email-code", &code).await;
    browser.click_on("#email-code ~ button").await;
    browser.find("#manual-key").await;
    browser
        .click_on("form[action='/account/2fa/enable/cancel'] button")
        .await;
    assert_eq!(browser.text_of("#status").await, "Off");
    assert_eq!(
        browser.text_of("#flash").await,
        "Setup cancelled; nothing was saved."
    );

    let enrolled = console.enable_two_factor(email, Shots::None).await;

    // Signed in: a state-changing request without the token (as another site's form would
    // send it) is refused, and 2FA stays on.
    for body in ["password=x", "password=x&csrf=", "password=x&csrf=00"] {
        let status = browser.post_from_page("/account/2fa/disable", body).await;
        assert_eq!(status["status"], 403, "{body}");
    }
    let status = browser.post_from_page("/logout", "").await;
    assert_eq!(status["status"], 403);
    browser.goto(&console.url("/account/2fa")).await;
    assert_eq!(browser.text_of("#status").await, "On");

    // Between password and code: every other page leads back to the second step, and a
    // request with a valid token to another page is turned back too.
    console.sign_out().await;
    console.submit_sign_in(email, PASSWORD).await;
    assert_eq!(browser.path().await, "/login/second-step");
    for page in [
        "/",
        "/account",
        "/account/2fa",
        "/account/2fa/enable",
        "/account/2fa/reissue",
        "/account/2fa/disable",
        "/account/2fa/recovery-codes.txt",
        "/org",
        "/org/security",
        "/mail",
        "/signup",
        "/login",
    ] {
        browser.goto(&console.url(page)).await;
        assert_eq!(browser.path().await, "/login/second-step", "{page}");
    }
    // A POST with the session's valid token, to a page of the fully signed-in: turned back,
    // and the change it asks for (the owner switching the mandate on) is not made.
    let csrf = browser
        .execute("return document.querySelector('input[name=csrf]').value")
        .await;
    let csrf = csrf.as_str().unwrap().to_owned();
    let answer = browser
        .post_from_page("/org/security", &format!("require=on&csrf={csrf}"))
        .await;
    assert!(
        answer["url"]
            .as_str()
            .unwrap()
            .ends_with("/login/second-step"),
        "{answer}"
    );
    // The session's cookie is not readable by scripts.
    let cookies = browser.execute("return document.cookie").await;
    assert_eq!(cookies, json!(""));
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let [session] = cookies.as_slice() else {
        panic!("one cookie expected: {cookies:?}")
    };
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(format!("{:?}", session.same_site()), "Some(Strict)");

    // A wrong code is refused (and counted); the right one completes the sign-in.
    let wrong = enrolled.app.wrong_code();
    browser.fill("#code", &wrong).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(browser.path().await, "/login/second-step");
    assert!(browser.text_of("#flash").await.contains("not accepted"));
    browser.fill("#code", &enrolled.app.code_after(30)).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(browser.path().await, "/account");
    browser.goto(&console.url("/account/2fa")).await;
    assert_eq!(browser.text_of("#status").await, "On");
    browser.goto(&console.url("/org/security")).await;
    assert_eq!(browser.text_of("#mandate").await, "Not required");

    // Password guessing is throttled per email: after 10 wrong passwords (the first was the
    // sign-in attempt before the account existed) even the right one waits.
    console.sign_out().await;
    for _ in 2..=10 {
        console.submit_sign_in(email, "guess").await;
        assert_eq!(browser.text_of("#flash").await, "Wrong email or password.");
    }
    console.submit_sign_in(email, PASSWORD).await;
    assert_eq!(browser.path().await, "/login");
    assert!(
        browser
            .text_of("#flash")
            .await
            .starts_with("Too many failed attempts")
    );
    console.close().await;
}

// ---------------------------------------------------------------------------------------
// The console, the browser, and the user's steps.

struct Enrolled {
    app: App,
    recovery_codes: Vec<String>,
}

/// Which screenshots the wizard takes: none, or each screen in one language.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shots {
    None,
    En,
    Ko,
}

/// A console server, ChromeDriver, and a browser session on it.
struct Console {
    base: String,
    /// What the console prints: its mail among it.
    log: common::Log,
    browser: Browser,
    shots: PathBuf,
    downloads: PathBuf,
    _server: Child,
    _driver: Child,
    _dir: tempfile::TempDir,
}

impl Console {
    /// Starts everything; `None` (after printing SKIPPED) if Chromium is not installed here.
    async fn start(name: &str) -> Option<Self> {
        let (chromium, chromedriver) = common::chromium(name)?;
        let dir = tempfile::tempdir().unwrap();
        let downloads = dir.path().join("downloads");
        std::fs::create_dir(&downloads).unwrap();
        let database = format!("sqlite://{}", dir.path().join("console.db").display());
        let (server, base, log) = start_example("web", &["--database-url", &database], &[]).await;
        let (driver, driver_url) = start_chromedriver(&chromedriver).await;
        let browser = Browser::open(&driver_url, &chromium, dir.path(), &downloads).await;
        let shots = std::env::var_os("TWOSTEP_SCREENSHOTS").map_or_else(
            || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots"),
            PathBuf::from,
        );
        std::fs::create_dir_all(&shots).unwrap();
        Some(Self {
            base,
            log,
            browser,
            shots,
            downloads,
            _server: server,
            _driver: driver,
            _dir: dir,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn shot(&self, name: &str) {
        let png = self.browser.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Signs up, then opens the link the console mails to finish it.
    async fn sign_up(&self, email: &str, org: &str) {
        self.submit_sign_up(email, org).await;
        assert!(self.browser.text_of("#check-inbox").await.contains(email));
        let link = common::printed_after(&[&self.log], ": /signup/confirm/").await;
        self.browser
            .goto(&self.url(&format!("/signup/confirm/{link}")))
            .await;
        assert_eq!(self.browser.path().await, "/account");
    }

    /// Fills and submits the sign-up form.
    async fn submit_sign_up(&self, email: &str, org: &str) {
        let browser = &self.browser;
        browser.goto(&self.url("/signup")).await;
        browser.fill("#email", email).await;
        browser.fill("#password", PASSWORD).await;
        browser.fill("#org", org).await;
        browser.click_on("#submit").await;
    }

    async fn submit_sign_in(&self, email: &str, password: &str) {
        let browser = &self.browser;
        browser.goto(&self.url("/login")).await;
        browser.fill("#email", email).await;
        browser.fill("#password", password).await;
        browser.click_on("#submit").await;
    }

    /// Signs in a user without 2FA.
    async fn sign_in(&self, email: &str) {
        self.submit_sign_in(email, PASSWORD).await;
        assert_eq!(self.browser.path().await, "/account");
    }

    async fn sign_out(&self) {
        self.browser.click_on("#sign-out").await;
        assert_eq!(self.browser.path().await, "/login");
    }

    /// The enable wizard from its first screen to Done, as the user does it; screenshots of
    /// each screen when `shots`.
    async fn enable_two_factor(&self, email: &str, shots: Shots) -> Enrolled {
        let browser = &self.browser;
        let ko = shots == Shots::Ko;
        let shot = |name: &'static str| async move {
            match shots {
                Shots::None => {}
                Shots::En => self.shot(name).await,
                Shots::Ko => self.shot(&format!("ko-{name}")).await,
            }
        };
        browser.goto(&self.url("/account/2fa/enable")).await;
        shot("03-enable-verify-email").await;
        browser.click_on("#send-code").await;
        shot("04-enable-email-code").await;

        let code = self.emailed_code(email).await;
        shot("05-mailbox").await;
        browser.goto(&self.url("/account/2fa/enable")).await;
        browser.fill("#email-code", &code).await;
        browser.click_on("#email-code ~ button").await;

        // The QR code and the manual key: the app is set up from the key.
        let key = browser.text_of("#manual-key").await;
        assert_eq!(browser.text_of("#account-name").await, email);
        shot("06-enable-scan-qr").await;
        let secret = Secret::from_base32(&key).unwrap();
        // The QR code as the browser shows it, read the way a phone would: the same key.
        let scanned = KeyUri::parse(&scan_qr(&browser.find("#qr").await).await).unwrap();
        assert_eq!(scanned.secret(), &secret);
        assert_eq!(scanned.account(), email);
        assert_eq!(scanned.issuer(), Some("twostep console"));
        let app = App(Totp::new(&secret, TotpParams::default()));
        browser.fill("#app-code", &app.code_after(0)).await;
        browser.click_on("#app-code ~ button").await;

        // The recovery codes: Done stays disabled until the box is ticked.
        let recovery_codes = browser.texts_of("#recovery-codes li").await;
        assert_eq!(recovery_codes.len(), 10);
        assert!(!browser.is_enabled("#done").await);
        shot("07-enable-save-recovery-codes").await;
        browser.tick("#download").await;
        let file = self.downloaded().await;
        for code in &recovery_codes {
            assert!(
                file.contains(code.as_str()),
                "{code} not in the file:\n{file}"
            );
        }
        // The server, not only the disabled button, insists on the tick.
        let csrf = browser
            .execute("return document.querySelector('input[name=csrf]').value")
            .await;
        let untick = format!("csrf={}", csrf.as_str().unwrap());
        let answer = browser
            .post_from_page("/account/2fa/enable/done", &untick)
            .await;
        let refused = if ko {
            "저장 확인란을 선택하세요"
        } else {
            "confirm that you did"
        };
        assert!(
            answer["text"].as_str().unwrap().contains(refused),
            "{answer}"
        );
        browser.goto(&self.url("/account/2fa/enable")).await;
        assert_eq!(browser.texts_of("#recovery-codes li").await, recovery_codes);
        browser.tick("#saved").await;
        assert!(browser.is_enabled("#done").await);
        shot("08-enable-ticked").await;
        browser.click_on("#done").await;
        assert_eq!(browser.path().await, "/account/2fa");
        let on = if ko { "켜졌습니다" } else { "is on" };
        assert!(browser.text_of("#flash").await.contains(on));
        Enrolled {
            app,
            recovery_codes,
        }
    }

    /// The newest email code sent to `email`, read where the console mailer puts it.
    async fn emailed_code(&self, email: &str) -> String {
        let browser = &self.browser;
        browser.goto(&self.url("/mail")).await;
        let mail = browser.text_of(".mail .body").await;
        assert_eq!(browser.text_of(".mail .to").await, email);
        let code: String = mail
            .split("code is ")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(code.len(), 6, "{mail}");
        code
    }

    /// Ends the browser session (Chromium exits; ChromeDriver and the server are killed on
    /// drop).
    async fn close(self) {
        self.browser.client.clone().close().await.unwrap();
    }

    /// Waits for the download to land, returns its text and removes it.
    async fn downloaded(&self) -> String {
        for _ in 0..100 {
            let entries: Vec<PathBuf> = std::fs::read_dir(&self.downloads)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .collect();
            if let [file] = entries.as_slice()
                && file.extension().is_some_and(|ext| ext == "txt")
            {
                let text = std::fs::read_to_string(file).unwrap();
                std::fs::remove_file(file).unwrap();
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no .txt file was downloaded");
    }
}
