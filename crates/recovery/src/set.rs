//! A user's stored set of recovery codes: generation, matching, one-time consumption.
//!
//! [`RecoveryCodeSet`] holds only Argon2id hashes (serialized as PHC strings) and each code's
//! state. It is a value: consuming a code returns a new set and leaves the old one untouched,
//! so the caller can write it with a compare-and-set and a failed write loses nothing. There
//! is no way to add codes to a set or combine two sets — re-issuing generates a whole new set
//! with its own salt, and a stored set whose codes carry different salts does not decode.
//! Atomically replacing the stored set is the caller's store's contract.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use crate::hash::{HASH_LEN, SALT_LEN};
use crate::{HashParams, IssuedCodes, ParseError, RecoveryCode};

/// Codes in a set unless the caller asks for another number.
pub const DEFAULT_CODE_COUNT: usize = 10;
/// The most codes a set may hold.
pub const MAX_CODE_COUNT: usize = 32;
/// At or below this many unused codes, [`RecoveryCodeSet::is_low`] says to re-issue.
pub const LOW_REMAINING: usize = 3;
/// The schema version of the serialized form.
const SCHEMA_VERSION: u32 = 1;

/// A stored set of recovery codes.
///
/// ```
/// use twostep_recovery::{HashParams, RecoveryCodeSet};
///
/// let params = HashParams::new(8, 1, 1)?; // tiny costs for the example; use the default
/// let now = 1_700_000_000;
/// let (issued, set) = RecoveryCodeSet::generate(&mut rand::rng(), 10, &params, now)?;
/// let typed = issued.codes()[3].to_string().to_uppercase(); // "ABCD-EFGH-…"
///
/// let redeemed = set.redeem(&typed, now + 60)?;
/// assert_eq!(redeemed.remaining, 9);
/// // Store `redeemed.set` atomically in place of `set`; the code never matches again.
/// assert!(redeemed.set.redeem(&typed, now + 120).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredSet", into = "StoredSet")]
pub struct RecoveryCodeSet {
    created_at: u64,
    params: HashParams,
    salt: [u8; SALT_LEN],
    codes: Vec<CodeState>,
}

#[derive(Clone, PartialEq, Eq)]
struct CodeState {
    hash: [u8; HASH_LEN],
    used_at: Option<u64>,
}

/// A position in one particular set, as found by [`RecoveryCodeSet::find`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    index: usize,
    salt: [u8; SALT_LEN],
}

impl Slot {
    /// The code's position in the set, 0-based.
    pub fn index(&self) -> usize {
        self.index
    }
}

/// A code that was redeemed: the new set to store and what to tell the user.
#[derive(Debug)]
#[non_exhaustive]
pub struct Redeemed {
    /// The set with the code marked used. Store it in place of the old one, atomically.
    pub set: RecoveryCodeSet,
    /// Which code was used.
    pub slot: Slot,
    /// Unused codes left.
    pub remaining: usize,
    /// Whether so few remain that the user should re-issue ([`LOW_REMAINING`]).
    pub low: bool,
}

/// A stored set that cannot be used, or costs that Argon2 refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetError {
    /// Argon2 costs outside what Argon2 or [`HashParams`] allow.
    #[error("invalid Argon2 parameters")]
    Params,
    /// Argon2 failed.
    #[error("Argon2 hashing failed")]
    Hash(#[source] argon2::Error),
    /// A code count of zero or above [`MAX_CODE_COUNT`].
    #[error("a set holds 1 to {MAX_CODE_COUNT} codes, not {0}")]
    Count(usize),
    /// A serialized set of another schema version.
    #[error("unsupported recovery-code set version {0}")]
    Version(u32),
    /// A stored hash that is not an Argon2id v19 PHC string with a 16-byte salt and a
    /// 32-byte output.
    #[error("stored recovery code {index} is not a valid Argon2id hash")]
    InvalidHash {
        /// The code's position in the set.
        index: usize,
    },
    /// Codes with different salts or parameters: not one set.
    #[error("the stored codes do not belong to one set")]
    Mixed,
    /// The RNG kept producing the same codes: it is broken.
    #[error("the random number generator produced repeated codes")]
    Randomness,
    /// Two codes with the same hash.
    #[error("the stored set contains the same code twice")]
    Duplicate,
}

