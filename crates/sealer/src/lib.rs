#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use twostep_enrollment::{BoxError, SealedSecret, Sealer};
use twostep_otp::Secret;

const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;
const DOMAIN: &[u8] = b"twostep totp secret v1\0";

/// Why a key or a ciphertext was refused. Never carries key or secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A key is not 32 bytes of standard base64.
    #[error("a sealing key must be 32 bytes, base64-encoded")]
    BadKey,
    /// The ciphertext names a key this sealer does not hold.
    #[error("no sealing key with id {0:?}")]
    UnknownKey(String),
    /// The ciphertext was tampered with, belongs to another user, or was sealed under another
    /// key with the same id.
    #[error("the sealed secret does not open: tampered, another user's, or a wrong key")]
    Tampered,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Randomness,
    /// The opened bytes are not a valid secret.
    #[error("the opened secret is invalid")]
    Secret(#[from] twostep_otp::SecretError),
}

/// A 256-bit sealing key with its id. Zeroized on drop; `Debug` shows only the id.
pub struct SealingKey {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl core::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    /// A new random key from the operating system.
    ///
    /// # Errors
    /// [`SealError::Randomness`] if the system RNG fails.
    pub fn generate(id: impl Into<String>) -> Result<Self, SealError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| SealError::Randomness)?;
        Ok(Self { id: id.into(), key })
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(id: impl Into<String>, bytes: [u8; KEY_LEN]) -> Self {
        Self {
            id: id.into(),
            key: Zeroizing::new(bytes),
        }
    }

    /// A key from standard base64 (what [`SealingKey::to_base64`] writes).
    ///
    /// ```
    /// use twostep_sealer::SealingKey;
    ///
    /// let key = SealingKey::generate("2026-11")?;
    /// let again = SealingKey::from_base64("2026-11", &key.to_base64())?;
    /// assert_eq!(again.id(), "2026-11");
    /// assert!(SealingKey::from_base64("x", "c2hvcnQ=").is_err());
    /// # Ok::<(), twostep_sealer::SealError>(())
    /// ```
    ///
    /// # Errors
    /// [`SealError::BadKey`] unless the text decodes to exactly 32 bytes.
    pub fn from_base64(id: impl Into<String>, text: &str) -> Result<Self, SealError> {
        use base64::Engine as _;
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| SealError::BadKey)?,
        );
        if decoded.len() != KEY_LEN {
            return Err(SealError::BadKey);
        }
        // Copied straight into its zeroizing home: no stray copy of the key on the stack.
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&decoded);
        Ok(Self { id: id.into(), key })
    }

    /// The key in standard base64, for your secret manager.
    pub fn to_base64(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.key.as_slice()))
    }

    /// The key's id, stored beside every ciphertext it seals.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Seals TOTP secrets with XChaCha20-Poly1305 under a current key, and opens them under any
/// key it holds.
///
/// ```
/// use twostep_enrollment::Sealer;
/// use twostep_otp::Secret;
/// use twostep_sealer::{AeadSealer, SealingKey};
///
/// let old_key = SealingKey::generate("2025")?;
/// let old_key_text = old_key.to_base64(); // what your secret manager keeps
/// let old = AeadSealer::new(old_key);
/// let secret = Secret::from_bytes(&[7; 20])?;
/// let sealed = old.seal("alice", &secret)?;
/// assert!(old.open("bob", &sealed).is_err(), "bound to its user");
///
/// // Rotation: a new current key, the old one kept for opening.
/// let sealer = AeadSealer::new(SealingKey::generate("2026")?)
///     .with_old_key(SealingKey::from_base64("2025", &old_key_text)?);
/// assert_eq!(sealer.open("alice", &sealed)?, secret);
/// assert!(!sealer.is_current(&sealed));
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub struct AeadSealer {
    current: (String, XChaCha20Poly1305),
    old: Vec<(String, XChaCha20Poly1305)>,
}

impl core::fmt::Debug for AeadSealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AeadSealer")
            .field("current_key_id", &self.current.0)
            .field(
                "old_key_ids",
                &self.old.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn cipher(key: &SealingKey) -> XChaCha20Poly1305 {
    // A view of the key as the cipher's array type: no copy left behind to zeroize.
    XChaCha20Poly1305::new((&*key.key).into())
}

impl AeadSealer {
    /// A sealer that seals (and opens) with `current`.
    pub fn new(current: SealingKey) -> Self {
        Self {
            current: (current.id.clone(), cipher(&current)),
            old: Vec::new(),
        }
    }

    /// Also opens what `key` sealed (a retired key, until every row is re-sealed).
    #[must_use]
    pub fn with_old_key(mut self, key: SealingKey) -> Self {
        self.old.push((key.id.clone(), cipher(&key)));
        self
    }

    /// The id new ciphertexts carry.
    pub fn current_key_id(&self) -> &str {
        &self.current.0
    }

    fn key(&self, id: &str) -> Option<&XChaCha20Poly1305> {
        core::iter::once(&self.current)
            .chain(&self.old)
            .find(|(key_id, _)| key_id == id)
            .map(|(_, cipher)| cipher)
    }

    /// Seals `secret` for `user`.
    ///
    /// # Errors
    /// [`SealError::Randomness`] if the system RNG fails.
    pub fn seal_secret(&self, user: &str, secret: &Secret) -> Result<SealedSecret, SealError> {
        let (key_id, cipher) = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Randomness)?;
        let aad = associated_data(key_id, user);
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.expose_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Tampered)?;
        let mut ciphertext = Vec::with_capacity(NONCE_LEN + sealed.len());
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&sealed);
        Ok(SealedSecret {
            key_id: key_id.clone(),
            ciphertext,
        })
    }

    /// Opens a secret sealed for `user`.
    ///
    /// # Errors
    /// [`SealError::UnknownKey`], [`SealError::Tampered`] (also for another user's ciphertext),
    /// or [`SealError::Secret`].
    pub fn open_secret(&self, user: &str, sealed: &SealedSecret) -> Result<Secret, SealError> {
        let cipher = self
            .key(&sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        let (nonce, body) = sealed
            .ciphertext
            .split_at_checked(NONCE_LEN)
            .ok_or(SealError::Tampered)?;
        let nonce = <&XNonce>::try_from(nonce).map_err(|_| SealError::Tampered)?;
        let aad = associated_data(&sealed.key_id, user);
        let opened = Zeroizing::new(
            cipher
                .decrypt(
                    nonce,
                    Payload {
                        msg: body,
                        aad: &aad,
                    },
                )
                .map_err(|_| SealError::Tampered)?,
        );
        Ok(Secret::from_bytes(&opened)?)
    }
}

