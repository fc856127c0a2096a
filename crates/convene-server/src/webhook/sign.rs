//! Webhook signatures as RealtimeKit makes them: RSASSA-PKCS1-v1_5 with SHA-256 over the raw
//! body, base64 in the `rtk-signature` header; the public key (SPKI PEM) is served at
//! `/.well-known/webhooks.json`. The key pair is generated once and kept in the data directory.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer as _};
use rsa::RsaPrivateKey;
use sha2::Sha256;

/// Signs webhook bodies.
pub struct Signer {
    key: SigningKey<Sha256>,
    public_pem: String,
}

/// Why the key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the key file failed.
    #[error("webhook key file: {0}")]
    Io(#[from] std::io::Error),
    /// The key file is not a PKCS#8 RSA key.
    #[error("webhook key: {0}")]
    Key(String),
}

impl Signer {
    /// Loads the key pair from `path`, or generates one and writes it there (mode 0600).
    /// With no path, generates a key for this run only.
    pub fn load_or_create(path: Option<&Path>) -> Result<Self, KeyError> {
        match path {
            Some(p) if p.exists() => {
                crate::files::restrict(p, 0o600)?;
                Self::from_pem(&std::fs::read_to_string(p)?)
            }
            _ => {
                let (signer, pem) = Self::generate()?;
                if let Some(p) = path {
                    write_private(p, pem.as_bytes())?;
                }
                Ok(signer)
            }
        }
    }

    /// A new key pair, and its private key as PKCS#8 PEM (to keep, and to load with
    /// [`Signer::from_pem`]).
    pub fn generate() -> Result<(Self, String), KeyError> {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| KeyError::Key(e.to_string()))?;
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Key(e.to_string()))?.to_string();
        Ok((Self::from_key(key)?, pem))
    }

    /// The key pair of a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_key(RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Key(e.to_string()))?)
    }

    fn from_key(key: RsaPrivateKey) -> Result<Self, KeyError> {
        let public_pem =
            key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| KeyError::Key(e.to_string()))?;
        Ok(Self { key: SigningKey::<Sha256>::new(key), public_pem })
    }

    /// The base64 signature of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.key.sign(body).to_bytes())
    }

    /// The public key, SPKI PEM.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::VerifyingKey;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    #[test]
    fn signatures_verify_with_the_published_key_and_the_key_persists() {
        let dir = std::env::temp_dir().join(format!("convene-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("webhook_key.pem");
        let a = Signer::load_or_create(Some(&path)).unwrap();
        let b = Signer::load_or_create(Some(&path)).unwrap();
        assert_eq!(a.public_pem(), b.public_pem(), "the same key after a restart");
        let sig = STANDARD.decode(a.sign(b"{\"event\":\"meeting.ended\"}")).unwrap();
        let public = rsa::RsaPublicKey::from_public_key_pem(b.public_pem()).unwrap();
        let verifier = VerifyingKey::<Sha256>::new(public);
        let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
        assert!(verifier.verify(b"{\"event\":\"meeting.ended\"}", &sig).is_ok());
        assert!(verifier.verify(b"{\"event\":\"meeting.ended\" }", &sig).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
