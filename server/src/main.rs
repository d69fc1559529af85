//! `server`: serves the chat, or runs one of the operator's commands
//! (`server migrate`, `backup`, `restore`, `admin`; see `server --help`).

use clap::Parser;
use server::config::Config;
use server::operator::Command;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// A real-time chat server: rooms, history and live messages over
/// WebSockets. Without a command it serves; the commands are the operator's.
#[derive(Debug, Parser)]
#[command(name = "server", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Config,
    /// How log lines are written to stderr: `text` for people, `json` (one
    /// object per line) for log shippers.
    #[arg(
        long,
        env = "CHAT_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr; stdout carries only the start line (or a
    // command's report), for scripts.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    if let Some(command) = cli.command {
        return match command.run().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let config = cli.serve;
    raise_open_files_limit();
    let server = match server::start(config).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Handlers go in before the announcement, so a signal right after it
    // is a clean shutdown, not a kill.
    let stopping = shutdown_signal();
    println!("Chat server listening on http://{}", server.addr);
    let stop = server.stopper();
    tokio::spawn(async move {
        stopping.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM; the handlers are installed when this is called.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
        let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
        async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Every connection is a file descriptor: take the whole hard limit, not the
/// (often 1024) soft one, so the connection caps, not the OS, decide.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(err) => tracing::warn!(%err, "cannot raise the open files limit"),
    }
}
