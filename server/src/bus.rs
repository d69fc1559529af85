//! The bus: carries each room's committed entries, and passing signals such
//! as typing, to every connection in the room, on this server and (with
//! Redis) on every other server sharing the database.
//!
//! [`Bus`] is the seam: it hands out one [`Feed`] per room in memory, and
//! connections subscribe to feeds. Every broadcast frame is serialised once
//! and shared by all its recipients (and sent to Redis as those same bytes).
//!
//! - In-process ([`Bus::Local`]): the journal publishes each committed entry
//!   in `seq` order, and the feed hands it straight to its subscribers.
//! - Redis ([`Bus::Redis`]): the journal still publishes its own entries, and
//!   they also go to the room's Redis channel; entries committed by other
//!   servers come from that channel. Redis may deliver them late, out of
//!   order, or (while it restarts) not at all, so a feed delivers strictly in
//!   `seq` order: an entry past a gap waits while the gap is read from the
//!   store (a later `seq` is committed, so every earlier one is too), an
//!   entry at or below the feed's head is a duplicate and dropped. A sweep
//!   compares the feeds' heads with the store's every [`SWEEP_EVERY`], and a
//!   reconnection to Redis catches every feed up, so an entry whose
//!   announcement was lost still arrives: entries are never lost, typing
//!   signals may be.
//!
//! Besides rooms, servers tell each other about state each holds in memory
//! ([`Control`], on `chat:control`): sessions that ended (their sockets
//! close wherever they are) and rooms opened or closed to guests.

use crate::fanout::{Fanout, Subscription};
use crate::presence::SharedPresence;
use crate::store::Store;
use app::messages::{Entry, Seq};
use app::people::Nick;
use app::protocol::ServerFrame;
use app::rooms::RoomName;
use axum::extract::ws::Utf8Bytes;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Entries a room's feed holds for connections whose forwarder is behind; one
/// further behind is closed (it resumes on reconnect), never skipped. Only
/// unread entries take memory ([`Fanout`]); the byte-bounded outbox behind
/// each forwarder absorbs slow sockets, so this is kept modest.
const FEED_CAPACITY: usize = 512;

/// How often feeds are compared with the store's heads (Redis bus only).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Entries read from the store per query while a feed catches up.
const FILL_PAGE: u32 = 1000;

/// "Everything the store has": the largest `seq` both stores can hold.
const ALL: Seq = i64::MAX as Seq;

/// Control messages held for a follower that is behind.
const CONTROL_BACKLOG: usize = 256;

/// Most announcements sent to Redis in one pipeline.
const PUBLISH_BATCH: usize = 512;

/// The names of everything a cluster keeps in Redis, all starting with
/// `chat:CLUSTER:` (the cluster's name comes from its database), so several
/// chats can share one Redis.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(cluster: &str) -> Self {
        Self {
            prefix: format!("chat:{cluster}:"),
        }
    }

    /// A room's channel (its entries and typing signals).
    pub fn room(&self, room_id: i64) -> String {
        format!("{}room:{room_id}", self.prefix)
    }

    /// The room id of a room channel's name.
    fn room_of(&self, channel: &str) -> Option<i64> {
        channel
            .strip_prefix(&self.prefix)?
            .strip_prefix("room:")?
            .parse()
            .ok()
    }

    /// The channel of [`Control`] messages.
    pub fn control(&self) -> String {
        format!("{}control", self.prefix)
    }

    /// Who holds which name in a room.
    pub fn members(&self, room_id: i64) -> String {
        format!("{}members:{room_id}", self.prefix)
    }

    /// The rooms a server holds names in.
    pub fn rooms_of(&self, server: &str) -> String {
        format!("{}rooms-of:{server}", self.prefix)
    }

    /// A server's lease.
    pub fn lease(&self, server: &str) -> String {
        format!("{}server:{server}", self.prefix)
    }

    /// Every server with a lease (live, or dead and not reaped yet).
    pub fn servers(&self) -> String {
        format!("{}servers", self.prefix)
    }
}

