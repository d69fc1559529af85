//! Join and leave notices grouped as servers run by default: a crowd
//! arriving together is one notice, a leave and a quick return say nothing,
//! a joiner's list of who is online is whole at once, and a big room's
//! notices are quiet. (Other test files say each notice at once.)

use crate::common::*;
use app::messages::EntryKind;
use app::protocol::ServerFrame;

/// Long enough for a dozen joins over loopback to fall in one window.
const WINDOW: &str = "600";

/// Every "nick joined" / "nick left" in `frames`, and how many entries said them.
fn said(frames: &[ServerFrame]) -> (Vec<String>, usize) {
    let mut lines = vec![];
    let mut entries = 0;
    for frame in frames {
        if let ServerFrame::Entry { entry, .. } = frame
            && let Some(more) = notice_lines(entry)
        {
            entries += 1;
            lines.extend(more);
        }
    }
    (lines, entries)
}

#[tokio::test]
async fn a_crowd_arriving_together_is_one_notice_and_each_joiner_sees_all_of_it() {
    let app = spawn_app_with(&["--notice-window-ms", WINDOW]).await;
    let mut watcher = app.client().await;
    watcher.join("class", "teacher").await;
    // Said at once: the room was quiet.
    watcher.recv_until(|f| says(f, "teacher joined")).await;

    let mut class = vec![];
    for i in 0..12 {
        let mut pupil = app.client().await;
        let (online, _) = pupil.join("class", &format!("pupil{i}")).await;
        // Everyone already here is listed, though their arrival is not said yet.
        assert_eq!(online.len(), i + 1, "pupil{i} sees {online:?}");
        class.push(pupil);
    }
    let frames = watcher.recv_until(|f| says(f, "pupil11 joined")).await;
    let (lines, entries) = said(&frames);
    let expected: Vec<String> = (0..12).map(|i| format!("pupil{i} joined")).collect();
    assert_eq!(lines, expected);
    assert!(entries < 12, "{entries} notices for 12 arrivals");
    assert!(
        log_of(&app, "class")
            .await
            .iter()
            .any(|e| matches!(&e.kind, EntryKind::Crowd(joined, _, false) if joined.len() > 1)),
        "the log keeps the crowd"
    );
}

#[tokio::test]
async fn a_leave_and_a_quick_return_say_nothing() {
    let app = spawn_app_with(&["--notice-window-ms", WINDOW]).await;
    let mut watcher = app.client().await;
    watcher.join("main", "watcher").await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let mut omar = app.client().await;
    omar.join("main", "omar").await;
    watcher.recv_until(|f| says(f, "omar joined")).await;

    for _ in 0..5 {
        sadia.leave("main").await;
        sadia.join("main", "sadia").await;
    }
    // Omar's leave is said when the window ends; sadia's coming and going,
    // held in the same window, is not.
    omar.leave("main").await;
    let frames = watcher.recv_until(|f| says(f, "omar left")).await;
    let (lines, _) = said(&frames);
    assert_eq!(lines, ["omar left"]);
    let (online, _) = app.client().await.join("main", "newcomer").await;
    assert_eq!(online, [nick("sadia"), nick("watcher")]);
}

#[tokio::test]
async fn someone_who_leaves_is_listed_until_their_notice_takes_them_off() {
    let app = spawn_app_with(&["--notice-window-ms", WINDOW]).await;
    let mut watcher = app.client().await;
    watcher.join("main", "watcher").await;
    let mut zara = app.client().await;
    zara.join("main", "zara").await;
    watcher.recv_until(|f| says(f, "zara joined")).await;
    zara.leave("main").await;
    // Joining while her leave is held: she is listed, and the notice that
    // follows takes her off.
    let mut usman = app.client().await;
    let (online, _) = usman.join("main", "usman").await;
    assert_eq!(online, [nick("watcher"), nick("zara")]);
    usman.recv_until(|f| says(f, "zara left")).await;
}

#[tokio::test]
async fn a_big_rooms_notices_are_quiet_but_still_keep_the_list() {
    let app = spawn_app_with(&["--notice-window-ms", WINDOW, "--notices-quiet-above", "2"]).await;
    let mut people = vec![];
    for name in ["amir", "bea", "cem"] {
        let mut person = app.client().await;
        person.join("hall", name).await;
        people.push(person);
    }
    let watcher = &mut people[0];
    // Cem made three: his arrival is a quiet crowd.
    let frames = watcher.recv_until(|f| says(f, "cem joined")).await;
    let ServerFrame::Entry { entry, .. } = frames.last().unwrap() else {
        unreachable!()
    };
    assert!(
        matches!(entry.kind, EntryKind::Crowd(_, _, true)),
        "{entry:?}"
    );
}

/// The kind of the entry that says `what` ("bea joined"), read by `client`.
async fn notice_kind(client: &mut Client, what: &str) -> EntryKind {
    let frames = client.recv_until(|f| says(f, what)).await;
    match frames.last() {
        Some(ServerFrame::Entry { entry, .. }) => entry.kind.clone(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_rooms_owner_hides_its_notices_and_shows_them_again() {
    use crate::accounts::{PASSWORD, get, post, sign_up, signed_in_client};
    let app = spawn_app_with(&["--notice-window-ms", "0"]).await;
    let owner = sign_up(&app, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(&app, &owner).await;
    sadia.join("club", "sadia").await;
    let setting = |on: &'static str| {
        let (app, owner) = (&app, owner.clone());
        async move {
            post(
                app,
                "/account/rooms",
                &[("room", "club"), ("quiet_notices", on)],
                Some(&owner),
            )
            .await
        }
    };

    let page = get(&app, "/account", Some(&owner)).await;
    assert!(
        page.body.contains("Hide join and leave notices in #club"),
        "{}",
        page.body
    );
    assert_eq!(setting("on").await.status, 303);
    let page = get(&app, "/account", Some(&owner)).await;
    assert!(
        page.body.contains("Show join and leave notices in #club"),
        "{}",
        page.body
    );

    // Hidden: an arrival is still sent, so everyone's list stays right, but
    // as a quiet crowd the browser does not draw.
    let mut bea = app.client().await;
    bea.join("club", "bea").await;
    assert!(
        matches!(
            notice_kind(&mut sadia, "bea joined").await,
            EntryKind::Crowd(_, _, true)
        ),
        "a quiet notice"
    );
    // Someone else's room is not theirs to change.
    let usman = sign_up(&app, "usman", PASSWORD).await;
    let refused = post(
        &app,
        "/account/rooms",
        &[("room", "club"), ("quiet_notices", "off")],
        Some(&usman),
    )
    .await;
    assert_eq!(refused.status, 403);

    assert_eq!(setting("off").await.status, 303);
    let mut cem = app.client().await;
    cem.join("club", "cem").await;
    assert_eq!(
        notice_kind(&mut sadia, "cem joined").await,
        EntryKind::Joined
    );
}
