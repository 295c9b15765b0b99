//! Credentials at rest: the ledger's [`SecretKey`] and the one cipher that
//! uses it.
//!
//! Every stored credential (a registry password, an API key, …) is sealed
//! with `XChaCha20-Poly1305` (the `RustCrypto` `chacha20poly1305` crate) under
//! the key the embedding process gives the ledger
//! ([`crate::Ledger::with_secret_key`]), with a fresh random 192-bit nonce
//! per value and, as associated data, the integration's ID and the field's
//! path (`docker.password`): a sealed value moved to another record or
//! another field no longer opens. A wrong key fails the authentication tag,
//! so it is an error, never garbage.
//!
//! The key lives in memory in a [`secrecy::SecretBox`]: zeroed when dropped,
//! never printed.
//!
//! ```
//! use ociledger::secrets::SecretKey;
//!
//! let key = SecretKey::parse(&[7u8; 32], "example")?;      // 32 raw bytes
//! let same = SecretKey::parse("07".repeat(32).as_bytes(), "example")?; // or 64 hex characters
//! assert_eq!(format!("{key:?}"), "SecretKey(******)");
//! assert!(SecretKey::parse(b"too short", "example").is_err());
//! # drop(same);
//! # Ok::<(), ociledger::Error>(())
//! ```

use std::fmt;
use std::path::Path;

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretBox};

use crate::error::{Error, Result};

/// Bytes in a key.
const KEY_LEN: usize = 32;
/// Bytes in an `XChaCha20` nonce.
const NONCE_LEN: usize = 24;
/// Bytes in a Poly1305 tag.
const TAG_LEN: usize = 16;
/// The first byte of every sealed value: the format (cipher, nonce layout).
const FORMAT: u8 = 1;
/// What the key check seals: a known plaintext.
const CHECK_PLAINTEXT: &[u8] = b"ociledger secret key check";
/// The key check's associated data (no integration field can have it: those
/// start with [`FIELD_AAD_PREFIX`]).
const CHECK_AAD: &[u8] = b"ociledger:key-check:v1";
/// The prefix of an integration field's associated data.
const FIELD_AAD_PREFIX: &[u8] = b"ociledger:integration:v1\0";

/// The 32-byte key that seals stored credentials.
///
/// Read it from a file ([`SecretKey::from_file`]: 32 raw bytes, or 64
/// hexadecimal characters with an optional trailing newline) or from bytes
/// the embedder holds ([`SecretKey::parse`], [`SecretKey::from_bytes`]).
/// It is zeroed in memory when dropped, and prints as `SecretKey(******)`.
pub struct SecretKey(SecretBox<[u8; KEY_LEN]>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(******)")
    }
}