/// What one server tells the others about state they hold in memory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Control {
    /// Sessions of an account ended: their sockets close, on every server.
    SessionsEnded { account_id: i64, ended: Ended },
    /// A room's owner opened or closed it to guests.
    AccountsOnly { room: RoomName, on: bool },
    /// An account took its registered name (by [`crate::hub::nick_key`])
    /// in a room from a guest: the guest's connections there leave.
    NameTaken { room: RoomName, key: String },
    /// A moderator removed or banned an author (as stored) from a room:
    /// their connections there leave.
    SentOut {
        room: RoomName,
        author: String,
        banned: bool,
    },
}

/// Which of an account's sessions ended, by the SHA-256 of their token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// That one (a logout).
    Session(String),
    /// All but that one (a password change).
    AllBut(String),
    /// Every one (logging out everywhere, deleting the account).
    All,
}

impl Ended {
    /// Whether the session with this token hash is one of them.
    pub fn picks(&self, token_hash: &str) -> bool {
        match self {
            Ended::Session(ended) => ended == token_hash,
            Ended::AllBut(kept) => kept != token_hash,
            Ended::All => true,
        }
    }
}

/// Where an announcement goes.
enum Channel {
    Room(i64),
    Control,
}

/// Bus failures.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("unsupported bus URL {0:?} (expected redis://HOST:PORT)")]
    UnsupportedUrl(String),
    #[error("cannot use the Redis bus {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A broadcast frame: serialised once, shared by every recipient.
#[derive(Clone, Debug)]
pub struct Broadcast {
    /// The entry's `seq`; `None` for a passing signal (typing) that is
    /// neither stored nor replayed.
    pub seq: Option<Seq>,
    pub frame: Utf8Bytes,
}

/// One room's stream of entries and signals.
pub struct Feed {
    room: RoomName,
    room_id: i64,
    sender: Fanout<Broadcast>,
    /// Last `seq` delivered to subscribers (every entry up to it is committed).
    published: AtomicU64,
    /// Entries that arrived past a gap, and whether the gap is being read.
    order: Mutex<Order>,
    /// The servers' shared bus, when there is one.
    link: Option<Arc<Link>>,
}

#[derive(Default)]
struct Order {
    waiting: BTreeMap<Seq, Utf8Bytes>,
    filling: bool,
}

impl Feed {
    /// Sends a committed entry to every subscriber (and, with Redis, to every
    /// other server); the journal calls this in `seq` order.
    pub fn publish(self: &Arc<Self>, entry: Entry) {
        let seq = entry.seq;
        let frame: Utf8Bytes = ServerFrame::Entry {
            room: self.room.clone(),
            entry,
        }
        .to_json()
        .into();
        match &self.link {
            None => self.deliver(seq, frame),
            Some(link) => {
                link.announce(
                    Channel::Room(self.room_id),
                    format!("S {seq} {} {}", unix_micros(), frame.as_str()),
                );
                self.offer(seq, frame);
            }
        }
    }

    /// Tells everyone in the room that `nick` is typing.
    pub fn typing(&self, nick: &Nick) {
        let frame: Utf8Bytes = ServerFrame::Typing {
            room: self.room.clone(),
            nick: nick.clone(),
        }
        .to_json()
        .into();
        if let Some(link) = &self.link {
            let payload = format!("T {} {}", link.server, frame.as_str());
            link.announce(Channel::Room(self.room_id), payload);
        }
        self.sender.send(Broadcast { seq: None, frame });
    }

    /// A new subscription and the head at that moment. Subscribing comes
    /// first, so a replay up to the head plus the feed after it cover every
    /// entry; the subscriber drops live entries at or below the head.
    pub fn subscribe(&self) -> (Subscription<Broadcast>, Seq) {
        let receiver = self.sender.subscribe();
        (receiver, self.head())
    }

    /// The last `seq` delivered.
    pub fn head(&self) -> Seq {
        self.published.load(Ordering::Acquire)
    }

    fn deliver(&self, seq: Seq, frame: Utf8Bytes) {
        self.published.store(seq, Ordering::Release);
        // No receivers is fine: the entry is already stored.
        self.sender.send(Broadcast {
            seq: Some(seq),
            frame,
        });
    }

