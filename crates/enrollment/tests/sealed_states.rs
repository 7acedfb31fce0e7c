//! What an application stores between two requests is untrusted: every pending state is
//! sealed by the service and opens only as it was sealed — same service, same user, same
//! flow, within the policies' lifetime — and shows no secret to whoever holds it.
// The helpers walk the flows: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::{fast_hash, shown};
use twostep_enrollment::Clock as _;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryStore, PlaintextSealer, RecordingMailer, SettableClock,
};
use twostep_enrollment::{
    Account, ConfirmWithCode, LoginChallenge, PendingEnable, PendingState, Policies, SaveNewCodes,
    Saved, SealedState, Service, ServiceError, StateKey,
};
use twostep_otp::Secret;

const T0: u64 = 1_764_288_000;
const KEY: [u8; 32] = [9; 32];
const PASSWORD: &str = "correct horse";

type Wired = Service<MemoryStore, Arc<RecordingMailer>, FixedPasswords>;

struct World {
    service: Wired,
    mailer: Arc<RecordingMailer>,
    clock: Arc<SettableClock>,
}

/// A service over a fresh store; `configure` changes its policies.
fn world_with(key: [u8; 32], configure: impl FnOnce(&mut Policies)) -> World {
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(SettableClock::at(T0));
    let mut policies = Policies::new("DFINERY");
    policies.recovery_hash = fast_hash();
    configure(&mut policies);
    let service = Service::builder(MemoryStore::default(), PlaintextSealer)
        .mailer(Arc::clone(&mailer))
        .reauthenticate(FixedPasswords::default().with("alice", PASSWORD))
        .clock(Arc::clone(&clock))
        .policies(policies)
        .state_key(StateKey::from_bytes(key))
        .build();
    World {
        service,
        mailer,
        clock,
    }
}

fn world() -> World {
    world_with(KEY, |_| {})
}

fn alice() -> Account {
    Account {
        user_id: "alice".into(),
        email: "alice@example.com".into(),
    }
}

/// Every pending state a flow hands out, sealed, with the secrets each must hide.
struct Sealed {
    email_code: SealedState,
    setup: SealedState,
    recovery_codes: SealedState,
    login: SealedState,
    reissue: SealedState,
    disable: SealedState,
    /// The new TOTP key in every spelling, and every recovery code shown.
    secrets: Vec<String>,
}

