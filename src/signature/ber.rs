//! A minimal BER reader for the one structure the hub reads itself: a CMS `SignedData`
//! (RFC 5652 5). OpenSSL verifies the signature; this reader only finds what the `openssl`
//! crate does not expose — the signing time and the message digest of each signer, the digest
//! and signature algorithms, the certificates carried in the signature, and where the
//! encapsulated content lies — so that the content can be hashed as a stream and left out of
//! what is handed to OpenSSL.
//!
//! BER, not only DER: signatures made in streaming mode use indefinite lengths and a content
//! split into chunks. The reader is strict otherwise (lengths inside their parent, a bounded
//! nesting depth, low tag numbers only) and never panics on any input. Called by
//! [`super::verify`].

use std::ops::Range;

/// Nesting deeper than this is refused (a `SignedData` needs about 8 levels).
const MAX_DEPTH: usize = 32;

/// Why the bytes are not a CMS `SignedData` this reader understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BerError(pub String);

type Result<T> = std::result::Result<T, BerError>;

fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(BerError(message.into()))
}

/// One element: absolute positions in the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv {
    /// The identifier octet (class, constructed bit, tag number below 31).
    pub tag: u8,
    pub start: usize,
    pub content_start: usize,
    /// End of the content (before the end-of-contents octets of an indefinite length).
    pub content_end: usize,
    /// End of the element.
    pub end: usize,
}

impl Tlv {
    fn constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }
}

/// Reads the element at `pos`, which must end at or before `limit`.
fn read(buf: &[u8], pos: usize, limit: usize, depth: usize) -> Result<Tlv> {
    if depth > MAX_DEPTH {
        return err("nested too deeply");
    }
    let at = |i: usize| -> Result<u8> {
        if i < limit {
            buf.get(i)
                .copied()
                .ok_or_else(|| BerError("truncated".into()))
        } else {
            err("truncated")
        }
    };
    let tag = at(pos)?;
    if tag & 0x1f == 0x1f {
        return err("a high tag number, which CMS does not use");
    }
    let first = at(pos + 1)?;
    let mut content_start = pos + 2;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return err("an indefinite length on a primitive element");
        }
        // Children up to the end-of-contents octets.
        let mut child = content_start;
        loop {
            if at(child)? == 0 && at(child + 1)? == 0 {
                return Ok(Tlv {
                    tag,
                    start: pos,
                    content_start,
                    content_end: child,
                    end: child + 2,
                });
            }
            child = read(buf, child, limit, depth + 1)?.end;
        }
    }
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count > 8 || count == 0x7f {
            return err("a length that does not fit");
        }
        let mut len: usize = 0;
        for i in 0..count {
            let byte = at(pos + 2 + i)?;
            len = len
                .checked_mul(256)
                .and_then(|l| l.checked_add(usize::from(byte)))
                .ok_or_else(|| BerError("a length that does not fit".into()))?;
        }
        content_start += count;
        len
    };
    let end = content_start
        .checked_add(len)
        .filter(|end| *end <= limit)
        .ok_or_else(|| BerError("an element longer than its parent".into()))?;
    Ok(Tlv {
        tag,
        start: pos,
        content_start,
        content_end: end,
        end,
    })
}

/// The children of a constructed element, in order.
pub(crate) fn children(buf: &[u8], parent: &Tlv, depth: usize) -> Result<Vec<Tlv>> {
    if !parent.constructed() {
        return err("a primitive element where a constructed one belongs");
    }
    let mut out = Vec::new();
    let mut pos = parent.content_start;
    while pos < parent.content_end {
        let child = read(buf, pos, parent.content_end, depth + 1)?;
        pos = child.end;
        out.push(child);
    }
    Ok(out)
}

