//! One error for every route: what went wrong, whether the flow can go on, and the HTTP answer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use twostep_enrollment::{Locked, ServiceError};
use twostep_policy::Refusal;

use crate::session::Stage;

/// Why a step was refused.
///
/// Either the service refused it ([`Error::service_error`]: a wrong code, a lockout, an
/// expired flow …), or the session is not where the step needs it (not signed in, no flow
/// under way), or the session store failed. [`Error::code`] names the case in a stable,
/// machine-readable word; [`Error::restart`] says whether the flow must start again.
///
/// As a response it is JSON, `{"error": code, "message": text, "restart": bool}` with
/// `attempts_left` or `retry_at` (Unix time) when they apply, under the status of
/// [`Error::status`]. A backend failure says only that it happened; its cause goes to the
/// `tracing` log.
///
/// ```
/// use twostep_axum::Error;
///
/// let error = Error::from(twostep_enrollment::ServiceError::WrongPassword);
/// assert_eq!(error.code(), "wrong_password");
/// assert!(!error.restart());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: Kind,
    restart: bool,
}

#[derive(Debug, thiserror::Error)]
enum Kind {
    #[error(transparent)]
    Service(ServiceError),
    #[error("sign in first")]
    NotSignedIn,
    #[error("enter the code from your authenticator app first")]
    SecondStepRequired,
    #[error("{0} requires two-step verification: set it up first")]
    EnrollmentRequired(String),
    #[error("there is no step of this kind under way; start again")]
    NoPendingStep,
    #[error("the session could not be read or written")]
    Session(#[source] tower_sessions::session::Error),
    #[error("this step could not be shown")]
    Internal,
}

impl Error {
    /// A refusal of the service, with whether its flow must start again (`Refusal::state`
    /// was `None`).
    pub(crate) fn refused(error: ServiceError, restart: bool) -> Self {
        Self {
            kind: Kind::Service(error),
            restart,
        }
    }

    pub(crate) fn not_signed_in() -> Self {
        Self {
            kind: Kind::NotSignedIn,
            restart: true,
        }
    }

    /// What a session at `stage` gets where only a fully signed-in one may go.
    pub(crate) fn not_at(stage: Option<&Stage>) -> Self {
        let kind = match stage {
            Some(Stage::SecondStep { .. }) => Kind::SecondStepRequired,
            Some(Stage::EnrollmentRequired { org, .. }) => Kind::EnrollmentRequired(org.clone()),
            Some(Stage::SignedIn { .. }) | None => Kind::NotSignedIn,
        };
        Self {
            kind,
            restart: false,
        }
    }

    /// A step the service passed but this crate could not render (a QR code too large for
    /// the issuer and account names, for one).
    pub(crate) fn internal() -> Self {
        Self {
            kind: Kind::Internal,
            restart: true,
        }
    }

    pub(crate) fn no_pending_step() -> Self {
        Self {
            kind: Kind::NoPendingStep,
            restart: true,
        }
    }

    /// The service's refusal, if it was one.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match &self.kind {
            Kind::Service(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the flow ended and must start again (`false`: try the same step again).
    pub fn restart(&self) -> bool {
        self.restart
    }

    /// A stable word for the case, for clients and message catalogues: `wrong_code`,
    /// `wrong_recovery_code`, `wrong_email_code`, `wrong_password`, `locked`, `expired`,
    /// `replayed`, `not_saved`, `already_enabled`, `not_enabled`, `resend_too_soon`,
    /// `email_code_expired`, `mandated`, `not_a_member`, `not_owner_or_admin`,
    /// `set_up_yours_first` (an organisation's requirement needs the actor's own 2FA),
    /// `already_required`, `not_required`, `not_allowed`, `conflict`, `invalid_state`,
    /// `not_signed_in`, `second_step_required`, `enrollment_required`, `no_pending_step`,
    /// `unavailable` or `internal`.
    pub fn code(&self) -> &'static str {
        let error = match &self.kind {
            Kind::Service(error) => error,
            Kind::NotSignedIn => return "not_signed_in",
            Kind::SecondStepRequired => return "second_step_required",
            Kind::EnrollmentRequired(_) => return "enrollment_required",
            Kind::NoPendingStep => return "no_pending_step",
            Kind::Session(_) => return "unavailable",
            Kind::Internal => return "internal",
        };
        match error {
            ServiceError::Code(_) => "wrong_code",
            ServiceError::RecoveryCode(_) => "wrong_recovery_code",
            ServiceError::WrongEmailCode { .. } => "wrong_email_code",
            ServiceError::WrongPassword => "wrong_password",
            ServiceError::Locked(_) => "locked",
            ServiceError::Expired => "expired",
            ServiceError::Replayed => "replayed",
            ServiceError::NotSaved => "not_saved",
            ServiceError::AlreadyEnabled => "already_enabled",
            ServiceError::NotEnabled => "not_enabled",
            ServiceError::ResendTooSoon { .. } => "resend_too_soon",
            ServiceError::EmailCodeExpired => "email_code_expired",
            ServiceError::Policy(refusal) => match refusal {
                Refusal::NotAMember => "not_a_member",
                Refusal::NotOwnerOrAdmin => "not_owner_or_admin",
                Refusal::ActorWithoutTwoFactor => "set_up_yours_first",
                Refusal::AlreadyOn => "already_required",
                Refusal::AlreadyOff => "not_required",
                _ => "not_allowed",
            },
            ServiceError::WrongUser => "not_allowed",
            ServiceError::Mandated(_) => "mandated",
            ServiceError::Conflict => "conflict",
            ServiceError::InvalidState => "invalid_state",
            ServiceError::Backend { .. } => "unavailable",
            _ => "internal",
        }
    }

