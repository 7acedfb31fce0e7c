//! What each step answers: plain data for an application's templates, and the JSON bodies of
//! the JSON routes.
//!
//! Views that carry a secret meant for the user's eyes — the new key, recovery codes — hold it
//! in zeroizing strings and print `[redacted]` in `Debug`. No view carries anything the user
//! did not already have or is not meant to see now.

use serde::Serialize;
use zeroize::Zeroizing;

/// Where a sign-in stands after the password, or after the second step.
///
/// Exhaustive on purpose: an application matching it has no catch-all, so a stage added
/// later fails to compile there instead of signing someone in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum SignInStep {
    /// Fully signed in.
    SignedIn {
        /// An organisation requires 2FA from a deadline: remind the user.
        #[serde(skip_serializing_if = "Option::is_none")]
        reminder: Option<Reminder>,
        /// After a recovery code: how many are left.
        #[serde(skip_serializing_if = "Option::is_none")]
        recovery_codes_left: Option<RecoveryCodesLeft>,
    },
    /// Ask for the code from the authenticator app, or a recovery code.
    SecondStep,
    /// An organisation requires 2FA now: only the enable wizard is reachable until it is done.
    EnrollmentRequired {
        /// The organisation requiring it.
        org: String,
    },
}

/// How far a session has signed in, once the application checked a password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum SessionStage {
    /// The code is awaited.
    SecondStep,
    /// An organisation requires 2FA now: only the enable wizard until it is done.
    EnrollmentRequired {
        /// The organisation requiring it.
        org: String,
    },
    /// Fully signed in.
    SignedIn,
}

/// An organisation's upcoming requirement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// The organisation.
    pub org: String,
    /// From when it is required (Unix time).
    pub deadline: u64,
}

/// Recovery codes left after one was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RecoveryCodesLeft {
    /// How many.
    pub remaining: usize,
    /// So few that the user should re-issue them.
    pub low: bool,
}

/// The two-step verification tab: the signed-in user's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusView {
    /// The user's email.
    pub email: String,
    /// When 2FA was turned on (Unix time); `None` while it is off.
    pub enabled_at: Option<u64>,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// So few that the user should re-issue them.
    pub recovery_codes_low: bool,
    /// Checks are refused until then (Unix time), after too many failures.
    pub locked_until: Option<u64>,
    /// Checks are refused until an operator unlocks the account.
    pub hard_locked: bool,
}

/// The enable wizard where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WizardView {
    /// The organisation whose mandate holds the session to the wizard, if one does.
    pub required_by: Option<String>,
    /// The step awaited.
    #[serde(flatten)]
    pub step: WizardStep,
}

/// A step of the enable wizard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum WizardStep {
    /// Nothing under way: offer to mail a code to `email`.
    NotStarted {
        /// The login email the code goes to.
        email: String,
    },
    /// A code was mailed; awaiting it.
    EmailCode {
        /// Where it went.
        sent_to: String,
    },
    /// Showing the QR code and the key; awaiting the first code from the app.
    Authenticator(AuthenticatorView),
    /// Showing the recovery codes; awaiting "Done" with "I saved them" ticked.
    RecoveryCodes(RecoveryCodesView),
}

/// The authenticator setup screen.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct AuthenticatorView {
    /// The name the app shows above the codes.
    pub issuer: String,
    /// The account name the app shows.
    pub account: String,
    /// The key, grouped for typing by hand.
    pub manual_key: Zeroizing<String>,
    /// The `otpauth://` URI the QR code holds.
    pub otpauth_uri: Zeroizing<String>,
    /// The QR code as a `data:image/png;base64,…` URI, for an `<img>`.
    pub qr_png: Zeroizing<String>,
    /// The QR code's side in pixels at its natural size.
    pub qr_side: usize,
}

impl core::fmt::Debug for AuthenticatorView {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthenticatorView")
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// Recovery codes on screen, waiting to be saved.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryCodesView {
    /// The codes, formatted for reading.
    pub codes: Vec<Zeroizing<String>>,
}

