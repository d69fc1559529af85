//! What the server counts about itself, for Prometheus: `GET /metrics`,
//! answered only to a scraper presenting `--metrics-token` (off without it:
//! the figures say how busy the server is and who is being refused).
//!
//! The names are here, in one place; the counting is where things happen
//! (connection, hub, journal, outbox, rate limits) through the `metrics`
//! macros, which cost an atomic add when a recorder is installed.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// WebSocket connections open now.
pub const CONNECTIONS: &str = "chat_connections";
/// Rooms held in memory now (someone in them, or recently).
pub const ROOMS: &str = "chat_rooms";
/// Entries committed (messages, notices, actions).
pub const ENTRIES: &str = "chat_entries_committed_total";
/// Frames queued to sockets: each entry to each member, acks, presence.
pub const FRAMES_OUT: &str = "chat_frames_out_total";
/// Entries per committed batch.
pub const BATCH_ENTRIES: &str = "chat_commit_batch_entries";
/// Time to write and commit one batch.
pub const BATCH_SECONDS: &str = "chat_commit_seconds";
/// Batches the journal had to try again or gave up on.
pub const BATCH_FAILURES: &str = "chat_commit_failures_total";
/// Sockets closed for reading too slowly (their send queue overflowed).
pub const SLOW_CLOSES: &str = "chat_slow_consumer_closes_total";
/// Frames refused by a send budget (per connection or per address).
pub const RATE_REFUSALS: &str = "chat_rate_refusals_total";
/// From a server handing an entry to Redis to a server hearing it (Redis bus).
pub const BUS_LAG: &str = "chat_bus_lag_seconds";
/// Questions the assistant started answering.
pub const AI_REQUESTS: &str = "chat_assistant_requests_total";
/// Tokens sent to (`way="in"`) and received from (`way="out"`) the provider.
pub const AI_TOKENS: &str = "chat_assistant_tokens_total";
/// From asking the provider to its first words.
pub const AI_FIRST_TOKEN: &str = "chat_assistant_first_token_seconds";
/// Questions not (fully) answered, by `kind`: the provider's failures
/// (`rate_limited`, `status`, `unreachable`, `no_first_token`, `stalled`,
/// `malformed`), `stopped`, `busy`, `refused`.
pub const AI_FAILURES: &str = "chat_assistant_failures_total";
/// Requests tried again after a 429 or a 5xx.
pub const AI_RETRIES: &str = "chat_assistant_retries_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once: tests start many servers in one
/// process) and returns what renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_quantiles(&[0.5, 0.9, 0.99])
                .expect("quantiles are in 0..=1")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was installed already");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(CONNECTIONS, "WebSocket connections open now");
    describe_gauge!(ROOMS, "rooms held in memory");
    describe_counter!(ENTRIES, "entries committed to room logs");
    describe_counter!(
        FRAMES_OUT,
        "frames queued to sockets (deliveries, acks, presence)"
    );
    describe_histogram!(BATCH_ENTRIES, "entries per committed batch");
    describe_histogram!(
        BATCH_SECONDS,
        metrics::Unit::Seconds,
        "write and commit time of one batch"
    );
    describe_counter!(BATCH_FAILURES, "batches that failed a try");
    describe_counter!(SLOW_CLOSES, "sockets closed as slow consumers");
    describe_counter!(RATE_REFUSALS, "frames refused by a send budget");
    describe_histogram!(
        BUS_LAG,
        metrics::Unit::Seconds,
        "time from an entry's announcement on the Redis bus to its arrival"
    );
    describe_counter!(AI_REQUESTS, "questions the assistant started answering");
    describe_counter!(AI_TOKENS, "tokens to and from the assistant's provider");
    describe_histogram!(
        AI_FIRST_TOKEN,
        metrics::Unit::Seconds,
        "time from asking the assistant's provider to its first words"
    );
    describe_counter!(
        AI_FAILURES,
        "questions the assistant did not answer in full"
    );
    describe_counter!(AI_RETRIES, "provider requests tried again after 429 or 5xx");
}

/// The exposition, for a scraper that shows the token.
pub fn respond(handle: &PrometheusHandle, token: Option<&str>, headers: &HeaderMap) -> Response {
    let Some(token) = token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let shown = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared as digests: equal length, and no early exit on a prefix.
    if Sha256::digest(shown.as_bytes()) != Sha256::digest(token.as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need the scrape token\n",
        )
            .into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
