//! Newly issued codes, and the two ways the user saves them: the clipboard
//! text and a download file, in English or Korean.
//!
//! This is the only place plaintext codes exist. Nothing here is stored; render it once in
//! the response that shows the codes, with `Cache-Control: no-store`.

use core::fmt::Write as _;

use zeroize::Zeroizing;

use crate::RecoveryCode;

/// The language of the download file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Locale {
    /// English.
    #[default]
    En,
    /// Korean (한국어), the language of the console twostep reproduces.
    Ko,
}

/// A file for the user to download: a suggested name and its contents.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadFile {
    /// A safe file name such as `dfinery-recovery-codes.txt`.
    pub file_name: String,
    /// The text, with the codes; `text/plain; charset=utf-8`.
    pub contents: Zeroizing<String>,
}

impl core::fmt::Debug for DownloadFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DownloadFile")
            .field("file_name", &self.file_name)
            .field("contents", &"[redacted]")
            .finish()
    }
}

/// Codes just generated, in plaintext, to show the user once.
///
/// ```
/// use twostep_recovery::{HashParams, Locale, RecoveryCodeSet};
///
/// let params = HashParams::new(8, 1, 1)?; // tiny costs for the example
/// let (issued, _set) = RecoveryCodeSet::generate(&mut rand::rng(), 10, &params, 1_764_288_000)?;
/// assert_eq!(issued.clipboard_text().lines().count(), 10);
/// let file = issued.download_file("DFINERY", "alice@example.com", Locale::Ko);
/// assert_eq!(file.file_name, "dfinery-recovery-codes.txt");
/// assert!(file.contents.contains("2025-11-28"));
/// # Ok::<(), twostep_recovery::SetError>(())
/// ```
pub struct IssuedCodes {
    codes: Vec<RecoveryCode>,
    created_at: u64,
}

impl IssuedCodes {
    /// Codes shown to the user, restored from where the application kept them between two
    /// requests (see `twostep-enrollment`'s snapshots). It does not check them against a set:
    /// it only holds what is shown.
    pub fn new(codes: Vec<RecoveryCode>, created_at: u64) -> Self {
        Self { codes, created_at }
    }

    /// When the codes were generated (Unix time).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// The codes, in the order of the stored set.
    pub fn codes(&self) -> &[RecoveryCode] {
        &self.codes
    }

    /// What "copy to clipboard" copies: one grouped code per line.
    pub fn clipboard_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(self.codes.len().saturating_mul(20)));
        for code in &self.codes {
            // Formatted straight into the zeroizing buffer: no temporary plaintext copy.
            let _ = writeln!(text, "{code}");
        }
        text
    }

    /// What "download" saves: the issuer, account and date generated (UTC), the codes, and
    /// how to use and keep them.
    pub fn download_file(&self, issuer: &str, account: &str, locale: Locale) -> DownloadFile {
        let date = utc_date(self.created_at);
        let texts = match locale {
            Locale::En => [
                format!("{issuer} recovery codes"),
                format!("Account: {account}"),
                format!("Generated: {date} (UTC)"),
                "Each code can be used once to sign in when you cannot use your authenticator app.\n\
                 Keep these codes somewhere safe, such as a password manager: anyone who has them\n\
                 can pass two-step verification as you.\n\
                 Issuing new recovery codes makes all of these stop working."
                    .to_owned(),
            ],
            Locale::Ko => [
                format!("{issuer} 복구 코드"),
                format!("계정: {account}"),
                format!("생성일: {date} (UTC)"),
                "각 복구 코드는 인증 앱을 사용할 수 없을 때 로그인에 한 번만 사용할 수 있습니다.\n\
                 비밀번호 관리자 등 안전한 곳에 보관하세요. 이 코드를 가진 사람은 누구나\n\
                 2단계 인증을 통과할 수 있습니다.\n\
                 복구 코드를 재발급하면 기존 복구 코드는 더 이상 사용할 수 없습니다."
                    .to_owned(),
            ],
        };
        let [title, account_line, date_line, instructions] = texts;
        let codes = self.clipboard_text();
        // Sized up front so the buffer holding the codes never reallocates behind our back.
        let capacity = [&title, &account_line, &date_line, &instructions]
            .iter()
            .map(|part| part.len() + 1)
            .sum::<usize>()
            .saturating_add(codes.len() + 2);
        let mut contents = Zeroizing::new(String::with_capacity(capacity));
        for line in [&title, &account_line, &date_line] {
            contents.push_str(line);
            contents.push('\n');
        }
        contents.push('\n');
        contents.push_str(&codes);
        contents.push('\n');
        contents.push_str(&instructions);
        contents.push('\n');
        DownloadFile {
            file_name: file_name(issuer),
            contents,
        }
    }
}

impl core::fmt::Debug for IssuedCodes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IssuedCodes")
            .field("codes", &self.codes.len())
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// `issuer` lowercased, runs of anything but ASCII letters and digits turned into one dash.
fn file_name(issuer: &str) -> String {
    let mut slug = String::with_capacity(issuer.len());
    for ch in issuer.chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "recovery-codes.txt".to_owned()
    } else {
        format!("{slug}-recovery-codes.txt")
    }
}

/// `YYYY-MM-DD` in UTC, or the raw timestamp if it is out of the calendar's range.
fn utc_date(unix_time: u64) -> String {
    i64::try_from(unix_time)
        .ok()
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .map(|moment| {
            let date = moment.date();
            format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            )
        })
        .unwrap_or_else(|| format!("@{unix_time}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_slugs() {
        assert_eq!(file_name("DFINERY"), "dfinery-recovery-codes.txt");
        assert_eq!(file_name("ACME Co."), "acme-co-recovery-codes.txt");
        assert_eq!(
            file_name("../../etc/passwd"),
            "etc-passwd-recovery-codes.txt"
        );
        assert_eq!(file_name("홍길동"), "recovery-codes.txt");
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_764_288_000), "2025-11-28");
        assert_eq!(utc_date(u64::MAX), format!("@{}", u64::MAX));
    }
}