/// What the tag authenticates besides the secret: the format, the key id and the user.
fn associated_data(key_id: &str, user: &str) -> Vec<u8> {
    // Lengths first, so no two (key id, user) pairs give the same bytes.
    let mut aad = Vec::with_capacity(DOMAIN.len() + 16 + key_id.len() + user.len());
    aad.extend_from_slice(DOMAIN);
    aad.extend_from_slice(&(key_id.len() as u64).to_be_bytes());
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(&(user.len() as u64).to_be_bytes());
    aad.extend_from_slice(user.as_bytes());
    aad
}

impl Sealer for AeadSealer {
    fn seal(&self, user: &str, secret: &Secret) -> Result<SealedSecret, BoxError> {
        Ok(self.seal_secret(user, secret)?)
    }

    fn open(&self, user: &str, sealed: &SealedSecret) -> Result<Secret, BoxError> {
        Ok(self.open_secret(user, sealed)?)
    }

    fn is_current(&self, sealed: &SealedSecret) -> bool {
        sealed.key_id == self.current.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::from_bytes(&[42; 20]).unwrap()
    }

    #[test]
    fn round_trip_binds_user_and_key_id_and_detects_tampering() {
        let sealer = AeadSealer::new(SealingKey::from_bytes("k1", [1; 32]));
        let sealed = sealer.seal_secret("alice", &secret()).unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(sealed.ciphertext.len(), 24 + 20 + 16);
        assert_eq!(sealer.open_secret("alice", &sealed).unwrap(), secret());
        assert!(matches!(
            sealer.open_secret("bob", &sealed),
            Err(SealError::Tampered)
        ));
        for i in 0..sealed.ciphertext.len() {
            let mut flipped = sealed.clone();
            flipped.ciphertext[i] ^= 1;
            assert!(matches!(
                sealer.open_secret("alice", &flipped),
                Err(SealError::Tampered)
            ));
        }
        let mut short = sealed.clone();
        short.ciphertext.truncate(10);
        assert!(sealer.open_secret("alice", &short).is_err());
        let relabelled = SealedSecret {
            key_id: "k2".into(),
            ..sealed.clone()
        };
        let both = AeadSealer::new(SealingKey::from_bytes("k2", [1; 32]));
        assert!(
            both.open_secret("alice", &relabelled).is_err(),
            "the key id is authenticated"
        );
        assert!(!sealed.ciphertext.windows(20).any(|w| w == [42; 20]));
    }

    #[test]
    fn rotation_opens_old_ciphertexts_and_seals_with_the_new_key() {
        let old = AeadSealer::new(SealingKey::from_bytes("old", [1; 32]));
        let sealed = old.seal_secret("alice", &secret()).unwrap();
        let rotated = AeadSealer::new(SealingKey::from_bytes("new", [2; 32]))
            .with_old_key(SealingKey::from_bytes("old", [1; 32]));
        assert_eq!(rotated.open_secret("alice", &sealed).unwrap(), secret());
        assert!(!rotated.is_current(&sealed));
        let resealed = rotated.seal_secret("alice", &secret()).unwrap();
        assert!(rotated.is_current(&resealed));
        let new_only = AeadSealer::new(SealingKey::from_bytes("new", [2; 32]));
        assert!(matches!(
            new_only.open_secret("alice", &sealed),
            Err(SealError::UnknownKey(id)) if id == "old"
        ));
    }

    #[test]
    fn the_cipher_wipes_its_key_copy_on_drop() {
        // Holds only with chacha20poly1305's `zeroize` feature: without it the expanded key
        // inside every `XChaCha20Poly1305` stays in memory after `SealingKey` is wiped.
        fn wipes_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        let sealer = AeadSealer::new(SealingKey::from_bytes("k", [3; 32]));
        wipes_on_drop(&sealer.current.1);
    }

    #[test]
    fn nothing_secret_in_debug_or_errors() {
        let key = SealingKey::from_bytes("k", [0xAB; 32]);
        let text = key.to_base64();
        let sealer = AeadSealer::new(key);
        let debug = format!("{sealer:?}");
        assert!(!debug.contains(text.as_str()) && !debug.contains("171"));
        assert!(SealingKey::from_base64("k", "not base64!").is_err());
        assert!(matches!(
            SealingKey::from_base64("k", "AAAA"),
            Err(SealError::BadKey)
        ));
    }
}
