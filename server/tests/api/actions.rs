//! Replies, edits, deletions, reactions and search, on whichever store and
//! bus this run uses: each is an entry of the room's log, judged by author
//! id, and pages of history show messages as they are now.

use crate::common::*;
use app::messages::{ClientId, Emoji, EntryKind, MessageBody, Quote, Seq};
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};

pub(crate) fn edit(target: Seq, text: &str) -> ClientFrame {
    ClientFrame::Edit {
        room: room("main"),
        target,
        body: MessageBody::parse(text).unwrap(),
    }
}

fn delete(target: Seq) -> ClientFrame {
    ClientFrame::Delete {
        room: room("main"),
        target,
    }
}

pub(crate) fn react(target: Seq, emoji: &str, on: bool) -> ClientFrame {
    ClientFrame::React {
        room: room("main"),
        target,
        emoji: Emoji::parse(emoji).unwrap(),
        on,
    }
}

/// [`react`] in another room.
pub(crate) fn react_in(room_name: &str, target: Seq, emoji: &str, on: bool) -> ClientFrame {
    ClientFrame::React {
        room: room(room_name),
        target,
        emoji: Emoji::parse(emoji).unwrap(),
        on,
    }
}

/// The entry at `seq` of main's log as a page of history shows it now.
async fn now_at(app: &TestApp, seq: Seq) -> EntryKind {
    log_of(app, "main")
        .await
        .into_iter()
        .find(|e| e.seq == seq)
        .expect("the entry is in the log")
        .kind
}

/// Two people in main: sadia (who wrote `seq`) and usman.
async fn two_in_main(app: &TestApp) -> (Client, Client) {
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let mut usman = app.client().await;
    usman.join("main", "usman").await;
    (sadia, usman)
}

/// Searches main over HTTP, as the page's search box does; the texts found.
async fn search(app: &TestApp, query: &str) -> Vec<String> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("query", query)
        .append_pair("rooms[0]", "main")
        .append_pair("page", "0")
        .finish();
    let (status, body) = app.post_form("/api/search_messages", &form).await;
    assert_eq!(status, 200, "search answers {query:?}: {body}");
    let page: app::search::SearchPage = serde_json::from_str(&body).unwrap();
    page.found
        .into_iter()
        .map(|f| {
            f.snippet
                .replace([app::search::MARK_START, app::search::MARK_END], "")
        })
        .collect()
}

#[tokio::test]
async fn a_reply_quotes_the_first_line_of_its_original_live_and_in_history() {
    let app = spawn_app().await;
    let (mut sadia, mut usman) = two_in_main(&app).await;
    let original = sadia.say("main", "Lunch at noon?\nOr one?").await;
    usman.hear("Lunch at noon?\nOr one?").await;

    let reply = usman.reply("main", original, "Noon works").await;
    let heard = sadia.hear("Noon works").await;
    let quote = Quote {
        seq: original,
        nick: nick("sadia"),
        excerpt: Some("Lunch at noon?".into()),
    };
    assert!(
        matches!(&heard.kind, EntryKind::Message { reply: Some(q), .. } if *q == quote),
        "{heard:?}"
    );
    assert!(
        matches!(now_at(&app, reply).await, EntryKind::Message { reply: Some(q), .. } if q == quote)
    );

    // Once the original is deleted, the reply's quote says so.
    sadia.send_frame(&delete(original)).await;
    usman.hear_action().await;
    assert!(matches!(
        now_at(&app, reply).await,
        EntryKind::Message {
            reply: Some(Quote { excerpt: None, .. }),
            ..
        }
    ));
}

