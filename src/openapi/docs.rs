//! [`FortifyDocs`]: the configured stack, and what it adds to each operation and to the
//! components, as JSON pieces the utoipa and aide generators deserialise into their own
//! types.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{
    components::{
        bearer_scheme, guard_response, header_component, header_ref, problem_ref, problem_schema,
        BEARER_SCHEME, PROBLEM_SCHEMA,
    },
    model::{HeaderDoc, LayerDoc},
};
use crate::rejection::PROBLEM_JSON;

/// The guard layers in front of an application, for its OpenAPI document.
///
/// Give it the same layer values the service runs with; with feature `utoipa` it is a
/// `utoipa::Modify`, with feature `aide` it transforms an `aide::openapi::OpenApi`
/// ([`FortifyDocs::apply_aide`], [`FortifyDocs::aide_transform`]). Every operation of the
/// document then lists each layer's responses (429 with `Retry-After`, 403, 413, 415,
/// 400, 503 as configured, problem+json bodies of the shared `Problem` schema), and every
/// response of it lists each layer's headers (`RateLimit`, `RateLimit-Policy`, the
/// security headers), as references to header components.
///
/// By default every operation gets every layer's responses, so a public document does not
/// tell which routes skip the injection checks; [`per_route`](Self::per_route) leaves out
/// a response on the routes where the layer never gives it (for internal documents).
///
/// What the application already documents wins: a component of the same name is kept, a
/// response with the same status keeps its description and content and gains the
/// `application/problem+json` body and the headers it does not list yet.
///
/// ```
/// use tower_fortify::openapi::FortifyDocs;
/// use tower_fortify::rate_limit::{PeerIp, Policy, Quota, RateLimitLayer};
///
/// let limit = RateLimitLayer::builder()
///     .policy(Policy::new("ip", PeerIp::new(), Quota::per_second(10).burst(20))?)
///     .build()?;
/// let docs = FortifyDocs::new().rate_limit(&limit);
/// let statuses: Vec<u16> = docs.responses_for("/items").iter().map(|r| r.status.as_u16()).collect();
/// assert_eq!(statuses, [429]);
/// # Ok::<(), tower_fortify::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct FortifyDocs {
    layers: Vec<LayerDoc>,
    per_route: bool,
    monitoring: Option<(String, Bytes)>,
}

/// What the document gains for one operation.
pub(crate) struct OperationPlan {
    /// Status code -> response object.
    pub(crate) responses: Vec<(String, Value)>,
    /// Header name -> header reference, for every response of the operation.
    pub(crate) headers: Vec<(String, Value)>,
}

impl FortifyDocs {
    /// No layers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Documents the rate-limit layer ([`RateLimitLayer::openapi_doc`](crate::rate_limit::RateLimitLayer::openapi_doc)).
    #[cfg(feature = "rate-limit")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
    pub fn rate_limit(self, layer: &crate::rate_limit::RateLimitLayer) -> Self {
        self.layer(layer.openapi_doc())
    }

    /// Documents the injection layer ([`InjectionLayer::openapi_doc`](crate::injection::InjectionLayer::openapi_doc)).
    #[cfg(feature = "injection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "injection")))]
    pub fn injection(self, layer: &crate::injection::InjectionLayer) -> Self {
        self.layer(layer.openapi_doc())
    }

    /// Documents the trusted-host layer ([`TrustedHostLayer::openapi_doc`](crate::trusted_host::TrustedHostLayer::openapi_doc)).
    #[cfg(feature = "security-headers")]
    #[cfg_attr(docsrs, doc(cfg(feature = "security-headers")))]
    pub fn trusted_host(self, layer: &crate::trusted_host::TrustedHostLayer) -> Self {
        self.layer(layer.openapi_doc())
    }

    /// Lists the security headers layer's headers on every response
    /// ([`SecurityHeadersLayer::openapi_doc`](crate::security_headers::SecurityHeadersLayer::openapi_doc)).
    /// Optional: leave it out to keep the document short.
    #[cfg(feature = "security-headers")]
    #[cfg_attr(docsrs, doc(cfg(feature = "security-headers")))]
    pub fn security_headers(self, layer: &crate::security_headers::SecurityHeadersLayer) -> Self {
        self.layer(layer.openapi_doc())
    }

