//! Bad input and abuse: each gets its documented answer, and the server stays up.

use crate::common::*;
use app::protocol::{ErrorCode, ServerFrame};
use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The server still serves a fresh client end to end.
async fn still_up(app: &TestApp) {
    let mut probe = app.client().await;
    probe.join("health", "probe").await;
    probe.say("health", "still up").await;
}

#[tokio::test]
async fn an_oversize_frame_closes_that_socket_only() {
    let app = spawn_app().await;
    let mut big = app.client().await;
    big.send_text(&"x".repeat(70 * 1024)).await;
    assert_eq!(big.close_code().await, Some(1009));
    still_up(&app).await;
}

#[tokio::test]
async fn flooding_is_refused_then_closed_and_nothing_extra_is_stored() {
    let app = spawn_app_with(&["--rate-burst", "5", "--rate-per-sec", "0.5"]).await;
    let mut flooder = app.client().await;
    flooder.join("main", "flooder").await; // one frame of the burst
    for n in 0..4 {
        flooder.say("main", &format!("ok {n}")).await;
    }
    let id = flooder.new_client_id();
    flooder.say_with_id("main", &id, "one too many").await;
    let frames = flooder
        .recv_until(|f| matches!(f, ServerFrame::Error { .. }))
        .await;
    match frames.last().unwrap() {
        ServerFrame::Error { code, message, .. } => {
            assert_eq!(*code, ErrorCode::RateLimited);
            assert!(message.contains("too fast"), "{message}");
        }
        _ => unreachable!(),
    }
    for _ in 0..40 {
        let id = flooder.new_client_id();
        flooder.say_with_id("main", &id, "flood").await;
    }
    assert_eq!(flooder.close_code().await, Some(1008));

    let mut reader = app.client().await;
    reader.join_since("health", "reader", None).await;
    let mut reader_main = app.client().await;
    reader_main.join_since("main", "reader", Some(0)).await;
    let frames = reader_main
        .recv_until(|f| notice(f).as_deref() == Some("reader joined"))
        .await;
    let texts: Vec<_> = frames.iter().filter_map(message_text).collect();
    assert_eq!(
        texts,
        ["ok 0", "ok 1", "ok 2", "ok 3"],
        "refused frames were not stored"
    );
    still_up(&app).await;
}

async fn handshake(app: &TestApp, origin: Option<&str>) -> Result<u16, u16> {
    let mut request = format!("ws://{}/ws", app.addr())
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => Ok(response.status().as_u16()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("unexpected handshake error {other}"),
    }
}

#[tokio::test]
async fn only_the_pages_own_origin_and_allowed_ones_may_open_the_socket() {
    let app = spawn_app_with(&["--allowed-origin", "https://chat.example.com"]).await;
    let own = format!("http://{}", app.addr());
    assert_eq!(handshake(&app, Some(&own)).await, Ok(101));
    assert_eq!(
        handshake(&app, Some("https://chat.example.com")).await,
        Ok(101)
    );
    assert_eq!(
        handshake(&app, Some("https://evil.example")).await,
        Err(403)
    );
    assert_eq!(handshake(&app, Some("null")).await, Err(403));
    still_up(&app).await;
}

#[tokio::test]
async fn a_silent_peer_is_dropped_after_the_idle_timeout() {
    let app = spawn_app_with(&["--idle-timeout-secs", "3"]).await;
    let mut watcher = app.client().await;
    watcher.join("main", "watcher").await;
    let mut silent = app.client().await;
    silent.join("main", "silent").await;
    // From now on `silent` reads nothing, so it answers no pings either. The
    // watcher keeps reading (and ponging) and sees the dead peer go.
    let frames = watcher
        .recv_until(|f| notice(f).as_deref() == Some("silent left"))
        .await;
    assert!(
        frames
            .iter()
            .any(|f| notice(f).as_deref() == Some("silent joined"))
    );
    drop(silent);
    still_up(&app).await;
}

#[tokio::test]
async fn random_text_frames_never_hurt_the_server() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let app = spawn_app_with(UNLIMITED).await;
    let mut client = app.client().await;
    let mut runner = TestRunner::deterministic();
    let texts = proptest::collection::vec(any::<String>(), 200);
    for text in texts.new_tree(&mut runner).unwrap().current() {
        client.ws.send(Message::text(text)).await.unwrap();
    }
    let mut joined = app.client().await;
    joined.join("main", "after-fuzz").await;
    drop(client);
    still_up(&app).await;
}
