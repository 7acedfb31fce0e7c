//! Sealed pending states: what an application keeps between two requests of a flow.
//!
//! Every flow's pending state — the enable wizard at any step ([`PendingEnable`]), a login's
//! second step ([`LoginChallenge`]), new recovery codes waiting for "Done"
//! ([`SaveNewCodes`]), a disable waiting for its code ([`ConfirmWithCode`]) — is a value the
//! [`Service`] hands out and takes back. The typed states have no public constructor and no
//! `Deserialize`: only the service makes them. To keep one past the request, the service
//! seals it ([`Service::seal`]) into a [`SealedState`], an opaque string, and opens it again
//! for the user of the next request ([`Service::open`]).
//!
//! A sealed state is encrypted and authenticated (XChaCha20-Poly1305 under the service's
//! [`StateKey`]), bound to its flow, its user and the service's issuer, and carries its
//! expiry. So an edited, forged, another user's, another flow's or another service's state
//! does not open ([`ServiceError::InvalidState`]); nor does one whose lifetime exceeds what
//! the service's policies allow now (a policy shortened since it was sealed); an expired one
//! is [`ServiceError::Expired`]. A state holds no more than the sealing buffer takes (16 KiB:
//! a key, a set of codes and an account several kilobytes long), so no copy of its plaintext
//! is ever left behind unwiped. The wizard's new key and the recovery codes on screen are
//! unreadable in it, so a session row, a cache entry or a cookie can hold it.
//!
//! Sealing does not make a state single-use: a copy of a sealed state opens as often as the
//! original. What completes a flow once is the store's conditional write (see [`Store`]).
//!
//! It does not rotate keys: a new key makes the states sealed under the old one refuse to
//! open, and their users start that flow again — a minute's loss, once.
//!
//! [`Store`]: crate::Store

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::Rng as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::policies::Policies;
use crate::service::{Service, ServiceError, rng};
use crate::{
    ConfirmWithCode, Directory, LoginChallenge, Mailer, PendingEnable, Reauthenticate,
    SaveNewCodes, Store,
};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// The format's version, the first byte of every sealed state. Version 2 snapshots were plain
/// JSON; they do not decode, and their users start again.
const FORMAT: u8 = 3;
const DOMAIN: &[u8] = b"twostep pending state v3\0";
/// Room for the largest plaintext (the wizard's last step: a key, ten codes and their hashed
/// set) without the buffer ever growing, so no copy of it is left behind unwiped.
const PLAINTEXT_CAPACITY: usize = 16 * 1024;

/// The key that seals pending states. Give every server of one deployment the same key
/// ([`ServiceBuilder::state_key`](crate::ServiceBuilder::state_key)); a service built without
/// one draws a random key, so its states open only in that process. Zeroized on drop;
/// `Debug` shows nothing of it.
///
/// ```
/// use twostep_enrollment::StateKey;
///
/// let bytes = [7u8; 32]; // in production: 32 random bytes from your secret manager
/// let key = StateKey::from_bytes(bytes);
/// assert_eq!(format!("{key:?}"), "StateKey([redacted])");
/// ```
pub struct StateKey(Zeroizing<[u8; KEY_LEN]>);

impl StateKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A random key from the operating system, for one process (tests, a single server that
    /// may lose its pending states on restart).
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng().fill_bytes(key.as_mut_slice());
        Self(key)
    }

    pub(crate) fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }
}

impl core::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StateKey([redacted])")
    }
}

/// A pending state sealed by [`Service::seal`]: an opaque, URL-safe string to keep in the
/// session until the next request, then give to [`Service::open`]. It reveals no secret and
/// cannot be altered; it serializes as its string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedState(String);

impl SealedState {
    /// The sealed state as text, to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sealed state as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<String> for SealedState {
    /// Text read back from where the application kept it. Whether it opens is
    /// [`Service::open`]'s to say.
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl core::fmt::Debug for SealedState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SealedState({} chars)", self.0.len())
    }
}

/// A flow's pending state, which the [`Service`] can seal and open: [`PendingEnable`],
/// [`LoginChallenge`], [`SaveNewCodes`] and [`ConfirmWithCode`]. Implemented by this crate
/// only.
pub trait PendingState: private::Seal {}

impl<T: private::Seal> PendingState for T {}

pub(crate) mod private {
    use zeroize::Zeroizing;

    use crate::policies::Policies;

