//! otpauth:// Key URIs: building the URI an authenticator app scans, and parsing one.
//!
//! The format is Google's Key URI Format, which every authenticator app reads:
//! `otpauth://TYPE/ISSUER:ACCOUNT?secret=…&issuer=ISSUER[&algorithm=…][&digits=…][&period=…]`.
//! Building emits the issuer both as label prefix and as parameter, percent-encodes with
//! `%20` (never `+`), leaves the secret unpadded, and writes `algorithm`, `digits` and
//! `period` only when they differ from the defaults. Parsing is tolerant where real URIs vary
//! (case, padding, spaces, a missing issuer, unknown parameters) and strict where a difference
//! would change the codes or the account shown (conflicting issuers, duplicate or out-of-range
//! parameters). It never panics.

use core::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::error::NameField;
use crate::{Algorithm, Digits, Hotp, HotpParams, Period, Secret, Totp, TotpParams, UriError};

/// The longest URI [`KeyUri::parse`] reads, in bytes.
pub const MAX_URI_LEN: usize = 4096;

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// In the label, `@` is a legal path character and keeps e-mail addresses readable.
const LABEL: &AsciiSet = &COMPONENT.remove(b'@');

/// Whether a Key URI describes a time-based or a counter-based credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtpKind {
    /// TOTP with its period ("time based" in apps' manual entry).
    Totp {
        /// The time step.
        period: Period,
    },
    /// HOTP with the counter the token starts from ("counter based").
    Hotp {
        /// The initial counter.
        counter: u64,
    },
}

/// A parsed or to-be-built otpauth:// Key URI.
///
/// ```
/// use twostep_otp::{KeyUri, Secret, TotpParams};
///
/// let secret = Secret::from_base32("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ")?;
/// let uri = KeyUri::totp(secret, Some("ACME Co"), "john.doe@email.com", TotpParams::default())?;
/// assert_eq!(
///     *uri.to_uri(),
///     "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co"
/// );
/// assert_eq!(KeyUri::parse(&uri.to_uri())?, uri);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct KeyUri {
    secret: Secret,
    issuer: Option<String>,
    account: String,
    algorithm: Algorithm,
    digits: Digits,
    kind: OtpKind,
}

impl KeyUri {
    /// A TOTP Key URI.
    ///
    /// # Errors
    /// [`UriError::InvalidName`] for an empty issuer or account, or one containing a colon, a
    /// control character or leading/trailing whitespace; [`UriError::UnsupportedT0`] when
    /// `params.t0` is not 0; [`UriError::TooLong`] when the URI would exceed [`MAX_URI_LEN`].
    pub fn totp(
        secret: Secret,
        issuer: Option<&str>,
        account: &str,
        params: TotpParams,
    ) -> Result<Self, UriError> {
        if params.t0 != 0 {
            return Err(UriError::UnsupportedT0);
        }
        Self::new(
            secret,
            issuer,
            account,
            params.algorithm,
            params.digits,
            OtpKind::Totp {
                period: params.period,
            },
        )
    }

    /// An HOTP Key URI starting at `counter`.
    ///
    /// # Errors
    /// [`UriError::InvalidName`] as for [`KeyUri::totp`].
    pub fn hotp(
        secret: Secret,
        issuer: Option<&str>,
        account: &str,
        params: HotpParams,
        counter: u64,
    ) -> Result<Self, UriError> {
        Self::new(
            secret,
            issuer,
            account,
            params.algorithm,
            params.digits,
            OtpKind::Hotp { counter },
        )
    }

    fn new(
        secret: Secret,
        issuer: Option<&str>,
        account: &str,
        algorithm: Algorithm,
        digits: Digits,
        kind: OtpKind,
    ) -> Result<Self, UriError> {
        if let Some(issuer) = issuer {
            check_name(issuer, NameField::Issuer)?;
        }
        check_name(account, NameField::Account)?;
        let uri = Self {
            secret,
            issuer: issuer.map(str::to_owned),
            account: account.to_owned(),
            algorithm,
            digits,
            kind,
        };
        // Percent-encoding can make the URI longer than the text it was parsed from; a Key
        // URI that [`KeyUri::parse`] would refuse is not built either, so parse(build(x)) == x.
        if uri.to_uri().len() > MAX_URI_LEN {
            return Err(UriError::TooLong);
        }
        Ok(uri)
    }

    /// The secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The issuer (service provider), if the URI names one.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The HMAC algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The digits per code.
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// TOTP or HOTP, with the period or initial counter.
    pub fn kind(&self) -> OtpKind {
        self.kind
    }

