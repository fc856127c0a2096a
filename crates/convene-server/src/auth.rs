//! Credentials: API tokens (random secrets, stored as SHA-256 hashes, with a scope) and
//! participant auth tokens (HS256 JWTs naming the participant, meeting and expiry).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a participant token lives: 100 days, as RealtimeKit's.
pub const PARTICIPANT_TOKEN_TTL_SECS: u64 = 100 * 24 * 3600;

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything, including apps and presets.
    Admin,
    /// Meetings, participants, sessions, recordings and webhooks of its apps; presets read-only.
    Realtime,
    /// `GET` only.
    Read,
}

impl Scope {
    /// Parses `admin`, `realtime` or `read`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Scope::Admin),
            "realtime" => Some(Scope::Realtime),
            "read" => Some(Scope::Read),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Realtime => "realtime",
            Scope::Read => "read",
        }
    }
}

/// A new random API token secret.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("cvn_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The claims of a participant token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantClaims {
    /// Participant id.
    #[serde(rename = "participantId")]
    pub participant_id: String,
    /// Meeting id.
    #[serde(rename = "meetingId")]
    pub meeting_id: String,
    /// App id.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at (seconds since the epoch).
    pub exp: u64,
    /// Unique token id (so a refresh gives a different token).
    pub jti: String,
}

/// Why a participant token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT of ours.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match.
    #[error("bad token signature")]
    BadSignature,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
}

/// Signs and verifies participant tokens with one secret key.
#[derive(Clone)]
pub struct TokenKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl TokenKey {
    /// A key from stored bytes.
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// New random key bytes.
    pub fn generate() -> Vec<u8> {
        let mut bytes = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        bytes
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// A signed token for a participant, valid for 100 days from `now_secs`.
    pub fn issue(&self, participant_id: &str, meeting_id: &str, app_id: &str, now_secs: u64) -> String {
        let claims = ParticipantClaims {
            participant_id: participant_id.to_owned(),
            meeting_id: meeting_id.to_owned(),
            app_id: app_id.to_owned(),
            iat: now_secs,
            exp: now_secs + PARTICIPANT_TOKEN_TTL_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let payload = serde_json::to_vec(&claims).expect("claims serialise");
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(payload));
        let signature = URL_SAFE_NO_PAD.encode(self.mac(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    /// Checks a token's form, signature and expiry (revocation is checked against the store).
    pub fn verify(&self, token: &str, now_secs: u64) -> Result<ParticipantClaims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if URL_SAFE_NO_PAD.decode(header).ok().as_deref() != Some(HEADER.as_bytes()) {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{header}.{payload}").as_bytes());
        mac.verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?;
        let claims: ParticipantClaims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_refuse_tampering_and_expiry() {
        let key = TokenKey::new(TokenKey::generate());
        let t = key.issue("p", "m", "a", 1_000);
        let claims = key.verify(&t, 1_001).unwrap();
        assert_eq!((claims.participant_id.as_str(), claims.meeting_id.as_str()), ("p", "m"));
        assert_eq!(key.verify(&t, 1_000 + PARTICIPANT_TOKEN_TTL_SECS), Err(TokenError::Expired));
        let other = TokenKey::new(TokenKey::generate());
        assert_eq!(other.verify(&t, 1_001), Err(TokenError::BadSignature));
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD
            .encode(br#"{"participantId":"x","meetingId":"m","appId":"a","iat":1,"exp":9999999999,"jti":"j"}"#);
        parts[1] = &forged;
        assert_eq!(key.verify(&parts.join("."), 1_001), Err(TokenError::BadSignature));
        assert_eq!(key.verify("a.b", 1), Err(TokenError::Malformed));
        assert_ne!(t, key.issue("p", "m", "a", 1_000), "each token is unique");
    }

    #[test]
    fn secrets_are_hashed() {
        let s = generate_secret();
        assert!(s.starts_with("cvn_"));
        assert_eq!(hash_secret(&s).len(), 64);
        assert_ne!(hash_secret(&s), hash_secret(&generate_secret()));
    }
}