impl core::fmt::Debug for RecoveryCodesView {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "RecoveryCodesView({} codes, [redacted])",
            self.codes.len()
        )
    }
}

/// The re-issue screen: a password awaited, or new codes awaiting "Done".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum ReissueView {
    /// Awaiting the password.
    Password,
    /// New codes on screen.
    RecoveryCodes(RecoveryCodesView),
}

/// The disable screen: a password awaited, or a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum DisableView {
    /// Awaiting the password.
    Password,
    /// Awaiting a code from the app or a recovery code.
    Code,
}

/// What a finished step did, for the message on the next page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    /// 2FA is on.
    Enabled,
    /// The wizard was left; nothing was saved.
    EnableCancelled,
    /// The new recovery codes are in force; the old ones no longer work.
    Reissued,
    /// The re-issue was left; the old codes still work.
    ReissueCancelled,
    /// 2FA is off.
    Disabled,
    /// The disable was left; 2FA stays on.
    DisableCancelled,
    /// The organisation now requires 2FA.
    MandateSet,
    /// The organisation no longer requires 2FA.
    MandateCleared,
    /// A member's 2FA was reset by the session's user, an owner or admin.
    MemberReset,
}

/// One event of a security log, as the pages and the JSON routes show it: what happened to
/// whose second factor, when, by whom and from where. Never a secret or a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecurityEventView {
    /// The event's place in the log (a page's last one is where the next page starts).
    pub id: u64,
    /// When (Unix time).
    pub at: u64,
    /// What happened: the [`AuditKind::name`](twostep_enrollment::AuditKind::name).
    pub kind: &'static str,
    /// Whose factor — or, for an organisation's requirement, who changed it.
    pub user: String,
    /// Who made the change when not `user`: the owner or admin of a reset.
    pub actor: Option<String>,
    /// The organisation it was made in.
    pub org: Option<String>,
    /// The client's address, where the application passed it.
    pub ip: Option<String>,
    /// The client's user agent, where the application passed it.
    pub user_agent: Option<String>,
}

/// A page of a security log, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecurityLogView {
    /// The events.
    pub events: Vec<SecurityEventView>,
    /// Where the next, older page starts (`?before=`), if there may be one.
    pub older: Option<u64>,
}

impl SecurityLogView {
    /// The page of `limit` events the service answered.
    pub(crate) fn of(page: Vec<twostep_enrollment::LoggedEvent>, limit: u32) -> Self {
        let full = page.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        let older = page.last().filter(|_| full).map(|last| last.id);
        let events = page
            .into_iter()
            .map(|logged| {
                let event = logged.event;
                SecurityEventView {
                    id: logged.id,
                    at: event.at,
                    kind: event.kind.name(),
                    user: event.user_id,
                    actor: event.actor,
                    org: event.org,
                    ip: event.ip.map(|ip| ip.to_string()),
                    user_agent: event.user_agent,
                }
            })
            .collect();
        Self { events, older }
    }
}

/// What finishing a step answers: what it did, and where the session stands now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finished {
    /// What the step did.
    pub done: Done,
    /// Whether the session is now fully signed in: after a wizard a mandate required it is;
    /// after a change to the second factor that something else changed at the same time (an
    /// administrator's reset, another session's change) it is not — it was signed out.
    pub signed_in: bool,
}

/// An organisation's security settings, as its owners and admins see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgSecurityView {
    /// The organisation.
    pub org: String,
    /// The viewer may change the requirement (an owner or admin).
    pub manages: bool,
    /// The requirement in force, if any.
    pub mandate: Option<MandateView>,
    /// Without a requirement, to those who manage: the members who would have to set 2FA up.
    pub preview: Option<Vec<String>>,
}

/// A requirement in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MandateView {
    /// Since when (Unix time).
    pub since: u64,
    /// Who switched it on.
    pub set_by: String,
}