    /// Adds the monitoring service's paths under `mount` (where the application nests it,
    /// `""` for none), each secured by the `bearer` scheme unless the service documents it
    /// as open (the probes), with its schemas and the `bearer` security scheme. The paths
    /// keep what the service documents and gain the guard layers' responses and headers
    /// like the application's own: nested in the application, the service sits behind the
    /// same layers (a service on a port of its own has its own `/openapi.json`).
    #[cfg(feature = "monitoring")]
    #[cfg_attr(docsrs, doc(cfg(feature = "monitoring")))]
    pub fn monitoring(
        mut self,
        service: &crate::monitoring::MonitoringService,
        mount: &str,
    ) -> Self {
        self.monitoring = Some((
            mount.trim_end_matches('/').to_owned(),
            service.openapi_json(),
        ));
        self
    }

    /// Documents a layer of your own, or a [`LayerDoc`] adjusted by hand.
    pub fn layer(mut self, doc: LayerDoc) -> Self {
        self.layers.push(doc);
        self
    }

    /// Leaves a response out of the operations whose path is one of the routes where the
    /// layer never gives it (for example no 403 on a route an injection
    /// [`Exclusion`](crate::injection::Exclusion) skips). Paths are compared as the
    /// document writes them (`/items/{id}`). Default `false`: a public document should not
    /// map which routes skip a check.
    pub fn per_route(mut self, per_route: bool) -> Self {
        self.per_route = per_route;
        self
    }

    /// The responses added to an operation on `path`, in layer order, one per status
    /// (the first layer's for a status two layers give).
    pub fn responses_for(&self, path: &str) -> Vec<super::ResponseDoc> {
        let mut out: Vec<super::ResponseDoc> = Vec::new();
        for r in self.layers.iter().flat_map(|l| &l.responses) {
            if self.per_route && !r.applies_to(path) {
                continue;
            }
            if !out.iter().any(|o| o.status == r.status) {
                out.push(r.clone());
            }
        }
        out
    }

    fn every_response_headers(&self) -> impl Iterator<Item = &HeaderDoc> {
        self.layers.iter().flat_map(|l| &l.headers)
    }

    /// What an operation on `path` gains.
    pub(crate) fn plan(&self, path: &str) -> OperationPlan {
        let mut responses: Vec<(String, Value)> = Vec::new();
        for r in self.layers.iter().flat_map(|l| &l.responses) {
            if self.per_route && !r.applies_to(path) {
                continue;
            }
            let status = r.status.as_str().to_owned();
            match responses.iter_mut().find(|(s, _)| *s == status) {
                // Two layers answer with this status: one response, both descriptions,
                // the plain Problem schema, every header.
                Some((_, existing)) => {
                    let description = format!(
                        "{} Or: {}",
                        existing["description"].as_str().unwrap_or_default(),
                        r.description
                    );
                    existing["description"] = description.into();
                    existing["content"][PROBLEM_JSON]["schema"] = problem_ref();
                    for h in &r.headers {
                        let name = h.component_name();
                        existing["headers"][&name] = header_ref(&name);
                    }
                }
                None => responses.push((status, guard_response(r))),
            }
        }
        let mut headers: Vec<(String, Value)> = Vec::new();
        for h in self.every_response_headers() {
            let name = h.component_name();
            if !headers.iter().any(|(n, _)| *n == name) {
                headers.push((name.clone(), header_ref(&name)));
            }
        }
        OperationPlan { responses, headers }
    }

    /// Schema components: `Problem` (and the monitoring service's).
    pub(crate) fn schemas(&self) -> Vec<(String, Value)> {
        let mut out = vec![(PROBLEM_SCHEMA.to_owned(), problem_schema())];
        if let Some(doc) = self.monitoring_doc() {
            if let Some(schemas) = doc["components"]["schemas"].as_object() {
                for (name, schema) in schemas {
                    if name != PROBLEM_SCHEMA {
                        out.push((name.clone(), schema.clone()));
                    }
                }
            }
        }
        out
    }

