#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod app;
#[cfg(feature = "test-util")]
pub mod conformance;
mod disable;
mod email_code;
mod enable;
mod login;
#[cfg(feature = "test-util")]
pub mod memory;
mod policies;
mod reissue;
mod sealed;
mod service;
mod snapshot;
mod threads;
mod throttle;

#[cfg(test)]
mod tests;

pub use app::{
    AcceptStep, AuditEvent, AuditKind, AuditLog, BoxError, Client, Clock, ConsumedState,
    CredentialRecord, Directory, EventQuery, EventsOf, FORGET_CONSUMED_AFTER_SECONDS, LoggedEvent,
    Mail, Mailer, Notice, Reauthenticate, SealedSecret, Sealer, StateId, Store, StoredAccount,
    StoredOrgPolicy, SystemClock,
};
pub use disable::ConfirmWithCode;
pub use email_code::EmailCode;
pub use enable::{Account, AuthenticatorSetup, EmailCodeSent, SaveRecoveryCodes, SetupView};
pub use login::LoginChallenge;
pub use policies::Policies;
pub use reissue::SaveNewCodes;
pub use sealed::{PendingState, SealedState, StateKey};
pub use service::{
    Collaborator, EMAIL_CODES_PER_COOLDOWN, EnrollmentReminder, LoginStep, NoOrganizations,
    RecoveryCodesLeft, Refusal, Saved, Service, ServiceBuilder, ServiceError, SignedIn, Status,
    TracingAudit,
};
pub use snapshot::PendingEnable;
pub use threads::{HashingError, HashingThreads, JobHandle};

/// The RNG traits the machines take, re-exported so an application names the same version.
pub use rand_core;
pub use throttle::{Locked, Throttle, ThrottlePolicy};
