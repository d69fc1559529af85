//! Fault test: the real binary is killed with SIGKILL mid-stream and restarted
//! on the same database; every acknowledged message is there, none twice.

use crate::common::*;
use app::protocol::ServerFrame;
use std::collections::HashMap;

#[tokio::test]
async fn every_acknowledged_message_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let (mut child, addr) = start_binary(&db, &[]);

    // Three senders write as fast as acks come back, recording every ack.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<(String, u64)>();
    let mut senders = vec![];
    for n in 0..3 {
        let acked = acked_tx.clone();
        senders.push(tokio::spawn(async move {
            let mut client = crate::common::Client::connect(addr).await;
            client.join("main", &format!("sender{n}")).await;
            for i in 0.. {
                let id = client.new_client_id();
                client.say_with_id("main", &id, &format!("s{n} #{i}")).await;
                // Runs until the server dies under it.
                loop {
                    match futures::StreamExt::next(&mut client.ws).await {
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                            if let Ok(ServerFrame::Ack { client_id, seq, .. }) =
                                serde_json::from_str(&text)
                                && client_id == id
                            {
                                let _ = acked.send((id.as_str().to_owned(), seq));
                                break;
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    }
                }
            }
        }));
    }
    drop(acked_tx);
    let mut acked: HashMap<String, u64> = HashMap::new();
    while acked.len() < 150 {
        let (id, seq) = acked_rx.recv().await.expect("senders keep acking");
        acked.insert(id, seq);
    }
    child.kill().unwrap(); // SIGKILL: no graceful anything
    child.wait().unwrap();
    for sender in senders {
        let _ = sender.await;
    }
    while let Ok((id, seq)) = acked_rx.try_recv() {
        acked.insert(id, seq);
    }

    let (mut child, addr) = start_binary(&db, &[]);
    let mut reader = crate::common::Client::connect(addr).await;
    reader.join_since("main", "auditor", Some(0)).await;
    let frames = reader.recv_until(|f| says(f, "auditor joined")).await;
    let mut stored: HashMap<String, Vec<u64>> = HashMap::new();
    for frame in &frames {
        if let ServerFrame::Entry { entry, .. } = frame
            && let app::messages::EntryKind::Message { client_id, .. } = &entry.kind
        {
            stored
                .entry(client_id.as_str().to_owned())
                .or_default()
                .push(entry.seq);
        }
    }
    for (id, seq) in &acked {
        assert_eq!(stored.get(id), Some(&vec![*seq]), "acked {id} as {seq}");
    }
    assert!(stored.values().all(|seqs| seqs.len() == 1), "nothing twice");

    // Resending acked ids after the restart stores nothing new.
    let (id, seq) = acked.iter().next().unwrap();
    let mut resender = crate::common::Client::connect(addr).await;
    resender.join("main", "resender").await;
    let id = app::messages::ClientId::parse(id).unwrap();
    resender.say_with_id("main", &id, "again").await;
    let frames = resender
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    assert!(matches!(frames.last(), Some(ServerFrame::Ack { seq: s, .. }) if s == seq));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn rooms_created_in_a_crowd_while_others_talk_lose_nothing() {
    let flags: Vec<&str> = UNLIMITED.iter().chain(MANY_JOINS).copied().collect();
    let app = spawn_app_with(&flags).await;
    let addr = app.addr();
    let mut talker = app.client().await;
    talker.join("main", "talker").await;
    let talking = tokio::spawn(async move {
        let mut seqs = vec![];
        for i in 0..300 {
            seqs.push(talker.say("main", &format!("t{i}")).await);
        }
        seqs
    });
    let mut creators = vec![];
    for c in 0..20 {
        creators.push(tokio::spawn(async move {
            let mut client = crate::common::Client::connect(addr).await;
            for r in 0..10 {
                let answer = client
                    .try_join(&format!("new-{c}-{r}"), &format!("c{c}"))
                    .await;
                assert!(
                    matches!(answer, ServerFrame::Joined { .. }),
                    "room creation failed: {answer:?}"
                );
            }
            client
        }));
    }
    let mut clients = vec![];
    for creator in creators {
        clients.push(creator.await.expect("every room was created"));
    }
    let seqs = talking.await.expect("every message was acked");
    assert_eq!(seqs, (2..302).collect::<Vec<u64>>(), "in order, no gap");
    for c in 0..20 {
        for r in 0..10 {
            let log = log_of(&app, &format!("new-{c}-{r}")).await;
            let lines: Vec<String> = log.iter().map(line).collect();
            assert_eq!(lines, [format!("c{c} joined")], "the join notice is stored");
        }
    }
}

#[tokio::test]
async fn a_locked_database_stalls_writes_says_so_and_loses_nothing() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    assert_eq!(app.get("/health").await.0, 200);

    // Another process takes the database's write lock and keeps it a while.
    let intruder = DatabaseLock::take(&app).await;
    let id = sadia.new_client_id();
    sadia.say_with_id("main", &id, "patience").await;
    let (status, body) = app.get("/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready"), "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    intruder.release().await;

    // Once the lock is gone the message goes through, once, and all is well.
    let frames = sadia
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
        .await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::Ack { client_id, .. }) if *client_id == id),
        "{frames:?}"
    );
    assert_eq!(app.get("/health").await.0, 200);
    let lines: Vec<String> = log_of(&app, "main").await.iter().map(line).collect();
    assert_eq!(lines, ["sadia joined", "sadia: patience"]);
}

