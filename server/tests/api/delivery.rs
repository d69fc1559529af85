//! The delivery promise: every acknowledged message reaches every member of
//! the room exactly once, in sequence order, across drops and slow readers.

use crate::common::*;
use app::messages::Seq;
use app::protocol::ServerFrame;

#[tokio::test]
async fn a_client_that_drops_mid_stream_resumes_with_every_message_once_in_order() {
    let app = spawn_app_with(UNLIMITED).await;
    let mut reader = app.client().await;
    reader.join("main", "reader").await;
    let mut writer = app.client().await;
    writer.join("main", "writer").await;

    let sending = tokio::spawn(async move {
        for n in 1..=60 {
            writer.say("main", &format!("m{n}")).await;
        }
        writer
    });

    // Read part of the stream, then lose the TCP connection without a goodbye.
    let mut seen = reader.recv_until(|f| message_text(f) == Some("m10")).await;
    let last = seen.iter().filter_map(entry_seq).max().unwrap();
    let session = reader.session.clone();
    drop(reader);

    let mut back = app.client().await;
    back.session = session;
    back.join_since("main", "reader", Some(last)).await;
    seen.extend(back.recv_until(|f| message_text(f) == Some("m60")).await);
    let _writer = sending.await.unwrap();

    let texts: Vec<&str> = seen.iter().filter_map(message_text).collect();
    let expected: Vec<String> = (1..=60).map(|n| format!("m{n}")).collect();
    assert_eq!(texts, expected, "every message exactly once, in order");
    let seqs: Vec<Seq> = seen.iter().filter_map(entry_seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no repeat: {seqs:?}"
    );
}

#[tokio::test]
async fn a_slow_consumer_is_closed_while_the_room_keeps_flowing() {
    let app = spawn_app_with(&[UNLIMITED, &["--send-queue-bytes", "65536"]].concat()).await;
    // A reader with a tiny receive window that then stops reading.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.addr()).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(
        format!("ws://{}/ws", app.addr()),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let mut slow = crate::common::Client::from_stream(ws);
    slow.join("main", "slow").await;

    let mut fast = app.client().await;
    fast.join("main", "fast").await;
    let mut writer = app.client().await;
    writer.join("main", "writer").await;

    let big = "x".repeat(3900);
    let mut sent = 0;
    let mut slow_left = false;
    while !slow_left {
        assert!(sent < 5000, "the slow reader was never closed");
        for _ in 0..50 {
            sent += 1;
            writer.say("main", &format!("{sent} {big}")).await;
        }
        // The fast reader gets every message, in order, while this goes on.
        let frames = fast
            .recv_until(|f| message_text(f).is_some_and(|t| t.starts_with(&format!("{sent} "))))
            .await;
        slow_left |= frames.iter().any(|f| says(f, "slow left"));
    }

    // The slow reader, reading at last, finds a close with the slow code.
    let code = slow.close_code().await;
    assert_eq!(code, Some(4008));
}

#[tokio::test]
async fn a_client_far_behind_gets_the_latest_page_and_is_told() {
    let app = spawn_app_with(UNLIMITED).await;
    let mut writer = app.client().await;
    writer.join("main", "writer").await;
    for n in 1..=1010 {
        writer.say("main", &format!("n{n}")).await;
    }
    let mut late = app.client().await;
    late.join_since("main", "late", Some(1)).await;
    let frames = late.recv_until(|f| message_text(f) == Some("n1010")).await;
    assert!(matches!(frames[0], ServerFrame::Joined { reset: true, .. }));
    let replayed = frames.iter().filter(|f| entry_seq(f).is_some()).count();
    assert_eq!(replayed, 50, "the latest page, not a thousand entries");
}

#[tokio::test]
async fn a_replaced_connection_is_closed_and_the_new_one_keeps_the_nickname() {
    let app = spawn_app().await;
    let mut old = app.client().await;
    old.join("main", "sadia").await;
    let mut new = app.client().await;
    new.session = old.session.clone();
    new.join("main", "sadia").await;
    let code = old.close_code().await;
    assert_eq!(code, Some(4001));
    tokio::time::sleep(GRACE * 2).await;
    let (online, _) = app.client().await.join("main", "other").await;
    assert_eq!(online, vec![nick("sadia")], "sadia stays, without a leave");
}
