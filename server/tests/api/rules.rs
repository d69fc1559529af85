//! The room's rules on every path: each rule (banned, closed to guests, not
//! the author, not a moderator) tried on every entry point that could let it
//! slip: the socket's join and writes, the form post, the history server
//! function and page, search (page and server function), media upload and
//! media fetch. Runs on SQLite, on PostgreSQL and on PostgreSQL with Redis
//! (`scripts/test`).

use crate::accounts::{
    Answer, PASSWORD, call_as, close_to_guests, get, post, sign_up, signed_in_client,
};
use crate::common::*;
use crate::media::{fetch_as, join_for_media, send_with, upload, uploaded};
use app::messages::{EntryKind, Seq};
use app::protocol::{ClientFrame, ErrorCode};

/// The words in #club's secret message, and a word only it holds.
pub(crate) const SECRET: &str = "the plan is marmalade";
pub(crate) const SECRET_WORD: &str = "marmalade";

/// What the read paths let one reader see of #club.
#[derive(Debug, PartialEq, Eq)]
struct Reads {
    history_function: bool,
    history_page: bool,
    search_page: bool,
    search_function: bool,
}

impl Reads {
    const ALL: Reads = Reads {
        history_function: true,
        history_page: true,
        search_page: true,
        search_function: true,
    };
    const NONE: Reads = Reads {
        history_function: false,
        history_page: false,
        search_page: false,
        search_function: false,
    };
}

/// The answers of every way there is to read #club (its history and a
/// search for its secret word), as the holder of `cookie` (or nobody).
pub(crate) struct ClubReads {
    pub history: Answer,
    pub page: Answer,
    pub search: Answer,
    pub search_page: Answer,
}

pub(crate) async fn read_club(app: &TestApp, cookie: Option<&str>) -> ClubReads {
    read_room(app, "club", SECRET_WORD, cookie).await
}

/// The answers of every way there is to read `room_name`, searching it for
/// `word`, as the holder of `cookie` (or nobody).
pub(crate) async fn read_room(
    app: &TestApp,
    room_name: &str,
    word: &str,
    cookie: Option<&str>,
) -> ClubReads {
    let history = call_as(
        app,
        "/api/room_history",
        serde_json::json!({ "room": room_name }),
        cookie,
    )
    .await;
    let page = get(app, &format!("/r/{room_name}"), cookie).await;
    let search = post(
        app,
        "/api/search_messages",
        &[("query", word), ("rooms[0]", room_name), ("page", "0")],
        cookie,
    )
    .await;
    let search_page = get(app, &format!("/search?room={room_name}&q={word}"), cookie).await;
    ClubReads {
        history,
        page,
        search,
        search_page,
    }
}

/// Reads #club every way there is, as the holder of `cookie` (or nobody).
async fn reads(app: &TestApp, cookie: Option<&str>) -> Reads {
    let ClubReads {
        history,
        page,
        search,
        search_page,
    } = read_club(app, cookie).await;
    Reads {
        history_function: history.status == 200 && history.body.contains(SECRET),
        history_page: page.body.contains(SECRET),
        // A result links to its message; the query itself is echoed in the box.
        search_page: search_page.body.contains("/r/club?at="),
        search_function: search.status == 200 && search.body.contains(SECRET_WORD),
    }
}

