//! The one way a route enters the API: with its OpenAPI description. [`Api`] collects each
//! resource module's routes and their [`Op`]s; the router and the OpenAPI document are both made
//! from it, so the document covers every route by construction (a test also refuses a
//! `.route(` written anywhere else under `api/`).

use std::collections::BTreeMap;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};

use super::state::ApiState;

/// Who may call an operation, as OpenAPI's `security` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sec {
    /// An admin bearer token or a console session (with its CSRF token on changes).
    Admin,
    /// A console session only.
    Console,
    /// Anyone; the operation authenticates by its own means (a login token, basic auth by
    /// robot, a notification secret), or not at all.
    Open,
}

/// Writes a type's schema into the document's generator and answers a reference to it.
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// Reads a JSON body as a type and writes it back: `Ok` only when the type holds all of it,
/// field for field, so a reply the handler builds cannot drift from the type the document and
/// the CLI use.
pub type CheckFn = fn(&serde_json::Value) -> Result<(), String>;

fn schema_of<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| format!("does not read as {}: {e}", std::any::type_name::<T>()))?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    if &back == v {
        Ok(())
    } else {
        Err(format!(
            "{} loses part of it: sent {v}, read back {back}",
            std::any::type_name::<T>()
        ))
    }
}

/// The type of a successful JSON reply.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// Its schema.
    pub schema: SchemaFn,
    /// Its round trip.
    pub check: CheckFn,
}

/// What the OpenAPI document says of one operation.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// One line for people.
    pub summary: &'static str,
    /// The request body's type.
    pub body: Option<SchemaFn>,
    /// The success reply's type; `None` only for replies that are not JSON documents of ours
    /// (no content, a registry token in Distribution's format).
    pub reply: Option<Reply>,
    /// The success status.
    pub ok: &'static str,
    /// Who may call it.
    pub sec: Sec,
    /// Query parameters: (name, JSON Schema type, description).
    pub query: &'static [(&'static str, &'static str, &'static str)],
}

impl Op {
    /// An admin operation without a request body, answering 200.
    #[must_use]
    pub const fn new(summary: &'static str) -> Self {
        Self {
            summary,
            body: None,
            reply: None,
            ok: "200",
            sec: Sec::Admin,
            query: &[],
        }
    }

    /// An admin operation taking a JSON body of type `B`, answering `ok`.
    #[must_use]
    pub const fn with_body<B: schemars::JsonSchema>(summary: &'static str, ok: &'static str) -> Self {
        Self {
            summary,
            body: Some(schema_of::<B>),
            reply: None,
            ok,
            sec: Sec::Admin,
            query: &[],
        }
    }

    /// The same operation answering a JSON document of type `R`.
    #[must_use]
    pub const fn returns<R: schemars::JsonSchema + serde::Serialize + serde::de::DeserializeOwned>(mut self) -> Self {
        self.reply = Some(Reply {
            schema: schema_of::<R>,
            check: round_trip::<R>,
        });
        self
    }

    /// The same operation with other callers.
    #[must_use]
    pub const fn sec(mut self, sec: Sec) -> Self {
        self.sec = sec;
        self
    }

    /// The same operation answering `ok`.
    #[must_use]
    pub const fn ok(mut self, ok: &'static str) -> Self {
        self.ok = ok;
        self
    }

    /// The same operation with query parameters.
    #[must_use]
    pub const fn query(mut self, query: &'static [(&'static str, &'static str, &'static str)]) -> Self {
        self.query = query;
        self
    }
}

/// One documented route.
#[derive(Debug, Clone)]
pub struct Documented {
    /// Its method.
    pub method: Method,
    /// Its path, with `{name}` parameters.
    pub path: &'static str,
    /// What OpenAPI says of it.
    pub op: Op,
}

/// Routes and their documentation, built together.
#[derive(Default)]
pub struct Api {
    paths: BTreeMap<&'static str, MethodRouter<ApiState>>,
    docs: Vec<Documented>,
}

impl Api {
    /// No routes yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn on<H, T>(mut self, method: Method, filter: MethodFilter, path: &'static str, op: Op, handler: H) -> Self
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        let mr = self.paths.remove(path).unwrap_or_default().on(filter, handler);
        self.paths.insert(path, mr);
        self.docs.push(Documented { method, path, op });
        self
    }

    /// A GET route.
    #[must_use]
    pub fn get<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, op: Op, handler: H) -> Self {
        self.on(Method::GET, MethodFilter::GET, path, op, handler)
    }

    /// A POST route.
    #[must_use]
    pub fn post<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, op: Op, handler: H) -> Self {
        self.on(Method::POST, MethodFilter::POST, path, op, handler)
    }

    /// A PUT route.
    #[must_use]
    pub fn put<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, op: Op, handler: H) -> Self {
        self.on(Method::PUT, MethodFilter::PUT, path, op, handler)
    }

    /// A PATCH route.
    #[must_use]
    pub fn patch<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, op: Op, handler: H) -> Self {
        self.on(Method::PATCH, MethodFilter::PATCH, path, op, handler)
    }

    /// A DELETE route.
    #[must_use]
    pub fn delete<H: Handler<T, ApiState>, T: 'static>(self, path: &'static str, op: Op, handler: H) -> Self {
        self.on(Method::DELETE, MethodFilter::DELETE, path, op, handler)
    }

    /// Changes the method router of `path` (a layer such as a body limit).
    #[must_use]
    pub fn map(mut self, path: &'static str, f: impl FnOnce(MethodRouter<ApiState>) -> MethodRouter<ApiState>) -> Self {
        if let Some(mr) = self.paths.remove(path) {
            self.paths.insert(path, f(mr));
        }
        self
    }

    /// Both sets of routes. A path declared in both keeps both sets of methods.
    #[must_use]
    pub fn merge(mut self, other: Api) -> Self {
        for (path, mr) in other.paths {
            let merged = match self.paths.remove(path) {
                Some(mine) => mine.merge(mr),
                None => mr,
            };
            self.paths.insert(path, merged);
        }
        self.docs.extend(other.docs);
        self
    }

    /// Every route, as documented.
    #[must_use]
    pub fn docs(&self) -> &[Documented] {
        &self.docs
    }

    /// The router.
    pub fn into_router(self) -> Router<ApiState> {
        self.paths.into_iter().fold(Router::new(), |r, (path, mr)| r.route(path, mr))
    }
}

#[cfg(test)]
mod tests {
    use super::round_trip;
    use crate::api::dto::TenantToken;
    use serde_json::json;

    /// The reply check refuses a field the type lacks and a field the reply lacks.
    #[test]
    fn a_reply_that_differs_from_its_type_is_refused() {
        let exact = json!({"token": "t", "name": "n", "tenant": "acme"});
        assert_eq!(round_trip::<TenantToken>(&exact), Ok(()));
        let extra = json!({"token": "t", "name": "n", "tenant": "acme", "expires": 1});
        assert!(round_trip::<TenantToken>(&extra).is_err_and(|e| e.contains("loses")));
        let missing = json!({"token": "t", "name": "n"});
        assert!(round_trip::<TenantToken>(&missing).is_err_and(|e| e.contains("does not read")));
    }
}
