//! The console's chrome around every page (its own and twostep's), and its own pages:
//! sign-in, sign-up, the profile, the members of an organisation, the mailbox.

use maud::{DOCTYPE, Markup, html};
use twostep::axum::ui::{Area, Flash, Frame, Lang, date};
use twostep::policy::{Membership, Role};

use crate::mail::SentMail;

/// Which part of the console a page belongs to, for the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// Sign-in, sign-up, the second step: no navigation.
    Public,
    /// Only the enable wizard (and the mailbox) while an organisation requires 2FA.
    Enrolling,
    Account,
    Org,
    Mail,
}

/// What the chrome needs besides the page.
pub(crate) struct Chrome<'a> {
    pub title: &'a str,
    pub lang: Lang,
    pub nav: Nav,
    pub user: Option<&'a str>,
    /// The anti-CSRF token of the sign-out form.
    pub csrf: &'a str,
    pub flash: Option<Flash>,
    /// twostep's stylesheet and script.
    pub head: Markup,
}

/// twostep's pages in the console's chrome.
pub(crate) fn twostep_page(frame: Frame<'_>) -> Markup {
    let nav = match frame.area {
        Area::Enrolling => Nav::Enrolling,
        Area::Account => Nav::Account,
        Area::Org => Nav::Org,
        _ => Nav::Public,
    };
    let chrome = Chrome {
        title: frame.title,
        lang: frame.lang,
        nav,
        user: frame.user,
        csrf: frame.csrf,
        flash: frame.flash,
        head: frame.head,
    };
    let body = html! {
        @if frame.area == Area::Account { (account_tabs("/account/2fa", frame.lang)) }
        (frame.body)
    };
    layout(chrome, body)
}

/// The whole document.
pub(crate) fn layout(chrome: Chrome<'_>, body: Markup) -> Markup {
    let ko = chrome.lang == Lang::Ko;
    html! {
        (DOCTYPE)
        html lang=(chrome.lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (chrome.title) " · twostep console" }
                (chrome.head)
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                header.top {
                    span.brand { "twostep" span.dim { " console" } }
                    @if matches!(chrome.nav, Nav::Account | Nav::Org | Nav::Mail) {
                        nav {
                            a.active[chrome.nav == Nav::Account] href="/account" { @if ko { "계정 관리" } @else { "Account management" } }
                            a.active[chrome.nav == Nav::Org] href="/org" { @if ko { "조직 관리" } @else { "Org management" } }
                            a.active[chrome.nav == Nav::Mail] href="/mail" { @if ko { "메일함" } @else { "Mailbox" } }
                        }
                    } @else if chrome.nav == Nav::Enrolling {
                        nav { a href="/mail" target="_blank" { @if ko { "메일함" } @else { "Mailbox" } } }
                    }
                    span.lang { a href="?lang=en" id="lang-en" { "EN" } " · " a href="?lang=ko" id="lang-ko" { "한국어" } }
                    @if let Some(user) = chrome.user {
                        form.signout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            span.dim { (user) }
                            button.link type="submit" id="sign-out" { @if ko { "로그아웃" } @else { "Sign out" } }
                        }
                    }
                }
                main {
                    @if let Some(flash) = chrome.flash {
                        p id="flash" class=(if flash.ok { "flash ok" } else { "flash error" }) { (flash.text) }
                    }
                    h1 { (chrome.title) }
                    (body)
                }
            }
        }
    }
}

fn account_tabs(active: &str, lang: Lang) -> Markup {
    let tabs = match lang {
        Lang::Ko => [("/account", "프로필"), ("/account/2fa", "2단계 인증")],
        _ => [
            ("/account", "Profile"),
            ("/account/2fa", "Two-step verification"),
        ],
    };
    html! {
        div.tabs {
            @for (href, label) in tabs {
                a.tab.active[href == active] href=(href) { (label) }
            }
        }
    }
}

