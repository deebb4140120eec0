//! The OpenAPI 3.1 paths of [`NotifyExtension`](super::NotifyExtension)'s endpoints, as
//! the monitoring service publishes them in `/openapi.json`. Only data: the JSON schema
//! of every answer, kept apart from the routing so each reads on its own.

use serde_json::{json, Map, Value};

/// The `paths` object for `/notify/*`; `sinks` are the notifier's sink names, the only
/// values a selection's `sink` may take.
pub(super) fn openapi_paths(sinks: &[&str]) -> Map<String, Value> {
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
        })
    };
    let ok = |description: &str, schema: Value| json!({ "description": description, "content": { "application/json": { "schema": schema } } });
    let sink_stats = json!({
        "type": "object",
        "required": ["name", "in_flight", "delivered", "retried", "dead_lettered", "dropped", "abandoned"],
        "properties": {
            "name": { "type": "string" },
            "in_flight": { "type": "integer", "minimum": 0 },
            "delivered": { "type": "integer", "minimum": 0 },
            "retried": { "type": "integer", "minimum": 0 },
            "dead_lettered": { "type": "integer", "minimum": 0 },
            "dropped": { "type": "integer", "minimum": 0 },
            "abandoned": { "type": "integer", "minimum": 0 }
        }
    });
    let stats = json!({
        "type": "object",
        "required": ["submitted", "queued", "dead_letter_queue_len", "sinks"],
        "properties": {
            "submitted": { "type": "integer", "minimum": 0 },
            "queued": { "type": "integer", "minimum": 0 },
            "dead_letter_queue_len": { "type": "integer", "minimum": 0 },
            "sinks": { "type": "array", "items": sink_stats }
        }
    });
    let notification = json!({
        "type": "object",
        "required": ["id", "kind", "priority", "title", "message", "fields", "count", "timestamp", "source"],
        "properties": {
            "id": { "type": "string", "pattern": "^ntf_[0-9a-f]{32}$" },
            "kind": { "type": "string" },
            "priority": { "type": "string", "enum": ["critical", "high", "normal", "low"] },
            "title": { "type": "string" },
            "message": { "type": "string" },
            "fields": { "type": "object" },
            "count": { "type": "integer", "minimum": 1 },
            "timestamp": { "type": "string", "format": "date-time" },
            "source": { "type": "string" }
        }
    });
    let dead_letter = json!({
        "type": "object",
        "required": ["sink", "reason", "attempts", "dead_lettered_at", "batch_id", "notification"],
        "properties": {
            "sink": { "type": "string" },
            "reason": { "type": "string" },
            "attempts": { "type": "integer", "minimum": 0 },
            "dead_lettered_at": { "type": "string", "format": "date-time" },
            "batch_id": { "type": ["string", "null"] },
            "notification": notification
        }
    });
    let sink_values: Vec<Value> = sinks
        .iter()
        .map(|s| Value::from(*s))
        .chain([Value::Null])
        .collect();
    let selection = json!({
        "required": false,
        "description": "Which entries: every entry when the body is empty.",
        "content": { "application/json": { "schema": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "sink": { "type": ["string", "null"], "enum": sink_values, "description": "Only this sink's entries (one of the notifier's sinks); null or absent: every sink." },
                "ids": { "type": ["array", "null"], "items": { "type": "string", "pattern": "^ntf_[0-9a-f]{32}$" }, "description": "Only these notifications' entries; null or absent: every notification." }
            }
        } } }
    });
    let unauthorized = problem("Missing or invalid bearer token.");
    let rejected_selection = |op: &mut Value| {
        op["requestBody"] = selection.clone();
        op["responses"]["400"] = problem("The body is neither empty nor a selection object.");
        op["responses"]["422"] = problem("An unknown sink or a malformed notification id.");
        op["responses"]["401"] = unauthorized.clone();
    };

    let mut replay = json!({
        "summary": "Replay dead letters",
        "description": "Sends the selected entries again, each to the sink that refused it, with the usual retries, and waits for the outcome. Entries that fail again go back to the dead-letter queue. Does nothing after shutdown.",
        "responses": { "200": ok("What the replay achieved.", json!({
            "type": "object",
            "required": ["replayed", "delivered", "dead_lettered"],
            "properties": {
                "replayed": { "type": "integer", "minimum": 0 },
                "delivered": { "type": "integer", "minimum": 0 },
                "dead_lettered": { "type": "integer", "minimum": 0 }
            }
        })) }
    });
    rejected_selection(&mut replay);
    let mut drain = json!({
        "summary": "Drain dead letters",
        "description": "Removes the selected entries and returns them. They stay counted as dead-lettered.",
        "responses": { "200": ok("The removed entries, oldest first.", json!({
            "type": "object",
            "required": ["drained", "dead_letters"],
            "properties": {
                "drained": { "type": "integer", "minimum": 0 },
                "dead_letters": { "type": "array", "items": dead_letter.clone() }
            }
        })) }
    });
    rejected_selection(&mut drain);

    let mut paths = Map::new();
    paths.insert(
        "/notify/stats".into(),
        json!({ "get": {
            "summary": "Notification statistics",
            "description": "Per sink: in flight, delivered, retried, dead-lettered, dropped and abandoned; submitted == queued + in_flight + delivered + dead_lettered + dropped + abandoned for every sink.",
            "responses": {
                "200": ok("The counts.", stats),
                "401": unauthorized.clone()
            }
        } }),
    );
    paths.insert(
        "/notify/dead-letters".into(),
        json!({ "get": {
            "summary": "Dead-letter queue",
            "description": "A copy of the dead-letter queue, oldest first.",
            "responses": {
                "200": ok("The entries.", json!({
                    "type": "object",
                    "required": ["count", "dead_letters"],
                    "properties": {
                        "count": { "type": "integer", "minimum": 0 },
                        "dead_letters": { "type": "array", "items": dead_letter }
                    }
                })),
                "401": unauthorized
            }
        } }),
    );
    paths.insert(
        "/notify/dead-letters/replay".into(),
        json!({ "post": replay }),
    );
    paths.insert(
        "/notify/dead-letters/drain".into(),
        json!({ "post": drain }),
    );
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_described_with_its_method_and_errors() {
        let paths = openapi_paths(&["log", "webhook"]);
        let ops = [
            ("/notify/stats", "get"),
            ("/notify/dead-letters", "get"),
            ("/notify/dead-letters/replay", "post"),
            ("/notify/dead-letters/drain", "post"),
        ];
        assert_eq!(paths.len(), ops.len());
        for (path, method) in ops {
            let op = &paths[path][method];
            assert!(op["responses"]["200"].is_object(), "{path}");
            assert!(op["responses"]["401"].is_object(), "{path}");
        }
        for path in ["/notify/dead-letters/replay", "/notify/dead-letters/drain"] {
            let op = &paths[path]["post"];
            assert!(op["responses"]["422"].is_object(), "{path}");
            assert_eq!(op["requestBody"]["required"], false, "{path}");
            let sink =
                &op["requestBody"]["content"]["application/json"]["schema"]["properties"]["sink"];
            assert_eq!(sink["enum"], json!(["log", "webhook", null]), "{path}");
        }
    }
}
