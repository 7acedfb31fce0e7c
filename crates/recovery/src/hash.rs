//! Argon2id hashing of recovery codes, with parameters that travel with the hash.
//!
//! One salt per set, not per code: an attempt against a set of N codes is then one Argon2id
//! evaluation followed by N constant-time comparisons, instead of N evaluations. The salt is
//! still unique per set (so per user and per issue), which is what defeats precomputation
//! across users; what it gives up is that an attacker holding the database could test one
//! guess against the user's N codes at once — a factor of 10 on a 75-bit search, which
//! leaves it far out of reach. The alternative, a non-secret lookup prefix per code, would
//! spend code entropy on an index and put part of each code in the clear.

use core::cell::RefCell;

use argon2::{Algorithm, Argon2, Block, Version};
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
        let argon2 = self.argon2()?;
        let mut out = [0u8; HASH_LEN];
        let hashed = KEPT.with(|kept| match kept.try_borrow_mut().as_deref_mut() {
            Ok(Some(blocks)) => {
                let needed = argon2.params().block_count();
                if blocks.len() < needed {
                    blocks.resize(needed, Block::new());
                }
                let hashed =
                    argon2.hash_password_into_with_memory(code, salt, &mut out, &mut blocks[..]);
                // What the blocks held is derived from the code: gone before the next use.
                blocks.iter_mut().for_each(Zeroize::zeroize);
                hashed
            }
            _ => argon2.hash_password_into(code, salt, &mut out),
        });
        if let Err(error) = hashed {
            out.zeroize();
            return Err(SetError::Hash(error));
        }
        Ok(out)
    }
}

thread_local! {
    /// The Argon2 memory kept between evaluations on a thread that asked for it
    /// ([`keep_memory_on_this_thread`]); `None` elsewhere.
    static KEPT: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Keeps the memory of this thread's Argon2 evaluations (19 MiB at the default costs) for
/// its next ones, zeroed in between, until the thread ends. Without it, every evaluation
/// allocates its memory and frees it.
///
/// For threads that do nothing but hash, such as a hashing pool's own: freeing and
/// allocating 19 MiB blocks over and over fragments the allocator's heap, and a process that
/// hashes on a few threads at a time ends up holding many times the memory it ever used at
/// once (a thousand concurrent wrong codes, two at a time: over 800 MiB that stayed). With
/// the memory kept, a thread holds one block, whatever it hashes. Do not call it on threads
/// that hash only now and then (an async runtime's workers): each would keep its block.
///
/// ```
/// std::thread::spawn(|| {
///     twostep_recovery::keep_memory_on_this_thread();
///     // … hash recovery codes here; the memory stays with this thread …
/// })
/// .join()
/// .unwrap();
/// ```
pub fn keep_memory_on_this_thread() {
    KEPT.with(|kept| {
        if let Ok(mut kept) = kept.try_borrow_mut() {
            kept.get_or_insert_with(Vec::new);
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Bytes of Argon2 memory this thread keeps, and whether they are all zero.
    fn kept() -> (usize, bool) {
        KEPT.with(|kept| {
            let kept = kept.borrow();
            let blocks = kept.as_deref().unwrap_or_default();
            let zero = blocks
                .iter()
                .all(|block| block.as_ref().iter().all(|&word| word == 0));
            (blocks.len() * Block::SIZE, zero)
        })
    }

    #[test]
    fn kept_memory_hashes_the_same_and_is_zeroed_after_each_use() {
        let (small, large) = (
            HashParams::new(64, 1, 1).unwrap(),
            HashParams::new(128, 1, 1).unwrap(),
        );
        let salt = [7; SALT_LEN];
        let fresh = (
            small.hash(b"code", &salt).unwrap(),
            large.hash(b"code", &salt).unwrap(),
        );
        std::thread::spawn(move || {
            keep_memory_on_this_thread();
            assert_eq!(kept(), (0, true));
            assert_eq!(small.hash(b"code", &salt).unwrap(), fresh.0);
            assert_eq!(kept(), (64 * 1024, true));
            // A larger cost grows the memory; a smaller one uses part of it.
            assert_eq!(large.hash(b"code", &salt).unwrap(), fresh.1);
            assert_eq!(small.hash(b"code", &salt).unwrap(), fresh.0);
            assert_eq!(kept(), (128 * 1024, true));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn other_threads_keep_nothing() {
        std::thread::spawn(|| {
            HashParams::new(64, 1, 1)
                .unwrap()
                .hash(b"code", &[7; SALT_LEN])
                .unwrap();
            assert_eq!(kept(), (0, true));
        })
        .join()
        .unwrap();
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
