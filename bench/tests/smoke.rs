//! Keeps the load generator working: every scenario, tiny, against the debug
//! server binary that `cargo test` builds beside this one (the cluster one on
//! the PostgreSQL server `CHAT_TEST_POSTGRES` names: `source scripts/services`).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn every_scenario_runs_and_prints_its_figures() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_bench"));
    let server = bench.with_file_name("server");
    assert!(
        server.exists(),
        "{} is missing: run `cargo test` for the workspace (or `cargo build -p server`) first",
        server.display()
    );
    let out = Command::new(&bench)
        .args(["--server-bin", server.to_str().unwrap(), "smoke"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed:\n{stdout}\n{stderr}");
    for figure in [
        "deliveries/s",
        "the bus hop",
        "latency p99",
        "per connection",
        "latest page p99",
        "TTFB p50",
    ] {
        assert!(stdout.contains(figure), "no {figure} in:\n{stdout}");
    }
    // The spread idle run held every socket through its client processes.
    assert!(
        stdout.contains("idle: 40 connections over 2 servers"),
        "the spread idle run did not hold all 40 sockets:\n{stdout}"
    );
    // Messages really flowed: the smoke fanout delivered something.
    let delivered = stdout
        .lines()
        .find(|l| l.starts_with("deliveries ") || l.starts_with("deliveries  "))
        .unwrap_or_default();
    assert!(
        !delivered.contains(" 0 of"),
        "nothing was delivered:\n{stdout}"
    );
}
