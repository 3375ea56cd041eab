//! `rustshare space ...`: Object Spaces and their usage.

use anyhow::{Context, Result};
use clap::Subcommand;
use rustshare_control::NewSpace;
use rustshare_control::model::{Purpose, Space, Versioning, Visibility};

use super::client::{Client, NO_BODY, enc, human_bytes, parse_size, show};
use super::key::print_keys;
use rustshare_control::cors::CorsRule;

use crate::api::dto::{
    CorsBody, CorsState, LifecycleBody, LifecycleState, OnOff, QuotaBody, SpaceList, SpaceUsage, SpaceView, VersioningBody,
};
use rustshare_control::lifecycle::LifecycleRule;

#[derive(Subcommand, Debug)]
pub(super) enum SpaceCmd {
    /// Create a space.
    Create {
        name: String,
        /// Tenant id or name (operator tokens).
        #[arg(long)]
        tenant: Option<String>,
        /// generic, cdn, artifacts, packages or registry.
        #[arg(long, default_value = "generic")]
        purpose: Purpose,
        /// private, public or cdn.
        #[arg(long, default_value = "private")]
        visibility: Visibility,
        /// Quota, for example 10GiB or 500MB.
        #[arg(long)]
        quota: Option<String>,
    },
    /// List spaces.
    List,
    /// Show a space with usage and keys.
    Show { space: String },
    /// Disable a space.
    Disable { space: String },
    /// Set the quota (a size, or "unlimited").
    Quota { space: String, quota: String },
    /// Show or set the S3 endpoint's CORS rules for the space's bucket (what browsers may do
    /// with presigned URLs and POST forms).
    Cors {
        space: String,
        /// A JSON file: aws-cli's `put-bucket-cors` form (`{"CORSRules": [...]}`) or ours
        /// (`{"rules": [{"allowed_origins": [...], "allowed_methods": [...]}]}`).
        #[arg(long, conflicts_with = "clear")]
        set: Option<std::path::PathBuf>,
        /// Remove the rules.
        #[arg(long)]
        clear: bool,
    },
    /// Show or set the lifecycle rules: what expires and when (current objects, noncurrent
    /// versions, lone delete markers, uploads left in progress).
    Lifecycle {
        space: String,
        /// A JSON file: aws-cli's `put-bucket-lifecycle-configuration` form (`{"Rules": [...]}`)
        /// or ours (`{"rules": [{"id": "ci", "prefix": "ci/", "expire_days": 30}]}`).
        #[arg(long, conflicts_with = "clear")]
        set: Option<std::path::PathBuf>,
        /// Remove the rules.
        #[arg(long)]
        clear: bool,
    },
    /// Keep the versions of the space's objects (enable), or stop making new ones (suspend:
    /// writes replace the `null` version, older versions stay). A space never returns to
    /// unversioned.
    Versioning {
        space: String,
        /// enable or suspend.
        #[arg(value_parser = ["enable", "suspend"])]
        state: String,
    },
    /// Object lock: with no option, shows it; otherwise enables it (versioning must be enabled,
    /// and stays so) and replaces its rules with the ones given.
    ObjectLock {
        space: String,
        /// The retention every new version gets, as S3's default retention:
        /// `GOVERNANCE:30d`, `COMPLIANCE:1y`.
        #[arg(long = "default", value_name = "MODE:PERIOD")]
        default_retention: Option<String>,
        /// A write-once prefix: keys under it cannot be overwritten or deleted while their
        /// version is retained. `releases/=forever`, `releases/=90d,COMPLIANCE` (the mode is
        /// GOVERNANCE unless given: the operator can still undo a mistake). Repeatable.
        #[arg(long = "write-once", value_name = "PREFIX=PERIOD[,MODE]")]
        write_once: Vec<String>,
        /// Enable with no default retention and no write-once prefix (versions locked only
        /// when a write or PutObjectRetention asks).
        #[arg(long, conflicts_with_all = ["default_retention", "write_once"])]
        enable: bool,
    },
}

fn retention_mode(m: &str) -> Result<rustshare_control::lock::RetentionMode> {
    m.to_ascii_uppercase().parse().map_err(|e: String| anyhow::anyhow!(e))
}

