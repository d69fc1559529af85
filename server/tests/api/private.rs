//! Private rooms (`~name`): made by an account, read and joined by the
//! members it lets in and nobody else, on every path; to anyone else a
//! private room answers exactly as a name nobody took: "No such room".

use crate::accounts::{Answer, PASSWORD, get, post, sign_up, signed_in_client};
use crate::common::*;
use crate::e2e::{publish, rekey, sealed};
use crate::rules::{ClubReads, read_room};
use app::protocol::{ErrorCode, ServerFrame};

/// What the secret is sealed as: the text only the members' browsers read.
const CIPHER: &str = "bGF1bmNob250dWVzZGF5";
/// A word of the secret: the server, which cannot read it, finds nothing.
const WORD: &str = "tuesday";

/// sadia's private room, made with the name "team", with the secret said
/// (sealed, from her device "sadia1") in it; `(her cookie, her socket, the
/// room's name)`.
async fn team(app: &TestApp) -> (String, Client, String) {
    let cookie = sign_up(app, "sadia", PASSWORD).await;
    let made = post(
        app,
        "/account/private-rooms",
        &[("room", "team")],
        Some(&cookie),
    )
    .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let room = made
        .location()
        .strip_prefix("/r/")
        .expect("to the room")
        .to_owned();
    assert!(room.starts_with("~team-"), "{room}");
    assert_eq!(publish(app, &cookie, "sadia1").await.status, 200);
    let epoch = rekey(app, &cookie, &room, "sadia1").await;
    let mut sadia = signed_in_client(app, &cookie).await;
    sadia.join(&room, "sadia").await;
    sadia.say(&room, &sealed(epoch, "sadia1", CIPHER)).await;
    (cookie, sadia, room)
}

/// Lets `name` into `room` (`on`) or takes them out, as `owner`.
async fn membership(app: &TestApp, owner: &str, room: &str, name: &str, on: bool) -> Answer {
    let on = if on { "on" } else { "off" };
    post(
        app,
        "/account/members",
        &[("room", room), ("name", name), ("on", on)],
        Some(owner),
    )
    .await
}

/// Every read of `room_name` (history, page, search, search page), as
/// statuses and whether the sealed secret showed.
async fn reads(app: &TestApp, room_name: &str, cookie: Option<&str>) -> Vec<(u16, bool)> {
    let ClubReads {
        history,
        page,
        search,
        search_page,
    } = read_room(app, room_name, WORD, cookie).await;
    [history, page, search, search_page]
        .into_iter()
        .map(|answer| (answer.status, answer.body.contains(CIPHER)))
        .collect()
}

/// What a member's reads give: the history and the page carry the sealed
/// secret; search answers but finds nothing (the server cannot read it).
fn members_read() -> Vec<(u16, bool)> {
    vec![(200, true), (200, true), (200, false), (200, false)]
}

