//! Content digests: `algorithm:hex`, with a compact binary form for keys.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use super::IdError;

/// A digest algorithm ociledger can store: the OCI image-spec registered ones.
///
/// The declaration order is alphabetical so that ordering [`Digest`] values
/// orders their canonical strings too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// BLAKE3, 256-bit (image-spec v1.1).
    Blake3,
    /// SHA-256: what every registry uses today.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// Every algorithm, for iteration in tests and tools.
    pub const ALL: [Algorithm; 3] = [Algorithm::Blake3, Algorithm::Sha256, Algorithm::Sha512];

    /// The algorithm's name as it appears before the `:`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Blake3 => "blake3",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Length of the raw digest in bytes.
    #[must_use]
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Blake3 | Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The byte that stands for this algorithm in the compact binary form.
    /// These values are part of the file format: never renumber them. They
    /// follow the names' alphabetical order, so compact forms sort exactly
    /// as canonical strings do (the ledger's same-instant tie rule relies on it).
    #[must_use]
    pub const fn compact_byte(self) -> u8 {
        match self {
            Self::Blake3 => 1,
            Self::Sha256 => 2,
            Self::Sha512 => 3,
        }
    }

    /// The algorithm for a compact-form algorithm byte.
    #[must_use]
    pub const fn from_compact_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Blake3),
            2 => Some(Self::Sha256),
            3 => Some(Self::Sha512),
            _ => None,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            "blake3" => Some(Self::Blake3),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest raw digest among the supported algorithms (SHA-512).
const MAX_RAW: usize = 64;

/// A content digest such as `sha256:ba7816bf…15ad`.
///
/// Held as raw bytes (not text), so it is `Copy`, compares in one `memcmp`, and
/// turns into a storage key without allocation. Its canonical text is
/// `algorithm:lowercase-hex`; a bare 64-hex string parses as SHA-256, as
/// Kubernetes image IDs and the Chkk documents' examples show.
///
/// ```
/// use ociledger::id::{Algorithm, Digest};
///
/// let d: Digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".parse()?;
/// assert_eq!(d.algorithm(), Algorithm::Sha256);
/// assert_eq!(d, Digest::of(Algorithm::Sha256, b"abc"));
/// assert_eq!(d.to_string(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// assert_eq!(Digest::from_compact(&d.to_compact())?, d);
/// # Ok::<(), ociledger::id::IdError>(())
/// ```
#[derive(Clone, Copy, Eq, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    // Bytes past `algorithm.digest_len()` are always zero, so comparing and
    // hashing all of them is exact.
    raw: [u8; MAX_RAW],
}

impl PartialEq for Digest {
    fn eq(&self, other: &Self) -> bool {
        // Digests are uniformly random, so two different ones almost always
        // differ in their first 8 bytes: one integer compare settles it where
        // the derived form calls memcmp on 64 (writes compare a tag's known
        // digests with each new one).
        self.raw[..8] == other.raw[..8]
            && self.algorithm == other.algorithm
            && self.raw == other.raw
    }
}

impl std::hash::Hash for Digest {
    // What the derived form would do: consistent with `eq` field by field.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.algorithm.hash(state);
        self.raw.hash(state);
    }
}

impl Digest {
    /// Longest compact form: one algorithm byte plus 64 raw bytes.
    pub const MAX_COMPACT_LEN: usize = 1 + MAX_RAW;

    /// Computes the digest of `bytes` with `algorithm`.
    #[must_use]
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Self {
        let mut raw = [0u8; MAX_RAW];
        match algorithm {
            Algorithm::Sha256 => raw[..32].copy_from_slice(&sha2::Sha256::digest(bytes)),
            Algorithm::Sha512 => raw.copy_from_slice(&sha2::Sha512::digest(bytes)),
            Algorithm::Blake3 => raw[..32].copy_from_slice(blake3::hash(bytes).as_bytes()),
        }
        Self { algorithm, raw }
    }

