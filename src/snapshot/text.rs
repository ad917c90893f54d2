//! Turns a file's bytes into text a person wrote: UTF-8, without a byte-order mark, with `\n`
//! line ends. Anything else is a diagnostic at the first offending byte.

use crate::diagnostic::Diagnostic;
use crate::yaml::Span;

/// Record files larger than this are refused rather than parsed: no real template or monthly
/// metrics file comes near it, and it bounds the memory a hostile file can take.
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

/// Decodes a record file. CRLF and lone CR line ends become LF, so line numbers match what an
/// editor shows.
pub fn decode(bytes: &[u8], path: &str) -> Result<String, Box<Diagnostic>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Box::new(
            Diagnostic::error(
                "file/too-large",
                path,
                format!(
                    "file is {} bytes; record files may be at most {MAX_FILE_BYTES}",
                    bytes.len()
                ),
            )
            .help("split it, or check it is the file you meant to commit"),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        let (line, column) = position_of(bytes, offset);
        return Err(Box::new(
            Diagnostic::error(
                "file/binary",
                path,
                "file contains a NUL byte; it looks binary, not text",
            )
            .at(Span::point(line, column))
            .help("records are UTF-8 text files"),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let (line, column) = position_of(bytes, error.valid_up_to());
            return Err(Box::new(
                Diagnostic::error("file/encoding", path, "file is not valid UTF-8")
                    .at(Span::point(line, column))
                    .help("save the file as UTF-8 (most editors have an \"encoding\" option)"),
            ));
        }
    };
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_owned()
    })
}

/// 1-based line and column (in characters) of a byte offset in possibly invalid UTF-8.
fn position_of(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_byte_order_mark_and_normalises_crlf() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFa: 1\r\nb: 2\r\n", "f").unwrap(),
            "a: 1\nb: 2\n"
        );
    }

    #[test]
    fn reports_invalid_utf8_at_its_line_and_column() {
        let error = decode(b"a: 1\nb: \xff\n", "f.yaml").unwrap_err();
        assert_eq!(error.code, "file/encoding");
        assert_eq!(error.location(), "f.yaml:2:4");
    }

    #[test]
    fn reports_binary_content() {
        let error = decode(b"PK\x03\x04\x00\x00", "f.yaml").unwrap_err();
        assert_eq!(error.code, "file/binary");
    }
}
