//! Fault test: the real binary is killed with SIGKILL mid-stream and restarted
//! on the same database; every acknowledged message is there, none twice.

use crate::common::*;
use app::protocol::ServerFrame;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

fn start_binary(db: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0", "--database-url", db])
        .args(UNLIMITED)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let addr = read_start_line(child.stdout.take().unwrap());
    (child, addr)
}

#[tokio::test]
async fn every_acknowledged_message_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let (mut child, addr) = start_binary(&db);

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

    let (mut child, addr) = start_binary(&db);
    let mut reader = crate::common::Client::connect(addr).await;
    reader.join_since("main", "auditor", Some(0)).await;
    let frames = reader
        .recv_until(|f| notice(f).as_deref() == Some("auditor joined"))
        .await;
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