    /// The TOTP parameters, or `None` for an HOTP URI.
    pub fn totp_params(&self) -> Option<TotpParams> {
        match self.kind {
            OtpKind::Totp { period } => Some(TotpParams {
                algorithm: self.algorithm,
                digits: self.digits,
                period,
                t0: 0,
            }),
            OtpKind::Hotp { .. } => None,
        }
    }

    /// A TOTP verifier for this credential, or `None` for an HOTP URI.
    pub fn to_totp(&self) -> Option<Totp> {
        self.totp_params()
            .map(|params| Totp::new(&self.secret, params))
    }

    /// An HOTP verifier for this credential, or `None` for a TOTP URI.
    pub fn to_hotp(&self) -> Option<Hotp> {
        match self.kind {
            OtpKind::Hotp { .. } => Some(Hotp::new(
                &self.secret,
                HotpParams {
                    algorithm: self.algorithm,
                    digits: self.digits,
                },
            )),
            OtpKind::Totp { .. } => None,
        }
    }

    /// The `otpauth://` URI. It contains the secret, hence the [`Zeroizing`] wrapper.
    pub fn to_uri(&self) -> Zeroizing<String> {
        // Sized up front so the buffer never reallocates (leaving a copy of the secret behind).
        let names = self
            .issuer
            .as_deref()
            .map_or(0, str::len)
            .saturating_mul(2)
            .saturating_add(self.account.len());
        let capacity = names
            .saturating_mul(3)
            .saturating_add(self.secret.bits() / 5)
            .saturating_add(160);
        let mut uri = Zeroizing::new(String::with_capacity(capacity));
        let kind = match self.kind {
            OtpKind::Totp { .. } => "totp",
            OtpKind::Hotp { .. } => "hotp",
        };
        // Writing to a String cannot fail; the results are ignored deliberately.
        let _ = write!(uri, "otpauth://{kind}/");
        if let Some(issuer) = &self.issuer {
            let _ = write!(uri, "{}:", utf8_percent_encode(issuer, LABEL));
        }
        let _ = write!(uri, "{}?secret=", utf8_percent_encode(&self.account, LABEL));
        uri.push_str(&self.secret.to_base32());
        if let Some(issuer) = &self.issuer {
            let _ = write!(uri, "&issuer={}", utf8_percent_encode(issuer, COMPONENT));
        }
        if self.algorithm != Algorithm::default() {
            let _ = write!(uri, "&algorithm={}", self.algorithm);
        }
        if self.digits != Digits::default() {
            let _ = write!(uri, "&digits={}", self.digits.get());
        }
        match self.kind {
            OtpKind::Totp { period } if period != Period::default() => {
                let _ = write!(uri, "&period={}", period.seconds());
            }
            OtpKind::Totp { .. } => {}
            OtpKind::Hotp { counter } => {
                let _ = write!(uri, "&counter={counter}");
            }
        }
        uri
    }

    /// Parses a Key URI.
    ///
    /// Accepts `totp` and `hotp` (any case), an `issuer:account` or bare `account` label with
    /// `:` or `%3A` and optional spaces after it, lowercase or padded secrets from 80 bits
    /// (check [`Secret::strength`]), lowercase algorithm names, and ignores unknown parameters
    /// and a `#fragment`. `+` is a literal plus, as RFC 3986 has it.
    ///
    /// # Errors
    /// A [`UriError`] naming what is wrong: scheme, type, label, a missing `secret` (or
    /// `counter` for HOTP), a duplicate or invalid parameter, or an issuer parameter that
    /// differs from the label prefix.
    pub fn parse(input: &str) -> Result<Self, UriError> {
        if input.len() > MAX_URI_LEN {
            return Err(UriError::TooLong);
        }
        let rest = input
            .get(..10)
            .filter(|scheme| scheme.eq_ignore_ascii_case("otpauth://"))
            .and_then(|_| input.get(10..))
            .ok_or(UriError::Scheme)?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (kind, label) = path.split_once('/').ok_or(UriError::Label)?;
        let is_totp = if kind.eq_ignore_ascii_case("totp") {
            true
        } else if kind.eq_ignore_ascii_case("hotp") {
            false
        } else {
            return Err(UriError::Type);
        };

        let label = decode(label).ok_or(UriError::Label)?;
        let (label_issuer, account) = match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer), account.trim_start_matches(' ')),
            None => (None, label.as_str()),
        };
        if account.is_empty() {
            return Err(UriError::Label);
        }

        let params = Params::parse(query)?;
        let issuer_param = params.issuer.as_deref().filter(|issuer| !issuer.is_empty());
        let issuer = match (label_issuer, issuer_param) {
            (Some(prefix), Some(param)) if prefix != param => return Err(UriError::IssuerMismatch),
            (prefix, param) => prefix.or(param),
        };
        let secret = params
            .secret
            .as_deref()
            .ok_or(UriError::MissingParameter("secret"))
            .and_then(|b32| Ok(Secret::from_base32_legacy(b32)?))?;
        let algorithm = params
            .algorithm
            .map_or(Ok(Algorithm::default()), |a| a.parse())?;
        let digits = params.digits.map_or(Ok(Digits::default()), |d| {
            d.parse::<u8>()
                .map_err(|_| UriError::InvalidParameter("digits"))
                .and_then(|d| Ok(Digits::new(d)?))
        })?;
        let kind = if is_totp {
            let period = params.period.map_or(Ok(Period::default()), |p| {
                p.parse::<u32>()
                    .map_err(|_| UriError::InvalidParameter("period"))
                    .and_then(|p| Ok(Period::new(p)?))
            })?;
            OtpKind::Totp { period }
        } else {
            let counter = params
                .counter
                .ok_or(UriError::MissingParameter("counter"))?
                .parse::<u64>()
                .map_err(|_| UriError::InvalidParameter("counter"))?;
            OtpKind::Hotp { counter }
        };
        Self::new(secret, issuer, account, algorithm, digits, kind)
    }
}

