//! Every text of the pages, in English and Korean, from one catalogue.
//!
//! A page asks [`Text::of`] for its language's catalogue and formats the few texts that take a
//! value with the functions below. Error messages go by [`Error::code`], so a new refusal
//! without a Korean text falls back to the English one instead of to nothing.

use crate::Error;
use crate::ui::Lang;

/// The fixed texts of one language.
#[allow(missing_docs)] // each field is the text it names
#[derive(Debug)]
pub(crate) struct Text {
    pub title_second_step: &'static str,
    pub title_status: &'static str,
    pub title_enable: &'static str,
    pub title_reissue: &'static str,
    pub title_disable: &'static str,
    pub title_org_security: &'static str,
    pub title_refused: &'static str,
    pub tab_app: &'static str,
    pub tab_recovery: &'static str,
    pub second_step_app: &'static str,
    pub second_step_recovery: &'static str,
    pub label_app_code: &'static str,
    pub label_recovery_code: &'static str,
    pub sign_in: &'static str,
    pub use_recovery: &'static str,
    pub cancel_sign_in: &'static str,
    pub status_intro: &'static str,
    pub status: &'static str,
    pub on: &'static str,
    pub off: &'static str,
    pub method: &'static str,
    pub method_app: &'static str,
    pub enabled_at: &'static str,
    pub recovery_codes: &'static str,
    pub reissue_soon: &'static str,
    pub button_reissue: &'static str,
    pub button_disable: &'static str,
    pub button_enable: &'static str,
    pub steps: [&'static str; 4],
    pub leaving_saves_nothing: &'static str,
    pub confirm_email: &'static str,
    pub email: &'static str,
    pub send_code: &'static str,
    pub check_inbox: &'static str,
    pub label_email_code: &'static str,
    pub verify: &'static str,
    pub resend: &'static str,
    pub cancel: &'static str,
    pub scan_before: &'static str,
    pub scan_after: &'static str,
    pub cannot_scan: &'static str,
    pub account_name: &'static str,
    pub key: &'static str,
    pub key_type: &'static str,
    pub time_based: &'static str,
    pub qr_alt: &'static str,
    pub label_first_code: &'static str,
    pub codes_intro: &'static str,
    pub codes_save_now: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub copy_failed: &'static str,
    pub download: &'static str,
    pub saved: &'static str,
    pub done: &'static str,
    pub code_sent_again: &'static str,
    pub enabled: &'static str,
    pub enable_cancelled: &'static str,
    pub already_on: &'static str,
    pub sign_in_again: &'static str,
    pub reissue_why: &'static str,
    pub password: &'static str,
    pub continue_: &'static str,
    pub reissued: &'static str,
    pub reissue_cancelled: &'static str,
    pub disable_why: &'static str,
    pub confirm_with: &'static str,
    pub with_app_code: &'static str,
    pub with_recovery_code: &'static str,
    pub disable: &'static str,
    pub disabled: &'static str,
    pub disable_cancelled: &'static str,
    pub mandate_heading: &'static str,
    pub mandate_explained: &'static str,
    pub required: &'static str,
    pub not_required: &'static str,
    pub stop_requiring: &'static str,
    pub require: &'static str,
    pub preview: &'static str,
    pub preview_all_set: &'static str,
    pub preview_intro: &'static str,
    pub mandate_set: &'static str,
    pub mandate_cleared: &'static str,
    pub form_refused: &'static str,
    pub back: &'static str,
    pub title_reset: &'static str,
    pub button_reset: &'static str,
    pub member_reset: &'static str,
    pub log_heading: &'static str,
    pub org_log_heading: &'static str,
    pub log_empty: &'static str,
    pub log_older: &'static str,
    pub log_time: &'static str,
    pub log_event: &'static str,
    pub log_account: &'static str,
    pub log_by: &'static str,
    pub log_from: &'static str,
}

impl Text {
    /// The catalogue of `lang`.
    pub(crate) fn of(lang: Lang) -> &'static Self {
        match lang {
            Lang::En => &EN,
            Lang::Ko => &KO,
        }
    }
}

