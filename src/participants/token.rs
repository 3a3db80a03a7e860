//! Bearer tokens of participants: making a new one and the digest the hub stores instead of it.
//!
//! A token is `omshub_` followed by 64 lower-case hex digits (32 bytes from OpenSSL's random
//! generator). The hub keeps only the SHA-256 of the whole token, so a copy of the database
//! gives no usable token. [`looks_like_token`] lets authentication skip the database for
//! anything that cannot be an issued token. Used by `repo` and `api::auth`.

use sha2::{Digest, Sha256};

use super::hex;

/// What every issued token starts with, so secret scanners and people recognise it.
pub const PREFIX: &str = "omshub_";

/// Random bytes in a token.
const RANDOM_BYTES: usize = 32;

/// A new random token.
pub fn generate() -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = [0u8; RANDOM_BYTES];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(format!("{PREFIX}{}", hex(&bytes)))
}

/// The stored form of `token`: SHA-256 of its UTF-8 bytes, lower-case hex.
#[must_use]
pub fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of an issued token (prefix, 64 lower-case hex digits).
#[must_use]
pub fn looks_like_token(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == RANDOM_BYTES * 2
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_digested() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert!(looks_like_token(&a), "{a}");
        assert_eq!(a.len(), PREFIX.len() + 64);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!looks_like_token("test-admin-token-0123456789"));
        assert!(!looks_like_token(&a.to_uppercase()));
        assert!(!looks_like_token(&a[..a.len() - 1]));
    }
}
