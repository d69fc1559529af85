//! Configuration: command-line flags, each with an environment fallback.

use crate::peers::AddressLimits;
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

    /// Redis shared by several servers on one PostgreSQL database
    /// (`redis://HOST:PORT`), carrying room traffic between them; without
    /// it, fan-out stays inside this process.
    #[arg(long, env = "CHAT_BUS")]
    pub bus: Option<String>,

    /// With a bus: how long after this server stops renewing its presence
    /// lease (it died) another server announces its people as gone, unless
    /// they came back elsewhere (milliseconds).
    #[arg(long, env = "CHAT_PRESENCE_LEASE_MS", default_value_t = 10_000)]
    pub presence_lease_ms: u64,

    /// How long a dropped connection keeps its place (milliseconds): a reload
    /// or a reconnect within it announces no "left"/"joined" pair.
    #[arg(long, env = "CHAT_RECONNECT_GRACE_MS", default_value_t = 10_000)]
    pub reconnect_grace_ms: u64,

    /// How long join and leave notices are held to be said together
    /// (milliseconds): "sadia, usman and 10 others joined" instead of twelve
    /// lines. After a quiet spell a join is said at once; a leave always
    /// waits, so a quick return says nothing. 0 says each one at once.
    #[arg(long, env = "CHAT_NOTICE_WINDOW_MS", default_value_t = 2_000)]
    pub notice_window_ms: u64,

    /// Rooms with more people online than this show no join and leave lines
    /// (the list of who is online still follows them).
    #[arg(long, env = "CHAT_NOTICES_QUIET_ABOVE", default_value_t = 200)]
    pub notices_quiet_above: u32,

    /// The address people use to reach the chat, e.g. `https://chat.example.com`
    /// (repeatable). Requests must name one of these hosts (or a loopback
    /// name: localhost, 127.0.0.1, [::1]); any other `Host` is refused, which
    /// stops DNS-rebinding pages from talking to the server.
    #[arg(long = "public-url", env = "CHAT_PUBLIC_URLS", value_delimiter = ',')]
    pub public_urls: Vec<String>,

    /// Another origin allowed to open the WebSocket and call server functions
    /// (repeatable), e.g. `https://chat.example.com`. The page's own origin is
    /// always allowed.
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

    /// Rooms one connection may be in at once.
    #[arg(long, env = "CHAT_MAX_ROOMS", default_value_t = 50)]
    pub max_rooms: usize,

    /// Announced joins ("NICK joined") a connection may make at once, before
    /// the steady rate applies; a burst of join/leave pairs is refused past it.
    #[arg(long, env = "CHAT_JOIN_BURST", default_value_t = 20)]
    pub join_burst: u32,

    /// Announced joins per second a connection may make, sustained.
    #[arg(long, env = "CHAT_JOINS_PER_SEC", default_value_t = 0.2)]
    pub joins_per_sec: f64,

    /// Frames all connections from one address may send at once (their
    /// shared burst), so more sockets never buy a bigger budget.
    #[arg(long, env = "CHAT_ADDRESS_RATE_BURST", default_value_t = 60)]
    pub address_rate_burst: u32,

    /// Frames per second all connections from one address may send, sustained.
    #[arg(long, env = "CHAT_ADDRESS_RATE_PER_SEC", default_value_t = 10.0)]
    pub address_rate_per_sec: f64,

    /// Announced joins all connections from one address may make at once.
    #[arg(long, env = "CHAT_ADDRESS_JOIN_BURST", default_value_t = 30)]
    pub address_join_burst: u32,

    /// Announced joins per second from one address, sustained.
    #[arg(long, env = "CHAT_ADDRESS_JOINS_PER_SEC", default_value_t = 0.5)]
    pub address_joins_per_sec: f64,

    /// Open connections (pages and sockets) the server accepts in all.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Open connections one address may hold.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64)]
    pub max_connections_per_address: u32,

    /// Seconds a client has to send a request's headers (a half-sent
    /// request is dropped after this).
    #[arg(long, env = "CHAT_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a page or server function may take before the request fails.
    #[arg(long, env = "CHAT_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

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

    /// Times the journal tries to commit a batch the database refused (it
    /// was locked, say), with doubling waits, before the senders are told
    /// (their browsers send again later, with the same message ids).
    #[arg(long, env = "CHAT_JOURNAL_TRIES", default_value_t = 7)]
    pub journal_tries: u32,

    /// Serve the server's counters at `/metrics` (Prometheus text) to a
    /// scraper sending `Authorization: Bearer TOKEN`; without a token the
    /// endpoint is off.
    #[arg(long, env = "CHAT_METRICS_TOKEN")]
    pub metrics_token: Option<String>,

    /// The assistant's OpenAI-compatible API, up to and including `/v1`:
    /// OpenAI's, or a local server's (llama.cpp's `llama-server`, Ollama,
    /// vLLM; see README.md).
    #[arg(
        long,
        env = "OPENAI_BASE_URL",
        default_value = "https://api.openai.com/v1"
    )]
    pub ai_base_url: String,

    /// The API key. Without one there is no assistant (a local server that
    /// needs none takes any text here).
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub ai_api_key: Option<String>,

    #[arg(long, env = "CHAT_AI_MODEL", default_value = "gpt-4o-mini")]
    pub ai_model: String,

    /// The assistant's name in rooms: `@NAME` calls it. No person may take it.
    #[arg(long, env = "CHAT_AI_NAME", default_value = "assistant")]
    pub ai_name: String,

    #[arg(
        long,
        env = "CHAT_AI_SYSTEM_PROMPT",
        default_value = "You are a helpful assistant in a group chat. Each user message starts with the name of who wrote it. Answer briefly, in plain text."
    )]
    pub ai_system_prompt: String,

    /// The longest answer, in tokens.
    #[arg(long, env = "CHAT_AI_MAX_ANSWER_TOKENS", default_value_t = 600)]
    pub ai_max_answer_tokens: u32,

    /// How much of the room's recent conversation the model is shown, in
    /// tokens (about four characters each).
    #[arg(long, env = "CHAT_AI_CONTEXT_TOKENS", default_value_t = 3000)]
    pub ai_context_tokens: u64,

    /// Tokens in and out the whole server may spend per UTC day.
    #[arg(long, env = "CHAT_AI_DAILY_TOKENS", default_value_t = 500_000)]
    pub ai_daily_tokens: u64,

    /// One question per person, and per address, this often.
    #[arg(long, env = "CHAT_AI_COOLDOWN_MS", default_value_t = 10_000)]
    pub ai_cooldown_ms: u64,

    #[arg(long, env = "CHAT_AI_CONNECT_TIMEOUT_MS", default_value_t = 5_000)]
    pub ai_connect_timeout_ms: u64,

    /// From asking to the answer's first words.
    #[arg(long, env = "CHAT_AI_FIRST_TOKEN_TIMEOUT_MS", default_value_t = 30_000)]
    pub ai_first_token_timeout_ms: u64,

    /// The longest pause between two pieces of an answer.
    #[arg(long, env = "CHAT_AI_IDLE_TIMEOUT_MS", default_value_t = 15_000)]
    pub ai_idle_timeout_ms: u64,

    /// Send the session cookie over plain HTTP too (no `Secure` flag, no
    /// `__Host-` prefix): only for local use without TLS. `./scripts/serve`
    /// sets it, since it serves http://127.0.0.1:3000.
    #[arg(long, env = "CHAT_INSECURE_COOKIES")]
    pub insecure_cookies: bool,

    /// Days a signed-in session lasts without being used.
    #[arg(long, env = "CHAT_SESSION_IDLE_DAYS", default_value_t = 14)]
    pub session_idle_days: u64,

    /// Days a signed-in session lasts at most, however much it is used.
    #[arg(long, env = "CHAT_SESSION_MAX_DAYS", default_value_t = 30)]
    pub session_max_days: u64,

    /// The same in seconds, instead of days (for short-lived deployments
    /// and tests); open sockets of a session close when it ends.
    #[arg(long, env = "CHAT_SESSION_MAX_SECS")]
    pub session_max_secs: Option<u64>,

    /// Delete messages older than this many days, with their files and
    /// search entries (a room's owner may set fewer for it); without it,
    /// only rooms whose owners set a limit lose anything.
    #[arg(long, env = "CHAT_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,

    /// How often old messages are looked for (milliseconds).
    #[arg(long, env = "CHAT_RETENTION_CHECK_MS", default_value_t = 300_000)]
    pub retention_check_ms: u64,

    /// How often each server looks for sessions ended outside it (by `server
    /// admin`: a reset password, a deleted account) and closes their open
    /// sockets (milliseconds).
    #[arg(long, env = "CHAT_ENDED_SESSIONS_CHECK_MS", default_value_t = 15_000)]
    pub ended_sessions_check_ms: u64,

    /// Password hashes computed at once (each takes 19 MiB and a core for
    /// tens of milliseconds); more logins wait their turn.
    #[arg(long, env = "CHAT_HASH_CONCURRENCY", default_value_t = 2)]
    pub hash_concurrency: usize,

    /// Signup and login attempts one address may make at once, before one
    /// per `--login-address-every-secs` applies.
    #[arg(long, env = "CHAT_LOGIN_ADDRESS_BURST", default_value_t = 20)]
    pub login_address_burst: u32,

    #[arg(long, env = "CHAT_LOGIN_ADDRESS_EVERY_SECS", default_value_t = 6.0)]
    pub login_address_every_secs: f64,

    /// Login attempts on one username at once (from anywhere), before one
    /// per `--login-username-every-secs` applies.
    #[arg(long, env = "CHAT_LOGIN_USERNAME_BURST", default_value_t = 5)]
    pub login_username_burst: u32,

    #[arg(long, env = "CHAT_LOGIN_USERNAME_EVERY_SECS", default_value_t = 30.0)]
    pub login_username_every_secs: f64,

    /// Searches one address may start at once, before one per
    /// `--search-every-ms` applies (a search reads the whole index).
    #[arg(long, env = "CHAT_SEARCH_BURST", default_value_t = 10)]
    pub search_burst: u32,

    #[arg(long, env = "CHAT_SEARCH_EVERY_MS", default_value_t = 500)]
    pub search_every_ms: u64,

    /// Calls to the end-to-end encryption's key endpoints (publishing a
    /// device, fetching, making, sharing and backing up keys) one account,
    /// and one address, may make at once, before one per
    /// `--key-calls-every-ms` applies. Turning key backup on makes two for
    /// each encrypted conversation.
    #[arg(long, env = "CHAT_KEY_CALLS_BURST", default_value_t = 300)]
    pub key_calls_burst: u32,

    #[arg(long, env = "CHAT_KEY_CALLS_EVERY_MS", default_value_t = 200)]
    pub key_calls_every_ms: u64,

    /// Database connections searches have to themselves. Searches from many
    /// addresses at once queue for these, so they use at most this many
    /// cores' worth of the database, and logins (Argon2), joins and history
    /// pages keep the rest.
    #[arg(long, env = "CHAT_SEARCH_CONNECTIONS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub search_connections: u32,

    /// Reverse proxies (CIDR blocks, e.g. `127.0.0.1/32,10.0.0.0/8`) whose
    /// `X-Forwarded-For` (or `Forwarded`) header names the real client; every
    /// per-address limit then counts that client. From any other peer the
    /// header is ignored (anyone can write it).
    #[arg(long, env = "CHAT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Where uploaded files are kept: a directory (created if missing), or
    /// an S3-compatible bucket as s3://BUCKET[/PREFIX], for several servers
    /// (endpoint and credentials from AWS_ENDPOINT, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION; AWS_ALLOW_HTTP=true for plain http).
    #[arg(long, env = "CHAT_MEDIA_STORE", default_value = "media")]
    pub media_store: String,

    /// Largest file one upload may be, in bytes.
    #[arg(long, env = "CHAT_MEDIA_MAX_BYTES", default_value_t = 25_000_000)]
    pub media_max_bytes: u64,

    /// Most bytes one person (account or guest) may upload in 24 hours.
    #[arg(long, env = "CHAT_MEDIA_DAILY_BYTES", default_value_t = 500_000_000)]
    pub media_daily_bytes: u64,

    /// Most bytes one address may upload in 24 hours (all its people together).
    #[arg(
        long,
        env = "CHAT_MEDIA_ADDRESS_DAILY_BYTES",
        default_value_t = 2_000_000_000
    )]
    pub media_address_daily_bytes: u64,

    /// Most bytes guests (people without an account) from one address may
    /// upload in 24 hours, all together: a guest's own budget starts over
    /// with every new tab, the address's does not.
    #[arg(
        long,
        env = "CHAT_MEDIA_GUEST_ADDRESS_DAILY_BYTES",
        default_value_t = 100_000_000
    )]
    pub media_guest_address_daily_bytes: u64,

    /// Most bytes the blob store may hold in all (0: no cap); past it,
    /// uploads are refused until files are deleted.
    #[arg(long, env = "CHAT_MEDIA_STORE_MAX_BYTES", default_value_t = 0)]
    pub media_store_max_bytes: u64,

    /// Uploads one address may have in progress at once.
    #[arg(long, env = "CHAT_MEDIA_UPLOADS_PER_ADDRESS", default_value_t = 4)]
    pub media_uploads_per_address: usize,

    /// Most pixels a picture may have (checked from its header, before it
    /// is decoded).
    #[arg(long, env = "CHAT_MEDIA_MAX_PIXELS", default_value_t = 40_000_000)]
    pub media_max_pixels: u64,

    /// File types people may share, as decided from the bytes: MIME types,
    /// `type/*` for a family. Everything that is not a picture or a video is
    /// offered as a download, never shown inline.
    #[arg(
        long,
        env = "CHAT_MEDIA_TYPES",
        value_delimiter = ',',
        default_value = "image/jpeg,image/png,image/gif,image/webp,video/mp4,video/webm,audio/*,text/*,application/pdf,application/zip,application/gzip,application/x-7z-compressed,application/octet-stream"
    )]
    pub media_types: Vec<String>,

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
            max_rooms: self.max_rooms.max(1),
            join_burst: f64::from(self.join_burst.max(1)),
            joins_per_sec: self.joins_per_sec.max(0.001),
        }
    }

    /// The limits every address gets.
    pub fn address_limits(&self) -> AddressLimits {
        AddressLimits {
            max_connections: self.max_connections.max(1),
            max_per_address: self.max_connections_per_address.max(1),
            frame_burst: f64::from(self.address_rate_burst.max(1)),
            frames_per_sec: self.address_rate_per_sec.max(0.01),
            join_burst: f64::from(self.address_join_burst.max(1)),
            joins_per_sec: self.address_joins_per_sec.max(0.001),
        }
    }

    /// Session lifetimes, cookie flags and login budgets.
    pub fn account_policy(&self) -> crate::accounts::AccountPolicy {
        use std::time::Duration;
        let day = 24 * 60 * 60;
        let absolute = match self.session_max_secs {
            Some(secs) => Duration::from_secs(secs.max(1)),
            None => Duration::from_secs(self.session_max_days.max(1) * day),
        };
        crate::accounts::AccountPolicy {
            cookie: crate::accounts::cookie::CookiePolicy {
                secure: !self.insecure_cookies,
                max_age: absolute,
            },
            idle: Duration::from_secs(self.session_idle_days.max(1) * day),
            absolute,
            ended_sessions_check: Duration::from_millis(self.ended_sessions_check_ms.max(100)),
            hash_concurrency: self.hash_concurrency.clamp(1, 64),
            address_burst: self.login_address_burst.max(1),
            address_every: Duration::from_secs_f64(self.login_address_every_secs.max(0.001)),
            username_burst: self.login_username_burst.max(1),
            username_every: Duration::from_secs_f64(self.login_username_every_secs.max(0.001)),
        }
    }

    /// What uploads may be and where they go.
    pub fn media_policy(&self) -> crate::media::MediaPolicy {
        crate::media::MediaPolicy {
            store: self.media_store.clone(),
            max_bytes: self.media_max_bytes.max(1),
            daily_bytes: self.media_daily_bytes,
            address_daily_bytes: self.media_address_daily_bytes,
            guest_address_daily_bytes: self.media_guest_address_daily_bytes,
            store_max_bytes: self.media_store_max_bytes,
            uploads_per_address: self.media_uploads_per_address.max(1),
            max_pixels: self.media_max_pixels.max(1),
            types: self
                .media_types
                .iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }

    /// Search budgets per address.
    pub fn notice_policy(&self) -> crate::hub::NoticePolicy {
        crate::hub::NoticePolicy {
            window: std::time::Duration::from_millis(self.notice_window_ms.min(60_000)),
            quiet_above: self.notices_quiet_above,
        }
    }

    /// The assistant's settings, or `None` without an API key (or with a
    /// name no person could have).
    pub fn assistant(&self) -> Option<crate::assistant::AssistantConfig> {
        use std::time::Duration;
        let key = self.ai_api_key.clone().filter(|k| !k.trim().is_empty())?;
        let name = match app::people::Nick::parse(&self.ai_name) {
            Ok(name) => name,
            Err(err) => {
                tracing::error!(%err, name = %self.ai_name, "the assistant's name is not a valid name: no assistant");
                return None;
            }
        };
        Some(crate::assistant::AssistantConfig {
            name,
            system_prompt: self.ai_system_prompt.clone(),
            provider: crate::assistant::provider::ProviderConfig {
                base_url: self.ai_base_url.clone(),
                api_key: key,
                model: self.ai_model.clone(),
                timeouts: crate::assistant::provider::Timeouts {
                    connect: Duration::from_millis(self.ai_connect_timeout_ms),
                    first_token: Duration::from_millis(self.ai_first_token_timeout_ms),
                    between_tokens: Duration::from_millis(self.ai_idle_timeout_ms),
                },
            },
            max_answer_tokens: self.ai_max_answer_tokens.max(1),
            context_tokens: self.ai_context_tokens,
            daily_tokens: self.ai_daily_tokens,
            cooldown: Duration::from_millis(self.ai_cooldown_ms),
        })
    }

    pub fn search_limits(&self) -> crate::reading::CallBudget {
        crate::reading::CallBudget {
            burst: self.search_burst.max(1),
            every: std::time::Duration::from_millis(self.search_every_ms),
        }
    }

    pub fn key_call_limits(&self) -> crate::reading::CallBudget {
        crate::reading::CallBudget {
            burst: self.key_calls_burst.max(1),
            every: std::time::Duration::from_millis(self.key_calls_every_ms),
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
    pub max_rooms: usize,
    pub join_burst: f64,
    pub joins_per_sec: f64,
}

/// A URL without its password, for error messages and logs (a database's
/// or the bus's: `redis://:secret@host` reads `redis://:***@host`).
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not a URL: it may still hold a password, so only its scheme shows.
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…"),
            None => "(not a URL)".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redacted("redis://:hunter2@10.0.0.5:6379/0"),
            "redis://:***@10.0.0.5:6379/0"
        );
        assert_eq!(
            redacted("postgres://chat:hunter2@db/chat"),
            "postgres://chat:***@db/chat"
        );
        assert_eq!(redacted("redis://10.0.0.5:6379"), "redis://10.0.0.5:6379");
        assert!(!redacted("redis://:hun ter2@[bad").contains("hun"));
    }
}
