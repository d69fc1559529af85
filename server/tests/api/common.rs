//! Test harness: a real server on port 0 with a real database, and real
//! WebSocket clients speaking the app's protocol.
//!
//! The database is a new SQLite file per test, or, with
//! `CHAT_TEST_STORE=postgres`, a new database per test on the PostgreSQL
//! server `CHAT_TEST_POSTGRES` names: the same suite runs on both stores.
//! The several-server tests need that server whichever store the rest runs
//! on (scripts/services starts one: `source scripts/services`).

use app::messages::{ClientId, Entry, EntryKind, MessageBody, Seq};
use app::people::{Nick, SessionId};
use app::protocol::{ClientFrame, ServerFrame};
use app::rooms::RoomName;
use futures::{SinkExt, StreamExt};
use server::config::Config;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);
/// Reconnect grace in tests: long enough to reconnect over loopback, short
/// enough that a real leave shows up quickly.
pub const GRACE: Duration = Duration::from_millis(300);
/// Flags lifting the per-connection rate limit, for tests that send in bulk.
pub const UNLIMITED: &[&str] = &[
    "--rate-burst",
    "100000",
    "--rate-per-sec",
    "100000",
    "--address-rate-burst",
    "100000",
    "--address-rate-per-sec",
    "100000",
];

pub struct TestApp {
    pub server: server::Server,
    /// The database's URL.
    pub db: String,
    /// Keeps the database folder alive as long as the app.
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// A fresh client connected to `/ws`.
    pub async fn client(&self) -> Client {
        Client::connect(self.addr()).await
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = reqwest::get(format!("http://{}{path}", self.addr()))
            .await
            .expect("GET works");
        let status = res.status().as_u16();
        (status, res.text().await.expect("body reads"))
    }

    /// The `/metrics` text, scraped with `token` as the scraper would.
    pub async fn scrape(&self, token: &str) -> String {
        let answer = reqwest::Client::new()
            .get(format!("http://{}/metrics", self.addr()))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /metrics works");
        assert_eq!(answer.status(), 200, "the scraper's token is taken");
        answer.text().await.expect("body reads")
    }

    /// POSTs a form from this site (as the page's own script would).
    pub async fn post_form(&self, path: &str, form: &str) -> (u16, String) {
        let origin = format!("http://{}", self.addr());
        let res = reqwest::Client::new()
            .post(format!("{origin}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &origin)
            .body(form.to_owned())
            .send()
            .await
            .expect("POST works");
        let status = res.status().as_u16();
        (status, res.text().await.expect("body reads"))
    }
}

/// The value of the sample `name` (without labels) in a `/metrics` text.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

pub async fn start_on(db: String) -> server::Server {
    start_with(db, &[]).await
}

/// With `CHAT_TEST_BUS=redis`, every server in the run uses the test Redis
/// (`CHAT_TEST_REDIS`) as its bus, so every feature is tested on it too.
pub fn bus_flags() -> Vec<String> {
    if std::env::var("CHAT_TEST_BUS").is_ok_and(|bus| bus == "redis") {
        let redis = std::env::var("CHAT_TEST_REDIS")
            .expect("CHAT_TEST_BUS=redis needs CHAT_TEST_REDIS (source scripts/services)");
        vec!["--bus".to_owned(), redis]
    } else {
        vec![]
    }
}

static MEDIA_STORES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Where a test server keeps uploads: beside its SQLite file, in a folder of
/// its own under the system's temporary folder, or, with
/// `CHAT_TEST_MEDIA=s3`, under a prefix of its own in the test bucket
/// (`CHAT_TEST_S3_BUCKET`, on the S3-compatible server scripts/services
/// starts), so the media tests run on both blob stores.
pub fn media_flags(db: &str) -> Vec<String> {
    let n = MEDIA_STORES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let store = if std::env::var("CHAT_TEST_MEDIA").is_ok_and(|m| m == "s3") {
        let bucket = std::env::var("CHAT_TEST_S3_BUCKET")
            .expect("CHAT_TEST_MEDIA=s3 needs CHAT_TEST_S3_BUCKET (source scripts/services)");
        format!("s3://{bucket}/test-{}-{n}", std::process::id())
    } else if let Some(path) = db.strip_prefix("sqlite://") {
        format!("{path}.media")
    } else {
        std::env::temp_dir()
            .join(format!("chat-test-media-{}-{n}", std::process::id()))
            .display()
            .to_string()
    };
    vec!["--media-store".to_owned(), store]
}

/// True when this run of the suite is on PostgreSQL (`CHAT_TEST_STORE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("CHAT_TEST_STORE").is_ok_and(|store| store == "postgres")
}

static DATABASES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A new, empty database for one test, on the store this run is on: a
/// SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    if on_postgres() {
        fresh_postgres_database().await
    } else {
        format!("sqlite://{}", dir.join("chat.db").display())
    }
}

