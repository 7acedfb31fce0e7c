//! The HTML of each screen, server-rendered with `maud` (which escapes every value it puts
//! in). No inline script or style: the pages work under a Content-Security-Policy of
//! `'self'`, with the stylesheet and the small script served beside them.

use maud::{DOCTYPE, Markup, html};

use crate::ui::text::{self, Text};
use crate::ui::{Frame, Lang, Paths};
use crate::views::{
    AuthenticatorView, DisableView, OrgSecurityView, ReissueView, SecurityLogView, StatusView,
    WizardStep,
};

/// What every form of a page needs: its language, its anti-CSRF token, where things are.
pub(crate) struct Ctx<'a> {
    pub lang: Lang,
    pub csrf: &'a str,
    pub paths: &'a Paths,
}

impl Ctx<'_> {
    pub(crate) fn text(&self) -> &'static Text {
        Text::of(self.lang)
    }

    fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    /// A one-button form.
    fn button_form(&self, action: &str, label: &str) -> Markup {
        html! {
            form.inline method="post" action=(action) {
                (self.csrf_field())
                button.link type="submit" { (label) }
            }
        }
    }

    /// A form asking for one code.
    fn code_form(&self, action: &str, label: &str, id: &str, button: &str) -> Markup {
        html! {
            form method="post" action=(action) {
                (self.csrf_field())
                label for=(id) { (label) }
                input type="text" name="code" id=(id) autocomplete="one-time-code"
                    autofocus required maxlength="64";
                button type="submit" { (button) }
            }
        }
    }

    /// A form asking for the password again.
    fn password_form(&self, action: &str, why: &str) -> Markup {
        let t = self.text();
        html! {
            p { (why) }
            form method="post" action=(action) {
                (self.csrf_field())
                label for="password" { (t.password) }
                input type="password" name="password" id="password"
                    autocomplete="current-password" autofocus required;
                button type="submit" { (t.continue_) }
            }
            p { a href=(self.paths.account) { (t.cancel) } }
        }
    }
}

/// The whole document, for applications that bring no layout of their own.
pub(crate) fn default_layout(frame: Frame<'_>) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(frame.lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (frame.title) }
                (frame.head)
            }
            body {
                main {
                    (flash(&frame))
                    h1 { (frame.title) }
                    (frame.body)
                }
            }
        }
    }
}

/// The one-time message of a page, if it has one.
pub(crate) fn flash(frame: &Frame<'_>) -> Markup {
    html! {
        @if let Some(flash) = &frame.flash {
            p id="flash" class=(if flash.ok { "flash ok" } else { "flash error" }) { (flash.text) }
        }
    }
}

/// The links a layout puts in `<head>`: the stylesheet and the script.
pub(crate) fn head(paths: &Paths) -> Markup {
    html! {
        link rel="stylesheet" href=(format!("{}/twostep.css", paths.assets));
        script src=(format!("{}/twostep.js", paths.assets)) defer {}
    }
}

/// Tabs under a page title.
fn tabs(items: &[(&str, &str)], active: &str) -> Markup {
    html! {
        div.tabs {
            @for (href, label) in items {
                a.tab.active[*href == active] href=(href) { (label) }
            }
        }
    }
}

pub(crate) fn second_step(ctx: &Ctx<'_>, recovery: bool) -> Markup {
    let t = ctx.text();
    let path = ctx.paths.second_step.as_str();
    let with_recovery = format!("{path}?method=recovery");
    html! {
        (tabs(&[(path, t.tab_app), (&with_recovery, t.tab_recovery)],
              if recovery { &with_recovery } else { path }))
        @if recovery {
            p { (t.second_step_recovery) }
            (ctx.code_form(path, t.label_recovery_code, "code", t.sign_in))
        } @else {
            p { (t.second_step_app) }
            (ctx.code_form(path, t.label_app_code, "code", t.sign_in))
            p { a href=(with_recovery) id="use-recovery" { (t.use_recovery) } }
        }
        (ctx.button_form(&format!("{path}/cancel"), t.cancel_sign_in))
    }
}

pub(crate) fn status(ctx: &Ctx<'_>, status: &StatusView) -> Markup {
    let t = ctx.text();
    let account = ctx.paths.account.as_str();
    html! {
        p { (t.status_intro) }
        @if let Some(enabled_at) = status.enabled_at {
            p { (t.status) span.status.on id="status" { (t.on) } }
            table {
                tr { th { (t.method) } td { (t.method_app) } }
                tr { th { (t.enabled_at) } td { (date(enabled_at)) } }
                tr { th { (t.recovery_codes) } td id="codes-left" {
                    (text::codes_left(ctx.lang, status.recovery_codes_left))
                    @if status.recovery_codes_low { (t.reissue_soon) } } }
            }
            div.row {
                a.button.secondary href=(format!("{account}/reissue")) id="reissue" { (t.button_reissue) }
                a.button.secondary href=(format!("{account}/disable")) id="disable" { (t.button_disable) }
            }
        } @else {
            p { (t.status) span.status.off id="status" { (t.off) } }
            a.button href=(format!("{account}/enable")) id="enable" { (t.button_enable) }
        }
    }
}

