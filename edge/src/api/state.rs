//! What every API handler shares.

use rustshare_control::Control;

/// What handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// Control service.
    pub control: Control,
    /// S3 endpoint shown in key output.
    pub endpoint: String,
    /// Region shown in key output.
    pub region: String,
    /// Forgets cached copies after a purge or a change of publication rules.
    pub purge: std::sync::Arc<dyn crate::face::Purge>,
    /// Where purges are announced (`cdn.purge_webhook`).
    pub purge_webhook: Option<String>,
    /// Metrics, for CDN usage figures.
    pub metrics: crate::metrics::Metrics,
    /// Base URL of the CDN face shown to users.
    pub cdn_base: String,
    /// The package publisher.
    pub publisher: rustshare_publisher::Publisher,
    /// Base URL of the packages face shown to users.
    pub packages_base: String,
    /// Lifetime of a console login.
    pub session_lifetime: std::time::Duration,
    /// Signs registry tokens.
    pub registry: std::sync::Arc<rustshare_registry_bridge::token::Issuer>,
    /// The S3 face, for what the API does to objects as S3 would (restoring a version).
    pub s3: crate::face::s3::S3Face,
    /// Where this node's master key comes from (rotation rewrites the file).
    pub master_key: crate::master_key::KeySource,
}
