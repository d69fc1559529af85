//! One joined room as this browser holds it: its log, who is online and
//! typing, messages on their way, how many arrived unseen. A conversation
//! lives as long as the app, not the page, so a room keeps receiving (and
//! counting unread) while the person looks at another one.
//!
//! - `state.rs`: the room's state as plain data, and the pure reducer that
//!   folds server frames into it ([`RoomState`]), unit-tested natively.
//! - `mod.rs`: the signals around it ([`Conversation`], whose [`Part`]s the
//!   views read) and what the state asks of the browser: the socket,
//!   history fetches, timers, chimes. The composer's own state (draft,
//!   reply, edit, files) is here too, as plain signals.

mod state;

pub use state::{Answering, Changed, Effect, Pending, RoomState, TYPING_SHOWN_MS, insert_entry};

use crate::alerts::Alerts;
use crate::clock;
use crate::e2e::{Opened, Sealed};
use crate::erased::{Bell, Kept, Slot};
use crate::media::{KEY_HEADER, MediaGrant, MediaId, PASS_PATH};
use crate::messages::{ClientId, Entry, MessageBody, Quote, Seq, fetch_history};
use crate::people::{Nick, Online, SessionId};
use crate::protocol::{ClientFrame, ServerFrame};
use crate::rooms::RoomName;
use crate::socket::{ChatSocket, RoomLink, message_id};
use crate::storage;
use crate::uploads::Uploads;
use leptos::prelude::*;
use std::rc::Rc;

/// The least time between two typing frames from this browser.
pub const TYPING_EVERY_MS: i64 = 2_000;

/// Said when an edit, deletion or reaction finds the connection down.
const OFFLINE: &str = "Not connected right now: try again once the connection is back.";

/// How long a message the server could not store waits before going again.
const RETRY_AFTER_MS: u64 = 2_000;

/// A message sent before its files finished uploading: it goes once they have.
#[derive(Clone, PartialEq)]
pub struct Held {
    pub text: String,
    pub reply_to: Option<Seq>,
}

/// One value of a room's state as views read it, like a read-only signal:
/// a view or an effect that reads it runs again when its part of the state
/// changes (see [`Changed`]).
pub struct Part<T> {
    state: Kept<RoomState>,
    changed: Bell,
    read: fn(&RoomState) -> &T,
}

impl<T> Clone for Part<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Part<T> {}

impl<T> Part<T> {
    /// Reads the value and subscribes the running effect to it.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.changed.listen();
        self.with_untracked(f)
    }

    pub fn with_untracked<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let (read, mut f, mut out) = (self.read, Some(f), None);
        read_state(self.state, &mut |state| {
            out = f.take().map(|f| f(read(state)))
        });
        out.expect("a conversation read while the app is running")
    }
}

/// Lends the state to `f`: compiled once for every part and reader.
fn read_state(state: Kept<RoomState>, f: &mut dyn FnMut(&RoomState)) {
    state.with_value(|state| f(state));
}

impl<T: Clone> Part<T> {
    pub fn get(&self) -> T {
        self.with(T::clone)
    }

    pub fn get_untracked(&self) -> T {
        self.with_untracked(T::clone)
    }
}

/// Handle to a room's state; every field is a signal, so it is cheap to copy.
#[derive(Clone, Copy)]
pub struct Conversation {
    pub room: Kept<RoomName>,
    state: Kept<RoomState>,
    /// One per part of the state, in the order of [`Changed::PARTS`].
    changed: [Bell; 6],
    /// The message the draft answers, quoted above the composer.
    pub replying: Slot<Option<Quote>>,
    /// The message of this person's the composer is editing instead of
    /// writing a new one.
    pub editing: Slot<Option<Seq>>,
    /// The message just jumped to (from a reply's quote or a search result).
    pub highlighted: Slot<Option<Seq>>,
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
    pub draft: Slot<String>,
    pub loading_older: Slot<bool>,
    typing_sent: Kept<i64>,
    /// In an encrypted conversation, the sealed bodies this device opened
    /// (or is opening: `None`), by their sealed text.
    opened: Kept<Vec<(String, Option<Opened>)>>,
    opened_bell: Bell,
    /// Sealed files (and thumbnails) this device fetched and opened: their
    /// `blob:` addresses by upload id (`None` while opening, `""` if it
    /// failed).
    files: Kept<Vec<(MediaId, Option<String>)>>,
    files_bell: Bell,
}