    /// Header components, one per header name (the first layer's description wins).
    pub(crate) fn headers(&self) -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = Vec::new();
        let all = self.layers.iter().flat_map(|l| {
            l.responses
                .iter()
                .flat_map(|r| &r.headers)
                .chain(&l.headers)
        });
        for h in all {
            let name = h.component_name();
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, header_component(h)));
            }
        }
        out
    }

    /// Security scheme components: `bearer` with the monitoring service.
    pub(crate) fn security_schemes(&self) -> Vec<(String, Value)> {
        match self.monitoring {
            Some(_) => vec![(BEARER_SCHEME.to_owned(), bearer_scheme())],
            None => Vec::new(),
        }
    }

    fn monitoring_doc(&self) -> Option<Value> {
        let (_, json) = self.monitoring.as_ref()?;
        serde_json::from_slice(json).ok()
    }

    /// The monitoring service's path items under the mount point, each operation with an
    /// explicit security requirement (the service's document sets it at the top level).
    pub(crate) fn monitoring_paths(&self) -> Vec<(String, Value)> {
        let (Some(doc), Some((mount, _))) = (self.monitoring_doc(), self.monitoring.as_ref())
        else {
            return Vec::new();
        };
        let default_security = doc.get("security").cloned().unwrap_or(json!([]));
        let Some(paths) = doc["paths"].as_object() else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|(path, item)| {
                let mut item = item.clone();
                if let Some(ops) = item.as_object_mut() {
                    for op in ops.values_mut().filter_map(Value::as_object_mut) {
                        op.entry("security")
                            .or_insert_with(|| default_security.clone());
                        op.entry("tags").or_insert_with(|| json!(["monitoring"]));
                    }
                }
                (format!("{mount}{path}"), item)
            })
            .collect()
    }

    /// Applies everything to a JSON document: the reference the typed generators are
    /// tested against.
    #[cfg(test)]
    pub(crate) fn apply_json(&self, doc: &mut Value) {
        let comps = doc
            .as_object_mut()
            .map(|d| d.entry("components").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
            .expect("a JSON object");
        for (kind, entries) in [
            ("schemas", self.schemas()),
            ("headers", self.headers()),
            ("securitySchemes", self.security_schemes()),
        ] {
            let map = comps
                .entry(kind)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("an object");
            for (name, v) in entries {
                map.entry(name).or_insert(v);
            }
        }
        let Some(paths) = doc["paths"].as_object_mut() else {
            return;
        };
        for (path, item) in self.monitoring_paths() {
            paths.entry(path).or_insert(item);
        }
        for (path, item) in paths.iter_mut() {
            let plan = self.plan(path);
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let responses = op["responses"]
                    .as_object_mut()
                    .map(std::mem::take)
                    .unwrap_or_default();
                op["responses"] = Value::Object(apply_to_responses(responses, &plan));
            }
        }
    }
}

#[cfg(test)]
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[cfg(test)]
fn apply_to_responses(
    mut responses: serde_json::Map<String, Value>,
    plan: &OperationPlan,
) -> serde_json::Map<String, Value> {
    for (status, r) in &plan.responses {
        match responses.get_mut(status) {
            None => {
                responses.insert(status.clone(), r.clone());
            }
            Some(existing) if existing.get("$ref").is_none() => {
                if existing["content"].get(PROBLEM_JSON).is_none() {
                    existing["content"][PROBLEM_JSON] = r["content"][PROBLEM_JSON].clone();
                }
                if let Some(hs) = r["headers"].as_object() {
                    for (n, h) in hs {
                        if existing["headers"].get(n).is_none() {
                            existing["headers"][n] = h.clone();
                        }
                    }
                }
            }
            Some(_) => {}
        }
    }
    for r in responses.values_mut() {
        if r.get("$ref").is_some() {
            continue;
        }
        for (n, h) in &plan.headers {
            if r["headers"].get(n).is_none() {
                r["headers"][n] = h.clone();
            }
        }
    }
    responses
}

#[cfg(all(
    test,
    feature = "rate-limit",
    feature = "injection",
    feature = "security-headers"
))]
pub(crate) mod tests {
    use super::*;
    use crate::{
        injection::{Exclusion, InjectionLayer, Mode, OversizedBody, UnknownEncoding},
        rate_limit::{
            Global, OnStoreError, PeerIp, Policy, Quota, RateLimitHeaders, RateLimitLayer,
            QUOTA_EXCEEDED_TYPE,
        },
        security_headers::SecurityHeadersLayer,
        trusted_host::TrustedHostLayer,
    };

