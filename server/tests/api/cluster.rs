//! Several servers on one PostgreSQL database with Redis between them: one
//! room, one gap-free order, exactly once, whichever server a person is on,
//! through a Redis restart and a `kill -9` of a server.
//!
//! They run on PostgreSQL whichever store the rest of the run is on (a
//! SQLite file is one server's: the server refuses a bus with it, which
//! `a_bus_needs_a_shared_database` checks): they need the test PostgreSQL
//! server (`CHAT_TEST_POSTGRES`, from scripts/services) and `redis-server` on
//! the PATH (scripts/setup installs both), and fail saying so without them.

use crate::common::*;
use app::messages::Seq;
use app::protocol::ServerFrame;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// Servers' presence lease here: a dead server's people are announced soon.
const LEASE_MS: &str = "1500";
use std::time::Duration;

/// A private Redis server on a free loopback port, restartable on that port.
pub struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Self::spawn(port);
        Self { port, child }
    }

    fn spawn(port: u16) -> Child {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/setup installs it)");
        // Ready once it accepts connections.
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return child;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills Redis (everything it held is gone) and starts a fresh one on the
    /// same port after `down`.
    pub async fn restart(&mut self, down: Duration) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        tokio::time::sleep(down).await;
        self.child = Self::spawn(self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two servers on one new database and one Redis.
struct Pair {
    a: TestApp,
    b: TestApp,
    redis: Redis,
    db: String,
}

async fn pair() -> Pair {
    pair_with(&[]).await
}

async fn pair_with(extra: &[&str]) -> Pair {
    let db = fresh_postgres_database().await;
    let redis = Redis::start();
    let url = redis.url();
    let mut flags = vec!["--bus", &url, "--presence-lease-ms", LEASE_MS];
    flags.extend_from_slice(UNLIMITED);
    flags.extend_from_slice(extra);
    let app = async || TestApp {
        server: start_with(db.clone(), &flags).await,
        db: db.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let (a, b) = (app().await, app().await);
    Pair { a, b, redis, db }
}

/// The server binary on `db` with the bus `redis` (for `kill -9`).
fn start_clustered_binary(db: &str, redis: &Redis) -> (Child, SocketAddr) {
    start_binary(
        db,
        &["--bus", &redis.url(), "--presence-lease-ms", LEASE_MS],
    )
}

/// Collects entry frames for `room` until `done` holds for the seqs seen.
async fn entries_until(
    client: &mut Client,
    done: impl Fn(&[(Seq, String)]) -> bool,
) -> Vec<(Seq, String)> {
    let mut seen = vec![];
    while !done(&seen) {
        if let ServerFrame::Entry { entry, .. } = client.recv().await {
            seen.push((entry.seq, line(&entry)));
        }
    }
    seen
}

fn messages(seen: &[(Seq, String)]) -> usize {
    seen.iter().filter(|(_, l)| l.contains(": ")).count()
}

fn assert_gap_free(seqs: &[Seq]) {
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "in order, no gap, no repeat: {seqs:?}"
        );
    }
}

#[tokio::test]
async fn a_bus_needs_a_shared_database() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let config = server::config::Config::try_parse_from([
        "server",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--bus",
        "redis://127.0.0.1:1",
    ])
    .unwrap();
    let err = server::start(config).await.err().expect("refused");
    assert!(err.to_string().contains("postgres://"), "{err}");
}

