//! The open WebSockets of signed-in sessions, by account: logging out closes
//! that session's sockets, a password change every other session's, deleting
//! the account all of them. A closed socket's tab finds out at once (close
//! code 4003) instead of chatting on under a session that is gone.

use crate::bus::Ended;
use crate::connection::close::CLOSE_SIGNED_OUT;
use crate::connection::outbox::Outbox;
use crate::hub::ConnId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

struct Socket {
    conn: ConnId,
    token_hash: String,
    /// When its session ends by time (ms since the epoch).
    expires_at: i64,
    outbox: Outbox,
}

#[derive(Default)]
pub struct SignedInSockets {
    by_account: Mutex<HashMap<i64, Vec<Socket>>>,
}

/// A socket's place in the registry, given up when dropped (the socket ended).
pub struct Registration {
    sockets: Arc<SignedInSockets>,
    account_id: i64,
    conn: ConnId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut by_account = self.sockets.by_account.lock().expect("sockets lock");
        if let Some(list) = by_account.get_mut(&self.account_id) {
            list.retain(|s| s.conn != self.conn);
            if list.is_empty() {
                by_account.remove(&self.account_id);
            }
        }
    }
}

impl SignedInSockets {
    pub fn register(
        self: &Arc<Self>,
        account_id: i64,
        token_hash: &str,
        expires_at: i64,
        conn: ConnId,
        outbox: Outbox,
    ) -> Registration {
        self.by_account
            .lock()
            .expect("sockets lock")
            .entry(account_id)
            .or_default()
            .push(Socket {
                conn,
                token_hash: token_hash.to_owned(),
                expires_at,
                outbox,
            });
        Registration {
            sockets: self.clone(),
            account_id,
            conn,
        }
    }

    /// Closes the sockets whose session ended by time before `now`; how many.
    pub fn close_expired(&self, now: i64) -> usize {
        let mut by_account = self.by_account.lock().expect("sockets lock");
        let mut closed = 0;
        for socket in by_account.values_mut().flatten() {
            if socket.expires_at <= now {
                socket.outbox.close(CLOSE_SIGNED_OUT);
                // Closed once: it stays listed until its connection ends.
                socket.expires_at = i64::MAX;
                closed += 1;
            }
        }
        closed
    }

    /// The sessions with a socket open, each once, with their accounts.
    pub fn open_sessions(&self) -> Vec<(i64, String)> {
        let by_account = self.by_account.lock().expect("sockets lock");
        let mut sessions: Vec<(i64, String)> = by_account
            .iter()
            .flat_map(|(account, sockets)| sockets.iter().map(|s| (*account, s.token_hash.clone())))
            .collect();
        sessions.sort_unstable();
        sessions.dedup();
        sessions
    }

    /// Sends `message` to every socket of the account.
    pub fn tell(&self, account_id: i64, message: &axum::extract::ws::Message) {
        let by_account = self.by_account.lock().expect("sockets lock");
        for socket in by_account.get(&account_id).into_iter().flatten() {
            socket.outbox.push(message.clone());
        }
    }

    /// Closes the account's sockets of the sessions that `ended`.
    pub fn close(&self, account_id: i64, ended: &Ended) {
        let by_account = self.by_account.lock().expect("sockets lock");
        for socket in by_account.get(&account_id).into_iter().flatten() {
            if ended.picks(&socket.token_hash) {
                socket.outbox.close(CLOSE_SIGNED_OUT);
            }
        }
    }
}