#[tokio::test]
async fn only_members_read_a_private_room_and_to_others_it_does_not_exist() {
    let app = spawn_app().await;
    let (owner, _sadia, team) = team(&app).await;
    let usman = sign_up(&app, "usman", PASSWORD).await;
    let zara = sign_up(&app, "zara", PASSWORD).await;
    assert_eq!(
        membership(&app, &owner, &team, "usman", true).await.status,
        303
    );

    // Members find it on their account page; others do not.
    let page = get(&app, "/account", Some(&usman)).await;
    assert!(
        page.body.contains(&format!("href=\"/r/{team}\"")),
        "{}",
        page.body
    );
    let page = get(&app, "/account", Some(&zara)).await;
    assert!(!page.body.contains(&team), "{}", page.body);

    // Members read it every way there is; the server's search cannot.
    for cookie in [&owner, &usman] {
        let read = reads(&app, &team, Some(cookie)).await;
        assert_eq!(read, members_read(), "{read:?}");
    }
    let mut member = signed_in_client(&app, &usman).await;
    member.join(&team, "usman").await;

    // An account that is not a member, a guest and nobody get what a name
    // nobody took gets: the same statuses, no secret.
    let nothing = reads(&app, "~nothing", Some(&zara)).await;
    assert!(nothing.iter().all(|(_, shown)| !shown), "{nothing:?}");
    assert_eq!(nothing[0].0, 404, "history of a private name nobody took");
    assert_eq!(nothing[1].0, 404, "page of a private name nobody took");
    for cookie in [Some(zara.as_str()), None] {
        assert_eq!(reads(&app, &team, cookie).await, nothing);
    }
    let page = get(&app, &format!("/r/{team}"), Some(&zara)).await;
    assert!(page.body.contains("No such room"), "{}", page.body);

    // Nor can they join or post, on the socket or through the form.
    let mut outsider = signed_in_client(&app, &zara).await;
    for name in [team.as_str(), "~nothing"] {
        let refused = outsider.try_join(name, "zara").await;
        assert_eq!(error_code(&refused), Some(ErrorCode::NoSuchRoom), "{name}");
    }
    let mut guest = app.client().await;
    let refused = guest.try_join(&team, "amir").await;
    assert_eq!(error_code(&refused), Some(ErrorCode::NoSuchRoom));
    let form = post(
        &app,
        &format!("/r/{team}/post"),
        &[
            ("nick", "amir"),
            ("body", "let me in"),
            ("client_id", "amir-1"),
        ],
        None,
    )
    .await;
    assert_eq!(form.status, 404, "{}", form.body);

    // The lobby lists public rooms only.
    let lobby = crate::accounts::call_as(
        &app,
        "/api/list_rooms",
        serde_json::json!({"search": ""}),
        Some(&usman),
    )
    .await;
    assert_eq!(lobby.status, 200, "{}", lobby.body);
    assert!(!lobby.body.contains("team"), "{}", lobby.body);
}

#[tokio::test]
async fn whoever_is_let_in_hears_it_at_once_on_every_socket() {
    let app = spawn_app().await;
    let (owner, _sadia, team) = team(&app).await;
    let usman = sign_up(&app, "usman", PASSWORD).await;
    // Two tabs, one in a room and one in none.
    let mut chatting = signed_in_client(&app, &usman).await;
    chatting.join("main", "usman").await;
    let mut idle = signed_in_client(&app, &usman).await;
    let mut someone_else = signed_in_client(&app, &sign_up(&app, "zara", PASSWORD).await).await;
    someone_else.join("main", "zara").await;

    assert_eq!(
        membership(&app, &owner, &team, "usman", true).await.status,
        303
    );
    let invited =
        |f: &ServerFrame| matches!(f, ServerFrame::Invited { room, .. } if room.as_str() == team);
    chatting.recv_until(invited).await;
    idle.recv_until(invited).await;
    // Whatever the server sent zara before her own message came back.
    let said = app::protocol::ClientFrame::Send {
        room: room("main"),
        client_id: someone_else.new_client_id(),
        body: app::messages::MessageBody::parse("anything for me?").unwrap(),
        reply_to: None,
        media: vec![],
    };
    someone_else.send_frame(&said).await;
    let frames = someone_else
        .recv_until(|f| match f {
            ServerFrame::Entry { entry, .. } => matches!(
                &entry.kind,
                app::messages::EntryKind::Message { body, .. } if body.as_str() == "anything for me?"
            ),
            _ => false,
        })
        .await;
    assert!(
        !frames.iter().any(invited),
        "only the invited account hears it"
    );
}