    /// What sealing needs of a state. Not nameable outside the crate, so no other type can be
    /// a [`PendingState`](super::PendingState).
    #[allow(unreachable_pub)] // public in a private module: the sealed-trait pattern
    pub trait Seal: Sized {
        /// The flow's name, authenticated with the state.
        const FLOW: &'static str;
        /// Whose state.
        fn user_id(&self) -> &str;
        /// When it expires (Unix time).
        fn expires_at(&self, policies: &Policies) -> u64;
        /// The longest the policies let such a state live, in seconds.
        fn lifetime(policies: &Policies) -> u64;
        /// The state as plaintext bytes, written into `out`.
        fn encode(&self, out: &mut Zeroizing<Vec<u8>>) -> Option<()>;
        /// The state from plaintext bytes; `None` for anything else.
        fn decode(bytes: &[u8]) -> Option<Self>;
    }
}

use private::Seal;

/// What the tag authenticates besides the state: the format, the issuer, the flow, the user.
fn associated_data(issuer: &str, flow: &str, user: &str) -> Vec<u8> {
    let parts = [issuer.as_bytes(), flow.as_bytes(), user.as_bytes()];
    let mut aad =
        Vec::with_capacity(DOMAIN.len() + parts.iter().map(|p| 8 + p.len()).sum::<usize>());
    aad.extend_from_slice(DOMAIN);
    // Lengths first, so no two triples give the same bytes.
    for part in parts {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

/// Writes `state` as JSON into `out` without ever growing it (see [`PLAINTEXT_CAPACITY`]): a
/// grown buffer would leave an unwiped copy of the plaintext behind, so a state that does
/// not fit is refused instead.
pub(crate) fn encode_json<T: Serialize>(state: &T, out: &mut Zeroizing<Vec<u8>>) -> Option<()> {
    serde_json::to_writer(Bounded(out), state).ok()
}

/// A writer into a buffer's spare capacity, which refuses to write past it.
struct Bounded<'a>(&'a mut Zeroizing<Vec<u8>>);

impl std::io::Write for Bounded<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let buffer = &mut *self.0;
        if buffer.capacity().saturating_sub(buffer.len()) < bytes.len() {
            return Err(std::io::Error::other(
                "the pending state is too large to seal",
            ));
        }
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn decode_json<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

impl<S: Store + 'static, M: Mailer, R: Reauthenticate, D: Directory> Service<S, M, R, D> {
    /// Seals a pending state to keep until the next request of its flow — in the session,
    /// server-side or not. Only this service (or one with the same [`StateKey`] and issuer)
    /// opens it, only for the same user, and only until the state expires.
    ///
    /// ```
    /// # use twostep_enrollment::memory::{FixedPasswords, MemoryStore, PlaintextSealer, RecordingMailer};
    /// # use twostep_enrollment::{Account, PendingEnable, Service, ServiceError};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ServiceError> {
    /// # let service = Service::builder(MemoryStore::default(), PlaintextSealer)
    /// #     .mailer(RecordingMailer::default()).reauthenticate(FixedPasswords::default()).build();
    /// let alice = Account { user_id: "alice".into(), email: "alice@example.com".into() };
    /// let wizard = PendingEnable::from(service.start_enable(&alice).await?);
    /// let kept = service.seal(&wizard)?;         // into the session
    /// let text = kept.as_str().to_owned();
    ///
    /// // The next request:
    /// let wizard: PendingEnable = service.open("alice", &text.clone().into())?;
    /// assert!(matches!(wizard, PendingEnable::EmailCodeSent(_)));
    /// assert!(matches!(
    ///     service.open::<PendingEnable>("mallory", &text.into()),
    ///     Err(ServiceError::InvalidState)
    /// ));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ServiceError::Expired`] for a state past its expiry (nothing to keep);
    /// [`ServiceError::InvalidState`] for one too large to seal (an account id and email of
    /// several kilobytes, or a policy issuing hundreds of recovery codes).
    pub fn seal<T: PendingState>(&self, state: &T) -> Result<SealedState, ServiceError> {
        let expires_at = state.expires_at(&self.policies);
        if self.clock.now() >= expires_at {
            return Err(ServiceError::Expired);
        }
        let mut plaintext = Zeroizing::new(Vec::with_capacity(PLAINTEXT_CAPACITY));
        // The expiry, then the state.
        plaintext.extend_from_slice(&expires_at.to_be_bytes());
        state
            .encode(&mut plaintext)
            .ok_or(ServiceError::InvalidState)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng().fill_bytes(&mut nonce);
        let aad = associated_data(&self.policies.issuer, T::FLOW, state.user_id());
        let payload = Payload {
            msg: &plaintext,
            aad: &aad,
        };
        let sealed = self
            .state_cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|_| ServiceError::InvalidState)?;
        let mut bytes = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        bytes.push(FORMAT);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(SealedState(base64_url(&bytes)))
    }

    /// Opens a state sealed by [`Service::seal`] for `user`, the user of the request (the
    /// signed-in user, or the one who just passed the password).
    ///
    /// # Errors
    /// [`ServiceError::InvalidState`] — start the flow again — for anything this service did
    /// not seal for this user and flow (edited, forged, another user's, another service's, a
    /// version 2 snapshot) or whose lifetime exceeds the current policies;
    /// [`ServiceError::Expired`] once it expired.
    pub fn open<T: PendingState>(
        &self,
        user: &str,
        sealed: &SealedState,
    ) -> Result<T, ServiceError> {
        let bytes = base64_url_decode(&sealed.0).ok_or(ServiceError::InvalidState)?;
        let (&format, rest) = bytes.split_first().ok_or(ServiceError::InvalidState)?;
        let (nonce, body) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(ServiceError::InvalidState)?;
        let nonce = <&XNonce>::try_from(nonce).map_err(|_| ServiceError::InvalidState)?;
        if format != FORMAT {
            return Err(ServiceError::InvalidState);
        }
        let aad = associated_data(&self.policies.issuer, T::FLOW, user);
        let payload = Payload {
            msg: body,
            aad: &aad,
        };
        let plaintext = Zeroizing::new(
            self.state_cipher
                .decrypt(nonce, payload)
                .map_err(|_| ServiceError::InvalidState)?,
        );
        let (expires_at, state) = plaintext
            .split_first_chunk::<8>()
            .ok_or(ServiceError::InvalidState)?;
        let expires_at = u64::from_be_bytes(*expires_at);
        let state = T::decode(state).ok_or(ServiceError::InvalidState)?;
        // The tag already binds the user; checked again so that a bug in one cannot pass
        // alone. (The expiry is the one sealed: a wizard's own, counted from its start, follows
        // the policies, so a lifetime lengthened since still opens.)
        if state.user_id() != user {
            return Err(ServiceError::InvalidState);
        }
        let now = self.clock.now();
        if expires_at > now.saturating_add(T::lifetime(&self.policies)) {
            return Err(ServiceError::InvalidState);
        }
        if now >= expires_at {
            return Err(ServiceError::Expired);
        }
        Ok(state)
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn base64_url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

impl Seal for PendingEnable {
    const FLOW: &'static str = "enable";

    fn user_id(&self) -> &str {
        &self.account().user_id
    }

    fn expires_at(&self, policies: &Policies) -> u64 {
        self.started_at()
            .saturating_add(policies.pending_ttl_seconds)
    }

    fn lifetime(policies: &Policies) -> u64 {
        policies.pending_ttl_seconds
    }

    fn encode(&self, out: &mut Zeroizing<Vec<u8>>) -> Option<()> {
        crate::snapshot::encode_enable(self, out)
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        crate::snapshot::decode_enable(bytes)
    }
}

impl Seal for LoginChallenge {
    const FLOW: &'static str = "login";

    fn user_id(&self) -> &str {
        LoginChallenge::user_id(self)
    }

    fn expires_at(&self, _: &Policies) -> u64 {
        LoginChallenge::expires_at(self)
    }

    fn lifetime(policies: &Policies) -> u64 {
        policies.challenge_ttl_seconds
    }

    fn encode(&self, out: &mut Zeroizing<Vec<u8>>) -> Option<()> {
        encode_json(&crate::snapshot::StoredChallenge::of(self, false), out)
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let stored: crate::snapshot::StoredChallenge = decode_json(bytes)?;
        stored.restore(false)
    }
}

impl Seal for ConfirmWithCode {
    const FLOW: &'static str = "disable";

    fn user_id(&self) -> &str {
        ConfirmWithCode::user_id(self)
    }

    fn expires_at(&self, _: &Policies) -> u64 {
        ConfirmWithCode::expires_at(self)
    }

    fn lifetime(policies: &Policies) -> u64 {
        policies.challenge_ttl_seconds
    }

    fn encode(&self, out: &mut Zeroizing<Vec<u8>>) -> Option<()> {
        encode_json(
            &crate::snapshot::StoredChallenge::of(self.challenge(), true),
            out,
        )
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let stored: crate::snapshot::StoredChallenge = decode_json(bytes)?;
        Some(Self::from_challenge(stored.restore(true)?))
    }
}

impl Seal for SaveNewCodes {
    const FLOW: &'static str = "reissue";

    fn user_id(&self) -> &str {
        &self.parts().0.user_id
    }

    fn expires_at(&self, _: &Policies) -> u64 {
        self.parts().2
    }

    fn lifetime(policies: &Policies) -> u64 {
        policies.pending_ttl_seconds
    }

    fn encode(&self, out: &mut Zeroizing<Vec<u8>>) -> Option<()> {
        crate::snapshot::encode_reissue(self, out)
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        crate::snapshot::decode_reissue(bytes)
    }
}
