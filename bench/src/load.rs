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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
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
    pub stop: AtomicBool,
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

pub async fn connect(addr: SocketAddr) -> Result<Socket, String> {
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/ws"), None, true)
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
            Some(Ok(Message::Text(text))) if text.contains(r#""type":"joined""#) => {
                let key = match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(ServerFrame::Joined { media, .. }) => media.map(|grant| grant.key),
                    _ => None,
                };
                return Ok((ws, key));
            }
            Some(Ok(Message::Text(text))) if text.contains(r#""type":"error""#) => {
                return Err(format!("join refused: {text}"));
            }
            Some(Ok(_)) => continue,
            other => return Err(format!("join failed: {other:?}")),
        }
    }
}

/// The send time stamped into a message body by [`body`].
fn stamped_us(text: &str) -> Option<u64> {
    let at = text.find("\"body\":\"t=")? + "\"body\":\"t=".len();
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

/// Reads until told to stop, counting deliveries and recording latencies.
pub async fn receive(mut ws: Socket, tally: Arc<Tally>, clock: Clock) -> Histogram<u64> {
    let mut latencies =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    while !tally.stop.load(Ordering::Relaxed) {
        let next = tokio::time::timeout(Duration::from_millis(200), ws.next()).await;
        let Ok(next) = next else { continue };
        match next {
            Some(Ok(Message::Text(text))) => {
                if let Some(sent) = stamped_us(&text) {
                    tally.delivered.fetch_add(1, Ordering::Relaxed);
                    if tally.recording.load(Ordering::Relaxed) {
                        let _ = latencies.record(clock.now_us().saturating_sub(sent).max(1));
                    }
                } else if text.contains(r#""type":"error""#) {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(Ok(_)) => {}
            _ => {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    latencies
}

/// Sends `rate` messages per second to `room` until told to stop; acks and
/// other frames are read (and dropped) by a second task.
pub async fn send(ws: Socket, room: &str, rate: f64, size: usize, tally: Arc<Tally>, clock: Clock) {
    let (mut write, mut read) = ws.split();
    let room = RoomName::parse(room).expect("bench room names are valid");
    let drain_tally = tally.clone();
    let drain = tokio::spawn(async move {
        while let Some(Ok(message)) = read.next().await {
            if let Message::Text(text) = message
                && text.contains(r#""type":"error""#)
            {
                drain_tally.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n: u64 = 0;
    while !tally.stop.load(Ordering::Relaxed) {
        ticks.tick().await;
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
    drain.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_time_is_read_back_from_an_entry_frame() {
        let frame = format!(
            r#"{{"type":"entry","entry":{{"kind":{{"message":{{"client_id":"c","body":"{}"}}}}}}}}"#,
            body(12345, 100)
        );
        assert_eq!(stamped_us(&frame), Some(12345));
        assert_eq!(body(1, 100).len(), 100);
    }
}