/// Why a code could not be consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumeError {
    /// The code was used before.
    #[error("this recovery code was already used")]
    AlreadyUsed,
    /// The slot was found in another set (for example one that has since been re-issued).
    #[error("the code belongs to another set of recovery codes")]
    WrongSet,
}

/// Why typed input did not redeem a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedeemError {
    /// Not the shape of a code (typo, wrong length, bad check symbol): nothing was hashed, so
    /// this need not count against the user's attempts.
    #[error(transparent)]
    Malformed(#[from] ParseError),
    /// A well-formed code that is not an unused code of this set. Count it as a failed attempt.
    #[error("this recovery code is not valid or was already used")]
    NoMatch,
    /// Hashing failed.
    #[error(transparent)]
    Set(#[from] SetError),
}

impl RecoveryCodeSet {
    /// Generates `count` new codes (use [`DEFAULT_CODE_COUNT`]) and their hashed set.
    ///
    /// The [`IssuedCodes`] are the only copy of the plaintext: show them once, offer the
    /// copy and download texts, then drop them. Costs `count` Argon2id evaluations.
    ///
    /// # Errors
    /// [`SetError::Count`] for 0 or more than [`MAX_CODE_COUNT`] codes; [`SetError::Hash`] if
    /// Argon2 fails.
    pub fn generate<R: CryptoRng + ?Sized>(
        rng: &mut R,
        count: usize,
        params: &HashParams,
        now: u64,
    ) -> Result<(IssuedCodes, Self), SetError> {
        if count == 0 || count > MAX_CODE_COUNT {
            return Err(SetError::Count(count));
        }
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let mut plain: Vec<RecoveryCode> = Vec::with_capacity(count);
        // 75-bit codes from a working CSPRNG practically never repeat, but a set must not hold
        // one twice — and a broken RNG must not make this loop forever.
        for _ in 0..count.saturating_mul(4) {
            if plain.len() == count {
                break;
            }
            let code = RecoveryCode::generate(rng);
            if !plain
                .iter()
                .any(|other| other.canonical() == code.canonical())
            {
                plain.push(code);
            }
        }
        if plain.len() < count {
            return Err(SetError::Randomness);
        }
        let codes = plain
            .iter()
            .map(|code| {
                Ok(CodeState {
                    hash: params.hash(code.canonical(), &salt)?,
                    used_at: None,
                })
            })
            .collect::<Result<Vec<_>, SetError>>()?;
        let set = Self {
            created_at: now,
            params: *params,
            salt,
            codes,
        };
        Ok((IssuedCodes::new(plain, now), set))
    }

    /// Finds the unused code equal to `code`: one Argon2id evaluation, then a constant-time
    /// comparison with every stored hash. Used codes never match.
    ///
    /// # Errors
    /// [`SetError`] if Argon2 fails.
    pub fn find(&self, code: &RecoveryCode) -> Result<Option<Slot>, SetError> {
        let mut hash = self.params.hash(code.canonical(), &self.salt)?;
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, stored) in (0u64..).zip(&self.codes) {
            let unused = Choice::from(u8::from(stored.used_at.is_none()));
            let is_match = stored.hash.ct_eq(&hash) & unused;
            index.conditional_assign(&i, is_match);
            found |= is_match;
        }
        hash.zeroize();
        Ok(bool::from(found).then(|| Slot {
            index: usize::try_from(index).unwrap_or(usize::MAX),
            salt: self.salt,
        }))
    }

    /// The set with the code at `slot` marked used at `now`. `self` is unchanged.
    ///
    /// # Errors
    /// [`ConsumeError::AlreadyUsed`] for a used code; [`ConsumeError::WrongSet`] for a slot
    /// found in another set.
    pub fn consume(&self, slot: Slot, now: u64) -> Result<Self, ConsumeError> {
        if slot.salt != self.salt {
            return Err(ConsumeError::WrongSet);
        }
        let mut next = self.clone();
        let state = next
            .codes
            .get_mut(slot.index)
            .ok_or(ConsumeError::WrongSet)?;
        if state.used_at.is_some() {
            return Err(ConsumeError::AlreadyUsed);
        }
        state.used_at = Some(now);
        Ok(next)
    }

    /// Parses typed input, finds it and consumes it: the whole login or disable step.
    ///
    /// This runs one Argon2id evaluation (about 20 ms at the default costs) on the calling
    /// thread; in an async server call it from `spawn_blocking` or its equivalent.
    ///
    /// # Errors
    /// [`RedeemError::Malformed`] before any hashing; [`RedeemError::NoMatch`] for a wrong or
    /// used code; [`RedeemError::Set`] if Argon2 fails.
    pub fn redeem(&self, input: &str, now: u64) -> Result<Redeemed, RedeemError> {
        let code = RecoveryCode::parse(input)?;
        let slot = self.find(&code)?.ok_or(RedeemError::NoMatch)?;
        let set = self.consume(slot, now).map_err(|_| RedeemError::NoMatch)?;
        let remaining = set.remaining();
        Ok(Redeemed {
            low: set.is_low(),
            set,
            slot,
            remaining,
        })
    }

    /// Unused codes.
    pub fn remaining(&self) -> usize {
        self.codes
            .iter()
            .filter(|code| code.used_at.is_none())
            .count()
    }

    /// Whether at most [`LOW_REMAINING`] codes are left.
    pub fn is_low(&self) -> bool {
        self.remaining() <= LOW_REMAINING
    }

    /// Codes in the set, used or not.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Always false: a set holds at least one code.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// When the set was generated (Unix seconds).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Which issue of codes this is: random, drawn when the set was generated, and unchanged
    /// as its codes are used. Two sets with the same issue hold the same codes; a re-issue
    /// has another. Not secret.
    ///
    /// ```
    /// use twostep_recovery::{HashParams, RecoveryCodeSet};
    ///
    /// let params = HashParams::new(8, 1, 1)?;
    /// let (issued, set) = RecoveryCodeSet::generate(&mut rand::rng(), 3, &params, 0)?;
    /// let used = set.redeem(&issued.codes()[0].to_string(), 5)?.set;
    /// assert_eq!(used.issue(), set.issue());
    /// let (_, reissued) = RecoveryCodeSet::generate(&mut rand::rng(), 3, &params, 10)?;
    /// assert_ne!(reissued.issue(), set.issue());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issue(&self) -> [u8; 16] {
        self.salt
    }

    /// When each code was used, in order; `None` for unused codes.
    pub fn used_at(&self) -> impl Iterator<Item = Option<u64>> + '_ {
        self.codes.iter().map(|code| code.used_at)
    }

    /// The Argon2id costs the set was hashed with.
    pub fn params(&self) -> HashParams {
        self.params
    }
}