impl SecretKey {
    /// A key from its 32 bytes. The argument is zeroed after it is copied.
    #[must_use]
    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
        let key = SecretBox::init_with_mut(|k: &mut [u8; KEY_LEN]| k.copy_from_slice(&bytes));
        bytes.zeroize();
        Self(key)
    }

    /// A new random key from the operating system's generator.
    ///
    /// # Errors
    /// [`Error::Io`] if the generator fails.
    pub fn generate() -> Result<Self> {
        let mut bytes = <[u8; KEY_LEN]>::try_generate().map_err(rng_error)?;
        let key = Self::from_bytes(bytes);
        bytes.zeroize();
        Ok(key)
    }

    /// A key from the contents of a key file or variable: exactly 32 raw
    /// bytes, or 64 hexadecimal characters optionally followed by one
    /// newline (`\n` or `\r\n`). `origin` names where the bytes came from,
    /// for the error; the bytes themselves are never shown.
    ///
    /// # Errors
    /// [`Error::Invalid`] (location: `origin`) for any other content.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self> {
        if let Ok(raw) = <[u8; KEY_LEN]>::try_from(bytes) {
            return Ok(Self::from_bytes(raw));
        }
        let text = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(bytes);
        if text.len() == 2 * KEY_LEN {
            let mut raw = Zeroizing::new([0u8; KEY_LEN]);
            let mut ok = true;
            for (i, pair) in text.chunks_exact(2).enumerate() {
                match (hex_value(pair[0]), hex_value(pair[1])) {
                    (Some(hi), Some(lo)) => raw[i] = (hi << 4) | lo,
                    _ => ok = false,
                }
            }
            if ok {
                return Ok(Self::from_bytes(*raw));
            }
            return Err(bad_key(
                origin,
                "64 characters, but not all of them are hexadecimal digits",
            ));
        }
        Err(bad_key(origin, &format!("{} bytes", bytes.len())))
    }

    /// Reads a key file (see [`SecretKey::parse`]).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, [`Error::Invalid`] if it
    /// does not hold a key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes =
            Zeroizing::new(std::fs::read(path).map_err(|e| {
                Error::io(format!("reading secret key file {}", path.display()), e)
            })?);
        Self::parse(&bytes, &format!("secret key file {}", path.display()))
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(self.0.expose_secret())
            .map_err(|_| Error::Corrupt("the secret key has the wrong length".to_owned()))
    }

    /// Seals `plaintext` with a fresh random nonce: `FORMAT ‖ nonce ‖
    /// ciphertext ‖ tag`.
    fn seal_with(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let nonce = XNonce::try_generate().map_err(rng_error)?;
        let sealed = self
            .cipher()?
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::Invalid {
                location: "credential".to_owned(),
                message: "too long to encrypt".to_owned(),
                value: None,
            })?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed by [`SecretKey::seal_with`].
    fn open_with(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let Some((&FORMAT, rest)) = sealed.split_first() else {
            return Err(OpenError::Malformed);
        };
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError::Malformed)?;
        let cipher = self.cipher().map_err(|_| OpenError::Malformed)?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| OpenError::Authentication)
    }

    /// Seals one credential of integration `id`, field `path`.
    pub(crate) fn seal_field(&self, id: &str, path: &str, plaintext: &str) -> Result<Vec<u8>> {
        self.seal_with(&field_aad(id, path), plaintext.as_bytes())
    }

    /// Opens one credential of integration `id`, field `path`.
    pub(crate) fn open_field(
        &self,
        id: &str,
        path: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        self.open_with(&field_aad(id, path), sealed)
    }

    /// A value that only this key opens: stored beside the credentials, so
    /// a wrong key is recognized before anything is sealed with it.
    pub(crate) fn key_check(&self) -> Result<Vec<u8>> {
        self.seal_with(CHECK_AAD, CHECK_PLAINTEXT)
    }

    /// Whether `check` (from [`SecretKey::key_check`]) was made by this key.
    pub(crate) fn verify(&self, check: &[u8]) -> Result<bool, OpenError> {
        match self.open_with(CHECK_AAD, check) {
            Ok(plain) => Ok(plain.as_slice() == CHECK_PLAINTEXT),
            Err(OpenError::Authentication) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not a sealed value at all (too short, unknown format): the file is damaged.
    Malformed,
    /// The tag does not verify: another key, or the value or its place changed.
    Authentication,
}

/// The associated data of one integration field: the ID and the path, each
/// unambiguous (IDs are UUIDs; the separator cannot occur in either).
fn field_aad(id: &str, path: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(FIELD_AAD_PREFIX.len() + id.len() + 1 + path.len());
    aad.extend_from_slice(FIELD_AAD_PREFIX);
    aad.extend_from_slice(id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(path.as_bytes());
    aad
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn bad_key(origin: &str, found: &str) -> Error {
    Error::Invalid {
        location: origin.to_owned(),
        message: format!(
            "a secret key is 32 raw bytes or 64 hexadecimal characters (optionally followed by a newline); found {found}"
        ),
        value: None,
    }
}

fn rng_error(e: impl fmt::Display) -> Error {
    Error::io(
        "reading the operating system's random number generator",
        std::io::Error::other(e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::{OpenError, SecretKey};

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes([b; 32])
    }

    /// Guards the associated data: a sealed value copied to another
    /// integration or another field must not open there.
    #[test]
    fn a_sealed_field_opens_only_at_its_own_integration_and_path() {
        let k = key(1);
        let sealed = k.seal_field("id-a", "docker.password", "hunter2").unwrap();
        assert_eq!(
            k.open_field("id-a", "docker.password", &sealed)
                .unwrap()
                .as_slice(),
            b"hunter2"
        );
        assert_eq!(
            k.open_field("id-b", "docker.password", &sealed),
            Err(OpenError::Authentication)
        );
        assert_eq!(
            k.open_field("id-a", "azure.password", &sealed),
            Err(OpenError::Authentication)
        );
        assert_eq!(
            key(2).open_field("id-a", "docker.password", &sealed),
            Err(OpenError::Authentication)
        );
    }

    /// Guards nonce reuse: sealing the same value twice must give two
    /// different ciphertexts (a fresh nonce each time).
    #[test]
    fn sealing_the_same_value_twice_uses_two_nonces() {
        let k = key(3);
        let a = k.seal_field("id", "p", "same").unwrap();
        let b = k.seal_field("id", "p", "same").unwrap();
        assert_ne!(a, b);
        assert_ne!(a[1..25], b[1..25]);
    }

    /// Guards damaged values: short or unknown-format bytes are malformed,
    /// not a panic and not an authentication failure.
    #[test]
    fn truncated_or_foreign_bytes_are_malformed() {
        let k = key(4);
        let sealed = k.seal_field("id", "p", "x").unwrap();
        for bad in [&[][..], &sealed[..10], &[9u8; 64][..]] {
            assert_eq!(k.open_field("id", "p", bad), Err(OpenError::Malformed));
        }
    }

    /// Guards the key check: only the key that made it verifies it.
    #[test]
    fn the_key_check_verifies_only_with_its_key() {
        let check = key(5).key_check().unwrap();
        assert_eq!(key(5).verify(&check), Ok(true));
        assert_eq!(key(6).verify(&check), Ok(false));
    }

    /// Guards the key file formats (raw, hex, hex with newline) and that an
    /// error never shows the file's bytes.
    #[test]
    fn key_files_are_raw_or_hex_and_errors_do_not_show_them() {
        let raw = SecretKey::parse(&[0xab; 32], "f").unwrap();
        let hex = SecretKey::parse(format!("{}\n", "AB".repeat(32)).as_bytes(), "f").unwrap();
        let check = raw.key_check().unwrap();
        assert_eq!(hex.verify(&check), Ok(true));
        let e = SecretKey::parse(format!("{}zz", "ab".repeat(31)).as_bytes(), "f")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("abab"), "{e}");
        let e = SecretKey::parse(b"sekrit-key-material", "f")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("sekrit"), "{e}");
    }
}