fn expect(tlv: &Tlv, tag: u8, what: &str) -> Result<()> {
    if tlv.tag == tag {
        Ok(())
    } else {
        err(format!(
            "{what}: tag 0x{:02x}, expected 0x{tag:02x}",
            tlv.tag
        ))
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OCTET_STRING_CONSTRUCTED: u8 = 0x24;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_0_PRIMITIVE: u8 = 0x80;
const CONTEXT_1: u8 = 0xa1;

/// 1.2.840.113549.1.7.2 signedData.
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// 1.2.840.113549.1.9.4 messageDigest.
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
/// 1.2.840.113549.1.9.5 signingTime.
const OID_SIGNING_TIME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05];

/// How a signer names its certificate (RFC 5652 5.3 `SignerIdentifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignerId {
    /// The DER of the issuer `Name` and the content octets of the serial `INTEGER`.
    IssuerSerial { issuer: Vec<u8>, serial: Vec<u8> },
    /// The subject key identifier.
    KeyId(Vec<u8>),
}

/// What the hub reads of one `SignerInfo`.
#[derive(Debug, Clone)]
pub(crate) struct SignerFields {
    pub id: SignerId,
    /// Dotted OID of the digest algorithm.
    pub digest_oid: String,
    /// Dotted OID of the signature algorithm.
    pub signature_oid: String,
    /// Whether signed attributes are present (then the signature covers them, not the content).
    pub has_signed_attrs: bool,
    /// The value of the one `messageDigest` attribute.
    pub message_digest: Option<Vec<u8>>,
    /// The `signingTime` attribute: the raw text and whether it is a `GeneralizedTime`.
    pub signing_time: Option<(String, bool)>,
}

/// What the hub reads of a CMS `SignedData`.
#[derive(Debug, Clone)]
pub(crate) struct SignedData {
    /// The certificates carried in the signature (DER), in order.
    pub certificates: Vec<Range<usize>>,
    pub signers: Vec<SignerFields>,
    /// The encapsulated content, as the ranges of its primitive chunks; `None` when detached.
    pub content: Option<Vec<Range<usize>>>,
    /// The element path down to `eContent` and `eContent` itself, to cut it out.
    path: Vec<Tlv>,
}

/// Reads a CMS `ContentInfo` holding `SignedData`. Trailing bytes after it are refused.
pub(crate) fn parse_signed_data(buf: &[u8]) -> Result<SignedData> {
    let outer = read(buf, 0, buf.len(), 0)?;
    if outer.end != buf.len() {
        return err("bytes after the signature");
    }
    expect(&outer, SEQUENCE, "ContentInfo")?;
    let ci = children(buf, &outer, 0)?;
    let [content_type, explicit] = ci.as_slice() else {
        return err("ContentInfo does not have two fields");
    };
    expect(content_type, OID, "ContentInfo.contentType")?;
    if content(buf, content_type) != OID_SIGNED_DATA {
        return err("not CMS SignedData (a different content type)");
    }
    expect(explicit, CONTEXT_0, "ContentInfo.content")?;
    let inner = children(buf, explicit, 1)?;
    let [signed] = inner.as_slice() else {
        return err("ContentInfo.content holds more than one element");
    };
    expect(signed, SEQUENCE, "SignedData")?;
    let fields = children(buf, signed, 2)?;
    let mut it = fields.iter();
    let version = it
        .next()
        .ok_or_else(|| BerError("empty SignedData".into()))?;
    expect(version, INTEGER, "SignedData.version")?;
    let digests = it
        .next()
        .ok_or_else(|| BerError("SignedData without digestAlgorithms".into()))?;
    expect(digests, SET, "SignedData.digestAlgorithms")?;
    let encap = it
        .next()
        .ok_or_else(|| BerError("SignedData without encapContentInfo".into()))?;
    expect(encap, SEQUENCE, "SignedData.encapContentInfo")?;
    let encap_fields = children(buf, encap, 3)?;
    let mut path = vec![outer, *explicit, *signed, *encap];
    let content_chunks = match encap_fields.as_slice() {
        [ctype] => {
            expect(ctype, OID, "eContentType")?;
            None
        }
        [ctype, econtent] => {
            expect(ctype, OID, "eContentType")?;
            expect(econtent, CONTEXT_0, "eContent")?;
            let octets = children(buf, econtent, 4)?;
            let [octets] = octets.as_slice() else {
                return err("eContent holds more than one element");
            };
            let mut chunks = Vec::new();
            octet_chunks(buf, octets, 5, &mut chunks)?;
            path.push(*econtent);
            Some(chunks)
        }
        _ => return err("encapContentInfo has an unexpected shape"),
    };
    let mut next = it.next();
    let mut certificates = Vec::new();
    if let Some(certs) = next.filter(|t| t.tag == CONTEXT_0) {
        for cert in children(buf, certs, 3)? {
            // Other certificate formats (attribute certificates) are [n] tagged: skipped.
            if cert.tag == SEQUENCE {
                certificates.push(cert.start..cert.end);
            }
        }
        next = it.next();
    }
    if next.is_some_and(|t| t.tag == CONTEXT_1) {
        next = it.next();
    }
    let infos = next.ok_or_else(|| BerError("SignedData without signerInfos".into()))?;
    expect(infos, SET, "SignedData.signerInfos")?;
    if it.next().is_some() {
        return err("fields after SignedData.signerInfos");
    }
    let mut signers = Vec::new();
    for info in children(buf, infos, 3)? {
        signers.push(signer(buf, &info)?);
    }
    if signers.is_empty() {
        return err("no signer in the signature");
    }
    Ok(SignedData {
        certificates,
        signers,
        content: content_chunks,
        path,
    })
}