#[tokio::test]
async fn only_the_author_edits_and_everyone_sees_the_new_text() {
    let app = spawn_app().await;
    let (mut sadia, mut usman) = two_in_main(&app).await;
    let seq = sadia.say("main", "Meet at 5").await;
    usman.hear("Meet at 5").await;

    usman.send_frame(&edit(seq, "Meet never")).await;
    assert_eq!(usman.refusal().await, ErrorCode::NotYours);

    sadia.send_frame(&edit(seq, "Meet at 6")).await;
    let heard = usman.hear_action().await;
    assert_eq!(line(&heard), format!("sadia edited {seq}: Meet at 6"));
    match now_at(&app, seq).await {
        EntryKind::Message { body, edited, .. } => {
            assert_eq!((body.as_str(), edited), ("Meet at 6", true));
        }
        other => panic!("{other:?}"),
    }
    // Nobody can edit what is not a message.
    sadia.send_frame(&edit(1, "joined?")).await;
    assert_eq!(sadia.refusal().await, ErrorCode::NoSuchMessage);
    sadia.send_frame(&edit(999, "future")).await;
    assert_eq!(sadia.refusal().await, ErrorCode::NoSuchMessage);
}

#[tokio::test]
async fn a_name_taken_over_cannot_edit_the_earlier_holders_messages() {
    let app = spawn_app().await;
    let mut first = app.client().await;
    first.join("main", "sadia").await;
    let seq = first.say("main", "mine").await;
    first.leave("main").await;
    drop(first);
    tokio::time::sleep(GRACE * 2).await;
    // Another tab (another guest session) takes the free name.
    let mut second = app.client().await;
    second.join("main", "sadia").await;
    second.send_frame(&edit(seq, "now mine")).await;
    assert_eq!(second.refusal().await, ErrorCode::NotYours);
    second.send_frame(&delete(seq)).await;
    assert_eq!(second.refusal().await, ErrorCode::NotYours);
}

#[tokio::test]
async fn a_deleted_message_leaves_the_database_and_the_search_index() {
    let app = spawn_app().await;
    let (mut sadia, mut usman) = two_in_main(&app).await;
    let seq = sadia.say("main", "the vault code is 4711").await;
    sadia.send_frame(&edit(seq, "the vault code is 4712")).await;
    usman.hear_action().await;
    assert_eq!(search(&app, "vault").await, ["the vault code is 4712"]);

    usman.send_frame(&delete(seq)).await;
    assert_eq!(usman.refusal().await, ErrorCode::NotYours);
    sadia.send_frame(&delete(seq)).await;
    assert_eq!(
        line(&usman.hear_action().await),
        format!("sadia deleted {seq}")
    );

    assert_eq!(now_at(&app, seq).await, EntryKind::Deleted);
    // Neither the text nor its earlier version is anywhere in the log.
    let left = read_rows(
        &app,
        "SELECT CAST(COUNT(*) AS TEXT) FROM entries WHERE body LIKE '%vault%'",
    )
    .await;
    assert_eq!(left, [["0"]]);
    assert!(search(&app, "vault").await.is_empty());
    assert!(search(&app, "4711").await.is_empty());
    // Deleting it again finds nothing to delete.
    sadia.send_frame(&delete(seq)).await;
    assert_eq!(sadia.refusal().await, ErrorCode::NoSuchMessage);
}

#[tokio::test]
async fn reactions_toggle_and_count_each_person_once() {
    let app = spawn_app().await;
    let (mut sadia, mut usman) = two_in_main(&app).await;
    let seq = sadia.say("main", "Shipped!").await;
    usman.hear("Shipped!").await;

    usman.send_frame(&react(seq, "🎉", true)).await;
    sadia.send_frame(&react(seq, "🎉", true)).await;
    // A second "on" from the same person counts once.
    usman.send_frame(&react(seq, "🎉", true)).await;
    usman.send_frame(&react(seq, "👍", true)).await;
    for _ in 0..4 {
        sadia.hear_action().await;
    }
    let reactions = |kind: EntryKind| match kind {
        EntryKind::Message { reactions, .. } => reactions
            .into_iter()
            .map(|r| {
                let nicks: Vec<String> = r.nicks.iter().map(|n| n.to_string()).collect();
                format!("{} {}", r.emoji.as_str(), nicks.join(","))
            })
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        reactions(now_at(&app, seq).await),
        ["🎉 usman,sadia", "👍 usman"]
    );

    usman.send_frame(&react(seq, "🎉", false)).await;
    assert_eq!(
        line(&sadia.hear_action().await),
        format!("usman unreacted 🎉 to {seq}")
    );
    assert_eq!(reactions(now_at(&app, seq).await), ["🎉 sadia", "👍 usman"]);

    // Only emoji, only on messages.
    usman
        .send_text(r#"{"type":"react","room":"main","target":3,"emoji":"lol","on":true}"#)
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::InvalidFrame);
    usman.send_frame(&react(1, "🎉", true)).await;
    assert_eq!(usman.refusal().await, ErrorCode::NoSuchMessage);
}