static EN: Text = Text {
    title_second_step: "Two-step verification",
    title_status: "Two-step verification",
    title_enable: "Enable two-step verification",
    title_reissue: "Re-issue recovery codes",
    title_disable: "Disable two-step verification",
    title_org_security: "Security settings",
    title_refused: "Form refused",
    tab_app: "Authenticator app",
    tab_recovery: "Recovery code",
    second_step_app: "Open your authenticator app and enter the 6-digit code it shows for this account.",
    second_step_recovery: "Lost your phone? Enter one of the recovery codes you saved. Each works once.",
    label_app_code: "Authentication code",
    label_recovery_code: "Recovery code",
    sign_in: "Sign in",
    use_recovery: "Use a recovery code instead",
    cancel_sign_in: "Cancel sign-in",
    status_intro: "Two-step verification asks for a code from an authenticator app after your password.",
    status: "Status: ",
    on: "On",
    off: "Off",
    method: "Method",
    method_app: "Authenticator app (time-based codes)",
    enabled_at: "Enabled",
    recovery_codes: "Recovery codes",
    reissue_soon: " — re-issue them soon",
    button_reissue: "Re-issue recovery codes",
    button_disable: "Disable two-step verification",
    button_enable: "Enable two-step verification",
    steps: [
        "Verify email",
        "Scan QR code",
        "Enter code",
        "Save recovery codes",
    ],
    leaving_saves_nothing: "Leaving before the last step saves nothing: two-step verification stays off.",
    confirm_email: "First, confirm your login email: we send a verification code to it.",
    email: "Email",
    send_code: "Send code",
    check_inbox: "Check your inbox.",
    label_email_code: "Verification code",
    verify: "Verify",
    resend: "Send a new code",
    cancel: "Cancel",
    scan_before: "Scan the QR code with an authenticator app (Google Authenticator, 2FAS, Microsoft Authenticator, 1Password…). It shows up as ",
    scan_after: ".",
    cannot_scan: "Can't scan it? Enter the key by hand:",
    account_name: "Account name",
    key: "Key",
    key_type: "Type of key",
    time_based: "Time based",
    qr_alt: "QR code for your authenticator app",
    label_first_code: "6-digit code from the app",
    codes_intro: "Each code works once, when you cannot use your authenticator app. ",
    codes_save_now: "Save them somewhere safe now: they are not shown again.",
    copy: "Copy to clipboard",
    copied: "Copied",
    copy_failed: "Copy failed: select the codes instead",
    download: "Download .txt",
    saved: "I have saved my recovery codes",
    done: "Done",
    code_sent_again: "A new code is on its way.",
    enabled: "Two-step verification is on. You will be asked for a code at every sign-in.",
    enable_cancelled: "Setup cancelled; nothing was saved.",
    already_on: "Two-step verification is already on.",
    sign_in_again: "Sign in again with your code.",
    reissue_why: "Enter your password to issue new recovery codes. The old codes stop working once you are done.",
    password: "Password",
    continue_: "Continue",
    reissued: "New recovery codes are in force; the old ones no longer work.",
    reissue_cancelled: "Nothing changed: your old recovery codes still work.",
    disable_why: "Enter your password to turn two-step verification off.",
    confirm_with: "Confirm with one of these:",
    with_app_code: "A code from your authenticator app",
    with_recovery_code: "Or a recovery code",
    disable: "Disable",
    disabled: "Two-step verification is off.",
    disable_cancelled: "Two-step verification stays on.",
    mandate_heading: "Two-step verification for all members",
    mandate_explained: "When required, members without two-step verification must set it up at their next sign-in, and no member can turn it off. Only owners and admins who use two-step verification themselves can change this.",
    required: "Required",
    not_required: "Not required",
    stop_requiring: "Stop requiring two-step verification",
    require: "Require two-step verification",
    preview: "Preview",
    preview_all_set: "Every member already uses two-step verification.",
    preview_intro: "These members do not use two-step verification yet and will have to set it up at their next sign-in:",
    mandate_set: "Two-step verification is now required for every member.",
    mandate_cleared: "Two-step verification is no longer required.",
    form_refused: "This form was refused: it expired or did not come from this site. Go back, reload the page and try again.",
    back: "Back",
    title_reset: "Reset two-step verification",
    button_reset: "Reset 2FA",
    member_reset: "Two-step verification was reset; the member was told by email.",
    log_heading: "Recent security events",
    org_log_heading: "Security events",
    log_empty: "No security events yet.",
    log_older: "Older events",
    log_time: "Time",
    log_event: "Event",
    log_account: "Account",
    log_by: "By",
    log_from: "From",
};