/// The parts of the state the views read.
impl Conversation {
    fn part<T>(&self, part: Changed, read: fn(&RoomState) -> &T) -> Part<T> {
        Part {
            state: self.state,
            changed: self.changed[part.index()],
            read,
        }
    }

    pub fn log(&self) -> Part<Vec<Entry>> {
        self.part(Changed::LOG, |s| &s.log().entries)
    }

    /// The log reaches the room's first entry.
    pub fn at_start(&self) -> Part<bool> {
        self.part(Changed::LOG, |s| &s.log().at_start)
    }

    pub fn pending(&self) -> Part<Vec<Pending>> {
        self.part(Changed::PENDING, RoomState::pending)
    }

    /// Who is in the room, and whether each is signed in (else a guest).
    pub fn online(&self) -> Part<Online> {
        self.part(Changed::PEOPLE, |s| &s.people().online)
    }

    /// Who is typing, with when their notice expires (ms since the epoch).
    pub fn typing(&self) -> Part<Vec<(Nick, i64)>> {
        self.part(Changed::PEOPLE, |s| &s.people().typing)
    }

    /// The assistant's answer being written here, if any.
    pub fn answering(&self) -> Part<Option<Answering>> {
        self.part(Changed::PEOPLE, |s| &s.people().answering)
    }

    /// Asks the server to stop the answer being written (it keeps what was
    /// written; only its asker or a moderator is heard).
    pub fn stop_assistant(&self, socket: ChatSocket) {
        socket.send(&ClientFrame::StopAssistant { room: self.room() });
    }

    /// Messages from others that arrived while the room was not on screen.
    pub fn unread(&self) -> Part<u32> {
        self.part(Changed::UNREAD, |s| &s.unread().messages)
    }

    /// Of those, the ones that mention this person.
    pub fn mentions(&self) -> Part<u32> {
        self.part(Changed::UNREAD, |s| &s.unread().mentions)
    }

    pub fn me(&self) -> Part<Option<Nick>> {
        self.part(Changed::STANDING, |s| &s.standing().me)
    }

    pub fn joined(&self) -> Part<bool> {
        self.part(Changed::STANDING, |s| &s.standing().joined)
    }

    pub fn asking_nick(&self) -> Part<bool> {
        self.part(Changed::STANDING, |s| &s.standing().asking_nick)
    }

    /// This person moderates the room (may delete anyone's message, remove
    /// and ban people).
    pub fn moderator(&self) -> Part<bool> {
        self.part(Changed::STANDING, |s| &s.standing().moderator)
    }

    /// The server's assistant and whether it answers here.
    pub fn assistant(&self) -> Part<Option<(Nick, bool)>> {
        self.part(Changed::STANDING, |s| &s.standing().assistant)
    }

    /// The room's media key and upload limits (from the last join).
    pub fn media(&self) -> Part<Option<MediaGrant>> {
        self.part(Changed::STANDING, |s| &s.standing().media)
    }

    pub fn problem(&self) -> Part<Option<String>> {
        self.part(Changed::NOTES, |s| &s.notes().problem)
    }

    pub fn info(&self) -> Part<Option<String>> {
        self.part(Changed::NOTES, |s| &s.notes().info)
    }
}

impl Conversation {
    pub fn new(room: RoomName, entries: Vec<Entry>, at_start: bool) -> Self {
        Self {
            state: Kept::new(RoomState::new(entries, at_start)),
            changed: std::array::from_fn(|_| Bell::new()),
            replying: Slot::new(None),
            editing: Slot::new(None),
            highlighted: Slot::new(None),
            files_open: Slot::new(false),
            uploads: Uploads::new(room.is_private()),
            held: Slot::new(None),
            viewing: Slot::new(None),
            socket: Kept::new(None),
            draft: Slot::new(String::new()),
            loading_older: Slot::new(false),
            typing_sent: Kept::new(0),
            opened: Kept::new(Vec::new()),
            opened_bell: Bell::new(),
            files: Kept::new(Vec::new()),
            files_bell: Bell::new(),
            room: Kept::new(room),
        }
    }

    /// End-to-end encrypted: a private room or a direct message.
    pub fn encrypted(&self) -> bool {
        self.room.with_value(RoomName::is_private)
    }