/// `30d`, `1y` or (when allowed) `forever`: days (or years) as `(days, years)`.
fn period(p: &str, forever_ok: bool) -> Result<(Option<u32>, Option<u32>)> {
    let bad = || {
        anyhow::anyhow!(
            "period {p:?}: write a number of days or years such as 30d or 1y{}",
            if forever_ok { ", or forever" } else { "" }
        )
    };
    if p == "forever" && forever_ok {
        return Ok((None, None));
    }
    let (n, unit) = p.split_at(p.len().saturating_sub(1));
    let n: u32 = n.parse().map_err(|_| bad())?;
    match unit {
        "d" => Ok((Some(n), None)),
        "y" => Ok((None, Some(n))),
        _ => Err(bad()),
    }
}

/// The configuration the `space object-lock` options describe.
fn lock_config(default_retention: Option<&str>, write_once: &[String]) -> Result<rustshare_control::lock::LockConfig> {
    use rustshare_control::lock::{DefaultRetention, LockConfig, RetentionMode, WriteOnce};
    let default_retention = match default_retention {
        None => None,
        Some(d) => {
            let (mode, p) = d
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("--default {d:?}: write MODE:PERIOD, such as GOVERNANCE:30d"))?;
            let (days, years) = period(p, false)?;
            Some(DefaultRetention {
                mode: retention_mode(mode)?,
                days,
                years,
            })
        }
    };
    let mut rules = Vec::new();
    for w in write_once {
        let (prefix, rest) = w
            .rsplit_once('=')
            .ok_or_else(|| anyhow::anyhow!("--write-once {w:?}: write PREFIX=PERIOD[,MODE], such as releases/=forever"))?;
        let (p, mode) = match rest.split_once(',') {
            Some((p, m)) => (p, retention_mode(m)?),
            None => (rest, RetentionMode::Governance),
        };
        let days = match period(p, true)? {
            (d, None) => d,
            (None, Some(y)) => Some(y.saturating_mul(365)),
            (Some(_), Some(_)) => None,
        };
        rules.push(WriteOnce {
            prefix: prefix.to_owned(),
            mode,
            days,
        });
    }
    Ok(LockConfig {
        default_retention,
        write_once: rules,
    })
}

/// How a space's object lock reads in `space show` and `space object-lock`.
fn lock_text(s: &Space) -> String {
    let Some(c) = &s.object_lock else {
        return "off".to_owned();
    };
    let mut parts = vec!["enabled".to_owned()];
    if let Some(d) = &c.default_retention {
        let p = d
            .days
            .map_or_else(|| format!("{}y", d.years.unwrap_or_default()), |n| format!("{n}d"));
        parts.push(format!("default {} {p}", d.mode));
    }
    for w in &c.write_once {
        let p = w.days.map_or_else(|| "forever".to_owned(), |n| format!("{n}d"));
        parts.push(format!("write-once {} {p} {}", w.prefix, w.mode));
    }
    parts.join("; ")
}

/// aws-cli's CORS document (`aws s3api put-bucket-cors --cors-configuration file://...`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AwsCors {
    #[serde(rename = "CORSRules")]
    cors_rules: Vec<AwsCorsRule>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AwsCorsRule {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    allowed_origins: Vec<String>,
    allowed_methods: Vec<String>,
    #[serde(default)]
    allowed_headers: Vec<String>,
    #[serde(default)]
    expose_headers: Vec<String>,
    #[serde(default)]
    max_age_seconds: Option<u32>,
}

/// The rules of a file in either form.
fn cors_file(path: &std::path::Path) -> Result<CorsBody> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if let Ok(aws) = serde_json::from_str::<AwsCors>(&text) {
        let rules = aws
            .cors_rules
            .into_iter()
            .map(|r| CorsRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers,
                expose_headers: r.expose_headers,
                max_age_seconds: r.max_age_seconds,
            })
            .collect();
        return Ok(CorsBody { rules });
    }
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected {{\"CORSRules\": [...]}} (aws-cli's form) or {{\"rules\": [...]}}",
            path.display()
        )
    })
}