    /// Builds a digest from its raw bytes, which must be exactly
    /// `algorithm.digest_len()` long.
    ///
    /// # Errors
    /// [`IdError::InvalidBinaryDigest`] when the length is wrong.
    pub fn from_raw(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, IdError> {
        if bytes.len() != algorithm.digest_len() {
            return Err(wrong_length(algorithm, bytes.len()));
        }
        let mut raw = [0u8; MAX_RAW];
        raw[..bytes.len()].copy_from_slice(bytes);
        Ok(Self { algorithm, raw })
    }

    /// The digest as the digest index stores it: its first 8 bytes as an
    /// integer (the row key) and the bytes after them.
    #[inline]
    pub(crate) fn parts(&self) -> DigestParts<'_> {
        DigestParts {
            algorithm: self.algorithm,
            prefix: self.prefix(),
            rest: self.as_bytes().get(8..).unwrap_or_default(),
        }
    }

    /// The digest's first 8 bytes as a big-endian integer: its row key in
    /// the digest index, so keys sort like the digests' bytes. Every
    /// algorithm's digest is longer than 8 bytes.
    #[inline]
    pub(crate) fn prefix(&self) -> u64 {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&self.raw[..8]);
        u64::from_be_bytes(prefix)
    }

    /// The algorithm.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The raw digest bytes (32 or 64).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw[..self.algorithm.digest_len()]
    }

    /// The encoded (hex) part, without the algorithm.
    #[must_use]
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(self.algorithm.digest_len() * 2);
        push_hex(&mut s, self.as_bytes());
        s
    }

    /// The compact binary form: the algorithm byte ([`Algorithm::compact_byte`]) then
    /// the raw bytes. Used for storage keys: 33 bytes for SHA-256 instead of 71.
    #[must_use]
    pub fn to_compact(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + self.algorithm.digest_len());
        self.write_compact(&mut v);
        v
    }

    /// Appends the compact form to `out` (no allocation when `out` has room).
    pub fn write_compact(&self, out: &mut Vec<u8>) {
        out.push(self.algorithm.compact_byte());
        out.extend_from_slice(self.as_bytes());
    }

    /// The compact form in a fixed buffer, and its length: for keys built on the stack.
    #[must_use]
    pub fn compact_array(&self) -> ([u8; Self::MAX_COMPACT_LEN], usize) {
        let mut buf = [0u8; Self::MAX_COMPACT_LEN];
        buf[0] = self.algorithm.compact_byte();
        let n = self.algorithm.digest_len();
        buf[1..=n].copy_from_slice(self.as_bytes());
        (buf, 1 + n)
    }

    /// Reads the compact form written by [`Digest::to_compact`].
    ///
    /// # Errors
    /// [`IdError::InvalidBinaryDigest`] for an unknown algorithm byte or a wrong length.
    pub fn from_compact(bytes: &[u8]) -> Result<Self, IdError> {
        let (&byte, raw) = bytes
            .split_first()
            .ok_or_else(|| IdError::InvalidBinaryDigest {
                reason: "empty input".to_owned(),
            })?;
        let algorithm =
            Algorithm::from_compact_byte(byte).ok_or_else(|| IdError::InvalidBinaryDigest {
                reason: format!("unknown algorithm byte {byte}"),
            })?;
        Self::from_raw(algorithm, raw)
    }

    /// Parses the digest after a reference's `@` (`input[offset..]`). There the
    /// algorithm is required, as in the reference grammar: `name@<64 hex>` is
    /// not a reference (only a whole string of 64 hex is an image ID).
    pub(crate) fn parse_in_reference(input: &str, offset: usize) -> Result<Self, IdError> {
        let text = &input[offset..];
        if !text.is_empty() && !text.contains(':') {
            return Err(IdError::InvalidDigest {
                input: input.to_owned(),
                position: offset,
                reason: "expected algorithm:hex after '@', such as sha256:<64 hex>".to_owned(),
            });
        }
        Self::parse_at(input, offset)
    }

    /// Parses `input[offset..]` as a digest, reporting positions relative to
    /// the start of `input`. Shared by [`Digest::from_str`] and, through
    /// [`Digest::parse_in_reference`], the reference parser.
    pub(crate) fn parse_at(input: &str, offset: usize) -> Result<Self, IdError> {
        let text = &input[offset..];
        let invalid = |position: usize, reason: String| IdError::InvalidDigest {
            input: input.to_owned(),
            position,
            reason,
        };
        if text.is_empty() {
            return Err(invalid(offset, "digest is empty".to_owned()));
        }
        let Some(colon) = text.find(':') else {
            if text.len() == 64 {
                // A bare 64-character string can only mean a sha256 image ID.
                return decode_hex(input, offset, Algorithm::Sha256, text);
            }
            return Err(invalid(
                offset + text.len(),
                "expected algorithm:hex (or a bare 64-character sha256 hex string)".to_owned(),
            ));
        };
        let (alg, encoded) = (&text[..colon], &text[colon + 1..]);
        if alg.is_empty() {
            return Err(invalid(offset, "algorithm is empty".to_owned()));
        }
        if let Some(p) = algorithm_grammar_error(alg) {
            return Err(invalid(
                offset + p,
                "algorithm must be lowercase letters and digits, with single '+', '.', '_' or '-' between them".to_owned(),
            ));
        }
        if encoded.is_empty() {
            return Err(invalid(
                offset + colon + 1,
                "encoded value is empty".to_owned(),
            ));
        }
        if let Some(p) = encoded
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b"=_-".contains(&b)))
        {
            let c = encoded[p..].chars().next().unwrap_or('?');
            return Err(invalid(
                offset + colon + 1 + p,
                format!("{c:?} is not allowed in a digest"),
            ));
        }
        let Some(algorithm) = Algorithm::from_name(alg) else {
            return Err(IdError::UnsupportedAlgorithm {
                input: input.to_owned(),
                algorithm: alg.to_owned(),
            });
        };
        decode_hex(input, offset + colon + 1, algorithm, encoded)
    }
}

