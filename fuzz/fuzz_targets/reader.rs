//! Fuzz target `reader`: arbitrary bytes through `xml::reader` and quick-xml.
//!
//! For both encodings the hub reads (windows-1251 and UTF-8) the bytes go through
//! `DecodingReader`, once as one slice and once handed over in small pieces, and must decode to
//! exactly what a one-shot `encoding_rs` decode gives (or be refused at the same byte offset,
//! or stop at the same control character XML forbids, after the same text), with the line
//! count matching the decoded text. Then quick-xml, configured as the schema
//! check configures it, reads events from a `DecodingReader` to the end or to the first error.
//! `declared_encoding` sees the bytes as a file prefix. No input may panic.

#![no_main]

use std::io::{self, BufRead, Read};

use encoding_rs::{DecoderResult, Encoding, UTF_8, WINDOWS_1251};
use libfuzzer_sys::fuzz_target;
use omshub::xml::reader::{ControlCharacter, DecodingReader, EncodingError, declared_encoding};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// A source that hands its bytes over a few at a time, as a slow stream or a decompressor may.
struct Pieces<'a> {
    bytes: &'a [u8],
    sizes: std::iter::Cycle<std::slice::Iter<'static, usize>>,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes.next().copied().unwrap_or(1);
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// How a decode ends: the whole text (and, from the reader, its line count), a refusal at the
/// byte offset of the first malformed byte, or a control character XML forbids, after the
/// text before it.
#[derive(Debug, PartialEq)]
enum Decoded {
    Text(Vec<u8>, u64),
    Malformed(u64),
    Control(Vec<u8>, u8),
}

/// Whether `b`, a byte of UTF-8, is a control character XML 1.0 does not allow.
fn forbidden(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')
}

/// What decoding the whole input at once gives, the line count left at 0: the first fault in
/// the file wins (a control character in the text before a malformed byte).
fn one_shot(data: &[u8], encoding: &'static Encoding) -> Decoded {
    let bom = data.starts_with(b"\xEF\xBB\xBF");
    if bom && encoding != UTF_8 {
        return Decoded::Malformed(0);
    }
    let (body, skipped) = if bom { (&data[3..], 3) } else { (data, 0) };
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = vec![0; 3 * body.len() + 16];
    let (result, read, written) = decoder.decode_to_utf8_without_replacement(body, &mut out, true);
    out.truncate(written);
    if let Some(at) = out.iter().position(|&b| forbidden(b)) {
        let code = out[at];
        out.truncate(at);
        return Decoded::Control(out, code);
    }
    match result {
        DecoderResult::InputEmpty => Decoded::Text(out, 0),
        DecoderResult::Malformed(bad, after) => {
            Decoded::Malformed(skipped + read as u64 - u64::from(bad) - u64::from(after))
        }
        DecoderResult::OutputFull => panic!("the output buffer is large enough"),
    }
}

/// Everything `reader` yields through `BufRead`, and how it ends.
fn drain<R: Read>(mut reader: DecodingReader<R>) -> Decoded {
    let mut out = Vec::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) => {
                let inner = e
                    .get_ref()
                    .expect("a slice source fails only on its content");
                if let Some(enc) = inner.downcast_ref::<EncodingError>() {
                    return Decoded::Malformed(enc.offset);
                }
                let control = inner
                    .downcast_ref::<ControlCharacter>()
                    .expect("an encoding error or a control character");
                return Decoded::Control(out, control.code);
            }
        };
        if chunk.is_empty() {
            return Decoded::Text(out, reader.position().0);
        }
        // Consume in two steps to exercise partial consumption.
        let n = chunk.len();
        out.extend_from_slice(chunk);
        reader.consume(n / 2);
        reader.consume(n - n / 2);
    }
}

fn check_decoding(data: &[u8], encoding: &'static Encoding) {
    let expected = one_shot(data, encoding);
    let whole = drain(DecodingReader::new(data, encoding));
    let pieces = drain(DecodingReader::new(
        Pieces {
            bytes: data,
            sizes: [1, 2, 3, 5, 7, 64 * 1024].iter().cycle(),
        },
        encoding,
    ));
    for got in [whole, pieces] {
        match (&expected, got) {
            (Decoded::Text(text, _), Decoded::Text(out, lines)) => {
                assert_eq!(text, &out, "{} text differs", encoding.name());
                let lines_in_text = out.split(|&b| b == b'\n').count() as u64;
                assert_eq!(lines, lines_in_text, "line count");
            }
            (want, got) => assert_eq!(want, &got, "{}", encoding.name()),
        }
    }
}

fn read_events(data: &[u8], encoding: &'static Encoding) {
    let mut reader = Reader::from_reader(DecodingReader::new(data, encoding));
    {
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = true;
        config.check_end_names = true;
    }
    let mut buf = Vec::new();
    let mut last = (1, 1);
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf);
        let now = reader.get_ref().position();
        assert!(now >= last, "position went back from {last:?} to {now:?}");
        last = now;
        match event {
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(encoding) = declared_encoding(data) {
        assert!(encoding == UTF_8 || encoding == WINDOWS_1251);
    }
    for encoding in [WINDOWS_1251, UTF_8] {
        check_decoding(data, encoding);
        read_events(data, encoding);
    }
});
