//! [`FortifyDocs::apply_aide`] and [`FortifyDocs::aide_transform`] (feature `aide`).

use ::aide::{
    openapi::{OpenApi, Operation, PathItem, ReferenceOr, Response, StatusCode},
    transform::TransformOpenApi,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::docs::{FortifyDocs, OperationPlan};
use crate::rejection::PROBLEM_JSON;

/// One of the JSON pieces as an aide type. The pieces are written for OpenAPI 3.1 and
/// tested to deserialise; a piece that would not is left out rather than panicking.
fn typed<T: DeserializeOwned>(v: &Value) -> Option<T> {
    serde_json::from_value(v.clone()).ok()
}

impl FortifyDocs {
    /// Adds the guard layers' responses, headers and components to an aide document
    /// (after the router's paths are in it).
    #[cfg_attr(docsrs, doc(cfg(feature = "aide")))]
    pub fn apply_aide(&self, api: &mut OpenApi) {
        let comps = api.components.get_or_insert_with(Default::default);
        for (name, v) in self.schemas() {
            if let (false, Some(t)) = (comps.schemas.contains_key(&name), typed(&v)) {
                comps.schemas.insert(name, t);
            }
        }
        for (name, v) in self.headers() {
            if let (false, Some(t)) = (comps.headers.contains_key(&name), typed(&v)) {
                comps.headers.insert(name, t);
            }
        }
        for (name, v) in self.security_schemes() {
            if let (false, Some(t)) = (comps.security_schemes.contains_key(&name), typed(&v)) {
                comps.security_schemes.insert(name, t);
            }
        }
        let paths = api.paths.get_or_insert_with(Default::default);
        // The monitoring paths first: the guard layers in front of the application are
        // in front of the service nested in it too.
        for (path, v) in self.monitoring_paths() {
            if let (false, Some(item)) = (paths.paths.contains_key(&path), typed(&v)) {
                paths.paths.insert(path, ReferenceOr::Item(item));
            }
        }
        for (path, item) in paths.paths.iter_mut() {
            let ReferenceOr::Item(item) = item else {
                continue;
            };
            let plan = self.plan(path);
            for op in operations(item) {
                apply(op, &plan);
            }
        }
    }

    /// [`apply_aide`](Self::apply_aide) as an aide transform, for
    /// `ApiRouter::finish_api_with(&mut api, docs.aide_transform())`.
    #[cfg_attr(docsrs, doc(cfg(feature = "aide")))]
    pub fn aide_transform(
        &self,
    ) -> impl for<'t> FnOnce(TransformOpenApi<'t>) -> TransformOpenApi<'t> + '_ {
        move |mut t: TransformOpenApi<'_>| {
            self.apply_aide(t.inner_mut());
            t
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn apply(op: &mut Operation, plan: &OperationPlan) {
    let all = op.responses.get_or_insert_with(Default::default);
    if let Some(ReferenceOr::Item(r)) = all.default.as_mut() {
        add_headers(r, plan);
    }
    let responses = &mut all.responses;
    for (status, v) in &plan.responses {
        let Ok(code) = status.parse::<u16>() else {
            continue;
        };
        let code = StatusCode::Code(code);
        match responses.get_mut(&code) {
            None => {
                if let Some(r) = typed::<Response>(v) {
                    responses.insert(code, ReferenceOr::Item(r));
                }
            }
            Some(ReferenceOr::Item(existing)) => {
                if !existing.content.contains_key(PROBLEM_JSON) {
                    if let Some(c) = typed(&v["content"][PROBLEM_JSON]) {
                        existing.content.insert(PROBLEM_JSON.to_owned(), c);
                    }
                }
                if let Some(hs) = v["headers"].as_object() {
                    for (n, h) in hs {
                        if let (false, Some(h)) = (existing.headers.contains_key(n), typed(h)) {
                            existing.headers.insert(n.clone(), h);
                        }
                    }
                }
            }
            Some(ReferenceOr::Reference { .. }) => {}
        }
    }
    for r in responses.values_mut() {
        if let ReferenceOr::Item(r) = r {
            add_headers(r, plan);
        }
    }
}

fn add_headers(r: &mut Response, plan: &OperationPlan) {
    for (n, h) in &plan.headers {
        if let (false, Some(h)) = (r.headers.contains_key(n), typed(h)) {
            r.headers.insert(n.clone(), h);
        }
    }
}

#[cfg(all(
    test,
    feature = "rate-limit",
    feature = "injection",
    feature = "security-headers",
    feature = "monitoring"
))]
mod tests {
    use super::*;
    use crate::openapi::docs::tests::{app_document, docs};

    fn aide_doc(v: &Value) -> OpenApi {
        // `OpenApi::openapi` is a `Cow<'static, str>` that only deserialises borrowed.
        serde_json::from_str(Box::leak(v.to_string().into_boxed_str())).unwrap()
    }

    #[test]
    fn apply_aide_adds_what_the_json_reference_adds() {
        let svc = crate::monitoring::MonitoringService::builder()
            .bearer_token("s3cret-token-of-32-characters-xx")
            .build()
            .unwrap();
        for docs in [
            docs(),
            docs().per_route(true),
            docs().monitoring(&svc, "/admin"),
        ] {
            let mut api = aide_doc(&app_document());
            docs.apply_aide(&mut api);
            let mut reference = app_document();
            docs.apply_json(&mut reference);
            assert_eq!(
                serde_json::to_value(&api).unwrap(),
                serde_json::to_value(aide_doc(&reference)).unwrap()
            );
        }
    }

    #[test]
    fn exact_additions() {
        let mut api = aide_doc(&app_document());
        docs().per_route(true).apply_aide(&mut api);
        let paths = api.paths.as_ref().unwrap();
        let ReferenceOr::Item(items) = &paths.paths["/items/{id}"] else {
            panic!("inline")
        };
        let get = items.get.as_ref().unwrap().responses.as_ref().unwrap();
        let mut statuses: Vec<String> = get.responses.keys().map(|s| s.to_string()).collect();
        statuses.sort();
        assert_eq!(
            statuses,
            ["200", "400", "403", "408", "413", "415", "429", "503"]
        );
        let ReferenceOr::Item(limited) = &get.responses[&StatusCode::Code(429)] else {
            panic!("inline")
        };
        assert!(limited.headers.contains_key("Retry-After"));
        assert!(limited.headers.contains_key("RateLimit"));
        assert!(limited.content.contains_key("application/problem+json"));
        let ReferenceOr::Item(raw) = &paths.paths["/raw"] else {
            panic!("inline")
        };
        let raw = raw.post.as_ref().unwrap().responses.as_ref().unwrap();
        assert!(!raw.responses.contains_key(&StatusCode::Code(403)));
        let comps = api.components.as_ref().unwrap();
        assert!(comps.schemas.contains_key("Problem"));
        assert!(comps.headers.contains_key("RateLimit-Policy"));
    }
}