/// The parameters a Key URI may carry, percent-decoded, before validation.
#[derive(Default)]
struct Params {
    secret: Option<Zeroizing<String>>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    counter: Option<String>,
}

impl Params {
    fn parse(query: &str) -> Result<Self, UriError> {
        let mut params = Self::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (slot, name) = match key.to_ascii_lowercase().as_str() {
                "secret" => {
                    let value = decode(value).ok_or(UriError::InvalidParameter("secret"))?;
                    set(&mut params.secret, Zeroizing::new(value), "secret")?;
                    continue;
                }
                "issuer" => (&mut params.issuer, "issuer"),
                "algorithm" => (&mut params.algorithm, "algorithm"),
                "digits" => (&mut params.digits, "digits"),
                "period" => (&mut params.period, "period"),
                "counter" => (&mut params.counter, "counter"),
                _ => continue, // image, color and other app extensions
            };
            set(
                slot,
                decode(value).ok_or(UriError::InvalidParameter(name))?,
                name,
            )?;
        }
        Ok(params)
    }
}

fn set<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), UriError> {
    if slot.replace(value).is_some() {
        Err(UriError::DuplicateParameter(name))
    } else {
        Ok(())
    }
}

fn decode(component: &str) -> Option<String> {
    percent_decode_str(component)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// The most characters [`fit_name`] keeps: room for any real address, far below
/// [`MAX_URI_LEN`] once percent-encoded.
const FIT_NAME_MAX_CHARS: usize = 256;

/// `name` made fit for a Key URI's issuer or account, for names that come from users: an
/// address the application accepted must never make the setup impossible. Control and
/// direction-formatting characters are dropped (they could make an app show another name),
/// a colon — the label's separator — becomes `：` (U+FF1A, which reads the same), surrounding
/// whitespace is trimmed and at most 256 characters are kept; an empty result becomes
/// `"account"`. [`KeyUri::totp`] accepts every name it returns.
///
/// ```
/// use twostep_otp::fit_name;
/// assert_eq!(fit_name("alice@example.com"), "alice@example.com");
/// assert_eq!(fit_name("\"a:b\"@example.com"), "\"a：b\"@example.com");
/// assert_eq!(fit_name("eve\u{202E}moc.evil@example.com"), "evemoc.evil@example.com");
/// assert_eq!(fit_name(" \n "), "account");
/// ```
pub fn fit_name(name: &str) -> String {
    let fitted: String = name
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .map(|c| if c == ':' { '\u{FF1A}' } else { c })
        .take(FIT_NAME_MAX_CHARS)
        .collect();
    match fitted.trim() {
        "" => "account".to_owned(),
        trimmed if trimmed.len() == fitted.len() => fitted,
        trimmed => trimmed.to_owned(),
    }
}

fn check_name(name: &str, field: NameField) -> Result<(), UriError> {
    let valid = !name.is_empty()
        && !name.contains(':')
        && !name.chars().any(|c| c.is_control() || is_bidi_control(c))
        && name.trim() == name;
    if valid {
        Ok(())
    } else {
        Err(UriError::InvalidName(field))
    }
}

/// Directional formatting characters, which could make an app show another name than the
/// one encoded (e.g. U+202E RIGHT-TO-LEFT OVERRIDE).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
