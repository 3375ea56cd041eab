//! `rustshare space ...`: Object Spaces and their usage.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{Client, enc, human_bytes, out, parse_size};
use super::key::print_keys;

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
        purpose: String,
        /// private, public or cdn.
        #[arg(long, default_value = "private")]
        visibility: String,
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
            let quota_bytes = quota.as_deref().map(parse_size).transpose()?;
            let v = c.call(
                "POST",
                "/spaces",
                Some(json!({"name": name, "tenant": tenant, "purpose": purpose, "visibility": visibility, "quota_bytes": quota_bytes})),
            )?;
            out(json_out, &v, |v| {
                outln!("Created Object Space {}\n", v["name"].as_str().unwrap_or(""));
                print_space(v);
            });
        }
        SpaceCmd::List => out(json_out, &c.call("GET", "/spaces", None)?, |v| {
            outln!(
                "{:<24} {:<40} {:<10} {:<9} {:<12} status",
                "NAME",
                "BUCKET",
                "PURPOSE",
                "VISIBLE",
                "QUOTA"
            );
            for s in v["spaces"].as_array().into_iter().flatten() {
                let quota = s["quota_bytes"].as_u64().map_or_else(|| "unlimited".to_owned(), human_bytes);
                let status = if s["disabled_at"].is_null() { "active" } else { "disabled" };
                outln!(
                    "{:<24} {:<40} {:<10} {:<9} {:<12} {status}",
                    s["name"].as_str().unwrap_or(""),
                    s["bucket"].as_str().unwrap_or(""),
                    s["purpose"].as_str().unwrap_or(""),
                    s["visibility"].as_str().unwrap_or(""),
                    quota
                );
            }
        }),
        SpaceCmd::Show { space } => out(json_out, &c.call("GET", &format!("/spaces/{}", enc(&space)), None)?, print_space),
        SpaceCmd::Disable { space } => out(json_out, &c.call("POST", &format!("/spaces/{}/disable", enc(&space)), None)?, |v| {
            outln!(
                "Disabled {}: S3 requests to {} are refused from now on.",
                v["name"].as_str().unwrap_or(""),
                v["bucket"].as_str().unwrap_or("")
            );
        }),
        SpaceCmd::Quota { space, quota } => {
            let q = if quota == "unlimited" || quota == "none" {
                None
            } else {
                Some(parse_size(&quota)?)
            };
            out(
                json_out,
                &c.call("PUT", &format!("/spaces/{}/quota", enc(&space)), Some(json!({"quota_bytes": q})))?,
                |v| {
                    outln!(
                        "Quota of {} is now {}",
                        v["name"].as_str().unwrap_or(""),
                        v["quota_bytes"].as_u64().map_or_else(|| "unlimited".to_owned(), human_bytes)
                    );
                },
            );
        }
    }

    Ok(())
}

fn print_space(v: &Value) {
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
    outln!("Space:        {} ({})", s("name"), s("id"));
    outln!("Tenant:       {}", s("tenant_id"));
    outln!("Bucket:       {}", s("bucket"));
    outln!("Purpose:      {}   Visibility: {}", s("purpose"), s("visibility"));
    outln!("S3 API:       authenticated endpoint");
    outln!("Public web:   {}", v["public_web_access"].as_str().unwrap_or("disabled"));
    let quota = v["quota_bytes"].as_u64().map_or_else(|| "unlimited".to_owned(), human_bytes);
    outln!("Quota:        {quota}");
    if v["usage"].is_object() {
        let u = &v["usage"];
        outln!(
            "Usage:        {} in {} objects (+{} in multipart uploads, +{} published packages)",
            human_bytes(u["bytes"].as_u64().unwrap_or(0)),
            u["objects"].as_u64().unwrap_or(0),
            human_bytes(u["multipart_bytes"].as_u64().unwrap_or(0)),
            human_bytes(u["published_bytes"].as_u64().unwrap_or(0))
        );
    }
    if let Some(d) = v["disabled_at"].as_str() {
        outln!("Disabled at:  {d}");
    }
    outln!("Created:      {} by {}", s("created_at"), s("created_by"));
    if let Some(keys) = v["keys"].as_array() {
        outln!("Keys:");
        print_keys(keys);
    }
}

/// `rustshare usage <space>`: bytes, objects, uploads in progress, published packages, CDN figures.
pub(super) fn usage(c: &Client, json_out: bool, space: &str) -> Result<()> {
    out(json_out, &c.call("GET", &format!("/spaces/{}/usage", enc(space)), None)?, |v| {
        let u = &v["usage"];
        let quota = v["quota_bytes"].as_u64();
        let bytes = u["bytes"].as_u64().unwrap_or(0);
        outln!("Bucket:     {}", v["bucket"].as_str().unwrap_or(""));
        outln!(
            "Stored:     {} ({bytes} bytes) in {} objects",
            human_bytes(bytes),
            u["objects"].as_u64().unwrap_or(0)
        );
        outln!(
            "Multipart:  {} in uploads in progress",
            human_bytes(u["multipart_bytes"].as_u64().unwrap_or(0))
        );
        outln!(
            "Published:  {} of package repositories (pool, indices, snapshots)",
            human_bytes(u["published_bytes"].as_u64().unwrap_or(0))
        );
        let cdn = &v["cdn"];
        if cdn.is_object() {
            outln!(
                "CDN:        {} requests, {} sent, {} hits / {} misses / {} revalidated, {} store reads (this node, since it started)",
                cdn["requests"].as_u64().unwrap_or(0),
                human_bytes(cdn["bytes_out"].as_u64().unwrap_or(0)),
                cdn["hits"].as_u64().unwrap_or(0),
                cdn["misses"].as_u64().unwrap_or(0),
                cdn["revalidations"].as_u64().unwrap_or(0),
                cdn["origin_fetches"].as_u64().unwrap_or(0)
            );
        }
        match quota {
            Some(q) => outln!(
                "Quota:      {} ({:.1}% used)",
                human_bytes(q),
                if q == 0 {
                    100.0
                } else {
                    (bytes + u["multipart_bytes"].as_u64().unwrap_or(0) + u["published_bytes"].as_u64().unwrap_or(0)) as f64 * 100.0
                        / q as f64
                }
            ),
            None => outln!("Quota:      unlimited"),
        }
    });

    Ok(())
}