static KO: Text = Text {
    title_second_step: "2단계 인증",
    title_status: "2단계 인증",
    title_enable: "2단계 인증 활성",
    title_reissue: "복구 코드 재발급",
    title_disable: "2단계 인증 해제",
    title_org_security: "보안 설정",
    title_refused: "요청 거부",
    tab_app: "인증 앱",
    tab_recovery: "복구 코드",
    second_step_app: "인증 앱을 열고 이 계정에 표시된 6자리 인증번호를 입력하세요.",
    second_step_recovery: "휴대폰을 분실하셨나요? 저장해 둔 복구 코드 중 하나를 입력하세요. 각 코드는 한 번만 사용할 수 있습니다.",
    label_app_code: "인증번호",
    label_recovery_code: "복구 코드",
    sign_in: "로그인",
    use_recovery: "복구 코드로 로그인하기",
    cancel_sign_in: "로그인 취소",
    status_intro: "2단계 인증을 사용하면 비밀번호를 입력한 뒤 인증 앱의 인증번호를 한 번 더 확인합니다.",
    status: "상태: ",
    on: "사용 중",
    off: "사용 안 함",
    method: "인증 방식",
    method_app: "인증 앱 (시간 기준 인증번호)",
    enabled_at: "설정일",
    recovery_codes: "복구 코드",
    reissue_soon: " — 곧 재발급하세요",
    button_reissue: "복구 코드 재발급",
    button_disable: "2단계 인증 해제",
    button_enable: "2단계 인증 활성",
    steps: [
        "이메일 인증",
        "QR코드 스캔",
        "인증번호 입력",
        "복구 코드 저장",
    ],
    leaving_saves_nothing: "마지막 단계 전에 나가면 아무것도 저장되지 않으며, 2단계 인증은 꺼진 상태로 유지됩니다.",
    confirm_email: "먼저 로그인 이메일을 확인합니다. 이 주소로 인증번호를 보내 드립니다.",
    email: "이메일",
    send_code: "인증 요청",
    check_inbox: "받은편지함을 확인하세요.",
    label_email_code: "인증번호",
    verify: "확인",
    resend: "인증번호 다시 받기",
    cancel: "취소",
    scan_before: "인증 앱(Google Authenticator, 2FAS, Microsoft Authenticator, 1Password 등)으로 QR코드를 스캔하세요. 앱에 ",
    scan_after: "(이)가 자동으로 등록됩니다.",
    cannot_scan: "스캔할 수 없나요? 인증 수동 키를 직접 입력하세요:",
    account_name: "계정 이름",
    key: "키",
    key_type: "키 유형",
    time_based: "시간 기준",
    qr_alt: "인증 앱용 QR코드",
    label_first_code: "앱에 표시된 6자리 인증번호",
    codes_intro: "각 코드는 인증 앱을 사용할 수 없을 때 한 번만 사용할 수 있습니다. ",
    codes_save_now: "지금 안전한 곳에 저장하세요. 다시 표시되지 않습니다.",
    copy: "클립보드 복사",
    copied: "복사했습니다",
    copy_failed: "복사하지 못했습니다. 코드를 직접 선택하세요",
    download: "파일 다운로드",
    saved: "복구 코드를 저장했습니다",
    done: "완료",
    code_sent_again: "새 인증번호를 보냈습니다.",
    enabled: "2단계 인증이 켜졌습니다. 로그인할 때마다 인증번호를 입력합니다.",
    enable_cancelled: "설정을 취소했습니다. 아무것도 저장되지 않았습니다.",
    already_on: "2단계 인증이 이미 켜져 있습니다.",
    sign_in_again: "인증번호로 다시 로그인하세요.",
    reissue_why: "새 복구 코드를 발급하려면 비밀번호를 입력하세요. 완료하면 기존 코드는 더 이상 사용할 수 없습니다.",
    password: "비밀번호",
    continue_: "계속",
    reissued: "새 복구 코드가 적용되었습니다. 기존 코드는 더 이상 사용할 수 없습니다.",
    reissue_cancelled: "변경된 것이 없습니다. 기존 복구 코드를 계속 사용할 수 있습니다.",
    disable_why: "2단계 인증을 해제하려면 비밀번호를 입력하세요.",
    confirm_with: "다음 중 하나로 확인하세요:",
    with_app_code: "인증 앱의 인증번호",
    with_recovery_code: "또는 복구 코드",
    disable: "해제",
    disabled: "2단계 인증이 해제되었습니다.",
    disable_cancelled: "2단계 인증이 유지됩니다.",
    mandate_heading: "모든 구성원의 2단계 인증",
    mandate_explained: "의무화하면 2단계 인증을 사용하지 않는 구성원은 다음 로그인 시 설정해야 하며, 어떤 구성원도 해제할 수 없습니다. 2단계 인증을 설정한 소유자와 관리자만 변경할 수 있습니다.",
    required: "의무화",
    not_required: "의무화 안 함",
    stop_requiring: "2단계 인증 의무화 해제",
    require: "2단계 인증 의무화",
    preview: "미리 보기",
    preview_all_set: "모든 구성원이 이미 2단계 인증을 사용하고 있습니다.",
    preview_intro: "다음 구성원은 아직 2단계 인증을 사용하지 않으며, 다음 로그인 시 설정해야 합니다:",
    mandate_set: "이제 모든 구성원에게 2단계 인증이 필요합니다.",
    mandate_cleared: "더 이상 2단계 인증이 필요하지 않습니다.",
    form_refused: "요청이 거부되었습니다. 만료되었거나 이 사이트에서 보낸 양식이 아닙니다. 이전 페이지로 돌아가 새로고침한 뒤 다시 시도하세요.",
    back: "돌아가기",
    title_reset: "2단계 인증 초기화",
    button_reset: "2단계 인증 초기화",
    member_reset: "2단계 인증을 초기화했습니다. 구성원에게 메일로 알렸습니다.",
    log_heading: "최근 보안 이벤트",
    org_log_heading: "보안 이벤트",
    log_empty: "아직 보안 이벤트가 없습니다.",
    log_older: "이전 이벤트",
    log_time: "시각",
    log_event: "이벤트",
    log_account: "계정",
    log_by: "수행자",
    log_from: "접속 정보",
};