/// #club, owned by sadia (an account), holding the secret message and a
/// file; `(sadia's cookie, sadia's socket, the file's path)`.
pub(crate) async fn club(app: &TestApp) -> (String, Client, String) {
    let cookie = sign_up(app, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(app, &cookie).await;
    let grant = join_for_media(&mut sadia, "club", "sadia").await;
    sadia.say("club", SECRET).await;
    let file = uploaded(app, &grant.key, "plan.txt", b"marmalade at dawn".to_vec()).await;
    send_with(&mut sadia, "club", "the plan, written down", &[&file.id]).await;
    sadia.hear("the plan, written down").await;
    (cookie, sadia, format!("/media/{}", file.id.as_str()))
}

async fn fetch_status(app: &TestApp, file: &str, key: &str) -> u16 {
    fetch_as(app, key, file, &[]).await.status().as_u16()
}

#[tokio::test]
async fn a_banned_account_is_refused_on_every_path() {
    let app = spawn_app().await;
    let (_, mut sadia, file) = club(&app).await;
    let usman_cookie = sign_up(&app, "usman", PASSWORD).await;
    let mut usman = signed_in_client(&app, &usman_cookie).await;
    let grant = join_for_media(&mut usman, "club", "usman").await;
    let said = usman.say("club", "hello all").await;

    // Before the ban every path is open to him: the checks below can fail.
    assert_eq!(reads(&app, Some(&usman_cookie)).await, Reads::ALL);
    assert_eq!(fetch_status(&app, &file, &grant.key).await, 200);
    let (status, body) = upload(&app, &grant.key, "a.txt", b"a".to_vec()).await;
    assert_eq!(status, 201, "{body}");

    sadia
        .send_frame(&ClientFrame::Ban {
            room: room("club"),
            target: said,
        })
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::Banned);

    assert_eq!(reads(&app, Some(&usman_cookie)).await, Reads::NONE);
    // Told why, not that the server failed.
    let page = get(&app, "/r/club", Some(&usman_cookie)).await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("You cannot open this room"),
        "{}",
        page.body
    );
    assert!(page.body.contains("A moderator banned you from #club."));
    let head = reqwest::Client::new()
        .head(format!("http://{}/r/club", app.addr()))
        .header("cookie", &usman_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 403, "HEAD answers as GET does");
    let history = call_as(
        &app,
        "/api/room_history",
        serde_json::json!({"room": "club"}),
        Some(&usman_cookie),
    )
    .await;
    assert_eq!(history.status, 403);
    assert!(history.body.contains("banned you"), "{}", history.body);
    assert_eq!(fetch_status(&app, &file, &grant.key).await, 403);
    let (status, _) = upload(&app, &grant.key, "b.txt", b"b".to_vec()).await;
    assert_eq!(status, 403, "no uploads to a room he is banned from");
    let form = post(
        &app,
        "/r/club/post",
        &[
            ("body", "through the form"),
            ("client_id", "form-after-ban"),
        ],
        Some(&usman_cookie),
    )
    .await;
    assert_eq!(form.status, 403, "{}", form.body);
    assert!(form.body.contains("banned"), "{}", form.body);
    let mut again = signed_in_client(&app, &usman_cookie).await;
    assert_eq!(
        error_code(&again.try_join("club", "usman").await),
        Some(ErrorCode::Banned)
    );
    let log = log_of(&app, "club").await;
    assert!(
        log.iter().all(|e| !line(e).contains("through the form")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_room_closed_to_guests_is_closed_on_every_path() {
    let app = spawn_app().await;
    let (owner, mut sadia, file) = club(&app).await;
    let mut zara = app.client().await;
    let grant = join_for_media(&mut zara, "club", "zara").await;
    let form = post(
        &app,
        "/r/club/post",
        &[
            ("nick", "amir"),
            ("body", "hi from a form"),
            ("client_id", "amir-1"),
        ],
        None,
    )
    .await;
    assert_eq!(form.status, 303, "{}", form.body);
    let amir = form.guest_cookie();

    // Open: a guest (or anybody) reads, fetches and shares.
    assert_eq!(reads(&app, None).await, Reads::ALL);
    assert_eq!(reads(&app, Some(&amir)).await, Reads::ALL);
    assert_eq!(fetch_status(&app, &file, &grant.key).await, 200);
    let (status, _) = upload(&app, &grant.key, "a.txt", b"a".to_vec()).await;
    assert_eq!(status, 201);

    let closed = close_to_guests(&app, "club", &owner).await;
    assert_eq!(closed.status, 303);
    assert_eq!(zara.refusal().await, ErrorCode::AccountsOnly);
    sadia.recv_until(|f| says(f, "zara left")).await;

    assert_eq!(reads(&app, None).await, Reads::NONE);
    assert_eq!(reads(&app, Some(&amir)).await, Reads::NONE);
    assert_eq!(
        reads(&app, Some(&owner)).await,
        Reads::ALL,
        "accounts read on"
    );
    assert_eq!(
        fetch_status(&app, &file, &grant.key).await,
        403,
        "a guest's media key no longer opens the room's files"
    );
    let (status, _) = upload(&app, &grant.key, "b.txt", b"b".to_vec()).await;
    assert_eq!(status, 403, "nor lets it share in it");
    let form = post(
        &app,
        "/r/club/post",
        &[
            ("nick", "amir"),
            ("body", "still here?"),
            ("client_id", "amir-2"),
        ],
        Some(&amir),
    )
    .await;
    assert_eq!(form.status, 403, "{}", form.body);
    let mut guest = app.client().await;
    assert_eq!(
        error_code(&guest.try_join("club", "nadia").await),
        Some(ErrorCode::AccountsOnly)
    );
}

/// The ids of `author`'s entries in #club, oldest first.
async fn authors_in_club(app: &TestApp) -> Vec<String> {
    read_rows(
        app,
        "SELECT e.author FROM entries e JOIN rooms r ON r.id = e.room_id
         WHERE r.name = 'club' AND e.kind = 'message' ORDER BY e.seq",
    )
    .await
    .into_iter()
    .map(|row| row[0].clone())
    .collect()
}

#[tokio::test]
async fn a_ban_or_a_close_stored_after_the_join_still_stops_every_write() {
    let app = spawn_app().await;
    let usman_cookie = sign_up(&app, "usman", PASSWORD).await;
    let mut usman = signed_in_client(&app, &usman_cookie).await;
    usman.join("club", "usman").await;
    let mine = usman.say("club", "my own words").await;
    let mut zara = app.client().await;
    zara.join("club", "zara").await;
    let hers = zara.say("club", "hers").await;
    let room_id = read_rows(
        &app,
        "SELECT CAST(id AS TEXT) FROM rooms WHERE name = 'club'",
    )
    .await[0][0]
        .clone();
    let account = read_rows(
        &app,
        "SELECT CAST(id AS TEXT) FROM accounts WHERE name = 'usman'",
    )
    .await[0][0]
        .clone();

    // Written to the database behind the hub's back, as another server's
    // moderator (or one racing this join) would: nobody is sent out, so
    // only the write's own transaction can refuse.
    read_rows(
        &app,
        &format!(
            "INSERT INTO bans (room_id, author, nick, banned_at)
             VALUES ({room_id}, 'account:{account}', 'usman', 0)"
        ),
    )
    .await;
    read_rows(
        &app,
        &format!(
            "UPDATE rooms SET accounts_only = {} WHERE id = {room_id}",
            if on_postgres() { "TRUE" } else { "1" }
        ),
    )
    .await;

    let id = usman.new_client_id();
    usman.say_with_id("club", &id, "sneaking in").await;
    assert_eq!(usman.refusal().await, ErrorCode::Banned);
    for action in [
        ClientFrame::Edit {
            room: room("club"),
            target: mine,
            body: app::messages::MessageBody::parse("changed").unwrap(),
        },
        ClientFrame::React {
            room: room("club"),
            target: hers,
            emoji: app::messages::Emoji::parse("👍").unwrap(),
            on: true,
        },
        ClientFrame::Delete {
            room: room("club"),
            target: mine,
        },
    ] {
        usman.send_frame(&action).await;
        assert_eq!(usman.refusal().await, ErrorCode::Banned, "{action:?}");
    }
    let id = zara.new_client_id();
    zara.say_with_id("club", &id, "a guest in a closed room")
        .await;
    assert_eq!(zara.refusal().await, ErrorCode::AccountsOnly);

    let lines: Vec<String> = log_of(&app, "club").await.iter().map(line).collect();
    assert_eq!(
        lines,
        [
            "usman joined",
            "usman: my own words",
            "zara joined",
            "zara: hers"
        ]
    );
}

#[tokio::test]
async fn a_form_guest_is_known_by_the_servers_cookie_not_by_its_message_id() {
    let app = spawn_app().await;
    let (_, mut sadia, _) = club(&app).await;
    let first = post(
        &app,
        "/r/club/post",
        &[
            ("nick", "amir"),
            ("body", "posted without javascript"),
            ("client_id", "amir-form-1"),
        ],
        None,
    )
    .await;
    assert_eq!(first.status, 303, "{}", first.body);
    let amir = first.guest_cookie();
    let entry = sadia.hear("posted without javascript").await;
    let EntryKind::Message { client_id, .. } = &entry.kind else {
        unreachable!()
    };
    assert_eq!(client_id.as_str(), "amir-form-1", "everyone sees the id");

    // Whoever read that id joins with it as their tab's session...
    let mut mallory = app.client().await;
    mallory.session = app::people::SessionId::parse(client_id.as_str()).unwrap();
    mallory.join("club", "mallory").await;
    // ...and still cannot pass for the form's author.
    for action in [
        ClientFrame::Edit {
            room: room("club"),
            target: entry.seq,
            body: app::messages::MessageBody::parse("I never said that").unwrap(),
        },
        ClientFrame::Delete {
            room: room("club"),
            target: entry.seq,
        },
    ] {
        mallory.send_frame(&action).await;
        assert_eq!(mallory.refusal().await, ErrorCode::NotYours, "{action:?}");
    }

    // Nor can a socket take on a session of the form's kind at all (the
    // form's message ids stood for guests before the cookie did).
    let mut sneaky = app.client().await;
    sneaky.session = app::people::SessionId::parse("form-0123abcd").unwrap();
    assert_eq!(
        error_code(&sneaky.try_join("club", "sneaky").await),
        Some(ErrorCode::InvalidFrame)
    );

    // The cookie keeps the form guest one person from post to post, so a
    // ban follows them.
    let second = post(
        &app,
        "/r/club/post",
        &[
            ("nick", "amir"),
            ("body", "and again"),
            ("client_id", "amir-form-2"),
        ],
        Some(&amir),
    )
    .await;
    assert_eq!(second.status, 303, "{}", second.body);
    let again: Seq = sadia.hear("and again").await.seq;
    let authors = authors_in_club(&app).await;
    let form_authors: Vec<&String> = authors.iter().filter(|a| a.contains("form-")).collect();
    assert_eq!(form_authors.len(), 2, "{authors:?}");
    assert_eq!(form_authors[0], form_authors[1]);
    assert!(
        !form_authors[0].contains("amir-form")
            && !form_authors[0].contains(amir.split_once('=').unwrap().1),
        "neither the message id nor the cookie itself is the author: {}",
        form_authors[0]
    );
    sadia
        .send_frame(&ClientFrame::Ban {
            room: room("club"),
            target: again,
        })
        .await;
    // Frames are handled in order: once this is acked, the ban is stored.
    sadia.say("club", "done").await;
    let banned = post(
        &app,
        "/r/club/post",
        &[
            ("nick", "amir"),
            ("body", "let me back"),
            ("client_id", "amir-form-3"),
        ],
        Some(&amir),
    )
    .await;
    assert_eq!(banned.status, 403, "{}", banned.body);
}

#[tokio::test]
async fn only_authors_and_moderators_act_on_others_messages() {
    let app = spawn_app().await;
    let (_, mut sadia, _) = club(&app).await;
    let owners = sadia.say("club", "house rules").await;
    let usman_cookie = sign_up(&app, "usman", PASSWORD).await;
    let mut usman = signed_in_client(&app, &usman_cookie).await;
    usman.join("club", "usman").await;
    let his = usman.say("club", "his words").await;

    // Not the author: no edit, no delete.
    for action in [
        ClientFrame::Edit {
            room: room("club"),
            target: owners,
            body: app::messages::MessageBody::parse("no rules").unwrap(),
        },
        ClientFrame::Delete {
            room: room("club"),
            target: owners,
        },
    ] {
        usman.send_frame(&action).await;
        assert_eq!(usman.refusal().await, ErrorCode::NotYours, "{action:?}");
    }
    // Not a moderator: no removals, no bans.
    for action in [
        ClientFrame::Remove {
            room: room("club"),
            target: owners,
        },
        ClientFrame::Ban {
            room: room("club"),
            target: owners,
        },
    ] {
        usman.send_frame(&action).await;
        assert_eq!(usman.refusal().await, ErrorCode::NotModerator, "{action:?}");
    }
    // The owner moderates: a deletion of anyone's message goes through,
    // but an edit of it does not.
    sadia
        .send_frame(&ClientFrame::Edit {
            room: room("club"),
            target: his,
            body: app::messages::MessageBody::parse("owner's words").unwrap(),
        })
        .await;
    assert_eq!(sadia.refusal().await, ErrorCode::NotYours);
    sadia
        .send_frame(&ClientFrame::Delete {
            room: room("club"),
            target: his,
        })
        .await;
    assert_eq!(
        line(&usman.hear_action().await),
        format!("sadia deleted {his}")
    );
}