    /// What `body` reads as here: itself, or for a sealed body what this
    /// device opened it to (`None` while it opens, which starts the first
    /// time it is asked). A view that reads it shows the text once open.
    pub fn readable(self, body: &str) -> Option<Opened> {
        // Every redraw asks: the known answer first, and a sealed body's
        // whole check (its base64 scanned) only the first time.
        if !self.encrypted() || !crate::e2e::is_sealed(body) {
            return Some(Opened::Text(body.to_owned()));
        }
        self.opened_bell.listen();
        let known = self
            .opened
            .with_value(|o| o.iter().find(|(b, _)| b == body).map(|(_, s)| s.clone()));
        if let Some(state) = known {
            return state;
        }
        let Some(sealed) = Sealed::parse(body) else {
            return Some(Opened::Text(body.to_owned()));
        };
        self.opened
            .update_value(|o| o.push((body.to_owned(), None)));
        self.open_later(body.to_owned(), sealed);
        None
    }

    /// The text of `body` if it reads as text here now (without waiting).
    pub fn text_of(self, body: &str) -> Option<String> {
        match Sealed::parse(body) {
            None => Some(body.to_owned()),
            Some(_) => self.opened.with_value(|o| {
                o.iter().find_map(|(b, s)| match s {
                    Some(opened) if b == body => opened.text().map(str::to_owned),
                    _ => None,
                })
            }),
        }
    }