    /// Delivers `seq` if it is next, keeps it if it is past a gap (and has
    /// the gap read from the store), drops it if it was delivered already.
    fn offer(self: &Arc<Self>, seq: Seq, frame: Utf8Bytes) {
        let mut order = self.order.lock().expect("feed order lock");
        let head = self.head();
        if seq <= head {
            return;
        }
        if seq == head + 1 {
            self.deliver_run(&mut order, seq, frame);
        } else {
            order.waiting.insert(seq, frame);
        }
        if let Some((&first, _)) = order.waiting.first_key_value() {
            self.fill(&mut order, first - 1);
        }
    }

    /// Reads entries after the head, up to `upto` (or all there are), from
    /// the store, unless that is already under way.
    fn fill(self: &Arc<Self>, order: &mut Order, upto: Seq) {
        let Some(link) = &self.link else { return };
        if order.filling || upto <= self.head() {
            return;
        }
        order.filling = true;
        let (feed, store) = (self.clone(), link.store.clone());
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(50);
            loop {
                let after = feed.head();
                if after >= upto {
                    break;
                }
                match store
                    .entries_between(feed.room_id, after, upto, FILL_PAGE)
                    .await
                {
                    Ok(entries) if entries.is_empty() => {
                        if upto == ALL {
                            break;
                        }
                        // A later entry was announced, so this one is
                        // committed; the database will show it.
                        tracing::warn!(room = %feed.room, after, upto, "a gap the database does not show yet");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(2));
                    }
                    Ok(entries) => {
                        for entry in entries {
                            let seq = entry.seq;
                            let frame: Utf8Bytes = ServerFrame::Entry {
                                room: feed.room.clone(),
                                entry,
                            }
                            .to_json()
                            .into();
                            // In order; the fill under way keeps `offer`
                            // from starting another.
                            feed.offer(seq, frame);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, room = %feed.room, "could not read missed entries; trying again");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(2));
                    }
                }
            }
            let mut order = feed.order.lock().expect("feed order lock");
            order.filling = false;
            if let Some((&first, _)) = order.waiting.first_key_value() {
                feed.fill(&mut order, first - 1);
            }
        });
    }

    /// Delivers the next entry, then every waiting one that follows it.
    fn deliver_run(&self, order: &mut Order, seq: Seq, frame: Utf8Bytes) {
        self.deliver(seq, frame);
        let mut next = seq + 1;
        while let Some(frame) = order.waiting.remove(&next) {
            self.deliver(next, frame);
            next += 1;
        }
        // Anything left below the head was delivered by a fill meanwhile.
        let head = self.head();
        order.waiting.retain(|&s, _| s > head);
    }

    /// Reads whatever the store has past the head (after a reconnection, or
    /// when the sweep finds the store ahead).
    fn catch_up(self: &Arc<Self>, upto: Seq) {
        let mut order = self.order.lock().expect("feed order lock");
        self.fill(&mut order, upto);
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            let _ = link.commands.send(Command::Forget(self.room_id));
        }
    }
}

/// Where feeds come from.
#[derive(Clone, Default)]
pub enum Bus {
    /// Fan-out inside this process.
    #[default]
    Local,
    /// Fan-out across servers through Redis publish/subscribe.
    Redis(Arc<Link>),
}

