#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod code;
mod hash;
mod issued;
mod set;

pub use code::{CODE_BITS, CODE_SYMBOLS, ParseError, RANDOM_SYMBOLS, RecoveryCode};
pub use hash::{HashParams, keep_memory_on_this_thread};
pub use issued::{DownloadFile, IssuedCodes, Locale};
pub use set::{
    ConsumeError, DEFAULT_CODE_COUNT, LOW_REMAINING, MAX_CODE_COUNT, RecoveryCodeSet, RedeemError,
    Redeemed, SetError, Slot,
};
