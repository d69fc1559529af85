//! The journal's batches: many messages committed together must come out as
//! if each had been written alone. Each test holds the database's write lock
//! while the messages queue, so they meet in one batch when it is released.

use crate::common::*;
use app::messages::{ClientId, Seq};
use app::protocol::ServerFrame;
use std::collections::HashMap;
use std::time::Duration;

/// Every `seq` of `room_name`'s log is its place in it: 1, 2, 3 ... no gap.
async fn numbered_in_order(app: &TestApp, room_name: &str) -> Vec<String> {
    let log = log_of(app, room_name).await;
    let seqs: Vec<Seq> = log.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=log.len() as Seq).collect::<Vec<_>>(),
        "{room_name}: no gap"
    );
    log.iter().map(line).collect()
}

/// Reads until every id in `ids` has been answered; the acks' seqs, or
/// `None` for a refusal.
async fn answers(client: &mut Client, ids: &[ClientId]) -> HashMap<ClientId, Vec<Option<Seq>>> {
    let mut answered: HashMap<ClientId, Vec<Option<Seq>>> = HashMap::new();
    let wanted = |answered: &HashMap<ClientId, Vec<Option<Seq>>>| {
        let mut counts: HashMap<&ClientId, usize> = HashMap::new();
        ids.iter()
            .for_each(|id| *counts.entry(id).or_default() += 1);
        counts
            .iter()
            .all(|(id, n)| answered.get(*id).map_or(0, Vec::len) >= *n)
    };
    while !wanted(&answered) {
        match client.recv().await {
            ServerFrame::Ack { client_id, seq, .. } => {
                answered.entry(client_id).or_default().push(Some(seq))
            }
            ServerFrame::Error {
                client_id: Some(client_id),
                ..
            } => answered.entry(client_id).or_default().push(None),
            _ => {}
        }
    }
    answered
}

/// Holds the write lock while `queue` sends, then lets the batch through.
async fn in_one_batch(app: &TestApp, sender: &mut Client, room_name: &str) -> DatabaseLock {
    let lock = DatabaseLock::take(app).await;
    // This one takes the stuck batch; what follows queues behind it.
    let journal = app.server.hub().journal();
    let taken = journal.taken();
    let id = sender.new_client_id();
    sender.say_with_id(room_name, &id, "before").await;
    until(|| journal.taken() == taken + 1).await;
    lock
}

/// Waits (checking often) until `done` holds: a batch forming is watched,
/// not guessed at with a sleep.
async fn until(done: impl Fn() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the journal got there in time");
}

/// Waits until `count` entries queue behind the stuck batch.
async fn queued(app: &TestApp, count: usize) {
    let journal = app.server.hub().journal();
    until(|| journal.queued() == count).await;
}

#[tokio::test]
async fn a_resent_message_in_the_middle_of_a_batch_is_stored_once_and_the_rest_numbered_after_it() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let lock = in_one_batch(&app, &mut sadia, "main").await;
    let ids: Vec<ClientId> = (0..4).map(|_| sadia.new_client_id()).collect();
    sadia.say_with_id("main", &ids[0], "one").await;
    sadia.say_with_id("main", &ids[1], "two").await;
    sadia.say_with_id("main", &ids[2], "three").await;
    // The tab lost its ack and sends "two" again, inside the same batch.
    sadia.say_with_id("main", &ids[1], "two").await;
    sadia.say_with_id("main", &ids[3], "four").await;
    queued(&app, 5).await;
    lock.release().await;

    let sent = [&ids[..2], &ids[1..]].concat();
    let acks = answers(&mut sadia, &sent).await;
    assert_eq!(acks[&ids[1]].len(), 2, "both sends of two are answered");
    assert_eq!(
        acks[&ids[1]][0], acks[&ids[1]][1],
        "with the same seq: {acks:?}"
    );
    let lines = numbered_in_order(&app, "main").await;
    assert_eq!(
        lines,
        [
            "sadia joined",
            "sadia: before",
            "sadia: one",
            "sadia: two",
            "sadia: three",
            "sadia: four"
        ]
    );
    assert_eq!(acks[&ids[3]], [Some(6)], "four follows three with no gap");
}

