//! # twostep-enrollment
//!
//! The flows of two-step verification, storage-agnostic: the enable wizard, the second step
//! at login, re-issuing recovery codes and disabling (the seed guide's steps 2–5).
//!
//! Two layers, in the style of rustls:
//!
//! - **Sans-IO machines** — [`enable`], [`login`], [`reissue`], [`disable`]. Each flow is a set
//!   of state types with consuming transitions that take `now` (and the RNG, and the stored
//!   values they need) and return the next state, or the state back with the reason. They call
//!   no trait and read no clock, so any caller — sync, async, exotic — can drive them, and
//!   every behaviour is deterministic under test.
//! - **The async [`Service`]**, which drives the machines against the application's traits
//!   ([`Store`], [`Mailer`], [`Reauthenticate`], [`Sealer`], [`AuditLog`], [`Clock`]): it
//!   counts every attempt in the shared [`Throttle`] so that concurrent guesses cannot
//!   overrun it (reserving before costly checks, settling TOTP codes optimistically), makes every
//!   one-time write conditional (one TOTP step, one recovery code, one set replacement, one
//!   enablement — exactly one winner among concurrent requests), then mails the notice and
//!   records the audit event.
//!
//! What it guarantees: nothing is written until the wizard's "Done" (abandoning saves
//! nothing); the code that confirmed the setup cannot log in; a code or recovery code works
//! once; 5 failures per 15 minutes per account across all checks, then a wait, and a hard
//! lock after 100; re-issue and disable need the password; secrets, codes and recovery codes
//! never reach `Debug`, errors or events.
//!
//! What it leaves to the application: users, passwords and sessions (keep the pending flow
//! states server-side in the session store, never in a cookie or form field), the HTTP layer,
//! and a real [`Store`] and [`Sealer`] (`twostep-store-sqlx`). Feature `test-util` brings
//! in-memory implementations of every trait ([`memory`]) and the public store
//! [`conformance`] suite.
//!
//! Every pending state serializes with a schema version and is decoded defensively
//! ([`snapshot`]); the wizard's and re-issue's carry secrets and stay server-side.
//!
//! Organisation mandates (`twostep-policy`) are enforced here: memberships come from the
//! application's [`Directory`], policies are kept by the [`Store`]; [`Service::begin_login`]
//! answers [`LoginStep::EnrollmentRequired`] (or a reminder during grace), disabling is
//! refused under a mandate, and [`Service::set_mandate`] lets only owners and admins with
//! 2FA switch it on.
#![forbid(unsafe_code)]

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
    AuditEvent, AuditKind, AuditLog, BoxError, Clock, CredentialRecord, Directory, Mail, Mailer,
    Notice, Reauthenticate, SealedSecret, Sealer, StateId, Store, StoredAccount, SystemClock,
};
pub use email_code::{EmailChallenge, EmailCode, EmailCodeError, EmailCodePolicy};
pub use service::{
    Collaborator, EnrollmentReminder, LoginStep, NoOrganizations, Policies, RecoveryCodesLeft,
    Refusal, Service, ServiceBuilder, ServiceError, SignedIn, Status, TracingAudit,
};

/// The RNG traits the machines take, re-exported so an application names the same version.
pub use rand_core;
pub use throttle::{Locked, Throttle, ThrottlePolicy};
