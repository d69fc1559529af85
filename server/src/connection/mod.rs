//! One WebSocket connection: reads client frames, answers them, and forwards
//! the feeds of the rooms it joined.
//!
//! Shape: a writer task ([`outbox::write`]) owns the socket's sending half and
//! drains the connection's [`Outbox`]; one forwarder task per joined room
//! ([`replay::forward`]) copies that room's feed into the outbox; the loop here
//! reads frames (handled by the [`reader::Reader`]), sends pings, and reacts to
//! evictions and shutdown. Anything that must end the connection asks the
//! outbox to close with a code ([`close`]); the writer sends that close frame
//! ahead of anything still queued, and the connection ends. Send budgets per
//! connection and per address are in [`rate`].
//!
//! - [`close`]: close codes and reasons.
//! - [`outbox`]: the byte-bounded outbound queue and the writer.
//! - [`rate`]: the send and join budgets.
//! - [`reader`]: client frames and their answers.
//! - [`replay`]: a joined room's replay, then its live feed.

pub mod close;
pub mod outbox;
pub mod rate;
pub mod reader;
pub mod replay;

use crate::accounts::{Accounts, SignedIn};
use crate::config::Limits;
use crate::hub::{Evictions, RoomHub};
use crate::listener::Admitted;
use crate::peers::Peers;
use axum::extract::ws::{Message, WebSocket};
use close::{CLOSE_BAD_FRAME, CLOSE_IDLE, CLOSE_NORMAL, CLOSE_REPLACED, CLOSE_RESTART};
use futures::StreamExt;
use outbox::Outbox;
use reader::Reader;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

pub use reader::decode;

/// How long a closing connection may take to flush its close frame.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// What every connection shares.
#[derive(Clone)]
pub struct Shared {
    pub hub: Arc<RoomHub>,
    /// Who may do what in which room (every entry point asks it).
    pub access: crate::access::Access,
    pub accounts: Arc<Accounts>,
    pub peers: Arc<Peers>,
    pub media: crate::media::Media,
    pub limits: Limits,
    /// The assistant, when one is configured: it hears every message.
    pub assistant: Option<Arc<crate::assistant::Assistant>>,
    pub shutdown: watch::Receiver<bool>,
    /// Held by every connection; shutdown waits until all clones are gone.
    pub drain: mpsc::Sender<()>,
}

/// Serves one upgraded socket from `ip` until either side ends it or the
/// server stops; `signed_in` is the session its upgrade request carried, and
/// `admitted` (the socket's place in the connection caps) is held as long.
///
/// Not an `async fn`: one keeps its arguments (the socket alone is 368 bytes)
/// in its state for its whole life, though they are taken apart at once.
/// Here the setup runs first, and the future returned (spawned as the
/// connection's task) holds only what the connection goes on using.
pub fn serve(
    socket: WebSocket,
    ip: IpAddr,
    signed_in: Option<SignedIn>,
    shared: Shared,
    admitted: Option<Admitted>,
) -> impl Future<Output = ()> + Send + 'static {
    let Shared {
        hub,
        access,
        accounts,
        peers,
        media,
        limits,
        assistant,
        mut shutdown,
        drain: keep_open,
    } = shared;
    let idle_timeout = limits.idle_timeout;
    let conn = hub.connection_id();
    let counted = Counted::open();
    let (sink, mut stream) = socket.split();
    let (outbox, drain) = Outbox::new(limits.send_queue_bytes);
    let mut close_requested = drain.close.clone();
    let mut writer = tokio::spawn(outbox::write(sink, drain));
    let evictions = Evictions::default();
    let evicted = evictions.clone();
    // Signing out elsewhere closes this socket through its outbox.
    let registration = signed_in.as_ref().map(|s| {
        accounts.sockets.register(
            s.account_id,
            &s.token_hash,
            s.expires_at,
            conn,
            outbox.clone(),
        )
    });
    let mut reader = Reader {
        signed_in,
        hub: hub.clone(),
        access,
        media,
        conn,
        outbox: outbox.clone(),
        evictions,
        rooms: Default::default(),
        rate: rate::RateLimit::new(&limits, peers, ip),
        limits,
        assistant,
        ip,
    };
    let held = Held {
        _admitted: admitted,
        _counted: counted,
        _registration: registration,
        _keep_open: keep_open,
    };
    async move {
        // Captured to be dropped with the connection, never read.
        let _ = &held;
        // A logout that landed between the upgrade and the registration
        // above found nothing to close: check once more now that it would.
        if let Some(signed_in) = &reader.signed_in
            && !Box::pin(accounts.still_signed_in(signed_in)).await
        {
            outbox.close(close::CLOSE_SIGNED_OUT);
        }
        let mut pings = tokio::time::interval(idle_timeout / 3);
        pings.reset();
        let mut last_heard = Instant::now();
        let writer_done = loop {
            tokio::select! {
                incoming = stream.next() => {
                    let message = match incoming {
                        Some(Ok(message)) => message,
                        Some(Err(err)) => {
                            // Oversize or broken frames; a vanished peer ends up here too.
                            tracing::debug!(conn, %err, "unreadable frame");
                            outbox.close(CLOSE_BAD_FRAME);
                            break false;
                        }
                        None => {
                            outbox.close(CLOSE_NORMAL);
                            break false;
                        }
                    };
                    last_heard = Instant::now();
                    match message {
                        // Boxed: answering a frame (a join reads history) is the
                        // biggest future here, and inline it would sit in every
                        // idle connection's task for its whole life.
                        Message::Text(text) => Box::pin(reader.handle_text(&text)).await,
                        Message::Binary(_) => reader.handle_binary(),
                        Message::Close(_) => {
                            outbox.close(CLOSE_NORMAL);
                            break false;
                        }
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                _ = pings.tick() => {
                    if last_heard.elapsed() >= idle_timeout {
                        outbox.close(CLOSE_IDLE);
                    } else {
                        outbox.push(Message::Ping(Default::default()));
                    }
                }
                eviction = evicted.recv() => {
                    if reader.evicted(eviction) {
                        outbox.close(CLOSE_REPLACED);
                    }
                }
                _ = async { close_requested.wait_for(Option::is_some).await.map(|_| ()) } => break false,
                _ = &mut writer => break true,
                _ = async { shutdown.wait_for(|stop| *stop).await.map(|_| ()) } => {
                    outbox.close(CLOSE_RESTART);
                    break false;
                }
            }
        };
        if let Some(reason) = outbox.closing() {
            tracing::debug!(
                conn,
                code = reason.code,
                reason = reason.reason,
                "closing connection"
            );
        }

        for membership in reader.rooms.drain() {
            membership.forwarder.abort();
            hub.leave_after_grace(membership.room, membership.nick, conn);
        }
        // Let the writer send its close frame (or what is queued), then stop.
        if !writer_done
            && tokio::time::timeout(CLOSE_DEADLINE, &mut writer)
                .await
                .is_err()
        {
            writer.abort();
        }
    }
}

/// What a connection holds only to release when it ends.
struct Held {
    _admitted: Option<Admitted>,
    _counted: Counted,
    _registration: Option<crate::accounts::sockets::Registration>,
    /// Shutdown waits until every connection has dropped its clone.
    _keep_open: mpsc::Sender<()>,
}

/// One open connection in [`crate::metrics::CONNECTIONS`], for as long as
/// it lives (however its task ends).
struct Counted;

impl Counted {
    fn open() -> Self {
        metrics::gauge!(crate::metrics::CONNECTIONS).increment(1.0);
        Self
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::CONNECTIONS).decrement(1.0);
    }
}