#[tokio::test]
async fn a_member_taken_out_is_sent_out_at_once_and_reads_nothing_after() {
    let app = spawn_app().await;
    let (owner, mut sadia, team) = team(&app).await;
    let usman = sign_up(&app, "usman", PASSWORD).await;
    assert_eq!(
        membership(&app, &owner, &team, "usman", true).await.status,
        303
    );
    let mut member = signed_in_client(&app, &usman).await;
    member.join(&team, "usman").await;
    assert_eq!(publish(&app, &usman, "usman1").await.status, 200);
    let joined = rekey(&app, &usman, &team, "usman1").await;
    member
        .say(&team, &sealed(joined, "usman1", "Z2xhZGhl"))
        .await;

    assert_eq!(
        membership(&app, &owner, &team, "usman", false).await.status,
        303
    );
    assert_eq!(member.refusal().await, ErrorCode::NoSuchRoom);
    // What the room says next is sealed with a key his device never gets:
    // the epoch he had is refused from now on.
    let after = sealed(joined, "sadia1", "bm93YmV0");
    let id = sadia.new_client_id();
    sadia.say_with_id(&team, &id, &after).await;
    assert_eq!(sadia.refusal().await, ErrorCode::NewKeyNeeded);
    let next = rekey(&app, &owner, &team, "sadia1").await;
    assert_eq!(next, joined + 1);
    let (_, his) = crate::e2e::room_keys(&app, &usman, &team, "usman1").await;
    assert!(his.is_none(), "no keys for someone taken out");
    sadia.say(&team, &sealed(next, "sadia1", "bm93YmV0")).await;
    let read = reads(&app, &team, Some(&usman)).await;
    assert!(read.iter().all(|(_, shown)| !shown), "{read:?}");
    let history = crate::accounts::call_as(
        &app,
        "/api/room_history",
        serde_json::json!({"room": &team}),
        Some(&usman),
    )
    .await;
    assert!(!history.body.contains("bm93YmV0"), "{}", history.body);
    let again = member.try_join(&team, "usman").await;
    assert_eq!(error_code(&again), Some(ErrorCode::NoSuchRoom));
}

#[tokio::test]
async fn only_the_owner_lets_people_in_and_a_private_address_cannot_be_guessed() {
    let app = spawn_app().await;
    let (owner, _sadia, team) = team(&app).await;
    let usman = sign_up(&app, "usman", PASSWORD).await;
    assert_eq!(
        membership(&app, &owner, &team, "usman", true).await.status,
        303
    );
    // A member is not the owner.
    assert_eq!(
        membership(&app, &usman, &team, "zara", true).await.status,
        403
    );
    let unknown = membership(&app, &owner, &team, "nobody", true).await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(
        unknown.body.contains("No account is named nobody"),
        "{}",
        unknown.body
    );
    // The owner stays in their room.
    assert_eq!(
        membership(&app, &owner, &team, "sadia", false).await.status,
        400
    );
    // A name is never taken: each room made gets an address of its own
    // that nobody can guess, so making one tells nothing about the others.
    let again = post(
        &app,
        "/account/private-rooms",
        &[("room", "team")],
        Some(&usman),
    )
    .await;
    assert_eq!(again.status, 303, "{}", again.body);
    let other = again.location().strip_prefix("/r/").unwrap();
    assert!(
        other.starts_with("~team-") && other != team,
        "{other} and {team}"
    );
    let long = "a".repeat(53);
    let too_long = post(
        &app,
        "/account/private-rooms",
        &[("room", &long)],
        Some(&usman),
    )
    .await;
    assert_eq!(too_long.status, 400, "{}", too_long.body);
    // Guests make no private rooms.
    let guest = post(&app, "/account/private-rooms", &[("room", "den")], None).await;
    assert_eq!(guest.status, 303);
    assert_eq!(guest.location(), "/login");
    // A public room's owner cannot turn its members into a private list.
    let public = post(
        &app,
        "/account/members",
        &[("room", "main"), ("name", "usman"), ("on", "on")],
        Some(&owner),
    )
    .await;
    assert_eq!(public.status, 403);
    // Joining a private room by its name never makes one.
    let mut sadia = signed_in_client(&app, &owner).await;
    let refused = sadia.try_join("~other", "sadia").await;
    assert!(matches!(refused, ServerFrame::Error { .. }));
}

/// `/dm/NAME` as `cookie`: the direct message's room name (from the
/// redirect to its page).
async fn open_direct(app: &TestApp, name: &str, cookie: &str) -> String {
    let opened = get(app, &format!("/dm/{name}"), Some(cookie)).await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    opened
        .location()
        .strip_prefix("/r/")
        .expect("to the conversation's page")
        .to_owned()
}

