//! The chat end to end over real WebSockets: a real server on port 0, a real
//! SQLite file, tokio-tungstenite clients.

use crate::common::*;
use app::protocol::{ErrorCode, ServerFrame};
use futures::SinkExt;
use std::time::Duration;

#[tokio::test]
async fn two_people_in_a_room_hear_each_other_in_order() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let (online, _) = sadia.join("main", "sadia").await;
    assert!(online.is_empty());
    assert_eq!(notice(&sadia.recv().await).as_deref(), Some("sadia joined"));

    let mut usman = app.client().await;
    let (online, _) = usman.join("main", "usman").await;
    assert_eq!(online, vec![nick("sadia")]);
    let frames = sadia.recv_until(|f| notice(f).is_some()).await;
    assert_eq!(
        notice(frames.last().unwrap()).as_deref(),
        Some("usman joined")
    );

    let first = sadia.say("main", "Hi everyone!").await;
    let heard = usman.hear("Hi everyone!").await;
    assert_eq!(heard.seq, first);
    assert_eq!(heard.nick, nick("sadia"));

    let second = usman.say("main", "Hello Sadia!").await;
    assert_eq!(second, first + 1, "sequence numbers count up by one");
    let heard = sadia.hear("Hello Sadia!").await;
    assert_eq!((heard.seq, heard.nick), (second, nick("usman")));
}

#[tokio::test]
async fn a_message_in_one_room_never_shows_in_another() {
    let app = spawn_app().await;
    let mut in_main = app.client().await;
    in_main.join("main", "sadia").await;
    let mut in_other = app.client().await;
    in_other.join("other", "usman").await;

    in_other.say("other", "only for other").await;
    in_main.say("main", "only for main").await;

    let frames = in_main
        .recv_until(|f| message_text(f) == Some("only for main"))
        .await;
    assert!(
        frames
            .iter()
            .all(|f| message_text(f) != Some("only for other"))
    );
    assert!(
        frames
            .iter()
            .all(|f| !matches!(f, ServerFrame::Entry { room, .. } if room.as_str() != "main"))
    );

    // Each room numbers its own log from 1.
    let (_, head) = app.client().await.join("other", "watcher").await;
    assert_eq!(head, 2, "other has usman's join and one message");
}

#[tokio::test]
async fn history_is_there_after_a_restart() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let seq = sadia.say("main", "remember me").await;
    drop(sadia);
    let TestApp { server, db, dir } = app;
    server.shutdown().await.expect("clean shutdown");

    let server = start_on(db).await;
    let mut late = crate::common::Client::connect(server.addr).await;
    late.join_since("main", "late", Some(0)).await;
    let frames = late
        .recv_until(|f| message_text(f) == Some("remember me"))
        .await;
    assert!(matches!(frames[0], ServerFrame::Joined { head, .. } if head >= seq));

    // And it is in the server-rendered page, readable without JavaScript.
    let html = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .unwrap()
        .get(format!("http://{}/r/main", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("remember me"), "{html}");
    server.shutdown().await.unwrap();
    drop(dir);
}

