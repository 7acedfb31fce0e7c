//! The outcome of a verification: an accepted counter, or a typed rejection.

use crate::MalformedCode;

/// Why a code was not accepted. These are expected outcomes, not failures of the library;
/// the caller counts each one against the account's throttle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The input is not a code of the right shape; no HMAC was computed.
    #[error("malformed code: {0}")]
    Malformed(#[from] MalformedCode),
    /// No step (or counter) in the window produces this code.
    #[error("the code is wrong")]
    Mismatch,
    /// The code is right but only for steps (or counters) already accepted once.
    #[error("the code was already used")]
    Replayed,
    /// The verification time lies before the credential's T0.
    #[error("the time is before the credential's T0")]
    TimeBeforeT0,
}

impl Rejection {
    /// A short machine-readable name: `malformed`, `mismatch`, `replayed` or `time-before-t0`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Mismatch => "mismatch",
            Self::Replayed => "replayed",
            Self::TimeBeforeT0 => "time-before-t0",
        }
    }
}