/// "We sent a verification code to …".
pub(crate) fn code_sent_to(lang: Lang, email: &str) -> String {
    match lang {
        Lang::En => format!("We sent a verification code to {email}."),
        Lang::Ko => format!("{email}(으)로 인증번호를 보냈습니다."),
    }
}

/// How many recovery codes are left, in the status table.
pub(crate) fn codes_left(lang: Lang, left: usize) -> String {
    match lang {
        Lang::En => format!("{left} left"),
        Lang::Ko => format!("{left}개 남음"),
    }
}

/// After a sign-in with a recovery code.
pub(crate) fn signed_in_with_recovery_code(lang: Lang, left: usize, low: bool) -> String {
    match (lang, low) {
        (Lang::En, false) => {
            format!("Signed in with a recovery code. {left} recovery codes left.")
        }
        (Lang::En, true) => format!(
            "Signed in with a recovery code. {left} recovery codes left. Re-issue your recovery codes soon."
        ),
        (Lang::Ko, false) => format!("복구 코드로 로그인했습니다. 남은 복구 코드: {left}개."),
        (Lang::Ko, true) => {
            format!(
                "복구 코드로 로그인했습니다. 남은 복구 코드: {left}개. 곧 복구 코드를 재발급하세요."
            )
        }
    }
}

