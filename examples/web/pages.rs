//! The HTML of every screen, server-rendered with `maud` (which escapes every value it
//! inserts). One small stylesheet and one small script are served from `/assets`; the pages
//! carry no inline script, so the Content-Security-Policy can forbid it.

use maud::{DOCTYPE, Markup, html};

use crate::session::Flash;

/// Which part of the console a page belongs to, for the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    /// Sign-in, sign-up, the second step and error pages: no navigation.
    Public,
    /// Only the enable wizard is reachable (an organisation requires 2FA now).
    Enrolling,
    Account,
    Org,
    Mail,
}

/// What every page needs besides its body.
pub(crate) struct Frame<'a> {
    pub title: &'a str,
    pub area: Area,
    /// The anti-CSRF token for the sign-out form.
    pub csrf: &'a str,
    pub(crate) user: Option<&'a str>,
    pub flash: Option<Flash>,
}

/// The whole document.
pub(crate) fn layout(frame: Frame<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (frame.title) " · twostep console" }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                header.top {
                    span.brand { "twostep" span.dim { " console" } }
                    @if matches!(frame.area, Area::Account | Area::Org | Area::Mail) {
                        nav {
                            a.active[frame.area == Area::Account] href="/account" { "Account management" }
                            a.active[frame.area == Area::Org] href="/org" { "Org management" }
                            a.active[frame.area == Area::Mail] href="/mail" { "Mailbox" }
                        }
                    } @else if frame.area == Area::Enrolling {
                        nav { a href="/mail" target="_blank" { "Mailbox" } }
                    }
                    @if let Some(user) = frame.user {
                        form.signout method="post" action="/logout" {
                            (csrf_field(frame.csrf))
                            span.dim { (user) }
                            button.link type="submit" id="sign-out" { "Sign out" }
                        }
                    }
                }
                main {
                    @if let Some(flash) = frame.flash {
                        p id="flash" class=(if flash.ok { "flash ok" } else { "flash error" }) { (flash.text) }
                    }
                    h1 { (frame.title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden anti-CSRF field every state-changing form carries.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// The hidden field naming the wizard step a form is for, if it is one.
fn step_field(step: Option<&str>) -> Markup {
    html! { @if let Some(step) = step { input type="hidden" name="step" value=(step); } }
}

/// Tabs under a page title.
pub(crate) fn tabs(items: &[(&str, &str)], active: &str) -> Markup {
    html! {
        div.tabs {
            @for (href, label) in items {
                a.tab.active[*href == active] href=(href) { (label) }
            }
        }
    }
}

/// The steps of the enable wizard, with the current ones (one page may show two) marked.
pub(crate) fn wizard_steps(current: std::ops::RangeInclusive<usize>) -> Markup {
    let steps = [
        "Verify email",
        "Scan QR code",
        "Enter code",
        "Save recovery codes",
    ];
    html! {
        ol.steps {
            @for (index, step) in steps.iter().enumerate() {
                li.done[index < *current.start()].current[current.contains(&index)] { (step) }
            }
        }
        p.dim { "Leaving before the last step saves nothing: two-step verification stays off." }
    }
}

/// A list of recovery codes with copy, download and the "I saved them" box that enables Done.
pub(crate) fn recovery_codes(
    csrf: &str,
    codes: &[String],
    download: &str,
    (done_action, step): (&str, Option<&str>),
    cancel_action: &str,
) -> Markup {
    html! {
        p { "Each code works once, when you cannot use your authenticator app. "
            strong { "Save them somewhere safe now" } ": they are not shown again." }
        ol.codes id="recovery-codes" {
            @for code in codes { li { code { (code) } } }
        }
        div.row {
            button.secondary type="button" id="copy" data-copy="recovery-codes" { "Copy to clipboard" }
            a.button.secondary id="download" href=(download) download { "Download .txt" }
        }
        form method="post" action=(done_action) {
            (csrf_field(csrf))
            (step_field(step))
            label.check {
                input type="checkbox" name="saved" id="saved" data-enables="done";
                " I have saved my recovery codes"
            }
            button type="submit" id="done" disabled { "Done" }
        }
        (cancel_button(csrf, cancel_action, "Cancel"))
    }
}

/// A one-button form.
pub(crate) fn cancel_button(csrf: &str, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(csrf))
            button.link type="submit" { (label) }
        }
    }
}

/// A form asking for one code.
pub(crate) fn code_form(
    csrf: &str,
    action: &str,
    step: Option<&str>,
    label: &str,
    id: &str,
    button: &str,
) -> Markup {
    html! {
        form method="post" action=(action) {
            (csrf_field(csrf))
            (step_field(step))
            label for=(id) { (label) }
            input type="text" name="code" id=(id) autocomplete="one-time-code" autofocus required;
            button type="submit" { (button) }
        }
    }
}

