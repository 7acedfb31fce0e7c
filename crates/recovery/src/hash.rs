//! Argon2id hashing of recovery codes, with parameters that travel with the hash.
//!
//! One salt per set, not per code: an attempt against a set of N codes is then one Argon2id
//! evaluation followed by N constant-time comparisons, instead of N evaluations. The salt is
//! still unique per set (so per user and per issue), which is what defeats precomputation
//! across users; what it gives up is that an attacker holding the database could test one
//! guess against the user's N codes at once — a factor of 10 on a 75-bit search, which
//! leaves it far out of reach. The alternative, a non-secret lookup prefix per code, would
//! spend code entropy on an index and put part of each code in the clear.

use argon2::{Algorithm, Argon2, Version};
use zeroize::Zeroize;

use crate::SetError;

/// Bytes of each stored hash.
pub(crate) const HASH_LEN: usize = 32;
/// Bytes of each set's salt.
pub(crate) const SALT_LEN: usize = 16;

/// Argon2id cost parameters.
///
/// The default is OWASP's recommendation for Argon2id, 19 MiB of memory and 2 passes on one
/// lane, the `argon2` crate's default too. The parameters are stored inside every hash, so
/// raising the default later leaves existing sets verifiable with the costs they were made
/// with. Costs above 256 MiB, 8 passes or 4 lanes are refused, so a corrupted stored set
/// cannot make one verification take more than a few seconds and that much memory.
///
/// ```
/// use twostep_recovery::HashParams;
/// let params = HashParams::default();
/// assert_eq!((params.memory_kib(), params.passes(), params.lanes()), (19 * 1024, 2, 1));
/// assert!(HashParams::new(8, 1, 1).is_ok()); // fast, for tests only
/// assert!(HashParams::new(1 << 19, 1, 1).is_err()); // 512 MiB is over the ceiling
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashParams {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

impl HashParams {
    /// The largest memory cost accepted: 256 MiB.
    pub const MAX_MEMORY_KIB: u32 = 1 << 18;
    /// The most passes accepted.
    pub const MAX_PASSES: u32 = 8;
    /// The most lanes accepted.
    pub const MAX_LANES: u32 = 4;

    /// Validates Argon2id costs.
    ///
    /// # Errors
    /// [`SetError::Params`] when Argon2 rejects them (memory below 8 KiB per lane, zero
    /// passes or lanes) or they exceed this type's maxima.
    pub fn new(memory_kib: u32, passes: u32, lanes: u32) -> Result<Self, SetError> {
        let within_bounds = memory_kib <= Self::MAX_MEMORY_KIB
            && passes <= Self::MAX_PASSES
            && lanes <= Self::MAX_LANES;
        if !within_bounds {
            return Err(SetError::Params);
        }
        argon2::Params::new(memory_kib, passes, lanes, Some(HASH_LEN))
            .map_err(|_| SetError::Params)?;
        Ok(Self {
            memory_kib,
            passes,
            lanes,
        })
    }

    /// Memory cost in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Number of passes (time cost).
    pub fn passes(&self) -> u32 {
        self.passes
    }

    /// Degree of parallelism.
    pub fn lanes(&self) -> u32 {
        self.lanes
    }

    pub(crate) fn argon2(&self) -> Result<Argon2<'static>, SetError> {
        let params = argon2::Params::new(self.memory_kib, self.passes, self.lanes, Some(HASH_LEN))
            .map_err(|_| SetError::Params)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Hashes canonical code bytes with the set's salt.
    pub(crate) fn hash(
        &self,
        code: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<[u8; HASH_LEN], SetError> {
        #[cfg(test)]
        EVALUATIONS.with(|n| n.set(n.get() + 1));
        let mut out = [0u8; HASH_LEN];
        if let Err(error) = self.argon2()?.hash_password_into(code, salt, &mut out) {
            out.zeroize();
            return Err(SetError::Hash(error));
        }
        Ok(out)
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: argon2::Params::DEFAULT_M_COST,
            passes: argon2::Params::DEFAULT_T_COST,
            lanes: argon2::Params::DEFAULT_P_COST,
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Argon2 evaluations on this thread, for tests that pin the cost of an attempt.
    pub(crate) static EVALUATIONS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}
