//! The server's integration tests, linked once: a real server on port 0 with a
//! real database (SQLite, or PostgreSQL when `CHAT_TEST_POSTGRES` is set), real WebSocket clients, and the real binary where a test
//! needs a process (signals, `kill -9`).
//!
//! - [`common`]: the harness (test apps, clients, frame helpers).
//! - [`accounts`]: sign up, log in, sessions, reserved names, owners' rooms.
//! - [`assistant`]: the assistant against a scripted OpenAI-compatible server.
//! - [`actions`]: replies, edits, deletions, reactions, search.
//! - [`batches`]: group commits: a resend, many rooms, a refused entry inside one batch.
//! - [`chat`]: rooms, messages, notices, pages.
//! - [`cluster`]: two servers on PostgreSQL and Redis (PostgreSQL run only).
//! - [`delivery`]: exactly-once, in-order delivery across drops and slow readers.
//! - [`abuse`]: oversize frames, floods, foreign origins, idle peers.
//! - [`fault`]: `kill -9` mid-stream and restart.
//! - [`budgets`]: search, proxies, login, guest upload and store budgets; sessions ending by time.
//! - [`binary`]: the binary's command line, start line and signals.
//! - [`frames`]: property tests of frame decoding.
//! - [`moderation`]: owners and moderators delete, remove, ban; naming moderators.
//! - [`notices`]: join and leave notices grouped, as servers run by default.
//! - [`operator`]: `server migrate`, `backup`, `restore` run as the binary (PostgreSQL as the target).
//! - [`private`]: private rooms: only members read or take part, on every path.
//! - [`retention`]: old messages deleted with their files, search rows and reactions.
//! - [`rules`]: every room rule on every entry point (socket, form, history, search, media).
//! - [`rule_table`]: the same as one table: every entry point in every standing.
//! - [`media`]: uploads, thumbnails, safe serving, ranges, members only, both blob stores.
//! - [`http`]: hosts, cross-site calls, security headers, half-sent requests, caps.

mod abuse;
mod accounts;
mod actions;
mod assistant;
mod batches;
mod binary;
mod budgets;
mod chat;
mod cluster;
mod common;
mod delivery;
mod e2e;
mod fault;
mod frames;
mod http;
mod media;
mod moderation;
mod notices;
mod operator;
mod private;
mod retention;
mod rule_table;
mod rules;