    /// The HTTP status the error answers with.
    pub fn status(&self) -> StatusCode {
        match self.code() {
            "wrong_code"
            | "wrong_recovery_code"
            | "wrong_email_code"
            | "wrong_password"
            | "not_saved" => StatusCode::UNPROCESSABLE_ENTITY,
            "locked" | "resend_too_soon" => StatusCode::TOO_MANY_REQUESTS,
            "not_allowed"
            | "not_a_member"
            | "not_owner_or_admin"
            | "set_up_yours_first"
            | "mandated"
            | "enrollment_required" => StatusCode::FORBIDDEN,
            "not_signed_in" | "second_step_required" => StatusCode::UNAUTHORIZED,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "internal" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::CONFLICT,
        }
    }

    /// The message to show the user, in English; `now` (Unix time) words a wait.
    pub fn message(&self, now: u64) -> String {
        match &self.kind {
            Kind::Service(ServiceError::Backend { .. }) | Kind::Session(_) => {
                "Something went wrong on our side. Try again in a moment.".to_owned()
            }
            Kind::Service(error) => error.message(now),
            other => sentence(&other.to_string()),
        }
    }

    /// How many attempts are left, where the error says.
    pub fn attempts_left(&self) -> Option<u8> {
        match self.service_error() {
            Some(ServiceError::WrongEmailCode { attempts_left }) => Some(*attempts_left),
            _ => None,
        }
    }

    /// The organisation the error is about, where it names one (`enrollment_required`,
    /// `mandated`).
    pub fn org(&self) -> Option<&str> {
        match &self.kind {
            Kind::EnrollmentRequired(org) => Some(org),
            Kind::Service(ServiceError::Mandated(refused)) => Some(&refused.org_id),
            _ => None,
        }
    }

    /// When to try again (Unix time), where the error says.
    pub fn retry_at(&self) -> Option<u64> {
        match self.service_error() {
            Some(ServiceError::Locked(Locked::Until(until))) => Some(*until),
            Some(ServiceError::ResendTooSoon { after }) => Some(*after),
            _ => None,
        }
    }

    /// Writes a backend failure's cause to the log; the user sees only that it happened.
    fn log(&self) {
        match &self.kind {
            Kind::Service(ServiceError::Backend {
                collaborator,
                source,
            }) => tracing::error!(%collaborator, error = %source, "twostep: backend failure"),
            Kind::Session(error) => tracing::error!(%error, "twostep: session store failure"),
            _ => {}
        }
    }
}

fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    out.push('.');
    out
}

impl From<ServiceError> for Error {
    /// A refusal that leaves nothing to go on with: the flows that can go on say so through
    /// their `Refusal`.
    fn from(error: ServiceError) -> Self {
        let restart = matches!(
            error,
            ServiceError::Expired
                | ServiceError::Replayed
                | ServiceError::InvalidState
                | ServiceError::WrongUser
        );
        Self::refused(error, restart)
    }
}

impl From<tower_sessions::session::Error> for Error {
    fn from(error: tower_sessions::session::Error) -> Self {
        Self {
            kind: Kind::Session(error),
            restart: false,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    restart: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_at: Option<u64>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log();
        let body = Body {
            error: self.code(),
            message: self.message(crate::now()),
            restart: self.restart,
            attempts_left: self.attempts_left(),
            retry_at: self.retry_at(),
        };
        (self.status(), Json(body)).into_response()
    }
}
