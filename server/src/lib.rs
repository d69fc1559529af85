//! The chat server: an axum app serving the Leptos pages, their server
//! functions and the `/ws` WebSocket endpoint, with history in SQLite (one
//! server) or PostgreSQL (several servers, with Redis between them).
//!
//! Layout (a message's path: connection -> hub -> journal -> store, then
//! journal -> bus -> every connection in the room):
//! - [`config`]: flags with environment fallbacks (`server --help`).
//! - [`access`]: who may do what in which room; every entry point asks it.
//! - [`accounts`]: sign up, log in, sessions (cookie), the account pages.
//! - [`store`]: the store seam, SQLite and PostgreSQL behind it; all SQL.
//! - [`bus`]: the bus seam: each room's feed (fan-out), in-process or Redis.
//! - [`fanout`]: a feed's queue to its subscribers, holding only unread frames.
//! - [`journal`]: the single writer: numbers, group-commits and publishes entries.
//! - [`hub`]: rooms in memory, membership and nicknames.
//! - [`presence`]: names held across servers (leases in Redis).
//! - [`connection`]: one WebSocket connection's reader, writer and forwarders.
//! - [`peers`]: limits per address (connections, send and join budgets).
//! - [`retention`]: old messages deleted a little at a time (`--retention-days`).
//! - [`reading`]: history and search over HTTP, each read asking [`access`].
//! - [`state`]: what every request handler shares (`AppState`).
//! - [`routes`]: the router, request checks (Host, Origin, CSRF, security
//!   headers) and the backend that server functions call.
//! - [`media`]: uploads, the blob store seam (directory or S3), media responses.
//! - [`search`]: the search page (results rendered on the server).
//! - [`assistant`]: the bot that answers in rooms, through an OpenAI-compatible API.
//! - [`metrics`]: the server's own counters, `/metrics` for Prometheus.
//! - [`operator`]: the operator's commands: migrate to PostgreSQL, backup, restore, admin.
//! - [`listener`]: accepting connections: admission, header timeouts, shutdown.
//! - this file: starting, binding and stopping a server ([`start`]).

pub mod access;
pub mod accounts;
pub mod assistant;
pub mod bus;
pub mod config;
pub mod connection;
pub mod fanout;
pub mod hub;
pub mod journal;
pub mod listener;
pub mod media;
pub mod metrics;
pub mod operator;
pub mod peers;
pub mod presence;
pub mod reading;
pub mod retention;
pub mod routes;
pub mod search;
pub mod state;
pub mod store;

use config::Config;
use hub::RoomHub;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source} (pick another address with --addr or CHAT_ADDR)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Bus(#[from] bus::BusError),
    #[error(
        "a Redis bus is for several servers sharing one database; SQLite is one server's: use --database-url postgres://..."
    )]
    BusWithoutSharedStore,
    #[error(transparent)]
    Hub(#[from] hub::HubError),
    #[error(transparent)]
    Media(#[from] media::MediaError),
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    hub: Arc<RoomHub>,
    media: media::Media,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), StartError>>,
}

impl Server {
    /// Tells every connection the server is going away, then waits for it to stop.
    pub async fn shutdown(self) -> Result<(), StartError> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the server stops.
    pub async fn wait(self) -> Result<(), StartError> {
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(StartError::Serve(std::io::Error::other(join))),
        }
    }

    /// The room hub, for looking inside (rooms held in memory, the store).
    pub fn hub(&self) -> &Arc<RoomHub> {
        &self.hub
    }

    /// The media service (its blob store, its sweep).
    pub fn media(&self) -> &media::Media {
        &self.media
    }

    /// A handle that can stop the server from elsewhere (a signal handler).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

fn leptos_options(config: &Config, addr: SocketAddr) -> leptos::prelude::LeptosOptions {
    // Under cargo-leptos this reads its LEPTOS_* variables; run bare (tests, a
    // copied binary) it falls back to defaults, which we then pin down.
    let under_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME").is_some()
        || option_env!("LEPTOS_OUTPUT_NAME").is_some();
    let mut options = under_cargo_leptos
        .then(|| leptos::prelude::get_configuration(None).ok())
        .flatten()
        .map(|conf| conf.leptos_options)
        .unwrap_or_else(|| {
            leptos::prelude::LeptosOptions::builder()
                .output_name("chat")
                .build()
        });
    // cargo-leptos writes the bundle's content hashes beside the binary.
    let hashes = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(options.hash_file.as_ref())));
    if hashes.is_some_and(|h| h.exists()) {
        options.hash_files = true;
    }
    options.site_root = config.site_root.as_str().into();
    options.site_addr = addr;
    options
}