#[tokio::test]
async fn a_batch_mixing_many_rooms_numbers_each_room_on_its_own() {
    let app = spawn_app_with(MANY_JOINS).await;
    let rooms: Vec<String> = (0..6).map(|r| format!("mix-{r}")).collect();
    let mut sadia = app.client().await;
    let mut usman = app.client().await;
    for room in &rooms {
        sadia.join(room, "sadia").await;
        usman.join(room, "usman").await;
    }
    let lock = in_one_batch(&app, &mut sadia, &rooms[0]).await;
    let mut sent = (vec![], vec![]);
    for round in 0..3 {
        for room in &rooms {
            let id = sadia.new_client_id();
            sadia.say_with_id(room, &id, &format!("s{round}")).await;
            sent.0.push(id);
            let id = usman.new_client_id();
            usman.say_with_id(room, &id, &format!("u{round}")).await;
            sent.1.push(id);
        }
    }
    queued(&app, sent.0.len() + sent.1.len()).await;
    lock.release().await;
    let acks = answers(&mut sadia, &sent.0).await;
    assert!(acks.values().all(|a| a[0].is_some()), "{acks:?}");
    let acks = answers(&mut usman, &sent.1).await;
    assert!(acks.values().all(|a| a[0].is_some()), "{acks:?}");

    // Two sockets are read side by side, so their messages may interleave
    // either way; each one's own stay in the order sent.
    for (r, room) in rooms.iter().enumerate() {
        let lines = numbered_in_order(&app, room).await;
        let skip = if r == 0 { 3 } else { 2 };
        assert_eq!(lines.len(), skip + 6, "{room}: {lines:?}");
        for nick in ["sadia", "usman"] {
            let own: Vec<&String> = lines[skip..]
                .iter()
                .filter(|l| l.starts_with(nick))
                .collect();
            let initial = &nick[..1];
            let expected: Vec<String> = (0..3).map(|n| format!("{nick}: {initial}{n}")).collect();
            assert_eq!(own, expected.iter().collect::<Vec<_>>(), "{room}");
        }
    }
}

#[tokio::test]
async fn one_message_id_in_two_rooms_is_two_messages_even_in_one_batch() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    sadia.join("other", "sadia").await;
    let lock = in_one_batch(&app, &mut sadia, "main").await;
    // A message id is the sender's, once per room: the same one in another
    // room is another message, and sent there again it is that one.
    let id = sadia.new_client_id();
    sadia.say_with_id("main", &id, "hello main").await;
    sadia.say_with_id("other", &id, "hello other").await;
    sadia.say_with_id("other", &id, "hello other").await;
    queued(&app, 3).await;
    lock.release().await;

    let mut acks = vec![];
    while acks.len() < 4 {
        if let ServerFrame::Ack { room, seq, .. } = sadia.recv().await {
            acks.push((room.to_string(), seq));
        }
    }
    acks.sort();
    let expected = [("main", 2), ("main", 3), ("other", 2), ("other", 2)];
    assert_eq!(acks, expected.map(|(room, seq)| (room.to_string(), seq)));
    assert_eq!(
        numbered_in_order(&app, "other").await,
        ["sadia joined", "sadia: hello other"]
    );
    assert_eq!(
        numbered_in_order(&app, "main").await,
        ["sadia joined", "sadia: before", "sadia: hello main"]
    );
}

/// Makes the database refuse (as a broken disk page or a constraint would)
/// any message whose text is `poison`.
async fn poison(app: &TestApp) {
    use sqlx::Connection;
    if app.db.starts_with("postgres") {
        let mut db = sqlx::PgConnection::connect(&app.db).await.unwrap();
        sqlx::query(
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
             BEGIN RAISE EXCEPTION 'poisoned'; END $$ LANGUAGE plpgsql",
        )
        .execute(&mut db)
        .await
        .unwrap();
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON entries FOR EACH ROW
             WHEN (NEW.body = 'poison') EXECUTE FUNCTION refuse_poison()",
        )
        .execute(&mut db)
        .await
        .unwrap();
    } else {
        let mut db = sqlx::SqliteConnection::connect(&app.db).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON entries WHEN NEW.body = 'poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        )
        .execute(&mut db)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_message_the_database_refuses_fails_alone_and_its_batch_is_stored() {
    let app = spawn_app_with(&["--journal-tries", "2"]).await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let mut usman = app.client().await;
    usman.join("main", "usman").await;
    poison(&app).await;
    let lock = in_one_batch(&app, &mut sadia, "main").await;
    let (one, bad, three) = (
        sadia.new_client_id(),
        usman.new_client_id(),
        sadia.new_client_id(),
    );
    sadia.say_with_id("main", &one, "one").await;
    usman.say_with_id("main", &bad, "poison").await;
    sadia.say_with_id("main", &three, "three").await;
    queued(&app, 3).await;
    lock.release().await;

    let acks = answers(&mut sadia, &[one.clone(), three.clone()]).await;
    assert!(
        acks[&one][0].is_some() && acks[&three][0].is_some(),
        "{acks:?}"
    );
    let refused = answers(&mut usman, std::slice::from_ref(&bad)).await;
    assert_eq!(
        refused[&bad],
        [None],
        "the poisoned message is answered as not stored"
    );
    assert_eq!(
        numbered_in_order(&app, "main").await,
        [
            "sadia joined",
            "usman joined",
            "sadia: before",
            "sadia: one",
            "sadia: three"
        ]
    );
    // The journal goes on: the next message is stored at once.
    assert_eq!(usman.say("main", "after").await, 6);
}