/// The content octets of a primitive element.
fn content<'a>(buf: &'a [u8], tlv: &Tlv) -> &'a [u8] {
    buf.get(tlv.content_start..tlv.content_end).unwrap_or(&[])
}

/// The primitive chunks of an OCTET STRING, constructed (BER) or not.
fn octet_chunks(buf: &[u8], tlv: &Tlv, depth: usize, out: &mut Vec<Range<usize>>) -> Result<()> {
    match tlv.tag {
        OCTET_STRING => {
            out.push(tlv.content_start..tlv.content_end);
            Ok(())
        }
        OCTET_STRING_CONSTRUCTED => {
            for child in children(buf, tlv, depth)? {
                octet_chunks(buf, &child, depth + 1, out)?;
            }
            Ok(())
        }
        other => err(format!(
            "eContent: tag 0x{other:02x}, expected an OCTET STRING"
        )),
    }
}

fn algorithm_oid(buf: &[u8], tlv: &Tlv, what: &str) -> Result<String> {
    expect(tlv, SEQUENCE, what)?;
    let fields = children(buf, tlv, 5)?;
    let oid = fields
        .first()
        .ok_or_else(|| BerError(format!("{what} is empty")))?;
    expect(oid, OID, what)?;
    oid_to_dotted(content(buf, oid)).ok_or_else(|| BerError(format!("{what}: a malformed OID")))
}

