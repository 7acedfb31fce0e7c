//! What an application compiles against: every `Service` future is `Send` (it compiles into
//! `tokio::spawn`, as an axum handler or a background job needs), and a sign-in decision
//! needs no catch-all. The test is that this file compiles; running it only checks the
//! spawned calls finish.

use std::sync::Arc;

use twostep_enrollment::Account;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryDirectory, MemoryStore, PlaintextSealer, RecordingMailer,
};
use twostep_enrollment::{Saved, Service, ServiceError};

type Wired = Service<MemoryStore, RecordingMailer, FixedPasswords, MemoryDirectory>;

fn service() -> Arc<Wired> {
    Arc::new(
        Service::builder(MemoryStore::default(), PlaintextSealer)
            .mailer(RecordingMailer::default())
            .reauthenticate(FixedPasswords::default())
            .directory(MemoryDirectory::default())
            .build(),
    )
}

fn account() -> Account {
    Account {
        user_id: "alice".into(),
        email: "alice@example.com".into(),
    }
}

/// Spawns `call` on the runtime; what it returns does not matter here.
async fn spawned<T: Send + 'static>(call: impl Future<Output = T> + Send + 'static) {
    assert!(tokio::spawn(call).await.is_ok(), "the task ran to its end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup is a failed test
async fn every_service_future_can_be_spawned() {
    let s = service();
    let sent = s.start_enable(&account()).await.unwrap();
    let (s1, s2, s3, s4) = (s.clone(), s.clone(), s.clone(), s.clone());
    spawned(async move { s1.start_enable(&account()).await }).await;
    spawned(async move { s2.resend_email_code(&account(), sent).await.map(drop) }).await;
    spawned(async move { s3.begin_login(&account()).await.map(drop) }).await;
    spawned(async move { s4.status("alice").await }).await;

    // The states each later step takes, built the long way round the wizard is the service
    // tests' business; here a refused call is as good as an accepted one.
    // Another user: one email code per account per minute.
    let carol = Account {
        user_id: "carol".into(),
        email: "carol@example.com".into(),
    };
    let sent = s.start_enable(&carol).await.unwrap();
    let (s1, s2, s3, s4, s5) = (s.clone(), s.clone(), s.clone(), s.clone(), s.clone());
    spawned(async move { s1.verify_email(&carol, sent, "000000").await.map(drop) }).await;
    spawned(async move { s2.start_reissue(&account(), "pw").await.map(drop) }).await;
    spawned(async move { s3.start_disable(&account(), "pw").await.map(drop) }).await;
    spawned(async move { s4.statuses(&["alice", "bob"]).await }).await;
    spawned(async move { s5.unlock("alice").await }).await;
    let (s1, s2, s3, s4) = (s.clone(), s.clone(), s.clone(), s.clone());
    spawned(async move { s1.preview_mandate(&account(), "acme", 60).await.map(drop) }).await;
    spawned(async move { s2.set_mandate(&account(), "acme", 60).await.map(drop) }).await;
    spawned(async move { s3.set_mandate_grace(&account(), "acme", 60).await.map(drop) }).await;
    spawned(async move { s4.clear_mandate(&account(), "acme").await.map(drop) }).await;
}

/// The futures of the steps that take a pending state, checked by type alone.
#[allow(dead_code)]
fn pending_state_steps_are_send(s: Arc<Wired>) {
    fn send<T: Send>(_: T) {}
    use twostep_enrollment::ConfirmWithCode;
    use twostep_enrollment::LoginChallenge;
    use twostep_enrollment::SaveNewCodes;
    use twostep_enrollment::{AuthenticatorSetup, SaveRecoveryCodes};
    fn any<T>() -> T {
        unimplemented!("never called: the function is only type-checked")
    }
    let account = account();
    send(s.confirm_authenticator(&account, any::<AuthenticatorSetup>(), ""));
    send(s.complete_enable(&account, any::<SaveRecoveryCodes>(), Saved::Yes));
    send(s.verify_login(&account, any::<LoginChallenge>(), ""));
    send(s.complete_reissue(&account, any::<SaveNewCodes>(), Saved::Yes));
    send(s.confirm_disable(&account, any::<ConfirmWithCode>(), ""));
}

/// `Refusal` is an error: `?` turns it into a boxed error or a `ServiceError`.
#[allow(dead_code)]
async fn refusals_work_with_the_question_mark(s: &Wired) -> Result<(), Box<dyn std::error::Error>> {
    let sent = s.start_enable(&account()).await?;
    let _setup = s.verify_email(&account(), sent, "123456").await?;
    Ok(())
}

#[allow(dead_code)]
async fn refusals_convert_to_service_errors(s: &Wired) -> Result<(), ServiceError> {
    let sent = s.start_enable(&account()).await?;
    let _setup = s.verify_email(&account(), sent, "123456").await?;
    Ok(())
}

/// An application's sign-in decision names every step: `LoginStep` is exhaustive, so a step
/// added later breaks this build rather than falling into a catch-all that signs users in.
#[allow(dead_code)]
fn sign_in_decision(step: twostep_enrollment::LoginStep) -> &'static str {
    use twostep_enrollment::LoginStep;
    match step {
        LoginStep::SignedIn { .. } => "signed in",
        LoginStep::SecondStep(_) => "second step",
        LoginStep::EnrollmentRequired { .. } => "enable wizard",
    }
}

/// A collaborator may fail with a plain `BoxError` (a store or mailer built on a crate that
/// returns one): the associated `Error` types need not implement `Error` themselves.
struct BoxedMailer;

impl twostep_enrollment::Mailer for BoxedMailer {
    type Error = twostep_enrollment::BoxError;

    async fn send(&self, _: twostep_enrollment::Mail) -> Result<(), Self::Error> {
        Err("the relay is down".into())
    }
}

#[tokio::test]
async fn collaborators_may_fail_with_a_box_error() {
    let service = Service::builder(MemoryStore::default(), PlaintextSealer)
        .mailer(BoxedMailer)
        .reauthenticate(FixedPasswords::default())
        .build();
    match service.start_enable(&account()).await {
        Err(ServiceError::Backend { source, .. }) => {
            assert_eq!(source.to_string(), "the relay is down");
        }
        other => panic!("{other:?}"),
    }
}
