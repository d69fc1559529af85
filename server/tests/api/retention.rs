//! Retention: messages older than the server's `--retention-days`, or their
//! room owner's shorter limit, are deleted with their files, search rows and
//! reactions; newer ones, and each room's newest entry, stay.

use crate::accounts::{PASSWORD, post, sign_up, signed_in_client};
use crate::actions::react_in;
use crate::common::*;
use crate::media::{fetch_as, join_for_media, png, send_with, uploaded};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Moves entries of `room` with `first <= seq <= last` back by `days`.
async fn age(app: &TestApp, room: &str, first: u64, last: u64, days: i64) {
    read_rows(
        app,
        &format!(
            "UPDATE entries SET at = at - {} WHERE seq BETWEEN {first} AND {last}
             AND room_id = (SELECT id FROM rooms WHERE name = '{room}')",
            days * DAY_MS
        ),
    )
    .await;
}

fn texts(log: &[app::messages::Entry]) -> Vec<String> {
    log.iter()
        .filter_map(|e| match &e.kind {
            app::messages::EntryKind::Message { body, .. } => Some(body.as_str().to_owned()),
            _ => None,
        })
        .collect()
}

/// Waits until `room`'s log is down to `expected` messages.
async fn until_left(app: &TestApp, room: &str, expected: &[&str]) -> Vec<app::messages::Entry> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = log_of(app, room).await;
        if texts(&log) == expected {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still there: {:?}",
            texts(&log)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn count(app: &TestApp, table: &str) -> String {
    read_rows(app, &format!("SELECT CAST(count(*) AS TEXT) FROM {table}")).await[0][0].clone()
}

#[tokio::test]
async fn old_messages_go_with_their_files_search_rows_and_reactions_and_nothing_else() {
    let app = spawn_app_with(&["--retention-days", "30", "--retention-check-ms", "50"]).await;
    let sadia = sign_up(&app, "sadia", PASSWORD).await;
    let mut her = signed_in_client(&app, &sadia).await;
    her.join("garden", "sadia").await;
    let mut lerato = app.client().await;
    let grant = join_for_media(&mut lerato, "garden", "lerato").await;
    let picture = uploaded(&app, &grant.key, "old.png", png(64, 64)).await;
    send_with(
        &mut lerato,
        "garden",
        "an old zebrafish picture",
        &[&picture.id],
    )
    .await;
    her.hear("an old zebrafish picture").await;
    let old = lerato.say("garden", "old words about zebrafish").await;
    her.send_frame(&react_in("garden", old, "👍", true)).await;
    lerato.hear_action().await;
    let middling = lerato.say("garden", "ten days old").await;
    lerato.say("garden", "fresh words about zebrafish").await;
    // A new reply to an old message outlives it, its quote gone.
    let reply = her.reply("garden", old, "still true").await;
    // A room where everything is old: its newest entry stays (its head).
    let mut kofi = app.client().await;
    kofi.join("quiet", "kofi").await;
    kofi.say("quiet", "first words").await;
    let last = kofi.say("quiet", "last words before the silence").await;

    age(&app, "garden", 1, middling - 1, 40).await;
    age(&app, "garden", middling, middling, 10).await;
    age(&app, "quiet", 1, last, 40).await;

    let garden = until_left(
        &app,
        "garden",
        &["ten days old", "fresh words about zebrafish", "still true"],
    )
    .await;
    let kept_reply = garden.iter().find(|e| e.seq == reply).unwrap();
    assert!(
        matches!(
            &kept_reply.kind,
            app::messages::EntryKind::Message { reply: None, .. }
        ),
        "{kept_reply:?}"
    );
    let quiet = until_left(&app, "quiet", &["last words before the silence"]).await;
    assert_eq!(quiet.len(), 1, "only the newest entry: {quiet:?}");
    assert_eq!(
        kofi.say("quiet", "back again").await,
        last + 1,
        "seqs go on"
    );

    // What hung on the old messages went with them.
    assert_eq!(count(&app, "media").await, "0");
    assert_eq!(count(&app, "reactions").await, "0");
    let file = fetch_as(
        &app,
        &grant.key,
        &format!("/media/{}", picture.id.as_str()),
        &[],
    )
    .await;
    assert_eq!(file.status(), 404);
    let (_, found) = app.get("/search?q=zebrafish&room=garden").await;
    assert!(found.contains("fresh words about"), "{found}");
    assert!(!found.contains("old words"), "{found}");

    // Its owner keeps the room's messages for less: five days.
    let refused = post(
        &app,
        "/account/retention",
        &[("room", "garden"), ("days", "0")],
        Some(&sadia),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let usman = sign_up(&app, "usman", PASSWORD).await;
    let not_his = post(
        &app,
        "/account/retention",
        &[("room", "garden"), ("days", "5")],
        Some(&usman),
    )
    .await;
    assert_eq!(not_his.status, 403);
    let set = post(
        &app,
        "/account/retention",
        &[("room", "garden"), ("days", "5")],
        Some(&sadia),
    )
    .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let page = crate::accounts::get(&app, "/account", Some(&sadia)).await;
    assert!(
        page.body
            .contains(r#"name="days" min="1" max="36500" placeholder="never" value="5""#),
        "{}",
        page.body
    );
    until_left(
        &app,
        "garden",
        &["fresh words about zebrafish", "still true"],
    )
    .await;
}
