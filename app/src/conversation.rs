//! One joined room as this browser holds it: its log, who is online and
//! typing, messages on their way, how many arrived unseen. A conversation
//! lives as long as the app, not the page, so a room keeps receiving (and
//! counting unread) while the person looks at another one.

use crate::alerts::Alerts;
use crate::clock;
use crate::erased::{Kept, Slot};
use crate::media::{KEY_HEADER, MediaGrant, MediaId, PASS_PATH};
use crate::messages::{
    ClientId, Entry, EntryKind, MessageBody, Quote, Seq, apply_action, excerpt, fetch_history,
};
use crate::people::{Nick, Online, SessionId};
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame};
use crate::rooms::RoomName;
use crate::socket::{ChatSocket, RoomLink, message_id};
use crate::storage;
use crate::uploads::Uploads;
use leptos::prelude::*;
use std::rc::Rc;

/// How long "x is typing…" stays without a fresh typing frame.
pub const TYPING_SHOWN_MS: i64 = 4_000;
/// The least time between two typing frames from this browser.
pub const TYPING_EVERY_MS: i64 = 2_000;

/// Said when an edit, deletion or reaction finds the connection down.
const OFFLINE: &str = "Not connected right now: try again once the connection is back.";

/// How long a message the server could not store waits before going again.
const RETRY_AFTER_MS: u64 = 2_000;

/// A message shown before the server has acknowledged it.
#[derive(Clone, PartialEq)]
pub struct Pending {
    pub client_id: ClientId,
    pub body: MessageBody,
    pub reply_to: Option<Seq>,
    pub media: Vec<MediaId>,
}

impl Pending {
    fn frame(self, room: RoomName) -> ClientFrame {
        ClientFrame::Send {
            room,
            client_id: self.client_id,
            body: self.body,
            reply_to: self.reply_to,
            media: self.media,
        }
    }
}

/// A message sent before its files finished uploading: it goes once they have.
#[derive(Clone, PartialEq)]
pub struct Held {
    pub text: String,
    pub reply_to: Option<Seq>,
}

/// Handle to a room's state; every field is a signal, so it is cheap to copy.
#[derive(Clone, Copy)]
pub struct Conversation {
    pub room: Kept<RoomName>,
    pub log: Slot<Vec<Entry>>,
    pub pending: Slot<Vec<Pending>>,
    /// Who is in the room, and whether each is signed in (else a guest).
    pub online: Slot<Online>,
    /// Who is typing, with when their notice expires (ms since the epoch).
    pub typing: Slot<Vec<(Nick, i64)>>,
    /// Messages from others that arrived while the room was not on screen.
    pub unread: Slot<u32>,
    /// Of those, the ones that mention this person.
    pub mentions: Slot<u32>,
    /// The message the draft answers, quoted above the composer.
    pub replying: Slot<Option<Quote>>,
    /// The message of this person's the composer is editing instead of
    /// writing a new one.
    pub editing: Slot<Option<Seq>>,
    /// The message just jumped to (from a reply's quote or a search result).
    pub highlighted: Slot<Option<Seq>>,
    /// This person moderates the room (may delete anyone's message, remove
    /// and ban people).
    pub moderator: Slot<bool>,
    /// The room's media key and upload limits (from the last join).
    pub media: Slot<Option<MediaGrant>>,
    /// This browser holds the room's media pass (a cookie, traded for the
    /// key after each join), so its files can be shown.
    pub files_open: Slot<bool>,
    /// Files picked for the next message.
    pub uploads: Uploads,
    /// A message waiting for its files.
    pub held: Slot<Option<Held>>,
    /// The picture open in the viewer.
    pub viewing: Slot<Option<MediaId>>,
    socket: Kept<Option<ChatSocket>>,
    pub me: Slot<Option<Nick>>,
    pub joined: Slot<bool>,
    pub asking_nick: Slot<bool>,
    pub problem: Slot<Option<String>>,
    pub info: Slot<Option<String>>,
    pub draft: Slot<String>,
    /// The log reaches the room's first entry.
    pub at_start: Slot<bool>,
    pub loading_older: Slot<bool>,
    /// Entries at or below `head` were already in the room when we joined;
    /// only later ones change who is online or count as new.
    head: Kept<Seq>,
    typing_sent: Kept<i64>,
    /// The last join resumed from entries the log already had, so replayed
    /// messages are news; a first join's replay is just the latest page.
    resumed: Kept<bool>,
    /// Set while the room is the one on screen.
    on_screen: Slot<bool>,
}

