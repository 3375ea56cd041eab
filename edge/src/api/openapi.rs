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

fn operation(d: &Documented, g: &mut schemars::SchemaGenerator) -> Value {
    let op = &d.op;
    let security = match op.sec {
        Sec::Admin => json!([{"bearer": []}, {"console": []}]),
        Sec::Console => json!([{"console": []}]),
        Sec::Open => json!([]),
    };
    let mut ok = json!({"description": "success"});
    if let Some(reply) = op.reply {
        ok["content"] = json!({"application/json": {"schema": (reply.schema)(g)}});
    }
    let mut responses = json!({ op.ok: ok });
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
    if let Some(body) = op.body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": body(g)}}});
    }
    o
}

/// The document for `routes`. Every schema in it is derived from the Rust types the handlers
/// read and write (and the CLI reads), by schemars.
#[must_use]
pub fn document(routes: &[Documented]) -> Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let error = g.subschema_for::<super::dto::ErrorBody>();
    let mut paths = serde_json::Map::new();
    for d in routes {
        let entry = paths.entry(d.path.to_owned()).or_insert_with(|| json!({}));
        entry[d.method.as_str().to_ascii_lowercase()] = operation(d, &mut g);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "RustShare Object Spaces control API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "console": {"type": "apiKey", "in": "cookie", "name": "rs_console",
                    "description": "console session from POST /api/v1/session; state-changing requests also need the x-csrf-token header"}
            },
            "responses": {"Error": {"description": "error", "content": {"application/json": {"schema": error}}}},
            "schemas": g.take_definitions(true),
        }
    })
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
            // Every reference resolves to a schema in the document.
            let text = op.to_string();
            for (i, _) in text.match_indices("#/components/schemas/") {
                let name: String = text[i + 21..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                assert!(
                    d["components"]["schemas"][&name].is_object(),
                    "schema {name} of {} {}",
                    r.method,
                    r.path
                );
            }
        }
        let schemas = d["components"]["schemas"].as_object().expect("schemas");
        for name in ["NewSpace", "SpaceView", "KeyBlock", "RepositoryView", "ErrorBody", "Published"] {
            assert!(
                schemas.contains_key(name),
                "{name} missing from {:?}",
                schemas.keys().collect::<Vec<_>>()
            );
        }
        // Derived from the types: the enum of modes is the control crate's.
        let modes = &schemas["PermissionMode"]["oneOf"];
        assert_eq!(
            modes.as_array().map(Vec::len),
            Some(rustshare_control::model::PermissionMode::ALL.len()),
            "{modes}"
        );
        assert_eq!(modes[0]["const"], "read-only", "{modes}");
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