impl Bus {
    /// The bus named by `url` (`None`: in-process). Redis is connected to
    /// once here, so a wrong address fails the start with a clear error.
    pub async fn open(url: Option<&str>, store: &Store, lease: Duration) -> Result<Self, BusError> {
        let Some(url) = url else {
            return Ok(Bus::Local);
        };
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(BusError::UnsupportedUrl(url.to_owned()));
        }
        let redis_err = |source| BusError::Redis {
            url: url.to_owned(),
            source,
        };
        let client = redis::Client::open(url).map_err(redis_err)?;
        let mut first = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| {
            redis_err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer within 5 s",
            )))
        })?
        .map_err(redis_err)?;
        let _: () = redis::cmd("PING")
            .query_async(&mut first)
            .await
            .map_err(redis_err)?;
        let keys = Keys::new(&store.cluster_name().await?);
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).expect("the system's random source works");
        let (commands, command_queue) = mpsc::unbounded_channel();
        let (announcements, announcement_queue) = mpsc::unbounded_channel();
        let link = Arc::new(Link {
            client: client.clone(),
            keys: keys.clone(),
            lease,
            server: id.iter().map(|b| format!("{b:02x}")).collect(),
            store: store.clone(),
            commands,
            announcements,
            feeds: Mutex::default(),
            connected: AtomicBool::new(false),
            told: broadcast::channel(CONTROL_BACKLOG).0,
        });
        let (listening, first_listen) = oneshot::channel();
        tokio::spawn(listen(
            client.clone(),
            command_queue,
            Arc::downgrade(&link),
            listening,
        ));
        tokio::spawn(announce(client, keys, first, announcement_queue));
        tokio::spawn(sweep(Arc::downgrade(&link)));
        // Serving before the control channel is subscribed would miss what
        // other servers say in the first moments (and /health would say
        // "degraded" for a bus that is fine).
        match tokio::time::timeout(Duration::from_secs(5), first_listen).await {
            Ok(Ok(())) => Ok(Bus::Redis(link)),
            _ => Err(redis_err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "could not subscribe within 5 s",
            )))),
        }
    }

    /// A feed for `room` (row `room_id`), whose log currently ends at `head`.
    pub fn feed(&self, room: &RoomName, room_id: i64, head: Seq) -> Arc<Feed> {
        let link = match self {
            Bus::Local => None,
            Bus::Redis(link) => Some(link.clone()),
        };
        let feed = Arc::new(Feed {
            room: room.clone(),
            room_id,
            sender: Fanout::new(FEED_CAPACITY),
            published: AtomicU64::new(head),
            order: Mutex::default(),
            link,
        });
        if let Bus::Redis(link) = self {
            link.feeds
                .lock()
                .expect("feeds lock")
                .entry(room_id)
                .or_default()
                .push(Arc::downgrade(&feed));
            let _ = link.commands.send(Command::Listen(room_id));
        }
        feed
    }

    /// Presence shared by every server on this bus (none in-process).
    pub fn presence(&self) -> Option<SharedPresence> {
        match self {
            Bus::Local => None,
            Bus::Redis(link) => Some(SharedPresence::new(
                link.client.clone(),
                link.keys.clone(),
                link.server.clone(),
                link.lease,
            )),
        }
    }

    /// Tells the other servers (none in-process).
    pub fn tell(&self, control: &Control) {
        if let Bus::Redis(link) = self {
            let json = serde_json::to_string(control).expect("control messages serialise");
            link.announce(Channel::Control, format!("{} {json}", link.server));
        }
    }

    /// What the other servers tell this one (nothing in-process).
    pub fn told(&self) -> Option<broadcast::Receiver<Control>> {
        match self {
            Bus::Local => None,
            Bus::Redis(link) => Some(link.told.subscribe()),
        }
    }

    /// `Ok(what)` when the bus carries messages, `Err(why)` when it cannot.
    pub fn readiness(&self) -> Result<&'static str, &'static str> {
        match self {
            Bus::Local => Ok("in-process"),
            Bus::Redis(link) if link.connected.load(Ordering::Acquire) => Ok("redis connected"),
            Bus::Redis(_) => Err("redis unreachable (entries go on, read from the database)"),
        }
    }
}

/// This server's side of the Redis bus.
pub struct Link {
    client: redis::Client,
    keys: Keys,
    /// This server's id on the bus: tells its own typing signals apart when
    /// Redis echoes them, and names its presence lease.
    server: String,
    /// How long this server's presence lease lasts unless renewed.
    lease: Duration,
    store: Store,
    commands: mpsc::UnboundedSender<Command>,
    announcements: mpsc::UnboundedSender<(Channel, String)>,
    /// Feeds in memory by room row id (a room reloaded while its old feed
    /// still drains has two for a moment).
    feeds: Mutex<HashMap<i64, Vec<Weak<Feed>>>>,
    connected: AtomicBool,
    /// What other servers said, for this server's followers.
    told: broadcast::Sender<Control>,
}

impl Link {
    fn announce(&self, channel: Channel, payload: String) {
        let _ = self.announcements.send((channel, payload));
    }

