//! Secrets: random tokens, the hashes the store keeps instead of them, the
//! constant-time comparison, and the opaque tag a page knows its user by.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new secret of 256 random bits from the OS-seeded CSPRNG, URL-safe.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of a secret, hex: what the store keys rows by, so a leaked
/// table does not hand out live session cookies.
pub(crate) fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// [`hash`] of the tokens seen lately, so that a session served from
/// memory costs no SHA-256 (a large part of a cached request). Keyed by a
/// 128-bit SipHash of the token under keys drawn at launch: nobody outside
/// the process can make two tokens meet, and the raw token is never kept.
pub(crate) struct TokenHashes {
    seen: Option<quick_cache::sync::Cache<u128, std::sync::Arc<str>>>,
    keys: [std::collections::hash_map::RandomState; 2],
}

impl TokenHashes {
    /// Remembers up to `capacity` tokens (the session cache's size); none
    /// with 0.
    pub fn new(capacity: u64) -> Self {
        TokenHashes {
            seen: (capacity > 0).then(|| quick_cache::sync::Cache::new(capacity as usize)),
            keys: Default::default(),
        }
    }

    /// `hash(token)`, from memory when the token was seen lately.
    pub fn of(&self, token: &str) -> std::sync::Arc<str> {
        use std::hash::BuildHasher;
        let Some(seen) = &self.seen else {
            return hash(token).into();
        };
        let [high, low] = self.keys.each_ref().map(|key| key.hash_one(token));
        let fingerprint = (u128::from(high) << 64) | u128::from(low);
        if let Some(hash) = seen.get(&fingerprint) {
            return hash;
        }
        let hash: std::sync::Arc<str> = hash(token).into();
        seen.insert(fingerprint, hash.clone());
        hash
    }
}

/// Lowercase hex in one allocation: every request with a cookie hashes it.
fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

/// Compares two secrets in time independent of where they differ. Their
/// lengths may show (every secret here has a public, fixed length); their
/// bytes do not.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The CSRF token as one response shows it: a fresh random mask, then the
/// token XOR the mask, so no two responses carry the same bytes and a
/// compressed page that also reflects input (BREACH) cannot be searched for
/// it byte by byte. [`same_csrf`] takes it back, as Django does.
pub(crate) fn masked(token: &str) -> String {
    let Ok(raw) = URL_SAFE_NO_PAD.decode(token) else {
        return token.to_owned();
    };
    let mut mask = vec![0u8; raw.len()];
    rand::thread_rng().fill_bytes(&mut mask);
    let hidden: Vec<u8> = raw.iter().zip(&mask).map(|(t, m)| t ^ m).collect();
    URL_SAFE_NO_PAD.encode([mask, hidden].concat())
}

/// Whether `sent` is `token`, masked ([`masked`]) or as it is stored (what
/// pages and scripts written before masking send).
pub(crate) fn same_csrf(token: &str, sent: &str) -> bool {
    let unmasked = URL_SAFE_NO_PAD
        .decode(sent)
        .ok()
        .filter(|bytes| bytes.len() == 64)
        .map(|bytes| {
            let (mask, hidden) = bytes.split_at(32);
            let raw: Vec<u8> = mask.iter().zip(hidden).map(|(m, h)| m ^ h).collect();
            URL_SAFE_NO_PAD.encode(raw)
        });
    same_secret(token, unmasked.as_deref().unwrap_or(sent))
}

/// Whether a cookie value could be one of our secrets at all; anything else
/// is treated as no session without touching the store.
pub(crate) fn well_formed(secret: &str) -> bool {
    secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The opaque tag a page knows its user by: HMAC-SHA256 of the user id
/// under the deployment's `key` (kept in the store), cut to 128 bits. A
/// tab compares it with the tag of messages, pong answers and the user
/// cookie, so it never adopts another user's activity; without the key a
/// dictionary of user names does not reverse it, as it would a plain hash.
pub(crate) fn user_tag(key: &str, user_id: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    hex(&mac.finalize().into_bytes()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_token_hashes_are_the_hashes() {
        for capacity in [0, 2] {
            let hashes = TokenHashes::new(capacity);
            for token in ["a", "b", "a", "c", "a", "b"] {
                assert_eq!(&*hashes.of(token), hash(token), "capacity {capacity}");
            }
        }
    }

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_masked_csrf_token_differs_every_time_and_still_matches() {
        let token = random_secret();
        let (one, two) = (masked(&token), masked(&token));
        assert_ne!(one, two, "a new mask each time");
        assert!(!one.contains(&token));
        assert!(same_csrf(&token, &one) && same_csrf(&token, &two));
        assert!(same_csrf(&token, &token), "the plain token still works");
        assert!(
            !same_csrf(&random_secret(), &one),
            "another session's token"
        );
        assert!(!same_csrf(&token, &one[1..]));
        assert!(!same_csrf(&token, &format!("{one}A")));
        assert!(!same_csrf(&token, ""));
    }

    #[test]
    fn user_tag_is_the_hmac_of_the_user_id_under_the_key() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            user_tag("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c7"
        );
        assert_ne!(user_tag("key one", "alice"), user_tag("key two", "alice"));
        assert_ne!(user_tag("key one", "alice"), user_tag("key one", "bob"));
    }
}
