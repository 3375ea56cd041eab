//! `rustshare public ...`: public web access of a space.

use anyhow::{Context as _, Result};
use clap::Subcommand;
use rustshare_control::PublicationInput;
use rustshare_control::model::CacheOverride;

use super::client::{Client, NO_BODY, enc, show};
use crate::api::dto::{OnOff, PublicState, PurgeBody, Purged};

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
    let v: PublicState = match cmd {
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
            let overrides = cache_overrides
                .iter()
                .map(|o| {
                    let (p, v) = o
                        .split_once('=')
                        .with_context(|| format!("--cache-override {o:?}: expected PREFIX=CACHE-CONTROL"))?;
                    Ok(CacheOverride {
                        prefix: p.to_owned(),
                        cache_control: v.to_owned(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            // A list left out keeps its value: only what was given is sent.
            let given = |v: Vec<String>| (!v.is_empty()).then_some(v);
            let body = PublicationInput {
                public_name: name,
                prefixes: given(prefixes),
                public_base_url: base_url,
                cache_control,
                cache_overrides: (!overrides.is_empty()).then_some(overrides),
                immutable_prefixes: given(immutable),
                allowed_content_types: given(content_types),
                directory_listing: listing,
                cors_origins: given(cors),
            };
            c.typed("PUT", &format!("/spaces/{}/public", enc(&space)), Some(&body))?
        }
        PublicCmd::Disable { space } => c.typed("DELETE", &format!("/spaces/{}/public", enc(&space)), NO_BODY)?,
        PublicCmd::Show { space } => c.typed("GET", &format!("/spaces/{}/public", enc(&space)), NO_BODY)?,
    };
    show(json_out, &v, print_public);

    Ok(())
}

fn print_public(v: &PublicState) {
    let list = |l: &[String]| l.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ");
    let or = |l: &[String], none: &str| if l.is_empty() { none.to_owned() } else { list(l) };
    outln!("Bucket:       {}", v.bucket);
    outln!("S3 API:       authenticated endpoint");
    outln!(
        "Public web:   {}",
        if v.public_web_access == OnOff::Enabled {
            "enabled"
        } else {
            "disabled"
        }
    );
    let Some(p) = &v.public else { return };
    let r = &p.rules;
    outln!("URL:          {}", p.url);
    outln!("Prefixes:     {}", list(&r.prefixes));
    outln!("Cache:        {}", r.cache_control);
    for o in &r.cache_overrides {
        outln!("              {:?}: {}", o.prefix, o.cache_control);
    }
    outln!("Immutable:    {}", list(&r.immutable_prefixes));
    outln!("Types:        {}", or(&r.allowed_content_types, "all"));
    outln!("Listing:      {}", if r.directory_listing { "on" } else { "off" });
    outln!("CORS:         {}", or(&r.cors_origins, "none"));
}

/// `rustshare cdn purge`: drops cached copies of one key, a prefix, or the whole space.
pub(super) fn purge(c: &Client, json_out: bool, space: &str, key: Option<String>, prefix: Option<String>) -> Result<()> {
    let body = match key {
        Some(k) => PurgeBody {
            key: Some(k),
            prefix: None,
        },
        None => PurgeBody {
            key: None,
            prefix: Some(prefix.unwrap_or_default()),
        },
    };
    let v: Purged = c.typed("POST", &format!("/spaces/{}/purge", enc(space)), Some(&body))?;
    show(json_out, &v, |v| {
        let what = match (&v.purged.key, &v.purged.prefix) {
            (Some(k), _) => format!("key {k:?}"),
            (None, Some(p)) if p.is_empty() => "everything".to_owned(),
            (None, p) => format!("prefix {:?}", p.as_deref().unwrap_or("")),
        };
        outln!("Purged {what} from the CDN cache of {space}.");
    });

    Ok(())
}
