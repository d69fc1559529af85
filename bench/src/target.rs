//! The server under test: a separate process of the real binary on a
//! loopback port with its own temporary database (or a shared PostgreSQL one,
//! with a [`Redis`] between several servers), and its CPU and memory as the
//! kernel reports them in /proc.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub struct Target {
    child: Child,
    pub addr: SocketAddr,
    cpu_mark: (u64, Instant),
}

/// What the bench shows the server to read its `/metrics`.
const METRICS_TOKEN: &str = "bench-scrape";

/// CPU ticks per second for /proc/<pid>/stat (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

impl Target {
    /// Starts `bin` on 127.0.0.1 (any free port) with the SQLite file `db`
    /// and limits lifted: the load comes from this tool on purpose.
    pub fn start(bin: &Path, db: &Path) -> Result<Self, String> {
        Self::start_on(bin, &format!("sqlite://{}", db.display()), &[])
    }

    /// Starts `bin` with the database at `url` and `extra` flags.
    pub fn start_on(bin: &Path, url: &str, extra: &[&str]) -> Result<Self, String> {
        // Uploads (none in the benches) beside the database, not in the working folder.
        let media = match url.strip_prefix("sqlite://") {
            Some(path) => format!("{path}.media"),
            None => std::env::temp_dir()
                .join(format!("chat-bench-media-{}", std::process::id()))
                .display()
                .to_string(),
        };
        let child = Command::new(bin)
            .args(["--addr", "127.0.0.1:0"])
            .args(["--database-url", url])
            .args(["--media-store", &media])
            .args(extra)
            .args(["--rate-burst", "1000000", "--rate-per-sec", "1000000"])
            // Every socket comes from 127.0.0.1: lift the per-address limits too.
            .args([
                "--address-rate-burst",
                "1000000",
                "--address-rate-per-sec",
                "1000000",
            ])
            .args(["--join-burst", "1000000", "--address-join-burst", "1000000"])
            .args(["--max-connections", "1000000"])
            .args(["--max-connections-per-address", "1000000"])
            // Roomy unless the scenario measures the promised budget itself.
            .args(if extra.contains(&"--send-queue-bytes") {
                &[][..]
            } else {
                &["--send-queue-bytes", "67108864"][..]
            })
            .args(["--metrics-token", METRICS_TOKEN])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (build it: cargo build --release -p server)",
                    bin.display()
                )
            })?;
        Self::listening(child)
    }

    /// Starts this very binary as the raw broadcast twin (`bench raw-server`).
    pub fn start_raw() -> Result<Self, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let child = Command::new(me)
            .arg("raw-server")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the raw broadcast twin: {e}"))?;
        Self::listening(child)
    }

    /// The target `child` is, once its start line says where it listens.
    fn listening(mut child: Child) -> Result<Self, String> {
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix("Chat server listening on http://")
            .ok_or_else(|| format!("unexpected server output: {line:?}"))?
            .parse()
            .map_err(|e| format!("bad address in {line:?}: {e}"))?;
        let mut target = Self {
            child,
            addr,
            cpu_mark: (0, Instant::now()),
        };
        target.mark_cpu();
        Ok(target)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn cpu_ticks(&self) -> u64 {
        cpu_ticks(&self.pid().to_string())
    }

    /// Starts a CPU measurement window.
    pub fn mark_cpu(&mut self) {
        self.cpu_mark = (self.cpu_ticks(), Instant::now());
    }

    /// Server CPU use since the last mark, in percent of one core.
    pub fn cpu_percent(&self) -> f64 {
        let (ticks, since) = self.cpu_mark;
        let used = (self.cpu_ticks() - ticks) as f64 / TICKS_PER_SEC;
        100.0 * used / since.elapsed().as_secs_f64().max(1e-9)
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.status_kb("VmRSS:") * 1024
    }

    /// The most resident memory the server process has had, in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        self.status_kb("VmHWM:") * 1024
    }

    fn status_kb(&self, field: &str) -> u64 {
        status_kb(&self.pid().to_string(), field)
    }

    /// The server's own counters (`/metrics`), without comments and
    /// histogram buckets; empty if it cannot be read.
    pub async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.addr);
        let client = reqwest::Client::new();
        let request = client.get(&url).bearer_auth(METRICS_TOKEN);
        let Ok(response) = request.send().await else {
            return String::new();
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("chat_") && !l.contains("_bucket{"))
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU ticks (user and system) process `pid` (or `self`) has used.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// A `kB` field (`VmRSS:`, `VmHWM:`) of process `pid`'s (or `self`'s) status.
fn status_kb(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// CPU seconds this process (the load generator) has used so far.
pub fn own_cpu_seconds() -> f64 {
    cpu_ticks("self") as f64 / TICKS_PER_SEC
}

/// Resident memory of this process, in bytes.
pub fn own_rss_bytes() -> u64 {
    status_kb("self", "VmRSS:") * 1024
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private Redis server on a free loopback port, for several servers.
pub struct Redis {
    child: Child,
    pub url: String,
}

impl Redis {
    pub fn start() -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e} (scripts/setup installs it)"))?;
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Self {
                    child,
                    url: format!("redis://127.0.0.1:{port}"),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("redis-server did not start on port {port}"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