fn signer(buf: &[u8], info: &Tlv) -> Result<SignerFields> {
    expect(info, SEQUENCE, "SignerInfo")?;
    let fields = children(buf, info, 4)?;
    let mut it = fields.iter();
    let version = it
        .next()
        .ok_or_else(|| BerError("empty SignerInfo".into()))?;
    expect(version, INTEGER, "SignerInfo.version")?;
    let sid = it
        .next()
        .ok_or_else(|| BerError("SignerInfo without sid".into()))?;
    let id = match sid.tag {
        SEQUENCE => {
            let parts = children(buf, sid, 5)?;
            let [issuer, serial] = parts.as_slice() else {
                return err("SignerInfo.sid: issuerAndSerialNumber has an unexpected shape");
            };
            expect(issuer, SEQUENCE, "SignerInfo.sid.issuer")?;
            expect(serial, INTEGER, "SignerInfo.sid.serialNumber")?;
            SignerId::IssuerSerial {
                issuer: buf
                    .get(issuer.start..issuer.end)
                    .unwrap_or_default()
                    .to_vec(),
                serial: content(buf, serial).to_vec(),
            }
        }
        CONTEXT_0_PRIMITIVE => SignerId::KeyId(content(buf, sid).to_vec()),
        other => return err(format!("SignerInfo.sid: tag 0x{other:02x}")),
    };
    let digest = it
        .next()
        .ok_or_else(|| BerError("SignerInfo without digestAlgorithm".into()))?;
    let digest_oid = algorithm_oid(buf, digest, "SignerInfo.digestAlgorithm")?;
    let mut next = it
        .next()
        .ok_or_else(|| BerError("SignerInfo without signatureAlgorithm".into()))?;
    let mut fields = SignerFields {
        id,
        digest_oid,
        signature_oid: String::new(),
        has_signed_attrs: false,
        message_digest: None,
        signing_time: None,
    };
    if next.tag == CONTEXT_0 {
        fields.has_signed_attrs = true;
        signed_attributes(buf, next, &mut fields)?;
        next = it
            .next()
            .ok_or_else(|| BerError("SignerInfo without signatureAlgorithm".into()))?;
    }
    fields.signature_oid = algorithm_oid(buf, next, "SignerInfo.signatureAlgorithm")?;
    let signature = it
        .next()
        .ok_or_else(|| BerError("SignerInfo without signature".into()))?;
    if signature.tag != OCTET_STRING && signature.tag != OCTET_STRING_CONSTRUCTED {
        return err("SignerInfo.signature is not an OCTET STRING");
    }
    if let Some(rest) = it.next()
        && (rest.tag != CONTEXT_1 || it.next().is_some())
    {
        return err("fields after SignerInfo.signature");
    }
    Ok(fields)
}

/// Reads `messageDigest` and `signingTime`; each must occur at most once with one value, as
/// OpenSSL requires of `messageDigest`.
fn signed_attributes(buf: &[u8], attrs: &Tlv, out: &mut SignerFields) -> Result<()> {
    for attr in children(buf, attrs, 5)? {
        expect(&attr, SEQUENCE, "Attribute")?;
        let parts = children(buf, &attr, 6)?;
        let [oid, values] = parts.as_slice() else {
            return err("an Attribute with an unexpected shape");
        };
        expect(oid, OID, "Attribute.attrType")?;
        expect(values, SET, "Attribute.attrValues")?;
        let oid = content(buf, oid);
        if oid != OID_MESSAGE_DIGEST && oid != OID_SIGNING_TIME {
            continue;
        }
        let values = children(buf, values, 7)?;
        let [value] = values.as_slice() else {
            return err("a messageDigest or signingTime attribute without exactly one value");
        };
        if oid == OID_MESSAGE_DIGEST {
            if out.message_digest.is_some() {
                return err("two messageDigest attributes");
            }
            expect(value, OCTET_STRING, "messageDigest")?;
            out.message_digest = Some(content(buf, value).to_vec());
        } else {
            if out.signing_time.is_some() {
                return err("two signingTime attributes");
            }
            let generalized = match value.tag {
                UTC_TIME => false,
                GENERALIZED_TIME => true,
                other => return err(format!("signingTime: tag 0x{other:02x}")),
            };
            let text = std::str::from_utf8(content(buf, value))
                .map_err(|_| BerError("signingTime is not text".into()))?;
            out.signing_time = Some((text.to_owned(), generalized));
        }
    }
    Ok(())
}

