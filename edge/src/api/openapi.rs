//! The OpenAPI 3.1 document of the control API, served at `/api/v1/openapi.json`.

use serde_json::{Value, json};

fn op(summary: &str, body: Option<&str>, ok: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "security": [{"bearer": []}, {"console": []}],
        "responses": {
            ok: {"description": "success", "content": {"application/json": {}}},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
            "409": {"$ref": "#/components/responses/Error"}
        }
    });
    if let Some(schema) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    o
}

fn path_param(name: &str, desc: &str) -> Value {
    json!([{"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": desc}])
}

/// The document.
#[must_use]
pub fn document() -> Value {
    let mut doc = core();
    for more in [registry_paths(), admin_paths()] {
        if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    doc
}

/// Installation administration (operator token only).
fn admin_paths() -> Value {
    json!({
        "/api/v1/admin/master-key": {"get": op("The fingerprint of the master key that seals secrets now, and where it comes from", None, "200")},
        "/api/v1/admin/master-key/rotate": {"post": {
            "summary": "Re-seal every stored secret under a new master key (made here, or an existing one by fingerprint); other nodes follow",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"fingerprint": {"type": ["string", "null"]}}, "additionalProperties": false}}}},
            "responses": {"200": {"description": "fingerprint, resealed count, key file"}, "400": {"description": "unknown fingerprint"}, "403": {"description": "not the operator"}, "409": {"description": "key from the environment, or a secret no key opens"}}
        }},
        "/api/v1/admin/master-key/retire": {"post": op("Re-seal once more, then drop older keys from this node's key file", None, "200")},
        "/api/v1/admin/reconcile": {"post": op("Recompute every space's usage and object count from the store (operator only)", None, "200")},
    })
}

/// The registry bridge's paths (a separate `json!` keeps the macro within its recursion limit).
fn registry_paths() -> Value {
    json!({
            "/api/v1/registry/namespaces": {"get": op("List registry namespaces", None, "200"), "post": op("Create a registry namespace (a registry space and its storage identity)", Some("NewNamespace"), "201")},
            "/api/v1/registry/namespaces/{ns}": {"parameters": path_param("ns", "namespace"), "get": op("A namespace, its robots and usage", None, "200"), "patch": op("Anonymous pulls and retention rules", Some("NamespaceChange"), "200")},
            "/api/v1/registry/namespaces/{ns}/robots": {"parameters": path_param("ns", "namespace"), "get": op("List robots", None, "200"), "post": op("Create a robot; the secret is returned once", Some("NewRobot"), "201")},
            "/api/v1/registry/namespaces/{ns}/robots/{robot}/revoke": {"parameters": [{"name": "ns", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "robot", "in": "path", "required": true, "schema": {"type": "string"}}], "post": op("Revoke a robot; its next token request fails", None, "200")},
            "/api/v1/registry/namespaces/{ns}/config": {"parameters": path_param("ns", "namespace"), "post": op("Distribution's config.yml, its environment (storage credentials) and the token certificate", Some("RegistryConfig"), "200")},
            "/api/v1/registry/namespaces/{ns}/token": {"parameters": path_param("ns", "namespace"), "get": op("A registry token for the bridge's own calls (retention): pull and delete in the namespace, the catalog", None, "200")},
            "/registry/token": {"get": {
                "summary": "Docker registry token endpoint (basic auth by robot, or anonymous for public namespaces)",
                "parameters": [
                    {"name": "service", "in": "query", "schema": {"type": "string", "const": "rustshare-registry"}},
                    {"name": "scope", "in": "query", "schema": {"type": "string"}, "description": "repository:<ns>/<name>:pull,push (repeatable)"}
                ],
                "responses": {"200": {"description": "token"}, "400": {"description": "bad scope or service"}, "401": {"description": "wrong or revoked credentials, or namespace over quota for a push"}}
            }}
    })
}