/// Inserts `entry` in `seq` order unless the log already has it.
pub fn insert_entry(log: &mut Vec<Entry>, entry: Entry) -> bool {
    match log.last() {
        Some(last) if last.seq < entry.seq => {
            log.push(entry);
            true
        }
        None => {
            log.push(entry);
            true
        }
        _ => match log.binary_search_by_key(&entry.seq, |e| e.seq) {
            Ok(_) => false,
            Err(at) => {
                log.insert(at, entry);
                true
            }
        },
    }
}

impl Conversation {
    pub fn new(room: RoomName, entries: Vec<Entry>, at_start: bool) -> Self {
        Self {
            room: Kept::new(room),
            log: Slot::new(entries),
            pending: Slot::new(vec![]),
            online: Slot::new(Online::default()),
            typing: Slot::new(vec![]),
            unread: Slot::new(0),
            mentions: Slot::new(0),
            replying: Slot::new(None),
            editing: Slot::new(None),
            highlighted: Slot::new(None),
            moderator: Slot::new(false),
            media: Slot::new(None),
            files_open: Slot::new(false),
            uploads: Uploads::new(),
            held: Slot::new(None),
            viewing: Slot::new(None),
            socket: Kept::new(None),
            me: Slot::new(None),
            joined: Slot::new(false),
            asking_nick: Slot::new(false),
            problem: Slot::new(None),
            info: Slot::new(None),
            draft: Slot::new(String::new()),
            at_start: Slot::new(at_start),
            loading_older: Slot::new(false),
            head: Kept::new(Seq::MAX),
            typing_sent: Kept::new(0),
            resumed: Kept::new(false),
            on_screen: Slot::new(false),
        }
    }

    pub fn room(&self) -> RoomName {
        self.room.get_value()
    }

    /// Adds a page of history fetched for the room page.
    pub fn merge(&self, entries: Vec<Entry>, at_start: bool) {
        // A page that does not touch what is held (a room left unconnected
        // for long) replaces it: the log never keeps a silent hole.
        let detached = self.log.with_untracked(|log| {
            log.last()
                .zip(entries.first())
                .is_some_and(|(held, fresh)| fresh.seq > held.seq + 1)
        });
        if detached {
            self.log.set(entries);
            self.at_start.set(at_start);
            return;
        }
        let reaches_back = self.log.with_untracked(|log| {
            log.first()
                .is_none_or(|first| entries.first().is_some_and(|e| e.seq <= first.seq))
        });
        self.log.update(|log| {
            for entry in entries {
                insert_entry(log, entry);
            }
        });
        if reaches_back {
            self.at_start.set(at_start);
        }
    }

    pub fn set_on_screen(&self, on: bool) {
        self.on_screen.set(on);
        if on {
            self.unread.set(0);
            self.mentions.set(0);
        }
    }