/// `1.2.840…` from the content octets of an OID.
pub(crate) fn oid_to_dotted(bytes: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut in_arc = false;
    for &b in bytes {
        if !in_arc && b == 0x80 {
            return None; // non-minimal encoding
        }
        value = value.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        in_arc = b & 0x80 != 0;
        if !in_arc {
            arcs.push(value);
            value = 0;
        }
    }
    if in_arc || arcs.is_empty() {
        return None;
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..40 => (0, first),
        40..80 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for arc in &arcs[1..] {
        out.push('.');
        out.push_str(&arc.to_string());
    }
    Some(out)
}

/// The signature with its encapsulated content cut out: a detached signature over the same
/// content, which OpenSSL then reads without copying the content. The elements enclosing the
/// content are re-encoded with definite lengths; everything else is copied as it was.
pub(crate) fn without_content(buf: &[u8], data: &SignedData) -> Option<Vec<u8>> {
    if data.content.is_none() {
        return Some(buf.to_vec());
    }
    let (econtent, parents) = data.path.split_last()?;
    rebuild(buf, parents, econtent)
}

/// The first element of `parents` re-encoded with `removed` (inside the last parent) left out;
/// built from the inside out, because a shorter length can shorten the headers around it.
fn rebuild(buf: &[u8], parents: &[Tlv], removed: &Tlv) -> Option<Vec<u8>> {
    let (outer, inner) = parents.split_first()?;
    let mut content = Vec::new();
    if let Some(child) = inner.first() {
        content.extend_from_slice(buf.get(outer.content_start..child.start)?);
        content.extend(rebuild(buf, inner, removed)?);
        content.extend_from_slice(buf.get(child.end..outer.content_end)?);
    } else {
        content.extend_from_slice(buf.get(outer.content_start..removed.start)?);
        content.extend_from_slice(buf.get(removed.end..outer.content_end)?);
    }
    let mut out = vec![outer.tag];
    encode_len(content.len(), &mut out);
    out.extend(content);
    Some(out)
}

fn encode_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or(0));
    out.extend_from_slice(&bytes[skip..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_read_as_dotted_text() {
        assert_eq!(
            oid_to_dotted(OID_SIGNED_DATA).unwrap(),
            "1.2.840.113549.1.7.2"
        );
        // GOST R 34.10-2012 256: 1.2.643.7.1.1.1.1
        assert_eq!(
            oid_to_dotted(&[0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x01, 0x01]).unwrap(),
            "1.2.643.7.1.1.1.1"
        );
        assert!(oid_to_dotted(&[0x2a, 0x85]).is_none());
        assert!(oid_to_dotted(&[]).is_none());
    }

    #[test]
    fn lengths_encode_minimally() {
        for (len, want) in [
            (5usize, vec![5u8]),
            (0x80, vec![0x81, 0x80]),
            (0x1234, vec![0x82, 0x12, 0x34]),
        ] {
            let mut out = Vec::new();
            encode_len(len, &mut out);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn indefinite_and_definite_lengths_read() {
        // SEQUENCE (indefinite) { OCTET STRING "ab" } EOC
        let buf = [0x30, 0x80, 0x04, 0x02, b'a', b'b', 0, 0];
        let t = read(&buf, 0, buf.len(), 0).unwrap();
        assert_eq!((t.content_start, t.content_end, t.end), (2, 6, 8));
        let kids = children(&buf, &t, 0).unwrap();
        assert_eq!(kids.len(), 1);
        // a length beyond the input
        assert!(read(&[0x04, 0x05, 1], 0, 3, 0).is_err());
        // an unterminated indefinite length
        assert!(read(&[0x30, 0x80, 0x04, 0x00], 0, 4, 0).is_err());
        // primitive with indefinite length
        assert!(read(&[0x04, 0x80, 0, 0], 0, 4, 0).is_err());
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        let mut seed: u32 = 7;
        for len in 0..300usize {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed.to_le_bytes()[0]
                })
                .collect();
            let _ = parse_signed_data(&bytes);
            let mut nested = vec![0x30, 0x80];
            nested.extend_from_slice(&bytes);
            let _ = parse_signed_data(&nested);
        }
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 200).flatten().collect();
        assert!(parse_signed_data(&deep).is_err());
    }
}
