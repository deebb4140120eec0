//! `impl utoipa::Modify for FortifyDocs` (feature `utoipa`).

use ::utoipa::openapi::{path::Operation, OpenApi, PathItem, RefOr, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::docs::{FortifyDocs, OperationPlan};
use crate::rejection::PROBLEM_JSON;

/// One of the JSON pieces as a utoipa type. The pieces are written for OpenAPI 3.1 and
/// tested to deserialise; a piece that would not is left out rather than panicking.
fn typed<T: DeserializeOwned>(v: &Value) -> Option<T> {
    serde_json::from_value(v.clone()).ok()
}

/// Adds the guard layers' responses, headers and components to a utoipa document:
/// `#[openapi(modifiers(&docs))]`, or `docs.modify(&mut api)` on a built document.
impl ::utoipa::Modify for FortifyDocs {
    fn modify(&self, api: &mut OpenApi) {
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
        // The monitoring paths first: the guard layers in front of the application are
        // in front of the service nested in it too.
        for (path, v) in self.monitoring_paths() {
            if let (false, Some(item)) = (api.paths.paths.contains_key(&path), typed(&v)) {
                api.paths.paths.insert(path, item);
            }
        }
        for (path, item) in api.paths.paths.iter_mut() {
            let plan = self.plan(path);
            for op in operations(item) {
                apply(op, &plan);
            }
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
        item.query.as_mut(),
    ]
    .into_iter()
    .flatten()
    .chain(item.additional_operations.values_mut())
}

fn apply(op: &mut Operation, plan: &OperationPlan) {
    let responses = &mut op.responses.responses;
    for (status, v) in &plan.responses {
        match responses.get_mut(status) {
            None => {
                if let Some(r) = typed::<Response>(v) {
                    responses.insert(status.clone(), RefOr::T(r));
                }
            }
            Some(RefOr::T(existing)) => {
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
            Some(RefOr::Ref(_)) => {}
        }
    }
    for r in responses.values_mut() {
        let RefOr::T(r) = r else { continue };
        for (n, h) in &plan.headers {
            if let (false, Some(h)) = (r.headers.contains_key(n), typed(h)) {
                r.headers.insert(n.clone(), h);
            }
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
    use ::utoipa::Modify;

    use super::*;
    use crate::openapi::docs::tests::{app_document, docs};

    fn utoipa_doc(v: &Value) -> OpenApi {
        serde_json::from_value(v.clone()).unwrap()
    }

    #[test]
    fn modify_adds_what_the_json_reference_adds() {
        let svc = crate::monitoring::MonitoringService::builder()
            .bearer_token("s3cret-token-of-32-characters-xx")
            .build()
            .unwrap();
        for docs in [
            docs(),
            docs().per_route(true),
            docs().monitoring(&svc, "/admin"),
        ] {
            let mut api = utoipa_doc(&app_document());
            docs.modify(&mut api);
            let mut reference = app_document();
            docs.apply_json(&mut reference);
            assert_eq!(
                serde_json::to_value(&api).unwrap(),
                serde_json::to_value(utoipa_doc(&reference)).unwrap()
            );
        }
    }

    #[test]
    fn exact_additions() {
        let mut api = utoipa_doc(&app_document());
        docs().per_route(true).modify(&mut api);
        let get = api
            .paths
            .get_path_operation("/items/{id}", ::utoipa::openapi::HttpMethod::Get)
            .unwrap();
        let statuses: Vec<&str> = get.responses.responses.keys().map(String::as_str).collect();
        assert_eq!(
            statuses,
            ["200", "400", "403", "408", "413", "415", "429", "503"]
        );
        let RefOr::T(limited) = &get.responses.responses["429"] else {
            panic!("inline")
        };
        let headers: Vec<&str> = limited.headers.keys().map(String::as_str).collect();
        assert!(headers.contains(&"Retry-After") && headers.contains(&"RateLimit-Policy"));
        assert!(limited.content.contains_key("application/problem+json"));
        let raw = api
            .paths
            .get_path_operation("/raw", ::utoipa::openapi::HttpMethod::Post)
            .unwrap();
        let statuses: Vec<&str> = raw.responses.responses.keys().map(String::as_str).collect();
        assert_eq!(statuses, ["200", "400", "429"]);
        let comps = api.components.unwrap();
        assert!(comps.schemas.contains_key("Problem"));
        assert!(
            comps.headers.contains_key("Retry-After")
                && comps.headers.contains_key("X-Frame-Options")
        );
    }
}
