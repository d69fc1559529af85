//! The Redis side of the bus: this server's link (one subscriber
//! connection, one publisher), what arrives on the channels, the
//! announcements sent, and the sweep that catches feeds up.

use super::*;

/// This server's side of the Redis bus.
pub struct Link {
    pub(super) client: redis::Client,
    pub(super) keys: Keys,
    /// This server's id on the bus: tells its own typing signals apart when
    /// Redis echoes them, and names its presence lease.
    pub(super) server: String,
    /// How long this server's presence lease lasts unless renewed.
    pub(super) lease: Duration,
    pub(super) store: Store,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) announcements: mpsc::UnboundedSender<(Channel, String)>,
    /// Feeds in memory by room row id (a room reloaded while its old feed
    /// still drains has two for a moment).
    pub(super) feeds: Mutex<HashMap<i64, Vec<Weak<Feed>>>>,
    pub(super) connected: AtomicBool,
    /// What other servers said, for this server's followers.
    pub(super) told: broadcast::Sender<Control>,
}

impl Link {
    pub(super) fn announce(&self, channel: Channel, payload: String) {
        let _ = self.announcements.send((channel, payload));
    }

    pub(super) fn live_feeds(&self, room_id: i64) -> Vec<Arc<Feed>> {
        let feeds = self.feeds.lock().expect("feeds lock");
        feeds
            .get(&room_id)
            .map(|list| list.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    pub(super) fn every_feed(&self) -> Vec<Arc<Feed>> {
        let feeds = self.feeds.lock().expect("feeds lock");
        feeds.values().flatten().filter_map(Weak::upgrade).collect()
    }
}

pub(super) enum Command {
    /// A feed for this room was made: subscribe (if not already) and catch up.
    Listen(i64),
    /// A feed for this room was dropped: unsubscribe if it was the last.
    Forget(i64),
}

/// Keeps one subscriber connection to Redis: subscribes to the channels of
/// the rooms in memory, hands what arrives to their feeds, and after a lost
/// connection reconnects, subscribes again and catches every feed up.
pub(super) async fn listen(
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
pub(super) fn unix_micros() -> u64 {
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
pub(super) async fn announce(
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
pub(super) async fn sweep(link: Weak<Link>) {
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