#[tokio::test]
async fn a_restart_is_quiet_for_those_who_come_back() {
    let app = spawn_app().await;
    let mut back = app.client().await;
    back.join("main", "back").await;
    let mut gone = app.client().await;
    gone.join("main", "gone").await;
    let (db, dir) = (app.db.clone(), app.dir);
    app.server.shutdown().await.unwrap();
    assert_eq!(back.close_code().await, Some(1012));

    let server = start_on(db).await;
    let app = TestApp {
        server,
        db: app.db,
        dir,
    };
    // The same tab reconnects at once; the other one never does.
    let mut again = Client::connect(app.addr()).await;
    again.session = back.session.clone();
    let (online, _) = again.join("main", "back").await;
    assert!(
        online.contains(&nick("back")) && online.contains(&nick("gone")),
        "{online:?}"
    );
    let mut lines = vec![];
    for _ in 0..50 {
        lines = log_of(&app, "main").await.iter().map(line).collect();
        if lines.last().map(String::as_str) == Some("gone left") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        lines,
        ["back joined", "gone joined", "gone left"],
        "no second 'back joined'; 'gone left' once the grace is over"
    );
}

#[tokio::test]
async fn a_message_the_store_refuses_is_answered_with_its_id_and_a_resend_stores_it_once() {
    // One try: the journal gives up as soon as the database refuses.
    let app = spawn_app_with(&["--journal-tries", "1"]).await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let intruder = DatabaseLock::take(&app).await;
    let id = sadia.new_client_id();
    sadia.say_with_id("main", &id, "stubborn").await;
    // The database's busy timeout (5 s) passes, then the refusal names the message.
    let frames = sadia
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
        .await;
    match frames.last() {
        Some(ServerFrame::Error {
            code: app::protocol::ErrorCode::Internal,
            client_id: Some(refused),
            message,
            ..
        }) => {
            assert_eq!(*refused, id);
            assert!(!message.contains("send it again"), "{message}");
            assert!(!message.contains("database"), "no internals: {message}");
        }
        other => panic!("expected a refusal naming the message, got {other:?}"),
    }
    intruder.release().await;

    // What the browser then does: the same message, the same id, later.
    sadia.say_with_id("main", &id, "stubborn").await;
    let frames = sadia
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
        .await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::Ack { client_id, .. }) if *client_id == id),
        "{frames:?}"
    );
    // And once more, as after a reconnect: acknowledged, not stored again.
    sadia.say_with_id("main", &id, "stubborn").await;
    sadia
        .recv_until(|f| matches!(f, ServerFrame::Ack { client_id, .. } if *client_id == id))
        .await;
    let lines: Vec<String> = log_of(&app, "main").await.iter().map(line).collect();
    assert_eq!(lines, ["sadia joined", "sadia: stubborn"], "stored once");
}
