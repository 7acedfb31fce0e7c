//! The default audit log, `TracingAudit`, writes what the application passes as a user id
//! escaped: an address with a newline once forged a whole audit line in the console's log,
//! and a right-to-left override reordered one on screen.

use std::io::Write;
use std::sync::{Arc, Mutex};

use twostep_enrollment::memory::{FixedPasswords, MemoryStore, PlaintextSealer, RecordingMailer};
use twostep_enrollment::{Account, Service};

/// Where the subscriber writes: a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn user_ids_reach_the_log_escaped() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let service = Service::builder(MemoryStore::default(), PlaintextSealer)
        .mailer(RecordingMailer::default())
        .reauthenticate(FixedPasswords::default())
        .build(); // the default audit log: TracingAudit
    let forged = "eve@example.com\n2026-12-04T00:00:00Z  INFO twostep::audit: \
                  two-step verification event user_id=admin kind=Disabled";
    for user in [forged, "\u{202e}moc.elpmaxe@eve"] {
        let account = Account {
            user_id: user.into(),
            email: "eve@example.com".into(),
        };
        service.start_enable(&account).await.unwrap();
    }

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(log.lines().count(), 2, "one line per event:\n{log}");
    assert!(
        log.lines().all(|line| line.contains("kind=EnableStarted")),
        "{log}"
    );
    assert!(!log.contains('\u{202e}'), "{log}");
    assert!(log.contains(r"eve@example.com\n2026"), "{log}");
    assert!(log.contains(r"\u{202e}"), "{log}");
}
