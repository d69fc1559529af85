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

    /// Folder with the built browser bundle (`pkg/`) and public assets.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

impl Config {
    /// The address to bind, after the LEPTOS_SITE_ADDR fallback.
    pub fn listen_addr(&self) -> SocketAddr {
        self.addr
            .or_else(|| std::env::var("LEPTOS_SITE_ADDR").ok()?.parse().ok())
            .unwrap_or_else(|| DEFAULT_ADDR.parse().expect("the default address parses"))
    }
}
