//! The `assistant` scenario's scripted provider: an OpenAI-compatible
//! chat-completions endpoint that streams `tokens` pieces, `every` apart,
//! each stamped with the microsecond it left (`t=MICROS `), so the viewers
//! can tell how long a token took from the provider to their socket.
//! Plain HTTP/1.1 on a TCP socket, closed after each answer: just enough
//! for the server's client, and no web framework in the load generator.

use crate::load;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// Microseconds since the run began: the provider's stamps and the
/// viewers' readings share this one clock (one process).
fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Starts the provider on a free loopback port; its address.
pub async fn provider(tokens: usize, every: Duration) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(answer(socket, tokens, every));
        }
    });
    Ok(addr)
}

async fn answer(mut socket: tokio::net::TcpStream, tokens: usize, every: Duration) {
    // The request: headers, then as many body bytes as they announce.
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = socket.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&request);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
    }
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let role = r#"data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#;
    let _ = socket.write_all(format!("{role}\n\n").as_bytes()).await;
    let mut ticks = tokio::time::interval(every);
    for _ in 0..tokens {
        ticks.tick().await;
        let piece = format!("t={} ", now_us());
        let chunk =
            serde_json::json!({ "choices": [{ "index": 0, "delta": { "content": piece } }] });
        if socket
            .write_all(format!("data: {chunk}\n\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
    let done = r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
    let _ = socket.write_all(format!("{done}\n\n").as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// What one viewer saw of one answer.
struct Seen {
    /// Each token's trip, provider to this socket (us).
    trips: Vec<u64>,
    frames: u64,
    bytes: u64,
}

/// One room, `viewers` sockets in it; one of them asks, and every one
/// reads the answer (`tokens` pieces, `every` apart) as it is written.
pub async fn scenario(
    bin: &std::path::Path,
    viewers: usize,
    tokens: usize,
    every: Duration,
) -> Result<(), String> {
    let provider = provider(tokens, every).await?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("sqlite://{}", dir.path().join("bench.db").display());
    let url = format!("http://{provider}/v1");
    let max = (tokens * 4).to_string();
    let mut target = crate::target::Target::start_on(
        bin,
        &db,
        &[
            "--ai-base-url",
            &url,
            "--ai-api-key",
            "bench",
            "--ai-cooldown-ms",
            "1",
            "--ai-max-answer-tokens",
            &max,
        ],
    )?;
    let mut sockets = Vec::with_capacity(viewers);
    for n in 0..viewers.max(1) {
        sockets.push(load::join(target.addr, "assist", &format!("viewer{n}")).await?);
    }
    target.mark_cpu();
    let started = Instant::now();
    let readers: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(n, ws)| tokio::spawn(watch(ws, n == 0)))
        .collect();
    let mut seen = Vec::with_capacity(readers.len());
    for reader in readers {
        seen.push(reader.await.map_err(|e| e.to_string())??);
    }
    let cpu = target.cpu_percent() / 100.0 * started.elapsed().as_secs_f64();
    let mut trips = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    for trip in seen.iter().flat_map(|s| &s.trips) {
        let _ = trips.record((*trip).max(1));
    }
    let per = |f: fn(&Seen) -> u64| seen.iter().map(f).sum::<u64>() as f64 / seen.len() as f64;
    crate::table(
        &format!(
            "assistant: {viewers} viewers, an answer of {tokens} tokens {} ms apart",
            every.as_millis()
        ),
        &[
            (
                "token to screen p50",
                crate::ms(trips.value_at_quantile(0.5)),
            ),
            (
                "token to screen p99",
                crate::ms(trips.value_at_quantile(0.99)),
            ),
            ("frames per viewer", format!("{:.0}", per(|s| s.frames))),
            ("bytes per viewer", format!("{:.0}", per(|s| s.bytes))),
            (
                "server CPU per viewer",
                format!("{:.3} ms", cpu * 1000.0 / viewers.max(1) as f64),
            ),
        ],
    );
    target.stop();
    Ok(())
}

/// Reads one socket until the stored answer; the asker asks first.
async fn watch(mut ws: load::Socket, asks: bool) -> Result<Seen, String> {
    if asks {
        let ask = app::protocol::ClientFrame::Send {
            room: app::rooms::RoomName::parse("assist").expect("a room name"),
            client_id: app::messages::ClientId::parse("ask-1").expect("an id"),
            body: app::messages::MessageBody::parse("@assistant go").expect("a body"),
            reply_to: None,
            media: vec![],
        };
        ws.send(Message::text(ask.to_json()))
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut seen = Seen {
        trips: vec![],
        frames: 0,
        bytes: 0,
    };
    let deadline = tokio::time::sleep(Duration::from_secs(600));
    tokio::pin!(deadline);
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            _ = &mut deadline => return Err("no answer in 10 minutes".into()),
        };
        let Some(Ok(Message::Text(text))) = message else {
            match message {
                Some(Ok(_)) => continue,
                _ => return Err("the socket closed before the answer".into()),
            }
        };
        if text.starts_with(r#"["assist""#) {
            let now = now_us();
            seen.frames += 1;
            seen.bytes += text.len() as u64;
            for stamp in text.split("t=").skip(1) {
                let digits: String = stamp.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(sent) = digits.parse::<u64>() {
                    seen.trips.push(now.saturating_sub(sent));
                }
            }
        } else if text.starts_with(r#"["entry""#) && text.contains(",2]]") {
            // The stored answer (writer 2, the bot): done.
            return Ok(seen);
        }
    }
}
