//! The OpenAPI 3.1 document of the control API, served at `/api/v1/openapi.json`. Its paths are
//! made from the routes themselves ([`super::routes::Api`]), so every route is in it; the schemas
//! of request bodies are written here.

use serde_json::{Value, json};

use super::routes::{Documented, Sec};

/// What a path parameter names.
fn describe(param: &str) -> &'static str {
    match param {
        "space" => "space id, bucket name, or (tenant tokens) space name",
        "key" => "identity id or access key id",
        "tenant" => "tenant id or name",
        "ns" => "registry namespace",
        "robot" => "robot name",
        "repo" => "repository name",
        "dist" => "distribution (suite)",
        "component" => "component",
        "file" => "file name of the .deb",
        _ => "",
    }
}

fn operation(d: &Documented) -> Value {
    let op = &d.op;
    let security = match op.sec {
        Sec::Admin => json!([{"bearer": []}, {"console": []}]),
        Sec::Console => json!([{"console": []}]),
        Sec::Open => json!([]),
    };
    let mut responses = json!({ op.ok: {"description": "success", "content": {"application/json": {}}} });
    for status in ["400", "401", "403", "404", "409"] {
        if status != op.ok {
            responses[status] = json!({"$ref": "#/components/responses/Error"});
        }
    }
    let mut params: Vec<Value> = d
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": describe(name)}))
        .collect();
    params.extend(
        op.query
            .iter()
            .map(|(name, ty, desc)| json!({"name": name, "in": "query", "schema": {"type": ty}, "description": desc})),
    );
    let mut o = json!({"summary": op.summary, "security": security, "responses": responses});
    if !params.is_empty() {
        o["parameters"] = Value::Array(params);
    }
    if let Some(schema) = op.body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    o
}

/// The document for `routes`.
#[must_use]
pub fn document(routes: &[Documented]) -> Value {
    let mut paths = serde_json::Map::new();
    for d in routes {
        let entry = paths.entry(d.path.to_owned()).or_insert_with(|| json!({}));
        entry[d.method.as_str().to_ascii_lowercase()] = operation(d);
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "RustShare Object Spaces control API", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "console": {"type": "apiKey", "in": "cookie", "name": "rs_console",
                    "description": "console session from POST /api/v1/session; state-changing requests also need the x-csrf-token header"}
            },
            "responses": {"Error": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string", "enum": ["unauthorized", "forbidden", "csrf_failed", "not_found", "conflict", "invalid_request", "quota_exceeded", "rejected", "internal"]},
                    "message": {"type": "string"}}}}},
                "Name": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"}}},
                "NewSpace": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                    "tenant": {"type": "string"}, "name": {"type": "string"},
                    "purpose": {"enum": ["generic", "cdn", "artifacts", "packages", "registry"]},
                    "visibility": {"enum": ["private", "public", "cdn"]},
                    "quota_bytes": {"type": "integer", "minimum": 0}, "workspace_id": {"type": "string"}}},
                "NewNamespace": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                    "name": {"type": "string"}, "tenant": {"type": "string"}, "quota_bytes": {"type": "integer", "minimum": 0}}},
                "NamespaceChange": {"type": "object", "additionalProperties": false, "properties": {
                    "public": {"type": "boolean"},
                    "retention": {"type": "object", "additionalProperties": false, "properties": {
                        "keep_last": {"type": "integer", "minimum": 1}, "max_age_days": {"type": "integer", "minimum": 1},
                        "protect": {"type": "array", "items": {"type": "string"}}}}}},
                "NewRobot": {"type": "object", "required": ["name", "access"], "additionalProperties": false, "properties": {
                    "name": {"type": "string"}, "access": {"enum": ["pull", "push"]}}},
                "RegistryConfig": {"type": "object", "required": ["root_cert_bundle"], "additionalProperties": false, "properties": {
                    "listen": {"type": "string"}, "root_cert_bundle": {"type": "string"}}},
                "Publication": {"type": "object", "additionalProperties": false, "properties": {
                    "public_name": {"type": "string"}, "prefixes": {"type": "array", "items": {"type": "string"}},
                    "public_base_url": {"type": "string"}, "cache_control": {"type": "string"},
                    "cache_overrides": {"type": "array", "items": {"type": "object"}},
                    "immutable_prefixes": {"type": "array", "items": {"type": "string"}},
                    "allowed_content_types": {"type": "array", "items": {"type": "string"}},
                    "directory_listing": {"type": "boolean"}, "cors_origins": {"type": "array", "items": {"type": "string"}}}},
                "Purge": {"type": "object", "additionalProperties": false, "description": "key or prefix, not both; neither purges the whole space",
                    "properties": {"key": {"type": "string"}, "prefix": {"type": "string"}}},
                "Rotate": {"type": "object", "additionalProperties": false, "properties": {"fingerprint": {"type": ["string", "null"]}}},
                "RepositoryChange": {"type": "object", "additionalProperties": false, "properties": {
                    "distributions": {"type": "array", "items": {"type": "object", "required": ["suite"], "properties": {"suite": {"type": "string"}, "codename": {"type": "string"}}}},
                    "components": {"type": "array", "items": {"type": "string"}}, "architectures": {"type": "array", "items": {"type": "string"}},
                    "origin": {"type": "string"}, "label": {"type": "string"}, "description": {"type": "string"},
                    "incoming_prefix": {"type": "string"}, "retain": {"type": "integer", "minimum": 1},
                    "retain_grace_secs": {"type": "integer", "minimum": 0}, "valid_until_days": {"type": "integer", "minimum": 0}}},
                "NewRepository": {"allOf": [{"$ref": "#/components/schemas/RepositoryChange"}, {"type": "object", "required": ["name", "space"], "properties": {
                    "name": {"type": "string"}, "space": {"type": "string"},
                    "signing_key": {"type": "string", "description": "an unprotected armored OpenPGP secret key to import"}}}]},
                "Rollback": {"type": "object", "required": ["snapshot"], "additionalProperties": false, "properties": {"snapshot": {"type": "string"}}},
                "Login": {"type": "object", "required": ["token"], "additionalProperties": false, "properties": {"token": {"type": "string"}}},
                "Quota": {"type": "object", "required": ["quota_bytes"], "additionalProperties": false, "properties": {"quota_bytes": {"type": ["integer", "null"], "minimum": 0}}},
                "NewKey": {"type": "object", "required": ["name", "mode"], "additionalProperties": false, "properties": {
                    "name": {"type": "string"},
                    "mode": {"enum": ["read-only", "write-only", "read-write", "read-write-delete", "publisher", "registry-backend"]},
                    "prefix": {"type": "string", "description": "empty, or a relative prefix ending in /"},
                    "expires_at": {"type": "string", "format": "date-time"},
                    "expires_in_seconds": {"type": "integer", "minimum": 1}}}
            }
        }
    });
    doc["paths"] = Value::Object(paths);
    doc
}