/// A SQLite database at `dir/chat.db` migrated only up to migration `last`
/// (its number, e.g. "0002"), as a server of that age left it: its URL and
/// a connection to fill it. SQLite only, whichever store the run is on:
/// PostgreSQL databases start at a later schema.
pub async fn sqlite_database_up_to(
    dir: &std::path::Path,
    last: &str,
) -> (String, sqlx::SqliteConnection) {
    use sqlx::Connection;
    let old = dir.join("migrations");
    std::fs::create_dir(&old).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for file in std::fs::read_dir(all).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().into_string().unwrap();
        if name[..last.len()] <= *last {
            std::fs::copy(file.path(), old.join(&name)).unwrap();
        }
    }
    let url = format!("sqlite://{}", dir.join("chat.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    (url, conn)
}

/// A new, empty database on the test PostgreSQL server; fails the test,
/// saying how to start one, when there is none.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let server = std::env::var("CHAT_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
        .expect(
            "CHAT_TEST_POSTGRES names no PostgreSQL server: run ./scripts/test, \
             or `source scripts/services` first",
        );
    let name = format!(
        "chat_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("the test PostgreSQL server answers");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = server.rsplit_once('/').expect("a database URL").0;
    format!("{base}/{name}")
}

/// Starts the real server binary on port 0 with the database `db` and extra
/// flags, send limits lifted; returns the process and its address.
pub fn start_binary(db: &str, flags: &[&str]) -> (std::process::Child, SocketAddr) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0", "--database-url", db])
        .args(flags)
        .args(UNLIMITED)
        .args(if flags.contains(&"--media-store") {
            vec![]
        } else {
            media_flags(db)
        })
        .args(if flags.contains(&"--bus") {
            vec![]
        } else {
            bus_flags()
        })
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let addr = read_start_line(child.stdout.take().unwrap());
    (child, addr)
}

/// Every row `sql` returns, its columns read as text (tests look inside the
/// database with the same SQL on both stores).
pub async fn read_rows(app: &TestApp, sql: &str) -> Vec<Vec<String>> {
    read_rows_at(&app.db, sql).await
}

/// [`read_rows`] on the database at `url`.
pub async fn read_rows_at(url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::{Connection, Row};
    if url.starts_with("postgres") {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&mut db).await.unwrap();
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
            .collect()
    } else {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&mut db).await.unwrap();
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
            .collect()
    }
}

/// Starts a server on port 0 with the database `url` and extra command-line flags.
pub async fn start_with(url: String, flags: &[&str]) -> server::Server {
    use clap::Parser;
    let grace = GRACE.as_millis().to_string();
    let mut args = vec![
        "server",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--reconnect-grace-ms",
        &grace,
    ];
    args.extend_from_slice(flags);
    // Notices said at once, so logs read in the order things happened;
    // `notices.rs` tests the grouping every server runs by default.
    if !flags.contains(&"--notice-window-ms") {
        args.extend(["--notice-window-ms", "0"]);
    }
    let bus = bus_flags();
    if !flags.contains(&"--bus") {
        args.extend(bus.iter().map(String::as_str));
    }
    let media = media_flags(&url);
    if !flags.contains(&"--media-store") {
        args.extend(media.iter().map(String::as_str));
    }
    let config = Config::try_parse_from(args).expect("test flags parse");
    server::start(config).await.expect("server starts")
}

