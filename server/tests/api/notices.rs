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
