//! The one error type of the identifier parsers.

use thiserror::Error;

/// Why a string is not a valid identifier.
///
/// Every variant names the part of the reference that is wrong, carries the
/// whole input as given and, where one character is to blame, the byte
/// position of that character in the input. Messages are written for a person:
/// `tag may be at most 128 characters, got 130`.
///
/// ```
/// use ociledger::id::{IdError, TagId};
///
/// let err = "nginx:bad tag".parse::<TagId>().unwrap_err();
/// assert!(matches!(err, IdError::InvalidTag { position: 9, .. }));
/// assert_eq!(
///     err.to_string(),
///     "invalid tag in \"nginx:bad tag\" at byte 9: ' ' is not allowed in a tag (letters, digits, '_', '.', '-')",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdError {
    /// The input was empty (after any `docker-pullable://` prefix).
    #[error("empty {what}")]
    Empty {
        /// What was expected: "reference", "digest", …
        what: &'static str,
    },
    /// The registry host (`domain[:port]`) is malformed.
    #[error("invalid domain in {input:?} at byte {position}: {reason}")]
    InvalidDomain {
        /// The whole input.
        input: String,
        /// Byte offset of the offending character.
        position: usize,
        /// What is wrong, in words.
        reason: String,
    },
    /// A path component (`library`, `nginx`, …) is malformed.
    #[error("invalid repository path in {input:?} at byte {position}: {reason}")]
    InvalidPath {
        /// The whole input.
        input: String,
        /// Byte offset of the offending character.
        position: usize,
        /// What is wrong, in words.
        reason: String,
    },
    /// The repository path has an uppercase letter; paths are lowercase only.
    #[error("repository name in {input:?} must be lowercase: {found:?} at byte {position}")]
    NameContainsUppercase {
        /// The whole input.
        input: String,
        /// Byte offset of the first uppercase letter.
        position: usize,
        /// The uppercase letter found.
        found: char,
    },
    /// The repository path is longer than 255 bytes.
    #[error("repository path may be at most 255 characters, got {length} in {input:?}")]
    NameTooLong {
        /// The whole input.
        input: String,
        /// Length of the normalized path (including `library/` on Docker Hub).
        length: usize,
    },
    /// A name that is exactly 64 hex characters: Docker refuses it as a name
    /// because it cannot be told from an image ID.
    #[error("{input:?} is 64 hex characters: that is an image ID, not a repository name")]
    HexName {
        /// The whole input.
        input: String,
    },
    /// The tag has a character outside `[A-Za-z0-9_.-]` or starts with `.`/`-`.
    #[error("invalid tag in {input:?} at byte {position}: {reason}")]
    InvalidTag {
        /// The whole input.
        input: String,
        /// Byte offset of the offending character.
        position: usize,
        /// What is wrong, in words.
        reason: String,
    },
    /// The tag is longer than 128 characters.
    #[error("tag may be at most 128 characters, got {length} in {input:?}")]
    TagTooLong {
        /// The whole input.
        input: String,
        /// Length of the tag found.
        length: usize,
    },
    /// The digest does not follow the `algorithm:encoded` grammar, or its
    /// encoded part is not lowercase hex.
    #[error("invalid digest in {input:?} at byte {position}: {reason}")]
    InvalidDigest {
        /// The whole input.
        input: String,
        /// Byte offset of the offending character.
        position: usize,
        /// What is wrong, in words.
        reason: String,
    },
    /// The digest is well formed but its algorithm is not one ociledger
    /// stores (sha256, sha512, blake3: the OCI registered algorithms).
    #[error(
        "unsupported digest algorithm {algorithm:?} in {input:?} (supported: sha256, sha512, blake3)"
    )]
    UnsupportedAlgorithm {
        /// The whole input.
        input: String,
        /// The algorithm named.
        algorithm: String,
    },
    /// The encoded part of a digest has the wrong length for its algorithm.
    #[error("{algorithm} digest must have {expected} hex characters, got {got} in {input:?}")]
    DigestLength {
        /// The whole input.
        input: String,
        /// The algorithm named.
        algorithm: &'static str,
        /// Hex characters the algorithm needs.
        expected: usize,
        /// Hex characters found.
        got: usize,
    },
    /// A tag was required (a tag ID) but the input has none.
    #[error("{input:?} has no tag: expected repository:tag")]
    MissingTag {
        /// The whole input.
        input: String,
    },
    /// A digest was required (a reference ID) but the input has none.
    #[error("{input:?} has no digest: expected repository:tag@algorithm:hex")]
    MissingDigest {
        /// The whole input.
        input: String,
    },
    /// The input has a part this kind of identifier does not take
    /// (a tag on a repository ID, a digest on a tag ID).
    #[error("unexpected {part} in {input:?} at byte {position}: a {kind} has no {part}")]
    Unexpected {
        /// The whole input.
        input: String,
        /// Byte offset where the unexpected part starts.
        position: usize,
        /// "tag" or "digest".
        part: &'static str,
        /// The kind of identifier being parsed.
        kind: &'static str,
    },
    /// A compact (binary) digest had an unknown algorithm byte or wrong length.
    #[error("invalid binary digest: {reason}")]
    InvalidBinaryDigest {
        /// What is wrong, in words.
        reason: String,
    },
}

impl IdError {
    /// The byte position of the offending character, where there is one.
    #[must_use]
    pub fn position(&self) -> Option<usize> {
        match self {
            Self::InvalidDomain { position, .. }
            | Self::InvalidPath { position, .. }
            | Self::NameContainsUppercase { position, .. }
            | Self::InvalidTag { position, .. }
            | Self::InvalidDigest { position, .. }
            | Self::Unexpected { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// The whole input the error is about, where there is one.
    #[must_use]
    pub fn input(&self) -> Option<&str> {
        match self {
            Self::InvalidDomain { input, .. }
            | Self::InvalidPath { input, .. }
            | Self::NameContainsUppercase { input, .. }
            | Self::NameTooLong { input, .. }
            | Self::HexName { input }
            | Self::InvalidTag { input, .. }
            | Self::TagTooLong { input, .. }
            | Self::InvalidDigest { input, .. }
            | Self::UnsupportedAlgorithm { input, .. }
            | Self::DigestLength { input, .. }
            | Self::MissingTag { input }
            | Self::MissingDigest { input }
            | Self::Unexpected { input, .. } => Some(input),
            Self::Empty { .. } | Self::InvalidBinaryDigest { .. } => None,
        }
    }
}
