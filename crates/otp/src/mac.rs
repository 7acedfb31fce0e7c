//! The keyed HMAC behind every code, and the constant-work scan over a range of counters.
//!
//! The secret is turned into HMAC state once, when a [`KeyedMac`] is built: its inner and
//! outer pads are each compressed a single time. Every counter after that costs a clone of
//! that state and two compressions (RFC 4226's HMAC over an 8-byte counter), on the stack.

use core::ops::RangeInclusive;

use hmac::Hmac;
use hmac::digest::{KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use crate::{Algorithm, Code, Digits, Secret};

/// HMAC state keyed with one secret.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl KeyedMac {
    pub(crate) fn new(secret: &Secret, algorithm: Algorithm) -> Self {
        let key = secret.expose_bytes();
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(keyed(key)),
            Algorithm::Sha256 => Self::Sha256(keyed(key)),
            Algorithm::Sha512 => Self::Sha512(keyed(key)),
        }
    }

    /// The code for one counter value (RFC 4226 §5.3).
    pub(crate) fn code(&self, counter: u64, digits: Digits) -> Code {
        #[cfg(test)]
        tests::CODES_COMPUTED.with(|n| n.set(n.get() + 1));
        let truncated = match self {
            Self::Sha1(mac) => dynamic_truncation(&sign(mac, counter)),
            Self::Sha256(mac) => dynamic_truncation(&sign(mac, counter)),
            Self::Sha512(mac) => dynamic_truncation(&sign(mac, counter)),
        };
        Code::from_truncated(truncated, digits)
    }

    /// Computes the code of every counter in `counters` — never stopping early — and compares
    /// each with `input` in constant time. Returns the newest (or, with `prefer_earliest`, the
    /// earliest) matching counter for which `acceptable` holds, and whether any counter matched
    /// at all.
    ///
    /// `acceptable` sees only counters, never codes: it encodes public replay state.
    pub(crate) fn scan(
        &self,
        input: &Code,
        counters: RangeInclusive<u64>,
        acceptable: impl Fn(u64) -> bool,
        prefer_earliest: bool,
    ) -> Scan {
        let mut chosen = 0u64;
        let mut found = Choice::from(0);
        let mut matched = Choice::from(0);
        let prefer_earliest = Choice::from(u8::from(prefer_earliest));
        for counter in counters {
            let is_match = self.code(counter, input.digits()).ct_eq(input);
            let take =
                is_match & Choice::from(u8::from(acceptable(counter))) & !(found & prefer_earliest);
            chosen.conditional_assign(&counter, take);
            found |= take;
            matched |= is_match;
        }
        Scan {
            chosen: bool::from(found).then_some(chosen),
            matched_any: matched.into(),
        }
    }
}

/// What [`KeyedMac::scan`] found.
pub(crate) struct Scan {
    pub(crate) chosen: Option<u64>,
    pub(crate) matched_any: bool,
}

/// HMAC keyed with `key`. Secrets are at most 64 bytes ([`crate::MAX_SECRET_BYTES`]), never
/// longer than a block of SHA-1, SHA-256 or SHA-512, so the key is zero-padded to one block
/// exactly as RFC 2104 §2 prescribes and `KeyInit::new` cannot fail.
fn keyed<M: KeyInit>(key: &[u8]) -> M {
    let mut block = hmac::digest::Key::<M>::default();
    for (slot, byte) in block.iter_mut().zip(key) {
        *slot = *byte;
    }
    let mac = M::new(&block);
    block.as_mut_slice().zeroize();
    mac
}

fn sign<M: Mac + Clone>(mac: &M, counter: u64) -> hmac::digest::Output<M> {
    let mut mac = mac.clone();
    mac.update(&counter.to_be_bytes());
    mac.finalize().into_bytes()
}

/// RFC 4226 §5.3: four bytes at the offset given by the low nibble of the last byte, top bit
/// cleared.
fn dynamic_truncation(hash: &[u8]) -> u32 {
    let offset = hash.last().map_or(0, |last| usize::from(last & 0x0f));
    // Every digest here is at least 20 bytes and offset ≤ 15, so the four bytes exist.
    hash.get(offset..)
        .and_then(|rest| rest.first_chunk::<4>())
        .map_or(0, |bytes| u32::from_be_bytes(*bytes) & 0x7fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Rejection, Totp, TotpParams, Window};
    use std::cell::Cell;

    thread_local! {
        pub(super) static CODES_COMPUTED: Cell<usize> = const { Cell::new(0) };
    }

    fn codes_computed_by(f: impl FnOnce()) -> usize {
        CODES_COMPUTED.with(|n| n.set(0));
        f();
        CODES_COMPUTED.with(Cell::get)
    }

    #[test]
    fn verification_computes_every_step_of_the_window_even_after_a_match() {
        let secret = Secret::from_bytes(b"12345678901234567890").expect("seed");
        let totp = Totp::new(&secret, TotpParams::default());
        let now = 1_000 * 30;
        let oldest = totp.generate_at_step(999).to_string();
        let newest = totp.generate_at_step(1_001).to_string();
        for input in [oldest.as_str(), newest.as_str(), "000000"] {
            assert_eq!(
                codes_computed_by(|| {
                    let _ = totp.verify(input, now, None);
                }),
                3,
                "{input}"
            );
        }
        let wide = totp.clone().with_window(Window::new(2, 1).expect("valid"));
        assert_eq!(
            codes_computed_by(|| {
                let _ = wide.verify(&oldest, now, None);
            }),
            4
        );
        // Malformed input costs no HMAC at all.
        let malformed = codes_computed_by(|| {
            assert!(matches!(
                totp.verify("12a456", now, None),
                Err(Rejection::Malformed(_))
            ));
        });
        assert_eq!(malformed, 0);
    }

    #[test]
    fn rfc4226_section_5_4_truncation_example() {
        let hmac: [u8; 20] = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        assert_eq!(dynamic_truncation(&hmac), 0x50ef_7f19);
        assert_eq!(
            Code::from_truncated(dynamic_truncation(&hmac), Digits::SIX).to_string(),
            "872921"
        );
    }
}