    /// Joins the room as `nick` over the shared socket (now and after every
    /// reconnect), resuming after the last entry the log shows.
    pub fn connect(self, socket: ChatSocket, alerts: Alerts, nick: Nick) {
        let Ok(session) = SessionId::parse(&storage::session()) else {
            self.problem
                .set(Some("This browser cannot keep a session.".into()));
            return;
        };
        self.me.set(Some(nick.clone()));
        self.socket.set_value(Some(socket));
        self.asking_nick.set(false);
        let room = self.room();
        socket.enter(
            room.clone(),
            RoomLink {
                on_connect: Rc::new(move || {
                    let room = self.room();
                    let since = self.log.with_untracked(|l| l.last().map(|e| e.seq));
                    self.resumed.set_value(since.is_some());
                    let mut frames = vec![ClientFrame::Join {
                        room: room.clone(),
                        nick: nick.clone(),
                        session: session.clone(),
                        since,
                    }];
                    frames.extend(
                        self.pending
                            .get_untracked()
                            .into_iter()
                            .map(|p| p.frame(room.clone())),
                    );
                    frames
                }),
                on_frame: Rc::new(move |frame| self.on_frame(socket, alerts, frame)),
            },
        );
    }

    fn on_frame(self, socket: ChatSocket, alerts: Alerts, frame: ServerFrame) {
        match frame {
            ServerFrame::Joined {
                online,
                head,
                reset,
                moderator,
                media,
                ..
            } => {
                self.moderator.set(moderator);
                if let Some(grant) = &media {
                    self.uploads.resume(grant, move || self.send_held());
                    self.take_media_pass(grant.key.clone());
                }
                self.media.set(media);
                if reset {
                    // Too much was missed to replay: the latest page follows,
                    // and it is not all news.
                    self.resumed.set_value(false);
                    self.log.set(Vec::new());
                    self.at_start.set(false);
                    self.info.set(Some(
                        "You were away for a while: showing the latest messages.".into(),
                    ));
                }
                self.head.set_value(head);
                self.online.set(online.into_iter().collect());
                self.joined.set(true);
                self.problem.set(None);
            }
            ServerFrame::Entry { entry, .. } => self.on_entry(alerts, entry),
            ServerFrame::Ack { client_id, .. } => {
                self.pending
                    .update(|p| p.retain(|m| m.client_id != client_id));
            }
            ServerFrame::Typing { nick, .. } => {
                if self.me.get_untracked().as_ref() == Some(&nick) {
                    return;
                }
                let until = clock::now_ms() + TYPING_SHOWN_MS;
                self.typing.update(|t| {
                    t.retain(|(n, _)| n != &nick);
                    t.push((nick, until));
                });
                set_timeout(
                    move || {
                        let now = clock::now_ms();
                        self.typing.update(|t| t.retain(|(_, until)| *until > now));
                    },
                    std::time::Duration::from_millis(TYPING_SHOWN_MS as u64 + 50),
                );
            }
            ServerFrame::Error {
                code: ErrorCode::NickInUse | ErrorCode::NameReserved,
                message,
                ..
            } => {
                socket.forget(&self.room());
                self.joined.set(false);
                self.me.set(None);
                self.asking_nick.set(true);
                self.problem.set(Some(message));
            }
            ServerFrame::Error {
                code: ErrorCode::Internal,
                client_id: Some(client_id),
                ..
            } => self.retry_later(socket, client_id),
            ServerFrame::Error {
                code: ErrorCode::AccountsOnly | ErrorCode::Removed | ErrorCode::Banned,
                message,
                ..
            } => {
                // Rejoining would only be refused again.
                socket.forget(&self.room());
                self.joined.set(false);
                self.problem.set(Some(message));
            }
            ServerFrame::Error {
                code: ErrorCode::NoSuchMedia,
                client_id: Some(client_id),
                message,
                ..
            } => {
                // Sending it again would be refused again.
                self.pending
                    .update(|p| p.retain(|m| m.client_id != client_id));
                self.problem.set(Some(message));
            }
            ServerFrame::Error { message, .. } => self.problem.set(Some(message)),
        }
    }

