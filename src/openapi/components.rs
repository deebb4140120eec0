//! The JSON pieces every OpenAPI document of this crate shares: the RFC 9457 `Problem`
//! schema, the `bearer` security scheme, header components and guard responses. The
//! monitoring service's own document and the generators for utoipa and aide both build
//! from here, so the two documents follow one style.

use serde_json::{json, Map, Value};

use super::model::{HeaderDoc, HeaderValueType, ResponseDoc};
use crate::rejection::PROBLEM_JSON;

/// The name of the problem+json schema component.
pub(crate) const PROBLEM_SCHEMA: &str = "Problem";
/// The name of the monitoring service's security scheme component.
pub(crate) const BEARER_SCHEME: &str = "bearer";

/// `{"$ref": "#/components/schemas/Problem"}`.
pub(crate) fn problem_ref() -> Value {
    json!({ "$ref": format!("#/components/schemas/{PROBLEM_SCHEMA}") })
}

/// The RFC 9457 problem details schema, with this crate's extension members.
pub(crate) fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details: the body of every refusal by a tower-fortify guard layer and of every error of the monitoring service.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": { "type": "string", "description": "A URI reference that identifies the problem type; `about:blank` when the status says it all." },
            "title": { "type": "string", "description": "A short summary of the problem type." },
            "status": { "type": "integer", "minimum": 100, "maximum": 599, "description": "The HTTP status code." },
            "detail": { "type": "string", "description": "An explanation of this occurrence. It never echoes the request." },
            "instance": { "type": "string", "description": "A URI reference that identifies this occurrence." },
            "violated-policies": { "type": "array", "items": { "type": "string" }, "description": "Rate limiting: the names of the policies that refused the request." },
            "categories": { "type": "array", "items": { "type": "string" }, "description": "Injection blocking: the attack families found, each once." }
        }
    })
}

/// A response with a problem+json body of the shared schema.
pub(crate) fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { PROBLEM_JSON: { "schema": problem_ref() } }
    })
}

/// The monitoring service's HTTP bearer scheme.
pub(crate) fn bearer_scheme() -> Value {
    json!({
        "type": "http",
        "scheme": "bearer",
        "description": "The monitoring service's bearer token (`Authorization: Bearer <token>`)."
    })
}

/// `{"$ref": "#/components/headers/<name>"}`.
pub(crate) fn header_ref(component: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{component}") })
}

/// The header component for `h`.
pub(crate) fn header_component(h: &HeaderDoc) -> Value {
    let (ty, example) = match h.value_type {
        HeaderValueType::Integer => (
            "integer",
            h.example
                .as_deref()
                .and_then(|e| e.parse::<u64>().ok())
                .map(Value::from),
        ),
        _ => ("string", h.example.clone().map(Value::from)),
    };
    let mut header = json!({
        "description": h.description,
        "schema": { "type": ty },
    });
    if let Some(example) = example {
        header["example"] = example;
    }
    header
}

/// The problem+json schema of a guard response: the shared schema, narrowed by the
/// problem type and the members' known values when the layer gives them.
pub(crate) fn guard_schema(r: &ResponseDoc) -> Value {
    let mut narrowed = Map::new();
    if let Some(uri) = &r.problem_type {
        narrowed.insert("type".into(), json!({ "type": "string", "enum": [uri] }));
    }
    for m in &r.members {
        let mut items = json!({ "type": "string" });
        if !m.values.is_empty() {
            items["enum"] = json!(m.values);
        }
        narrowed.insert(
            m.name.clone(),
            json!({ "type": "array", "items": items, "description": m.description }),
        );
    }
    if narrowed.is_empty() {
        return problem_ref();
    }
    json!({ "allOf": [problem_ref(), { "type": "object", "properties": narrowed }] })
}

/// The response object for a guard response: description, header references and the
/// problem+json body.
pub(crate) fn guard_response(r: &ResponseDoc) -> Value {
    let mut headers = Map::new();
    for h in &r.headers {
        let name = h.component_name();
        headers.insert(name.clone(), header_ref(&name));
    }
    let mut res = json!({
        "description": r.description,
        "content": { PROBLEM_JSON: { "schema": guard_schema(r) } }
    });
    if !headers.is_empty() {
        res["headers"] = Value::Object(headers);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::MemberDoc;
    use http::{HeaderName, StatusCode};

    #[test]
    fn guard_response_refers_to_the_shared_pieces() {
        let r = ResponseDoc::new(StatusCode::TOO_MANY_REQUESTS, "slow down")
            .problem_type("urn:x")
            .member(MemberDoc::new("violated-policies", "which").values(["ip"]))
            .header(
                HeaderDoc::new(HeaderName::from_static("retry-after"), "wait")
                    .example("3")
                    .value_type(HeaderValueType::Integer),
            );
        let v = guard_response(&r);
        assert_eq!(
            v["headers"]["Retry-After"]["$ref"],
            "#/components/headers/Retry-After"
        );
        let schema = &v["content"]["application/problem+json"]["schema"];
        assert_eq!(schema["allOf"][0]["$ref"], "#/components/schemas/Problem");
        assert_eq!(schema["allOf"][1]["properties"]["type"]["enum"][0], "urn:x");
        assert_eq!(
            schema["allOf"][1]["properties"]["violated-policies"]["items"]["enum"],
            json!(["ip"])
        );
        let h = header_component(&r.headers[0]);
        assert_eq!(h["schema"]["type"], "integer");
        assert_eq!(h["example"], 3);
        // No narrowing: a plain reference.
        let plain = guard_response(&ResponseDoc::new(StatusCode::BAD_REQUEST, "bad host"));
        assert_eq!(
            plain["content"]["application/problem+json"]["schema"],
            problem_ref()
        );
        assert!(plain.get("headers").is_none());
        assert_eq!(
            problem_schema()["required"],
            json!(["type", "title", "status"])
        );
    }
}