    fn live_feeds(&self, room_id: i64) -> Vec<Arc<Feed>> {
        let feeds = self.feeds.lock().expect("feeds lock");
        feeds
            .get(&room_id)
            .map(|list| list.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    fn every_feed(&self) -> Vec<Arc<Feed>> {
        let feeds = self.feeds.lock().expect("feeds lock");
        feeds.values().flatten().filter_map(Weak::upgrade).collect()
    }
}

enum Command {
    /// A feed for this room was made: subscribe (if not already) and catch up.
    Listen(i64),
    /// A feed for this room was dropped: unsubscribe if it was the last.
    Forget(i64),
}

/// Keeps one subscriber connection to Redis: subscribes to the channels of
/// the rooms in memory, hands what arrives to their feeds, and after a lost
/// connection reconnects, subscribes again and catches every feed up.
async fn listen(
    client: redis::Client,
    mut commands: mpsc::UnboundedReceiver<Command>,
    link: Weak<Link>,
    listening: oneshot::Sender<()>,
) {
    let mut listening = Some(listening);
    let mut wait = Duration::from_millis(100);
    loop {
        let Some(shared) = link.upgrade() else { return };
        let connected = tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub())
            .await
            .ok()
            .and_then(Result::ok);
        let Some(pubsub) = connected else {
            shared.connected.store(false, Ordering::Release);
            drop(shared);
            // Feeds made meanwhile are in `feeds`; subscribed once connected.
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
            while commands.try_recv().is_ok() {}
            continue;
        };
        let (mut sink, mut stream) = pubsub.split();
        let rooms: Vec<i64> = {
            let mut feeds = shared.feeds.lock().expect("feeds lock");
            // Feeds dropped while disconnected were never forgotten.
            feeds.retain(|_, list| {
                list.retain(|f| f.strong_count() > 0);
                !list.is_empty()
            });
            feeds.keys().copied().collect()
        };
        let mut subscribed = sink.subscribe(shared.keys.control()).await.is_ok();
        for room_id in &rooms {
            if !subscribed || sink.subscribe(shared.keys.room(*room_id)).await.is_err() {
                subscribed = false;
                break;
            }
        }
        if !subscribed {
            continue;
        }
        wait = Duration::from_millis(100);
        shared.connected.store(true, Ordering::Release);
        if let Some(listening) = listening.take() {
            let _ = listening.send(());
        }
        tracing::info!(rooms = rooms.len(), "listening on the Redis bus");
        // Whatever was announced while nobody listened is in the store.
        for feed in shared.every_feed() {
            feed.catch_up(ALL);
        }
        drop(shared);
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    let Some(shared) = link.upgrade() else { return };
                    let ok = match command {
                        Command::Listen(room_id) => {
                            let ok = sink.subscribe(shared.keys.room(room_id)).await.is_ok();
                            // Entries committed between the room's load and
                            // the subscription were announced to nobody here.
                            for feed in shared.live_feeds(room_id) {
                                feed.catch_up(ALL);
                            }
                            ok
                        }
                        Command::Forget(room_id) => {
                            let gone = {
                                let mut feeds = shared.feeds.lock().expect("feeds lock");
                                let list = feeds.entry(room_id).or_default();
                                list.retain(|f| f.strong_count() > 0);
                                let gone = list.is_empty();
                                if gone {
                                    feeds.remove(&room_id);
                                }
                                gone
                            };
                            !gone || sink.unsubscribe(shared.keys.room(room_id)).await.is_ok()
                        }
                    };
                    if !ok {
                        break;
                    }
                }
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let Some(shared) = link.upgrade() else { return };
                    receive(&shared, &message);
                }
            }
        }
        if let Some(shared) = link.upgrade() {
            shared.connected.store(false, Ordering::Release);
        }
        tracing::warn!(
            "lost the Redis bus; reconnecting (entries meanwhile come from the database)"
        );
    }
}