/// The steps of the enable wizard, with the current ones (one page may show two) marked.
fn wizard_steps(t: &Text, current: std::ops::RangeInclusive<usize>) -> Markup {
    html! {
        ol.steps {
            @for (index, step) in t.steps.iter().enumerate() {
                li.done[index < *current.start()].current[current.contains(&index)] { (step) }
            }
        }
        p.dim { (t.leaving_saves_nothing) }
    }
}

pub(crate) fn wizard(ctx: &Ctx<'_>, required_by: Option<&str>, step: &WizardStep) -> Markup {
    let t = ctx.text();
    let enable = format!("{}/enable", ctx.paths.account);
    let cancel = ctx.button_form(&format!("{enable}/cancel"), t.cancel);
    html! {
        @if let Some(org) = required_by {
            p.flash.error id="required-by" { (text::required_by(ctx.lang, org)) }
        }
        @match step {
            WizardStep::NotStarted { email } => {
                (wizard_steps(t, 0..=0))
                p { (t.confirm_email) }
                form method="post" action=(format!("{enable}/start")) {
                    (ctx.csrf_field())
                    label for="email" { (t.email) }
                    input type="email" id="email" value=(email) readonly;
                    button type="submit" id="send-code" { (t.send_code) }
                }
            }
            WizardStep::EmailCode { sent_to } => {
                (wizard_steps(t, 0..=0))
                p { (text::code_sent_to(ctx.lang, sent_to)) " " (t.check_inbox) }
                (ctx.code_form(&format!("{enable}/email-code"), t.label_email_code, "email-code", t.verify))
                form.inline method="post" action=(format!("{enable}/resend")) {
                    (ctx.csrf_field())
                    button.link type="submit" id="resend" { (t.resend) }
                }
                " · " (cancel)
            }
            WizardStep::Authenticator(view) => {
                (wizard_steps(t, 1..=2))
                (authenticator(ctx, view))
                (ctx.code_form(&format!("{enable}/authenticator"), t.label_first_code, "app-code", t.verify))
                (cancel)
            }
            WizardStep::RecoveryCodes(view) => {
                (wizard_steps(t, 3..=3))
                (recovery_codes(ctx, &view.codes, &format!("{enable}/done"), &format!("{enable}/cancel")))
            }
        }
    }
}

fn authenticator(ctx: &Ctx<'_>, view: &AuthenticatorView) -> Markup {
    let t = ctx.text();
    html! {
        div.qr {
            img id="qr" src=(view.qr_png.as_str()) width=(view.qr_side) height=(view.qr_side) alt=(t.qr_alt);
            div {
                p { (t.scan_before) strong { (view.issuer) } (t.scan_after) }
                p { (t.cannot_scan) }
                table {
                    tr { th { (t.account_name) } td id="account-name" { (view.account) } }
                    tr { th { (t.key) } td { code.key id="manual-key" { (view.manual_key.as_str()) } } }
                    tr { th { (t.key_type) } td { (t.time_based) } }
                }
            }
        }
    }
}

/// The codes, with copy, download and the "I saved them" box that enables Done.
fn recovery_codes(
    ctx: &Ctx<'_>,
    codes: &[zeroize::Zeroizing<String>],
    done: &str,
    cancel: &str,
) -> Markup {
    let t = ctx.text();
    let download = format!(
        "{}/recovery-codes.txt?lang={}",
        ctx.paths.account,
        ctx.lang.tag()
    );
    html! {
        p { (t.codes_intro) strong { (t.codes_save_now) } }
        ol.codes id="recovery-codes" {
            @for code in codes { li { code { (code.as_str()) } } }
        }
        div.row {
            button.secondary type="button" id="copy" data-copy="recovery-codes"
                data-copied=(t.copied) data-copy-failed=(t.copy_failed) { (t.copy) }
            a.button.secondary id="download" href=(download) download { (t.download) }
        }
        form method="post" action=(done) {
            (ctx.csrf_field())
            label.check {
                input type="checkbox" name="saved" id="saved" data-enables="done";
                " " (t.saved)
            }
            button type="submit" id="done" disabled { (t.done) }
        }
        (ctx.button_form(cancel, t.cancel))
    }
}

pub(crate) fn reissue(ctx: &Ctx<'_>, view: &ReissueView) -> Markup {
    let t = ctx.text();
    let reissue = format!("{}/reissue", ctx.paths.account);
    match view {
        ReissueView::Password => ctx.password_form(&reissue, t.reissue_why),
        ReissueView::RecoveryCodes(view) => recovery_codes(
            ctx,
            &view.codes,
            &format!("{reissue}/done"),
            &format!("{reissue}/cancel"),
        ),
    }
}

