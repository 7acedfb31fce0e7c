//! The security log through the service, over the memory store (which keeps one): what a
//! user's page and an organisation's page hold, newest first and page by page, who may read
//! the organisation's, and the client the events carry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::acct;
use common::orgs::{PASSWORD, World, enable, world};
use twostep_enrollment::{AuditKind, Client, LoggedEvent, ServiceError};
use twostep_policy::Refusal;

fn kinds(page: &[LoggedEvent]) -> Vec<AuditKind> {
    page.iter().map(|logged| logged.event.kind).collect()
}

/// bob enables 2FA, fails once, signs in, and ada (an admin) resets him.
async fn story(world: &World) {
    let (ada, _) = enable(world, "ada").await;
    let (bob, _) = enable(world, "bob").await;
    world.clock.advance(30);
    let wrong = if world.code(&bob) == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert!(world.sign_in("bob", wrong).await.is_err());
    assert!(world.sign_in("bob", &world.code(&bob)).await.is_ok());
    world.clock.advance(30);
    let code = world.code(&ada);
    world
        .service
        .reset_member(&acct("ada"), "acme", &acct("bob"), PASSWORD, &code)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_users_page_holds_their_factors_events_newest_first() {
    let world = world();
    story(&world).await;
    let page = world.service.security_log("bob", None, 50).await.unwrap();
    assert_eq!(
        kinds(&page),
        [
            AuditKind::Reset,
            AuditKind::LoginWithCode,
            AuditKind::SecondStepFailed,
            AuditKind::Enabled,
            AuditKind::EnableStarted,
        ]
    );
    let reset = &page[0].event;
    assert_eq!(
        (reset.actor.as_deref(), reset.org.as_deref()),
        (Some("ada"), Some("acme")),
        "the reset says by whom and where"
    );
    // The actor's page holds the reset they made, beside their own events.
    let ada = world.service.security_log("ada", None, 50).await.unwrap();
    assert_eq!(ada[0].event.kind, AuditKind::Reset);
    assert_eq!(ada[0].event.user_id, "bob");
    assert!(kinds(&ada).contains(&AuditKind::Enabled));
}

#[tokio::test]
async fn pages_follow_one_another_without_gaps() {
    let world = world();
    story(&world).await;
    let all = world.service.security_log("bob", None, 50).await.unwrap();
    let mut read = Vec::new();
    let mut before = None;
    loop {
        let page = world.service.security_log("bob", before, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        read.extend(page);
    }
    assert_eq!(read, all);
}

#[tokio::test]
async fn only_owners_and_admins_read_an_organisations_page() {
    let world = world();
    story(&world).await;
    let page = world
        .service
        .org_security_log("ada", "acme", None, 50)
        .await
        .unwrap();
    assert_eq!(kinds(&page), [AuditKind::Reset]);
    let owner = world
        .service
        .org_security_log("olga", "acme", None, 50)
        .await;
    assert_eq!(owner.unwrap(), page);
    for (who, refusal) in [
        ("bob", Refusal::NotOwnerOrAdmin),
        ("mallory", Refusal::NotAMember),
    ] {
        let refused = world.service.org_security_log(who, "acme", None, 50).await;
        assert!(
            matches!(&refused, Err(ServiceError::Policy(r)) if *r == refusal),
            "{who}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn events_carry_the_client_the_application_scoped() {
    let world = world();
    // A user agent longer than kept, cut inside a three-byte character.
    let agent = format!("Mozilla/5.0 {}", "한".repeat(100));
    let client = Client::new(Some([203, 0, 113, 7].into()), Some(&agent));
    client
        .scope(async {
            world.service.start_enable(&acct("cy")).await.unwrap();
        })
        .await;
    world.service.start_enable(&acct("bob")).await.unwrap();
    let cy = &world.service.security_log("cy", None, 1).await.unwrap()[0].event;
    assert_eq!(cy.ip, Some([203, 0, 113, 7].into()));
    let kept = cy.user_agent.as_deref().unwrap();
    assert!(kept.len() <= Client::MAX_USER_AGENT && kept.len() > Client::MAX_USER_AGENT - 3);
    assert!(agent.starts_with(kept));
    let bob = &world.service.security_log("bob", None, 1).await.unwrap()[0].event;
    assert_eq!(
        (bob.ip, bob.user_agent.as_deref()),
        (None, None),
        "outside a scope"
    );
}
