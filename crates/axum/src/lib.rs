#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod error;
mod flows;
mod guard;
mod json;
mod passwords;
mod session;
#[cfg(feature = "ui")]
pub mod ui;
mod views;

use std::sync::Arc;

use twostep_enrollment::{Clock as _, NoOrganizations, Service, SystemClock};

pub use client::record_client;
pub use error::Error;
pub use guard::{Guarded, Redirects, RequireSignedIn, SignedIn};
pub use passwords::{PasswordError, Passwords};
pub use views::{
    AuthenticatorView, DisableView, Done, Finished, MandateView, OrgSecurityView,
    RecoveryCodesLeft, RecoveryCodesView, ReissueView, Reminder, SecurityEventView,
    SecurityLogView, SessionStage, SignInStep, StatusView, WizardStep, WizardView,
};

/// Re-exported so that an application names the same versions.
pub use {tower_sessions, twostep_enrollment};

/// Two-step verification for an axum app: the [`Service`] over the `tower-sessions` session.
///
/// Cheap to clone (one `Arc`). Its steps ([`TwoStep::password_verified`],
/// [`TwoStep::verify_second_step`], the wizard's, re-issue's, disable's and an
/// organisation's) each take the request's [`Session`](tower_sessions::Session) and answer a
/// view; [`TwoStep::json_router`] mounts them all as JSON routes.
pub struct TwoStep<S, M, R, D = NoOrganizations> {
    service: Arc<Service<S, M, R, D>>,
}

impl<S, M, R, D> Clone for TwoStep<S, M, R, D> {
    fn clone(&self) -> Self {
        Self {
            service: Arc::clone(&self.service),
        }
    }
}

impl<S, M, R, D> TwoStep<S, M, R, D> {
    /// Drives `service` over the session. Give every server the same
    /// [`StateKey`](twostep_enrollment::StateKey) and session store, and any of them can
    /// take any step.
    pub fn new(service: Service<S, M, R, D>) -> Self {
        Self {
            service: Arc::new(service),
        }
    }

    /// The service, for what the routes do not cover (statuses of many users, unlocking).
    pub fn service(&self) -> &Service<S, M, R, D> {
        &self.service
    }
}

/// Now, for the wording of waits in messages.
pub(crate) fn now() -> u64 {
    SystemClock.now()
}