    pub(crate) fn limit() -> RateLimitLayer {
        RateLimitLayer::builder()
            .policy(Policy::new("ip", PeerIp::new(), Quota::per_second(10).burst(20)).unwrap())
            .policy(Policy::new("global", Global, Quota::per_minute(600)).unwrap())
            .build()
            .unwrap()
    }

    pub(crate) fn injection() -> InjectionLayer {
        InjectionLayer::builder()
            .oversized_body(OversizedBody::Reject)
            .exclude(Exclusion::route("/raw").unwrap())
            .exclude(Exclusion::route("/upload/*").unwrap().body())
            .build()
            .unwrap()
    }

    /// The stack the generator tests document.
    pub(crate) fn docs() -> FortifyDocs {
        FortifyDocs::new()
            .trusted_host(
                &TrustedHostLayer::builder(["api.example.com"])
                    .build()
                    .unwrap(),
            )
            .rate_limit(&limit())
            .injection(&injection())
            .security_headers(&SecurityHeadersLayer::strict().build().unwrap())
    }

    /// A small document: two operations on `/items/{id}`, one on `/raw`, one on `/upload/{name}`.
    pub(crate) fn app_document() -> Value {
        let ok = json!({ "200": { "description": "ok", "content": { "application/json": { "schema": { "type": "object" } } } } });
        json!({
            "openapi": "3.1.0",
            "info": { "title": "app", "version": "1" },
            "paths": {
                "/items/{id}": {
                    "get": { "responses": ok },
                    "delete": { "responses": { "204": { "description": "gone" }, "400": { "description": "bad id", "content": { "application/json": { "schema": { "type": "string" } } } } } }
                },
                "/raw": { "post": { "responses": ok } },
                "/upload/{name}": { "put": { "responses": ok } }
            }
        })
    }