pub(super) fn run(c: &Client, json_out: bool, cmd: SpaceCmd) -> Result<()> {
    match cmd {
        SpaceCmd::Create {
            name,
            tenant,
            purpose,
            visibility,
            quota,
        } => {
            let body = NewSpace {
                tenant,
                name,
                purpose: Some(purpose),
                visibility: Some(visibility),
                quota_bytes: quota.as_deref().map(parse_size).transpose()?,
                workspace_id: None,
            };
            let v: Space = c.typed("POST", "/spaces", Some(&body))?;
            show(json_out, &v, |v| {
                outln!("Created Object Space {}\n", v.name);
                print_space(v, None);
            });
        }
        SpaceCmd::List => {
            let v: SpaceList = c.typed("GET", "/spaces", NO_BODY)?;
            show(json_out, &v, |v| {
                outln!(
                    "{:<24} {:<40} {:<10} {:<9} {:<12} status",
                    "NAME",
                    "BUCKET",
                    "PURPOSE",
                    "VISIBLE",
                    "QUOTA"
                );
                for row in &v.spaces {
                    let s = &row.space;
                    let status = if s.disabled_at.is_none() { "active" } else { "disabled" };
                    outln!(
                        "{:<24} {:<40} {:<10} {:<9} {:<12} {status}",
                        s.name,
                        s.bucket,
                        s.purpose.as_str(),
                        s.visibility.as_str(),
                        quota_text(s.quota_bytes)
                    );
                }
            });
        }
        SpaceCmd::Show { space } => {
            let v: SpaceView = c.typed("GET", &format!("/spaces/{}", enc(&space)), NO_BODY)?;
            show(json_out, &v, |v| print_space(&v.space, Some(v)));
        }
        SpaceCmd::Disable { space } => {
            let v: Space = c.typed("POST", &format!("/spaces/{}/disable", enc(&space)), NO_BODY)?;
            show(json_out, &v, |v| {
                outln!("Disabled {}: S3 requests to {} are refused from now on.", v.name, v.bucket);
            });
        }
        SpaceCmd::Quota { space, quota } => {
            let quota_bytes = if quota == "unlimited" || quota == "none" {
                None
            } else {
                Some(parse_size(&quota)?)
            };
            let v: Space = c.typed("PUT", &format!("/spaces/{}/quota", enc(&space)), Some(&QuotaBody { quota_bytes }))?;
            show(json_out, &v, |v| {
                outln!("Quota of {} is now {}", v.name, quota_text(v.quota_bytes));
            });
        }
        SpaceCmd::Cors { space, set, clear } => {
            let path = format!("/spaces/{}/cors", enc(&space));
            let v: CorsState = match (set, clear) {
                (Some(file), _) => c.typed("PUT", &path, Some(&cors_file(&file)?))?,
                (None, true) => c.typed("DELETE", &path, NO_BODY)?,
                (None, false) => c.typed("GET", &path, NO_BODY)?,
            };
            show(json_out, &v, print_cors);
        }
        SpaceCmd::Lifecycle { space, set, clear } => {
            let path = format!("/spaces/{}/lifecycle", enc(&space));
            let v: LifecycleState = match (set, clear) {
                (Some(file), _) => c.typed("PUT", &path, Some(&lifecycle_file(&file)?))?,
                (None, true) => c.typed("DELETE", &path, NO_BODY)?,
                (None, false) => c.typed("GET", &path, NO_BODY)?,
            };
            show(json_out, &v, print_lifecycle);
        }
        SpaceCmd::Versioning { space, state } => {
            let versioning = if state == "enable" {
                Versioning::Enabled
            } else {
                Versioning::Suspended
            };
            let v: Space = c.typed(
                "PUT",
                &format!("/spaces/{}/versioning", enc(&space)),
                Some(&VersioningBody { versioning }),
            )?;
            show(json_out, &v, |v| {
                outln!("Versioning of {} is now {}", v.name, v.versioning);
            });
        }
        SpaceCmd::ObjectLock {
            space,
            default_retention,
            write_once,
            enable,
        } => {
            let v: Space = if enable || default_retention.is_some() || !write_once.is_empty() {
                let body = lock_config(default_retention.as_deref(), &write_once)?;
                c.typed("PUT", &format!("/spaces/{}/object-lock", enc(&space)), Some(&body))?
            } else {
                let view: SpaceView = c.typed("GET", &format!("/spaces/{}", enc(&space)), NO_BODY)?;
                view.space
            };
            show(json_out, &v, |v| {
                outln!("Object lock of {}: {}", v.name, lock_text(v));
            });
        }
    }

    Ok(())
}

