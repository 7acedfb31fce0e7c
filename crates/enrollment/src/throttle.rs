//! The per-account failure budget shared by every second-factor check: TOTP codes, recovery
//! codes, email codes and password re-entry inside these flows.
//!
//! [`Throttle`] is a small value the store keeps per account and replaces with a
//! compare-and-set, so concurrent guesses cannot overrun it. By default an account may fail
//! 5 times in 15 minutes, then waits until the window ends; 100 consecutive failures lock the
//! factor until an operator unlocks it (`Service::unlock`) (NIST SP 800-63B §5.2.2,
//! RFC 4226 §7.3). A success resets only the consecutive count, never the window: logging in
//! once with a stolen password and a valid code must not hand an attacker a fresh budget.

use serde::{Deserialize, Serialize};

/// Why a password entered again did not pass ([`Throttle::check_password`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PasswordRefused {
    /// Too many failed attempts: not checked.
    Locked(Locked),
    /// The password was wrong.
    Wrong,
}

/// How many failures are allowed, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed per window before the account waits.
    pub max_failures: u32,
    /// The window, in seconds, counted from its first failure.
    pub window_seconds: u64,
    /// Consecutive failures (across windows) after which the factor is locked for good.
    pub hard_lock_after: u32,
}

impl Default for ThrottlePolicy {
    /// 5 failures per 15 minutes; a hard lock after 100 consecutive failures.
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_seconds: 15 * 60,
            hard_lock_after: 100,
        }
    }
}

/// Why an attempt is refused before it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Locked {
    /// Too many failures in this window; try again at the given Unix time.
    #[error("too many failed attempts; try again later")]
    Until(u64),
    /// Too many consecutive failures; the factor is locked until it is unlocked.
    #[error("two-step verification is locked after too many failed attempts")]
    Hard,
}

/// One account's failure counters, as a [`Store`](crate::Store) keeps them: the service
/// counts and checks them; a store only reads, compares and writes them whole.
///
/// ```
/// use twostep_enrollment::{Locked, Throttle, ThrottlePolicy};
///
/// let policy = ThrottlePolicy::default(); // 5 failures per 15 minutes
/// let spent = Throttle { window_start: 0, window_failures: 5, consecutive_failures: 5 };
/// assert_eq!(spent.check(&policy, 10), Err(Locked::Until(900)));
/// assert_eq!(spent.check(&policy, 900), Ok(()));
/// assert_eq!(Throttle::default().check(&policy, 10), Ok(()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Throttle {
    /// When the current window's first failure happened.
    pub window_start: u64,
    /// Failures in the current window.
    pub window_failures: u32,
    /// Failures since the last success, across windows.
    pub consecutive_failures: u32,
}

impl Throttle {
    /// Whether an attempt may be checked at `now`.
    ///
    /// # Errors
    /// [`Locked::Hard`] after `hard_lock_after` consecutive failures; [`Locked::Until`] while
    /// the window's budget is spent.
    pub fn check(&self, policy: &ThrottlePolicy, now: u64) -> Result<(), Locked> {
        if self.consecutive_failures >= policy.hard_lock_after {
            return Err(Locked::Hard);
        }
        let window_end = self.window_start.saturating_add(policy.window_seconds);
        if self.window_failures >= policy.max_failures && now < window_end {
            return Err(Locked::Until(window_end));
        }
        Ok(())
    }

    /// The counters after a failure at `now`.
    #[must_use]
    pub fn record_failure(&self, policy: &ThrottlePolicy, now: u64) -> Self {
        let window_end = self.window_start.saturating_add(policy.window_seconds);
        let (window_start, window_failures) = if self.window_failures == 0 || now >= window_end {
            (now, 1)
        } else {
            (self.window_start, self.window_failures.saturating_add(1))
        };
        Self {
            window_start,
            window_failures,
            consecutive_failures: self.consecutive_failures.saturating_add(1),
        }
    }

    /// A password entered again inside a flow (re-issue, disable, a reset), judged against
    /// these counters: refused while locked (not counted), counted when wrong. A right
    /// password is not a second factor: it leaves the counters as they are.
    pub(crate) fn check_password(
        &self,
        verified: bool,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> Result<(), (PasswordRefused, Self)> {
        self.check(policy, now)
            .map_err(|locked| (PasswordRefused::Locked(locked), *self))?;
        if verified {
            Ok(())
        } else {
            Err((PasswordRefused::Wrong, self.record_failure(policy, now)))
        }
    }

    /// The counters after a success: the consecutive count restarts, the window does not.
    #[must_use]
    pub fn record_success(&self) -> Self {
        Self {
            consecutive_failures: 0,
            ..*self
        }
    }

    /// Takes back one failure recorded ahead of an attempt in the window starting at
    /// `window_start` (the service reserves a failure before checking, so concurrent guesses
    /// cannot overrun the budget). If that window has since been replaced, only the
    /// consecutive count is adjusted: the new window's failures are all real. A success
    /// (`succeeded`: a verified code) restarts the consecutive count; an attempt that turned out
    /// not to count (a typo caught before any comparison) only gives its reservation back.
    #[must_use]
    pub fn refund(&self, window_start: u64, succeeded: bool) -> Self {
        let same_window = self.window_start == window_start;
        Self {
            window_failures: if same_window {
                self.window_failures.saturating_sub(1)
            } else {
                self.window_failures
            },
            consecutive_failures: if succeeded {
                0
            } else {
                self.consecutive_failures.saturating_sub(1)
            },
            ..*self
        }
    }

    /// The counters after an operator unlocks the factor.
    #[must_use]
    pub(crate) fn unlocked(&self) -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_per_window_then_wait_until_its_end() {
        let policy = ThrottlePolicy::default();
        let mut throttle = Throttle::default();
        for t in [100, 200, 300, 400, 500] {
            assert_eq!(throttle.check(&policy, t), Ok(()));
            throttle = throttle.record_failure(&policy, t);
        }
        assert_eq!(throttle.check(&policy, 501), Err(Locked::Until(1_000)));
        assert_eq!(throttle.check(&policy, 999), Err(Locked::Until(1_000)));
        assert_eq!(throttle.check(&policy, 1_000), Ok(()));
        // A new window starts with the next failure.
        throttle = throttle.record_failure(&policy, 1_000);
        assert_eq!(
            (throttle.window_start, throttle.window_failures),
            (1_000, 1)
        );
    }

    #[test]
    fn a_success_does_not_refill_the_window() {
        let policy = ThrottlePolicy::default();
        let mut throttle = Throttle::default();
        for t in 0..4 {
            throttle = throttle.record_failure(&policy, t);
        }
        throttle = throttle.record_success();
        throttle = throttle.record_failure(&policy, 10);
        assert_eq!(throttle.check(&policy, 11), Err(Locked::Until(900)));
        assert_eq!(throttle.consecutive_failures, 1);
    }

    #[test]
    fn one_hundred_consecutive_failures_lock_for_good() {
        let policy = ThrottlePolicy::default();
        let mut throttle = Throttle::default();
        let mut now = 0;
        for _ in 0..100 {
            while throttle.check(&policy, now).is_err() {
                now += 60;
            }
            throttle = throttle.record_failure(&policy, now);
        }
        assert_eq!(
            throttle.check(&policy, now + 10 * 86_400),
            Err(Locked::Hard)
        );
        assert_eq!(throttle.unlocked().check(&policy, now), Ok(()));
    }
}