    fn on_entry(self, alerts: Alerts, entry: Entry) {
        let live = entry.seq > self.head.get_value();
        let seq = entry.seq;
        let last = self.log.with_untracked(|l| l.last().map_or(0, |e| e.seq));
        // A live entry that skips ahead means frames went missing in
        // between: fetch that range from the history.
        if live && last + 1 < seq {
            self.fill_gap(last, seq);
        }
        if live {
            match &entry.kind {
                EntryKind::Joined => self.online.update(|o| {
                    o.insert(entry.nick.clone(), entry.account);
                }),
                EntryKind::Left => self.online.update(|o| {
                    o.remove(&entry.nick);
                }),
                EntryKind::Crowd(joined, left, _) => self.online.update(|o| {
                    for person in joined {
                        o.insert(person.nick.clone(), person.account);
                    }
                    for nick in left {
                        o.remove(nick);
                    }
                }),
                _ => {}
            }
        }
        if entry.kind.target().is_some() {
            // An edit, deletion or reaction changes what the log shows; it
            // keeps its own place (its seq) but is not a line of its own.
            self.log.update(|log| {
                apply_action(log, &entry);
                insert_entry(log, entry);
            });
            return;
        }
        if let EntryKind::Message { client_id, .. } = &entry.kind {
            self.pending
                .update(|p| p.retain(|m| &m.client_id != client_id));
            // Their message is out: they are no longer typing it.
            self.typing.update(|t| t.retain(|(n, _)| n != &entry.nick));
        }
        let from_other = self.me.get_untracked().as_ref() != Some(&entry.nick);
        let message = matches!(entry.kind, EntryKind::Message { .. });
        let mut added = false;
        let news = message && from_other && (live || self.resumed.get_value());
        let copy = news.then(|| entry.clone());
        self.log.update(|log| added = insert_entry(log, entry));
        if let Some(entry) = copy.filter(|_| added) {
            // On screen in a background tab is unseen too: the title shows it.
            if !self.on_screen.get_untracked() || crate::alerts::tab_hidden() {
                self.unread.update(|n| *n += 1);
                if let (EntryKind::Message { body, .. }, Some(me)) =
                    (&entry.kind, self.me.get_untracked())
                    && crate::markup::mentions(body.as_str(), me.as_str())
                {
                    self.mentions.update(|n| *n += 1);
                }
            }
            // Only what arrives now is worth a chime, not a catch-up burst.
            if live {
                alerts.on_message(&self.room(), &entry, self.me.get_untracked().as_ref());
            }
        }
    }

    /// The server could not store a message this time: it stays pending and
    /// goes again with the same id (stored once, whatever happened before).
    fn retry_later(self, socket: ChatSocket, client_id: ClientId) {
        set_timeout(
            move || {
                let Some(pending) = self
                    .pending
                    .with_untracked(|p| p.iter().find(|m| m.client_id == client_id).cloned())
                else {
                    return;
                };
                socket.send(&pending.frame(self.room()));
            },
            std::time::Duration::from_millis(RETRY_AFTER_MS),
        );
    }

    /// Trades the room's media key for its pass, then shows its files (a
    /// refusal or a lost request leaves them as names until the next join).
    fn take_media_pass(self, key: String) {
        leptos::task::spawn_local(async move {
            if crate::api::post_header(PASS_PATH, KEY_HEADER, &key).await {
                self.files_open.set(true);
            }
        });
    }

    /// Loads the entries strictly between `last` and `next` into the log.
    fn fill_gap(self, last: Seq, next: Seq) {
        let missing = (next - last - 1).min(200) as u32;
        let room = self.room();
        leptos::task::spawn_local(async move {
            if let Ok(page) = fetch_history(room.as_str(), Some(next), Some(missing)).await {
                // Missed edits and reactions still apply to what is held.
                self.log.update(|log| {
                    for entry in page.entries {
                        apply_action(log, &entry);
                        insert_entry(log, entry);
                    }
                });
            }
        });
    }

