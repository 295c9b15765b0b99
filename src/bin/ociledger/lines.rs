//! Reading JSON-lines input the way an importer must: a compressed input is
//! checked end to end before its first line is used, every line is bounded
//! and must be UTF-8, and a bad line is reported with its number instead of
//! ending the run.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// The longest line accepted: far above any observation, relation or pod
/// line (a few KB), far below what would strain memory or the error output.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How many characters of an offending value an error quotes.
pub const QUOTE_CHARS: usize = 200;

/// `text`, cut to [`QUOTE_CHARS`] characters (with `…` when cut), for error
/// messages that must not echo a huge input.
pub fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTE_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Why a line could not be read as text.
#[derive(Debug)]
pub enum BadLine {
    /// Longer than [`MAX_LINE_BYTES`]; the rest of it was skipped.
    TooLong(usize),
    /// Not UTF-8, at this byte of the line.
    NotUtf8(usize),
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong(n) => write!(
                f,
                "line longer than {MAX_LINE_BYTES} bytes ({n} bytes read before it was cut)"
            ),
            Self::NotUtf8(at) => write!(f, "not UTF-8 text (invalid byte at column {})", at + 1),
        }
    }
}

/// Opens `path` (`-`: standard input). A gzip input (detected from its first
/// bytes) is read whole and decompressed once to check every member's CRC
/// and length before anything is returned, because deflate damage yields
/// well-formed but wrong lines long before the check at the end would fail.
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path)?)
    };
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    if !reader.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        return Ok(Box::new(reader));
    }
    let mut compressed = Vec::new();
    reader.read_to_end(&mut compressed)?;
    io::copy(
        &mut MultiGzDecoder::new(compressed.as_slice()),
        &mut io::sink(),
    )
    .map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the compressed input is damaged ({e}); nothing was read from it"),
        )
    })?;
    Ok(Box::new(BufReader::with_capacity(
        1 << 16,
        MultiGzDecoder::new(Cursor::new(compressed)),
    )))
}

/// The lines of `input`, numbered from 1, each bounded and checked: an I/O
/// error ends the iteration with `Err`; a bad line is an `Ok((n, Err(..)))`.
pub struct Lines<R> {
    input: R,
    number: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            number: 0,
            buf: Vec::new(),
        }
    }

    /// Skips the rest of an over-long line, in bounded reads.
    fn skip_rest(&mut self) -> io::Result<usize> {
        let mut skipped = 0;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                return Ok(skipped);
            }
            if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                self.input.consume(i + 1);
                return Ok(skipped + i);
            }
            let n = chunk.len();
            self.input.consume(n);
            skipped += n;
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = io::Result<(usize, Result<String, BadLine>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.buf.clear();
        let limit = u64::try_from(MAX_LINE_BYTES + 1).unwrap_or(u64::MAX);
        let read = (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut self.buf);
        match read {
            Err(e) => return Some(Err(e)),
            Ok(0) => return None,
            Ok(_) => {}
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > MAX_LINE_BYTES {
            return Some(match self.skip_rest() {
                Ok(rest) => Ok((self.number, Err(BadLine::TooLong(self.buf.len() + rest)))),
                Err(e) => Err(e),
            });
        }
        let text = match std::str::from_utf8(&self.buf) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(BadLine::NotUtf8(e.valid_up_to())),
        };
        Some(Ok((self.number, text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the importer's line rules: numbering, CRLF, a non-UTF-8 line
    /// and an over-long line are bad lines, and the lines after them still
    /// come.
    #[test]
    fn bad_lines_are_reported_and_the_next_lines_still_come() {
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        let input = format!("a\r\n{long}\nb\n").into_bytes();
        let mut with_bad = input.clone();
        with_bad.extend_from_slice(b"c\xff\nd");
        let got: Vec<_> = Lines::new(with_bad.as_slice())
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got.len(), 5);
        assert_eq!((got[0].0, got[0].1.as_ref().unwrap().as_str()), (1, "a"));
        assert!(matches!(got[1].1, Err(BadLine::TooLong(n)) if n == MAX_LINE_BYTES + 10));
        assert_eq!((got[2].0, got[2].1.as_ref().unwrap().as_str()), (3, "b"));
        assert!(matches!(got[3].1, Err(BadLine::NotUtf8(1))));
        assert_eq!((got[4].0, got[4].1.as_ref().unwrap().as_str()), (5, "d"));
        assert_eq!(quote(&"é".repeat(500)).chars().count(), QUOTE_CHARS + 1);
    }
}
