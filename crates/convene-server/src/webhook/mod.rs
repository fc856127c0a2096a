//! Webhooks: events go into a persistent outbox (one row per subscribed webhook) in the same
//! store as everything else; a delivery task posts them, signed, retrying with backoff on 5xx,
//! 3xx and network errors (not on other 4xx), and picks up where it left off after a restart.
//! Deliveries run concurrently, one at a time per webhook ([`delivery`]), only to targets the
//! [`target`] policy allows.

pub mod delivery;
pub mod sign;
pub mod target;

use std::sync::Arc;

use tokio::sync::Notify;

pub use delivery::{deliver_forever, Delivery, DeliverySettings};
pub use sign::Signer;
pub use target::{TargetError, TargetPolicy};

/// The webhook queue's handle.
pub struct Webhooks {
    signer: Signer,
    wake: Arc<Notify>,
    policy: TargetPolicy,
    extra_roots: Vec<reqwest::Certificate>,
}

/// How webhooks are delivered (the operator's settings).
#[derive(Debug, Clone, Default)]
pub struct WebhookOptions {
    /// Allow loopback, private and link-local targets (`--webhook-allow-private`): for receivers
    /// on this machine or network. Off by default.
    pub allow_private: bool,
    /// A PEM file of CA certificates trusted for `https://` targets besides the system's roots
    /// (`--webhook-ca`), for receivers with a private CA.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Why the webhook options could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// The CA file could not be read.
    #[error("webhook CA file {0}: {1}")]
    Read(std::path::PathBuf, std::io::Error),
    /// The CA file holds no usable certificate.
    #[error("webhook CA file {0}: {1}")]
    Certificate(std::path::PathBuf, reqwest::Error),
}

pub use crate::store::now_ms;

impl Webhooks {
    /// A queue signing with `signer`, delivering as `options` say.
    pub fn new(signer: Signer, options: &WebhookOptions) -> Result<Self, OptionsError> {
        let mut extra_roots = Vec::new();
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path).map_err(|e| OptionsError::Read(path.clone(), e))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| OptionsError::Certificate(path.clone(), e))?;
            extra_roots.extend(certs);
        }
        let policy = TargetPolicy { allow_private: options.allow_private };
        Ok(Self { signer, wake: Arc::new(Notify::new()), policy, extra_roots })
    }

    /// CA certificates trusted besides the system's roots.
    pub fn extra_roots(&self) -> &[reqwest::Certificate] {
        &self.extra_roots
    }

    /// What wakes the delivery task.
    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Where deliveries may go.
    pub fn policy(&self) -> TargetPolicy {
        self.policy
    }

    /// The signer (for the public key endpoint).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Wakes the delivery task after the store queued deliveries itself (within another change).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