/// The sign-in or sign-up form, with what went wrong last time.
pub(crate) fn sign_in_form(sign_up: bool, email: &str) -> Markup {
    let action = if sign_up { "/signup" } else { "/login" };
    html! {
        form method="post" action=(action) {
            label for="email" { "Email" }
            input type="email" name="email" id="email" value=(email) autocomplete="username" autofocus required;
            label for="password" { "Password" }
            input type="password" name="password" id="password"
                autocomplete=(if sign_up { "new-password" } else { "current-password" }) required;
            @if sign_up {
                label for="org" { "Organisation" }
                input type="text" name="org" id="org" required placeholder="Acme Inc.";
                p.dim { "The first account of an organisation owns it; later ones join as members." }
                button type="submit" id="submit" { "Create account" }
            } @else {
                button type="submit" id="submit" { "Sign in" }
            }
        }
        p {
            @if sign_up { "Have an account? " a href="/login" { "Sign in" } }
            @else { "New here? " a href="/signup" { "Create an account" } }
        }
    }
}

pub(crate) fn profile(email: &str, membership: Option<&Membership>, lang: Lang) -> Markup {
    html! {
        (account_tabs("/account", lang))
        table {
            tr { th { "Email" } td { (email) } }
            @if let Some(membership) = membership {
                tr { th { "Organisation" } td { (membership.org_id) } }
                tr { th { "Role" } td { (role_name(membership.role)) } }
            }
        }
    }
}

/// The members of the viewer's organisation, with whether each has 2FA to those who manage
/// security, and the owner's role switches.
pub(crate) fn members(me: &Membership, rows: &[(Membership, Option<bool>)], csrf: &str) -> Markup {
    html! {
        div.tabs { a.tab.active href="/org" { "Members" } a.tab href="/org/security" { "Security settings" } }
        p { "Organisation: " strong { (me.org_id) } }
        table id="members" {
            tr { th { "Member" } th { "Role" } @if me.role.manages_security() { th { "Two-step verification" } } @if me.role == Role::Owner { th {} } }
            @for (member, on) in rows {
                tr {
                    td { (member.user_id) }
                    td { (role_name(member.role)) }
                    @if let Some(on) = on { td { span.status.on[*on].off[!*on] { @if *on { "On" } @else { "Off" } }
                        // A member locked out (phone and codes lost): an owner or admin resets.
                        @if *on && member.user_id != me.user_id {
                            " "
                            form.inline method="get" action="/org/security/reset" {
                                input type="hidden" name="member" value=(member.user_id);
                                button.link type="submit" { "Reset 2FA" }
                            }
                        }
                    } }
                    @if me.role == Role::Owner {
                        td {
                            @if member.role != Role::Owner {
                                form.inline method="post" action="/org/role" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="member" value=(member.user_id);
                                    input type="hidden" name="admin" value=(if member.role == Role::Admin { "0" } else { "1" });
                                    button.link type="submit" { @if member.role == Role::Admin { "Make member" } @else { "Make admin" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn mailbox(mails: &[SentMail]) -> Markup {
    html! {
        p.dim { "For local use: the console mailer prints every message it sends and keeps "
            "yours here, newest first." }
        @for mail in mails {
            article.mail {
                div { strong.subject { (mail.subject) } }
                div.dim { "To " span.to { (mail.to) } " · " (date(mail.at)) }
                p.body { (mail.body) }
            }
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        _ => "Member",
    }
}

/// The console's own styles: its header and the mailbox (twostep's stylesheet has the rest).
pub(crate) const CSS: &str = r#"
header.top { display: flex; align-items: center; gap: 24px; padding: 0 24px; height: 52px; background: #1d2433; color: #fff; }
header.top a { color: #c8d1e4; text-decoration: none; margin-right: 16px; }
header.top a.active { color: #fff; font-weight: 600; }
.brand { font-weight: 700; font-size: 17px; }
header.top .lang a { margin-right: 0; }
form.signout { margin-left: auto; display: flex; gap: 12px; align-items: center; }
form.signout .link { color: #c8d1e4; }
.mail { border: 1px solid #dde2eb; border-radius: 6px; padding: 10px 14px; margin-bottom: 10px; }
.mail .body { white-space: pre-wrap; }
"#;
