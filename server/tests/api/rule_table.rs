//! Room access as one table: one person tries every entry point (a row) in
//! every standing the rules know (a column), and what happened is compared
//! with [`PROMISED`], written out below as a reader would check it. A new
//! entry point or rule is a new row or column here, not a new scenario.
//!
//! Each column is a fresh server with #club (sadia's, holding a secret
//! message and a file). The person joins and speaks first; only then does
//! their standing change, the way it does in a running room, so every
//! socket write below is judged at the moment it is written. A ban is
//! written into the database behind the server's back (as another server's
//! moderator would): nothing in memory knows of it, only the store does.
//! Runs on SQLite, on PostgreSQL and on PostgreSQL with Redis
//! (`scripts/test`).

use crate::accounts::{PASSWORD, close_to_guests, post, sign_up, signed_in_client};
use crate::common::*;
use crate::media::{fetch, join_for_media, media_pass, upload};
use crate::rules::{SECRET, SECRET_WORD, read_club};
use app::messages::Seq;
use app::protocol::{ClientFrame, ServerFrame};

/// What each entry point does for someone in each standing: `ok`, the
/// socket's error code, or the HTTP status (a search that answers but
/// leaves the room's messages out says `hidden`). Someone sent out of the
/// room (removed, or a guest when it closed) is no longer in it on that
/// socket: only a new join can say whether they may come back.
const PROMISED: &str = "
entry point   | moderator | moderator, others' | member, others' | banned | removed   | guest, closed
socket send   | ok        | ok                 | ok              | Banned | NotInRoom | NotInRoom
socket edit   | ok        | NotYours           | NotYours        | Banned | NotInRoom | NotInRoom
socket react  | ok        | ok                 | ok              | Banned | NotInRoom | NotInRoom
socket delete | ok        | ok                 | NotYours        | Banned | NotInRoom | NotInRoom
socket remove | ok        | ok                 | NotModerator    | Banned | NotInRoom | NotInRoom
socket ban    | ok        | ok                 | NotModerator    | Banned | NotInRoom | NotInRoom
socket join   | ok        | ok                 | ok              | Banned | ok        | AccountsOnly
form post     | ok        | ok                 | ok              | 403    | ok        | 403
history fn    | ok        | ok                 | ok              | 403    | ok        | 403
history page  | ok        | ok                 | ok              | 403    | ok        | 403
search fn     | ok        | ok                 | ok              | hidden | ok        | hidden
search page   | ok        | ok                 | ok              | hidden | ok        | hidden
media pass    | ok        | ok                 | ok              | 403    | ok        | 403
media fetch   | ok        | ok                 | ok              | 403    | ok        | 403
media upload  | ok        | ok                 | ok              | 403    | ok        | 403
";

/// The columns: who tries, and how they stand in #club by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// usman, named a moderator by the owner, acting on his own messages.
    Moderator,
    /// The same, acting on sadia's messages.
    ModeratorOnOthers,
    /// usman, an ordinary member, acting on sadia's messages.
    MemberOnOthers,
    /// usman, banned (in the store only) after he joined.
    Banned,
    /// usman, removed by the owner after he joined.
    Removed,
    /// A guest, after the owner closed #club to guests.
    GuestClosed,
}

const STANDINGS: [Standing; 6] = [
    Standing::Moderator,
    Standing::ModeratorOnOthers,
    Standing::MemberOnOthers,
    Standing::Banned,
    Standing::Removed,
    Standing::GuestClosed,
];

/// Whose socket, cookie and media key the entry points are tried with.
struct Person {
    nick: &'static str,
    socket: Client,
    /// The session cookie (an account) or the form guest's cookie.
    cookie: String,
    key: String,
    /// The media pass taken while still in good standing.
    pass: String,
    /// Two messages of theirs.
    own: [Seq; 2],
}

/// #club as every column starts it.
struct Club {
    app: TestApp,
    owner_cookie: String,
    owner: Client,
    /// Two of sadia's messages.
    hers: [Seq; 2],
    /// Messages by two guests, for a removal and a ban to aim at.
    nadias: Seq,
    omars: Seq,
    file: String,
    /// The guests stay connected, so sending them out is news.
    _guests: [Client; 2],
}

async fn club() -> Club {
    let app = spawn_app().await;
    let (owner_cookie, mut owner, file) = crate::rules::club(&app).await;
    let hers = [
        owner.say("club", "house rules").await,
        owner.say("club", "be kind").await,
    ];
    let mut nadia = app.client().await;
    nadia.join("club", "nadia").await;
    let nadias = nadia.say("club", "nadia here").await;
    let mut omar = app.client().await;
    omar.join("club", "omar").await;
    let omars = omar.say("club", "omar here").await;
    Club {
        file,
        app,
        owner_cookie,
        owner,
        hers,
        nadias,
        omars,
        _guests: [nadia, omar],
    }
}

