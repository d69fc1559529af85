//! Chat clients for load: each socket joins a room and records how long every
//! message took from its sender's clock to its arrival; senders stamp their
//! send time into the body.

use app::messages::{ClientId, MessageBody};
use app::people::{Nick, SessionId};
use app::protocol::{ClientFrame, ServerFrame};
use app::rooms::RoomName;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Counters shared by every client of a run.
#[derive(Default)]
pub struct Tally {
    pub sent: AtomicU64,
    pub delivered: AtomicU64,
    pub errors: AtomicU64,
    /// Only deliveries after this is set count into latency.
    pub recording: AtomicBool,
    pub latencies: Latencies,
}

/// Latencies of a run, one histogram per thread that records: a histogram
/// per socket cost more memory than the server under test (2.4 GB for
/// 10,000 sockets), and one shared histogram would be a lock every
/// delivery contends on.
pub struct Latencies {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Default for Latencies {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        Self {
            shards: (0..threads * 2).map(|_| Mutex::new(histogram())).collect(),
        }
    }
}

/// A latency histogram in microseconds, 1 us to a minute, 3 digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

static THREADS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static THREAD: usize = THREADS.fetch_add(1, Ordering::Relaxed);
}

impl Latencies {
    fn record(&self, us: u64) {
        let shard = THREAD.with(|t| *t) % self.shards.len();
        let mut h = self.shards[shard].lock().expect("latency shard");
        let _ = h.record(us.max(1));
    }

    /// Every thread's figures together.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = histogram();
        for shard in &self.shards {
            let _ = all.add(&*shard.lock().expect("latency shard"));
        }
        all
    }
}

/// The clock every client stamps and reads: microseconds since `epoch`.
#[derive(Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

/// The socket buffers both ends of a bench run use: the chat server's own
/// (`server/src/routes.rs`). tungstenite's default read buffer is 128 KiB
/// and it zeroes the free part before every read, so with the defaults the
/// bench spent half its CPU in `memset` and the raw twin paid it too.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(16 * 1024)
}

pub async fn connect(addr: SocketAddr) -> Result<Socket, String> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{addr}/ws"),
        Some(ws_config()),
        true,
    )
    .await
    .map_err(|e| format!("connect: {e}"))?;
    Ok(ws)
}

/// Connects and joins `room` as `nick`, waiting for the server's answer.
pub async fn join(addr: SocketAddr, room: &str, nick: &str) -> Result<Socket, String> {
    Ok(join_granted(addr, room, nick).await?.0)
}

/// Joins like [`join`], and also returns the room's key for uploads.
pub async fn join_granted(
    addr: SocketAddr,
    room: &str,
    nick: &str,
) -> Result<(Socket, Option<String>), String> {
    let mut ws = connect(addr).await?;
    let frame = ClientFrame::Join {
        room: RoomName::parse(room).map_err(|e| e.to_string())?,
        nick: Nick::parse(nick).map_err(|e| e.to_string())?,
        session: SessionId::parse(&format!("bench-{nick}")).map_err(|e| e.to_string())?,
        since: None,
    };
    ws.send(Message::text(frame.to_json()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with(r#"["joined""#) => {
                let key = match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(ServerFrame::Joined { media, .. }) => media.map(|grant| grant.key),
                    _ => None,
                };
                return Ok((ws, key));
            }
            Some(Ok(Message::Text(text))) if text.starts_with(r#"["error""#) => {
                return Err(format!("join refused: {text}"));
            }
            Some(Ok(_)) => continue,
            other => return Err(format!("join failed: {other:?}")),
        }
    }
}

/// The send time stamped into a message body by [`body`].
fn stamped_us(text: &str) -> Option<u64> {
    // The body is the second field of the message's array, and starts `t=`.
    let at = text.find("\"t=")? + "\"t=".len();
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    text[at..at + digits].parse().ok()
}

/// A message body of `size` bytes carrying its send time.
pub fn body(now_us: u64, size: usize) -> String {
    let mut body = format!("t={now_us} ");
    while body.len() < size {
        body.push('x');
    }
    body
}

/// One member of a room until its task is aborted: counts every entry that
/// arrives (its latency too, while recording) and, when `rate` is above 0,
/// sends that many messages a second, the first after `phase` so senders
/// sharing a rate do not all fire on the same tick. One task per socket:
/// the load generator must cost less than the server it measures.
pub async fn chat(
    ws: Socket,
    room: RoomName,
    rate: f64,
    phase: Duration,
    size: usize,
    tally: Arc<Tally>,
    clock: Clock,
) {
    let (mut write, mut read) = ws.split();
    let sending = rate > 0.0;
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + phase, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n: u64 = 0;
    // Runs until its task is aborted: a stop flag polled on a timer would
    // wake 10,000 idle sockets five times a second for nothing.
    loop {
        tokio::select! {
            next = read.next() => match next {
                Some(Ok(Message::Text(text))) => {
                    if let Some(sent) = stamped_us(&text) {
                        tally.delivered.fetch_add(1, Ordering::Relaxed);
                        if tally.recording.load(Ordering::Relaxed) {
                            tally.latencies.record(clock.now_us().saturating_sub(sent));
                        }
                    } else if text.starts_with(r#"["error""#) {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                _ => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            },
            _ = ticks.tick(), if sending => {
                n += 1;
                let frame = ClientFrame::Send {
                    room: room.clone(),
                    client_id: ClientId::parse(&format!("c{}-{n}", clock.now_us())).expect("valid id"),
                    body: MessageBody::parse(&body(clock.now_us(), size)).expect("valid body"),
                    reply_to: None,
                    media: vec![],
                };
                if write.send(Message::text(frame.to_json())).await.is_err() {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                tally.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_time_is_read_back_from_an_entry_frame() {
        let frame = format!(
            r#"["entry","main",[1,0,"n",{{"message":["c","{}",null,false,[],[]]}},false]]"#,
            body(12345, 100)
        );
        assert_eq!(stamped_us(&frame), Some(12345));
        assert_eq!(body(1, 100).len(), 100);
    }
}
