//! Sealed pending states, as an application hands them back: arbitrary text opened as every
//! kind of state, and a real sealed state with arbitrary edits. Invariants: nothing panics;
//! text the service did not seal never opens (`InvalidState`); an edited sealed state never
//! opens, and the unedited one opens as itself and as nothing else.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use twostep_enrollment::memory::{
    FixedPasswords, MemoryStore, PlaintextSealer, RecordingMailer, SettableClock,
};
use twostep_enrollment::{
    Account, ConfirmWithCode, LoginChallenge, PendingEnable, PendingState, SaveNewCodes,
    SealedState, Service, ServiceError, StateKey,
};

type Wired = Service<MemoryStore, RecordingMailer, FixedPasswords>;

struct Fixture {
    service: Wired,
    wizard: SealedState,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let service = Service::builder(MemoryStore::default(), PlaintextSealer)
            .mailer(RecordingMailer::default())
            .reauthenticate(FixedPasswords::default())
            .clock(Arc::new(SettableClock::at(1_764_288_000)))
            .state_key(StateKey::from_bytes([5; 32]))
            .build();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let account = Account {
            user_id: "alice".into(),
            email: "alice@example.com".into(),
        };
        let sent = runtime
            .block_on(service.start_enable(&account))
            .expect("the wizard starts");
        let wizard = service
            .seal(&PendingEnable::from(sent))
            .expect("a fresh state seals");
        Fixture { service, wizard }
    })
}

fn refused<T: PendingState + std::fmt::Debug>(service: &Wired, user: &str, text: &SealedState) {
    match service.open::<T>(user, text) {
        Err(ServiceError::InvalidState) => {}
        other => panic!("text the service did not seal: {other:?}"),
    }
}

fuzz_target!(|input: (String, Vec<(u16, u8)>)| {
    let (text, edits) = input;
    let Fixture { service, wizard } = fixture();
    let text = SealedState::from(text);
    if text != *wizard {
        refused::<PendingEnable>(service, "alice", &text);
        refused::<LoginChallenge>(service, "alice", &text);
        refused::<SaveNewCodes>(service, "alice", &text);
        refused::<ConfirmWithCode>(service, "alice", &text);
    }

    let mut edited = wizard.as_str().as_bytes().to_vec();
    for (at, xor) in edits {
        if let Some(byte) = edited.get_mut(usize::from(at) % wizard.as_str().len().max(1)) {
            *byte ^= xor;
        }
    }
    let Ok(edited) = String::from_utf8(edited) else {
        return;
    };
    let edited = SealedState::from(edited);
    if edited == *wizard {
        assert!(service.open::<PendingEnable>("alice", &edited).is_ok());
        refused::<PendingEnable>(service, "bob", &edited);
        refused::<LoginChallenge>(service, "alice", &edited);
    } else {
        refused::<PendingEnable>(service, "alice", &edited);
    }
});