#[tokio::test]
async fn two_accounts_share_one_direct_message_that_nobody_else_reads() {
    let app = spawn_app().await;
    let sadia = sign_up(&app, "sadia", PASSWORD).await;
    let usman = sign_up(&app, "usman", PASSWORD).await;
    let zara = sign_up(&app, "zara", PASSWORD).await;
    let mut usman_idle = signed_in_client(&app, &usman).await;

    let dm = open_direct(&app, "usman", &sadia).await;
    assert!(dm.starts_with('~') && !dm.contains('-'), "{dm}");
    // The other person hears of it at once, with who it is with.
    let frames = usman_idle
        .recv_until(|f| matches!(f, ServerFrame::Invited { room, .. } if room.as_str() == dm))
        .await;
    let Some(ServerFrame::Invited { with, .. }) = frames.last() else {
        unreachable!()
    };
    assert_eq!(with.as_ref().map(|n| n.as_str()), Some("sadia"));
    // From either side, by link or by the online list's button: one room.
    assert_eq!(open_direct(&app, "sadia", &usman).await, dm);
    assert_eq!(open_direct(&app, "USMAN", &sadia).await, dm);
    let button = post(&app, "/dm", &[("name", "usman")], Some(&sadia)).await;
    assert_eq!(button.location(), format!("/r/{dm}"));

    assert_eq!(publish(&app, &sadia, "sadia1").await.status, 200);
    assert_eq!(publish(&app, &usman, "usman1").await.status, 200);
    let epoch = rekey(&app, &sadia, &dm, "sadia1").await;
    let secret = sealed(epoch, "sadia1", CIPHER);
    let mut her = signed_in_client(&app, &sadia).await;
    her.join(&dm, "sadia").await;
    her.say(&dm, &secret).await;
    let mut him = signed_in_client(&app, &usman).await;
    him.join(&dm, "usman").await;
    him.hear(&secret).await;
    let read = reads(&app, &dm, Some(&usman)).await;
    assert_eq!(read, members_read(), "{read:?}");

    // Its page is named after the other person.
    let page = get(&app, &format!("/r/{dm}"), Some(&sadia)).await;
    assert!(page.body.contains("Direct message"), "{}", page.body);
    assert!(page.body.contains("<h1>usman<!></h1>"), "{}", page.body);
    // Both find it in their list, with the other's name.
    let listed = crate::accounts::call_as(
        &app,
        "/api/private_rooms",
        serde_json::json!({}),
        Some(&usman),
    )
    .await;
    let listed: Vec<app::rooms::PrivateRoom> = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].room.as_str(), dm);
    assert_eq!(listed[0].with.as_ref().unwrap().as_str(), "sadia");

    // A third account, a guest and nobody: "No such room", everywhere.
    let nothing = reads(&app, "~nothing", Some(&zara)).await;
    for cookie in [Some(zara.as_str()), None] {
        assert_eq!(reads(&app, &dm, cookie).await, nothing);
    }
    let mut outsider = signed_in_client(&app, &zara).await;
    let refused = outsider.try_join(&dm, "zara").await;
    assert_eq!(error_code(&refused), Some(ErrorCode::NoSuchRoom));
    // Nobody lets a third person in, or takes one of the two out.
    for (cookie, name, on) in [(&sadia, "zara", true), (&usman, "sadia", false)] {
        let change = membership(&app, cookie, &dm, name, on).await;
        assert_eq!(change.status, 403, "{}", change.body);
    }
    // No account by that name, or one's own: no conversation; a guest is
    // asked to log in.
    for name in ["nobody", "sadia"] {
        let none = get(&app, &format!("/dm/{name}"), Some(&sadia)).await;
        assert_eq!(none.status, 404, "{name}");
        assert!(none.body.contains("No such room"), "{}", none.body);
    }
    let guest = get(&app, "/dm/usman", None).await;
    assert_eq!(guest.location(), "/login");
}
