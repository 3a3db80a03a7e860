//! The byte stream under the XML parser: the declared encoding (windows-1251, the usual one, or
//! UTF-8) decoded to UTF-8 as the bytes pass, refusing bytes that contradict the declaration
//! with their offset, and the line and column of what the parser has consumed.
//!
//! Memory stays constant: two fixed buffers, whatever the file size. Used by the schema
//! validator (`validate::schema`).

use std::fmt;
use std::io::{self, BufRead, Read};

use encoding_rs::{DecoderResult, Encoding, UTF_8, WINDOWS_1251};

/// Bytes read from the source per refill.
const IN_BUF: usize = 64 * 1024;
/// Decoded bytes held; windows-1251 grows at most ×3 in UTF-8.
const OUT_BUF: usize = 3 * IN_BUF + 16;

/// The bytes do not fit the encoding the file declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodingError {
    /// Byte offset in the source file.
    pub offset: u64,
    /// The declared encoding.
    pub declared: &'static str,
}

impl fmt::Display for EncodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "byte offset {}: the bytes are not valid {} as the file declares",
            self.offset, self.declared
        )
    }
}

impl std::error::Error for EncodingError {}

/// A control character XML 1.0 does not allow (below U+0020, other than tab, line feed and
/// carriage return; NUL above all): the file is not well-formed. The reader hands over the
/// text before it, then this error, so the parser's position is the character's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlCharacter {
    /// The character's code.
    pub code: u8,
}

impl fmt::Display for ControlCharacter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not well-formed XML: character U+{:04X} (a control character) is not allowed in XML",
            self.code
        )
    }
}

impl std::error::Error for ControlCharacter {}

/// Whether `b`, a byte of UTF-8, is a control character XML does not allow.
fn forbidden(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')
}

/// The encoding named by the XML declaration at the start of `prefix` (UTF-8 when there is
/// none), or the label it names when the hub does not support it.
pub fn declared_encoding(prefix: &[u8]) -> Result<&'static Encoding, String> {
    let text = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    if !text.starts_with(b"<?xml") {
        return Ok(UTF_8);
    }
    let end = text.iter().position(|&b| b == b'>').unwrap_or(text.len());
    let decl = String::from_utf8_lossy(&text[..end]);
    let Some(pos) = decl.find("encoding") else {
        return Ok(UTF_8);
    };
    let rest = decl[pos + "encoding".len()..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return Ok(UTF_8);
    };
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'');
    let label = match quote {
        Some(q) => rest[1..].split(q).next().unwrap_or(""),
        None => "",
    };
    match Encoding::for_label(label.trim().as_bytes()) {
        Some(e) if e == UTF_8 || e == WINDOWS_1251 => Ok(e),
        _ => Err(label.to_owned()),
    }
}

/// Decodes `inner` from `encoding` to UTF-8 and counts lines and columns of what is consumed.
pub struct DecodingReader<R> {
    inner: R,
    encoding: &'static Encoding,
    decoder: encoding_rs::Decoder,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    /// Source bytes before `input[0]`.
    in_offset: u64,
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
    eof: bool,
    /// The decoder has had all input with `last` set: asking it again would panic.
    finished: bool,
    /// A forbidden control character ends the decoded text: the error once the text before
    /// it is consumed.
    control: Option<u8>,
    line: u64,
    column: u64,
}

impl<R: Read> DecodingReader<R> {
    /// A reader of `inner`, which is in `encoding`.
    pub fn new(inner: R, encoding: &'static Encoding) -> Self {
        Self {
            inner,
            encoding,
            decoder: encoding.new_decoder_without_bom_handling(),
            input: vec![0; IN_BUF].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            in_offset: 0,
            output: vec![0; OUT_BUF].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            eof: false,
            finished: false,
            control: None,
            line: 1,
            column: 1,
        }
    }

    /// 1-based line and column (in characters) of the next byte the parser will consume.
    #[must_use]
    pub fn position(&self) -> (u64, u64) {
        (self.line, self.column)
    }