#[tokio::test]
async fn joining_twice_adds_no_subscription_notice_or_copy() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    sadia.recv().await; // her join notice
    let (_, head) = sadia.join("main", "sadia").await;
    assert_eq!(head, 1, "the second join stored no notice");

    sadia.say("main", "once").await;
    sadia.say("main", "probe").await;
    // Everything up to the probe's entry: "once" must arrive exactly one time.
    let frames = sadia.recv_until(|f| message_text(f) == Some("probe")).await;
    let copies = frames
        .iter()
        .filter(|f| message_text(f) == Some("once"))
        .count();
    assert_eq!(copies, 1, "{frames:?}");
    let mut reader = app.client().await;
    reader.join_since("main", "reader", Some(0)).await;
    let frames = reader
        .recv_until(|f| message_text(f) == Some("probe"))
        .await;
    assert_eq!(
        frames
            .iter()
            .filter(|f| message_text(f) == Some("once"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_resent_client_id_is_stored_once_and_acked_with_the_original_seq() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let mut usman = app.client().await;
    usman.join("main", "usman").await;

    let id = sadia.new_client_id();
    sadia.say_with_id("main", &id, "just once").await;
    sadia.say_with_id("main", &id, "just once").await;
    let mut acks = vec![];
    while acks.len() < 2 {
        if let ServerFrame::Ack { seq, .. } = sadia.recv().await {
            acks.push(seq);
        }
    }
    assert_eq!(acks[0], acks[1]);

    sadia.say("main", "after").await;
    let frames = usman.recv_until(|f| message_text(f) == Some("after")).await;
    let copies = frames
        .iter()
        .filter(|f| message_text(f) == Some("just once"))
        .count();
    assert_eq!(copies, 1, "{frames:?}");

    // A fresh reader replaying the whole room sees it once too.
    let mut reader = app.client().await;
    reader.join_since("main", "reader", Some(0)).await;
    let frames = reader
        .recv_until(|f| message_text(f) == Some("after"))
        .await;
    assert_eq!(
        frames
            .iter()
            .filter(|f| message_text(f) == Some("just once"))
            .count(),
        1
    );
}

#[tokio::test]
async fn bad_frames_get_readable_errors_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let mut client = app.client().await;

    for (bad, expect) in [
        ("not json", "invalid frame"),
        (r#"{"type":"dance"}"#, "unknown variant"),
        (
            r#"{"type":"join","room":"a room","nick":"x","session":"s"}"#,
            "letters, digits",
        ),
        (
            r#"{"type":"join","room":"main","nick":"","session":"s"}"#,
            "Pick a nickname",
        ),
        (
            &format!(
                r#"{{"type":"send","room":"main","client_id":"c","body":"{}"}}"#,
                "a".repeat(4001)
            ),
            "at most 4000",
        ),
    ] {
        client.send_text(bad).await;
        match client.recv().await {
            ServerFrame::Error { code, message, .. } => {
                assert_eq!(code, ErrorCode::InvalidFrame);
                assert!(message.contains(expect), "{bad}: {message}");
            }
            other => panic!("{bad}: expected an error, got {other:?}"),
        }
    }

    client
        .ws
        .send(tokio_tungstenite::tungstenite::Message::binary(vec![
            1, 2, 3,
        ]))
        .await
        .unwrap();
    assert_eq!(
        error_code(&client.recv().await),
        Some(ErrorCode::InvalidFrame)
    );

    // Sending to a room before joining it is refused, not stored.
    let id = client.new_client_id();
    client.say_with_id("main", &id, "sneaky").await;
    assert_eq!(error_code(&client.recv().await), Some(ErrorCode::NotInRoom));

    // After all that, the same socket still works.
    client.join("main", "survivor").await;
    client.say("main", "still here").await;
}

#[tokio::test]
async fn a_nickname_is_unique_per_room_but_not_across_rooms() {
    let app = spawn_app().await;
    let mut first = app.client().await;
    first.join("main", "sadia").await;

    let mut second = app.client().await;
    second.join_since("main", "sadia", None).await;
    match second.recv().await {
        ServerFrame::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::NickInUse);
            assert_eq!(message, "that nickname is already in use in this room");
        }
        other => panic!("expected nick in use, got {other:?}"),
    }
    // They can pick another, and the same name is free in another room.
    second.join("main", "sadia2").await;
    second.join("other", "sadia").await;
}

#[tokio::test]
async fn a_reload_of_the_same_tab_keeps_the_nickname_without_notices() {
    let app = spawn_app().await;
    let mut watcher = app.client().await;
    watcher.join("main", "watcher").await;
    watcher.recv().await; // own notice

    let mut tab = app.client().await;
    tab.join("main", "sadia").await;
    assert_eq!(
        notice(&watcher.recv().await).as_deref(),
        Some("sadia joined")
    );

    // The reloaded page connects before the old socket is gone.
    let mut reloaded = crate::common::Client::connect(app.addr()).await;
    reloaded.session = tab.session.clone();
    reloaded.join("main", "sadia").await;
    drop(tab);
    reloaded.say("main", "back again").await;

    let frames = watcher
        .recv_until(|f| message_text(f) == Some("back again"))
        .await;
    let notices: Vec<_> = frames.iter().filter_map(notice).collect();
    assert!(notices.is_empty(), "a reload announced {notices:?}");
}

#[tokio::test]
async fn whoever_joins_gets_the_people_online_in_name_order() {
    // The browser keeps the list sorted by inserting one at a time, which
    // is cheap only when the list already comes sorted.
    let app = spawn_app().await;
    let mut present = Vec::new();
    for name in ["zeynep", "amara", "mo", "bea"] {
        let mut client = app.client().await;
        client.join("main", name).await;
        present.push(client);
    }
    let (online, _) = app.client().await.join("main", "newcomer").await;
    assert_eq!(
        online,
        vec![nick("amara"), nick("bea"), nick("mo"), nick("zeynep")]
    );
}

