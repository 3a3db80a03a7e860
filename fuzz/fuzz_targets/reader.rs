//! Fuzz target `reader`: arbitrary bytes through `xml::reader` and quick-xml.
//!
//! For both encodings the hub reads (windows-1251 and UTF-8) the bytes go through
//! `DecodingReader`, once as one slice and once handed over in small pieces, and must decode to
//! exactly what a one-shot `encoding_rs` decode gives (or be refused at the same byte offset),
//! with the line count matching the decoded text. Then quick-xml, configured as the schema
//! check configures it, reads events from a `DecodingReader` to the end or to the first error.
//! `declared_encoding` sees the bytes as a file prefix. No input may panic.

#![no_main]

use std::io::{self, BufRead, Read};

use encoding_rs::{DecoderResult, Encoding, UTF_8, WINDOWS_1251};
use libfuzzer_sys::fuzz_target;
use omshub::xml::reader::{DecodingReader, EncodingError, declared_encoding};
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

/// What decoding the whole input at once gives: the text, or the offset of the first bad byte.
fn one_shot(data: &[u8], encoding: &'static Encoding) -> Result<Vec<u8>, u64> {
    let bom = data.starts_with(b"\xEF\xBB\xBF");
    if bom && encoding != UTF_8 {
        return Err(0);
    }
    let (body, skipped) = if bom { (&data[3..], 3) } else { (data, 0) };
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = vec![0; 3 * body.len() + 16];
    let (result, read, written) = decoder.decode_to_utf8_without_replacement(body, &mut out, true);
    match result {
        DecoderResult::InputEmpty => {
            out.truncate(written);
            Ok(out)
        }
        DecoderResult::Malformed(bad, after) => {
            Err(skipped + read as u64 - u64::from(bad) - u64::from(after))
        }
        DecoderResult::OutputFull => panic!("the output buffer is large enough"),
    }
}

/// Everything `reader` yields through `BufRead`, or the offset it refuses.
fn drain<R: Read>(mut reader: DecodingReader<R>) -> Result<(Vec<u8>, u64), u64> {
    let mut out = Vec::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) => {
                let enc = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<EncodingError>())
                    .expect("a slice source fails only on encoding");
                return Err(enc.offset);
            }
        };
        if chunk.is_empty() {
            return Ok((out, reader.position().0));
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
            (Ok(text), Ok((out, lines))) => {
                assert_eq!(text, &out, "{} text differs", encoding.name());
                let lines_in_text = out.split(|&b| b == b'\n').count() as u64;
                assert_eq!(lines, lines_in_text, "line count");
            }
            (Err(at), Err(got_at)) => assert_eq!(*at, got_at, "refusal offset"),
            (want, got) => panic!(
                "{}: one-shot decode {:?}, DecodingReader {:?}",
                encoding.name(),
                want.as_ref().map(Vec::len),
                got.map(|(o, _)| o.len())
            ),
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
