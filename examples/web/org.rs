//! Org management: members and roles, and Security settings with the 2FA mandate.

use axum::extract::{Extension, Form, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use twostep::policy::{Membership, Role};

use crate::app::{App, SessionId, Shared, Sid, account_of, date, role_name, user_message};
use crate::pages::{self, Area};

/// The signed-in user's membership (its `user_id` is their email); or, if they have none,
/// the answer to give.
async fn member(app: &App, id: &str) -> Result<Membership, Response> {
    match app.accounts.membership(&app.user(id)).await {
        Ok(Some(me)) => Ok(me),
        Ok(None) => Err(app.back(
            id,
            "/account",
            false,
            "You do not belong to an organisation.",
        )),
        Err(error) => {
            eprintln!("membership: {error}");
            Err(app.back(id, "/account", false, "Something went wrong; try again."))
        }
    }
}

const ORG_TABS: [(&str, &str); 2] = [("/org", "Members"), ("/org/security", "Security settings")];

pub(crate) async fn org_members(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    use twostep::enrollment::Directory as _;
    let me = match member(&app, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = app.csrf(&id);
    let members = app.accounts.members(&me.org_id).await.unwrap_or_default();
    // Who has no 2FA is for those who manage security to know (as the mandate preview is).
    let manager = me.role.manages_security();
    let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    // One store query for the whole list, and only for those allowed to see it.
    let statuses = if manager {
        app.service.statuses(&ids).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let rows: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, member)| (member, statuses.get(i).is_some_and(|s| s.is_enabled())))
        .collect();
    let body = html! {
        (pages::tabs(&ORG_TABS, "/org"))
        p { "Organisation: " strong { (me.org_id) } }
        table id="members" {
            tr { th { "Member" } th { "Role" } @if manager { th { "Two-step verification" } } @if me.role == Role::Owner { th {} } }
            @for (member, on) in &rows {
                tr {
                    td { (member.user_id) }
                    td { (role_name(member.role)) }
                    @if manager { td { span.status.on[*on].off[!*on] { @if *on { "On" } @else { "Off" } } } }
                    @if me.role == Role::Owner {
                        td {
                            @if member.role != Role::Owner {
                                form.inline method="post" action="/org/role" {
                                    (pages::csrf_field(&csrf))
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
    };
    app.render(&id, "Org management", Area::Org, body)
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct RoleForm {
    member: String,
    admin: String,
}

pub(crate) async fn org_role(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<RoleForm>,
) -> Response {
    let me = match member(&app, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    match app
        .accounts
        .set_role(&me.user_id, &me.org_id, &form.member, form.admin == "1")
        .await
    {
        Ok(true) => app.back(&id, "/org", true, "Role changed."),
        Ok(false) => app.back(&id, "/org", false, "Only the owner can change roles."),
        Err(error) => {
            eprintln!("role change: {error}");
            app.back(&id, "/org", false, "Something went wrong; try again.")
        }
    }
}

pub(crate) async fn org_security(State(app): Shared, Extension(SessionId(id)): Sid) -> Response {
    let me = match member(&app, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = app.csrf(&id);
    let policy = app.service.org_policy(&me.org_id).await.ok().flatten();
    let mandate = policy.and_then(|policy| policy.mandate);
    let preview = match mandate {
        Some(_) => None,
        None => Some(
            app.service
                .preview_mandate(&account_of(&me.user_id), &me.org_id, 0)
                .await,
        ),
    };
    let body = html! {
        (pages::tabs(&ORG_TABS, "/org/security"))
        h3 { "Two-step verification for all members" }
        p { "When required, members without two-step verification must set it up at their next "
            "sign-in, and no member can turn it off. Only owners and admins who use two-step "
            "verification themselves can change this." }
        form method="post" action="/org/security" {
            (pages::csrf_field(&csrf))
            @match &mandate {
                Some(mandate) => {
                    p.switch { span.status.on id="mandate" { "Required" } " since " (date(mandate.since)) " (set by " (mandate.set_by) ")" }
                    input type="hidden" name="require" value="off";
                    button.danger type="submit" id="mandate-switch" { "Stop requiring two-step verification" }
                }
                None => {
                    p.switch { span.status.off id="mandate" { "Not required" } }
                    input type="hidden" name="require" value="on";
                    button type="submit" id="mandate-switch" { "Require two-step verification" }
                }
            }
        }
        @match preview {
            Some(Ok(affected)) => {
                h3 { "Preview" }
                @if affected.is_empty() {
                    p id="preview" { "Every member already uses two-step verification." }
                } @else {
                    p { "These members do not use two-step verification yet and will have to set it up at their next sign-in:" }
                    ul id="preview" { @for member in &affected { li { (member.user_id) } } }
                }
            }
            Some(Err(error)) => p.flash.error id="preview-refused" { (user_message(&error)) },
            None => {}
        }
    };
    app.render(&id, "Org management", Area::Org, body)
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct MandateForm {
    require: String,
}

pub(crate) async fn org_security_set(
    State(app): Shared,
    Extension(SessionId(id)): Sid,
    Form(form): Form<MandateForm>,
) -> Response {
    let me = match member(&app, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let result = if form.require == "on" {
        let actor = account_of(&me.user_id);
        app.service.set_mandate(&actor, &me.org_id, 0).await
    } else {
        let actor = account_of(&me.user_id);
        app.service.clear_mandate(&actor, &me.org_id).await
    };
    match result {
        Ok(policy) if policy.mandate.is_some() => app.back(
            &id,
            "/org/security",
            true,
            "Two-step verification is now required for every member.",
        ),
        Ok(_) => app.back(
            &id,
            "/org/security",
            true,
            "Two-step verification is no longer required.",
        ),
        Err(error) => app.fail(&id, "/org/security", &error),
    }
}
