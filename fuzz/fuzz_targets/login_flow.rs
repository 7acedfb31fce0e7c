//! The login machine under arbitrary sequences of codes, recovery codes, new challenges and
//! time jumps, against a model store that applies each commit. Invariants: accepted TOTP
//! steps strictly increase (no code accepted twice); each recovery code is accepted at most
//! once; the throttle never lets a window hold more failures than the policy allows, and a
//! locked account accepts nothing. Also: arbitrary bytes decoded as a challenge snapshot.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng as _;
use twostep_enrollment::Throttle;
use twostep_enrollment::login::{
    self, Answer, Commit, LoginChallenge, LoginError, LoginPolicy, StoredFactor,
};
use twostep_otp::{Secret, Totp, TotpParams};
use twostep_recovery::{HashParams, RecoveryCodeSet};

#[derive(Debug, Arbitrary)]
enum Op {
    Advance(u16),
    /// The code of step `current + offset`, offset folded into -3..=3.
    Code(u8),
    Typed(String),
    /// Recovery code number `index % 3`, possibly upper-cased.
    Recovery {
        index: u8,
        upper: bool,
    },
    NewChallenge,
}

#[derive(Debug, Arbitrary)]
struct Case {
    seed: u64,
    start: u32,
    snapshot: Vec<u8>,
    ops: Vec<Op>,
}

fuzz_target!(|case: Case| {
    let _ = serde_json::from_slice::<LoginChallenge>(&case.snapshot);

    let mut rng = rand::rngs::StdRng::seed_from_u64(case.seed);
    let secret = Secret::generate(&mut rng);
    let params = HashParams::new(8, 1, 1).expect("minimal costs");
    let mut now = u64::from(case.start) + 1_000_000;
    let (issued, mut set) = RecoveryCodeSet::generate(&mut rng, 3, &params, now).expect("codes");
    let codes: Vec<String> = issued.codes().iter().map(ToString::to_string).collect();
    let totp = Totp::new(&secret, TotpParams::default());
    let policy = LoginPolicy::default();

    let mut last_step: Option<u64> = None;
    let mut used = [false; 3];
    let mut throttle = Throttle::default();
    let mut challenge = login::begin("u", true, &mut rng, &policy, now);

    for op in case.ops.into_iter().take(48) {
        let typed = match op {
            Op::Advance(seconds) => {
                now += u64::from(seconds);
                continue;
            }
            Op::NewChallenge => {
                challenge = login::begin("u", true, &mut rng, &policy, now);
                continue;
            }
            Op::Code(offset) => {
                let step = (now / 30).saturating_add_signed(i64::from(offset % 7) - 3);
                totp.generate_at_step(step).to_string()
            }
            Op::Typed(text) => text,
            Op::Recovery { index, upper } => {
                let code = &codes[usize::from(index % 3)];
                if upper {
                    code.to_uppercase()
                } else {
                    code.clone()
                }
            }
        };
        let Some(current) = challenge.take() else {
            continue;
        };
        let locked = throttle.check(&policy.throttle, now).is_err();
        let factor = StoredFactor {
            secret: &secret,
            params: TotpParams::default(),
            last_accepted_step: last_step,
            recovery_codes: &set,
        };
        match current.verify("u", Answer::guess(&typed), factor, throttle, &policy, now) {
            Ok(verified) => {
                assert!(!locked, "a locked account accepted a code");
                match verified.commit {
                    Commit::AcceptStep { step } => {
                        assert!(
                            last_step.is_none_or(|last| step > last),
                            "step {step} accepted twice"
                        );
                        last_step = Some(step);
                    }
                    Commit::ConsumeRecoveryCode {
                        set: next, slot, ..
                    } => {
                        assert!(
                            !used[slot.index()],
                            "recovery code {} accepted twice",
                            slot.index()
                        );
                        used[slot.index()] = true;
                        set = next;
                    }
                    _ => unreachable!("no other commit"),
                }
                throttle = verified.throttle;
                challenge = login::begin("u", true, &mut rng, &policy, now);
            }
            Err(refused) => {
                if locked {
                    assert!(matches!(
                        refused.error,
                        LoginError::Locked(_) | LoginError::Expired
                    ));
                }
                throttle = refused.throttle;
                challenge = Some(refused.challenge);
            }
        }
        assert!(
            throttle.window_failures <= policy.throttle.max_failures,
            "{throttle:?}"
        );
        assert!(throttle.consecutive_failures <= policy.throttle.hard_lock_after);
    }
});