/// The person of `standing`, in #club and in good standing so far.
async fn person(club: &mut Club, standing: Standing) -> Person {
    let app = &club.app;
    let (nick, mut socket, cookie) = if standing == Standing::GuestClosed {
        // A guest on a socket, and one who posted through the form (whose
        // cookie is all the web pages know of them).
        let form = post(
            app,
            "/r/club/post",
            &[("nick", "amir"), ("body", "hi"), ("client_id", "amir-1")],
            None,
        )
        .await;
        assert_eq!(form.status, 303, "{}", form.body);
        ("zara", app.client().await, form.guest_cookie())
    } else {
        let cookie = sign_up(app, "usman", PASSWORD).await;
        ("usman", signed_in_client(app, &cookie).await, cookie)
    };
    let key = join_for_media(&mut socket, "club", nick).await.key;
    let pass = media_pass(app, &key).await.expect("a member gets a pass");
    let own = [
        socket.say("club", "my first").await,
        socket.say("club", "my second").await,
    ];
    Person {
        nick,
        socket,
        cookie,
        key,
        pass,
        own,
    }
}

/// Changes `person`'s standing as the room would.
async fn stand(club: &mut Club, person: &mut Person, standing: Standing) {
    let app = &club.app;
    match standing {
        Standing::Moderator | Standing::ModeratorOnOthers => {
            let named = post(
                app,
                "/account/moderators",
                &[("room", "club"), ("name", "usman"), ("on", "on")],
                Some(&club.owner_cookie),
            )
            .await;
            assert_eq!(named.status, 303, "{}", named.body);
        }
        Standing::MemberOnOthers => {}
        Standing::Banned => {
            read_rows(
                app,
                "INSERT INTO bans (room_id, author, nick, banned_at)
                 SELECT r.id, 'account:' || a.id, 'usman', 0
                 FROM rooms r, accounts a WHERE r.name = 'club' AND a.name = 'usman'",
            )
            .await;
        }
        Standing::Removed => {
            club.owner
                .send_frame(&ClientFrame::Remove {
                    room: room("club"),
                    target: person.own[0],
                })
                .await;
            assert_eq!(
                person.socket.refusal().await,
                app::protocol::ErrorCode::Removed
            );
        }
        Standing::GuestClosed => {
            let closed = close_to_guests(app, "club", &club.owner_cookie).await;
            assert_eq!(closed.status, 303, "{}", closed.body);
            assert_eq!(
                person.socket.refusal().await,
                app::protocol::ErrorCode::AccountsOnly
            );
        }
    }
}

/// Sends `frame` and waits for its error, or for `done` (what everyone
/// sees when it went through).
async fn socket_outcome(
    socket: &mut Client,
    frame: ClientFrame,
    done: impl Fn(&ServerFrame) -> bool,
) -> String {
    socket.send_frame(&frame).await;
    let frames = socket
        .recv_until(|f| error_code(f).is_some() || done(f))
        .await;
    match frames.last().and_then(error_code) {
        Some(code) => format!("{code:?}"),
        None => "ok".into(),
    }
}

fn status(code: u16) -> String {
    if (200..400).contains(&code) {
        "ok".into()
    } else {
        code.to_string()
    }
}

/// A read's outcome: refused, answered without the secret, or read.
fn read(code: u16, body: &str, shows: &str) -> String {
    match status(code).as_str() {
        "ok" if body.contains(shows) => "ok".into(),
        "ok" => "hidden".into(),
        refused => refused.into(),
    }
}

