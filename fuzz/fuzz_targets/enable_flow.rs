//! The enable wizard under arbitrary sequences of email codes, resends, first codes, "Done"
//! clicks and time jumps. Invariants: the wizard only ends enabled after a confirmed code and
//! an acknowledged set of recovery codes, at most once, with the confirming code's step
//! recorded (so it cannot log in); nothing panics. Also: arbitrary bytes decoded as a
//! pending-state snapshot.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng as _;
use twostep_enrollment::Throttle;
use twostep_enrollment::enable::{
    self, Account, AuthenticatorSetup, EmailCodeSent, EnablePolicy, SaveRecoveryCodes,
};
use twostep_enrollment::snapshot::PendingEnable;
use twostep_otp::{Rejection, Totp};
use twostep_recovery::HashParams;

#[derive(Debug, Arbitrary)]
enum Op {
    Advance(u16),
    EmailCode { right: bool },
    Resend,
    FirstCode { offset: u8 },
    Typed(String),
    Done { saved: bool },
}

enum State {
    Email(EmailCodeSent, String),
    Setup(AuthenticatorSetup),
    Save(SaveRecoveryCodes, u64),
    Enabled,
}

fuzz_target!(|input: (u64, Vec<Op>, Vec<u8>)| {
    let (seed, ops, snapshot) = input;
    // Arbitrary bytes as a stored snapshot: a typed error or a state that serializes again.
    if let Ok(pending) = serde_json::from_slice::<PendingEnable>(&snapshot) {
        let json = serde_json::to_vec(&pending).expect("a restored state serializes");
        serde_json::from_slice::<PendingEnable>(&json).expect("and restores again");
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut policy = EnablePolicy::new("DFINERY");
    policy.recovery_hash = HashParams::new(8, 1, 1).expect("minimal costs");
    let mut now = 1_700_000_000u64;
    let account = Account {
        user_id: "u".into(),
        email: "u@example.com".into(),
    };
    let (sent, mail) = enable::start(account, 0, &mut rng, &policy, now);
    let mut state = State::Email(sent, mail.code.expose().to_owned());
    let mut throttle = Throttle::default();
    let mut confirmed_step = None;

    for op in ops.into_iter().take(32) {
        if let Op::Advance(seconds) = op {
            now += u64::from(seconds);
            continue;
        }
        state = match (state, op) {
            (State::Email(sent, code), Op::EmailCode { right }) => {
                let typed = if right {
                    code.clone()
                } else {
                    format!("{code}9")
                };
                match sent.verify_email(&typed, &mut rng, &policy, now) {
                    Ok(setup) => State::Setup(setup),
                    Err(refused) => State::Email(refused.state, code),
                }
            }
            (State::Email(sent, code), Op::Resend) => match sent.resend(&mut rng, &policy, now) {
                Ok((sent, mail)) => State::Email(sent, mail.code.expose().to_owned()),
                Err(refused) => State::Email(refused.state, code),
            },
            (State::Setup(setup), op @ (Op::FirstCode { .. } | Op::Typed(_))) => {
                let totp: Totp = setup
                    .view(&policy)
                    .expect("view")
                    .key_uri
                    .to_totp()
                    .expect("totp");
                let typed = match op {
                    Op::FirstCode { offset } => {
                        let step = (now / 30).saturating_add_signed(i64::from(offset % 5) - 2);
                        totp.generate_at_step(step).to_string()
                    }
                    Op::Typed(text) => text,
                    _ => unreachable!(),
                };
                match setup.confirm(&typed, throttle, &mut rng, &policy, now) {
                    Ok((save, next)) => {
                        throttle = next;
                        let step = totp.verify(&typed, now, None).map(|a| a.step);
                        State::Save(save, step.unwrap_or(0))
                    }
                    Err((refused, next)) => {
                        throttle = next;
                        State::Setup(refused.state)
                    }
                }
            }
            (State::Save(save, step), Op::Done { saved }) => {
                match save.complete(saved, &policy, now) {
                    Ok(enabled) => {
                        assert!(saved, "enabled without the saved tick");
                        assert_eq!(enabled.credential.recovery_codes.remaining(), 10);
                        assert!(confirmed_step.is_none(), "enabled twice");
                        confirmed_step = Some(enabled.credential.last_accepted_step);
                        assert_eq!(enabled.credential.last_accepted_step, step);
                        let totp = Totp::new(&enabled.credential.secret, enabled.credential.params);
                        let code = totp.generate_at_step(step).to_string();
                        let at = step * 30;
                        assert_eq!(totp.verify(&code, at, Some(step)), Err(Rejection::Replayed));
                        State::Enabled
                    }
                    Err(refused) => State::Save(refused.state, step),
                }
            }
            (state, _) => state,
        };
    }
});