#[tokio::test]
async fn closing_the_socket_announces_the_leave_and_updates_online() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    sadia.recv().await;
    let mut usman = app.client().await;
    usman.join("main", "usman").await;
    sadia.recv_until(|f| notice(f).is_some()).await;

    usman.ws.close(None).await.unwrap();
    let frames = sadia.recv_until(|f| notice(f).is_some()).await;
    assert_eq!(
        notice(frames.last().unwrap()).as_deref(),
        Some("usman left")
    );

    let (online, _) = app.client().await.join("main", "third").await;
    assert_eq!(online, vec![nick("sadia")]);
}

#[tokio::test]
async fn the_lobby_lists_rooms_with_who_is_online() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let mut usman = app.client().await;
    usman.join("main", "usman").await;
    let mut quiet = app.client().await;
    quiet.join("quiet", "q").await;
    quiet.ws.close(None).await.unwrap();
    // The leave is processed asynchronously; wait until the lobby shows it.
    let mut html = String::new();
    for _ in 0..50 {
        html = app.get("/").await.1;
        if html.contains("0 online") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let main_at = html.find(">#main<").expect("main is listed");
    let quiet_at = html.find(">#quiet<").expect("quiet is listed");
    assert!(main_at < quiet_at, "busiest room first");
    assert!(html.contains("2 online"), "{html}");
    assert!(html.contains("0 online"), "{html}");
}

#[tokio::test]
async fn the_room_page_has_the_latest_fifty_entries_as_html_text() {
    let app = spawn_app_with(UNLIMITED).await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    for n in 1..=60 {
        sadia.say("main", &format!("message number {n}")).await;
    }
    sadia.say("main", "<img src=x onerror=alert(1)>").await;
    let (status, html) = app.get("/r/main").await;
    assert_eq!(status, 200);
    assert!(html.contains("message number 60"));
    assert!(
        !html.contains("message number 11<"),
        "only the latest 50 entries"
    );
    assert!(html.contains("message number 12<"));
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "user HTML is escaped"
    );
    assert!(!html.contains("<img src=x"), "no user markup in the page");
}

/// The JSON a page hands the browser to hydrate from, and its `data-failed`.
fn page_data(html: &str) -> (String, Option<String>) {
    let open = html
        .find("<script type=\"application/json\" id=\"page-data\"")
        .unwrap_or_else(|| panic!("no page data in {html}"));
    let (tag, rest) = html[open..].split_once('>').unwrap();
    let json = rest.split_once("</script>").unwrap().0.to_owned();
    let failed = tag
        .split_once("data-failed=\"")
        .map(|(_, after)| after.split('"').next().unwrap().to_owned());
    (json, failed)
}

#[tokio::test]
async fn a_page_hands_its_data_to_the_browser_as_inert_json() {
    let app = spawn_app_with(UNLIMITED).await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let attack = "</script><script>alert(1)</script><!-- x";
    sadia.say("main", "first").await;
    sadia.say("main", attack).await;

    let (_, html) = app.get("/r/main").await;
    let (json, failed) = page_data(&html);
    assert_eq!(failed, None);
    assert!(
        !json.contains('<'),
        "nothing in it can close the element: {json}"
    );
    let page: app::messages::HistoryPage = serde_json::from_str(&json).unwrap();
    assert_eq!(page.room.as_str(), "main");
    assert!(page.at_start);
    let texts: Vec<_> = page
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            app::messages::EntryKind::Message { body, .. } => Some(body.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["first", attack]);
    // The page itself shows the same, as text.
    assert!(
        html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"),
        "{html}"
    );

    let (_, html) = app.get("/?q=mai").await;
    let (json, failed) = page_data(&html);
    assert_eq!(failed, None);
    let rooms: Vec<app::rooms::RoomSummary> = serde_json::from_str(&json).unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!((rooms[0].name.as_str(), rooms[0].online), ("main", 1));

    let (_, html) = app.get("/r/bad%20name").await;
    assert_eq!(page_data(&html).1.as_deref(), Some("no-such-room"));
    let (_, html) = app.get("/nowhere").await;
    assert!(!html.contains("page-data"), "only pages carry data: {html}");
}

#[tokio::test]
async fn an_invalid_room_page_says_so() {
    let app = spawn_app().await;
    let (status, html) = app.get("/r/bad%20name").await;
    assert_eq!(status, 404);
    assert!(html.contains("No such room"), "{html}");
    assert!(html.contains("<title>Chat</title>"), "{html}");
}

