//! The raw broadcast twin: the least a server can do for the same load. It
//! answers a join at once, and hands every message frame it reads, as it
//! is, to every socket (one shared copy, one reader and one writer task per
//! socket, feed-then-flush), with no validation, storage or ack. Run as a
//! process of its own (`bench raw-server`) so its CPU is read like the chat
//! server's.

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub async fn serve() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // The same start line as the chat server, so `Target` reads it alike.
    println!("Chat server listening on http://{addr}");
    let (room, _) = broadcast::channel::<Utf8Bytes>(4096);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let room = room.clone();
        tokio::spawn(async move {
            let Ok(ws) =
                tokio_tungstenite::accept_async_with_config(stream, Some(crate::load::ws_config()))
                    .await
            else {
                return;
            };
            let (mut write, mut read) = ws.split();
            let mut feed = room.subscribe();
            let (replies, mut replied) = tokio::sync::mpsc::unbounded_channel::<Message>();
            let writer = tokio::spawn(async move {
                loop {
                    let message = tokio::select! {
                        Some(reply) = replied.recv() => reply,
                        next = feed.recv() => match next {
                            Ok(frame) => Message::Text(frame),
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                    };
                    if write.feed(message).await.is_err() {
                        return;
                    }
                    // Whatever else is waiting goes out with the same flush.
                    while let Ok(frame) = feed.try_recv() {
                        if write.feed(Message::Text(frame)).await.is_err() {
                            return;
                        }
                    }
                    if write.flush().await.is_err() {
                        return;
                    }
                }
            });
            while let Some(Ok(message)) = read.next().await {
                if let Message::Text(text) = message {
                    if text.contains(r#""type":"join""#) {
                        let _ = replies.send(Message::text(r#"["joined"]"#));
                    } else {
                        let _ = room.send(text);
                    }
                }
            }
            writer.abort();
        });
    }
}
