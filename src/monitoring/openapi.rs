//! The OpenAPI 3.1 document served at `/openapi.json`, built once by the builder.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::extension::MonitoringExtension;

/// The document of the service's own endpoints (`/metrics` only `with_metrics`) and the
/// extensions' path items (an extension cannot replace a path already described).
pub(super) fn openapi_document(
    with_metrics: bool,
    extensions: &[Arc<dyn MonitoringExtension>],
) -> Value {
    let problem_response = |description: &str| {
        json!({
            "description": description,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
        })
    };
    let health_op = |summary: &str, secured: bool, description: &str| {
        let mut op = json!({
            "summary": summary,
            "description": description,
            "responses": {
                "200": { "description": "Healthy or degraded.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/HealthReport" } } } },
                "503": { "description": "Unhealthy: a critical check failed.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/HealthReport" } } } }
            }
        });
        if secured {
            op["responses"]["401"] = problem_response("Missing or invalid bearer token.");
        } else {
            op["security"] = json!([]);
        }
        op
    };
    let mut paths = Map::new();
    paths.insert(
        "/".into(),
        json!({ "get": {
            "summary": "Dashboard page",
            "description": "A static HTML page that asks for the token and polls /dashboard with it. Holds no data; needs no token.",
            "security": [],
            "responses": {
                "200": { "description": "The page.", "content": { "text/html": { "schema": { "type": "string" } } } }
            }
        } }),
    );
    if with_metrics {
        paths.insert(
            "/metrics".into(),
            json!({ "get": {
                "summary": "Metrics exposition",
                "description": "Prometheus text format 0.0.4, or OpenMetrics 1.0 when Accept names application/openmetrics-text.",
                "responses": {
                    "200": { "description": "The metrics.", "content": {
                        "text/plain": { "schema": { "type": "string" } },
                        "application/openmetrics-text": { "schema": { "type": "string" } }
                    } },
                    "401": problem_response("Missing or invalid bearer token.")
                }
            } }),
        );
    }
    paths.insert(
        "/health".into(),
        json!({ "get": health_op("Full health report", true, "Runs (or reuses the cached results of) every health check.") }),
    );
    paths.insert(
        "/health/live".into(),
        json!({ "get": {
            "summary": "Liveness probe",
            "description": "Answers 200 whenever the process serves requests. Needs no token.",
            "security": [],
            "responses": { "200": { "description": "The process serves.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Status" } } } } }
        } }),
    );
    paths.insert(
        "/health/ready".into(),
        json!({ "get": health_op("Readiness probe", false, "Needs no token; without a valid token only the overall status is returned.") }),
    );
    paths.insert(
        "/dashboard".into(),
        json!({ "get": {
            "summary": "Dashboard",
            "description": "Per-route rate, error rate and latency percentiles over the sliding window, guard-layer event counts, the health status, and extension sections.",
            "responses": {
                "200": { "description": "The dashboard.", "content": { "application/json": { "schema": { "type": "object" } } } },
                "401": problem_response("Missing or invalid bearer token.")
            }
        } }),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({ "get": {
            "summary": "This document",
            "responses": {
                "200": { "description": "OpenAPI 3.1 document.", "content": { "application/json": { "schema": { "type": "object" } } } },
                "401": problem_response("Missing or invalid bearer token.")
            }
        } }),
    );
    for e in extensions {
        for (path, item) in e.openapi_paths() {
            paths.entry(path).or_insert(item);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tower-fortify monitoring",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Metrics, health and dashboard endpoints of a service guarded by tower-fortify. Paths are relative to where the service is mounted."
        },
        "security": [ { "bearer": [] } ],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Status": {
                    "type": "object",
                    "required": ["status"],
                    "properties": { "status": { "type": "string", "enum": ["healthy", "degraded", "unhealthy"] } }
                },
                "HealthReport": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": { "type": "string", "enum": ["healthy", "degraded", "unhealthy"] },
                        "age_seconds": { "type": "number" },
                        "checks": { "type": "array", "items": {
                            "type": "object",
                            "required": ["name", "status", "critical", "duration_ms"],
                            "properties": {
                                "name": { "type": "string" },
                                "status": { "type": "string", "enum": ["pass", "fail"] },
                                "critical": { "type": "boolean" },
                                "duration_ms": { "type": "number" },
                                "error": { "type": "string" }
                            }
                        } }
                    }
                },
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": { "type": "string" },
                        "title": { "type": "string" },
                        "status": { "type": "integer" },
                        "detail": { "type": "string" }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{Request, Response};

    use crate::monitoring::BoxFuture;

    #[derive(Debug)]
    struct Queue;

    impl MonitoringExtension for Queue {
        fn name(&self) -> &str {
            "queue"
        }
        fn call(&self, _req: Request<Bytes>) -> BoxFuture<Response<Bytes>> {
            Box::pin(async { Response::new(Bytes::new()) })
        }
        fn openapi_paths(&self) -> Map<String, Value> {
            let mut paths = Map::new();
            paths.insert(
                "/queue/items".into(),
                json!({ "get": { "summary": "items" } }),
            );
            // Cannot replace the service's own path.
            paths.insert(
                "/health".into(),
                json!({ "get": { "summary": "hijacked" } }),
            );
            paths
        }
    }

    #[test]
    fn metrics_path_only_with_metrics_and_extensions_merge_without_replacing() {
        let ext: Vec<Arc<dyn MonitoringExtension>> = vec![Arc::new(Queue)];
        let doc = openapi_document(false, &ext);
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"].get("/metrics").is_none());
        assert_eq!(doc["paths"]["/queue/items"]["get"]["summary"], "items");
        assert_eq!(
            doc["paths"]["/health"]["get"]["summary"],
            "Full health report"
        );
        assert_eq!(doc["paths"]["/health/live"]["get"]["security"], json!([]));
        let doc = openapi_document(true, &[]);
        assert!(doc["paths"].get("/metrics").is_some());
    }
}
