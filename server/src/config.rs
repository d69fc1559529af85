//! Configuration: command-line flags, each with an environment fallback.

use clap::Parser;
use std::net::SocketAddr;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// A real-time chat server: rooms, history and live messages over WebSockets.
#[derive(Debug, Clone, Parser)]
#[command(name = "server", version)]
pub struct Config {
    /// Address to listen on. Falls back to LEPTOS_SITE_ADDR (set by
    /// cargo-leptos), then 127.0.0.1:3000.
    #[arg(long, env = "CHAT_ADDR")]
    pub addr: Option<SocketAddr>,

    /// Database to keep history in; a SQLite file is created if missing.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://chat.db")]
    pub database_url: String,

    /// How long a dropped connection keeps its place (milliseconds): a reload
    /// or a reconnect within it announces no "left"/"joined" pair.
    #[arg(long, env = "CHAT_RECONNECT_GRACE_MS", default_value_t = 10_000)]
    pub reconnect_grace_ms: u64,

    /// Another origin allowed to open the WebSocket (repeatable), e.g.
    /// `https://chat.example.com`. The page's own origin is always allowed.
    #[arg(
        long = "allowed-origin",
        env = "CHAT_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Frames a connection may send at once before the steady rate applies.
    #[arg(long, env = "CHAT_RATE_BURST", default_value_t = 30)]
    pub rate_burst: u32,

    /// Frames per second a connection may send, sustained.
    #[arg(long, env = "CHAT_RATE_PER_SEC", default_value_t = 5.0)]
    pub rate_per_sec: f64,

    /// Bytes queued for one slow socket before it is closed as a slow consumer.
    #[arg(long, env = "CHAT_SEND_QUEUE_BYTES", default_value_t = 1024 * 1024)]
    pub send_queue_bytes: usize,

    /// Seconds without any frame from a client (pongs included) before it is
    /// dropped as dead; pings go out at a third of this.
    #[arg(long, env = "CHAT_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Most entries replayed to a client resuming with `since`; further
    /// behind, it gets the latest page instead (and is told so).
    #[arg(long, env = "CHAT_MAX_REPLAY", default_value_t = 1000)]
    pub max_replay: u64,

    /// Folder with the built browser bundle (`pkg/`) and public assets.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

impl Config {
    /// The limits every connection gets.
    pub fn limits(&self) -> Limits {
        Limits {
            rate_burst: f64::from(self.rate_burst.max(1)),
            rate_per_sec: self.rate_per_sec.max(0.01),
            send_queue_bytes: self.send_queue_bytes.max(64 * 1024),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs.max(3)),
            max_replay: self.max_replay.clamp(1, 100_000),
        }
    }

    /// The address to bind, after the LEPTOS_SITE_ADDR fallback.
    pub fn listen_addr(&self) -> SocketAddr {
        self.addr
            .or_else(|| std::env::var("LEPTOS_SITE_ADDR").ok()?.parse().ok())
            .unwrap_or_else(|| DEFAULT_ADDR.parse().expect("the default address parses"))
    }
}

/// Per-connection limits, from [`Config::limits`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub rate_burst: f64,
    pub rate_per_sec: f64,
    pub send_queue_bytes: usize,
    pub idle_timeout: std::time::Duration,
    pub max_replay: u64,
}