#[tokio::test]
async fn people_on_two_servers_talk_in_one_room() {
    let pair = pair().await;
    let mut sadia = Client::connect(pair.a.addr()).await;
    sadia.join("main", "sadia").await;
    let mut usman = Client::connect(pair.b.addr()).await;
    let (online, _) = usman.join("main", "usman").await;
    assert!(
        online.contains(&nick("sadia")),
        "online everywhere: {online:?}"
    );

    sadia.say("main", "from server A").await;
    let heard = usman.hear("from server A").await;
    assert_eq!(heard.nick.as_str(), "sadia");
    usman.say("main", "and back from B").await;
    sadia.hear("and back from B").await;

    // Typing crosses too (it may be lossy, but not here).
    usman.typing("main").await;
    sadia
        .recv_until(|f| matches!(f, ServerFrame::Typing { nick, .. } if nick.as_str() == "usman"))
        .await;
    let body = reqwest::get(format!("http://{}/health", pair.b.addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body, "ok\ndatabase: ok\nbus: ok (redis connected)\nassistant: off (no API key)\n",
        "each part reported"
    );
}

#[tokio::test]
async fn senders_on_both_servers_share_one_gap_free_order() {
    let pair = pair().await;
    let mut on_a = Client::connect(pair.a.addr()).await;
    on_a.join("main", "watcher-a").await;
    let mut on_b = Client::connect(pair.b.addr()).await;
    on_b.join("main", "watcher-b").await;

    const EACH: usize = 60;
    let mut senders = vec![];
    for (n, addr) in [pair.a.addr(), pair.b.addr(), pair.a.addr(), pair.b.addr()]
        .into_iter()
        .enumerate()
    {
        senders.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            client.join("main", &format!("sender{n}")).await;
            // Fire them all, then collect the acks: many in flight at once.
            let ids: Vec<_> = (0..EACH).map(|_| client.new_client_id()).collect();
            for (i, id) in ids.iter().enumerate() {
                client.say_with_id("main", id, &format!("s{n} #{i}")).await;
            }
            let mut acked = 0;
            while acked < EACH {
                if let ServerFrame::Ack { .. } = client.recv().await {
                    acked += 1;
                }
            }
            client
        }));
    }
    let mut keep = vec![];
    for s in senders {
        keep.push(s.await.unwrap());
    }
    let total = 4 * EACH;
    let seen_a = entries_until(&mut on_a, |seen| messages(seen) >= total).await;
    let seen_b = entries_until(&mut on_b, |seen| messages(seen) >= total).await;
    // Both watchers see the same entries, in the same order, from the same
    // point (each joined before any sender; B's watcher joined after A's).
    let from = seen_b[0].0;
    let tail_a: Vec<_> = seen_a.iter().filter(|(s, _)| *s >= from).cloned().collect();
    assert_eq!(tail_a, seen_b, "one order everywhere");
    assert_gap_free(&seen_a.iter().map(|(s, _)| *s).collect::<Vec<_>>());
    // And the database holds exactly that log.
    let log = read_rows_at(
        &pair.db,
        "SELECT seq::TEXT AS n FROM entries ORDER BY entries.seq",
    )
    .await;
    let stored: Vec<Seq> = log.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_gap_free(&stored);
    assert_eq!(stored[0], 1);
    drop(pair.redis);
}

#[tokio::test]
async fn a_resend_through_the_other_server_is_acknowledged_with_the_original_seq() {
    let pair = pair().await;
    let mut sadia = Client::connect(pair.a.addr()).await;
    sadia.join("main", "sadia").await;
    let id = sadia.new_client_id();
    sadia.say_with_id("main", &id, "only once").await;
    let first = sadia
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await
        .into_iter()
        .find_map(|f| match f {
            ServerFrame::Ack { seq, .. } => Some(seq),
            _ => None,
        })
        .unwrap();
    // Her connection to A dropped before the ack arrived; the tab reconnects
    // to B and sends the message again with the same id.
    drop(sadia);
    let mut again = Client::connect(pair.b.addr()).await;
    again.join("main", "sadia-again").await;
    again.say_with_id("main", &id, "only once").await;
    let frames = again
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::Ack { seq, .. }) if *seq == first),
        "{frames:?}"
    );
    let stored = read_rows_at(
        &pair.db,
        "SELECT body FROM entries WHERE kind = 'message' ORDER BY seq",
    )
    .await;
    assert_eq!(stored, [["only once"]]);
}