/// Position of the first character that breaks `[a-z0-9]+([+._-][a-z0-9]+)*`.
fn algorithm_grammar_error(alg: &str) -> Option<usize> {
    let bytes = alg.as_bytes();
    let mut prev_sep = true; // a separator may not come first
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            prev_sep = false;
        } else if b"+._-".contains(&b) && !prev_sep {
            prev_sep = true;
        } else {
            return Some(i);
        }
    }
    prev_sep.then(|| bytes.len() - 1)
}

fn decode_hex(
    input: &str,
    offset: usize,
    algorithm: Algorithm,
    hex: &str,
) -> Result<Digest, IdError> {
    let expected = algorithm.digest_len() * 2;
    if hex.len() != expected {
        return Err(IdError::DigestLength {
            input: input.to_owned(),
            algorithm: algorithm.name(),
            expected,
            got: hex.len(),
        });
    }
    let mut raw = [0u8; MAX_RAW];
    let bytes = hex.as_bytes();
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]).ok_or_else(|| not_hex(input, offset + 2 * i, hex, 2 * i))?;
        let lo =
            nibble(pair[1]).ok_or_else(|| not_hex(input, offset + 2 * i + 1, hex, 2 * i + 1))?;
        raw[i] = (hi << 4) | lo;
    }
    Ok(Digest { algorithm, raw })
}

fn not_hex(input: &str, position: usize, hex: &str, at: usize) -> IdError {
    let c = hex[at..].chars().next().unwrap_or('?');
    IdError::InvalidDigest {
        input: input.to_owned(),
        position,
        reason: format!("{c:?} is not a lowercase hex digit"),
    }
}

// Lowercase only: the OCI spec forbids [A-F] in registered algorithms, and the
// hex crates accept both cases, so the check would be needed anyway.
const fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

impl FromStr for Digest {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(IdError::Empty { what: "digest" });
        }
        Self::parse_at(s, 0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(7 + self.algorithm.digest_len() * 2);
        s.push_str(self.algorithm.name());
        s.push(':');
        push_hex(&mut s, self.as_bytes());
        f.write_str(&s)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

super::string_serde!(Digest, "a digest such as sha256:<64 hex>");

/// A digest in the two parts the digest index stores it as: its first 8
/// bytes as a big-endian integer (the row key) and the bytes after them
/// (in the row), borrowed. A lookup through the in-memory copy's links
/// names each parent this way and builds its [`Digest`] only where one is
/// written: into an answer's via (in place, [`DigestParts::write_to`]) or
/// into an error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigestParts<'a> {
    pub algorithm: Algorithm,
    pub prefix: u64,
    pub rest: &'a [u8],
}

