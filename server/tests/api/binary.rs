//! The `server` binary as a person runs it: help, the start line, a port in use.

use crate::common::read_start_line;
use std::process::{Command, Stdio};

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_server"))
}

#[test]
fn help_documents_every_flag_and_its_environment_variable() {
    let out = server().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "--addr",
        "CHAT_ADDR",
        "LEPTOS_SITE_ADDR",
        "--database-url",
        "DATABASE_URL",
        "sqlite://chat.db",
    ] {
        assert!(help.contains(expected), "help lacks {expected}:\n{help}");
    }
}

#[test]
fn it_announces_its_address_and_refuses_a_port_in_use_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();

    let out = server()
        .args(["--addr", &addr.to_string(), "--database-url", &db])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line, no backtrace:\n{stderr}"
    );
    assert!(
        stderr.contains(&addr.to_string()) && stderr.contains("--addr"),
        "{stderr}"
    );
    drop(taken);

    // The same address is fine once free; the first line says where to go.
    let mut child = server()
        .args(["--addr", &addr.to_string(), "--database-url", &db])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(read_start_line(child.stdout.take().unwrap()), addr);

    // SIGTERM stops it cleanly.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