#[cfg(test)]
mod tests {
    use super::super::api;

    /// Every route is in the document with its method, and every body schema it names exists.
    #[test]
    fn the_document_covers_every_route() {
        let routes = api();
        let d = super::document(routes.docs());
        let paths = d["paths"].as_object().expect("paths");
        assert!(routes.docs().len() >= 45, "{} routes", routes.docs().len());
        for r in routes.docs() {
            let op = &paths[r.path][r.method.as_str().to_ascii_lowercase()];
            assert!(op["summary"].is_string(), "{} {} missing", r.method, r.path);
            if let Some(schema) = r.op.body {
                assert!(
                    d["components"]["schemas"][schema].is_object(),
                    "schema {schema} of {} {}",
                    r.method,
                    r.path
                );
            }
        }
        for p in [
            "/api/v1/spaces/{space}/public",
            "/api/v1/spaces/{space}/purge",
            "/api/v1/repos/{repo}/publish",
            "/registry/token",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
    }

    /// Routes enter the API only through `routes::Api`, which documents them.
    #[test]
    fn no_route_is_added_around_the_documented_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        for sub in ["api", "face", "app.rs"] {
            let p = dir.join(sub);
            let files: Vec<std::path::PathBuf> = if p.is_dir() {
                std::fs::read_dir(&p)
                    .expect("dir")
                    .map(|e| e.expect("entry").path())
                    .filter(|f| f.is_file())
                    .collect()
            } else {
                vec![p]
            };
            for f in files {
                let src = std::fs::read_to_string(&f).expect("source");
                let code = src.split("#[cfg(test)]").next().unwrap_or_default();
                if f.ends_with("routes.rs") {
                    continue;
                }
                if code.contains(".route(\"") || code.contains("Router::new()") {
                    offenders.push(f.display().to_string());
                }
            }
        }
        assert!(offenders.is_empty(), "routes added outside api::routes::Api: {offenders:?}");
    }
}
