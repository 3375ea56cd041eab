//! `rustshare public ...`: public web access of a space.

use anyhow::{Context as _, Result};
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{Client, enc, out};

#[derive(Subcommand, Debug)]
pub(super) enum PublicCmd {
    /// Enable anonymous web access (or change its rules); options left out keep their value.
    Enable {
        space: String,
        /// URL segment: cdn.<domain>/<name>/... (default: <tenant>-<space>).
        #[arg(long)]
        name: Option<String>,
        /// Published prefix (repeat; "" for the whole space).
        #[arg(long = "prefix")]
        prefixes: Vec<String>,
        /// Cache-Control for published objects.
        #[arg(long)]
        cache_control: Option<String>,
        /// Per-prefix Cache-Control, PREFIX=VALUE (repeat).
        #[arg(long = "cache-override")]
        cache_overrides: Vec<String>,
        /// Prefix of immutable objects (repeat).
        #[arg(long = "immutable")]
        immutable: Vec<String>,
        /// Allowed content type, for example text/* (repeat).
        #[arg(long = "content-type")]
        content_types: Vec<String>,
        /// Turn directory listing on or off.
        #[arg(long)]
        listing: Option<bool>,
        /// CORS origin allowed, or * (repeat).
        #[arg(long = "cors")]
        cors: Vec<String>,
        /// Public base URL to show (custom domain in front).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Disable anonymous web access; the next request gets 404.
    Disable { space: String },
    /// Show the rules.
    Show { space: String },
}

pub(super) fn run(c: &Client, json_out: bool, cmd: PublicCmd) -> Result<()> {
    match cmd {
        PublicCmd::Enable {
            space,
            name,
            prefixes,
            cache_control,
            cache_overrides,
            immutable,
            content_types,
            listing,
            cors,
            base_url,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(n) = name {
                body.insert("public_name".into(), json!(n));
            }
            if !prefixes.is_empty() {
                body.insert("prefixes".into(), json!(prefixes));
            }
            if let Some(cc) = cache_control {
                body.insert("cache_control".into(), json!(cc));
            }
            if !cache_overrides.is_empty() {
                let mut list = Vec::new();
                for o in &cache_overrides {
                    let (p, v) = o
                        .split_once('=')
                        .with_context(|| format!("--cache-override {o:?}: expected PREFIX=CACHE-CONTROL"))?;
                    list.push(json!({"prefix": p, "cache_control": v}));
                }
                body.insert("cache_overrides".into(), json!(list));
            }
            if !immutable.is_empty() {
                body.insert("immutable_prefixes".into(), json!(immutable));
            }
            if !content_types.is_empty() {
                body.insert("allowed_content_types".into(), json!(content_types));
            }
            if let Some(l) = listing {
                body.insert("directory_listing".into(), json!(l));
            }
            if !cors.is_empty() {
                body.insert("cors_origins".into(), json!(cors));
            }
            if let Some(u) = base_url {
                body.insert("public_base_url".into(), json!(u));
            }
            out(
                json_out,
                &c.call("PUT", &format!("/spaces/{}/public", enc(&space)), Some(Value::Object(body)))?,
                print_public,
            );
        }
        PublicCmd::Disable { space } => out(
            json_out,
            &c.call("DELETE", &format!("/spaces/{}/public", enc(&space)), None)?,
            print_public,
        ),
        PublicCmd::Show { space } => out(
            json_out,
            &c.call("GET", &format!("/spaces/{}/public", enc(&space)), None)?,
            print_public,
        ),
    }

    Ok(())
}

fn print_public(v: &Value) {
    outln!("Bucket:       {}", v["bucket"].as_str().unwrap_or(""));
    outln!("S3 API:       authenticated endpoint");
    outln!("Public web:   {}", v["public_web_access"].as_str().unwrap_or("disabled"));
    let p = &v["public"];
    if p.is_object() {
        let r = &p["rules"];
        let list = |f: &str| {
            r[f].as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| format!("{:?}", x.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        outln!("URL:          {}", p["url"].as_str().unwrap_or(""));
        outln!("Prefixes:     {}", list("prefixes"));
        outln!("Cache:        {}", r["cache_control"].as_str().unwrap_or(""));
        for o in r["cache_overrides"].as_array().into_iter().flatten() {
            outln!(
                "              {:?}: {}",
                o["prefix"].as_str().unwrap_or(""),
                o["cache_control"].as_str().unwrap_or("")
            );
        }
        outln!("Immutable:    {}", list("immutable_prefixes"));
        outln!(
            "Types:        {}",
            if r["allowed_content_types"].as_array().is_some_and(|a| !a.is_empty()) {
                list("allowed_content_types")
            } else {
                "all".into()
            }
        );
        outln!(
            "Listing:      {}",
            if r["directory_listing"].as_bool() == Some(true) {
                "on"
            } else {
                "off"
            }
        );
        outln!(
            "CORS:         {}",
            if r["cors_origins"].as_array().is_some_and(|a| !a.is_empty()) {
                list("cors_origins")
            } else {
                "none".into()
            }
        );
    }
}

/// `rustshare cdn purge`: drops cached copies of one key, a prefix, or the whole space.
pub(super) fn purge(c: &Client, json_out: bool, space: &str, key: Option<String>, prefix: Option<String>) -> Result<()> {
    let body = match (key, prefix) {
        (Some(k), _) => json!({"key": k}),
        (None, p) => json!({"prefix": p.unwrap_or_default()}),
    };
    out(
        json_out,
        &c.call("POST", &format!("/spaces/{}/purge", enc(space)), Some(body))?,
        |v| outln!("Purged {} from the CDN cache of {space}.", v["purged"]),
    );

    Ok(())
}