#[tokio::test]
async fn a_tab_that_comes_back_replays_edits_deletions_and_reactions_in_order() {
    let app = spawn_app().await;
    let (mut sadia, _usman) = two_in_main(&app).await;
    let kept = sadia.say("main", "kept").await;
    let gone = sadia.say("main", "gone soon").await;

    let mut away = app.client().await;
    away.join("main", "amira").await;
    away.recv_until(|f| message_text(f) == Some("gone soon"))
        .await;
    let mut back = app.client().await;
    back.carry_on_from(&away);
    drop(away);
    let since = log_of(&app, "main").await.last().unwrap().seq;
    let held = log_of(&app, "main").await;

    sadia.send_frame(&edit(kept, "kept, edited")).await;
    sadia.send_frame(&react(kept, "👍", true)).await;
    sadia.send_frame(&delete(gone)).await;
    sadia.send_frame(&react(kept, "👍", false)).await;
    sadia.send_frame(&react(kept, "❤️", true)).await;
    for _ in 0..5 {
        sadia.hear_action().await;
    }

    back.join_since("main", "amira", Some(since)).await;
    let mut actions = vec![];
    while actions.len() < 5 {
        actions.push(back.hear_action().await);
    }
    assert_eq!(
        actions.iter().map(line).collect::<Vec<_>>(),
        [
            format!("sadia edited {kept}: kept, edited"),
            format!("sadia reacted 👍 to {kept}"),
            format!("sadia deleted {gone}"),
            format!("sadia unreacted 👍 to {kept}"),
            format!("sadia reacted ❤️ to {kept}"),
        ]
    );
    // Applied in order to what the tab held, they give what a page shows now.
    let mut replayed = held;
    for action in &actions {
        assert!(app::messages::apply_action(&mut replayed, action));
    }
    let page = log_of(&app, "main").await;
    let state = |log: &[app::messages::Entry]| {
        log.iter()
            .filter(|e| e.seq == kept || e.seq == gone)
            .map(|e| e.kind.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(state(&replayed), state(&page));
    assert!(matches!(state(&page)[1], EntryKind::Deleted));
}

#[tokio::test]
async fn search_finds_words_skips_deleted_messages_and_takes_any_input() {
    // Many searches from one address in a row: its budget (see budgets.rs) lifted.
    let app = spawn_app_with(&["--search-burst", "1000"]).await;
    let (mut sadia, mut usman) = two_in_main(&app).await;
    sadia.say("main", "The quick brown fox").await;
    usman.say("main", "a lazy dog, 100% asleep").await;
    let drop_me = sadia.say("main", "quick question, never mind").await;
    sadia.send_frame(&delete(drop_me)).await;
    usman.hear_action().await;

    assert_eq!(search(&app, "QUICK").await, ["The quick brown fox"]);
    assert_eq!(
        search(&app, "bro").await,
        ["The quick brown fox"],
        "the last word is a prefix"
    );
    assert_eq!(
        search(&app, "lazy asleep").await,
        ["a lazy dog, 100% asleep"]
    );
    assert!(
        search(&app, "lazy fox").await.is_empty(),
        "every word must match"
    );
    for hostile in [
        "",
        "   ",
        "\"",
        "\"quick",
        "%",
        "100%",
        "_",
        "' OR 1=1 --",
        "quick OR lazy",
        "NEAR(quick fox)",
        "*",
        "fox*",
        "body:fox",
        "^quick",
        "-quick",
        "a & b | !c",
        "(((",
        "\\",
    ] {
        let found = search(&app, hostile).await;
        assert!(found.len() <= 2, "{hostile:?} found {found:?}");
    }
    assert_eq!(search(&app, "100%").await, ["a lazy dog, 100% asleep"]);
    assert_eq!(search(&app, "\"quick").await, ["The quick brown fox"]);
    // An unknown room is refused, not searched.
    let (status, _) = app
        .post_form(
            "/api/search_messages",
            "query=fox&rooms[0]=no%20such&page=0",
        )
        .await;
    assert_ne!(status, 200);
}

/// Page `page` of a search of `rooms` over HTTP; the texts found and
/// whether more follow.
async fn search_rooms(
    app: &TestApp,
    query: &str,
    rooms: &[&str],
    page: u32,
) -> (Vec<String>, bool) {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("query", query);
    for (i, room) in rooms.iter().enumerate() {
        form.append_pair(&format!("rooms[{i}]"), room);
    }
    let form = form.append_pair("page", &page.to_string()).finish();
    let (status, body) = app.post_form("/api/search_messages", &form).await;
    assert_eq!(status, 200, "{body}");
    let page: app::search::SearchPage = serde_json::from_str(&body).unwrap();
    let texts = page
        .found
        .into_iter()
        .map(|f| {
            f.snippet
                .replace([app::search::MARK_START, app::search::MARK_END], "")
        })
        .collect();
    (texts, page.more)
}

#[tokio::test]
async fn a_search_of_several_rooms_pages_through_them_newest_first() {
    let app = spawn_app_with(UNLIMITED).await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    sadia.join("side", "sadia").await;
    // 30 matches, each said after the one before: more in main than a page
    // holds (so each room's share of later pages counts), a few in side.
    for n in 0..30 {
        let room = if n % 6 == 0 { "side" } else { "main" };
        sadia.say(room, &format!("harbour note {n}")).await;
        sadia.say(room, "something else").await;
        // Each a millisecond apart at least: results are ordered by the
        // time they were stored, and rooms' numbers do not compare.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let newest_first: Vec<String> = (0..30).rev().map(|n| format!("harbour note {n}")).collect();
    let (first, more) = search_rooms(&app, "harbour", &["main", "side"], 0).await;
    assert_eq!(
        first,
        newest_first[..20],
        "one page, newest first across both rooms"
    );
    assert!(more);
    let (second, more) = search_rooms(&app, "harbour", &["main", "side"], 1).await;
    assert_eq!(second, newest_first[20..], "the rest, none twice");
    assert!(!more);
    let (only_side, _) = search_rooms(&app, "harbour", &["side"], 0).await;
    assert_eq!(only_side.len(), 5, "{only_side:?}");
}

#[tokio::test]
async fn messages_indexed_before_search_rows_took_arrival_order_are_found_edited_and_deleted() {
    // SQLite whichever store the run is on: the change is to its schema.
    let dir = tempfile::tempdir().unwrap();
    let (db, mut conn) = sqlite_database_up_to(dir.path(), "0006").await;
    for sql in [
        "INSERT INTO rooms (id, name, created_at, active_at) VALUES (1, 'main', 0, 0), (2, 'other', 0, 0)",
        "INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body, author) VALUES
             (1, 1, 0, 'sadia', 'message', 'old-1', 'the harbour at dawn', 'guest:old-tab'),
             (1, 2, 0, 'sadia', 'message', 'old-2', 'harbour lights tonight', 'guest:old-tab'),
             (2, 1, 0, 'sadia', 'message', 'old-1', 'harbour in the other room', 'guest:old-tab')",
        // Keyed as that schema keyed them: room_id * 2^32 + seq.
        "INSERT INTO entries_search (rowid, body)
             SELECT room_id * 4294967296 + seq, body FROM entries WHERE kind = 'message'",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    drop(conn);
    let server = start_on(db.clone()).await;
    let app = TestApp { server, db, dir };
    assert_eq!(
        search(&app, "harbour").await,
        ["harbour lights tonight", "the harbour at dawn"]
    );

    let mut sadia = app.client().await;
    sadia.session = app::people::SessionId::parse("old-tab").unwrap();
    sadia.join("main", "sadia").await;
    sadia.send_frame(&edit(1, "the harbor at dawn")).await;
    sadia.hear_action().await;
    sadia.send_frame(&delete(2)).await;
    sadia.hear_action().await;
    assert_eq!(search(&app, "harbor").await, ["the harbor at dawn"]);
    assert!(search(&app, "harbour").await.is_empty());
    assert!(search(&app, "lights").await.is_empty());

    // An old message's id, sent again, is still the message already stored.
    sadia
        .say_with_id(
            "main",
            &ClientId::parse("old-1").unwrap(),
            "the harbor at dawn",
        )
        .await;
    let frames = sadia
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::Ack { seq: 1, .. })),
        "{frames:?}"
    );
    let new = sadia.say("main", "harbour again, new").await;
    assert_eq!(search(&app, "harbour").await, ["harbour again, new"]);
    let stored = read_rows(
        &app,
        "SELECT CAST(COUNT(*) AS TEXT) FROM entries WHERE room_id = 1 AND client_id = 'old-1'",
    )
    .await;
    assert_eq!(stored, [["1"]], "the resent message is not stored twice");
    assert!(new > 2);
}

#[tokio::test]
async fn the_search_page_lists_results_as_text_with_links_into_their_room() {
    let app = spawn_app().await;
    let (mut sadia, _usman) = two_in_main(&app).await;
    let seq = sadia.say("main", "see <b>bold</b> plans").await;
    let mut elsewhere = app.client().await;
    elsewhere.join("side", "amira").await;
    elsewhere.say("side", "plans for the side room").await;

    let (status, html) = app.get("/search?q=plans&room=main").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("href=\"/r/main?at={seq}\"")),
        "{html}"
    );
    assert!(html.contains("<mark>plans"), "{html}");
    assert!(
        !html.contains("<b>bold"),
        "a message's HTML is shown as text"
    );
    assert!(!html.contains("side room"), "only #main unless asked");

    // All my rooms: the ones the page says the person is in.
    let (_, html) = app
        .get("/search?q=plans&room=main&rooms=main,side,no%20such&everywhere=1")
        .await;
    assert!(html.contains("side room"), "{html}");

    // What was typed comes back escaped in the box.
    let (status, html) = app.get("/search?q=%22%3E%3Cscript%3Ex&room=main").await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script>x"), "{html}");
    assert!(html.contains("No messages found."));

    let (status, _) = app.get("/search?q=plans&room=no%20such").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_message_takes_a_bounded_number_of_different_reactions() {
    let app = spawn_app_with(UNLIMITED).await;
    let (mut sadia, mut usman) = two_in_main(&app).await;
    let seq = sadia.say("main", "vote!").await;
    let emoji = [
        "😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰",
        "😗", "😙", "😚", "🙂", "🤗", "🤩",
    ];
    assert_eq!(emoji.len(), app::messages::REACTIONS_MAX + 1);
    for e in &emoji[..app::messages::REACTIONS_MAX] {
        usman.send_frame(&react(seq, e, true)).await;
        usman.hear_action().await;
    }
    usman
        .send_frame(&react(seq, emoji[app::messages::REACTIONS_MAX], true))
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::TooManyReactions);
    // One already there can still be added by someone else.
    sadia.send_frame(&react(seq, emoji[0], true)).await;
    let mine = loop {
        let heard = sadia.hear_action().await;
        if heard.nick == nick("sadia") {
            break heard;
        }
    };
    assert_eq!(line(&mine), format!("sadia reacted {} to {seq}", emoji[0]));
}
