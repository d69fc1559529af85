//! Bad input and abuse: each gets its documented answer, and the server stays up.

use crate::accounts::call_as;
use crate::common::*;
use app::protocol::{ErrorCode, ServerFrame};
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The server still serves a fresh client end to end, from another address
/// (the attacker's may have spent its budgets).
async fn still_up(app: &TestApp) {
    let mut probe = Client::connect_from(app.addr(), [127, 0, 0, 2].into()).await;
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
    let frames = reader_main.recv_until(|f| says(f, "reader joined")).await;
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
    let frames = watcher.recv_until(|f| says(f, "silent left")).await;
    assert!(frames.iter().any(|f| says(f, "silent joined")));
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

#[tokio::test]
async fn more_connections_from_one_address_buy_no_bigger_send_budget() {
    // Each connection alone may send 30 at once; the address, 40 in all.
    let app = spawn_app_with(&["--address-rate-burst", "40", "--address-rate-per-sec", "1"]).await;
    let mut clients = vec![];
    for i in 0..10 {
        let mut client = app.client().await;
        client.join(&format!("own-{i}"), &format!("n{i}")).await;
        clients.push(client);
    }
    let mut acked = 0;
    let mut refused = 0;
    for (i, client) in clients.iter_mut().enumerate() {
        let room_name = format!("own-{i}");
        for n in 0..15 {
            let id = client.new_client_id();
            client.say_with_id(&room_name, &id, &format!("m{n}")).await;
        }
        let mut answers = 0;
        while answers < 15 {
            match client.recv().await {
                ServerFrame::Ack { .. } => (acked, answers) = (acked + 1, answers + 1),
                ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    ..
                } => (refused, answers) = (refused + 1, answers + 1),
                _ => {}
            }
        }
    }
    // 10 joins + 150 sends against one budget of 40 (plus a trickle).
    assert!(acked < 60, "the address budget is shared: {acked} acked");
    assert!(refused > 90, "{refused} refused");
    let mut stored = 0;
    for i in 0..10 {
        stored += log_of(&app, &format!("own-{i}"))
            .await
            .iter()
            .filter(|e| matches!(e.kind, app::messages::EntryKind::Message { .. }))
            .count();
    }
    assert_eq!(stored, acked, "every ack is a stored message, nothing more");
    still_up(&app).await;
}

#[tokio::test]
async fn a_flood_of_binary_frames_closes_the_socket_like_any_flood() {
    let app = spawn_app().await;
    let mut flooder = app.client().await;
    for _ in 0..200 {
        if flooder
            .ws
            .send(Message::Binary(vec![0u8; 16].into()))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(flooder.close_code().await, Some(1008));
    still_up(&app).await;
}

#[tokio::test]
async fn join_and_leave_bursts_are_refused_and_the_log_stays_short() {
    let app = spawn_app_with(UNLIMITED).await;
    let mut door = app.client().await;
    let mut refused = 0;
    for _ in 0..100 {
        match door.try_join("door", "slammer").await {
            ServerFrame::Joined { .. } => door.leave("door").await,
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message,
                ..
            } => {
                assert!(message.contains("try again in"), "{message}");
                refused += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(refused >= 70, "only a burst gets in: {refused} refused");
    let notices = log_of(&app, "door").await.len();
    assert!(notices <= 60, "{notices} notices for 100 join/leave pairs");

    // Other connections from the same address share its budget: each alone
    // could announce 10 arrivals here, three together far fewer.
    let mut joined = 0;
    for c in 0..3 {
        let mut other = app.client().await;
        for i in 0..10 {
            if let ServerFrame::Joined { .. } = other.try_join(&format!("hall-{c}-{i}"), "x").await
            {
                joined += 1;
            }
        }
    }
    assert!(
        joined < 20,
        "the address's join budget is shared: {joined} joined"
    );
    still_up(&app).await;
}

#[tokio::test]
async fn a_connection_may_be_in_only_so_many_rooms() {
    let app = spawn_app_with(&["--max-rooms", "3"]).await;
    let mut client = app.client().await;
    for name in ["a", "b", "c"] {
        client.join(name, "roamer").await;
    }
    let refused = client.try_join("d", "roamer").await;
    assert_eq!(error_code(&refused), Some(ErrorCode::TooManyRooms));
    client.leave("a").await;
    client.join("d", "roamer").await;
}

#[tokio::test]
async fn rooms_nobody_is_in_hold_no_memory_and_the_lobby_stays_bounded() {
    let flags: Vec<&str> = UNLIMITED.iter().chain(MANY_JOINS).copied().collect();
    let app = spawn_app_with(&flags).await;
    let mut wanderer = app.client().await;
    for i in 0..300 {
        let name = format!("w-{i:03}");
        wanderer.join(&name, "wanderer").await;
        wanderer.leave(&name).await;
    }
    let mut stayer = app.client().await;
    stayer.join("w-007", "stayer").await;
    let mut held = usize::MAX;
    for _ in 0..100 {
        held = app.server.hub().rooms_in_memory().await;
        if held == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(held, 1, "only the room someone is in stays in memory");

    // The lobby lists a bounded page, the room with people first, and finds
    // any room by name.
    let html = app.get("/").await.1;
    let listed = html.matches(">#w-").count();
    assert_eq!(listed, app::rooms::LOBBY_ROOMS, "a bounded page");
    let first = html.find(">#w-").unwrap();
    assert_eq!(&html[first..first + 7], ">#w-007", "busiest first");
    let found = call_as(&app, "/api/list_rooms", json!({"search": "w-123"}), None).await;
    let found = (found.status, found.body);
    assert_eq!(found.0, 200);
    assert!(found.1.contains("\"w-123\""), "{}", found.1);
    assert!(!found.1.contains("\"w-124\""), "{}", found.1);
    let odd = call_as(&app, "/api/list_rooms", json!({"search": "%_\\'"}), None).await;
    let odd = (odd.status, odd.body);
    assert_eq!(odd, (200, "[]".to_owned()), "wildcards are literal");
}

#[tokio::test]
async fn look_alike_nicknames_are_the_same_name() {
    let app = spawn_app().await;
    let mut ana = app.client().await;
    ana.join("main", "Ana").await;
    ana.join("other", "paypal").await;
    for (room_name, twin) in [
        ("main", "ana"),
        ("main", "ANA"),
        ("main", "ANIA"), // not a twin: another letter
        ("other", "PAYPAL"),
        ("other", "paypaI"),        // capital i for l
        ("main", "\u{0410}na"),     // Cyrillic capital A
        ("main", "A\u{0301}na"),    // not a twin: accented
        ("other", "p\u{0430}ypal"), // Cyrillic small a
        ("other", "paypa\u{04CF}"), // Cyrillic palochka for l
    ] {
        let answer = app.client().await.try_join(room_name, twin).await;
        let taken = error_code(&answer) == Some(ErrorCode::NickInUse);
        let twin_expected = !twin.contains('\u{0301}') && twin != "ANIA";
        assert_eq!(taken, twin_expected, "{twin:?}: {answer:?}");
    }
    let mut sneaky = app.client().await;
    sneaky
        .send_text(&format!(
            r#"{{"type":"join","room":"main","nick":"An{}a","session":"s1"}}"#,
            '\u{200B}'
        ))
        .await;
    match sneaky.recv().await {
        ServerFrame::Error {
            code: ErrorCode::InvalidFrame,
            message,
            ..
        } => assert!(message.contains("invisible"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