impl core::fmt::Debug for RecoveryCodeSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecoveryCodeSet")
            .field("created_at", &self.created_at)
            .field("codes", &self.codes.len())
            .field("remaining", &self.remaining())
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The serialized form: a schema version, and each code as an Argon2id PHC string.
#[derive(Serialize, Deserialize)]
struct StoredSet {
    version: u32,
    created_at: u64,
    codes: Vec<StoredCode>,
}

#[derive(Serialize, Deserialize)]
struct StoredCode {
    hash: String,
    used_at: Option<u64>,
}

impl From<RecoveryCodeSet> for StoredSet {
    fn from(set: RecoveryCodeSet) -> Self {
        let codes = set
            .codes
            .iter()
            .map(|code| StoredCode {
                hash: phc_string(&set.params, &set.salt, &code.hash),
                used_at: code.used_at,
            })
            .collect();
        Self {
            version: SCHEMA_VERSION,
            created_at: set.created_at,
            codes,
        }
    }
}

impl TryFrom<StoredSet> for RecoveryCodeSet {
    type Error = SetError;

    fn try_from(stored: StoredSet) -> Result<Self, SetError> {
        if stored.version != SCHEMA_VERSION {
            return Err(SetError::Version(stored.version));
        }
        if stored.codes.is_empty() || stored.codes.len() > MAX_CODE_COUNT {
            return Err(SetError::Count(stored.codes.len()));
        }
        let mut shared: Option<(HashParams, [u8; SALT_LEN])> = None;
        let mut first_prefix = "";
        let mut codes = Vec::with_capacity(stored.codes.len());
        for (index, code) in stored.codes.iter().enumerate() {
            let invalid = SetError::InvalidHash { index };
            // Every code of a set shares the first's algorithm, parameters and salt: where
            // its text does too, only the hash needs decoding (a set is read on every
            // sign-in, and a full PHC parse per code was most of that read's cost).
            let (prefix, encoded) = code.hash.rsplit_once('$').ok_or(invalid)?;
            let hash = match shared {
                Some(_) if prefix == first_prefix => decode_hash(encoded).ok_or(invalid)?,
                Some(first) => {
                    let (params, salt, hash) = parse_phc(&code.hash).ok_or(invalid)?;
                    if first != (params, salt) {
                        return Err(SetError::Mixed);
                    }
                    hash
                }
                None => {
                    let (params, salt, hash) = parse_phc(&code.hash).ok_or(invalid)?;
                    shared = Some((params, salt));
                    first_prefix = prefix;
                    hash
                }
            };
            if codes.iter().any(|other: &CodeState| other.hash == hash) {
                return Err(SetError::Duplicate);
            }
            codes.push(CodeState {
                hash,
                used_at: code.used_at,
            });
        }
        let (params, salt) = shared.ok_or(SetError::Count(0))?;
        Ok(Self {
            created_at: stored.created_at,
            params,
            salt,
            codes,
        })
    }
}

