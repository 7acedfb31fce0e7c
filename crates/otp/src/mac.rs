//! The keyed HMAC behind every code, and the constant-work scan over a range of counters.
//!
//! HMAC(K, m) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)) (RFC 2104). Both `K ⊕ pad` blocks depend only
//! on the key, so [`KeyedMac::new`] compresses each once and keeps the two hash *midstates*.
//! The message of HOTP is an 8-byte counter, and the inner hash fits beside its padding in one
//! block, so every code then costs exactly two compressions — the floor for HMAC — done with
//! the RustCrypto compression functions (`sha1`, `sha2` block APIs) on stack arrays, a batch of
//! counters at a time (see `truncated`). That is what makes verification allocation-free and,
//! for a ±1 window, no slower than six bare compressions one at a time (`benches/otp_paired.rs`).
//!
//! The midstates are key-equivalent: they are zeroized on drop. Per-code copies are
//! overwritten in place by the compression itself. The known-answer tests and the
//! differential tests against the `hmac` crate (see `reference`) pin the construction.

use core::ops::RangeInclusive;

use subtle::{Choice, ConditionallySelectable};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Algorithm, Code, Digits, Secret};

/// Generates the midstate computation and the two-compression HMAC for one SHA function.
macro_rules! hmac_engine {
    (
        $module:ident, word: $word:ty, state: $state_len:literal, block: $block:literal,
        output: $output:literal, compress: $compress:path, iv: $iv:expr
    ) => {
        mod $module {
            use zeroize::Zeroize;

            pub(super) type State = [$word; $state_len];
            const WORD: usize = core::mem::size_of::<$word>();

            /// The inner and outer midstates: the states after compressing one block of
            /// `key ⊕ ipad` and one of `key ⊕ opad` (the key zero-padded to a block; secrets are
            /// never longer than a block).
            pub(super) fn midstates(key: &[u8]) -> (State, State) {
                let mut block = [super::IPAD; $block];
                for (byte, key_byte) in block.iter_mut().zip(key) {
                    *byte ^= key_byte;
                }
                let mut inner: State = $iv;
                $compress(&mut inner, core::slice::from_ref(&block));
                for byte in &mut block {
                    *byte ^= super::IPAD ^ super::OPAD;
                }
                let mut outer: State = $iv;
                $compress(&mut outer, core::slice::from_ref(&block));
                block.zeroize();
                (inner, outer)
            }

            /// RFC 4226 §5.3 dynamic truncation, read straight from the state words: the four
            /// bytes at the offset given by the low nibble of the last byte, top bit cleared.
            /// The offset is at most 15 and every state holds at least 20 bytes, so the bytes
            /// lie within the two words read.
            pub(super) fn dynamic_truncation(state: &State) -> u32 {
                let last = state.last().map_or(0, |word| word.to_be_bytes()[WORD - 1]);
                let offset = usize::from(last & 0x0f);
                let (index, skip) = (offset / WORD, offset % WORD);
                let high = state.get(index).map_or(0, |word| u128::from(*word));
                let low = state.get(index + 1).map_or(0, |word| u128::from(*word));
                let pair = (high << (WORD * 8)) | low;
                let bytes = (pair >> ((2 * WORD - skip - 4) * 8)) & 0xffff_ffff;
                u32::try_from(bytes).unwrap_or(0) & 0x7fff_ffff
            }

            /// A block padded for `len` message bytes after the key block: the 0x80 marker
            /// right after them and the length in bits at the end. The message goes in front.
            /// Constant for a given `len`, so the compiler folds it.
            fn padded(len: usize) -> [u8; $block] {
                let mut block = [0u8; $block];
                if let Some(marker) = block.get_mut(len) {
                    *marker = 0x80;
                }
                if let Some(length) = block.last_chunk_mut() {
                    *length = (($block + len) as u64 * 8).to_be_bytes();
                }
                block
            }

            /// RFC 4226 truncation of the HMACs of up to [`super::BATCH`] 8-byte big-endian
            /// counters: exactly two compressions each, in the first `counters.len()` slots.
            ///
            /// Stage by stage: all inner blocks are written, then compressed, then all outer
            /// blocks written, then compressed. A compression that reads (16 bytes at a time) a
            /// block stored just before misses store-to-load forwarding and stalls; in stages
            /// the stores have landed by then, and the compressions of a stage, independent of
            /// each other, overlap. That saves about a fifth of a ±1 TOTP verification (x86-64
            /// with SHA extensions).
            pub(super) fn truncated(
                inner: &State,
                outer: &State,
                counters: &[u64],
            ) -> [u32; super::BATCH] {
                let mut blocks = [padded(8); super::BATCH];
                for (block, counter) in blocks.iter_mut().zip(counters) {
                    if let Some(message) = block.first_chunk_mut() {
                        *message = counter.to_be_bytes();
                    }
                }
                // Each midstate copy is made in the slot that compresses it: no copy of the
                // key-equivalent midstates is left behind in an unused slot.
                let mut states = [State::default(); super::BATCH];
                for (state, block) in states.iter_mut().zip(&blocks).take(counters.len()) {
                    *state = *inner;
                    $compress(state, core::slice::from_ref(block));
                }
                for (block, state) in blocks.iter_mut().zip(&states).take(counters.len()) {
                    *block = padded($output);
                    for (bytes, word) in block.chunks_exact_mut(WORD).zip(state) {
                        bytes.copy_from_slice(&word.to_be_bytes());
                    }
                }
                for (state, block) in states.iter_mut().zip(&blocks).take(counters.len()) {
                    *state = *outer;
                    $compress(state, core::slice::from_ref(block));
                }
                let mut truncated = [0u32; super::BATCH];
                for (value, state) in truncated.iter_mut().zip(&states).take(counters.len()) {
                    *value = dynamic_truncation(state);
                }
                truncated
            }
        }
    };
}

