//! # twostep-enrollment
//!
//! The flows of two-step verification as storage-agnostic, sans-IO state machines: the
//! enable wizard, the login step, re-issuing recovery codes and disabling — driven by the
//! application, which passes `now`, the RNG and the stored values in, and writes what comes
//! out.
//!
//! **Status.** This crate is being built. Present: the shared [`Throttle`], the email code of
//! the wizard's first step ([`EmailChallenge`]), and the four flows as sans-IO machines:
//! the enable wizard ([`enable`]), the login step ([`login`]), re-issuing recovery codes
//! ([`reissue`]) and disabling ([`disable`]). To come (see the `twostep-enrollment` issue):
//! the application traits (stores, mailer, re-authentication, clock, sealing), the async
//! `Service`, audit events, the in-memory store and the public conformance suite.
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
mod throttle;

pub use app::{
    AuditEvent, AuditKind, AuditLog, BoxError, Clock, CredentialRecord, Mail, Mailer, Notice,
    Reauthenticate, SealedSecret, Sealer, Store, SystemClock,
};
pub use email_code::{EmailChallenge, EmailCode, EmailCodeError, EmailCodePolicy};
pub use service::{Policies, Refusal, Service, ServiceError, SignedIn};
pub use throttle::{Locked, Throttle, ThrottlePolicy};