/// An organisation's requirement, at the top of the wizard it holds the session to.
pub(crate) fn required_by(lang: Lang, org: &str) -> String {
    match lang {
        Lang::En => {
            format!("{org} requires two-step verification for every member. Set it up to continue.")
        }
        Lang::Ko => {
            format!("{org}에서 모든 구성원에게 2단계 인증을 요구합니다. 계속하려면 설정하세요.")
        }
    }
}

/// An organisation's upcoming requirement, after a sign-in.
pub(crate) fn reminder(lang: Lang, org: &str, deadline: &str) -> String {
    match lang {
        Lang::En => {
            format!("{org} requires two-step verification from {deadline}. Set it up before then.")
        }
        Lang::Ko => {
            format!("{org}에서 {deadline}부터 2단계 인증을 요구합니다. 그 전에 설정하세요.")
        }
    }
}

/// "Required since … (set by …)".
pub(crate) fn required_since(lang: Lang, since: &str, by: &str) -> String {
    match lang {
        Lang::En => format!(" since {since} (set by {by})"),
        Lang::Ko => format!(" · {since}부터 ({by} 설정)"),
    }
}

/// A wait in Korean words, rounded up.
fn wait_ko(seconds: u64) -> String {
    match seconds {
        0..60 => "1분".to_owned(),
        60..3_600 => format!("{}분", seconds.div_ceil(60)),
        _ => format!("{}시간", seconds.div_ceil(3_600)),
    }
}

/// What to tell the user of `error`, in `lang`; `now` words a wait.
pub(crate) fn error(lang: Lang, error: &Error, now: u64) -> String {
    if lang == Lang::En {
        return error.message(now);
    }
    let wait = || wait_ko(error.retry_at().unwrap_or(now).saturating_sub(now));
    let org = error.org().unwrap_or("조직");
    match error.code() {
        "wrong_code" => "인증번호가 올바르지 않습니다.".to_owned(),
        "wrong_recovery_code" => "복구 코드가 올바르지 않습니다.".to_owned(),
        "wrong_email_code" => format!(
            "이메일 인증번호가 올바르지 않습니다. {}번 더 시도할 수 있습니다.",
            error.attempts_left().unwrap_or(0)
        ),
        "wrong_password" => "비밀번호가 올바르지 않습니다.".to_owned(),
        "locked" if error.retry_at().is_none() => {
            "실패한 시도가 너무 많아 2단계 인증이 잠겼습니다. 고객 지원에 잠금 해제를 요청하세요."
                .to_owned()
        }
        "locked" => format!(
            "실패한 시도가 너무 많습니다. {} 후에 다시 시도하세요.",
            wait()
        ),
        "resend_too_soon" => format!(
            "방금 새 인증번호를 보냈습니다. {} 후에 다시 요청하세요.",
            wait()
        ),
        "expired" => "시간이 초과되었습니다. 처음부터 다시 시작하세요.".to_owned(),
        "replayed" => "이미 완료되었거나 만료된 단계입니다. 처음부터 다시 시작하세요.".to_owned(),
        "invalid_state" | "no_pending_step" => {
            "이 단계를 계속할 수 없습니다. 처음부터 다시 시작하세요.".to_owned()
        }
        "not_saved" => "복구 코드를 저장하고 저장 확인란을 선택하세요.".to_owned(),
        "already_enabled" => "2단계 인증이 이미 켜져 있습니다.".to_owned(),
        "not_enabled" => "2단계 인증이 켜져 있지 않습니다.".to_owned(),
        "email_code_expired" => {
            "이메일 인증번호가 만료되었습니다. 새 인증번호를 받으세요.".to_owned()
        }
        "mandated" => format!("{org}에서 2단계 인증을 요구하므로 해제할 수 없습니다."),
        "not_a_member" => "이 조직의 구성원이 아닙니다.".to_owned(),
        "not_owner_or_admin" => {
            "조직의 소유자와 관리자만 2단계 인증 의무화를 변경할 수 있습니다.".to_owned()
        }
        "set_up_yours_first" => "먼저 본인 계정의 2단계 인증을 설정하세요.".to_owned(),
        "already_required" => "이미 2단계 인증이 의무화되어 있습니다.".to_owned(),
        "not_required" => "2단계 인증이 의무화되어 있지 않습니다.".to_owned(),
        "conflict" => "다른 요청이 동시에 2단계 인증을 변경했습니다. 다시 시도하세요.".to_owned(),
        "not_signed_in" => "먼저 로그인하세요.".to_owned(),
        "second_step_required" => "먼저 인증 앱의 인증번호를 입력하세요.".to_owned(),
        "enrollment_required" => format!("{org}에서 2단계 인증을 요구합니다. 먼저 설정하세요."),
        "unavailable" => "일시적인 오류가 발생했습니다. 잠시 후 다시 시도하세요.".to_owned(),
        "not_allowed" => "이 작업을 할 수 없습니다.".to_owned(),
        _ => error.message(now),
    }
}

