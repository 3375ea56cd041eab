//! Applying a namespace's retention rules through the registry's own API (Distribution deletes
//! manifests; `registry gc` then reclaims their blobs).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::Value;
use time::OffsetDateTime;

use super::client::{Client, NO_BODY, enc};

const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

const CATALOG_PAGE: usize = 1000;

struct Registry<'a> {
    c: &'a Client,
    ns: &'a str,
    base: &'a str,
    agent: ureq::Agent,
}

impl Registry<'_> {
    /// A token from our token service, asked for as the bridge.
    fn token(&self, scope: &str) -> Result<String> {
        let v = self.c.call(
            "GET",
            &format!("/registry/namespaces/{}/token?scope={}", enc(self.ns), enc(scope)),
            None,
        )?;
        v["token"]
            .as_str()
            .map(str::to_owned)
            .context("the token service answered without a token")
    }

    fn get(&self, path: &str, token: &str, accept: Option<&str>) -> Result<ureq::Response> {
        let mut r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"));
        if let Some(a) = accept {
            r = r.set("Accept", a);
        }
        r.call().with_context(|| format!("GET {}{path}", self.base))
    }
}

/// Deletes the expired tags of every repository in the namespace; returns what went.
pub(super) fn apply(c: &Client, ns: &str, base: &str, dry_run: bool) -> Result<Outcome> {
    let info: crate::api::dto::NamespaceView = c.typed("GET", &format!("/registry/namespaces/{}", enc(ns)), NO_BODY)?;
    let rules = info.namespace.retention;
    let r = Registry {
        c,
        ns,
        base,
        agent: ureq::AgentBuilder::new().timeout(std::time::Duration::from_mins(1)).build(),
    };
    // The catalog in pages (Distribution answers at most 1000 names per request).
    let catalog_token = r.token("registry:catalog:*")?;
    let prefix = format!("{ns}/");
    let mut repos = Vec::new();
    let mut last = String::new();
    loop {
        let page: Value = r
            .get(&format!("/v2/_catalog?n={CATALOG_PAGE}&last={}", enc(&last)), &catalog_token, None)?
            .into_json()
            .context("reading the catalog")?;
        let names: Vec<String> = page["repositories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        repos.extend(names.iter().filter(|n| n.starts_with(&prefix)).cloned());
        match names.last() {
            Some(l) if names.len() == CATALOG_PAGE => last.clone_from(l),
            _ => break,
        }
    }
    let now = OffsetDateTime::now_utc();
    let (mut deleted, mut kept) = (Vec::new(), 0usize);
    for repo in repos {
        let token = r.token(&format!("repository:{repo}:pull,delete"))?;
        let tags: Value = r.get(&format!("/v2/{repo}/tags/list"), &token, None)?.into_json()?;
        let mut dated = Vec::new();
        let mut digest_of = BTreeMap::new();
        for tag in tags["tags"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let resp = r.get(&format!("/v2/{repo}/manifests/{tag}"), &token, Some(MANIFEST_TYPES))?;
            let digest = resp.header("Docker-Content-Digest").unwrap_or_default().to_owned();
            let manifest: Value = resp.into_json()?;
            // The image's creation time is in its config; an index (or a config without it)
            // counts as new, so age rules never delete what they cannot date.
            let created = match manifest["config"]["digest"].as_str() {
                Some(cd) => r
                    .get(&format!("/v2/{repo}/blobs/{cd}"), &token, None)?
                    .into_json::<Value>()
                    .ok()
                    .and_then(|cfg| cfg["created"].as_str().map(str::to_owned))
                    .and_then(|t| OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok())
                    .unwrap_or(now),
                None => now,
            };
            dated.push((tag.to_owned(), created));
            digest_of.insert(tag.to_owned(), digest);
        }
        let expired = rustshare_registry_bridge::retention::expired(&rules, &dated, now);
        // Deleting a manifest removes every tag on it: only when all of its tags expired.
        for (tag, digest) in &digest_of {
            if !expired.contains(tag) {
                kept += 1;
                continue;
            }
            let shared_with_kept = digest_of.iter().any(|(t, d)| d == digest && !expired.contains(t));
            if shared_with_kept || digest.is_empty() {
                kept += 1;
                continue;
            }
            if !dry_run {
                match r
                    .agent
                    .delete(&format!("{base}/v2/{repo}/manifests/{digest}"))
                    .set("Authorization", &format!("Bearer {token}"))
                    .call()
                {
                    Ok(_) | Err(ureq::Error::Status(404, _)) => {}
                    Err(e) => return Err(e).with_context(|| format!("deleting {repo}:{tag}")),
                }
            }
            deleted.push(format!("{repo}:{tag}"));
        }
    }
    Ok(Outcome { deleted, kept, dry_run })
}

/// What a retention pass deleted (or, dry, would delete).
#[derive(Debug, serde::Serialize)]
pub(super) struct Outcome {
    /// `repository:tag`, in the order they went.
    pub(super) deleted: Vec<String>,
    /// Tags kept.
    pub(super) kept: usize,
    /// Whether nothing was deleted, only listed.
    pub(super) dry_run: bool,
}