#[tokio::test]
async fn a_redis_restart_mid_stream_loses_nothing() {
    let mut pair = pair().await;
    let mut listener = Client::connect(pair.b.addr()).await;
    listener.join("main", "listener").await;
    let sender_addr = pair.a.addr();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sender = tokio::spawn(async move {
        let mut sadia = Client::connect(sender_addr).await;
        sadia.join("main", "sadia").await;
        let mut sent = 0;
        loop {
            sadia.say("main", &format!("m{sent}")).await;
            sent += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
            if stop_rx.try_recv().is_ok() {
                return sent;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    pair.redis.restart(Duration::from_millis(500)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop_tx.send(()).unwrap();
    let sent = sender.await.unwrap();
    assert!(
        sent > 20,
        "the sender kept going through the restart ({sent})"
    );
    let seen = entries_until(&mut listener, |seen| messages(seen) >= sent).await;
    let texts: Vec<&str> = seen
        .iter()
        .filter_map(|(_, l)| l.strip_prefix("sadia: "))
        .collect();
    let expected: Vec<String> = (0..sent).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected, "every message once, in order");
    assert_gap_free(&seen.iter().map(|(s, _)| *s).collect::<Vec<_>>());
    // Once Redis is back, the servers say so.
    let mut body = String::new();
    for _ in 0..50 {
        body = reqwest::get(format!("http://{}/health", pair.a.addr()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if body.starts_with("ok") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(body.contains("bus: ok (redis connected)"), "{body}");
}

#[tokio::test]
async fn a_name_taken_on_one_server_is_refused_on_the_other() {
    let pair = pair().await;
    let mut sadia = Client::connect(pair.a.addr()).await;
    sadia.join("main", "sadia").await;
    let mut other = Client::connect(pair.b.addr()).await;
    let refused = other.try_join("main", "SADIA").await;
    assert_eq!(
        error_code(&refused),
        Some(app::protocol::ErrorCode::NickInUse),
        "{refused:?}"
    );
    // Free again once she leaves (after the reconnect grace).
    drop(sadia);
    let mut taken = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut again = Client::connect(pair.b.addr()).await;
        if matches!(
            again.try_join("main", "SADIA").await,
            ServerFrame::Joined { .. }
        ) {
            taken = true;
            break;
        }
    }
    assert!(taken, "the name is free on B once she left A");
    let lines: Vec<String> = log_at(&pair.db).await;
    assert_eq!(lines, ["sadia joined", "sadia left", "SADIA joined"]);
}

#[tokio::test]
async fn a_rolling_restart_moves_people_to_the_other_server_without_notices_or_loss() {
    let pair = pair().await;
    let mut sadia = Client::connect(pair.a.addr()).await;
    sadia.join("main", "sadia").await;
    let mut usman = Client::connect(pair.b.addr()).await;
    usman.join("main", "usman").await;
    let before = sadia.say("main", "before the restart").await;

    // A stops (SIGTERM); its clients are told to come back, and behind the
    // proxy they land on B, resuming from their last seq.
    let Pair { a, b, redis, db } = pair;
    a.server.shutdown().await.unwrap();
    assert_eq!(sadia.close_code().await, Some(1012));
    usman.say("main", "while she moves").await;
    let mut back = Client::connect(b.addr()).await;
    back.carry_on_from(&sadia);
    back.join_since("main", "sadia", Some(before)).await;
    back.hear("while she moves").await;
    back.say("main", "after the move").await;
    usman.hear("after the move").await;

    // Well past A's lease: nobody was announced as gone or back.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        log_at(&db).await,
        [
            "sadia joined",
            "usman joined",
            "sadia: before the restart",
            "usman: while she moves",
            "sadia: after the move"
        ]
    );
    drop(redis);
}

#[tokio::test]
async fn a_tab_that_drops_and_reconnects_to_the_other_server_within_the_grace_is_not_news() {
    let pair = pair().await;
    let mut sadia = Client::connect(pair.a.addr()).await;
    sadia.join("main", "sadia").await;
    let mut usman = Client::connect(pair.b.addr()).await;
    usman.join("main", "usman").await;
    // Her connection to A drops (A stays up); the tab reconnects through the
    // proxy, to B this time, before A's grace (300 ms here) is over.
    let mut back = Client::connect(pair.b.addr()).await;
    back.carry_on_from(&sadia);
    drop(sadia);
    back.join("main", "sadia").await;
    tokio::time::sleep(GRACE * 4).await;
    back.say("main", "still here").await;
    usman.hear("still here").await;
    assert_eq!(
        log_at(&pair.db).await,
        ["sadia joined", "usman joined", "sadia: still here"],
        "A's grace ended without a 'left': B holds her name"
    );
}

#[tokio::test]
async fn when_a_server_dies_its_people_are_announced_gone_once_by_a_survivor() {
    let db = fresh_postgres_database().await;
    let redis = Redis::start();
    let (mut a, addr_a) = start_clustered_binary(&db, &redis);
    // Two survivors, both looking for dead servers.
    let flags = ["--bus", &redis.url(), "--presence-lease-ms", LEASE_MS];
    let b = start_with(db.clone(), &flags).await;
    let c = start_with(db.clone(), &flags).await;
    let mut sadia = Client::connect(addr_a).await;
    sadia.join("main", "sadia").await;
    let mut usman = Client::connect(b.addr).await;
    usman.join("main", "usman").await;
    let mut zara = Client::connect(c.addr).await;
    zara.join("main", "zara").await;

    a.kill().unwrap();
    a.wait().unwrap();
    // Her lease (1.5 s) expires; one survivor announces her, once.
    usman.recv_until(|f| says(f, "sadia left")).await;
    zara.recv_until(|f| says(f, "sadia left")).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let lefts = log_at(&db)
        .await
        .into_iter()
        .filter(|l| l == "sadia left")
        .count();
    assert_eq!(lefts, 1, "announced exactly once");
    // And her name is free again.
    let mut again = Client::connect(b.addr).await;
    again.join("main", "sadia").await;
}

#[tokio::test]
async fn logging_out_on_one_server_closes_the_session_s_socket_on_the_other() {
    use crate::accounts::{PASSWORD, post, sign_up, signed_in_client};
    let pair = pair().await;
    let cookie = sign_up(&pair.a, "sadia", PASSWORD).await;
    let mut on_b = signed_in_client(&pair.b, &cookie).await;
    on_b.join("main", "sadia").await;
    assert_eq!(
        post(&pair.a, "/logout", &[], Some(&cookie)).await.status,
        303
    );
    assert_eq!(on_b.close_code().await, Some(4003), "signed out everywhere");
}

#[tokio::test]
async fn an_account_takes_its_name_from_a_guest_on_the_other_server() {
    use crate::accounts::{PASSWORD, sign_up, signed_in_client};
    let pair = pair().await;
    let mut guest = Client::connect(pair.b.addr()).await;
    guest.join("main", "Sadia").await;
    let cookie = sign_up(&pair.a, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(&pair.a, &cookie).await;
    assert!(matches!(
        sadia.try_join("main", "sadia").await,
        ServerFrame::Joined { .. }
    ));
    guest
        .recv_until(|f| error_code(f) == Some(app::protocol::ErrorCode::NameReserved))
        .await;
    assert_eq!(
        log_at(&pair.db).await,
        ["Sadia joined", "Sadia left", "sadia joined"]
    );
}

/// #club, owned by sadia, signed in on A, with the guest zara in it on B;
/// `(sadia's cookie, sadia, zara)`.
async fn club_across(pair: &Pair) -> (String, Client, Client) {
    use crate::accounts::{PASSWORD, sign_up, signed_in_client};
    let owner = sign_up(&pair.a, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(&pair.a, &owner).await;
    sadia.join("club", "sadia").await;
    let mut zara = Client::connect(pair.b.addr()).await;
    zara.join("club", "zara").await;
    (owner, sadia, zara)
}

#[tokio::test]
async fn closing_a_room_to_guests_on_one_server_sends_its_guests_out_on_the_other() {
    use crate::accounts::close_to_guests;
    let pair = pair().await;
    let (owner, mut sadia, mut zara) = club_across(&pair).await;

    let closed = close_to_guests(&pair.a, "club", &owner).await;
    assert_eq!(closed.status, 303);
    zara.recv_until(|f| error_code(f) == Some(app::protocol::ErrorCode::AccountsOnly))
        .await;
    sadia.recv_until(|f| says(f, "zara left")).await;
    let mut late = Client::connect(pair.b.addr()).await;
    assert_eq!(
        error_code(&late.try_join("club", "usman").await),
        Some(app::protocol::ErrorCode::AccountsOnly),
        "B knows the room is closed"
    );
    let lefts = log_at(&pair.db)
        .await
        .into_iter()
        .filter(|l| l == "zara left")
        .count();
    assert_eq!(lefts, 1);
}

#[tokio::test]
async fn notices_hidden_on_one_server_are_quiet_on_the_other() {
    use crate::accounts::post;
    use app::messages::EntryKind;
    let pair = pair().await;
    // The room is in B's memory too.
    let (owner, _sadia, mut zara) = club_across(&pair).await;

    let hidden = post(
        &pair.a,
        "/account/rooms",
        &[("room", "club"), ("quiet_notices", "on")],
        Some(&owner),
    )
    .await;
    assert_eq!(hidden.status, 303);
    // B hears of it over the bus, a moment later: arrivals on B are quiet
    // from then on.
    let quiet = tokio::time::timeout(WAIT, async {
        for n in 0.. {
            let name = format!("guest{n}");
            let mut guest = Client::connect(pair.b.addr()).await;
            guest.join("club", &name).await;
            let joined = format!("{name} joined");
            let frames = zara.recv_until(|f| says(f, &joined)).await;
            if let Some(ServerFrame::Entry { entry, .. }) = frames.last()
                && matches!(entry.kind, EntryKind::Crowd(_, _, true))
            {
                return n;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        unreachable!()
    })
    .await;
    assert!(quiet.is_ok(), "B's notices went quiet");
}

#[tokio::test]
async fn a_ban_on_one_server_sends_the_person_out_on_the_other_and_holds_there() {
    use app::protocol::{ClientFrame, ErrorCode};
    let pair = pair().await;
    let (_, mut sadia, mut zara) = club_across(&pair).await;
    let spam = zara.say("club", "spam").await;
    sadia.hear("spam").await;

    sadia
        .send_frame(&ClientFrame::Ban {
            room: room("club"),
            target: spam,
        })
        .await;
    zara.recv_until(|f| error_code(f) == Some(ErrorCode::Banned))
        .await;
    sadia.recv_until(|f| says(f, "zara left")).await;
    // The ban is in the shared database: both servers keep her out.
    for server in [&pair.a, &pair.b] {
        let mut back = Client::connect(server.addr()).await;
        back.carry_on_from(&zara);
        assert_eq!(
            error_code(&back.try_join("club", "zara2").await),
            Some(ErrorCode::Banned)
        );
    }
}

/// Every line of the logs in the database at `url` (tests here use one room).
async fn log_at(url: &str) -> Vec<String> {
    read_rows_at(
        url,
        "SELECT nick, kind, COALESCE(body, '') FROM entries ORDER BY seq",
    )
    .await
    .into_iter()
    .map(|r| match r[1].as_str() {
        "message" => format!("{}: {}", r[0], r[2]),
        kind => format!("{} {kind}", r[0]),
    })
    .collect()
}

#[tokio::test]
async fn after_kill_9_of_one_server_its_people_carry_on_on_the_other_with_nothing_lost() {
    let db = fresh_postgres_database().await;
    let redis = Redis::start();
    let (mut a, addr_a) = start_clustered_binary(&db, &redis);
    let (mut b, addr_b) = start_clustered_binary(&db, &redis);
    let mut listener = Client::connect(addr_b).await;
    listener.join("main", "listener").await;

    // Two senders on A write as fast as acks come back, recording each ack
    // and the message they were sending when A died.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut senders = vec![];
    for n in 0..2 {
        let acked = acked_tx.clone();
        senders.push(tokio::spawn(async move {
            let mut client = Client::connect(addr_a).await;
            client.join("main", &format!("sender{n}")).await;
            for i in 0.. {
                let id = client.new_client_id();
                let text = format!("s{n} #{i}");
                client.say_with_id("main", &id, &text).await;
                loop {
                    match futures::StreamExt::next(&mut client.ws).await {
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                            if let Ok(ServerFrame::Ack { client_id, seq, .. }) =
                                serde_json::from_str(&t)
                                && client_id == id
                            {
                                let _ = acked.send((text.clone(), seq));
                                break;
                            }
                        }
                        Some(Ok(_)) => {}
                        // A died: what was in flight is resent through B.
                        _ => return (n, client.session.clone(), id, text),
                    }
                }
            }
            unreachable!()
        }));
    }
    drop(acked_tx);
    let mut acked: HashMap<String, Seq> = HashMap::new();
    while acked.len() < 100 {
        let (text, seq) = acked_rx.recv().await.unwrap();
        acked.insert(text, seq);
    }
    a.kill().unwrap();
    a.wait().unwrap();
    for sender in senders {
        let (n, session, id, text) = sender.await.unwrap();
        // The tab reconnects (to B, behind the proxy) and resends.
        let mut again = Client::connect(addr_b).await;
        again.session = session;
        again.join("main", &format!("sender{n}")).await;
        again.say_with_id("main", &id, &text).await;
        let frames = again
            .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
            .await;
        if let Some(ServerFrame::Ack { seq, .. }) = frames.last() {
            acked.insert(text, *seq);
        }
    }
    while let Ok((text, seq)) = acked_rx.try_recv() {
        acked.insert(text, seq);
    }
    // The listener on B heard every acknowledged message exactly once, at its seq.
    let most = *acked.values().max().unwrap();
    let seen = entries_until(&mut listener, |seen| {
        seen.last().is_some_and(|(s, _)| *s >= most)
    })
    .await;
    assert_gap_free(&seen.iter().map(|(s, _)| *s).collect::<Vec<_>>());
    let by_text: HashMap<String, Seq> = seen
        .iter()
        .filter_map(|(s, l)| Some((l.split_once(": ")?.1.to_owned(), *s)))
        .collect();
    for (text, seq) in &acked {
        assert_eq!(by_text.get(text), Some(seq), "{text} heard once at its seq");
    }
    let count = read_rows_at(
        &db,
        "SELECT COUNT(*)::TEXT FROM entries WHERE kind = 'message'",
    )
    .await[0][0]
        .parse::<usize>()
        .unwrap();
    assert_eq!(count, messages(&seen), "nothing stored twice");
    b.kill().unwrap();
    b.wait().unwrap();
}

/// The count of entries a server heard on the bus, from its `/metrics`.
async fn bus_lag_count(app: &TestApp) -> f64 {
    sample(
        &app.scrape("lag-scrape").await,
        "chat_bus_lag_seconds_count",
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn the_bus_lag_is_counted_for_every_entry_another_server_announces() {
    let db = fresh_postgres_database().await;
    let redis = Redis::start();
    let url = redis.url();
    let flags = ["--bus", &url, "--metrics-token", "lag-scrape"];
    let app = async || TestApp {
        server: start_with(db.clone(), &flags).await,
        db: db.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let (a, b) = (app().await, app().await);
    let mut listener = Client::connect(b.addr()).await;
    listener.join("main", "usman").await;
    let mut speaker = Client::connect(a.addr()).await;
    speaker.join("main", "sadia").await;

    // Other tests' servers share this process's histogram: at least ours.
    let before = bus_lag_count(&b).await;
    for n in 0..5 {
        speaker.say("main", &format!("lag {n}")).await;
    }
    listener.hear("lag 4").await;
    // A sweep may deliver an entry from the database before its announcement.
    let waited = std::time::Instant::now();
    let mut after = bus_lag_count(&b).await;
    while after < before + 5.0 && waited.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = bus_lag_count(&b).await;
    }
    assert!(
        after >= before + 5.0,
        "five messages heard over Redis: {before} then {after}"
    );
}

#[tokio::test]
async fn a_member_taken_out_of_a_private_room_on_one_server_leaves_it_on_the_other() {
    use crate::accounts::{PASSWORD, post, sign_up, signed_in_client};
    use app::protocol::ErrorCode;
    let pair = pair().await;
    let owner = sign_up(&pair.a, "sadia", PASSWORD).await;
    let made = post(
        &pair.a,
        "/account/private-rooms",
        &[("room", "team")],
        Some(&owner),
    )
    .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let team = made.location().strip_prefix("/r/").unwrap().to_owned();
    let usman = sign_up(&pair.a, "usman", PASSWORD).await;
    let invite = [("room", team.as_str()), ("name", "usman"), ("on", "on")];
    assert_eq!(
        post(&pair.a, "/account/members", &invite, Some(&owner))
            .await
            .status,
        303
    );
    let mut sadia = signed_in_client(&pair.a, &owner).await;
    sadia.join(&team, "sadia").await;
    // usman, on B, heard that he was let in on A; he reads and talks on B.
    let mut member = signed_in_client(&pair.b, &usman).await;
    let invite_again = [("room", team.as_str()), ("name", "usman"), ("on", "on")];
    assert_eq!(
        post(&pair.a, "/account/members", &invite_again, Some(&owner))
            .await
            .status,
        303
    );
    member
        .recv_until(|f| matches!(f, ServerFrame::Invited { room, .. } if room.as_str() == team))
        .await;
    member.join(&team, "usman").await;
    // His device is published on B, the epoch made on A, the message sealed
    // with it accepted on B.
    assert_eq!(
        crate::e2e::publish(&pair.b, &usman, "usman1").await.status,
        200
    );
    let epoch = crate::e2e::rekey(&pair.a, &usman, &team, "usman1").await;
    member
        .say(&team, &crate::e2e::sealed(epoch, "usman1", "aGVsbG9i"))
        .await;

    let out = [("room", team.as_str()), ("name", "usman"), ("on", "off")];
    assert_eq!(
        post(&pair.a, "/account/members", &out, Some(&owner))
            .await
            .status,
        303
    );
    // Told on B, as if the room were gone; and B refuses him from now on.
    assert_eq!(member.refusal().await, ErrorCode::NoSuchRoom);
    sadia.recv_until(|f| says(f, "usman left")).await;
    let again = member.try_join(&team, "usman").await;
    assert_eq!(error_code(&again), Some(ErrorCode::NoSuchRoom));
}

#[tokio::test]
async fn the_assistant_answers_once_for_both_servers_and_one_question_at_a_time_per_room() {
    use crate::assistant::{Turn, answer, body, provider};
    use app::protocol::{AssistStep, ClientFrame};
    let slow = Turn::Stream {
        pieces: vec!["word "; 60],
        gap: Duration::from_millis(50),
        finish: "stop",
    };
    let (url, asked) = provider(vec![slow]).await;
    let pair = pair_with(&[
        "--ai-base-url",
        &url,
        "--ai-api-key",
        "k",
        "--ai-cooldown-ms",
        "1",
    ])
    .await;
    let mut sadia = Client::connect(pair.a.addr()).await;
    sadia.join("main", "sadia").await;
    let mut usman = Client::connect(pair.b.addr()).await;
    usman.join("main", "usman").await;
    sadia.say("main", "@assistant count words").await;
    // The answer grows on the other server too.
    usman
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::Assist {
                    step: AssistStep::Text(..),
                    ..
                }
            )
        })
        .await;
    // A question through the other server meanwhile waits its turn.
    usman.say("main", "@assistant and me?").await;
    usman
        .recv_until(|f| matches!(f, ServerFrame::Assist { step: AssistStep::Refused(why), .. } if why.contains("another question")))
        .await;
    // The asker, in a tab on the other server, stops it from there.
    let mut again = Client::connect(pair.b.addr()).await;
    again.carry_on_from(&sadia);
    again.join("main", "sadia").await;
    drop(sadia);
    again
        .send_frame(&ClientFrame::StopAssistant { room: room("main") })
        .await;
    let (heard, _) = answer(&mut usman).await;
    assert!(body(&heard).ends_with("(stopped)"), "{}", body(&heard));
    assert_eq!(asked.lock().unwrap().len(), 1);
    // Stored once, the same on both servers.
    for server in [&pair.a, &pair.b] {
        let answers: Vec<_> = log_of(server, "main")
            .await
            .into_iter()
            .filter(|e| e.bot)
            .collect();
        assert_eq!(answers, std::slice::from_ref(&heard));
    }
}