/// What the reset page asks, of `member` in `org`.
pub(crate) fn reset_intro(lang: Lang, member: &str, org: &str) -> String {
    match lang {
        Lang::En => format!(
            "Reset the two-step verification of {member} in {org}? Their authenticator app and \
             recovery codes stop working, their sessions end, and they sign in with the password \
             alone — or set 2FA up again, where {org} requires it. Confirm with your password and \
             a code from your own authenticator app."
        ),
        Lang::Ko => format!(
            "{org}의 {member} 님의 2단계 인증을 초기화할까요? 인증 앱과 복구 코드가 더 이상 \
             작동하지 않고, 로그인된 세션이 모두 끝나며, 비밀번호만으로 로그인하게 됩니다. \
             {org}에서 요구하는 경우 2단계 인증을 다시 설정해야 합니다. 비밀번호와 본인 인증 앱의 \
             코드로 확인하세요."
        ),
    }
}

/// An event of the security log, by its kind's name ([`AuditKind::name`]), in `lang`; a kind
/// this version does not know reads as its name.
///
/// [`AuditKind::name`]: twostep_enrollment::AuditKind::name
pub(crate) fn event_kind(lang: Lang, kind: &str) -> &str {
    let (en, ko) = match kind {
        "enable_started" => ("2FA setup started", "2단계 인증 설정 시작"),
        "enabled" => ("2FA turned on", "2단계 인증 사용"),
        "login_with_code" => ("Signed in with a code", "인증 코드로 로그인"),
        "login_with_recovery_code" => ("Signed in with a recovery code", "복구 코드로 로그인"),
        "second_step_failed" => ("Wrong code at sign-in", "로그인 코드 오류"),
        "replay_detected" => ("A used code was typed again", "이미 사용한 코드 입력"),
        "locked" => ("Locked after failed attempts", "실패 횟수 초과로 잠김"),
        "unlocked" => ("Unlocked", "잠금 해제"),
        "recovery_codes_reissued" => ("Recovery codes re-issued", "복구 코드 재발급"),
        "disabled" => ("2FA turned off", "2단계 인증 해제"),
        "reset" => (
            "2FA reset by an administrator",
            "관리자가 2단계 인증 초기화",
        ),
        "mandate_set" => (
            "2FA required of every member",
            "모든 구성원에게 2단계 인증 요구",
        ),
        "mandate_grace_changed" => ("Deadline for 2FA changed", "2단계 인증 기한 변경"),
        "mandate_cleared" => ("2FA no longer required", "2단계 인증 요구 해제"),
        _ => return kind,
    };
    match lang {
        Lang::En => en,
        Lang::Ko => ko,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_round_up_in_korean() {
        assert_eq!(wait_ko(10), "1분");
        assert_eq!(wait_ko(61), "2분");
        assert_eq!(wait_ko(3_601), "2시간");
    }

    #[test]
    fn every_event_kind_reads_in_both_languages() {
        for kind in twostep_enrollment::AuditKind::ALL {
            let (en, ko) = (
                event_kind(Lang::En, kind.name()),
                event_kind(Lang::Ko, kind.name()),
            );
            assert_ne!(en, kind.name(), "{kind:?} has an English text");
            assert_ne!(ko, en, "{kind:?} has a Korean text");
        }
    }
}