    fn refill(&mut self) -> io::Result<()> {
        if let Some(code) = self.control {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                ControlCharacter { code },
            ));
        }
        while self.out_start == self.out_end && !self.finished {
            if self.in_start == self.in_end && !self.eof {
                self.in_offset += u64::try_from(self.in_end).unwrap_or(0);
                self.in_start = 0;
                self.in_end = 0;
                let mut n = self.inner.read(&mut self.input)?;
                // The BOM check below needs the first three bytes, however the source splits them.
                while self.in_offset == 0 && (1..3).contains(&n) {
                    match self.inner.read(&mut self.input[n..])? {
                        0 => break,
                        more => n += more,
                    }
                }
                if n == 0 {
                    self.eof = true;
                } else {
                    self.in_end = n;
                }
                if self.in_offset == 0 && self.in_end >= 3 && self.input[..3] == *b"\xEF\xBB\xBF" {
                    if self.encoding == UTF_8 {
                        self.in_start = 3;
                    } else {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            EncodingError {
                                offset: 0,
                                declared: self.encoding.name(),
                            },
                        ));
                    }
                }
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                self.eof,
            );
            self.finished = self.eof && result == DecoderResult::InputEmpty;
            let read_before = self.in_start;
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            // A control character in the text decoded before a malformed byte comes first in
            // the file: it is the fault reported, however the source splits the bytes.
            if let Some(at) = self.output[..written].iter().position(|&b| forbidden(b)) {
                self.control = Some(self.output[at]);
                self.out_end = at;
                if at == 0 {
                    return self.refill();
                }
                return Ok(());
            }
            if let DecoderResult::Malformed(bad, after) = result {
                let bad_at = self.in_offset + u64::try_from(read_before + read).unwrap_or(0)
                    - u64::from(bad)
                    - u64::from(after);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    EncodingError {
                        offset: bad_at,
                        declared: self.encoding.name(),
                    },
                ));
            }
            if written == 0 && self.eof && self.in_start == self.in_end {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for DecodingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.out_start == self.out_end {
            self.refill()?;
        }
        Ok(&self.output[self.out_start..self.out_end])
    }

    fn consume(&mut self, amt: usize) {
        let end = (self.out_start + amt).min(self.out_end);
        // One pass without branches to mispredict: a newline restarts the column, every byte
        // that does not continue a UTF-8 sequence is a character.
        let (mut line, mut column) = (self.line, self.column);
        for &b in &self.output[self.out_start..end] {
            if b == b'\n' {
                line += 1;
                column = 0;
            }
            column += u64::from(b & 0xC0 != 0x80);
        }
        self.line = line;
        self.column = column;
        self.out_start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], enc: &'static Encoding) -> io::Result<String> {
        let mut r = DecodingReader::new(bytes, enc);
        let mut s = String::new();
        r.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn the_declaration_names_the_encoding() {
        assert_eq!(
            declared_encoding(br#"<?xml version="1.0" encoding="windows-1251"?><a/>"#),
            Ok(WINDOWS_1251)
        );
        assert_eq!(
            declared_encoding(b"<?xml version='1.0' encoding='UTF-8'?>"),
            Ok(UTF_8)
        );
        assert_eq!(declared_encoding(b"<a/>"), Ok(UTF_8));
        assert_eq!(
            declared_encoding(br#"<?xml version="1.0" encoding="koi8-r"?>"#),
            Err("koi8-r".to_owned())
        );
    }

    #[test]
    fn windows_1251_decodes_across_buffer_boundaries() {
        let text = "Иванов Пётр ".repeat(20_000);
        let (bytes, _, _) = WINDOWS_1251.encode(&text);
        assert_eq!(read_all(&bytes, WINDOWS_1251).unwrap(), text);
    }

    #[test]
    fn bytes_that_contradict_the_declaration_are_refused_with_their_offset() {
        let mut bytes = b"<a>abc".to_vec();
        bytes.push(0xFF);
        bytes.extend_from_slice(b"</a>");
        let err = read_all(&bytes, UTF_8).unwrap_err();
        let inner = err
            .get_ref()
            .unwrap()
            .downcast_ref::<EncodingError>()
            .unwrap();
        assert_eq!(inner.offset, 6);
        let bom = b"\xEF\xBB\xBF<a/>";
        assert!(read_all(bom, WINDOWS_1251).is_err());
        assert_eq!(read_all(bom, UTF_8).unwrap(), "<a/>");
    }

    /// A source that hands over one byte per read.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reading_past_the_end_keeps_returning_nothing() {
        // Found by fuzzing: a second `fill_buf` at the end called the finished decoder again,
        // which panics ("Must not use a decoder that has finished").
        for bytes in [&b""[..], b"<a/>"] {
            let mut r = DecodingReader::new(bytes, WINDOWS_1251);
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            assert_eq!(r.fill_buf().unwrap(), b"");
            assert_eq!(r.read(&mut [0; 8]).unwrap(), 0);
        }
    }

    #[test]
    fn a_bom_is_recognised_however_the_source_splits_it() {
        // Found by fuzzing: a source whose first read returned fewer than three bytes let the
        // BOM through as text (UTF-8) or past the refusal (windows-1251).
        let bom = b"\xEF\xBB\xBF<a/>";
        let mut s = String::new();
        DecodingReader::new(OneByte(bom), UTF_8)
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "<a/>");
        let mut s = String::new();
        let refused = DecodingReader::new(OneByte(bom), WINDOWS_1251).read_to_string(&mut s);
        assert!(refused.is_err(), "decoded {s:?}");
    }

    #[test]
    fn a_control_character_ends_the_text_with_an_error_at_its_place() {
        for enc in [UTF_8, WINDOWS_1251] {
            let mut r = DecodingReader::new(&b"<a>x\ny\0z</a>"[..], enc);
            let mut s = String::new();
            let err = r.read_to_string(&mut s).unwrap_err();
            assert_eq!(s, "<a>x\ny", "the text before it is read");
            let inner = err.get_ref().unwrap().downcast_ref::<ControlCharacter>();
            assert_eq!(inner, Some(&ControlCharacter { code: 0 }));
            assert_eq!(r.position(), (2, 2), "the parser stands at the NUL");
        }
        let mut s = String::new();
        DecodingReader::new(&b"<a>\t\r\n</a>"[..], UTF_8)
            .read_to_string(&mut s)
            .unwrap();
    }

    #[test]
    fn lines_and_columns_count_characters_consumed() {
        let mut r = DecodingReader::new("ab\nвг\nx".as_bytes(), UTF_8);
        let _ = r.fill_buf().unwrap();
        r.consume(3);
        assert_eq!(r.position(), (2, 1));
        r.consume(4);
        assert_eq!(r.position(), (2, 3), "two Cyrillic letters are two columns");
    }
}