/// A form asking for the password again.
pub(crate) fn password_form(csrf: &str, action: &str, why: &str) -> Markup {
    html! {
        p { (why) }
        form method="post" action=(action) {
            (csrf_field(csrf))
            label for="password" { "Password" }
            input type="password" name="password" id="password" autocomplete="current-password" autofocus required;
            button type="submit" { "Continue" }
        }
        p { a href="/account/2fa" { "Cancel" } }
    }
}

/// The stylesheet.
pub(crate) const CSS: &str = r#"
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2433; background: #f4f6fa; }
header.top { display: flex; align-items: center; gap: 24px; padding: 0 24px; height: 52px; background: #1d2433; color: #fff; }
header.top a { color: #c8d1e4; text-decoration: none; margin-right: 16px; }
header.top a.active { color: #fff; font-weight: 600; }
.brand { font-weight: 700; font-size: 17px; }
.dim { color: #7a8599; }
form.signout { margin-left: auto; display: flex; gap: 12px; align-items: center; }
form.signout .link { color: #c8d1e4; }
main { max-width: 760px; margin: 32px auto; background: #fff; border-radius: 10px; padding: 28px 36px; box-shadow: 0 1px 4px rgba(0,0,0,.08); }
h1 { font-size: 22px; margin-top: 0; }
label { display: block; font-weight: 600; margin: 12px 0 4px; }
label.check { font-weight: 400; display: flex; gap: 8px; align-items: center; }
input[type=text], input[type=email], input[type=password], select { width: 100%; max-width: 360px; padding: 8px 10px; border: 1px solid #c5ccd9; border-radius: 6px; font-size: 15px; }
input[readonly] { background: #eef1f6; }
a { color: #3461d9; }
input:not([type=hidden]) + button { margin-left: 8px; }
button, a.button { font: inherit; display: inline-block; margin-top: 14px; padding: 8px 18px; border: 0; border-radius: 6px; background: #3461d9; color: #fff; font-size: 15px; cursor: pointer; text-decoration: none; }
button:disabled { background: #a9b6d6; cursor: not-allowed; }
button.secondary, a.button.secondary { background: #e6ebf5; color: #1d2433; }
button.danger { background: #c6373a; }
button.link { background: none; color: #3461d9; padding: 0; margin: 0; }
form.inline { display: inline; }
.row { display: flex; gap: 12px; flex-wrap: wrap; }
.flash { padding: 10px 14px; border-radius: 6px; }
.flash.ok { background: #e3f5e8; color: #1c6b34; }
.flash.error { background: #fbe5e5; color: #9b2226; }
.tabs { display: flex; gap: 4px; border-bottom: 1px solid #dde2eb; margin-bottom: 20px; }
.tab { padding: 8px 16px; color: #4a5568; text-decoration: none; border-bottom: 2px solid transparent; }
.tab.active { color: #3461d9; border-color: #3461d9; font-weight: 600; }
.status { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; }
.status.on { background: #e3f5e8; color: #1c6b34; }
.status.off { background: #eceff4; color: #4a5568; }
ol.steps { display: flex; gap: 8px; list-style: none; padding: 0; counter-reset: step; }
ol.steps li { flex: 1; padding: 6px 8px; border-top: 3px solid #dde2eb; color: #7a8599; font-size: 13px; counter-increment: step; }
ol.steps li::before { content: counter(step) ". "; }
ol.steps li.done { border-color: #8fb0f0; }
ol.steps li.current { border-color: #3461d9; color: #1d2433; font-weight: 600; }
ol.codes { columns: 2; font-size: 17px; background: #f4f6fa; padding: 14px 14px 14px 40px; border-radius: 6px; }
code.key { font-size: 18px; letter-spacing: 1px; background: #f4f6fa; padding: 4px 8px; border-radius: 4px; }
.qr { display: flex; gap: 28px; align-items: flex-start; }
.qr img { image-rendering: pixelated; border: 1px solid #dde2eb; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 8px; border-bottom: 1px solid #eef1f6; }
.mail { border: 1px solid #dde2eb; border-radius: 6px; padding: 10px 14px; margin-bottom: 10px; }
.mail .body { white-space: pre-wrap; }
.switch { display: flex; gap: 10px; align-items: center; font-weight: 600; }
"#;

/// The script: copy to clipboard, and the checkbox that enables its button.
pub(crate) const JS: &str = r#"
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = [...document.getElementById(button.dataset.copy).querySelectorAll("li")]
        .map((item) => item.textContent.trim()).join("\n");
      try { await navigator.clipboard.writeText(text); button.textContent = "Copied"; }
      catch { button.textContent = "Copy failed: select the codes instead"; }
    });
  }
  for (const box of document.querySelectorAll("[data-enables]")) {
    const target = document.getElementById(box.dataset.enables);
    const sync = () => { target.disabled = !box.checked; };
    box.addEventListener("change", sync);
    sync();
  }
});
"#;