// Initial hash values from FIPS 180-4 §5.3.1–§5.3.5.
hmac_engine!(sha1_engine, word: u32, state: 5, block: 64, output: 20,
    compress: sha1::block_api::compress,
    iv: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0]);
hmac_engine!(sha256_engine, word: u32, state: 8, block: 64, output: 32,
    compress: sha2::block_api::compress256,
    iv: [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
         0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19]);
hmac_engine!(sha512_engine, word: u64, state: 8, block: 128, output: 64,
    compress: sha2::block_api::compress512,
    iv: [0x6a09_e667_f3bc_c908, 0xbb67_ae85_84ca_a73b, 0x3c6e_f372_fe94_f82b,
         0xa54f_f53a_5f1d_36f1, 0x510e_527f_ade6_82d1, 0x9b05_688c_2b3e_6c1f,
         0x1f83_d9ab_fb41_bd6b, 0x5be0_cd19_137e_2179]);

/// Counters whose HMACs are computed together: a ±1 TOTP window in one batch.
const BATCH: usize = 4;

const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;

/// The inner and outer HMAC midstates of one key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Midstates<S: Zeroize> {
    inner: S,
    outer: S,
}

/// HMAC state keyed with one secret.
pub(crate) enum KeyedMac {
    Sha1(Midstates<sha1_engine::State>),
    Sha256(Midstates<sha256_engine::State>),
    Sha512(Midstates<sha512_engine::State>),
}

