//! An organisation, "acme", its members and a service over the memory store: ada (admin),
//! olga (owner), bob and cy (members).

use std::sync::Arc;

use twostep_enrollment::memory::{
    FixedPasswords, MemoryDirectory, MemoryStore, PlaintextSealer, RecordingAudit, RecordingMailer,
    SettableClock,
};
use twostep_enrollment::{
    Account, Clock, LoginChallenge, Policies, Refusal, Saved, Service, SignedIn,
};
use twostep_otp::Totp;
use twostep_policy::{Membership, Role};

use super::fast_hash;

pub(crate) const T0: u64 = 1_764_288_000;

/// Every member's password.
pub(crate) const PASSWORD: &str = "pw";

pub(crate) struct World {
    pub(crate) service:
        Service<MemoryStore, Arc<RecordingMailer>, FixedPasswords, Arc<MemoryDirectory>>,
    pub(crate) mailer: Arc<RecordingMailer>,
    pub(crate) directory: Arc<MemoryDirectory>,
    pub(crate) audit: Arc<RecordingAudit>,
    pub(crate) clock: Arc<SettableClock>,
}

impl World {
    /// `totp`'s code now.
    pub(crate) fn code(&self, totp: &Totp) -> String {
        totp.generate(self.clock.now())
            .expect("after T0")
            .to_string()
    }

    /// `user`, who has 2FA, signs in with `input` at the second step.
    pub(crate) async fn sign_in(
        &self,
        user: &str,
        input: &str,
    ) -> Result<SignedIn, Refusal<LoginChallenge>> {
        let account = super::acct(user);
        let step = self.service.begin_login(&account).await.expect("a store");
        let challenge = step.into_challenge().expect("a second step: 2FA is on");
        self.service.verify_login(&account, challenge, input).await
    }
}

pub(crate) fn world() -> World {
    let mailer = Arc::new(RecordingMailer::default());
    let directory = Arc::new(MemoryDirectory::default());
    let audit = Arc::new(RecordingAudit::default());
    let clock = Arc::new(SettableClock::at(T0));
    for (user, role) in [
        ("ada", Role::Admin),
        ("olga", Role::Owner),
        ("bob", Role::Member),
        ("cy", Role::Member),
    ] {
        directory.join(Membership::new("acme", user, role, 0));
    }
    let mut policies = Policies::new("DFINERY");
    policies.recovery_hash = fast_hash();
    let passwords = ["ada", "olga", "bob", "cy"]
        .into_iter()
        .fold(FixedPasswords::default(), |passwords, user| {
            passwords.with(user, PASSWORD)
        });
    let service = Service::builder(MemoryStore::default(), PlaintextSealer)
        .mailer(Arc::clone(&mailer))
        .reauthenticate(passwords)
        .directory(Arc::clone(&directory))
        .audit(Arc::clone(&audit))
        .clock(Arc::clone(&clock))
        .policies(policies)
        .build();
    World {
        service,
        mailer,
        directory,
        audit,
        clock,
    }
}

/// Runs the enable wizard for `user` through the service; their authenticator and recovery
/// codes.
pub(crate) async fn enable(world: &World, user: &str) -> (Totp, Vec<String>) {
    let email = format!("{user}@example.com");
    let account = Account {
        user_id: user.into(),
        email: email.clone(),
    };
    let sent = world.service.start_enable(&account).await.unwrap();
    let code = world.mailer.last_email_code(&email).expect("mailed");
    let setup = world
        .service
        .verify_email(&account, sent, code.expose())
        .await
        .unwrap();
    let totp = world
        .service
        .setup_view(&setup)
        .unwrap()
        .key_uri
        .to_totp()
        .unwrap();
    let now = world.clock.now();
    let save = world
        .service
        .confirm_authenticator(&account, setup, &totp.generate(now).unwrap().to_string())
        .await
        .unwrap();
    let codes = super::shown(save.codes());
    world
        .service
        .complete_enable(&account, save, Saved::Yes)
        .await
        .unwrap();
    (totp, codes)
}