    /// Fetches the page before the oldest entry shown; returns once it is in
    /// the log (false when there was nothing to fetch).
    pub async fn load_older(self) -> bool {
        if self.at_start.get_untracked() || self.loading_older.get_untracked() {
            return false;
        }
        let Some(first) = self.log.with_untracked(|l| l.first().map(|e| e.seq)) else {
            return false;
        };
        self.loading_older.set(true);
        let page = fetch_history(self.room().as_str(), Some(first), None).await;
        let loaded = match page {
            Ok(page) => {
                self.log.update(|log| {
                    for entry in page.entries {
                        insert_entry(log, entry);
                    }
                });
                self.at_start.set(page.at_start);
                true
            }
            Err(_) => {
                self.problem
                    .set(Some("Earlier messages could not be loaded.".into()));
                false
            }
        };
        self.loading_older.set(false);
        loaded
    }

    /// Tells the room this person is typing, at most every couple of seconds.
    pub fn note_typing(&self, socket: ChatSocket) {
        if !self.joined.get_untracked() {
            return;
        }
        let now = clock::now_ms();
        if now - self.typing_sent.get_value() >= TYPING_EVERY_MS {
            self.typing_sent.set_value(now);
            socket.send(&ClientFrame::Typing { room: self.room() });
        }
    }

    /// Sends the draft (or, while editing, the new text of that message);
    /// a new message shows as pending until the server acknowledges it.
    pub fn send_draft(&self, socket: ChatSocket) {
        if !self.uploads.is_empty() && self.editing.get_untracked().is_none() {
            return self.hold_for_uploads();
        }
        if !self.joined.get_untracked() {
            return;
        }
        let body = match MessageBody::parse(&self.draft.get_untracked()) {
            Ok(body) => body,
            Err(reason) => return self.problem.set(Some(reason.to_string())),
        };
        if let Some(target) = self.editing.get_untracked() {
            let edit = ClientFrame::Edit {
                room: self.room(),
                target,
                body,
            };
            // An edit is not queued like a message: kept in the box, it
            // can be saved again once the connection is back.
            if !socket.send(&edit) {
                return self.problem.set(Some(OFFLINE.into()));
            }
            self.editing.set(None);
        } else {
            let Ok(client_id) = ClientId::parse(&message_id()) else {
                return;
            };
            let pending = Pending {
                client_id,
                body,
                reply_to: self.replying.get_untracked().map(|q| q.seq),
                media: vec![],
            };
            self.pending.update(|p| p.push(pending.clone()));
            socket.send(&pending.frame(self.room()));
            self.replying.set(None);
            // The next keystroke starts a new "typing" at once.
            self.typing_sent.set_value(0);
        }
        self.draft.set(String::new());
        self.problem.set(None);
    }

    /// Sends the draft with the picked files once they are all uploaded (at
    /// once if they are); until then it waits, even across a reconnect.
    fn hold_for_uploads(&self) {
        if self.uploads.any_failed() {
            return self.problem.set(Some(
                "Remove the files that could not be uploaded, or try them again.".into(),
            ));
        }
        self.held.set(Some(Held {
            text: self.draft.get_untracked(),
            reply_to: self.replying.get_untracked().map(|q| q.seq),
        }));
        self.draft.set(String::new());
        self.replying.set(None);
        self.problem.set(None);
        self.send_held();
    }

    /// Sends the held message if its files are all uploaded.
    pub fn send_held(&self) {
        let (Some(held), Some(media)) = (self.held.get_untracked(), self.uploads.ready()) else {
            return;
        };
        let Some(socket) = self.socket.get_value() else {
            return;
        };
        // Without words of its own, a message reads as its files' names.
        let text = if held.text.trim().is_empty() {
            self.uploads.names()
        } else {
            held.text
        };
        let body = match MessageBody::parse(&text) {
            Ok(body) => body,
            Err(reason) => return self.problem.set(Some(reason.to_string())),
        };
        let Ok(client_id) = ClientId::parse(&message_id()) else {
            return;
        };
        let pending = Pending {
            client_id,
            body,
            reply_to: held.reply_to,
            media,
        };
        self.held.set(None);
        self.uploads.clear();
        self.pending.update(|p| p.push(pending.clone()));
        socket.send(&pending.frame(self.room()));
        self.typing_sent.set_value(0);
    }