impl KeyedMac {
    /// Secrets are at most [`crate::MAX_SECRET_BYTES`] (64) bytes, never longer than a block,
    /// so RFC 2104's "hash long keys first" never applies.
    pub(crate) fn new(secret: &Secret, algorithm: Algorithm) -> Self {
        let key = secret.expose_bytes();
        macro_rules! keyed {
            ($engine:ident) => {{
                let (inner, outer) = $engine::midstates(key);
                Midstates { inner, outer }
            }};
        }
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(keyed!(sha1_engine)),
            Algorithm::Sha256 => Self::Sha256(keyed!(sha256_engine)),
            Algorithm::Sha512 => Self::Sha512(keyed!(sha512_engine)),
        }
    }

    /// The code for one counter value (RFC 4226 §5.3).
    pub(crate) fn code(&self, counter: u64, digits: Digits) -> Code {
        let [truncated, ..] = self.truncated(&[counter]);
        Code::from_truncated(truncated, digits)
    }

    /// The dynamically truncated HMACs (RFC 4226 §5.3 steps 1–2) of up to [`BATCH`] counters,
    /// in the first `counters.len()` slots.
    fn truncated(&self, counters: &[u64]) -> [u32; BATCH] {
        #[cfg(test)]
        tests::CODES_COMPUTED.with(|n| n.set(n.get() + counters.len()));
        match self {
            Self::Sha1(m) => sha1_engine::truncated(&m.inner, &m.outer, counters),
            Self::Sha256(m) => sha256_engine::truncated(&m.inner, &m.outer, counters),
            Self::Sha512(m) => sha512_engine::truncated(&m.inner, &m.outer, counters),
        }
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
        mut counters: RangeInclusive<u64>,
        acceptable: impl Fn(u64) -> bool,
        prefer_earliest: bool,
    ) -> Scan {
        let mut chosen = 0u64;
        let mut found = Choice::from(0);
        let mut matched = Choice::from(0);
        // Walk towards the preferred end and let the last counter taken win: then no
        // selection waits on the one before it (every `Choice` operation is an optimisation
        // barrier, a store and a load, so such a chain is slow).
        let mut walk = core::iter::from_fn(|| {
            if prefer_earliest {
                counters.next_back()
            } else {
                counters.next()
            }
        });
        // Only the number of counters decides how often this loops: an empty batch ends it.
        loop {
            let mut batch = [0u64; BATCH];
            let len = batch
                .iter_mut()
                .zip(walk.by_ref())
                .map(|(slot, counter)| *slot = counter)
                .count();
            let Some(batch @ [_, ..]) = batch.get(..len) else {
                break;
            };
            for (&counter, &truncated) in batch.iter().zip(&self.truncated(batch)) {
                let is_match = input.ct_eq_truncated(truncated);
                let take = is_match & Choice::from(u8::from(acceptable(counter)));
                chosen.conditional_assign(&counter, take);
                found |= take;
                matched |= is_match;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Rejection, Totp, TotpParams, Window};
    use std::cell::Cell;
    use subtle::ConstantTimeEq;

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
        let wide = Totp::new(&secret, TotpParams::default())
            .with_window(Window::new(2, 1).expect("valid"));
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
    fn scans_over_several_batches_compute_each_counter_once_and_pick_the_preferred_match() {
        let secret = Secret::from_bytes(b"12345678901234567890").expect("seed");
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            let mac = KeyedMac::new(&secret, algorithm);
            for first in [0, 1_000, u64::MAX - 20] {
                for len in 1..=21u64 {
                    let counters = first..=first + (len - 1);
                    for target in counters.clone() {
                        let input = mac.code(target, Digits::SIX);
                        let matches = |c: &u64| bool::from(input.ct_eq(&mac.code(*c, Digits::SIX)));
                        let newest = counters.clone().rev().find(matches);
                        let earliest = counters.clone().find(matches);
                        let mut scans = [None; 2];
                        for (scan, prefer_earliest) in scans.iter_mut().zip([false, true]) {
                            let computed = codes_computed_by(|| {
                                *scan = mac
                                    .scan(&input, counters.clone(), |_| true, prefer_earliest)
                                    .chosen;
                            });
                            assert_eq!(computed, usize::try_from(len).expect("small"));
                        }
                        assert_eq!(scans, [newest, earliest], "{algorithm} {first} {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn rfc4226_section_5_4_truncation_example() {
        let hmac: [u8; 20] = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        // As SHA-1 state words, with the last byte's nibble replaced to try every offset.
        let words = |last: u8| {
            let mut bytes = hmac;
            bytes[19] = (bytes[19] & 0xf0) | last;
            let mut words = [0u32; 5];
            for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
                *word = u32::from_be_bytes(chunk.try_into().unwrap());
            }
            (words, bytes)
        };
        assert_eq!(sha1_engine::dynamic_truncation(&words(0x0a).0), 0x50ef_7f19);
        assert_eq!(
            Code::from_truncated(0x50ef_7f19, Digits::SIX).to_string(),
            "872921"
        );
        for offset in 0u8..16 {
            let (state, bytes) = words(offset);
            let start = usize::from(offset);
            let expected = u32::from_be_bytes(bytes[start..start + 4].try_into().unwrap());
            assert_eq!(
                sha1_engine::dynamic_truncation(&state),
                expected & 0x7fff_ffff
            );
        }
    }
}