    #[test]
    fn rate_limit_doc_follows_the_configuration() {
        let doc = limit().openapi_doc();
        assert_eq!(doc.responses.len(), 1);
        let r = &doc.responses[0];
        assert_eq!(r.status, http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.problem_type.as_deref(), Some(QUOTA_EXCEEDED_TYPE));
        assert_eq!(r.members[0].name, "violated-policies");
        assert_eq!(r.members[0].values, ["ip", "global"]);
        assert_eq!(r.headers[0].name, "retry-after");
        let names: Vec<&str> = doc.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["ratelimit-policy", "ratelimit"]);
        assert_eq!(
            doc.headers[0].example.as_deref(),
            Some(r#""ip";q=20;w=2, "global";q=600;w=60"#)
        );
        assert_eq!(
            doc.headers[1].example.as_deref(),
            Some(r#""ip";r=19;t=2, "global";r=599;t=60"#)
        );

        // Shadow mode never refuses; failing closed adds 503; legacy headers; no headers.
        let p = || Policy::new("ip", PeerIp::new(), Quota::per_second(1)).unwrap();
        let shadow = RateLimitLayer::builder()
            .policy(p())
            .shadow(true)
            .build()
            .unwrap();
        assert!(shadow.openapi_doc().responses.is_empty());
        let closed = RateLimitLayer::builder()
            .policy(p())
            .on_store_error(OnStoreError::FailClosed)
            .headers(RateLimitHeaders::IetfAndLegacy)
            .build()
            .unwrap()
            .openapi_doc();
        let statuses: Vec<u16> = closed.responses.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(statuses, [429, 503]);
        assert_eq!(closed.headers.len(), 5);
        assert_eq!(closed.headers[4].component_name(), "X-RateLimit-Reset");
        let none = RateLimitLayer::builder()
            .policy(p())
            .headers(RateLimitHeaders::None)
            .build()
            .unwrap();
        assert!(none.openapi_doc().headers.is_empty());
        assert_eq!(none.openapi_doc().responses.len(), 1);
    }

    #[test]
    fn injection_doc_follows_the_configuration() {
        let doc = injection().openapi_doc();
        let statuses: Vec<u16> = doc.responses.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(statuses, [403, 408, 413, 415, 503]);
        assert_eq!(doc.responses[0].skipped_routes, ["/raw"]);
        for r in &doc.responses[1..] {
            assert_eq!(r.skipped_routes, ["/raw", "/upload/*"]);
        }
        assert_eq!(doc.responses[0].members[0].name, "categories");
        assert!(doc.responses[0].members[0]
            .values
            .contains(&"sqli".to_owned()));
        assert!(doc.headers.is_empty());

        let statuses = |layer: InjectionLayer| -> Vec<u16> {
            let doc = layer.openapi_doc();
            doc.responses.iter().map(|r| r.status.as_u16()).collect()
        };
        // The defaults: block, refuse undecodable encodings, inspect a prefix of large bodies.
        let default = InjectionLayer::builder().build().unwrap();
        assert_eq!(statuses(default), [403, 408, 415]);
        // Monitor mode never answers 403; a slow body is refused in both modes.
        let monitor = InjectionLayer::builder()
            .mode(Mode::Monitor)
            .build()
            .unwrap();
        assert_eq!(statuses(monitor), [408, 415]);
        let pass = InjectionLayer::builder()
            .mode(Mode::Monitor)
            .unknown_encoding(UnknownEncoding::PassUninspected)
            .build()
            .unwrap();
        assert_eq!(statuses(pass), [408]);
    }

    #[test]
    fn trusted_host_and_security_headers_docs() {
        let host = TrustedHostLayer::builder(["a.example"])
            .build()
            .unwrap()
            .openapi_doc();
        assert_eq!(host.responses.len(), 1);
        assert_eq!(host.responses[0].status, http::StatusCode::BAD_REQUEST);
        assert!(host.headers.is_empty());

        let sh = SecurityHeadersLayer::strict()
            .build()
            .unwrap()
            .openapi_doc();
        assert!(sh.responses.is_empty());
        let xfo = sh
            .headers
            .iter()
            .find(|h| h.name == "x-frame-options")
            .expect("strict sends X-Frame-Options");
        assert_eq!(xfo.example.as_deref(), Some("DENY"));
        let hsts = sh
            .headers
            .iter()
            .find(|h| h.name == "strict-transport-security")
            .expect("strict sends HSTS on HTTPS");
        assert!(hsts.description.contains("HTTPS"));
        assert!(sh
            .headers
            .iter()
            .any(|h| h.name == "content-security-policy"));
        let none = SecurityHeadersLayer::builder()
            .build()
            .unwrap()
            .openapi_doc();
        assert!(none.headers.is_empty());
    }

    #[test]
    fn every_operation_gets_every_response_by_default() {
        let mut doc = app_document();
        docs().apply_json(&mut doc);
        for (path, method) in [
            ("/items/{id}", "get"),
            ("/items/{id}", "delete"),
            ("/raw", "post"),
            ("/upload/{name}", "put"),
        ] {
            let responses = doc["paths"][path][method]["responses"].as_object().unwrap();
            for status in ["400", "403", "408", "413", "415", "429", "503"] {
                assert!(responses.contains_key(status), "{method} {path} {status}");
            }
        }
        let get = &doc["paths"]["/items/{id}"]["get"]["responses"];
        assert_eq!(
            get["429"]["headers"]["Retry-After"]["$ref"],
            "#/components/headers/Retry-After"
        );
        assert_eq!(
            get["429"]["content"]["application/problem+json"]["schema"]["allOf"][0]["$ref"],
            "#/components/schemas/Problem"
        );
        assert_eq!(
            get["403"]["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"]
                ["categories"]["items"]["enum"][0],
            "sqli"
        );
        assert_eq!(
            get["400"]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        // Every response, the application's 200 included, lists the every-response headers.
        for status in ["200", "400", "403", "413", "429"] {
            for h in ["RateLimit", "RateLimit-Policy", "X-Frame-Options"] {
                assert_eq!(
                    get[status]["headers"][h]["$ref"],
                    format!("#/components/headers/{h}"),
                    "{status} {h}"
                );
            }
        }
        // The application's own 400 keeps its description and content, and gains problem+json.
        let bad = &doc["paths"]["/items/{id}"]["delete"]["responses"]["400"];
        assert_eq!(bad["description"], "bad id");
        assert_eq!(
            bad["content"]["application/json"]["schema"]["type"],
            "string"
        );
        assert_eq!(
            bad["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        let c = &doc["components"];
        assert_eq!(c["schemas"]["Problem"], problem_schema());
        assert_eq!(c["headers"]["Retry-After"]["schema"]["type"], "integer");
        assert_eq!(
            c["headers"]["RateLimit-Policy"]["example"],
            r#""ip";q=20;w=2, "global";q=600;w=60"#
        );
        assert!(c
            .get("securitySchemes")
            .is_none_or(|s| s.as_object().unwrap().is_empty()));
    }

    #[test]
    fn per_route_leaves_out_what_an_exclusion_skips() {
        let mut doc = app_document();
        docs().per_route(true).apply_json(&mut doc);
        let has = |path: &str, method: &str, status: &str| {
            doc["paths"][path][method]["responses"]
                .as_object()
                .unwrap()
                .contains_key(status)
        };
        assert!(has("/items/{id}", "get", "403") && has("/items/{id}", "get", "413"));
        assert!(!has("/raw", "post", "403") && !has("/raw", "post", "413"));
        assert!(has("/raw", "post", "429") && has("/raw", "post", "400"));
        assert!(has("/upload/{name}", "put", "403"));
        for status in ["408", "413", "415", "503"] {
            assert!(!has("/upload/{name}", "put", status), "{status}");
            assert!(!has("/raw", "post", status), "{status}");
        }
    }

    #[test]
    fn two_layers_with_one_status_make_one_response() {
        let teapot = |d: &str| {
            LayerDoc::new().response(
                super::super::ResponseDoc::new(http::StatusCode::IM_A_TEAPOT, d)
                    .problem_type("urn:a"),
            )
        };
        let plan = FortifyDocs::new()
            .layer(teapot("A."))
            .layer(teapot("B."))
            .plan("/x");
        assert_eq!(plan.responses.len(), 1);
        assert_eq!(plan.responses[0].1["description"], "A. Or: B.");
        assert_eq!(
            plan.responses[0].1["content"][PROBLEM_JSON]["schema"],
            problem_ref()
        );
    }

    #[cfg(feature = "monitoring")]
    #[test]
    fn monitoring_paths_are_mounted_and_secured() {
        let svc = crate::monitoring::MonitoringService::builder()
            .bearer_token("s3cret-token-of-32-characters-xx")
            .build()
            .unwrap();
        let mut doc = app_document();
        FortifyDocs::new()
            .monitoring(&svc, "/admin/")
            .apply_json(&mut doc);
        let p = &doc["paths"];
        assert_eq!(
            p["/admin/health"]["get"]["security"],
            json!([{ "bearer": [] }])
        );
        assert_eq!(p["/admin/health/live"]["get"]["security"], json!([]));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"],
            bearer_scheme()
        );
        assert!(doc["components"]["schemas"]["HealthReport"].is_object());
        // The monitoring document and the application's share one Problem schema.
        let own: Value = serde_json::from_slice(&svc.openapi_json()).unwrap();
        assert_eq!(
            own["components"]["schemas"]["Problem"],
            doc["components"]["schemas"]["Problem"]
        );
        assert_eq!(
            own["components"]["securitySchemes"]["bearer"],
            bearer_scheme()
        );

        // Nested in the application, the service is behind its guard layers: its paths
        // gain their responses and headers and keep their own.
        let mut doc = app_document();
        docs().monitoring(&svc, "/admin").apply_json(&mut doc);
        let health = doc["paths"]["/admin/health"]["get"]["responses"]
            .as_object()
            .unwrap();
        for status in ["200", "400", "401", "403", "429", "503"] {
            assert!(health.contains_key(status), "/admin/health {status}");
        }
        assert_eq!(
            health["503"]["description"],
            own["paths"]["/health"]["get"]["responses"]["503"]["description"]
        );
        assert_eq!(
            health["200"]["headers"]["RateLimit"]["$ref"],
            "#/components/headers/RateLimit"
        );
    }
}