/// One announcement from Redis: on a room's channel `S SEQ SENT FRAME` (an
/// entry, stamped with when it was handed to Redis, in microseconds since
/// the Unix epoch), `E SEQ FRAME` (an entry from a server before the stamp)
/// or `T SERVER FRAME` (a typing signal); on the control channel
/// `SERVER CONTROL`.
fn receive(link: &Link, message: &redis::Msg) {
    if message.get_channel_name() == link.keys.control() {
        let told = std::str::from_utf8(message.get_payload_bytes())
            .ok()
            .and_then(|payload| payload.split_once(' '))
            .filter(|(server, _)| *server != link.server)
            .and_then(|(_, json)| serde_json::from_str::<Control>(json).ok());
        if let Some(control) = told {
            let _ = link.told.send(control);
        }
        return;
    }
    let Some(room_id) = link.keys.room_of(message.get_channel_name()) else {
        return;
    };
    let Ok(payload) = std::str::from_utf8(message.get_payload_bytes()) else {
        return;
    };
    let mut parts = payload.splitn(3, ' ');
    let (Some(kind), Some(tag), Some(frame)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    match kind {
        "S" | "E" => {
            let Ok(seq) = tag.parse::<Seq>() else { return };
            let frame = if kind == "S" {
                let Some((sent, frame)) = frame.split_once(' ') else {
                    return;
                };
                if let Ok(sent) = sent.parse::<u64>() {
                    record_lag(sent);
                }
                frame
            } else {
                frame
            };
            let frame = Utf8Bytes::from(frame.to_owned());
            for feed in link.live_feeds(room_id) {
                feed.offer(seq, frame.clone());
            }
        }
        "T" if tag != link.server => {
            let frame = Utf8Bytes::from(frame.to_owned());
            for feed in link.live_feeds(room_id) {
                feed.sender.send(Broadcast {
                    seq: None,
                    frame: frame.clone(),
                });
            }
        }
        _ => {}
    }
}

/// Now, in microseconds since the Unix epoch: an announcement's stamp.
fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as u64)
}

/// How long an entry took from its server handing it to Redis to this one
/// hearing it: the queue to Redis, Redis itself, and this server's reading.
/// Between hosts it also holds their clocks' difference (a clock behind
/// counts as no lag rather than a negative one).
fn record_lag(sent_micros: u64) {
    let lag = unix_micros().saturating_sub(sent_micros);
    metrics::histogram!(crate::metrics::BUS_LAG).record(lag as f64 / 1e6);
}

/// Sends this server's announcements to Redis, many per round trip. One that
/// cannot be sent is dropped: the other servers' sweeps read its entry from
/// the store.
async fn announce(
    client: redis::Client,
    keys: Keys,
    first: redis::aio::MultiplexedConnection,
    mut queue: mpsc::UnboundedReceiver<(Channel, String)>,
) {
    let mut connection = Some(first);
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queue.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        if connection.is_none() {
            connection = tokio::time::timeout(
                Duration::from_secs(1),
                client.get_multiplexed_async_connection(),
            )
            .await
            .ok()
            .and_then(Result::ok);
        }
        let Some(conn) = connection.as_mut() else {
            batch.clear();
            continue;
        };
        let mut pipe = redis::pipe();
        for (to, payload) in batch.drain(..) {
            let name = match to {
                Channel::Room(room_id) => keys.room(room_id),
                Channel::Control => keys.control(),
            };
            pipe.cmd("PUBLISH").arg(name).arg(payload).ignore();
        }
        if let Err(err) = pipe.query_async::<()>(conn).await {
            tracing::warn!(%err, "could not announce on the Redis bus");
            connection = None;
        }
    }
}

/// Compares every feed's head with the store's, and catches up those behind
/// (an announcement lost while Redis was away, or never sent).
async fn sweep(link: Weak<Link>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = link.upgrade() else { return };
        let feeds = shared.every_feed();
        if feeds.is_empty() {
            continue;
        }
        let ids: Vec<i64> = feeds.iter().map(|f| f.room_id).collect();
        match shared.store.heads(&ids).await {
            Ok(heads) => {
                let heads: HashMap<i64, Seq> = heads.into_iter().collect();
                for feed in feeds {
                    if let Some(&head) = heads.get(&feed.room_id)
                        && head > feed.head()
                    {
                        feed.catch_up(head);
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "could not compare the feeds with the database"),
        }
    }
}
