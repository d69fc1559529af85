//! `bench`: the chat's load generator. It starts the real server binary as a
//! separate process on loopback, with a fresh temporary database, speaks the
//! real protocol over real WebSockets, and prints a summary table.
//!
//! Layout:
//! - `main.rs`: the command line and the scenarios (fanout, rooms, cluster,
//!   idle, history, search, crowd, page, media, assistant, compare, smoke).
//! - [`assistant`]: a scripted streaming provider for the assistant scenario.
//! - [`target`]: the server process, and its CPU and memory from /proc.
//! - [`load`]: joining, sending and receiving clients with latency stamps.
//! - [`raw`]: the raw broadcast twin `compare` measures the server against.
//!
//! Run it on a release build: `cargo build --release -p server -p bench`, then
//! `target/release/bench fanout` (see `docs/PERFORMANCE.md`).

mod assistant;
mod load;
mod raw;
mod target;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use load::{Clock, Tally};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use target::Target;

#[derive(Parser)]
#[command(name = "bench", about = "Load generator for the chat server")]
struct Cli {
    /// The server binary to start.
    #[arg(long, global = true, default_value = "target/release/server")]
    server_bin: PathBuf,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// One room, many sockets, a few senders: deliveries/s and latency.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        sockets: usize,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Messages per second, all senders together.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// Raise the rate until p99 passes 100 ms or deliveries fall behind.
        #[arg(long)]
        find_max: bool,
    },
    /// Many rooms, everyone chatting.
    Rooms {
        #[arg(long, default_value_t = 1000)]
        rooms: usize,
        #[arg(long, default_value_t = 10)]
        members: usize,
        /// Messages per second, all rooms together.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Members of each room who send (every member by default).
        #[arg(long)]
        senders: Option<usize>,
    },
    /// Many rooms on one server, then on several sharing PostgreSQL with
    /// Redis between them (sockets and senders spread over all): the cost
    /// of the bus hop.
    Cluster {
        /// A PostgreSQL server to make fresh databases on
        /// (`source scripts/services` provides one).
        #[arg(long, env = "CHAT_TEST_POSTGRES")]
        postgres: String,
        #[arg(long, default_value_t = 2)]
        servers: usize,
        #[arg(long, default_value_t = 100)]
        rooms: usize,
        #[arg(long, default_value_t = 10)]
        members: usize,
        /// Messages per second, all rooms together.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Many idle connections: server memory per connection.
    ///
    /// With `--servers N` above 1 they are spread over N servers sharing a
    /// fresh PostgreSQL database with Redis between them, and held by one
    /// client process per server: one process may open only so many files
    /// (20,000 on the machines here), on either side.
    Idle {
        #[arg(long, default_value_t = 20_000)]
        connections: usize,
        #[arg(long, default_value_t = 1)]
        servers: usize,
        /// A PostgreSQL server to make a fresh database on, for `--servers`
        /// above 1 (`source scripts/services` provides one).
        #[arg(long, env = "CHAT_TEST_POSTGRES")]
        postgres: Option<String>,
    },
    /// One client process of a spread `idle` run: joins `count` sockets
    /// (numbered from `first`) to the server at `addr`, says how many, and
    /// holds them until its input closes.
    #[command(hide = true)]
    IdleClients {
        #[arg(long)]
        addr: std::net::SocketAddr,
        #[arg(long)]
        first: usize,
        #[arg(long)]
        count: usize,
    },
    /// History server function latency in a room of a million messages.
    History {
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Search in a room of a million indexed messages: a one-letter and a
    /// three-word query (p50/p99), then logins and history pages measured
    /// alone and under a flood of searches from many clients.
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        /// Searches timed per query.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Clients searching in a loop during the flood.
        #[arg(long, default_value_t = 16)]
        flooders: usize,
        /// Logins timed, alone and under the flood.
        #[arg(long, default_value_t = 40)]
        logins: usize,
        /// Search a fresh database on this PostgreSQL server instead of a
        /// SQLite file (e.g. `$CHAT_TEST_POSTGRES` after `source scripts/services`).
        #[arg(long)]
        postgres: Option<String>,
    },
    /// A crowd arriving at once: `senders` members chat in one room while
    /// `crowd` more sockets join it all together, under the default
    /// per-socket budget (`--send-queue-bytes`, 1 MiB): how many of the crowd
    /// are closed as slow, and what reaches them.
    Crowd {
        #[arg(long, default_value_t = 1000)]
        crowd: usize,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Messages per second, all senders together.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Time to first byte and requests/s of a room page with 50 messages.
    Page {
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Uploads: plain files' throughput, and what checking, stripping and
    /// thumbnailing a photo adds to its upload.
    Media {
        /// Plain files to upload.
        #[arg(long, default_value_t = 40)]
        files: usize,
        /// Size of each plain file, in MB.
        #[arg(long, default_value_t = 10)]
        mb: usize,
        /// Uploads in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Photos (12 megapixel JPEGs) to upload, one at a time.
        #[arg(long, default_value_t = 20)]
        photos: usize,
    },
    /// The assistant's answer as it is written: from the provider's token
    /// to each viewer's socket, and what each viewer costs.
    Assistant {
        #[arg(long, default_value_t = 100)]
        viewers: usize,
        #[arg(long, default_value_t = 200)]
        tokens: usize,
        /// Between tokens, in ms (a fast model streams one every 10-30 ms).
        #[arg(long, default_value_t = 20)]
        every_ms: u64,
    },
    /// One room's fanout through the chat server, then through the raw
    /// broadcast twin (no storage, no checks): CPU per delivery of each.
    Compare {
        #[arg(long, default_value_t = 1000)]
        sockets: usize,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// `server migrate` of a SQLite chat of MESSAGES messages in ROOMS rooms
    /// into a fresh PostgreSQL database: log entries per second.
    Migrate {
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        #[arg(long, default_value_t = 100)]
        rooms: u64,
        #[arg(long, env = "CHAT_TEST_POSTGRES")]
        postgres: String,
    },
    /// The raw broadcast twin itself (started by `compare`).
    #[command(hide = true)]
    RawServer,
    /// Every scenario, tiny and quick: keeps this tool working (run in tests).
    Smoke {
        #[arg(long, env = "CHAT_TEST_POSTGRES")]
        postgres: String,
    },
}

type Outcome = Result<(), String>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    raise_open_files();
    let result = match cli.scenario {
        Scenario::Fanout {
            sockets,
            senders,
            rate,
            seconds,
            size,
            find_max,
        } => {
            fanout(
                &cli.server_bin,
                sockets,
                senders,
                rate,
                seconds,
                size,
                find_max,
            )
            .await
        }
        Scenario::Rooms {
            rooms,
            members,
            rate,
            seconds,
            senders,
        } => {
            let senders = senders.unwrap_or(members);
            rooms_scenario(&cli.server_bin, rooms, members, senders, rate, seconds).await
        }
        Scenario::Cluster {
            postgres,
            servers,
            rooms,
            members,
            rate,
            seconds,
        } => {
            cluster(
                &cli.server_bin,
                &postgres,
                servers,
                rooms,
                members,
                rate,
                seconds,
            )
            .await
        }
        Scenario::Idle {
            connections,
            servers,
            postgres,
        } if servers > 1 => match postgres {
            Some(postgres) => idle_spread(&cli.server_bin, &postgres, connections, servers).await,
            None => Err("idle --servers above 1 needs --postgres (or CHAT_TEST_POSTGRES; source scripts/services)".into()),
        },
        Scenario::Idle { connections, .. } => idle(&cli.server_bin, connections).await,
        Scenario::IdleClients { addr, first, count } => idle_clients(addr, first, count).await,
        Scenario::History { messages, requests } => {
            history(&cli.server_bin, messages, requests).await
        }
        Scenario::Search {
            messages,
            requests,
            flooders,
            logins,
            postgres,
        } => {
            search(
                &cli.server_bin,
                messages,
                requests,
                flooders,
                logins,
                postgres.as_deref(),
            )
            .await
        }
        Scenario::Crowd {
            crowd,
            senders,
            rate,
            seconds,
        } => crowd_scenario(&cli.server_bin, crowd, senders, rate, seconds).await,
        Scenario::Page {
            concurrency,
            seconds,
        } => page(&cli.server_bin, concurrency, seconds).await,
        Scenario::Media {
            files,
            mb,
            concurrency,
            photos,
        } => media(&cli.server_bin, files, mb, concurrency, photos).await,
        Scenario::Compare {
            sockets,
            senders,
            rate,
            seconds,
        } => compare(&cli.server_bin, sockets, senders, rate, seconds).await,
        Scenario::Assistant {
            viewers,
            tokens,
            every_ms,
        } => {
            assistant::scenario(&cli.server_bin, viewers, tokens, Duration::from_millis(every_ms))
                .await
        }
        Scenario::Migrate {
            messages,
            rooms,
            postgres,
        } => migrate(&cli.server_bin, &postgres, messages, rooms).await,
        Scenario::RawServer => raw::serve().await,
        Scenario::Smoke { postgres } => smoke(&cli.server_bin, &postgres).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Tens of thousands of sockets need more than the usual 1024 (or 20000)
/// open files, here and in the server, which inherits the limit.
fn raise_open_files() {
    let want = 200_000;
    if let Err(err) = rlimit::setrlimit(rlimit::Resource::NOFILE, want, want) {
        let got = rlimit::increase_nofile_limit(want).unwrap_or(0);
        eprintln!(
            "bench: open files limited to {got} here ({err}); each side needs one per socket"
        );
    }
}

fn start(bin: &std::path::Path) -> Result<(Target, tempfile::TempDir), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let target = Target::start(bin, &dir.path().join("bench.db"))?;
    Ok((target, dir))
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec}")
            .expect("progress template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn table(title: &str, rows: &[(impl AsRef<str>, String)]) {
    let width = rows
        .iter()
        .map(|(k, _)| k.as_ref().len())
        .max()
        .unwrap_or(0);
    println!("\n{title}");
    println!("{}", "-".repeat(title.len().max(20)));
    for (key, value) in rows {
        println!("{:<width$}  {value}", key.as_ref());
    }
}

/// One load step's figures.
struct Step {
    rate: f64,
    sent: u64,
    delivered: u64,
    expected: u64,
    latency: Histogram<u64>,
    errors: u64,
    seconds: f64,
    cpu: f64,
    rss: u64,
    /// This load generator's own CPU (percent of one core) and memory.
    bench_cpu: f64,
    bench_rss: u64,
    /// The server's own counters from `/metrics`, as it saw the run.
    server_view: String,
}

impl Step {
    fn print(&self, title: &str) {
        let l = &self.latency;
        table(
            title,
            &[
                ("offered rate", format!("{:.0} msg/s", self.rate)),
                ("messages sent", self.sent.to_string()),
                (
                    "deliveries",
                    format!("{} of {} expected", self.delivered, self.expected),
                ),
                (
                    "deliveries/s",
                    format!("{:.0}", self.delivered as f64 / self.seconds),
                ),
                ("latency p50", ms(l.value_at_quantile(0.50))),
                ("latency p90", ms(l.value_at_quantile(0.90))),
                ("latency p99", ms(l.value_at_quantile(0.99))),
                ("latency max", ms(l.max())),
                ("errors", self.errors.to_string()),
                ("server CPU (all)", format!("{:.0} % of one core", self.cpu)),
                (
                    "server RSS",
                    format!("{:.1} MiB", self.rss as f64 / 1048576.0),
                ),
                ("bench CPU", format!("{:.0} % of one core", self.bench_cpu)),
                (
                    "bench RSS",
                    format!("{:.1} MiB", self.bench_rss as f64 / 1048576.0),
                ),
            ],
        );
        if !self.server_view.is_empty() {
            println!("server's own view (/metrics of the first server):");
            println!("{}", self.server_view);
        }
    }

    fn keeps_up(&self) -> bool {
        self.latency.value_at_quantile(0.99) <= 100_000
            && self.delivered as f64 >= 0.95 * self.expected as f64
    }
}

/// Joins `members` sockets to each room (`senders_per_room` of them also
/// send), spread over the `targets` in turn, runs the offered `rate` for
/// `seconds`, and measures: the targets' CPU and memory together, and this
/// process's own, so a load generator that is the limit shows.
async fn run_load(
    targets: &mut [Target],
    rooms: usize,
    members: usize,
    senders_per_room: usize,
    rate: f64,
    seconds: u64,
    size: usize,
) -> Result<Step, String> {
    let addrs: Vec<_> = targets.iter().map(|t| t.addr).collect();
    let tally = Arc::new(Tally::default());
    let clock = Clock::new();
    let senders_per_room = senders_per_room.min(members);
    let total = rooms * members;
    let bar = progress(total as u64, "joining");
    // Joined a few dozen at a time: one by one, 10,000 sockets take minutes.
    let joins = (0..total).map(|i| {
        let (r, m) = (i / members, i % members);
        let addr = addrs[i % addrs.len()];
        let bar = bar.clone();
        async move {
            let room = format!("load-{r}");
            let ws = load::join(addr, &room, &format!("m{r}-{m}")).await?;
            bar.inc(1);
            Ok::<_, String>((room, m < senders_per_room, ws))
        }
    });
    let joined: Vec<_> = futures::stream::iter(joins)
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();

    let sender_count = (rooms * senders_per_room).max(1);
    let per_sender = rate / sender_count as f64;
    let period = 1.0 / per_sender.max(0.001);
    let mut clients = vec![];
    for (i, (room, sends, ws)) in joined.into_iter().enumerate() {
        let room = app::rooms::RoomName::parse(&room).map_err(|e| e.to_string())?;
        // Phases spread evenly over one period: senders out of step, as people are.
        let phase = Duration::from_secs_f64(period * (i as f64 * 0.618_034).fract());
        let rate = if sends { per_sender } else { 0.0 };
        clients.push(tokio::spawn(load::chat(
            ws,
            room,
            rate,
            phase,
            size,
            tally.clone(),
            clock,
        )));
    }
    // A second of warm-up (and one period, so every sender has started).
    tokio::time::sleep(Duration::from_secs_f64(1.0 + period.min(5.0))).await;
    let (sent0, delivered0) = (
        tally.sent.load(Ordering::Relaxed),
        tally.delivered.load(Ordering::Relaxed),
    );
    tally.recording.store(true, Ordering::Relaxed);
    for target in targets.iter_mut() {
        target.mark_cpu();
    }
    let own_cpu = target::own_cpu_seconds();
    let started = Instant::now();
    let bar = progress(seconds, "loading");
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        bar.inc(1);
        bar.set_message(format!(
            "{:.0} del/s",
            tally.delivered.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
        ));
    }
    bar.finish_and_clear();
    let cpu = targets.iter().map(Target::cpu_percent).sum();
    let bench_cpu = 100.0 * (target::own_cpu_seconds() - own_cpu) / started.elapsed().as_secs_f64();
    let rss = targets.iter().map(Target::rss_bytes).sum();
    let sent = tally.sent.load(Ordering::Relaxed) - sent0;
    // Let in-flight deliveries land before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let elapsed = started.elapsed().as_secs_f64() - 0.5;
    let delivered = tally.delivered.load(Ordering::Relaxed) - delivered0;
    for client in clients {
        client.abort();
    }
    let server_view = match targets.first() {
        Some(target) => target.metrics().await,
        None => String::new(),
    };
    Ok(Step {
        rate,
        sent,
        delivered,
        expected: sent * members as u64,
        latency: tally.latencies.merged(),
        errors: tally.errors.load(Ordering::Relaxed),
        seconds: elapsed,
        cpu,
        rss,
        bench_cpu,
        bench_rss: target::own_rss_bytes(),
        server_view,
    })
}

/// [`run_load`] on one target with every socket in one room.
async fn one_room(
    target: &mut Target,
    sockets: usize,
    senders: usize,
    rate: f64,
    seconds: u64,
    size: usize,
) -> Result<Step, String> {
    run_load(
        std::slice::from_mut(target),
        1,
        sockets,
        senders,
        rate,
        seconds,
        size,
    )
    .await
}

async fn fanout(
    bin: &std::path::Path,
    sockets: usize,
    senders: usize,
    rate: f64,
    seconds: u64,
    size: usize,
    find_max: bool,
) -> Outcome {
    let (mut target, _dir) = start(bin)?;
    if !find_max {
        let step = one_room(&mut target, sockets, senders, rate, seconds, size).await?;
        step.print(&format!(
            "fanout: 1 room x {sockets} sockets, {senders} senders, {size}-byte messages"
        ));
        target.stop();
        return Ok(());
    }
    drop(target);
    let mut rate = rate;
    let mut best: Option<Step> = None;
    loop {
        // A fresh server and sockets per step, so one overloaded step does
        // not leave a backlog for the next.
        let (mut target, _dir) = start(bin)?;
        let step = one_room(&mut target, sockets, senders, rate, seconds, size).await?;
        target.stop();
        println!(
            "rate {:>8.0} msg/s: {:>9.0} deliveries/s, p99 {}, delivered {:.1} %",
            rate,
            step.delivered as f64 / step.seconds,
            ms(step.latency.value_at_quantile(0.99)),
            100.0 * step.delivered as f64 / step.expected.max(1) as f64
        );
        if !step.keeps_up() {
            break;
        }
        best = Some(step);
        rate *= 1.5;
    }
    match best {
        Some(step) => step
            .print("fanout --find-max: highest sustained rate (p99 <= 100 ms, >= 95 % delivered)"),
        None => println!("even the starting rate did not keep up"),
    }
    Ok(())
}

async fn rooms_scenario(
    bin: &std::path::Path,
    rooms: usize,
    members: usize,
    senders: usize,
    rate: f64,
    seconds: u64,
) -> Outcome {
    let (mut target, _dir) = start(bin)?;
    // Every message reaches each member of its room, its sender too.
    let step = run_load(
        std::slice::from_mut(&mut target),
        rooms,
        members,
        senders,
        rate,
        seconds,
        100,
    )
    .await?;
    step.print(&format!(
        "rooms: {rooms} rooms x {members} members, {senders} sending in each"
    ));
    target.stop();
    Ok(())
}

static DATABASES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A new, empty database on the PostgreSQL server at `server`.
async fn fresh_postgres(server: &str) -> Result<String, String> {
    use sqlx::Connection;
    let name = format!(
        "bench_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .map_err(|e| format!("cannot reach PostgreSQL at {server}: {e}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    let base = server
        .rsplit_once('/')
        .ok_or("the PostgreSQL URL names no database")?
        .0;
    Ok(format!("{base}/{name}"))
}

/// `servers` servers sharing a fresh PostgreSQL database on `postgres`, with
/// a Redis of their own between them (stopped when the `Redis` is dropped).
async fn start_cluster(
    bin: &std::path::Path,
    postgres: &str,
    servers: usize,
) -> Result<(target::Redis, Vec<Target>), String> {
    let redis = target::Redis::start()?;
    let db = fresh_postgres(postgres).await?;
    let targets = (0..servers)
        .map(|_| Target::start_on(bin, &db, &["--bus", &redis.url]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((redis, targets))
}

/// The rooms load on one server on PostgreSQL, then on `servers` servers
/// sharing a fresh PostgreSQL database with Redis between them.
async fn cluster(
    bin: &std::path::Path,
    postgres: &str,
    servers: usize,
    rooms: usize,
    members: usize,
    rate: f64,
    seconds: u64,
) -> Outcome {
    let alone = {
        let db = fresh_postgres(postgres).await?;
        let mut targets = vec![Target::start_on(bin, &db, &[])?];
        run_load(&mut targets, rooms, members, members, rate, seconds, 100).await?
    };
    alone.print(&format!(
        "cluster: 1 server on PostgreSQL, {rooms} rooms x {members} members"
    ));
    let (_redis, mut targets) = start_cluster(bin, postgres, servers.max(1)).await?;
    let spread = run_load(&mut targets, rooms, members, members, rate, seconds, 100).await?;
    spread.print(&format!(
        "cluster: {servers} servers on PostgreSQL + Redis, sockets spread over all"
    ));
    let hop = |q: f64| {
        let (one, many) = (
            alone.latency.value_at_quantile(q) as f64,
            spread.latency.value_at_quantile(q) as f64,
        );
        format!("{:+.2} ms", (many - one) / 1000.0)
    };
    table(
        "cluster: the bus hop (several servers minus one)",
        &[
            ("latency p50", hop(0.5)),
            ("latency p99", hop(0.99)),
            (
                "deliveries/s",
                format!(
                    "{:.0} vs {:.0}",
                    spread.delivered as f64 / spread.seconds,
                    alone.delivered as f64 / alone.seconds
                ),
            ),
        ],
    );
    Ok(())
}

async fn idle(bin: &std::path::Path, connections: usize) -> Outcome {
    let (target, _dir) = start(bin)?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = target.rss_bytes();
    let bar = progress(connections as u64, "connecting");
    let (sockets, failed) = join_idle(target.addr, 0, connections, &bar).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = target.rss_bytes();
    let open = sockets.len().max(1);
    table(
        &format!(
            "idle: {} connections, each joined to a room of 10",
            sockets.len()
        ),
        &[
            (
                "server RSS before",
                format!("{:.1} MiB", before as f64 / 1048576.0),
            ),
            (
                "server RSS after",
                format!("{:.1} MiB", after as f64 / 1048576.0),
            ),
            (
                "per connection",
                format!(
                    "{:.2} KiB",
                    (after.saturating_sub(before)) as f64 / open as f64 / 1024.0
                ),
            ),
            ("note", failed.unwrap_or_else(|| "all connected".into())),
        ],
    );
    drop(sockets);
    target.stop();
    Ok(())
}

/// Joins sockets `first..first + count` to rooms of 10 at `addr`; the
/// first one refused ends the joining.
async fn join_idle(
    addr: std::net::SocketAddr,
    first: usize,
    count: usize,
    bar: &ProgressBar,
) -> (Vec<load::Socket>, Option<String>) {
    let mut sockets = Vec::with_capacity(count);
    let mut failed = None;
    for i in first..first + count {
        match load::join(addr, &format!("idle-{}", i / 10), &format!("idle{i}")).await {
            Ok(ws) => sockets.push(ws),
            Err(err) => {
                failed = Some(format!("stopped at {i}: {err}"));
                break;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    (sockets, failed)
}

/// The client process of [`idle_spread`]: one line says what it holds.
async fn idle_clients(addr: std::net::SocketAddr, first: usize, count: usize) -> Outcome {
    // Several of these run at once: their bars would overwrite each other.
    let (sockets, failed) = join_idle(addr, first, count, &ProgressBar::hidden()).await;
    println!(
        "{} {}",
        sockets.len(),
        failed.unwrap_or_else(|| "all connected".into())
    );
    // Held until the bench closes our input.
    let _ =
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
            .await;
    drop(sockets);
    Ok(())
}

/// `idle` over several servers on PostgreSQL + Redis, one client process each.
async fn idle_spread(
    bin: &std::path::Path,
    postgres: &str,
    connections: usize,
    servers: usize,
) -> Outcome {
    use std::io::BufRead;
    let (_redis, targets) = start_cluster(bin, postgres, servers).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Vec<u64> = targets.iter().map(Target::rss_bytes).collect();
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    // Whole rooms of 10 per share, so no share is short of a full room.
    let share = connections.div_ceil(servers).div_ceil(10) * 10;
    let mut clients = Vec::new();
    for (k, target) in targets.iter().enumerate() {
        let first = k * share;
        let count = share.min(connections.saturating_sub(first));
        let child = std::process::Command::new(&me)
            .arg("idle-clients")
            .args(["--addr", &target.addr.to_string()])
            .args(["--first", &first.to_string(), "--count", &count.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a client process: {e}"))?;
        clients.push(child);
    }
    let mut held = Vec::new();
    for child in &mut clients {
        let stdout = child.stdout.take().expect("piped stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let (count, note) = line.trim().split_once(' ').unwrap_or(("0", "no answer"));
        held.push((count.parse::<usize>().unwrap_or(0), note.to_owned()));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after: Vec<u64> = targets.iter().map(Target::rss_bytes).collect();
    let open: usize = held.iter().map(|(n, _)| n).sum();
    let grown: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    let mut rows = Vec::new();
    for (k, ((count, note), (a, b))) in held.iter().zip(after.iter().zip(&before)).enumerate() {
        rows.push((
            format!("server {}", k + 1),
            format!(
                "{count} connections, RSS {:.1} -> {:.1} MiB, {:.2} KiB each ({note})",
                *b as f64 / 1048576.0,
                *a as f64 / 1048576.0,
                a.saturating_sub(*b) as f64 / (*count).max(1) as f64 / 1024.0
            ),
        ));
    }
    rows.push((
        "per connection".into(),
        format!("{:.2} KiB", grown as f64 / open.max(1) as f64 / 1024.0),
    ));
    table(
        &format!(
            "idle: {open} connections over {servers} servers (PostgreSQL + Redis), each joined to a room of 10"
        ),
        &rows,
    );
    for mut child in clients {
        drop(child.stdin.take());
        let _ = child.wait();
    }
    for target in targets {
        target.stop();
    }
    if open == 0 {
        return Err("idle: no client process held a connection".into());
    }
    Ok(())
}

/// Fills room `history` with `messages` entries straight into the database
/// (the server's own schema, made by starting it once).
async fn seed(db: &std::path::Path, messages: u64) -> Outcome {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("INSERT INTO rooms (name, created_at) VALUES ('history', 0)")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let batch = 100_000u64;
    let mut done = 0;
    let bar = progress(messages, "seeding");
    while done < messages {
        let upto = (done + batch).min(messages);
        sqlx::query(
            "WITH RECURSIVE n(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM n WHERE x < ?2)
             INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body)
             SELECT (SELECT id FROM rooms WHERE name = 'history'), x, 1700000000000 + x, 'seeder', 'message',
                    'seed-' || x, 'message number ' || x || ' with some text to make it about a hundred bytes long....'
             FROM n",
        )
        .bind((done + 1) as i64)
        .bind(upto as i64)
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        done = upto;
        bar.set_position(done);
    }
    bar.finish_and_clear();
    println!(
        "seeded {messages} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A SQLite chat of `messages` messages spread over `rooms` rooms (written
/// by accounts and guests, a tenth of them replies), moved to PostgreSQL by
/// the server's own `migrate` command.
async fn migrate(bin: &std::path::Path, postgres: &str, messages: u64, rooms: u64) -> Outcome {
    use sqlx::Connection;
    let (target, dir) = start(bin)?;
    target.stop();
    let db = dir.path().join("bench.db");
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    exec(&mut conn, &format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {rooms})
         INSERT INTO rooms (id, name, created_at, active_at) SELECT x, 'room' || x, 0, 0 FROM n;
         WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100)
         INSERT INTO accounts (id, name, name_key, password_hash, created_at)
         SELECT x, 'person' || x, 'person' || x, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 0 FROM n;"
    ))
    .await?;
    let started = Instant::now();
    let bar = progress(messages, "seeding");
    let batch = 100_000u64;
    let mut done = 0;
    while done < messages {
        let upto = (done + batch).min(messages);
        // Message x is in room x % rooms, numbered within it.
        exec(&mut conn, &format!(
            "WITH RECURSIVE n(x) AS (SELECT {} UNION ALL SELECT x + 1 FROM n WHERE x < {upto} - 1)
             INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body, author, target)
             SELECT x % {rooms} + 1, x / {rooms} + 1, 1700000000000 + x,
                    'person' || (x % 100), 'message', 'seed-' || x,
                    'message number ' || x || ' with some text to make it about a hundred bytes long....',
                    CASE WHEN x % 2 = 0 THEN 'account:' || (x % 100 + 1) ELSE 'guest:session-' || (x % 100) END,
                    CASE WHEN x % 10 = 0 AND x >= {rooms} THEN x / {rooms} END
             FROM n",
            done
        ))
        .await?;
        done = upto;
        bar.set_position(done);
    }
    bar.finish_and_clear();
    drop(conn);
    println!(
        "seeded {messages} messages in {rooms} rooms in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let to = fresh_postgres(postgres).await?;
    let started = Instant::now();
    let output = std::process::Command::new(bin)
        .args(["migrate", "--from", &url, "--to", &to])
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let total = started.elapsed().as_secs_f64();
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "migrate failed: {report}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let entries = report
        .lines()
        .find(|l| l.trim_start().starts_with("entries:"))
        .ok_or_else(|| format!("no entries line in: {report}"))?
        .trim()
        .to_owned();
    let line_of = |start: &str| {
        report
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let rate = messages as f64 / total;
    table(
        &format!("migrate: {messages} messages in {rooms} rooms, SQLite to PostgreSQL"),
        &[
            ("log copy", entries),
            ("search index", line_of("search index:")),
            ("verification", line_of("Verified in")),
            (
                "whole command (copy, index, verify)",
                format!("{total:.1} s, {rate:.0} entries/s"),
            ),
        ],
    );
    Ok(())
}

async fn exec(conn: &mut sqlx::SqliteConnection, sql: &str) -> Outcome {
    sqlx::raw_sql(sql)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Times `requests` calls of the `room_history` server function at `url`.
async fn timed_posts(
    url: &str,
    args: &app::messages::RoomHistory,
    requests: usize,
) -> Result<Histogram<u64>, String> {
    let body = serde_json::to_string(args).map_err(|e| e.to_string())?;
    let client = reqwest::Client::new();
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    for _ in 0..requests {
        let started = Instant::now();
        let res = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("{url}: HTTP {}", res.status()));
        }
        let body = res.bytes().await.map_err(|e| e.to_string())?;
        let _ = latency.record(started.elapsed().as_micros() as u64);
        if body.is_empty() {
            return Err("empty history page".into());
        }
    }
    Ok(latency)
}

async fn history(bin: &std::path::Path, messages: u64, requests: usize) -> Outcome {
    let (target, dir) = start(bin)?;
    let db = dir.path().join("bench.db");
    target.stop();
    seed(&db, messages).await?;
    let target = Target::start(bin, &db)?;
    let url = format!("http://{}/api/room_history", target.addr);
    let page = |before| app::messages::RoomHistory {
        room: "history".into(),
        before,
        limit: None,
    };
    let latest = timed_posts(&url, &page(None), requests).await?;
    let older = timed_posts(&url, &page(Some(messages / 2)), requests).await?;
    table(
        &format!(
            "history: room of {messages} messages, {requests} requests each, 50 entries a page"
        ),
        &[
            ("latest page p50", ms(latest.value_at_quantile(0.5))),
            ("latest page p99", ms(latest.value_at_quantile(0.99))),
            ("older page p50", ms(older.value_at_quantile(0.5))),
            ("older page p99", ms(older.value_at_quantile(0.99))),
        ],
    );
    target.stop();
    drop(dir);
    Ok(())
}

/// Words the search bench's messages are made of.
const WORDS: usize = 1000;

/// Word `i` of the search bench: two or three syllables (`kaka`, `kemi`,
/// `mituke`); the lower `i`, the more common it is in the seeded messages.
fn made_up_word(i: usize) -> String {
    let syllables: Vec<String> = "kmtnrslpdvbgfhz"
        .chars()
        .flat_map(|c| "aeiou".chars().map(move |v| format!("{c}{v}")))
        .collect();
    let n = syllables.len();
    let (a, b) = (&syllables[i % n], &syllables[(i / n + i * 7) % n]);
    if i < 300 {
        format!("{a}{b}")
    } else {
        format!("{a}{b}{}", syllables[(i * 13) % n])
    }
}

/// [`seed_words`] on PostgreSQL, where the index is a generated column.
async fn seed_words_postgres(url: &str, messages: u64) -> Result<String, String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let run = |sql: &'static str| sqlx::query(sql);
    run("INSERT INTO rooms (name, created_at, active_at) VALUES ('search', 0, 0)")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    run("CREATE TEMP TABLE words (i INTEGER PRIMARY KEY, w TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    for i in 0..WORDS {
        sqlx::query("INSERT INTO words (i, w) VALUES ($1, $2)")
            .bind(i as i32)
            .bind(made_up_word(i))
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    }
    debug_assert_eq!(WORDS, 1000, "the draw below is over a thousand words");
    let started = Instant::now();
    let batch = 50_000u64;
    let mut done = 0;
    let bar = progress(messages, "seeding");
    while done < messages {
        let upto = (done + batch).min(messages);
        // Eight draws per message (each a product of two uniform draws, as
        // on SQLite); `x = x` ties the draws to the row, so they are drawn
        // again for each message instead of once.
        sqlx::query(
            "INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body, author)
             SELECT (SELECT id FROM rooms WHERE name = 'search'), x, 1700000000000 + x,
                    'seeder', 'message', 'seed-' || x,
                    (SELECT string_agg(w.w, ' ' ORDER BY d.k)
                     FROM unnest(n.draws) WITH ORDINALITY AS d(i, k) JOIN words w ON w.i = d.i),
                    'guest:seeder'
             FROM (SELECT x, ARRAY(SELECT floor(random() * 1000)::int * floor(random() * 1000)::int / 1000
                                   FROM generate_series(1, 8) WHERE x = x) AS draws
                   FROM generate_series($1::bigint, $2::bigint) AS x) n",
        )
        .bind((done + 1) as i64)
        .bind(upto as i64)
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        done = upto;
        bar.set_position(done);
    }
    bar.finish_and_clear();
    run("UPDATE rooms SET head = (SELECT max(seq) FROM entries WHERE room_id = rooms.id) WHERE name = 'search'")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    run("ANALYZE entries")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "seeded {messages} indexed messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (body,): (String,) = sqlx::query_as(
        "SELECT body FROM entries WHERE room_id = (SELECT id FROM rooms WHERE name = 'search')
         AND seq = $1",
    )
    .bind((messages / 2).max(1) as i64)
    .fetch_one(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(body.split(' ').take(3).collect::<Vec<_>>().join(" "))
}

/// Seeds room `search` with `messages` indexed messages of eight words
/// each, drawn from a thousand made-up words with a skew (a product of two
/// uniform draws), so a few words are common and most are rare, as in chat.
/// Returns three words of one message in the middle of the log, the kind
/// of query someone remembering a message types.
async fn seed_words(db: &std::path::Path, messages: u64) -> Result<String, String> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .map_err(|e| e.to_string())?;
    let run = |sql: &'static str| sqlx::query(sql);
    run("INSERT INTO rooms (name, created_at) VALUES ('search', 0)")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    run("CREATE TEMP TABLE words (i INTEGER PRIMARY KEY, w TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    for i in 0..WORDS {
        sqlx::query("INSERT INTO words (i, w) VALUES (?1, ?2)")
            .bind(i as i64)
            .bind(made_up_word(i))
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let batch = 50_000u64;
    let mut done = 0;
    let bar = progress(messages, "seeding");
    while done < messages {
        let upto = (done + batch).min(messages);
        let word = "(SELECT w FROM words WHERE i = (abs(random()) % 1000) * (abs(random()) % 1000) / 1000)";
        debug_assert_eq!(WORDS, 1000, "the draw above is over a thousand words");
        let body = [word; 8].join(" || ' ' || ");
        let sql = format!(
            "WITH RECURSIVE n(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM n WHERE x < ?2)
             INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body, search_id)
             SELECT (SELECT id FROM rooms WHERE name = 'search'), x, 1700000000000 + x,
                    'seeder', 'message', 'seed-' || x, {body}, x
             FROM n"
        );
        let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
        sqlx::query(&sql)
            .bind((done + 1) as i64)
            .bind(upto as i64)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(
            "INSERT INTO entries_search (rowid, body)
             SELECT search_id, body FROM entries
             WHERE room_id = (SELECT id FROM rooms WHERE name = 'search') AND seq BETWEEN ?1 AND ?2",
        )
        .bind((done + 1) as i64)
        .bind(upto as i64)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        done = upto;
        bar.set_position(done);
    }
    bar.finish_and_clear();
    println!(
        "seeded {messages} indexed messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (body,): (String,) = sqlx::query_as(
        "SELECT body FROM entries WHERE room_id = (SELECT id FROM rooms WHERE name = 'search')
         AND seq = ?1",
    )
    .bind((messages / 2).max(1) as i64)
    .fetch_one(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(body.split(' ').take(3).collect::<Vec<_>>().join(" "))
}

/// Times `requests` searches for `query` in room `search`; errors if one
/// is not answered with a page.
async fn timed_searches(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    requests: usize,
) -> Result<(Histogram<u64>, usize), String> {
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let mut found = 0;
    for _ in 0..requests {
        let started = Instant::now();
        let res = client
            .post(url)
            .form(&[("query", query), ("rooms[0]", "search"), ("page", "0")])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body = res.text().await.map_err(|e| e.to_string())?;
        let _ = latency.record(started.elapsed().as_micros() as u64);
        if !status.is_success() {
            return Err(format!("search {query:?}: HTTP {status}: {body}"));
        }
        found = body.matches("\"seq\"").count();
    }
    Ok((latency, found))
}

/// Times `count` logins of `name`, one after another.
async fn timed_logins(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    count: usize,
) -> Result<Histogram<u64>, String> {
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    for _ in 0..count {
        let started = Instant::now();
        let res = client
            .post(format!("{base}/login"))
            .header("origin", base)
            .form(&[("username", name), ("password", "bench password 1")])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let _ = latency.record(started.elapsed().as_micros() as u64);
        if res.status().as_u16() != 303 {
            return Err(format!("login: HTTP {}", res.status()));
        }
    }
    Ok(latency)
}

async fn search(
    bin: &std::path::Path,
    messages: u64,
    requests: usize,
    flooders: usize,
    logins: usize,
    postgres: Option<&str>,
) -> Outcome {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (database, remembered) = match postgres {
        None => {
            let db = dir.path().join("bench.db");
            Target::start(bin, &db)?.stop();
            let remembered = seed_words(&db, messages).await?;
            (format!("sqlite://{}", db.display()), remembered)
        }
        Some(server) => {
            let url = fresh_postgres(server).await?;
            Target::start_on(bin, &url, &[])?.stop();
            let remembered = seed_words_postgres(&url, messages).await?;
            (url, remembered)
        }
    };
    // Every client here is one address (loopback): lift the per-address
    // search and login budgets, so the flood reaches the database and the
    // logins measured are never refused. With the default budgets the
    // flood is refused at the door, which measures nothing.
    let target = Target::start_on(
        bin,
        &database,
        &[
            "--search-burst",
            "1000000000",
            "--search-every-ms",
            "0",
            "--login-address-burst",
            "1000000",
            "--login-username-burst",
            "1000000",
        ],
    )?;
    let base = format!("http://{}", target.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let signed_up = client
        .post(format!("{base}/signup"))
        .header("origin", &base)
        .form(&[("username", "bencher"), ("password", "bench password 1")])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if signed_up.status().as_u16() != 303 {
        return Err(format!("signup: HTTP {}", signed_up.status()));
    }
    let url = format!("{base}/api/search_messages");
    // Three words of one message, and the first three letters of the most
    // common word (a prefix matching a good part of the log).
    let three = remembered.as_str();
    let stem: String = made_up_word(0).chars().take(3).collect();
    let (letter, letter_found) = timed_searches(&client, &url, "e", requests).await?;
    let (words, words_found) = timed_searches(&client, &url, three, requests).await?;
    let (prefix, prefix_found) = timed_searches(&client, &url, &stem, requests).await?;
    let history_url = format!("{base}/api/room_history");
    let search_room = app::messages::RoomHistory {
        room: "search".into(),
        before: None,
        limit: None,
    };
    let history_alone = timed_posts(&history_url, &search_room, 50).await?;
    let logins_alone = timed_logins(&client, &base, "bencher", logins).await?;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searched = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut flood = vec![];
    for n in 0..flooders {
        let (client, url, stop, searched) =
            (client.clone(), url.clone(), stop.clone(), searched.clone());
        let query = if n % 2 == 0 {
            "e".to_owned()
        } else {
            stem.clone()
        };
        flood.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(res) = client
                    .post(&url)
                    .form(&[
                        ("query", query.as_str()),
                        ("rooms[0]", "search"),
                        ("page", "0"),
                    ])
                    .send()
                    .await
                    && res.bytes().await.is_ok()
                {
                    searched.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let flood_started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logins_flooded = timed_logins(&client, &base, "bencher", logins).await?;
    let history_flooded = timed_posts(&history_url, &search_room, 50).await?;
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        let _ = task.await;
    }
    let flood_rate =
        searched.load(Ordering::Relaxed) as f64 / flood_started.elapsed().as_secs_f64();
    let p = |h: &Histogram<u64>| {
        format!(
            "{} / {}",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99))
        )
    };
    table(
        &format!(
            "search on {}: room of {messages} indexed messages, {requests} searches per query (p50 / p99)",
            if postgres.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            }
        ),
        &[
            (
                "one letter \"e\"".to_owned(),
                format!("{} ({letter_found} found)", p(&letter)),
            ),
            (
                format!("three words \"{three}\""),
                format!("{} ({words_found} found)", p(&words)),
            ),
            (
                format!("prefix \"{stem}\""),
                format!("{} ({prefix_found} found)", p(&prefix)),
            ),
            ("history page, alone".to_owned(), p(&history_alone)),
            ("login, alone".to_owned(), p(&logins_alone)),
            (
                format!("history page, {flooders} searching"),
                p(&history_flooded),
            ),
            (format!("login, {flooders} searching"), p(&logins_flooded)),
            (
                "searches/s during the flood".to_owned(),
                format!("{flood_rate:.0}"),
            ),
        ],
    );
    target.stop();
    drop(dir);
    Ok(())
}

async fn crowd_scenario(
    bin: &std::path::Path,
    crowd: usize,
    senders: usize,
    rate: f64,
    seconds: u64,
) -> Outcome {
    use futures::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mut target = Target::start_on(bin, &url, &["--send-queue-bytes", "1048576"])?;
    let room = app::rooms::RoomName::parse("crowd").map_err(|e| e.to_string())?;
    let (tally, clock) = (Arc::new(Tally::default()), Clock::new());
    let per_sender = rate / senders.max(1) as f64;
    let mut chatting = vec![];
    for s in 0..senders {
        let ws = load::join(target.addr, "crowd", &format!("s{s}")).await?;
        let phase = Duration::from_secs_f64((s as f64 * 0.618_034).fract() / per_sender.max(0.001));
        chatting.push(tokio::spawn(load::chat(
            ws,
            room.clone(),
            per_sender,
            phase,
            100,
            tally.clone(),
            clock,
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    target.mark_cpu();
    let sent0 = tally.sent.load(Ordering::Relaxed);
    // Everyone at once: no stream of a few dozen at a time, as a class or a
    // stream's audience arrives.
    let started = Instant::now();
    let arrivals = futures::future::join_all((0..crowd).map(|i| {
        let addr = target.addr;
        async move { load::join(addr, "crowd", &format!("c{i}")).await }
    }))
    .await;
    let joined_in = started.elapsed();
    let refused = arrivals.iter().filter(|a| a.is_err()).count();
    let slow = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let other_closes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let heard = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut readers = vec![];
    for ws in arrivals.into_iter().flatten() {
        let (slow, other_closes, heard) = (slow.clone(), other_closes.clone(), heard.clone());
        readers.push(tokio::spawn(async move {
            let (_write, mut read) = ws.split();
            while let Some(next) = read.next().await {
                match next {
                    Ok(Message::Text(text)) if text.contains("\"body\":\"t=") => {
                        heard.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Message::Close(frame)) => {
                        let code = frame.map(|f| u16::from(f.code));
                        if code == Some(4008) {
                            slow.fetch_add(1, Ordering::Relaxed);
                        } else {
                            other_closes.fetch_add(1, Ordering::Relaxed);
                        }
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        other_closes.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let sent = tally.sent.load(Ordering::Relaxed) - sent0;
    let (cpu, rss) = (target.cpu_percent(), target.rss_bytes());
    for task in chatting.into_iter().chain(readers) {
        task.abort();
    }
    let joined = crowd - refused;
    table(
        &format!(
            "crowd: {crowd} sockets join one room at once while {senders} send {rate:.0} msg/s in all (--send-queue-bytes 1 MiB)"
        ),
        &[
            ("all joined in", format!("{:.2} s", joined_in.as_secs_f64())),
            ("joins refused", refused.to_string()),
            (
                "closed as slow (4008)",
                format!("{} of {joined}", slow.load(Ordering::Relaxed)),
            ),
            (
                "other closes",
                other_closes.load(Ordering::Relaxed).to_string(),
            ),
            ("messages sent", sent.to_string()),
            (
                "messages heard by the crowd",
                format!(
                    "{} (at most {} each arrived in time to hear)",
                    heard.load(Ordering::Relaxed),
                    sent
                ),
            ),
            (
                "deliveries/s to the crowd",
                format!("{:.0}", heard.load(Ordering::Relaxed) as f64 / elapsed),
            ),
            ("server CPU", format!("{cpu:.0} % of one core")),
            ("server RSS", format!("{:.1} MiB", rss as f64 / 1048576.0)),
        ],
    );
    target.stop();
    Ok(())
}

async fn page(bin: &std::path::Path, concurrency: usize, seconds: u64) -> Outcome {
    let (target, _dir) = start(bin)?;
    let mut ws = load::join(target.addr, "page", "writer").await?;
    for n in 0..50 {
        use futures::SinkExt;
        let frame = app::protocol::ClientFrame::Send {
            room: app::rooms::RoomName::parse("page").expect("valid"),
            client_id: app::messages::ClientId::parse(&format!("p{n}")).expect("valid"),
            body: app::messages::MessageBody::parse(&load::body(n, 100)).expect("valid"),
            reply_to: None,
            media: vec![],
        };
        ws.send(tokio_tungstenite::tungstenite::Message::text(
            frame.to_json(),
        ))
        .await
        .map_err(|e| e.to_string())?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let url = format!("http://{}/r/page", target.addr);
    let client = reqwest::Client::new();
    let mut ttfb = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    for _ in 0..200 {
        let started = Instant::now();
        let res = client.get(&url).send().await.map_err(|e| e.to_string())?;
        let _ = ttfb.record(started.elapsed().as_micros() as u64);
        let html = res.text().await.map_err(|e| e.to_string())?;
        if !html.contains("t=49 ") {
            return Err("the room page lacks its latest message".into());
        }
    }
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut workers = vec![];
    for _ in 0..concurrency {
        let (client, url, done) = (client.clone(), url.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < until {
                if let Ok(res) = client.get(&url).send().await
                    && res.bytes().await.is_ok()
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    table(
        "page: GET /r/page (50 messages, server-rendered)",
        &[
            ("TTFB p50", ms(ttfb.value_at_quantile(0.5))),
            ("TTFB p99", ms(ttfb.value_at_quantile(0.99))),
            (
                "requests/s",
                format!(
                    "{:.0} ({concurrency} concurrent)",
                    done.load(Ordering::Relaxed) as f64 / seconds as f64
                ),
            ),
        ],
    );
    target.stop();
    Ok(())
}

/// Server CPU per delivery, in microseconds.
fn cpu_per_delivery(step: &Step) -> f64 {
    step.cpu / 100.0 * step.seconds * 1e6 / step.delivered.max(1) as f64
}

async fn compare(
    bin: &std::path::Path,
    sockets: usize,
    senders: usize,
    rate: f64,
    seconds: u64,
) -> Outcome {
    let (mut chat, _dir) = start(bin)?;
    let through_chat = one_room(&mut chat, sockets, senders, rate, seconds, 100).await?;
    chat.stop();
    through_chat.print(&format!("compare: the chat server, 1 room x {sockets}"));
    let mut twin = Target::start_raw()?;
    let through_twin = one_room(&mut twin, sockets, senders, rate, seconds, 100).await?;
    twin.stop();
    through_twin.print("compare: the raw broadcast twin, same load");
    let (chat_us, twin_us) = (
        cpu_per_delivery(&through_chat),
        cpu_per_delivery(&through_twin),
    );
    table(
        "compare: server CPU per delivery",
        &[
            ("chat server", format!("{chat_us:.2} us")),
            ("raw broadcast", format!("{twin_us:.2} us")),
            ("ratio", format!("{:.2}x", chat_us / twin_us.max(1e-9))),
        ],
    );
    Ok(())
}

async fn smoke(bin: &std::path::Path, postgres: &str) -> Outcome {
    fanout(bin, 20, 2, 20.0, 1, 100, false).await?;
    compare(bin, 10, 2, 20.0, 1).await?;
    rooms_scenario(bin, 3, 3, 3, 20.0, 1).await?;
    cluster(bin, postgres, 2, 3, 3, 20.0, 1).await?;
    idle(bin, 50).await?;
    idle_spread(bin, postgres, 40, 2).await?;
    history(bin, 2000, 20).await?;
    search(bin, 2000, 5, 2, 2, None).await?;
    search(bin, 2000, 5, 2, 2, Some(postgres)).await?;
    crowd_scenario(bin, 20, 2, 20.0, 1).await?;
    page(bin, 2, 1).await?;
    media(bin, 3, 1, 2, 2).await?;
    assistant::scenario(bin, 3, 20, Duration::from_millis(5)).await?;
    migrate(bin, postgres, 2000, 3).await?;
    Ok(())
}

/// `len` bytes no compressor or de-duplication can shortcut, distinct per `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A 4000 x 3000 JPEG like a phone's photo (gradients and grain), distinct per `seed`.
fn photo(seed: u64) -> Result<Vec<u8>, String> {
    let grain = noise(4000 * 3000, seed);
    let picture = image::RgbImage::from_fn(4000, 3000, |x, y| {
        let g = grain[(y * 4000 + x) as usize] / 8;
        image::Rgb([(x / 16) as u8 ^ g, (y / 12) as u8 ^ g, ((x + y) / 28) as u8])
    });
    let mut jpeg = vec![];
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&picture)
        .map_err(|e| e.to_string())?;
    Ok(jpeg)
}

/// Times uploads of `bodies`, `concurrency` at a time: (per upload, wall clock).
async fn timed_uploads(
    addr: std::net::SocketAddr,
    key: &str,
    bodies: Vec<(String, Vec<u8>)>,
    concurrency: usize,
) -> Result<(Histogram<u64>, Duration), String> {
    use futures::StreamExt;
    let client = reqwest::Client::new();
    let origin = format!("http://{addr}");
    let started = Instant::now();
    let results: Vec<Result<u64, String>> = futures::stream::iter(bodies)
        .map(|(name, bytes)| {
            let (client, origin) = (client.clone(), origin.clone());
            async move {
                let started = Instant::now();
                let res = client
                    .post(format!("{origin}/api/media"))
                    .header("origin", &origin)
                    .header(app::media::KEY_HEADER, key)
                    .header(app::media::NAME_HEADER, name)
                    .body(bytes)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = res.status();
                let answer = res.text().await.map_err(|e| e.to_string())?;
                if status != reqwest::StatusCode::CREATED {
                    return Err(format!("upload refused ({status}): {answer}"));
                }
                Ok(started.elapsed().as_micros() as u64)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let wall = started.elapsed();
    let mut each = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds");
    for result in results {
        let _ = each.record(result?);
    }
    Ok((each, wall))
}

async fn media(
    bin: &std::path::Path,
    files: usize,
    mb: usize,
    concurrency: usize,
    photos: usize,
) -> Outcome {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("sqlite://{}", dir.path().join("bench.db").display());
    let target = Target::start_on(
        bin,
        &db,
        &[
            "--media-max-bytes",
            "1000000000",
            "--media-daily-bytes",
            "1000000000000",
            "--media-address-daily-bytes",
            "1000000000000",
            "--media-uploads-per-address",
            "64",
        ],
    )?;
    let (_ws, key) = load::join_granted(target.addr, "media", "uploader").await?;
    let key = key.ok_or("the join granted no upload key")?;

    let size = mb * 1_000_000;
    let plain = (0..files)
        .map(|n| (format!("file-{n}.bin"), noise(size, n as u64 + 1)))
        .collect();
    let (each, wall) = timed_uploads(target.addr, &key, plain, concurrency).await?;
    let throughput = (files * size) as f64 / 1e6 / wall.as_secs_f64();

    eprintln!("bench: making {photos} photos");
    let mut pictures = vec![];
    let mut same_size = vec![];
    for n in 0..photos {
        let jpeg = photo(n as u64 + 1)?;
        same_size.push((format!("raw-{n}.bin"), noise(jpeg.len(), 1000 + n as u64)));
        pictures.push((format!("photo-{n}.jpg"), jpeg));
    }
    let photo_bytes = pictures.iter().map(|(_, b)| b.len()).sum::<usize>() / photos.max(1);
    let (raw, _) = timed_uploads(target.addr, &key, same_size, 1).await?;
    let (processed, _) = timed_uploads(target.addr, &key, pictures, 1).await?;
    let peak = target.peak_rss_bytes();
    table(
        &format!(
            "media: {files} files of {mb} MB, {concurrency} at a time; {photos} photos of 4000x3000 ({:.1} MB), one at a time",
            photo_bytes as f64 / 1e6
        ),
        &[
            ("upload throughput", format!("{throughput:.0} MB/s")),
            ("file upload p50", ms(each.value_at_quantile(0.5))),
            ("file upload p99", ms(each.value_at_quantile(0.99))),
            ("photo-size file p50", ms(raw.value_at_quantile(0.5))),
            ("photo upload p50", ms(processed.value_at_quantile(0.5))),
            ("photo upload p99", ms(processed.value_at_quantile(0.99))),
            (
                "photo processing p50",
                ms(processed
                    .value_at_quantile(0.5)
                    .saturating_sub(raw.value_at_quantile(0.5))),
            ),
            ("server peak memory", format!("{:.0} MB", peak as f64 / 1e6)),
        ],
    );
    target.stop();
    drop(dir);
    Ok(())
}