#[tokio::test]
async fn each_page_has_its_title_and_other_paths_are_not_found() {
    let app = spawn_app().await;
    let (status, html) = app.get("/r/main").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<title>").count(), 1, "{html}");
    assert!(html.contains("<title>#main · Chat</title>"), "{html}");
    let (status, html) = app.get("/?q=ma").await;
    assert_eq!(status, 200);
    assert!(html.contains("<title>Chat</title>"), "{html}");
    // A title is plain text: no hydration marker inside it.
    for path in ["/", "/r/main", "/login", "/signup", "/nowhere"] {
        let (_, html) = app.get(path).await;
        let title = html
            .split("<title>")
            .nth(1)
            .and_then(|t| t.split("</title>").next());
        assert!(title.is_some_and(|t| !t.contains('<')), "{path}: {title:?}");
    }
    for path in ["/nowhere", "/r/", "/r/main/more"] {
        let (status, html) = app.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Page not found."), "{path}: {html}");
    }
}

#[tokio::test]
async fn the_join_form_works_without_javascript() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let location = |query: &'static str| {
        let client = client.clone();
        let url = format!("http://{}/join?{query}", app.addr());
        async move {
            let res = client.get(url).send().await.unwrap();
            res.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(location("nick=sadia&room=main").await, "/r/main?nick=sadia");
    // A nickname the room page would refuse is left for the page to ask.
    assert_eq!(location("nick=%E2%80%AEx&room=main").await, "/r/main");
    assert_eq!(location("nick=sadia&room=no+spaces").await, "/");
}

#[tokio::test]
async fn shutdown_tells_connected_clients_to_come_back() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let TestApp { server, dir, .. } = app;
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(sadia.close_code().await, Some(1012));
    stopping.await.unwrap().unwrap();
    drop(dir);
}

#[tokio::test]
async fn a_dropped_connection_that_returns_within_the_grace_period_announces_nothing() {
    let app = spawn_app().await;
    let mut watcher = app.client().await;
    watcher.join("main", "watcher").await;
    let mut tab = app.client().await;
    tab.join("main", "sadia").await;
    watcher.recv_until(|f| says(f, "sadia joined")).await;

    // The old socket is gone before the reloaded page connects.
    let session = tab.session.clone();
    drop(tab);
    tokio::time::sleep(GRACE / 3).await;
    let mut back = app.client().await;
    back.session = session;
    let (online, _) = back.join("main", "sadia").await;
    assert!(
        online.contains(&nick("sadia")),
        "still online during the grace period"
    );
    tokio::time::sleep(GRACE * 2).await;
    back.say("main", "no noise").await;

    let frames = watcher
        .recv_until(|f| message_text(f) == Some("no noise"))
        .await;
    let notices: Vec<_> = frames.iter().filter_map(notice).collect();
    assert!(notices.is_empty(), "{notices:?}");
}

#[tokio::test]
async fn pages_are_served_compressed_to_browsers_that_accept_it() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .get(format!("http://{}/", app.addr()))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let encoding = res
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(encoding.as_deref(), Some("br"));
}

#[tokio::test]
async fn hashed_bundle_files_are_cached_for_a_year_and_pages_are_not() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/chat.0123abcd.js"), "console.log(1)").unwrap();
    let app = spawn_app_with(&["--site-root", site.path().to_str().unwrap()]).await;
    let get = |path: &'static str| {
        let url = format!("http://{}{path}", app.addr());
        async move { reqwest::get(url).await.unwrap() }
    };
    let bundle = get("/pkg/chat.0123abcd.js").await;
    assert_eq!(bundle.status(), 200);
    assert_eq!(
        bundle.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let page = get("/").await;
    assert!(
        page.headers()
            .get("cache-control")
            .is_none_or(|v| !v.to_str().unwrap().contains("immutable"))
    );
}

#[tokio::test]
async fn the_bundle_goes_out_as_its_precompressed_file_in_the_encoding_accepted() {
    // What `scripts/bundle` writes: the file, and beside it the same file
    // compressed once at build time at brotli's best quality, and gzip's.
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("chat.0123abcd.wasm"), b"\0asm plain").unwrap();
    std::fs::write(pkg.join("chat.0123abcd.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("chat.0123abcd.wasm.gz"), b"gzip bytes").unwrap();
    let app = spawn_app_with(&["--site-root", site.path().to_str().unwrap()]).await;
    // reqwest here decodes nothing, so the bytes are those sent.
    let fetch = |accept: Option<&'static str>| {
        let url = format!("http://{}/pkg/chat.0123abcd.wasm", app.addr());
        async move {
            let mut request = reqwest::Client::new().get(url);
            if let Some(accept) = accept {
                request = request.header("accept-encoding", accept);
            }
            let res = request.send().await.unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["content-type"], "application/wasm");
            assert_eq!(res.headers()["vary"], "accept-encoding");
            let encoding = res
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            (encoding, res.bytes().await.unwrap())
        }
    };
    let (encoding, body) = fetch(Some("gzip, deflate, br")).await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(
        &body[..],
        b"brotli bytes",
        "not compressed again on the fly"
    );
    let (encoding, body) = fetch(Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(&body[..], b"gzip bytes");
    let (encoding, body) = fetch(None).await;
    assert_eq!(encoding, None);
    assert_eq!(&body[..], b"\0asm plain");
}

