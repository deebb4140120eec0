//! The guard layers in an application's OpenAPI document, through each generator's own
//! router integration: aide's `ApiRouter::finish_api_with` and utoipa-axum's
//! `OpenApiRouter`. The utoipa test then sends refused requests through the same layer
//! values and checks every status and guard header they answer with is in the document.
#![cfg(all(feature = "utoipa", feature = "aide", feature = "axum"))]

use std::{convert::Infallible, net::SocketAddr};

use axum::{body::Body, extract::ConnectInfo, Json};
use http::{Request, StatusCode};
use serde::Serialize;
use serde_json::Value;
use tower::{ServiceBuilder, ServiceExt};
use tower_fortify::{
    injection::{Exclusion, InjectionLayer},
    openapi::FortifyDocs,
    rate_limit::{PeerIp, Policy, Quota, RateLimitLayer},
    security_headers::SecurityHeadersLayer,
    trusted_host::TrustedHostLayer,
};
use utoipa::Modify;

#[derive(Serialize, schemars::JsonSchema, utoipa::ToSchema)]
struct Item {
    id: u32,
}

fn guards() -> (
    SecurityHeadersLayer,
    TrustedHostLayer,
    RateLimitLayer,
    InjectionLayer,
) {
    (
        SecurityHeadersLayer::strict().build().unwrap(),
        TrustedHostLayer::builder(["example.com"]).build().unwrap(),
        RateLimitLayer::builder()
            .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(2)).unwrap())
            .build()
            .unwrap(),
        InjectionLayer::builder()
            .exclude(Exclusion::route("/health").unwrap())
            .build()
            .unwrap(),
    )
}

fn docs(
    g: &(
        SecurityHeadersLayer,
        TrustedHostLayer,
        RateLimitLayer,
        InjectionLayer,
    ),
) -> FortifyDocs {
    FortifyDocs::new()
        .security_headers(&g.0)
        .trusted_host(&g.1)
        .rate_limit(&g.2)
        .injection(&g.3)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// What both generators must add to `GET /items` and `GET /health` (per route: the
/// injection exclusion takes `/health` out of its checks).
fn assert_additions(doc: &Value) {
    let items = &doc["paths"]["/items"]["get"]["responses"];
    assert_eq!(keys(items), ["200", "400", "403", "408", "415", "429"]);
    let health = &doc["paths"]["/health"]["get"]["responses"];
    assert_eq!(keys(health), ["200", "400", "429"]);
    let limited = &items["429"];
    assert_eq!(
        limited["headers"]["Retry-After"]["$ref"],
        "#/components/headers/Retry-After"
    );
    let schema = &limited["content"]["application/problem+json"]["schema"];
    assert_eq!(schema["allOf"][0]["$ref"], "#/components/schemas/Problem");
    assert_eq!(
        schema["allOf"][1]["properties"]["violated-policies"]["items"]["enum"],
        serde_json::json!(["ip"])
    );
    assert_eq!(
        items["400"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    for status in ["200", "403", "429"] {
        for h in ["RateLimit", "RateLimit-Policy", "X-Content-Type-Options"] {
            assert_eq!(
                items[status]["headers"][h]["$ref"],
                format!("#/components/headers/{h}")
            );
        }
    }
    let c = &doc["components"];
    assert_eq!(
        c["schemas"]["Problem"]["required"],
        serde_json::json!(["type", "title", "status"])
    );
    assert_eq!(
        c["headers"]["RateLimit-Policy"]["example"],
        "\"ip\";q=2;w=60"
    );
    assert_eq!(c["headers"]["X-Frame-Options"]["example"], "DENY");
}

async fn list() -> Json<Vec<Item>> {
    Json(vec![Item { id: 1 }])
}

#[test]
fn aide_router_document_gains_the_guards() {
    use aide::axum::{routing::get, ApiRouter};

    let g = guards();
    let docs = docs(&g).per_route(true);
    let mut api = aide::openapi::OpenApi::default();
    let _router: axum::Router = ApiRouter::new()
        .api_route("/items", get(list))
        .api_route("/health", get(|| async { "ok" }))
        .finish_api_with(&mut api, docs.aide_transform());
    assert_additions(&serde_json::to_value(&api).unwrap());
}

#[utoipa::path(get, path = "/items", responses((status = 200, body = [Item])))]
async fn list_items() -> Json<Vec<Item>> {
    list().await
}

#[utoipa::path(get, path = "/health", responses((status = 200, body = String)))]
async fn health() -> &'static str {
    "ok"
}

#[tokio::test]
async fn utoipa_router_document_gains_the_guards_and_matches_the_answers() {
    use utoipa_axum::{router::OpenApiRouter, routes};

    let g = guards();
    let (router, mut api) = OpenApiRouter::new()
        .routes(routes!(list_items))
        .routes(routes!(health))
        .split_for_parts();
    docs(&g).per_route(true).modify(&mut api);
    let doc = serde_json::to_value(&api).unwrap();
    assert_additions(&doc);

    // The same layer values guard the router: every refusal is documented, with its headers.
    let app = router.layer(
        ServiceBuilder::new()
            .layer(g.0.clone())
            .layer(g.1.clone())
            .layer(g.2.clone())
            .layer(g.3.clone()),
    );
    let send = |host: &str, uri: &str| {
        let mut req = Request::get(uri)
            .header("host", host)
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(
            "203.0.113.9:4000".parse::<SocketAddr>().unwrap(),
        ));
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap()) }
    };
    let mut seen = Vec::new();
    for (host, uri) in [
        ("evil.example", "/items"),
        ("example.com", "/items?id=1%27%20OR%20%271%27%3D%271"),
        ("example.com", "/items"),
        ("example.com", "/items"),
    ] {
        let res = send(host, uri).await.unwrap();
        let status = res.status();
        seen.push(status);
        let documented = &doc["paths"]["/items"]["get"]["responses"][status.as_str()];
        assert!(documented.is_object(), "{status} is not documented");
        if status != StatusCode::OK {
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            assert!(documented["content"]["application/problem+json"].is_object());
        }
        for name in res.headers().keys() {
            let guard_header = doc["components"]["headers"]
                .as_object()
                .unwrap()
                .keys()
                .find(|k| k.eq_ignore_ascii_case(name.as_str()));
            if let Some(component) = guard_header {
                assert!(
                    documented["headers"][component].is_object(),
                    "{status}: {component} is sent but not documented"
                );
            }
        }
    }
    assert_eq!(
        seen,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::FORBIDDEN,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}