impl World {
    /// Walks every flow once, sealing each pending state on the way (and continuing from the
    /// opened copy, as a server would on the next request).
    async fn seal_every_state(&self) -> Sealed {
        let s = &self.service;
        let mut secrets = Vec::new();
        let sent = s.start_enable(&alice()).await.unwrap();
        let email_code = s.seal(&PendingEnable::from(sent)).unwrap();
        let Ok(PendingEnable::EmailCodeSent(sent)) = s.open("alice", &email_code) else {
            panic!("the email step opens as itself")
        };
        let code = self.mailer.last_email_code("alice@example.com").unwrap();
        let setup = s.verify_email(&alice(), sent, code.expose()).await.unwrap();
        let view = s.setup_view(&setup).unwrap();
        let totp = view.key_uri.to_totp().unwrap();
        let key = view.manual_key.replace(' ', "");
        let bytes = Secret::from_base32(&key).unwrap();
        secrets.extend([key.clone(), key.to_lowercase(), hex(bytes.expose_bytes())]);
        let sealed_setup = s.seal(&PendingEnable::from(setup)).unwrap();
        let Ok(PendingEnable::AuthenticatorSetup(setup)) = s.open("alice", &sealed_setup) else {
            panic!("the setup step opens as itself")
        };
        assert_eq!(
            s.setup_view(&setup).unwrap().manual_key,
            view.manual_key,
            "the same key after opening"
        );
        let now = self.clock.now();
        let first = totp.generate(now).unwrap().to_string();
        let save = s
            .confirm_authenticator(&alice(), setup, &first)
            .await
            .unwrap();
        secrets.extend(shown(save.codes()));
        let recovery_codes = s.seal(&PendingEnable::from(save)).unwrap();
        let Ok(PendingEnable::SaveRecoveryCodes(save)) = s.open("alice", &recovery_codes) else {
            panic!("the recovery-code step opens as itself")
        };
        s.complete_enable(&alice(), save, Saved::Yes).await.unwrap();

        let challenge = s
            .begin_login(&alice())
            .await
            .unwrap()
            .into_challenge()
            .unwrap();
        let login = s.seal(&challenge).unwrap();
        let save = s.start_reissue(&alice(), PASSWORD).await.unwrap();
        secrets.extend(shown(save.codes()));
        let reissue = s.seal(&save).unwrap();
        let confirm = s.start_disable(&alice(), PASSWORD).await.unwrap();
        let disable = s.seal(&confirm).unwrap();
        Sealed {
            email_code,
            setup: sealed_setup,
            recovery_codes,
            login,
            reissue,
            disable,
            secrets,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn refused<T: std::fmt::Debug>(opened: Result<T, ServiceError>) -> bool {
    matches!(opened, Err(ServiceError::InvalidState))
}

fn opens<T: PendingState>(service: &Wired, user: &str, sealed: &SealedState) -> bool {
    service.open::<T>(user, sealed).is_ok()
}

#[tokio::test]
async fn each_state_opens_only_for_its_user_and_flow() {
    let w = world();
    let sealed = w.seal_every_state().await;
    let s = &w.service;
    let enable = [&sealed.email_code, &sealed.setup, &sealed.recovery_codes];
    for state in enable {
        assert!(opens::<PendingEnable>(s, "alice", state));
        assert!(
            refused(s.open::<PendingEnable>("bob", state)),
            "another user"
        );
        assert!(refused(s.open::<LoginChallenge>("alice", state)));
        assert!(refused(s.open::<SaveNewCodes>("alice", state)));
        assert!(refused(s.open::<ConfirmWithCode>("alice", state)));
    }
    assert!(opens::<LoginChallenge>(s, "alice", &sealed.login));
    assert!(refused(s.open::<LoginChallenge>("bob", &sealed.login)));
    assert!(
        refused(s.open::<ConfirmWithCode>("alice", &sealed.login)),
        "a login challenge never opens as a disable step, which would skip the password"
    );
    assert!(opens::<SaveNewCodes>(s, "alice", &sealed.reissue));
    assert!(refused(s.open::<SaveNewCodes>("bob", &sealed.reissue)));
    assert!(refused(s.open::<PendingEnable>("alice", &sealed.reissue)));
    assert!(opens::<ConfirmWithCode>(s, "alice", &sealed.disable));
    assert!(refused(s.open::<ConfirmWithCode>("bob", &sealed.disable)));
    assert!(refused(s.open::<LoginChallenge>("alice", &sealed.disable)));
}

#[tokio::test]
async fn another_service_opens_none_of_them() {
    let w = world();
    let sealed = w.seal_every_state().await;
    let other_issuer = world_with(KEY, |p| p.issuer = "ACME".into());
    let other_key = world_with([8; 32], |_| {});
    for other in [&other_issuer.service, &other_key.service] {
        for state in [&sealed.email_code, &sealed.setup, &sealed.recovery_codes] {
            assert!(refused(other.open::<PendingEnable>("alice", state)));
        }
        assert!(refused(
            other.open::<LoginChallenge>("alice", &sealed.login)
        ));
        assert!(refused(
            other.open::<SaveNewCodes>("alice", &sealed.reissue)
        ));
        assert!(refused(
            other.open::<ConfirmWithCode>("alice", &sealed.disable)
        ));
    }
    let same = world_with(KEY, |_| {});
    assert!(
        opens::<LoginChallenge>(&same.service, "alice", &sealed.login),
        "a second server with the same key and issuer opens it"
    );
}

#[tokio::test]
async fn an_edited_state_never_opens() {
    let w = world();
    let sealed = w.seal_every_state().await;
    let text = sealed.disable.as_str();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for at in 0..text.len() {
        let mut edited = text.as_bytes().to_vec();
        edited[at] = if edited[at] == b'A' { b'B' } else { b'A' };
        let edited = SealedState::from(String::from_utf8(edited).unwrap());
        assert!(
            refused(w.service.open::<ConfirmWithCode>("alice", &edited)),
            "edited at {at}"
        );
    }
    for garbage in ["", "A", "not base64!", &text[..text.len() / 2]] {
        let garbage = SealedState::from(garbage.to_owned());
        assert!(refused(
            w.service.open::<ConfirmWithCode>("alice", &garbage)
        ));
    }
    assert!(ALPHABET.contains(&text.as_bytes()[0]), "URL-safe text");
}

/// The forgery of the report: a hand-written disable step with no password checked and an
/// expiry at the end of time. Version 2 snapshots, plain JSON, do not open either.
#[tokio::test]
async fn hand_written_and_version_2_states_are_refused() {
    let w = world();
    w.seal_every_state().await;
    let forged = r#"{"version":2,"flow":"disable","id":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"user_id":"alice","expires_at":18446744073709551615,"revision":2}"#;
    let forged = SealedState::from(forged.to_owned());
    assert!(refused(w.service.open::<ConfirmWithCode>("alice", &forged)));
    let wizard = r#"{"version":2,"user_id":"bob","email":"mallory@example.com","revision":0,"started_at":1764288000,"step":"authenticator_setup","secret":"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}"#;
    let wizard = SealedState::from(wizard.to_owned());
    assert!(refused(w.service.open::<PendingEnable>("bob", &wizard)));
    assert!(
        w.service.status("alice").await.unwrap().is_enabled(),
        "nothing changed"
    );
}

#[tokio::test]
async fn a_state_outliving_the_policies_is_refused_and_an_expired_one_expires() {
    let generous = world_with(KEY, |p| p.challenge_ttl_seconds = 24 * 60 * 60);
    generous.seal_every_state().await;
    let challenge = generous
        .service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .unwrap();
    let day_long = generous.service.seal(&challenge).unwrap();
    // The same key and issuer with today's five-minute policy: a day-long state is not one
    // it would have sealed.
    let strict = world_with(KEY, |_| {});
    assert!(refused(
        strict.service.open::<LoginChallenge>("alice", &day_long)
    ));

    let w = world();
    let sealed = w.seal_every_state().await;
    let challenge = w
        .service
        .begin_login(&alice())
        .await
        .unwrap()
        .into_challenge()
        .unwrap();
    w.clock.advance(5 * 60);
    assert!(matches!(
        w.service.open::<LoginChallenge>("alice", &sealed.login),
        Err(ServiceError::Expired)
    ));
    w.clock.advance(15 * 60);
    assert!(matches!(
        w.service.open::<PendingEnable>("alice", &sealed.email_code),
        Err(ServiceError::Expired)
    ));
    assert!(matches!(
        w.service.seal(&challenge),
        Err(ServiceError::Expired)
    ));
}

/// What an application stores for each pending state shows neither the new key (in any
/// spelling) nor a recovery code.
#[tokio::test]
async fn no_secret_or_recovery_code_is_readable_in_what_an_app_stores() {
    use base64::Engine as _;
    let w = world();
    let sealed = w.seal_every_state().await;
    assert!(
        sealed.secrets.len() >= 3 + 20,
        "a key and two sets of codes"
    );
    let states = [
        &sealed.email_code,
        &sealed.setup,
        &sealed.recovery_codes,
        &sealed.login,
        &sealed.reissue,
        &sealed.disable,
    ];
    for state in states {
        let text = state.as_str();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap();
        let lossy = String::from_utf8_lossy(&bytes);
        let debug = format!("{state:?}");
        for secret in &sealed.secrets {
            let bare = secret.replace('-', "");
            for shown in [text, &lossy, &debug] {
                assert!(!shown.contains(secret.as_str()), "{secret} in {shown}");
                assert!(!shown.contains(bare.as_str()), "{bare} in {shown}");
            }
        }
    }
    // A positive control: the same search finds the codes where they are shown.
    let save = w.service.start_reissue(&alice(), PASSWORD).await.unwrap();
    let codes = shown(save.codes());
    assert!(save.codes().clipboard_text().contains(&codes[0]));
}

/// A state too large for the sealing buffer is refused, not sealed after a reallocation that
/// would leave an unwiped copy of its plaintext behind.
#[tokio::test]
async fn a_state_too_large_to_seal_is_refused() {
    let w = world();
    let huge = Account {
        user_id: "alice".into(),
        email: format!("{}@example.com", "a".repeat(20_000)),
    };
    let sent = w.service.start_enable(&huge).await.unwrap();
    assert!(refused(w.service.seal(&PendingEnable::from(sent))));
}
