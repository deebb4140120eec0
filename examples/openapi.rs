//! A small notes API described with utoipa (its axum integration, utoipa-axum) and
//! guarded by tower-fortify; `/openapi.json` serves the document augmented with what
//! the guard layers answer ([`FortifyDocs`]).
//!
//! ```sh
//! cargo run --example openapi --features utoipa,axum
//! curl -s http://127.0.0.1:3000/openapi.json | jq '.paths."/notes".get.responses | keys'
//! # ["200", "400", "403", "408", "415", "429"]
//! cargo run --example openapi --features utoipa,axum -- --print-openapi        # the augmented document
//! cargo run --example openapi --features utoipa,axum -- --print-openapi-plain  # the application's own
//! ```
//!
//! `.ci/openapi.sh` validates the augmented document with `openapi-spec-validator` and
//! runs schemathesis against this server with it: every status the server answers is
//! documented, the guards' 429 and 403 included.
//!
//! Environment: `ADDR` (default `127.0.0.1:3000`).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    routing::get,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;
use tower_fortify::{
    injection::InjectionLayer,
    openapi::FortifyDocs,
    rate_limit::{PeerIp, Policy, Quota, RateLimitLayer},
    security_headers::SecurityHeadersLayer,
    trusted_host::TrustedHostLayer,
};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// A note.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct Note {
    id: u32,
    text: String,
}

/// The body of `POST /notes`.
#[derive(Debug, Deserialize, ToSchema)]
struct NewNote {
    text: String,
}

/// The query of `GET /notes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Search {
    /// Only notes containing this text.
    q: Option<String>,
}

type Notes = Arc<Mutex<BTreeMap<u32, Note>>>;

/// Lists the notes.
#[utoipa::path(get, path = "/notes", params(Search),
    responses(
        (status = 200, description = "The notes.", body = [Note]),
        (status = 400, description = "The query is malformed.", content_type = "text/plain", body = String),
    ))]
async fn list(State(notes): State<Notes>, Query(s): Query<Search>) -> Json<Vec<Note>> {
    let notes = notes.lock().unwrap_or_else(|e| e.into_inner());
    Json(
        notes
            .values()
            .filter(|n| s.q.as_deref().is_none_or(|q| n.text.contains(q)))
            .cloned()
            .collect(),
    )
}

/// One note.
#[utoipa::path(get, path = "/notes/{id}", params(("id" = u32, Path, description = "The note's id.")),
    responses(
        (status = 200, description = "The note.", body = Note),
        (status = 400, description = "The id is not a number.", content_type = "text/plain", body = String),
        (status = 404, description = "No such note."),
    ))]
async fn get_note(
    State(notes): State<Notes>,
    Path(id): Path<u32>,
) -> Result<Json<Note>, StatusCode> {
    let notes = notes.lock().unwrap_or_else(|e| e.into_inner());
    notes
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

/// Adds a note.
#[utoipa::path(post, path = "/notes", request_body = NewNote,
    responses(
        (status = 201, description = "The new note.", body = Note),
        (status = 400, description = "The body is not JSON.", content_type = "text/plain", body = String),
        (status = 413, description = "The body is too large.", content_type = "text/plain", body = String),
        (status = 415, description = "The body is not `application/json`.", content_type = "text/plain", body = String),
        (status = 422, description = "The JSON is not a note.", content_type = "text/plain", body = String),
    ))]
async fn create(State(notes): State<Notes>, Json(new): Json<NewNote>) -> (StatusCode, Json<Note>) {
    let mut notes = notes.lock().unwrap_or_else(|e| e.into_inner());
    let id = notes.keys().next_back().map_or(1, |last| last + 1);
    let note = Note { id, text: new.text };
    notes.insert(id, note.clone());
    (StatusCode::CREATED, Json(note))
}

#[derive(OpenApi)]
#[openapi(info(
    title = "notes",
    version = "1.0.0",
    description = "A notes API guarded by tower-fortify."
))]
struct ApiDoc;

/// The guard layers, built once: the same values go into the stack and into the document.
struct Guards {
    headers: SecurityHeadersLayer,
    hosts: TrustedHostLayer,
    limit: RateLimitLayer,
    injection: InjectionLayer,
}

impl Guards {
    fn new() -> Result<Self, tower_fortify::ConfigError> {
        Ok(Self {
            headers: SecurityHeadersLayer::strict().build()?,
            hosts: TrustedHostLayer::builder(["localhost", "127.0.0.1", "[::1]"]).build()?,
            limit: RateLimitLayer::builder()
                .policy(Policy::new(
                    "ip",
                    PeerIp::new(),
                    Quota::per_second(20).burst(40),
                )?)
                .build()?,
            injection: InjectionLayer::builder().build()?,
        })
    }

    fn docs(&self) -> FortifyDocs {
        FortifyDocs::new()
            .security_headers(&self.headers)
            .trusted_host(&self.hosts)
            .rate_limit(&self.limit)
            .injection(&self.injection)
    }
}

/// The router and the application's own document (before the guards are added).
fn app() -> (Router<Notes>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list, create))
        .routes(routes!(get_note))
        .split_for_parts()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guards = Guards::new()?;
    let (router, mut api) = app();
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--print-openapi-plain") {
        println!("{}", api.to_pretty_json()?);
        return Ok(());
    }
    guards.docs().modify(&mut api);
    let document = api.to_pretty_json()?;
    if arg.as_deref() == Some("--print-openapi") {
        println!("{document}");
        return Ok(());
    }

    let notes: Notes = Arc::default();
    let app = router
        .route(
            "/openapi.json",
            get(move || async move { ([("content-type", "application/json")], document) }),
        )
        .with_state(notes)
        .layer(
            ServiceBuilder::new()
                .layer(guards.headers)
                .layer(guards.hosts)
                .layer(guards.limit)
                .layer(guards.injection),
        );

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let bound = listener.local_addr()?;
    println!("openapi example listening on http://{bound}");
    println!("  curl -s http://{bound}/openapi.json");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
