//! The axum-login example (`cargo run --example login`) in headless Chromium: its own sign-in,
//! then twostep's wizard, and the second step at the next sign-in, in English and Korean.
//! Also keeps its header true: the number of lines it says twostep adds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{App, Browser, start_chromedriver, start_example};
use twostep::otp::{Secret, Totp, TotpParams};

/// "twostep adds N lines", and the lines between its marks: the same number.
#[test]
fn the_header_counts_the_lines_twostep_adds() {
    let source = include_str!("../login.rs");
    let said: usize = source
        .split("twostep adds ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the header says how many lines twostep adds");
    let (mut counted, mut inside) = (0, false);
    for line in source.lines().map(str::trim) {
        match line {
            "// twostep ▼" => (inside, counted) = (true, counted + 1),
            "// twostep ▲" => (inside, counted) = (false, counted + 1),
            "" => {}
            _ if inside => counted += 1,
            _ => {}
        }
    }
    assert!(!inside, "a twostep mark is left open");
    assert_eq!(said, counted);
    assert!(counted < 100, "twostep adds {counted} lines");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_enable_then_the_second_step_in_english_and_korean() {
    let Some((chromium, chromedriver)) = common::chromium("login") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, base, log) = start_example("login", &[], &[]).await;
    let (_driver, driver_url) = start_chromedriver(&chromedriver).await;
    let browser = Browser::open(&driver_url, &chromium, dir.path(), dir.path()).await;
    let url = |path: &str| format!("{base}{path}");

    // axum-login's own sign-in, and its protected page.
    browser.goto(&url("/")).await;
    assert_eq!(browser.path().await, "/login");
    sign_in(&browser, &url("/login")).await;
    assert_eq!(browser.text_of("#welcome").await, "Logged in as ferris");

    // twostep's wizard, from the protected page.
    browser.click_on("#two-factor").await;
    assert_eq!(browser.text_of("#status").await, "Off");
    browser.click_on("#enable").await;
    browser.click_on("#send-code").await;
    let code = emailed_code(&log).await;
    browser.fill("#email-code", &code).await;
    browser.click_on("#email-code ~ button").await;
    let secret = Secret::from_base32(&browser.text_of("#manual-key").await).unwrap();
    let app = App(Totp::new(&secret, TotpParams::default()));
    browser.fill("#app-code", &app.code_after(0)).await;
    browser.click_on("#app-code ~ button").await;
    assert_eq!(browser.texts_of("#recovery-codes li").await.len(), 10);
    browser.tick("#saved").await;
    browser.click_on("#done").await;
    assert_eq!(browser.text_of("#status").await, "On");

    // Signed out, the password alone reaches only the second step.
    browser.goto(&url("/logout")).await;
    sign_in(&browser, &url("/login")).await;
    assert_eq!(browser.path().await, "/login/second-step");
    browser.goto(&url("/")).await;
    assert_eq!(browser.path().await, "/login/second-step");

    // In Korean: a wrong code, then the right one.
    browser.goto(&url("/login/second-step?lang=ko")).await;
    assert!(browser.text_of("main").await.contains("6자리 인증번호"));
    browser.fill("#code", &app.wrong_code()).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(
        browser.text_of("#flash").await,
        "인증번호가 올바르지 않습니다."
    );
    browser.fill("#code", &app.code_after(30)).await;
    browser
        .click_on("form[action='/login/second-step'] button")
        .await;
    assert_eq!(browser.text_of("#welcome").await, "Logged in as ferris");
    browser.client.clone().close().await.unwrap();
}

async fn sign_in(browser: &Browser, login: &str) {
    browser.goto(login).await;
    browser.fill("#username", "ferris").await;
    browser.fill("#password", "hunter42").await;
    browser.click_on("#submit").await;
}

/// The newest email code the example's mailer printed.
async fn emailed_code(log: &common::Log) -> String {
    common::printed_after(&[log], "your code is ").await
}