    /// Puts message `seq` (this person's) in the composer to be edited.
    pub fn start_editing(&self, seq: Seq) {
        let text = self.log.with_untracked(|log| {
            let at = log.binary_search_by_key(&seq, |e| e.seq).ok()?;
            match &log[at].kind {
                EntryKind::Message { body, .. } => Some(body.as_str().to_owned()),
                _ => None,
            }
        });
        if let Some(text) = text {
            self.replying.set(None);
            self.editing.set(Some(seq));
            self.draft.set(text);
        }
    }

    /// Leaves editing (or replying) with the composer emptied of it.
    pub fn cancel_editing(&self) {
        if self.editing.get_untracked().is_some() {
            self.draft.set(String::new());
        }
        self.editing.set(None);
        self.replying.set(None);
    }

    /// This person's latest message still in the log (Up arrow edits it).
    pub fn my_last_message(&self) -> Option<Seq> {
        let me = self.me.get_untracked()?;
        self.log.with_untracked(|log| {
            log.iter()
                .rev()
                .find(|e| e.nick == me && matches!(e.kind, EntryKind::Message { .. }))
                .map(|e| e.seq)
        })
    }

    /// Answers message `seq`: its quote goes above the composer.
    pub fn start_reply(&self, seq: Seq) {
        let quote = self.log.with_untracked(|log| {
            let entry = &log[log.binary_search_by_key(&seq, |e| e.seq).ok()?];
            let EntryKind::Message { body, .. } = &entry.kind else {
                return None;
            };
            Some(Quote {
                seq,
                nick: entry.nick.clone(),
                excerpt: Some(excerpt(body.as_str())),
            })
        });
        if quote.is_some() {
            if self.editing.get_untracked().is_some() {
                self.cancel_editing();
            }
            self.replying.set(quote);
        }
    }

    /// Sends an edit, deletion or reaction; it shows once the room's log
    /// carries it (for everyone at once).
    pub fn act(&self, socket: ChatSocket, frame: ClientFrame) {
        if self.joined.get_untracked() && !socket.send(&frame) {
            self.problem.set(Some(OFFLINE.into()));
        }
    }

    /// Brings message `seq` into the log (loading older pages as far as
    /// needed) and marks it as the one to show; false if it is not there.
    pub async fn reveal(self, seq: Seq) -> bool {
        loop {
            let held = self
                .log
                .with_untracked(|log| log.first().is_some_and(|first| first.seq <= seq));
            if held {
                break;
            }
            if self.at_start.get_untracked() || !self.load_older().await {
                return false;
            }
        }
        self.highlighted.set(Some(seq));
        true
    }
}

/// "usman is typing…", "usman and sadia are typing…", "Several people are typing…".
pub fn typing_text(nicks: &[Nick]) -> Option<String> {
    match nicks {
        [] => None,
        [one] => Some(format!("{one} is typing…")),
        [a, b] => Some(format!("{a} and {b} are typing…")),
        _ => Some("Several people are typing…".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: Seq) -> Entry {
        Entry {
            seq,
            at: 0,
            nick: Nick::parse("n").unwrap(),
            kind: EntryKind::Joined,
            account: false,
        }
    }

    #[test]
    fn entries_stay_in_seq_order_and_unique() {
        let mut log = vec![];
        for seq in [1, 3, 2, 3, 1, 4] {
            insert_entry(&mut log, entry(seq));
        }
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn typing_names_up_to_two_people() {
        let n = |s| Nick::parse(s).unwrap();
        assert_eq!(typing_text(&[]), None);
        assert_eq!(typing_text(&[n("usman")]).unwrap(), "usman is typing…");
        assert_eq!(
            typing_text(&[n("usman"), n("sadia")]).unwrap(),
            "usman and sadia are typing…"
        );
        assert_eq!(
            typing_text(&[n("a"), n("b"), n("c")]).unwrap(),
            "Several people are typing…"
        );
    }
}