fn core() -> Value {
    let space = path_param("space", "space id, bucket name, or (tenant tokens) space name");
    let key = path_param("key", "identity id or access key id");
    json!({
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
                "Login": {"type": "object", "required": ["token"], "additionalProperties": false, "properties": {"token": {"type": "string"}}},
                "Quota": {"type": "object", "required": ["quota_bytes"], "additionalProperties": false, "properties": {"quota_bytes": {"type": ["integer", "null"], "minimum": 0}}},
                "NewKey": {"type": "object", "required": ["name", "mode"], "additionalProperties": false, "properties": {
                    "name": {"type": "string"},
                    "mode": {"enum": ["read-only", "write-only", "read-write", "read-write-delete", "publisher", "registry-backend"]},
                    "prefix": {"type": "string", "description": "empty, or a relative prefix ending in /"},
                    "expires_at": {"type": "string", "format": "date-time"},
                    "expires_in_seconds": {"type": "integer", "minimum": 1}}}
            }
        },
        "paths": {
            "/api/v1/whoami": {"get": op("The caller's token", None, "200")},
            "/api/v1/tenants": {"get": op("List tenants", None, "200"), "post": op("Create a tenant (operator)", Some("Name"), "201")},
            "/api/v1/tenants/{tenant}/tokens": {"parameters": path_param("tenant", "tenant id or name"), "post": op("Issue a tenant-scoped admin token, shown once (operator)", Some("Name"), "201")},
            "/api/v1/spaces": {"get": op("List spaces", None, "200"), "post": op("Create an Object Space", Some("NewSpace"), "201")},
            "/api/v1/spaces/{space}": {"parameters": space, "get": op("A space with usage and keys", None, "200")},
            "/api/v1/spaces/{space}/disable": {"parameters": space, "post": op("Disable a space; S3 requests fail from the next one", None, "200")},
            "/api/v1/spaces/{space}/quota": {"parameters": space, "put": op("Set or clear (null) the quota", Some("Quota"), "200")},
            "/api/v1/spaces/{space}/usage": {"parameters": space, "get": op("Bytes and objects stored, multipart bytes in progress, bytes of published package repositories", None, "200")},
            "/api/v1/spaces/{space}/keys": {"parameters": space, "get": op("List S3 keys (never secrets)", None, "200"), "post": op("Create an S3 key; the secret is returned once", Some("NewKey"), "201")},
            "/api/v1/spaces/{space}/traffic": {"parameters": space, "get": {
                "summary": "Bytes in and out and CDN requests per minute, all nodes summed, oldest first",
                "security": [{"bearer": []}, {"console": []}],
                "parameters": [{"name": "minutes", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 60}}],
                "responses": {"200": {"description": "samples"}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}
            }},
            "/api/v1/session": {
                "post": {"summary": "Console login with an admin token: sets the HttpOnly session cookie, returns the CSRF token",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Login"}}}},
                    "responses": {"201": {"description": "logged in"}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}},
                "get": {"summary": "The current console session and its CSRF token", "security": [{"console": []}],
                    "responses": {"200": {"description": "session"}, "401": {"$ref": "#/components/responses/Error"}}},
                "delete": {"summary": "Log out (needs x-csrf-token)", "security": [{"console": []}],
                    "responses": {"204": {"description": "logged out"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}}
            },
            "/api/v1/keys/{key}/revoke": {"parameters": key, "post": op("Revoke a key; its next request fails", None, "200")},
            "/api/v1/keys/{key}/rotate": {"parameters": key, "post": op("New secret, returned once; the old one stops working at once", None, "200")},
            "/api/v1/audit": {"get": {
                "summary": "Audit events, newest first",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "space", "in": "query", "schema": {"type": "string"}},
                    {"name": "identity", "in": "query", "schema": {"type": "string"}},
                    {"name": "operation", "in": "query", "schema": {"type": "string"}},
                    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "before", "in": "query", "schema": {"type": "integer"}, "description": "events older than this id: the next_before of the previous page"}
                ],
                "responses": {"200": {"description": "events"}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}
            }}
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_every_api_family() {
        let d = super::document();
        let paths = d["paths"].as_object().expect("paths");
        for p in [
            "/api/v1/spaces",
            "/api/v1/session",
            "/api/v1/registry/namespaces",
            "/registry/token",
            "/api/v1/spaces/{space}/traffic",
            "/api/v1/admin/master-key/rotate",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
    }
}
