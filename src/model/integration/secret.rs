//! Credentials: the [`Secret`] type every output writes as [`MASK`], the
//! masking of input values quoted in serde's messages, and a record's list
//! of its credentials (what the ledger seals and clears).

use std::fmt;

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ImageIntegration;

/// What every output shows in place of a credential, set or not.
pub const MASK: &str = "******";

/// A credential: a password, token, key or service account.
///
/// Kept in a [`secrecy::SecretString`] (zeroed when dropped). Serialized,
/// debug-printed and displayed as [`MASK`], whatever it holds, so nothing
/// that prints a record can leak it; read it with [`Secret::expose`].
/// Deserialized from any JSON string.
#[derive(Clone, Default)]
pub struct Secret(SecretString);

impl Secret {
    /// A credential holding `value`.
    #[must_use]
    pub fn new(value: &str) -> Self {
        Self(SecretString::from(value))
    }

    /// The credential itself. Records read from a ledger without their
    /// credentials (get, list) hold empty ones; see
    /// [`crate::Ledger::integration_credentials`].
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether it is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// Whether it is the mask `******` (a credential echoed back from an
    /// output, not a credential).
    #[must_use]
    pub fn is_mask(&self) -> bool {
        self.expose() == MASK
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(MASK)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let mut text = String::deserialize(d)?;
        let secret = Self::new(&text);
        text.zeroize();
        Ok(secret)
    }
}

/// serde's messages quote input values (`invalid type: string "x"`, and
/// unknown variants in backticks): every quoted part is replaced with the mask.
/// Field names in `unknown field` / `missing field` / `expected one of`
/// messages are ours, and stay.
pub(super) fn mask_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..=start]);
        rest = &rest[start + 1..];
        out.push_str(MASK);
        if let Some(end) = rest.rfind('"') {
            out.push('"');
            rest = &rest[end + 1..];
        } else {
            rest = "";
        }
    }
    out.push_str(rest);
    if let Some(i) = out.find("unknown variant `")
        && let Some(len) = out[i + 17..].find('`')
    {
        out.replace_range(i + 17..i + 17 + len, MASK);
    }
    out
}

impl ImageIntegration {
    /// Every credential as (path, value), those of absent objects left out.
    pub(crate) fn secrets(&self) -> Vec<(&'static str, &Secret)> {
        self.kind()
            .secret_fields()
            .iter()
            .filter_map(|p| self.config.secret(p).map(|s| (*p, s)))
            .collect()
    }

    /// Empties every credential (what a record read without its
    /// credentials holds).
    pub(crate) fn clear_secrets(&mut self) {
        for path in self.kind().secret_fields() {
            if let Some(s) = self.config.secret(path)
                && !s.is_empty()
                && let Some(s) = self.config.secret_mut(path)
            {
                *s = Secret::default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mask_quoted;

    /// Guards error messages: serde quotes input values, which may be a
    /// credential typed into the wrong field.
    #[test]
    fn quoted_input_values_are_masked_in_messages() {
        assert_eq!(
            mask_quoted(r#"invalid type: string "hunter2", expected a boolean"#),
            r#"invalid type: string "******", expected a boolean"#
        );
        assert_eq!(
            mask_quoted("unknown variant `hunter2`, expected one of `REGISTRY`"),
            "unknown variant `******`, expected one of `REGISTRY`"
        );
        assert_eq!(
            mask_quoted("unknown field `foo`, expected `id`"),
            "unknown field `foo`, expected `id`"
        );
    }
}