impl DigestParts<'_> {
    /// The whole digest.
    ///
    /// # Errors
    /// [`IdError::InvalidBinaryDigest`] when `rest` is not the algorithm's
    /// length less 8.
    pub(crate) fn to_digest(self) -> Result<Digest, IdError> {
        let mut d = Digest {
            algorithm: self.algorithm,
            raw: [0u8; MAX_RAW],
        };
        self.write_to(&mut d)?;
        Ok(d)
    }

    /// Overwrites `d` with the whole digest, where it stands (a via's digest
    /// in a reused answer). On error `d` is unchanged.
    ///
    /// # Errors
    /// As [`DigestParts::to_digest`].
    #[inline]
    pub(crate) fn write_to(self, d: &mut Digest) -> Result<(), IdError> {
        let len = self.algorithm.digest_len();
        // Today's algorithms' lengths spelled out: a copy of a known length
        // is a few moves, one of a length known only at run time a call to
        // `memcpy` (callgrind, the twentieth run in docs/benchmarks.md).
        // Past the algorithm's length a digest is all zero (see `Digest`).
        if let (32, Ok(rest)) = (len, <&[u8; 24]>::try_from(self.rest)) {
            d.raw[8..32].copy_from_slice(rest);
            d.raw[32..].fill(0);
        } else if let (64, Ok(rest)) = (len, <&[u8; 56]>::try_from(self.rest)) {
            d.raw[8..].copy_from_slice(rest);
        } else if let Some((to, beyond)) = d
            .raw
            .get_mut(8..)
            .and_then(|tail| tail.split_at_mut_checked(self.rest.len()))
            .filter(|_| len == 8 + self.rest.len())
        {
            to.copy_from_slice(self.rest);
            beyond.fill(0);
        } else {
            return Err(wrong_length(self.algorithm, 8 + self.rest.len()));
        }
        d.raw[..8].copy_from_slice(&self.prefix.to_be_bytes());
        d.algorithm = self.algorithm;
        Ok(())
    }
}

impl fmt::Display for DigestParts<'_> {
    /// The digest's canonical string; parts of the wrong length (a damaged
    /// row) show as they are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Ok(d) = self.to_digest() {
            d.fmt(f)
        } else {
            let mut s = String::new();
            push_hex(&mut s, self.rest);
            write!(f, "{}:{:016x}{s} (cut)", self.algorithm.name(), self.prefix)
        }
    }
}

/// The error for `got` raw bytes where `algorithm` needs its length.
fn wrong_length(algorithm: Algorithm, got: usize) -> IdError {
    IdError::InvalidBinaryDigest {
        reason: format!(
            "{algorithm} needs {} raw bytes, got {got}",
            algorithm.digest_len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Algorithm, Digest};

    fn digest() -> impl Strategy<Value = Digest> {
        (0..Algorithm::ALL.len(), any::<u64>())
            .prop_map(|(a, n)| Digest::of(Algorithm::ALL[a], &n.to_le_bytes()))
    }

    proptest! {
        /// Guards the digest a lookup through the in-memory copy writes
        /// into a reused via: built from its stored parts over whatever
        /// digest the slot held before, it must equal the digest, with the
        /// bytes past a shorter algorithm's length zeroed (equality compares
        /// all 64).
        #[test]
        fn parts_rebuild_the_digest_over_any_other(d in digest(), before in digest()) {
            prop_assert_eq!(d.parts().to_digest().unwrap(), d);
            let mut slot = before;
            d.parts().write_to(&mut slot).unwrap();
            prop_assert_eq!(slot, d);
            prop_assert_eq!(d.parts().to_string(), d.to_string());
        }

        /// Parts of the wrong length (a damaged row) are an error, and
        /// leave the slot as it was.
        #[test]
        fn parts_of_the_wrong_length_change_nothing(d in digest(), before in digest(), cut in 1usize..8) {
            let parts = d.parts();
            let short = super::DigestParts { rest: &parts.rest[cut..], ..parts };
            let mut slot = before;
            prop_assert!(short.write_to(&mut slot).is_err());
            prop_assert_eq!(slot, before);
            prop_assert!(short.to_digest().is_err());
            prop_assert!(short.to_string().ends_with("(cut)"));
        }
    }
}