fn phc_string(params: &HashParams, salt: &[u8; SALT_LEN], hash: &[u8; HASH_LEN]) -> String {
    use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
    let phc = (|| {
        let argon = argon2::Params::new(
            params.memory_kib(),
            params.passes(),
            params.lanes(),
            Some(HASH_LEN),
        )
        .ok()?;
        Some(PasswordHash {
            algorithm: argon2::Algorithm::Argon2id.ident(),
            version: Some(argon2::Version::V0x13.into()),
            params: ParamsString::try_from(&argon).ok()?,
            salt: Some(Salt::new(salt).ok()?),
            hash: Some(Output::new(hash).ok()?),
        })
    })();
    // Every value here was validated when the set was made, so the PHC string always forms;
    // an empty string would fail to decode rather than pass for a code.
    phc.map(|phc| phc.to_string()).unwrap_or_default()
}

/// A PHC string's hash field (unpadded standard base64) as bytes.
fn decode_hash(encoded: &str) -> Option<[u8; HASH_LEN]> {
    let output = argon2::password_hash::phc::Output::decode(encoded).ok()?;
    output.as_bytes().try_into().ok()
}

fn parse_phc(text: &str) -> Option<(HashParams, [u8; SALT_LEN], [u8; HASH_LEN])> {
    use argon2::password_hash::phc::PasswordHash;
    let phc = PasswordHash::new(text).ok()?;
    if phc.algorithm != argon2::Algorithm::Argon2id.ident()
        || phc.version != Some(argon2::Version::V0x13.into())
    {
        return None;
    }
    let argon = argon2::Params::try_from(&phc).ok()?;
    // Secret keys and associated data are not used here; a hash with them is not ours.
    if !argon.keyid().is_empty() || !argon.data().is_empty() {
        return None;
    }
    let params = HashParams::new(argon.m_cost(), argon.t_cost(), argon.p_cost()).ok()?;
    let salt: [u8; SALT_LEN] = phc.salt?.as_ref().try_into().ok()?;
    let hash: [u8; HASH_LEN] = phc.hash?.as_bytes().try_into().ok()?;
    Some((params, salt, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::EVALUATIONS;

    fn evaluations_during(f: impl FnOnce()) -> usize {
        EVALUATIONS.with(|n| n.set(0));
        f();
        EVALUATIONS.with(core::cell::Cell::get)
    }

    #[test]
    fn one_attempt_costs_one_argon2_evaluation_whatever_the_set_size() {
        let params = HashParams::new(8, 1, 1).expect("valid");
        for count in [1, 10, MAX_CODE_COUNT] {
            let (issued, set) =
                RecoveryCodeSet::generate(&mut rand::rng(), count, &params, 0).expect("generates");
            let last = issued.codes().last().expect("non-empty").to_string();
            assert_eq!(
                evaluations_during(|| assert!(set.redeem(&last, 1).is_ok())),
                1
            );
            assert_eq!(
                evaluations_during(|| assert!(set.redeem("0000-0000-0000-0000", 1).is_err())),
                1,
                "a well-formed wrong code"
            );
            assert_eq!(
                evaluations_during(|| assert!(set.redeem("typo", 1).is_err())),
                0
            );
        }
    }
}