/// Starts a server with extra flags on a new database.
pub async fn spawn_app_with(flags: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database(dir.path()).await;
    let server = start_with(db.clone(), flags).await;
    TestApp { server, db, dir }
}

/// Starts a server on port 0 with a new database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}
pub fn nick(name: &str) -> Nick {
    Nick::parse(name).unwrap()
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub session: SessionId,
    next_id: u32,
    /// Frames read while waiting for an ack, handed out by `recv` first.
    backlog: std::collections::VecDeque<ServerFrame>,
}

static SESSIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("WebSocket connects");
        Self::from_stream(ws)
    }

    /// Connects from another loopback address (any 127.x.y.z reaches the
    /// server), so per-address limits see a different person.
    pub async fn connect_from(addr: SocketAddr, source: std::net::Ipv4Addr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind(SocketAddr::new(source.into(), 0))
            .expect("binds to the loopback source");
        let tcp = socket.connect(addr).await.expect("connects");
        let (ws, _) =
            tokio_tungstenite::client_async(format!("ws://{addr}/ws"), MaybeTlsStream::Plain(tcp))
                .await
                .expect("WebSocket connects");
        Self::from_stream(ws)
    }

    /// Reads until the server's close frame; returns its code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a close frame in time")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Wraps an already connected WebSocket (custom socket options).
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let n = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            ws,
            session: SessionId::parse(&format!("session-{n}")).unwrap(),
            next_id: 0,
            backlog: Default::default(),
        }
    }

    pub async fn send_frame(&mut self, frame: &ClientFrame) {
        self.send_text(&frame.to_json()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("frame sends");
    }

    /// The next protocol frame (pings and pongs skipped); panics on timeout.
    pub async fn recv(&mut self) -> ServerFrame {
        if let Some(frame) = self.backlog.pop_front() {
            return frame;
        }
        self.recv_live().await
    }

    async fn recv_live(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame arrives in time")
                .expect("the socket is open")
                .expect("the frame reads");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(&text).expect("server frames parse");
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// Frames until (and including) the first that matches.
    pub async fn recv_until(&mut self, done: impl Fn(&ServerFrame) -> bool) -> Vec<ServerFrame> {
        let mut seen = vec![];
        loop {
            let frame = self.recv().await;
            let stop = done(&frame);
            seen.push(frame);
            if stop {
                return seen;
            }
        }
    }

    pub async fn join_since(&mut self, room_name: &str, nick_name: &str, since: Option<Seq>) {
        let frame = ClientFrame::Join {
            room: room(room_name),
            nick: nick(nick_name),
            session: self.session.clone(),
            since,
        };
        self.send_frame(&frame).await;
    }

    /// Joins and waits for the `Joined` answer; returns (online, head).
    pub async fn join(&mut self, room_name: &str, nick_name: &str) -> (Vec<Nick>, Seq) {
        match self.try_join(room_name, nick_name).await {
            ServerFrame::Joined { online, head, .. } => {
                (online.into_iter().map(|p| p.nick).collect(), head)
            }
            other => panic!("expected joined, got {other:?}"),
        }
    }

    /// The same tab on a new connection: its session, and its message ids
    /// going on from where they were.
    pub fn carry_on_from(&mut self, tab: &Client) {
        self.session = tab.session.clone();
        self.next_id = tab.next_id;
    }

    pub fn new_client_id(&mut self) -> ClientId {
        self.next_id += 1;
        ClientId::parse(&format!("{}-m{}", self.session.as_str(), self.next_id)).unwrap()
    }

    pub async fn say_with_id(&mut self, room_name: &str, client_id: &ClientId, text: &str) {
        let frame = ClientFrame::Send {
            room: room(room_name),
            client_id: client_id.clone(),
            body: MessageBody::parse(text).unwrap(),
            reply_to: None,
            media: vec![],
        };
        self.send_frame(&frame).await;
    }

    /// Sends `text` as a reply to message `to`; returns its `seq` once acked.
    pub async fn reply(&mut self, room_name: &str, to: Seq, text: &str) -> Seq {
        let id = self.new_client_id();
        self.send_frame(&ClientFrame::Send {
            room: room(room_name),
            client_id: id.clone(),
            body: MessageBody::parse(text).unwrap(),
            reply_to: Some(to),
            media: vec![],
        })
        .await;
        loop {
            match self.recv_live().await {
                ServerFrame::Ack { client_id, seq, .. } if client_id == id => return seq,
                other => self.backlog.push_back(other),
            }
        }
    }

    /// Waits for the next edit, deletion or reaction entry.
    pub async fn hear_action(&mut self) -> Entry {
        let frames = self
            .recv_until(
                |f| matches!(f, ServerFrame::Entry { entry, .. } if entry.kind.target().is_some()),
            )
            .await;
        match frames.into_iter().last() {
            Some(ServerFrame::Entry { entry, .. }) => entry,
            _ => unreachable!(),
        }
    }

    /// Waits for the next error frame; returns its code.
    pub async fn refusal(&mut self) -> app::protocol::ErrorCode {
        let frames = self.recv_until(|f| error_code(f).is_some()).await;
        error_code(frames.last().expect("an error")).expect("an error")
    }

    /// Leaves `room_name` (no answer when it works).
    pub async fn leave(&mut self, room_name: &str) {
        self.send_frame(&ClientFrame::Leave {
            room: room(room_name),
        })
        .await;
    }

    /// Joins and returns the answer: `Joined`, or the error that refused it.
    pub async fn try_join(&mut self, room_name: &str, nick_name: &str) -> ServerFrame {
        self.join_since(room_name, nick_name, None).await;
        let frames = self
            .recv_until(|f| match f {
                ServerFrame::Joined { room, .. } => room.as_str() == room_name,
                ServerFrame::Error { .. } => true,
                _ => false,
            })
            .await;
        frames.into_iter().last().expect("an answer")
    }

    /// Tells `room_name` this client is typing.
    pub async fn typing(&mut self, room_name: &str) {
        self.send_frame(&ClientFrame::Typing {
            room: room(room_name),
        })
        .await;
    }

    /// Sends a message and waits for its ack; returns its `seq`. Other frames
    /// read meanwhile stay queued for `recv`.
    pub async fn say(&mut self, room_name: &str, text: &str) -> Seq {
        let id = self.new_client_id();
        self.say_with_id(room_name, &id, text).await;
        loop {
            match self.recv_live().await {
                ServerFrame::Ack { client_id, seq, .. } if client_id == id => return seq,
                other => self.backlog.push_back(other),
            }
        }
    }

    /// Waits for the message entry with this text; returns the entry.
    pub async fn hear(&mut self, text: &str) -> Entry {
        let frames = self.recv_until(|f| message_text(f) == Some(text)).await;
        match frames.into_iter().last() {
            Some(ServerFrame::Entry { entry, .. }) => entry,
            _ => unreachable!(),
        }
    }
}

/// The text of a message entry frame.
pub fn message_text(frame: &ServerFrame) -> Option<&str> {
    match frame {
        ServerFrame::Entry {
            entry:
                Entry {
                    kind: EntryKind::Message { body, .. },
                    ..
                },
            ..
        } => Some(body.as_str()),
        _ => None,
    }
}

/// "nick joined" / "nick left" for notice entries (a crowd's, one per
/// person, joined with ", ").
pub fn notice(frame: &ServerFrame) -> Option<String> {
    match frame {
        ServerFrame::Entry { entry, .. } => notice_lines(entry).map(|lines| lines.join(", ")),
        _ => None,
    }
}

/// A notice entry's "nick joined" / "nick left", one per person.
pub fn notice_lines(entry: &Entry) -> Option<Vec<String>> {
    match &entry.kind {
        EntryKind::Joined => Some(vec![format!("{} joined", entry.nick)]),
        EntryKind::Left => Some(vec![format!("{} left", entry.nick)]),
        EntryKind::Crowd(joined, left, _) => Some(
            joined
                .iter()
                .map(|p| format!("{} joined", p.nick))
                .chain(left.iter().map(|n| format!("{n} left")))
                .collect(),
        ),
        _ => None,
    }
}

/// The frame is a notice saying `what` ("zara left"), alone or in a crowd.
pub fn says(frame: &ServerFrame, what: &str) -> bool {
    match frame {
        ServerFrame::Entry { entry, .. } => {
            notice_lines(entry).is_some_and(|lines| lines.iter().any(|l| l == what))
        }
        _ => false,
    }
}

/// Every entry of `room_name`'s log, oldest first, read from the store.
pub async fn log_of(app: &TestApp, room_name: &str) -> Vec<Entry> {
    app.server
        .hub()
        .store()
        .page(&room(room_name), None, 10_000)
        .await
        .expect("the log reads")
}

/// "nick joined" / "nick left" for notice entries, "nick: text" for messages.
pub fn line(entry: &Entry) -> String {
    match &entry.kind {
        EntryKind::Joined | EntryKind::Left | EntryKind::Crowd(..) => {
            notice_lines(entry).unwrap_or_default().join(", ")
        }
        EntryKind::Message { body, .. } => format!("{}: {}", entry.nick, body.as_str()),
        EntryKind::Deleted => format!("{}: (deleted)", entry.nick),
        EntryKind::Edit(target, body) => {
            format!("{} edited {target}: {}", entry.nick, body.as_str())
        }
        EntryKind::Delete(target) => format!("{} deleted {target}", entry.nick),
        EntryKind::React(target, emoji, on) => {
            let verb = if *on { "reacted" } else { "unreacted" };
            format!("{} {verb} {} to {target}", entry.nick, emoji.as_str())
        }
    }
}

/// Another process's hold on the database's write lock, as a stuck writer or
/// a backup would take it (on PostgreSQL: exclusive locks on the tables
/// every write touches).
pub enum DatabaseLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl DatabaseLock {
    pub async fn take(app: &TestApp) -> Self {
        use sqlx::Connection;
        if app.db.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(&app.db).await.unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE rooms, entries, health IN ACCESS EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            return Self::Postgres(conn);
        }
        let mut conn = sqlx::SqliteConnection::connect(&app.db).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .unwrap();
        Self::Sqlite(conn)
    }

    pub async fn release(self) {
        match self {
            Self::Sqlite(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
            Self::Postgres(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
        }
    }
}

/// Lifts the budgets of announced joins, for tests that join many rooms.
pub const MANY_JOINS: &[&str] = &["--join-burst", "100000", "--address-join-burst", "100000"];

/// The code of an error frame.
pub fn error_code(frame: &ServerFrame) -> Option<app::protocol::ErrorCode> {
    match frame {
        ServerFrame::Error { code, .. } => Some(*code),
        _ => None,
    }
}

/// The `seq` of an entry frame.
pub fn entry_seq(frame: &ServerFrame) -> Option<Seq> {
    match frame {
        ServerFrame::Entry { entry, .. } => Some(entry.seq),
        _ => None,
    }
}

/// The address in the binary's first line, `Chat server listening on http://ADDR`.
pub fn read_start_line(stdout: std::process::ChildStdout) -> SocketAddr {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the start line reads");
    line.trim()
        .strip_prefix("Chat server listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("the start line holds an address")
}