#[tokio::test]
async fn typing_reaches_the_others_in_the_room_and_is_never_stored() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let mut usman = app.client().await;
    usman.join("main", "usman").await;
    let mut elsewhere = app.client().await;
    elsewhere.join("other", "omar").await;

    // Two signals in quick succession reach the room once.
    for _ in 0..2 {
        usman.typing("main").await;
    }
    usman.say("main", "typed").await;
    let frames = sadia.recv_until(|f| message_text(f) == Some("typed")).await;
    let typing: Vec<&ServerFrame> = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Typing { .. }))
        .collect();
    assert_eq!(
        typing,
        [&ServerFrame::Typing {
            room: room("main"),
            nick: nick("usman")
        }]
    );

    // After a message, the next typing signal goes out at once.
    usman.typing("main").await;
    let frames = sadia
        .recv_until(|f| matches!(f, ServerFrame::Typing { .. }))
        .await;
    assert!(
        frames.iter().all(|f| message_text(f).is_none()),
        "{frames:?}"
    );

    // A marker after the typing frame: the other room saw nothing before it.
    elsewhere.say("other", "marker").await;
    let frames = elsewhere
        .recv_until(|f| message_text(f) == Some("marker"))
        .await;
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Typing { .. })),
        "{frames:?}"
    );

    // Typing is not part of the history a newcomer replays.
    let mut late = app.client().await;
    late.join("main", "late").await;
    sadia.say("main", "after typing").await;
    let frames = late
        .recv_until(|f| message_text(f) == Some("after typing"))
        .await;
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Typing { .. })),
        "{frames:?}"
    );

    // Typing in a room one has not joined is refused.
    elsewhere.typing("main").await;
    let frames = elsewhere
        .recv_until(|f| matches!(f, ServerFrame::Error { .. }))
        .await;
    assert_eq!(
        error_code(frames.last().unwrap()),
        Some(ErrorCode::NotInRoom)
    );
}

#[tokio::test]
async fn without_javascript_the_join_carries_the_nickname_and_a_form_posts() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let joined = no_redirects
        .get(format!(
            "http://{}/join?room=main&nick=S%C3%A1dia+K",
            app.addr()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        joined.headers()["location"].to_str().unwrap(),
        "/r/main?nick=S%C3%A1dia%20K"
    );

    let mut listener = app.client().await;
    listener.join("main", "listener").await;
    let post = |form: &'static str| {
        let client = no_redirects.clone();
        let url = format!("http://{}/r/main/post", app.addr());
        let origin = format!("http://{}", app.addr());
        async move {
            let res = client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", origin)
                .body(form)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let location = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (status, location, res.text().await.unwrap())
        }
    };
    let sent = post("nick=plain&body=hello+from+a+form&client_id=form-1").await;
    assert_eq!(
        (sent.0, sent.1.as_deref()),
        (303, Some("/r/main?nick=plain"))
    );
    let entry = listener.hear("hello from a form").await;
    assert_eq!(
        entry.nick,
        nick("plain"),
        "stored and broadcast like a send"
    );

    // A resubmitted form (same id) is stored once.
    assert_eq!(
        post("nick=plain&body=hello+from+a+form&client_id=form-1")
            .await
            .0,
        303
    );
    let lines: Vec<String> = log_of(&app, "main").await.iter().map(line).collect();
    assert_eq!(lines, ["listener joined", "plain: hello from a form"]);

    // Clear refusals: a name in use, an empty message.
    let taken = post("nick=listener&body=hi&client_id=form-2").await;
    assert_eq!(taken.0, 409);
    assert!(
        taken.2.contains("using the nickname listener"),
        "{}",
        taken.2
    );
    let empty = post("nick=plain&body=+&client_id=form-3").await;
    assert_eq!(empty.0, 400);
    assert!(empty.2.contains("cannot be empty"), "{}", empty.2);
}