/// Opens the store, binds the address and serves in the background.
pub async fn start(config: Config) -> Result<Server, StartError> {
    let addr = config.listen_addr();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    let store = store::Store::open(&config.database_url, config.search_connections).await?;
    if config.bus.is_some() && !store.is_shared() {
        return Err(StartError::BusWithoutSharedStore);
    }
    let lease = Duration::from_millis(config.presence_lease_ms.max(500));
    let bus = bus::Bus::open(config.bus.as_deref(), &store, lease).await?;
    let grace = Duration::from_millis(config.reconnect_grace_ms);
    let media = media::Media::open(config.media_policy(), store.clone())?;
    // Each part holds the store it reads; the hub is no one's way to it.
    let access = access::Access::new(store.clone());
    let accounts_store = store.clone();
    let library_store = store.clone();
    media.keep_sweeping();
    retention::keep_sweeping(
        store.clone(),
        config.retention_days,
        Duration::from_millis(config.retention_check_ms.max(10)),
    );
    let hub = RoomHub::new(
        store,
        bus,
        grace,
        config.journal_tries,
        config.limits().send_queue_bytes,
        config.notice_policy(),
    );
    hub.expect_returning().await?;
    hub.keep_presence();
    let accounts = accounts::Accounts::new(hub.clone(), accounts_store, config.account_policy());
    accounts.purge_expired_sessions();
    accounts.close_ended_sessions();
    accounts.follow_other_servers();
    let assistant = match config.assistant() {
        Some(settings) => match assistant::Assistant::new(settings, hub.clone()) {
            Ok(assistant) => match assistant.reserve_name().await {
                Ok(()) => {
                    assistant.follow_other_servers();
                    tracing::info!(name = %assistant.name(), model = assistant.model(), url = %config.ai_base_url, "assistant on");
                    Some(assistant)
                }
                Err(why) => {
                    tracing::error!(%why, "no assistant");
                    None
                }
            },
            Err(err) => {
                tracing::error!(%err, "the assistant's HTTP client could not be made: no assistant");
                None
            }
        },
        None => {
            tracing::info!("assistant off: no --ai-api-key (OPENAI_API_KEY)");
            None
        }
    };
    let peers = peers::Peers::new(config.address_limits());
    let (stop, stopped) = watch::channel(false);
    let (drain, mut drained) = mpsc::channel::<()>(1);
    let state = state::AppState {
        leptos_options: leptos_options(&config, addr),
        library: reading::Library::new(
            hub.clone(),
            library_store,
            access.clone(),
            config.search_limits(),
            config.key_call_limits(),
            accounts.clone(),
        ),
        sockets: connection::Shared {
            access,
            hub: hub.clone(),
            accounts,
            peers: peers.clone(),
            media: media.clone(),
            limits: config.limits(),
            assistant,
            shutdown: stopped.clone(),
            drain,
        },
        allowed_origins: config
            .allowed_origins
            .iter()
            .chain(&config.public_urls)
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect(),
        hosts: state::Hosts::new(&config.public_urls),
        request_timeout: Duration::from_secs(config.request_timeout_secs.max(1)),
        metrics: metrics::install(),
        metrics_token: config.metrics_token.as_deref().map(Arc::from),
    };
    let app = routes::router(state);
    let accepting = listener::Accepting {
        peers,
        proxies: peers::Proxies::new(&config.trusted_proxies),
        header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
    };
    let server_hub = hub.clone();
    let task = tokio::spawn(async move {
        let mut stopping = stopped.clone();
        let hub_stopping = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
            // First, before any socket closes: who is here stays here.
            hub.stop().await;
        };
        let (_, served) = tokio::join!(
            hub_stopping,
            listener::serve(listener, app, accepting, stopped)
        );
        served.map_err(StartError::Serve)?;
        // The router (and its drain sender) is gone; wait for open sockets to
        // send their "going away" close.
        let _ = tokio::time::timeout(Duration::from_secs(5), drained.recv()).await;
        Ok(())
    });
    Ok(Server {
        addr,
        hub: server_hub,
        media,
        stop,
        task,
    })
}