/// aws-cli's lifecycle document (`aws s3api put-bucket-lifecycle-configuration
/// --lifecycle-configuration file://...`), the parts we keep.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsLifecycle {
    rules: Vec<AwsLifecycleRule>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsLifecycleRule {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    status: String,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    filter: Option<AwsFilter>,
    #[serde(default)]
    expiration: Option<AwsExpiration>,
    #[serde(default)]
    noncurrent_version_expiration: Option<AwsNoncurrent>,
    #[serde(default)]
    abort_incomplete_multipart_upload: Option<AwsAbort>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsFilter {
    #[serde(default)]
    prefix: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsExpiration {
    #[serde(default)]
    days: Option<u32>,
    #[serde(default)]
    expired_object_delete_marker: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsNoncurrent {
    #[serde(default)]
    noncurrent_days: Option<u32>,
    #[serde(default)]
    newer_noncurrent_versions: Option<u32>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsAbort {
    days_after_initiation: u32,
}

/// The rules of a file in either form (aws-cli's tag filters and dates are refused by the
/// server's own check through the S3 API; here the file says what we keep).
fn lifecycle_file(path: &std::path::Path) -> Result<LifecycleBody> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if let Ok(aws) = serde_json::from_str::<AwsLifecycle>(&text) {
        let rules = aws
            .rules
            .into_iter()
            .enumerate()
            .map(|(n, r)| LifecycleRule {
                id: r.id.unwrap_or_else(|| format!("rule-{}", n + 1)),
                enabled: r.status == "Enabled",
                prefix: r.filter.and_then(|f| f.prefix).or(r.prefix).unwrap_or_default(),
                tags: std::collections::BTreeMap::new(),
                expire_days: r.expiration.as_ref().and_then(|e| e.days),
                noncurrent_days: r.noncurrent_version_expiration.as_ref().and_then(|e| e.noncurrent_days),
                keep_noncurrent: r.noncurrent_version_expiration.as_ref().and_then(|e| e.newer_noncurrent_versions),
                expired_delete_markers: r.expiration.as_ref().and_then(|e| e.expired_object_delete_marker).unwrap_or(false),
                abort_multipart_days: r.abort_incomplete_multipart_upload.map(|a| a.days_after_initiation),
            })
            .collect();
        return Ok(LifecycleBody { rules });
    }
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected {{\"Rules\": [...]}} (aws-cli's form) or {{\"rules\": [...]}}",
            path.display()
        )
    })
}

fn print_lifecycle(v: &LifecycleState) {
    let Some(rules) = &v.rules else {
        outln!("No lifecycle rules on {}: nothing expires.", v.bucket);
        return;
    };
    outln!("Lifecycle rules of {}:", v.bucket);
    for r in rules {
        let mut what = Vec::new();
        if let Some(d) = r.expire_days {
            what.push(format!("objects expire after {d} days"));
        }
        if let Some(d) = r.noncurrent_days {
            let keep = r.keep_noncurrent.map(|k| format!(" (the newest {k} kept)")).unwrap_or_default();
            what.push(format!("noncurrent versions go {d} days after they were replaced{keep}"));
        }
        if r.expired_delete_markers {
            what.push("lone delete markers go".to_owned());
        }
        if let Some(d) = r.abort_multipart_days {
            what.push(format!("uploads are aborted after {d} days"));
        }
        let scope = if r.prefix.is_empty() {
            "every key".to_owned()
        } else {
            format!("keys under {}", r.prefix)
        };
        let off = if r.enabled { "" } else { " (disabled)" };
        outln!("  {}{off}: {scope}: {}", r.id, what.join("; "));
    }
}

fn print_cors(v: &CorsState) {
    let Some(rules) = &v.rules else {
        outln!("No CORS rules on {}: browsers may not call the S3 endpoint for it.", v.bucket);
        return;
    };
    outln!("CORS rules of {} (first match wins):", v.bucket);
    for (n, r) in rules.iter().enumerate() {
        outln!(
            "  {}. {} from {}{}{}",
            n + 1,
            r.allowed_methods.join(","),
            r.allowed_origins.join(" "),
            if r.allowed_headers.is_empty() {
                String::new()
            } else {
                format!(", headers {}", r.allowed_headers.join(" "))
            },
            r.max_age_seconds.map(|s| format!(", cached {s} s")).unwrap_or_default()
        );
    }
}

fn quota_text(q: Option<u64>) -> String {
    q.map_or_else(|| "unlimited".to_owned(), human_bytes)
}

fn date(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// A space; with its view (`space show`), its usage, access and keys too.
fn print_space(s: &Space, view: Option<&SpaceView>) {
    outln!("Space:        {} ({})", s.name, s.id);
    outln!("Tenant:       {}", s.tenant_id);
    outln!("Bucket:       {}", s.bucket);
    outln!("Purpose:      {}   Visibility: {}", s.purpose, s.visibility);
    outln!("S3 API:       authenticated endpoint");
    let public = view.map_or(OnOff::Disabled, |v| v.public_web_access);
    outln!("Public web:   {}", if public == OnOff::Enabled { "enabled" } else { "disabled" });
    outln!("Quota:        {}", quota_text(s.quota_bytes));
    outln!("Versioning:   {}", s.versioning);
    if s.object_lock.is_some() {
        outln!("Object lock:  {}", lock_text(s));
    }
    if let Some(v) = view {
        let u = &v.usage;
        outln!(
            "Usage:        {} in {} objects (+{} in multipart uploads, +{} published packages)",
            human_bytes(u.bytes),
            u.objects,
            human_bytes(u.multipart_bytes),
            human_bytes(u.published_bytes)
        );
    }
    if let Some(d) = s.disabled_at {
        outln!("Disabled at:  {}", date(d));
    }
    outln!("Created:      {} by {}", date(s.created_at), s.created_by);
    if let Some(v) = view {
        outln!("Keys:");
        print_keys(&v.keys);
    }
}

/// `rustshare usage <space>`: bytes, objects, uploads in progress, published packages, CDN figures.
pub(super) fn usage(c: &Client, json_out: bool, space: &str) -> Result<()> {
    let v: SpaceUsage = c.typed("GET", &format!("/spaces/{}/usage", enc(space)), NO_BODY)?;
    show(json_out, &v, |v| {
        let u = &v.usage;
        outln!("Bucket:     {}", v.bucket);
        outln!("Stored:     {} ({} bytes) in {} objects", human_bytes(u.bytes), u.bytes, u.objects);
        outln!(
            "Versions:   {} in {} noncurrent versions, {} delete markers",
            human_bytes(u.noncurrent_bytes),
            u.noncurrent_objects,
            u.delete_markers
        );
        outln!("Multipart:  {} in uploads in progress", human_bytes(u.multipart_bytes));
        outln!(
            "Published:  {} of package repositories (pool, indices, snapshots)",
            human_bytes(u.published_bytes)
        );
        let cdn = &v.cdn;
        outln!(
            "CDN:        {} requests, {} sent, {} hits / {} misses / {} revalidated, {} store reads (this node, since it started)",
            cdn.requests,
            human_bytes(cdn.bytes_out),
            cdn.hits,
            cdn.misses,
            cdn.revalidations,
            cdn.origin_fetches
        );
        match v.quota_bytes {
            Some(q) => outln!(
                "Quota:      {} ({:.1}% used)",
                human_bytes(q),
                if q == 0 { 100.0 } else { u.counted() as f64 * 100.0 / q as f64 }
            ),
            None => outln!("Quota:      unlimited"),
        }
    });

    Ok(())
}