pub(crate) fn disable(ctx: &Ctx<'_>, view: DisableView) -> Markup {
    let t = ctx.text();
    let disable = format!("{}/disable", ctx.paths.account);
    match view {
        DisableView::Password => ctx.password_form(&disable, t.disable_why),
        DisableView::Code => {
            let confirm = format!("{disable}/confirm");
            html! {
                p { (t.confirm_with) }
                h3 { (t.with_app_code) }
                (ctx.code_form(&confirm, t.label_app_code, "app-code", t.disable))
                h3 { (t.with_recovery_code) }
                (ctx.code_form(&confirm, t.label_recovery_code, "recovery-code", t.disable))
                (ctx.button_form(&format!("{disable}/cancel"), t.cancel))
            }
        }
    }
}

/// An organisation's security settings; `refused` says why the viewer sees no preview.
pub(crate) fn org_security(ctx: &Ctx<'_>, view: &OrgSecurityView, refused: Option<&str>) -> Markup {
    let t = ctx.text();
    html! {
        h3 { (t.mandate_heading) }
        p { (t.mandate_explained) }
        form method="post" action=(ctx.paths.org_security) {
            (ctx.csrf_field())
            input type="hidden" name="org" value=(view.org);
            @match &view.mandate {
                Some(mandate) => {
                    p.switch { span.status.on id="mandate" { (t.required) }
                        (text::required_since(ctx.lang, &date(mandate.since), &mandate.set_by)) }
                    input type="hidden" name="require" value="off";
                    button.danger type="submit" id="mandate-switch" { (t.stop_requiring) }
                }
                None => {
                    p.switch { span.status.off id="mandate" { (t.not_required) } }
                    input type="hidden" name="require" value="on";
                    button type="submit" id="mandate-switch" { (t.require) }
                }
            }
        }
        @if let Some(preview) = &view.preview {
            h3 { (t.preview) }
            @if preview.is_empty() {
                p id="preview" { (t.preview_all_set) }
            } @else {
                p { (t.preview_intro) }
                ul id="preview" { @for member in preview { li { (member) } } }
            }
        }
        @if let Some(refused) = refused {
            p.flash.error id="preview-refused" { (refused) }
        }
    }
}

pub(crate) fn refused(ctx: &Ctx<'_>, back: &str) -> Markup {
    let t = ctx.text();
    html! {
        p id="csrf-refused" { (t.form_refused) }
        p { a href=(back) { (t.back) } }
    }
}

/// A Unix time as the pages show it: `2026-12-05 09:30 UTC`.
pub fn date(unix: u64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    i64::try_from(unix)
        .ok()
        .and_then(|unix| time::OffsetDateTime::from_unix_timestamp(unix).ok())
        .and_then(|at| at.format(format).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// The stylesheet.
pub(crate) const CSS: &str = include_str!("twostep.css");

/// The script: copy to clipboard, and the checkbox that enables its button.
pub(crate) const JS: &str = include_str!("twostep.js");

/// A page of a security log, newest first; `older` links the next page.
pub(crate) fn security_log(
    ctx: &Ctx<'_>,
    heading: &str,
    log: &SecurityLogView,
    older: &str,
) -> Markup {
    let t = ctx.text();
    html! {
        h3 { (heading) }
        @if log.events.is_empty() {
            p.dim id="security-log-empty" { (t.log_empty) }
        } @else {
            table.log id="security-log" {
                tr { th { (t.log_time) } th { (t.log_event) } th { (t.log_account) } th { (t.log_by) } th { (t.log_from) } }
                @for event in &log.events {
                    tr data-kind=(event.kind) {
                        td.when { (date(event.at)) }
                        td { (text::event_kind(ctx.lang, event.kind)) }
                        td { (event.user) }
                        td { (event.actor.as_deref().unwrap_or("")) }
                        td.dim { (event.ip.as_deref().unwrap_or(""))
                            @if let Some(agent) = &event.user_agent { small title=(agent) { (agent) } } }
                    }
                }
            }
            @if let Some(before) = log.older {
                p { a href=(format!("{older}before={before}")) id="security-log-older" { (t.log_older) } }
            }
        }
    }
}

/// The reset of a member's second factor: who, and the actor's password and code.
pub(crate) fn reset(ctx: &Ctx<'_>, org: &str, member: &str) -> Markup {
    let t = ctx.text();
    html! {
        p id="reset-intro" { (text::reset_intro(ctx.lang, member, org)) }
        form method="post" action=(format!("{}/reset", ctx.paths.org_security)) {
            (ctx.csrf_field())
            input type="hidden" name="org" value=(org);
            input type="hidden" name="member" value=(member);
            label for="password" { (t.password) }
            input type="password" name="password" id="password"
                autocomplete="current-password" autofocus required;
            label for="code" { (t.label_app_code) }
            input type="text" name="code" id="code" autocomplete="one-time-code"
                required maxlength="64";
            button.danger type="submit" id="reset" { (t.button_reset) }
        }
        p { a href=(ctx.paths.org_security) { (t.cancel) } }
    }
}
