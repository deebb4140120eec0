//! **DELIBERATELY VULNERABLE** test target for `scripts/sqlmap_check.sh` (issue #12): a
//! handler that builds its SQL by string concatenation and runs it in a real SQL engine
//! (SQLite, bundled), so that sqlmap has something to find. Never deploy this. It listens
//! on the loopback interface only.
//!
//! ```text
//! cargo run --release --example sqli_target -- --port 18412             # unprotected
//! cargo run --release --example sqli_target -- --port 18413 --protect   # behind InjectionLayer (balanced)
//! scripts/sqlmap_check.sh http://127.0.0.1:18413
//! ```
//!
//! Routes: `GET /item?id=N` and `POST /item` with the form field `id`; both answer the
//! item's name (200), `not found` (404) or the SQL error (500), like a careless
//! application would.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Query, State},
    http::StatusCode,
    routing::get,
    Form, Router,
};
use tower_fortify::injection::{InjectionLayer, Profile};

#[derive(serde::Deserialize)]
struct Params {
    #[serde(default)]
    id: String,
}

type Db = Arc<Mutex<rusqlite::Connection>>;

/// The vulnerability: `id` is pasted into the statement.
fn lookup(db: &Db, id: &str) -> (StatusCode, String) {
    let sql = format!("SELECT name FROM items WHERE id = {id}");
    let Ok(conn) = db.lock() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "lock".into());
    };
    let result = conn.prepare(&sql).and_then(|mut stmt| {
        let mut rows = stmt.query([])?;
        let mut names = Vec::new();
        while let Some(row) = rows.next()? {
            let v: rusqlite::types::Value = row.get(0)?;
            names.push(format!("{v:?}"));
        }
        Ok(names)
    });
    match result {
        Ok(names) if names.is_empty() => (StatusCode::NOT_FOUND, "not found".into()),
        Ok(names) => (StatusCode::OK, names.join("\n")),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("error: {e}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 18412u16;
    let mut protect = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port),
            "--protect" => protect = true,
            _ => {
                eprintln!("usage: sqli_target [--port N] [--protect]");
                std::process::exit(2);
            }
        }
    }
    let conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT, password TEXT);
         INSERT INTO items VALUES (1, 'lamp'), (2, 'chair'), (3, 'table');
         INSERT INTO users VALUES (1, 'admin', 'hunter2');",
    )?;
    let db: Db = Arc::new(Mutex::new(conn));
    let app = Router::new()
        .route(
            "/item",
            get(|State(db): State<Db>, Query(p): Query<Params>| async move { lookup(&db, &p.id) })
                .post(
                    |State(db): State<Db>, Form(p): Form<Params>| async move { lookup(&db, &p.id) },
                ),
        )
        .with_state(db);
    let app = if protect {
        app.layer(
            InjectionLayer::builder()
                .profile(Profile::Balanced)
                .build()?,
        )
    } else {
        app
    };
    // Loopback only: this handler is injectable on purpose.
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "sqli_target ({}) listening on http://{addr}",
        if protect { "protected" } else { "UNPROTECTED" }
    );
    axum::serve(listener, app).await?;
    Ok(())
}