/// Tries every entry point as `person`; `(entry point, outcome)` in
/// [`PROMISED`]'s order.
async fn try_everything(club: &mut Club, person: &mut Person, standing: Standing) -> Vec<String> {
    let app = &club.app;
    let on_others = matches!(
        standing,
        Standing::ModeratorOnOthers | Standing::MemberOnOthers
    );
    let targets = if on_others { club.hers } else { person.own };
    let is_entry_on = |target: Seq| move |f: &ServerFrame| matches!(f, ServerFrame::Entry { entry, .. } if entry.kind.target() == Some(target));
    let mut outcomes = vec![];

    let client_id = person.socket.new_client_id();
    let sent = client_id.clone();
    outcomes.push(
        socket_outcome(
            &mut person.socket,
            ClientFrame::Send {
                room: room("club"),
                client_id,
                body: app::messages::MessageBody::parse("one more").unwrap(),
                reply_to: None,
                media: vec![],
            },
            move |f| matches!(f, ServerFrame::Ack { client_id, .. } if *client_id == sent),
        )
        .await,
    );
    outcomes.push(
        socket_outcome(
            &mut person.socket,
            ClientFrame::Edit {
                room: room("club"),
                target: targets[0],
                body: app::messages::MessageBody::parse("changed").unwrap(),
            },
            is_entry_on(targets[0]),
        )
        .await,
    );
    outcomes.push(
        socket_outcome(
            &mut person.socket,
            ClientFrame::React {
                room: room("club"),
                target: targets[0],
                emoji: app::messages::Emoji::parse("👍").unwrap(),
                on: true,
            },
            is_entry_on(targets[0]),
        )
        .await,
    );
    outcomes.push(
        socket_outcome(
            &mut person.socket,
            ClientFrame::Delete {
                room: room("club"),
                target: targets[1],
            },
            is_entry_on(targets[1]),
        )
        .await,
    );
    outcomes.push(
        socket_outcome(
            &mut person.socket,
            ClientFrame::Remove {
                room: room("club"),
                target: club.nadias,
            },
            |f| says(f, "nadia left"),
        )
        .await,
    );
    outcomes.push(
        socket_outcome(
            &mut person.socket,
            ClientFrame::Ban {
                room: room("club"),
                target: club.omars,
            },
            |f| says(f, "omar left"),
        )
        .await,
    );

    // Another tab of the same person.
    let mut tab = if standing == Standing::GuestClosed {
        app.client().await
    } else {
        signed_in_client(app, &person.cookie).await
    };
    outcomes.push(match tab.try_join("club", person.nick).await {
        ServerFrame::Joined { .. } => "ok".into(),
        other => format!("{:?}", error_code(&other).expect("a join or an error")),
    });

    let mut form = vec![("body", "through the form"), ("client_id", "form-probe")];
    if standing == Standing::GuestClosed {
        form.push(("nick", "amir"));
    }
    let cookie = Some(person.cookie.as_str());
    let answer = post(app, "/r/club/post", &form, cookie).await;
    outcomes.push(status(answer.status));

    let reads = read_club(app, cookie).await;
    outcomes.push(read(reads.history.status, &reads.history.body, SECRET));
    outcomes.push(read(reads.page.status, &reads.page.body, SECRET));
    outcomes.push(read(reads.search.status, &reads.search.body, SECRET_WORD));
    // A result links to its message; the query itself is echoed in the box.
    let page = &reads.search_page;
    outcomes.push(read(page.status, &page.body, "/r/club?at="));

    let pass = reqwest::Client::new()
        .post(format!("http://{}{}", app.addr(), app::media::PASS_PATH))
        .header(app::media::KEY_HEADER, &person.key)
        .send()
        .await
        .expect("the pass request goes");
    outcomes.push(status(pass.status().as_u16()));
    let cookies = format!("{}; {}", person.pass, person.cookie);
    let fetched = fetch(app, &club.file, &[("cookie", &cookies)]).await;
    outcomes.push(status(fetched.status().as_u16()));
    let (code, _) = upload(app, &person.key, "more.txt", b"more".to_vec()).await;
    outcomes.push(status(code));
    outcomes
}

/// A table's cells, row by row, without the padding.
fn cells(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.split('|').map(|cell| cell.trim().to_owned()).collect())
        .collect()
}

#[tokio::test]
async fn every_entry_point_keeps_every_rule() {
    let promised = cells(PROMISED);
    let rows: Vec<&str> = promised[1..].iter().map(|row| row[0].as_str()).collect();
    let mut columns = vec![];
    for standing in STANDINGS {
        let mut club = club().await;
        let mut person = person(&mut club, standing).await;
        stand(&mut club, &mut person, standing).await;
        let outcomes = try_everything(&mut club, &mut person, standing).await;
        assert_eq!(outcomes.len(), rows.len(), "one outcome per entry point");
        columns.push(outcomes);
    }
    let mut found = vec![promised[0].clone()];
    for (r, name) in rows.iter().enumerate() {
        let mut row = vec![name.to_string()];
        row.extend(columns.iter().map(|column| column[r].clone()));
        found.push(row);
    }
    let shown = |table: &[Vec<String>]| {
        table
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| format!("{cell:<18}"))
                    .collect::<Vec<_>>()
                    .join("| ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        found == promised,
        "the rules as they hold:\n{}\n\nas promised:\n{}",
        shown(&found),
        shown(&promised)
    );
}
