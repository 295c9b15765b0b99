//! Errors in words the user can act on: the HTTP stack's errors without the
//! URL repeated in every cause, and a registry's error answer reduced to its
//! own message, kept short, never a whole page of HTML.

use std::error::Error as _;
use std::time::Duration;

use serde::Deserialize;

use crate::scan::ScanError;

/// An HTTP stack error as a scan error: a timeout, or a connection error
/// with its causes (the URL is said once, in front).
pub(super) fn transport_error(url: &str, e: &reqwest::Error, timeout: Duration) -> ScanError {
    if e.is_timeout() {
        return ScanError::Timeout {
            url: url.to_owned(),
            after: timeout,
        };
    }
    ScanError::Connection {
        url: url.to_owned(),
        reason: chain(e),
    }
}

/// An error and its sources, without the URL reqwest puts in its message.
pub(super) fn chain(e: &reqwest::Error) -> String {
    let mut text = if e.url().is_some() {
        // `without_url` needs ownership; rebuild the message from the kind.
        if e.is_connect() {
            "cannot connect".to_owned()
        } else if e.is_body() || e.is_decode() {
            "reading the answer failed".to_owned()
        } else {
            "the request failed".to_owned()
        }
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The registry's error message from an error body (`{"errors":[{"code",
/// "message"}]}`), or the start of the body, shortened.
pub(super) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        errors: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(env) = serde_json::from_slice::<Envelope>(body) {
        let parts: Vec<String> = env
            .errors
            .into_iter()
            .map(|i| match (i.code, i.message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => String::new(),
            })
            .collect();
        return shorten(&parts.join("; "));
    }
    shorten(&String::from_utf8_lossy(body))
}

pub(super) fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    let text = text.trim();
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(MAX).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::error_message;

    /// Guards against error summaries that drop the registry's own words,
    /// or echo a whole page of HTML.
    #[test]
    fn error_messages_read_the_envelope_and_stay_short() {
        let m = error_message(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        );
        assert_eq!(m, "MANIFEST_UNKNOWN: manifest unknown");
        assert!(error_message("x".repeat(5000).as_bytes()).chars().count() <= 201);
    }
}
