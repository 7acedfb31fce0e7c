#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod app;
#[cfg(feature = "test-util")]
pub mod conformance;
pub mod disable;
pub mod email_code;
pub mod enable;
pub mod login;
#[cfg(feature = "test-util")]
pub mod memory;
pub mod reissue;
mod service;
pub mod snapshot;
mod throttle;

pub use app::{
    AuditEvent, AuditKind, AuditLog, BoxError, Clock, ConsumedState, CredentialRecord, Directory,
    FORGET_CONSUMED_AFTER_SECONDS, Mail, Mailer, Notice, Reauthenticate, SealedSecret, Sealer,
    StateId, Store, StoredAccount, SystemClock,
};
pub use email_code::{EmailChallenge, EmailCode, EmailCodeError, EmailCodePolicy};
pub use service::{
    Collaborator, EnrollmentReminder, LoginStep, NoOrganizations, Policies, RecoveryCodesLeft,
    Refusal, Service, ServiceBuilder, ServiceError, SignedIn, Status, TracingAudit,
};

/// The RNG traits the machines take, re-exported so an application names the same version.
pub use rand_core;
pub use throttle::{Locked, Throttle, ThrottlePolicy};
