//! Integration IDs: assigning a new random UUID, and the form a given one
//! must have.

use chacha20poly1305::aead::Generate;

use crate::error::{Error, Result};

/// A new random (version 4) UUID, lowercase.
pub(super) fn new_id() -> Result<String> {
    let mut b = <[u8; 16]>::try_generate().map_err(|e| {
        Error::io(
            "reading the operating system's random number generator",
            std::io::Error::other(e.to_string()),
        )
    })?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b
        .iter()
        .flat_map(|x| [x >> 4, x & 0xf])
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// `8-4-4-4-12` lowercase hexadecimal digits.
pub(super) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

#[cfg(test)]
mod tests {
    use super::{is_uuid, new_id};

    /// Guards assigned IDs: version 4, variant 1, and accepted by the check
    /// a given ID must pass.
    #[test]
    fn assigned_ids_are_v4_uuids() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_ne!(a, b);
        for id in [a, b] {
            assert!(is_uuid(&id), "{id}");
            assert_eq!(&id[14..15], "4", "{id}");
            assert!("89ab".contains(&id[19..20]), "{id}");
        }
        assert!(!is_uuid("not-a-uuid"));
        assert!(!is_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF"));
    }
}