    // Sealing and opening happen only in the browser.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn remember_opened(self, body: &str, state: Opened) {
        self.opened
            .update_value(|o| match o.iter_mut().find(|(b, _)| b == body) {
                Some(known) => known.1 = Some(state.clone()),
                None => o.push((body.to_owned(), Some(state.clone()))),
            });
        self.opened_bell.ring();
    }

    fn open_later(self, body: String, sealed: Sealed) {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let Some(me) = self.me().get_untracked() else {
                // Not joined yet: tried again with what waits for a key.
                self.remember_opened(&body, Opened::Waiting);
                return;
            };
            let opened = crate::e2e::keys::open(&self.room(), me.as_str(), &sealed).await;
            self.remember_opened(&body, opened);
            self.tell_device_news();
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (body, sealed);
    }

    /// Fetches the room's keys again (handing this person's other devices
    /// what they lack), then opens what waited for a key.
    fn keys_changed(self) {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let Some(me) = self.me().get_untracked() else {
                return;
            };
            crate::e2e::keys::forget(&self.room());
            crate::e2e::keys::refresh(&self.room(), me.as_str()).await;
            self.tell_device_news();
            self.retry_waiting();
        });
    }

    /// "usman added a new device", when the room's keys showed one.
    #[cfg(feature = "hydrate")]
    fn tell_device_news(self) {
        for news in crate::e2e::keys::take_news(&self.room()) {
            self.tell_info(news);
        }
    }

    /// Bodies that could not be opened yet are tried again (the keys they
    /// wait for may be here now).
    fn retry_waiting(self) {
        let waiting: Vec<String> = self.opened.with_value(|o| {
            o.iter()
                .filter(|(_, s)| matches!(s, Some(Opened::Waiting)))
                .map(|(b, _)| b.clone())
                .collect()
        });
        for body in waiting {
            if let Some(sealed) = Sealed::parse(&body) {
                self.open_later(body, sealed);
            }
        }
    }

    pub fn room(&self) -> RoomName {
        self.room.get_value()
    }

    /// Changes the state, then wakes the readers of each part that changed.
    /// `None` once the app is gone.
    fn change<R>(self, f: impl FnOnce(&mut RoomState) -> R) -> Option<R> {
        let mut f = Some(f);
        let mut out = None;
        self.change_erased(&mut |state| out = f.take().map(|f| f(state)));
        out
    }

    /// [`Self::change`] compiled once for all its callers.
    fn change_erased(self, f: &mut dyn FnMut(&mut RoomState)) {
        let Some(changed) = self.state.try_update_value(|state| {
            f(state);
            state.take_changed()
        }) else {
            return;
        };
        for (part, bell) in Changed::PARTS.iter().zip(&self.changed) {
            if changed.has(*part) {
                bell.ring();
            }
        }
    }

    /// Adds a page of history fetched for the room page.
    pub fn merge(&self, entries: Vec<Entry>, at_start: bool) {
        self.change(|s| s.merge(entries, at_start));
    }

    pub fn set_on_screen(&self, on: bool) {
        self.change(|s| s.set_on_screen(on));
    }

    /// Everything that arrived has been seen (the tab is back in front).
    pub fn seen(&self) {
        self.change(RoomState::seen);
    }

    /// The page must ask for a nickname.
    pub fn ask_nick(&self) {
        self.change(RoomState::ask_nick);
    }

    /// This browser left the room.
    pub fn left(&self) {
        self.change(RoomState::left);
    }

    pub fn tell_problem(&self, problem: impl Into<String>) {
        let problem = problem.into();
        self.change(|s| s.tell_problem(Some(problem)));
    }

    pub fn tell_info(&self, info: impl Into<String>) {
        let info = info.into();
        self.change(|s| s.tell_info(Some(info)));
    }

    /// Joins the room as `nick` over the shared socket (now and after every
    /// reconnect), resuming after the last entry the log shows.
    pub fn connect(self, socket: ChatSocket, alerts: Alerts, nick: Nick) {
        let Ok(session) = SessionId::parse(&storage::session()) else {
            self.tell_problem("This browser cannot keep a session.");
            return;
        };
        self.change(|s| s.joining(nick.clone()));
        self.socket.set_value(Some(socket));
        // Who this is is known now: what could not be opened without it is
        // opened.
        self.retry_waiting();
        let room = self.room();
        socket.enter(
            room.clone(),
            RoomLink {
                on_connect: Rc::new(move || {
                    let room = self.room();
                    let since = self.change(RoomState::resume_point).flatten();
                    let mut frames = vec![ClientFrame::Join {
                        room: room.clone(),
                        nick: nick.clone(),
                        session: session.clone(),
                        since,
                    }];
                    frames.extend(
                        self.pending()
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

    /// Folds a frame into the state, then does what it asks.
    fn on_frame(self, socket: ChatSocket, alerts: Alerts, frame: ServerFrame) {
        let hidden = crate::alerts::tab_hidden();
        let Some(effects) = self.change(|s| s.receive(frame, clock::now_ms(), hidden)) else {
            return;
        };
        for effect in effects {
            match effect {
                Effect::FillGap { after, before } => self.fill_gap(after, before),
                Effect::Retry(client_id) => self.retry_later(socket, client_id),
                Effect::Reseal(client_id) => self.reseal(socket, client_id),
                Effect::KeysChanged => self.keys_changed(),
                Effect::Media(grant) => {
                    self.uploads.resume(&grant, move || self.send_held());
                    self.take_media_pass(grant.key);
                }
                Effect::Forget => socket.forget(&self.room()),
                Effect::Chime(entry) => {
                    alerts.on_message(&self.room(), &entry, self.me().get_untracked().as_ref())
                }
                Effect::TypingShown => set_timeout(
                    move || {
                        self.change(|s| s.expire_typing(clock::now_ms()));
                    },
                    std::time::Duration::from_millis(TYPING_SHOWN_MS as u64 + 50),
                ),
            }
        }
    }

    /// The server could not store a message this time: it stays pending and
    /// goes again with the same id (stored once, whatever happened before).
    fn retry_later(self, socket: ChatSocket, client_id: ClientId) {
        set_timeout(
            move || {
                let Some(pending) = self
                    .pending()
                    .with_untracked(|p| p.iter().find(|m| m.client_id == client_id).cloned())
                else {
                    return;
                };
                socket.send(&pending.frame(self.room()));
            },
            std::time::Duration::from_millis(RETRY_AFTER_MS),
        );
    }

    /// The server asks for a new key epoch: the message is sealed again
    /// with it and goes again (same id), and what was waiting for a key is
    /// tried again.
    fn reseal(self, socket: ChatSocket, client_id: ClientId) {
        #[cfg(feature = "hydrate")]
        crate::e2e::keys::forget(&self.room());
        let Some(pending) = self
            .pending()
            .with_untracked(|p| p.iter().find(|m| m.client_id == client_id).cloned())
        else {
            return;
        };
        self.seal_and_send(socket, pending);
        self.retry_waiting();
    }

    /// In an encrypted conversation a message is sealed in the browser
    /// first; then it shows as pending and goes (a new one, or one sealed
    /// again in its place).
    fn seal_and_send(self, socket: ChatSocket, mut pending: Pending) {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let Some(me) = self.me().get_untracked() else {
                return;
            };
            let room = self.room();
            let sealing = crate::e2e::keys::seal(&room, me.as_str(), &pending.body, &pending.files);
            match sealing.await {
                Ok(sealed) => {
                    let text = pending.body.as_str().to_owned();
                    let opened = match pending.files.is_empty() {
                        true => Opened::Text(text),
                        false => Opened::Files(text, pending.files.clone()),
                    };
                    self.remember_opened(sealed.as_str(), opened);
                    pending.sealed = Some(sealed);
                    let frame = pending.clone().frame(self.room());
                    self.change(|s| s.queue(pending));
                    socket.send(&frame);
                }
                Err(reason) => self.tell_problem(format!("The message was not sent: {reason}")),
            }
            self.tell_device_news();
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (socket, &mut pending);
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
                self.change(|s| s.fill(page.entries));
            }
        });
    }

    /// Fetches the page before the oldest entry shown; returns once it is in
    /// the log (false when there was nothing to fetch).
    pub async fn load_older(self) -> bool {
        if self.at_start().get_untracked() || self.loading_older.get_untracked() {
            return false;
        }
        let Some(first) = self.log().with_untracked(|l| l.first().map(|e| e.seq)) else {
            return false;
        };
        self.loading_older.set(true);
        let page = fetch_history(self.room().as_str(), Some(first), None).await;
        let loaded = match page {
            Ok(page) => {
                self.change(|s| s.add_older(page.entries, page.at_start));
                true
            }
            Err(_) => {
                self.tell_problem("Earlier messages could not be loaded.");
                false
            }
        };
        self.loading_older.set(false);
        loaded
    }

    /// Tells the room this person is typing, at most every couple of seconds.
    pub fn note_typing(&self, socket: ChatSocket) {
        if !self.joined().get_untracked() {
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
        if !self.joined().get_untracked() {
            return;
        }
        let body = match MessageBody::parse(&self.draft.get_untracked()) {
            Ok(body) => body,
            Err(reason) => return self.tell_problem(reason.to_string()),
        };
        if let Some(target) = self.editing.get_untracked()
            && self.encrypted()
        {
            self.seal_edit(socket, target, body);
            self.editing.set(None);
        } else if let Some(target) = self.editing.get_untracked() {
            let edit = ClientFrame::Edit {
                room: self.room(),
                target,
                body,
            };
            // An edit is not queued like a message: kept in the box, it
            // can be saved again once the connection is back.
            if !socket.send(&edit) {
                return self.tell_problem(OFFLINE);
            }
            self.editing.set(None);
        } else {
            let reply_to = self.replying.get_untracked().map(|q| q.seq);
            if !self.queue(socket, body, reply_to, vec![], vec![]) {
                return;
            }
            self.replying.set(None);
        }
        self.draft.set(String::new());
        self.change(|s| s.tell_problem(None));
    }

    /// Sends a new message, shown as pending until the server has it.
    fn queue(
        &self,
        socket: ChatSocket,
        body: MessageBody,
        reply_to: Option<Seq>,
        media: Vec<MediaId>,
        files: Vec<crate::e2e::SealedFile>,
    ) -> bool {
        let Ok(client_id) = ClientId::parse(&message_id()) else {
            return false;
        };
        let pending = Pending {
            client_id,
            body,
            reply_to,
            media,
            sealed: None,
            files,
        };
        // The next keystroke starts a new "typing" at once.
        self.typing_sent.set_value(0);
        if self.encrypted() {
            self.seal_and_send(socket, pending);
            return true;
        }
        let frame = pending.clone().frame(self.room());
        self.change(|s| s.queue(pending));
        socket.send(&frame);
        true
    }

    /// An edit in an encrypted conversation: its new text sealed first.
    fn seal_edit(self, socket: ChatSocket, target: Seq, body: MessageBody) {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let Some(me) = self.me().get_untracked() else {
                return;
            };
            // The files stay as they were: an edit changes the words.
            let files = self.opened_files_of(target);
            match crate::e2e::keys::seal(&self.room(), me.as_str(), &body, &files).await {
                Ok(sealed) => {
                    let text = body.as_str().to_owned();
                    let opened = match files.is_empty() {
                        true => Opened::Text(text),
                        false => Opened::Files(text, files),
                    };
                    self.remember_opened(sealed.as_str(), opened);
                    let edit = ClientFrame::Edit {
                        room: self.room(),
                        target,
                        body: sealed,
                    };
                    if !socket.send(&edit) {
                        self.tell_problem(OFFLINE);
                    }
                }
                Err(reason) => self.tell_problem(format!("The edit was not saved: {reason}")),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (socket, target, body);
    }

    /// Sends the draft with the picked files once they are all uploaded (at
    /// once if they are); until then it waits, even across a reconnect.
    fn hold_for_uploads(&self) {
        if self.uploads.any_failed() {
            return self
                .tell_problem("Remove the files that could not be uploaded, or try them again.");
        }
        self.held.set(Some(Held {
            text: self.draft.get_untracked(),
            reply_to: self.replying.get_untracked().map(|q| q.seq),
        }));
        self.draft.set(String::new());
        self.replying.set(None);
        self.change(|s| s.tell_problem(None));
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
            Err(reason) => return self.tell_problem(reason.to_string()),
        };
        let files = self.uploads.sealed_files();
        if self.queue(socket, body, held.reply_to, media, files) {
            self.held.set(None);
            self.uploads.clear();
        }
    }

    /// Puts message `seq` (this person's) in the composer to be edited.
    pub fn start_editing(&self, seq: Seq) {
        let text = self.state.with_value(|s| s.message_text(seq));
        if let Some(text) = text.and_then(|t| self.text_of(&t)) {
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
    /// Message `seq`'s body as the log holds it (sealed, in an encrypted
    /// conversation).
    pub fn message_text(&self, seq: Seq) -> Option<String> {
        self.state.with_value(|s| s.message_text(seq))
    }

    /// Fetches, opens and downloads sealed file `id` of message `seq`.
    pub fn save_file(self, seq: Seq, id: &MediaId) {
        let Some(file) = self
            .opened_files_of(seq)
            .into_iter()
            .find(|f| f.file.id == *id)
        else {
            return;
        };
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            if let Err(reason) = crate::e2e::files::save(&file).await {
                self.tell_problem(format!("{}: {reason}.", file.file.name));
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = file;
    }

    /// The sealed files of message `seq`, as this device opened it.
    pub fn opened_files_of(&self, seq: Seq) -> Vec<crate::e2e::SealedFile> {
        let Some(body) = self.message_text(seq) else {
            return vec![];
        };
        self.opened.with_value(|o| {
            o.iter()
                .find_map(|(b, s)| match s {
                    Some(Opened::Files(_, files)) if *b == body => Some(files.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        })
    }

    /// The `blob:` address of sealed `file` (its thumbnail if `thumb` and
    /// it has one) once this device has fetched and opened it, which starts
    /// the first time it is asked; `Some("")` if it cannot be. A view that
    /// reads it redraws when it is ready.
    pub fn file_url(self, file: &crate::e2e::SealedFile, thumb: bool) -> Option<String> {
        let id = match (&file.thumb, thumb) {
            (Some((id, _)), true) => id.clone(),
            _ => file.file.id.clone(),
        };
        self.files_bell.listen();
        if let Some(known) = self
            .files
            .with_value(|f| f.iter().find(|(i, _)| *i == id).map(|(_, url)| url.clone()))
        {
            return known;
        }
        self.files.update_value(|f| f.push((id.clone(), None)));
        #[cfg(feature = "hydrate")]
        {
            let file = file.clone();
            leptos::task::spawn_local(async move {
                let url = crate::e2e::files::open(&file, thumb)
                    .await
                    .unwrap_or_default();
                self.files.update_value(|f| {
                    if let Some(known) = f.iter_mut().find(|(i, _)| *i == id) {
                        known.1 = Some(url);
                    }
                });
                self.files_bell.ring();
            });
        }
        None
    }

    pub fn my_last_message(&self) -> Option<Seq> {
        self.state.with_value(RoomState::my_last_message)
    }

    /// Answers message `seq`: its quote goes above the composer.
    pub fn start_reply(&self, seq: Seq) {
        let mut quote = self.state.with_value(|s| s.quote(seq));
        // The quote above the composer shows what this device opened.
        if let Some(quote) = &mut quote
            && let Some(excerpt) = &quote.excerpt
            && crate::e2e::is_sealed(excerpt)
        {
            let body = self.state.with_value(|s| s.message_text(seq));
            quote.excerpt = body
                .and_then(|b| self.text_of(&b))
                .map(|t| crate::messages::excerpt(&t));
        }
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
        if self.joined().get_untracked() && !socket.send(&frame) {
            self.tell_problem(OFFLINE);
        }
    }

    /// Brings message `seq` into the log (loading older pages as far as
    /// needed) and marks it as the one to show; false if it is not there.
    pub async fn reveal(self, seq: Seq) -> bool {
        loop {
            let held = self
                .log()
                .with_untracked(|log| log.first().is_some_and(|first| first.seq <= seq));
            if held {
                break;
            }
            if self.at_start().get_untracked() || !self.load_older().await {
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
