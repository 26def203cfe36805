//! The generic webhook's signature: HMAC-SHA256 over `TIMESTAMP.BODY` with a shared secret, sent as
//! `X-Trailguard-Signature: t=TIMESTAMP,v1=HEX`, with the message's id in `X-Trailguard-Delivery`.
//!
//! A receiver recomputes the MAC over the timestamp it was given and the raw body, compares in constant
//! time, and refuses a timestamp older than its tolerance (a replay of a captured request); within the
//! tolerance, a delivery id it has already accepted is a replay too (or our own retry after a lost
//! answer, which it should acknowledge without acting twice).

use hmac::{Hmac, KeyInit, Mac};
use sha2_hmac::Sha256;

pub const SIGNATURE_HEADER: &str = "x-trailguard-signature";
pub const DELIVERY_HEADER: &str = "x-trailguard-delivery";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

#[cfg_attr(not(test), allow(dead_code))] // A receiver's side: used by the tests.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the signature header is not `t=TIMESTAMP,v1=HEX`")]
    Malformed,
    #[error("the signature is {age} s old, more than the {tolerance} s allowed (a replay?)")]
    Stale { age: i64, tolerance: i64 },
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a received request: the header, the raw body, the receiver's clock (`now`, Unix seconds)
/// and how old a signature may be.
#[cfg_attr(not(test), allow(dead_code))] // A receiver's side: used by the tests.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => tag = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(tag)) = (timestamp, tag) else {
        return Err(SignatureError::Malformed);
    };
    let age = now.saturating_sub(timestamp);
    if age.abs() > tolerance {
        return Err(SignatureError::Stale { age, tolerance });
    }
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_or_delay_is_refused() {
        let body = br#"{"id":"tg-1"}"#;
        let header = sign(b"s3cret", 1_700_000_000, body);
        assert_eq!(verify(b"s3cret", &header, body, 1_700_000_010, 300), Ok(()));
        assert_eq!(
            verify(b"s3cret", &header, br#"{"id":"tg-2"}"#, 1_700_000_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, body, 1_700_000_010, 300),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is under the MAC: moving it forward to pass the age check breaks the MAC.
        let moved = header.replace("t=1700000000", "t=1700000900");
        assert_eq!(
            verify(b"s3cret", &moved, body, 1_700_000_900, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", &header, body, 1_700_000_301, 300),
            Err(SignatureError::Stale {
                age: 301,
                tolerance: 300
            })
        );
        assert_eq!(
            verify(b"s3cret", "v1=zz", body, 0, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn the_mac_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2 on the primitive `sign` builds on (key "Jefe").
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
