//! A joined room as plain data, and the one place that decides what each
//! server frame does to it ([`RoomState::receive`]). Nothing here touches a
//! signal, a timer or the socket, so the rules (what is live and what is
//! history, what counts as unread or as a mention, when a gap is fetched,
//! which refusals stop rejoining) are unit-tested natively; what the browser
//! must do in answer comes back as [`Effect`]s.
//!
//! The state is kept in parts ([`Log`], pending, [`People`], [`Unread`],
//! [`Standing`], [`Notes`]). Every change to a part goes through its `_mut`
//! accessor, which marks it in [`Changed`], so the signals around the state
//! (in the parent module) wake only the views that read a part that moved:
//! a typing notice does not draw the log again.

use crate::media::{MediaGrant, MediaId};
use crate::messages::{ClientId, Entry, EntryKind, MessageBody, Quote, Seq, apply_action, excerpt};
use crate::people::{Nick, Online};
use crate::protocol::{AssistStep, ClientFrame, ErrorCode, ServerFrame};
use crate::rooms::RoomName;

/// How long "x is typing…" stays without a fresh typing frame.
pub const TYPING_SHOWN_MS: i64 = 4_000;

/// Said when too much was missed to replay: the latest page replaces the log.
const AWAY: &str = "You were away for a while: showing the latest messages.";

/// A message shown before the server has acknowledged it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub client_id: ClientId,
    pub body: MessageBody,
    pub reply_to: Option<Seq>,
    pub media: Vec<MediaId>,
    /// In an encrypted conversation, `body` as sealed for the server (the
    /// page shows `body`).
    pub sealed: Option<MessageBody>,
    /// In an encrypted conversation, the records of its files, sealed with
    /// `body` (their uploads are in `media`).
    pub files: Vec<crate::e2e::SealedFile>,
}

impl Pending {
    pub fn frame(self, room: RoomName) -> ClientFrame {
        ClientFrame::Send {
            room,
            client_id: self.client_id,
            body: self.sealed.unwrap_or(self.body),
            reply_to: self.reply_to,
            media: self.media,
        }
    }
}

/// What the browser must do after a change of state.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Live entries skipped ahead: fetch the ones strictly between.
    FillGap { after: Seq, before: Seq },
    /// The server could not store this message: send it again a little later
    /// (with the same id, so it is never stored twice).
    Retry(ClientId),
    /// The message was sealed with a key epoch that is over (someone or
    /// some device came or went): seal it again and send it, same id.
    Reseal(ClientId),
    /// This person's keys for the room changed: fetch them again (sharing
    /// with their other devices), and open what waited for a key.
    KeysChanged,
    /// The join granted the room's media: resume uploads, take the pass.
    Media(MediaGrant),
    /// The server refused who this is here: stop rejoining on reconnect.
    Forget,
    /// Someone else's message arrived live (a chime, a notification).
    Chime(Entry),
    /// A typing notice went up: take it down once it has expired.
    TypingShown,
}

/// The log as held: entries in `seq` order, edits and reactions included.
#[derive(Debug, Default)]
pub struct Log {
    pub entries: Vec<Entry>,
    /// The log reaches the room's first entry.
    pub at_start: bool,
}

/// Who is in the room, and who is typing.
#[derive(Debug, Default)]
pub struct People {
    /// Each with whether they are signed in (else a guest).
    pub online: Online,
    /// Who is typing, with when their notice expires (ms since the epoch).
    pub typing: Vec<(Nick, i64)>,
    /// The assistant's answer being written here, if any.
    pub answering: Option<Answering>,
}

/// The assistant's answer as it is written (from `assist` frames), until
/// the stored answer arrives as an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answering {
    /// The assistant's name.
    pub bot: Nick,
    pub question: Seq,
    pub asker: Nick,
    /// The words so far; empty while it thinks.
    pub text: String,
}

/// Messages from others that arrived while the room was not seen.
#[derive(Debug, Default)]
pub struct Unread {
    pub messages: u32,
    /// Of those, the ones that mention this person.
    pub mentions: u32,
}

/// Who this person is in the room.
#[derive(Debug, Default)]
pub struct Standing {
    pub me: Option<Nick>,
    pub joined: bool,
    /// The page must ask for a nickname (none yet, or the last one was taken).
    pub asking_nick: bool,
    /// May delete anyone's message, remove and ban.
    pub moderator: bool,
    /// The room's media key and upload limits (from the last join).
    pub media: Option<MediaGrant>,
    /// The server's assistant and whether it answers here (from the join).
    pub assistant: Option<(Nick, bool)>,
}

/// What the room page says about the room, beside the log.
#[derive(Debug, Default)]
pub struct Notes {
    pub problem: Option<String>,
    pub info: Option<String>,
}

/// The parts that changed, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changed(u8);

impl Changed {
    pub const LOG: Self = Self(1);
    pub const PENDING: Self = Self(2);
    pub const PEOPLE: Self = Self(4);
    pub const UNREAD: Self = Self(8);
    pub const STANDING: Self = Self(16);
    pub const NOTES: Self = Self(32);
    /// Every part, in the order of their bits.
    pub const PARTS: [Self; 6] = [
        Self::LOG,
        Self::PENDING,
        Self::PEOPLE,
        Self::UNREAD,
        Self::STANDING,
        Self::NOTES,
    ];

    /// Where this part is in [`Self::PARTS`].
    pub fn index(self) -> usize {
        self.0.trailing_zeros() as usize
    }

    pub fn has(self, part: Self) -> bool {
        self.0 & part.0 != 0
    }
}

/// One joined room's state in this browser.
#[derive(Debug)]
pub struct RoomState {
    log: Log,
    pending: Vec<Pending>,
    people: People,
    unread: Unread,
    standing: Standing,
    notes: Notes,
    /// Entries at or below `head` were already in the room when we joined;
    /// only later ones change who is online or count as new.
    head: Seq,
    /// The last join resumed from entries the log already had, so replayed
    /// messages are news; a first join's replay is just the latest page.
    resumed: bool,
    /// The room is the one on screen.
    on_screen: bool,
    changed: Changed,
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

impl RoomState {
    pub fn new(entries: Vec<Entry>, at_start: bool) -> Self {
        Self {
            log: Log { entries, at_start },
            pending: vec![],
            people: People::default(),
            unread: Unread::default(),
            standing: Standing::default(),
            notes: Notes::default(),
            head: Seq::MAX,
            resumed: false,
            on_screen: false,
            changed: Changed::default(),
        }
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn pending(&self) -> &Vec<Pending> {
        &self.pending
    }

    pub fn people(&self) -> &People {
        &self.people
    }

    pub fn unread(&self) -> &Unread {
        &self.unread
    }

    pub fn standing(&self) -> &Standing {
        &self.standing
    }

    pub fn notes(&self) -> &Notes {
        &self.notes
    }

    /// The parts changed since the last call.
    pub fn take_changed(&mut self) -> Changed {
        std::mem::take(&mut self.changed)
    }

    fn mark(&mut self, part: Changed) {
        self.changed.0 |= part.0;
    }

    fn log_mut(&mut self) -> &mut Log {
        self.mark(Changed::LOG);
        &mut self.log
    }

    fn pending_mut(&mut self) -> &mut Vec<Pending> {
        self.mark(Changed::PENDING);
        &mut self.pending
    }

    fn people_mut(&mut self) -> &mut People {
        self.mark(Changed::PEOPLE);
        &mut self.people
    }

    fn unread_mut(&mut self) -> &mut Unread {
        self.mark(Changed::UNREAD);
        &mut self.unread
    }

    fn standing_mut(&mut self) -> &mut Standing {
        self.mark(Changed::STANDING);
        &mut self.standing
    }

    fn notes_mut(&mut self) -> &mut Notes {
        self.mark(Changed::NOTES);
        &mut self.notes
    }

    /// Adds a page of history fetched for the room page.
    pub fn merge(&mut self, entries: Vec<Entry>, at_start: bool) {
        let held = &self.log.entries;
        // A page that does not touch what is held (a room left unconnected
        // for long) replaces it: the log never keeps a silent hole.
        let detached = held
            .last()
            .zip(entries.first())
            .is_some_and(|(held, fresh)| fresh.seq > held.seq + 1);
        let reaches_back = held
            .first()
            .is_none_or(|first| entries.first().is_some_and(|e| e.seq <= first.seq));
        let log = self.log_mut();
        if detached {
            *log = Log { entries, at_start };
            return;
        }
        for entry in entries {
            insert_entry(&mut log.entries, entry);
        }
        if reaches_back {
            log.at_start = at_start;
        }
    }

    /// Adds the page before the oldest entry held.
    pub fn add_older(&mut self, entries: Vec<Entry>, at_start: bool) {
        let log = self.log_mut();
        for entry in entries {
            insert_entry(&mut log.entries, entry);
        }
        log.at_start = at_start;
    }

    /// Adds entries fetched to fill a gap; missed edits and reactions still
    /// apply to what is held.
    pub fn fill(&mut self, entries: Vec<Entry>) {
        let log = &mut self.log_mut().entries;
        for entry in entries {
            apply_action(log, &entry);
            insert_entry(log, entry);
        }
    }

    /// The room is (or is no longer) the one on screen; on screen, it is seen.
    pub fn set_on_screen(&mut self, on: bool) {
        self.on_screen = on;
        if on {
            self.seen();
        }
    }

    /// Everything that arrived has been seen.
    pub fn seen(&mut self) {
        if self.unread.messages > 0 || self.unread.mentions > 0 {
            *self.unread_mut() = Unread::default();
        }
    }

    /// Joining (again) as `nick`.
    pub fn joining(&mut self, nick: Nick) {
        let standing = self.standing_mut();
        standing.me = Some(nick);
        standing.asking_nick = false;
    }

    /// The page must ask for a nickname.
    pub fn ask_nick(&mut self) {
        self.standing_mut().asking_nick = true;
    }

    /// This browser left the room.
    pub fn left(&mut self) {
        self.standing_mut().joined = false;
    }

    pub fn tell_problem(&mut self, problem: Option<String>) {
        self.notes_mut().problem = problem;
    }

    pub fn tell_info(&mut self, info: Option<String>) {
        self.notes_mut().info = info;
    }

    /// Where a (re)join resumes: after the last entry held, if any. Joining
    /// with entries held makes what is replayed news.
    pub fn resume_point(&mut self) -> Option<Seq> {
        let since = self.log.entries.last().map(|e| e.seq);
        self.resumed = since.is_some();
        since
    }

    /// A message shown as pending until the server acknowledges it.
    /// A message to show as pending (in place of the one with its id, sealed
    /// again).
    pub fn queue(&mut self, pending: Pending) {
        let list = self.pending_mut();
        match list.iter_mut().find(|p| p.client_id == pending.client_id) {
            Some(queued) => *queued = pending,
            None => list.push(pending),
        }
    }

    /// The typing notices still showing at `now`.
    pub fn expire_typing(&mut self, now: i64) {
        if self.people.typing.iter().any(|(_, until)| *until <= now) {
            self.people_mut().typing.retain(|(_, until)| *until > now);
        }
    }

    /// Folds one frame from the server into the state. `now` is the time in
    /// ms since the epoch, `tab_hidden` whether the whole tab is in the
    /// background (so even the room on screen is unseen).
    pub fn receive(&mut self, frame: ServerFrame, now: i64, tab_hidden: bool) -> Vec<Effect> {
        let mut effects = vec![];
        match frame {
            ServerFrame::Joined {
                online,
                head,
                reset,
                moderator,
                media,
                assistant,
                ..
            } => {
                if let Some(grant) = &media {
                    effects.push(Effect::Media(grant.clone()));
                }
                let standing = self.standing_mut();
                standing.moderator = moderator;
                standing.media = media;
                standing.assistant = assistant;
                standing.joined = true;
                if reset {
                    // Too much was missed to replay: the latest page follows,
                    // and it is not all news.
                    self.resumed = false;
                    *self.log_mut() = Log::default();
                    self.notes_mut().info = Some(AWAY.into());
                }
                self.head = head;
                self.people_mut().online = online.into_iter().collect();
                if self.notes.problem.is_some() {
                    self.notes_mut().problem = None;
                }
            }
            ServerFrame::Entry { entry, .. } => self.on_entry(entry, tab_hidden, &mut effects),
            ServerFrame::Ack { client_id, .. } => self.acknowledged(&client_id),
            ServerFrame::Typing { nick, .. } => {
                if self.standing.me.as_ref() != Some(&nick) {
                    let typing = &mut self.people_mut().typing;
                    typing.retain(|(n, _)| n != &nick);
                    typing.push((nick, now + TYPING_SHOWN_MS));
                    effects.push(Effect::TypingShown);
                }
            }
            ServerFrame::Assist {
                bot,
                question,
                asker,
                step,
                ..
            } => self.on_assist(bot, question, asker, step),
            // The socket hands it to the sidebar, not to a room.
            ServerFrame::Invited { .. } => {}
            ServerFrame::KeysChanged { .. } => effects.push(Effect::KeysChanged),
            ServerFrame::Error {
                code,
                client_id,
                message,
                ..
            } => match (code, client_id) {
                (ErrorCode::NickInUse | ErrorCode::NameReserved, _) => {
                    effects.push(Effect::Forget);
                    let standing = self.standing_mut();
                    standing.joined = false;
                    standing.me = None;
                    standing.asking_nick = true;
                    self.tell_problem(Some(message));
                }
                (ErrorCode::Internal, Some(client_id)) => effects.push(Effect::Retry(client_id)),
                (ErrorCode::NewKeyNeeded, Some(client_id)) => {
                    effects.push(Effect::Reseal(client_id));
                }
                (
                    ErrorCode::AccountsOnly
                    | ErrorCode::Removed
                    | ErrorCode::Banned
                    | ErrorCode::NoSuchRoom,
                    _,
                ) => {
                    // Rejoining would only be refused again.
                    effects.push(Effect::Forget);
                    self.standing_mut().joined = false;
                    self.tell_problem(Some(message));
                }
                (ErrorCode::NoSuchMedia | ErrorCode::NotSealed, Some(client_id)) => {
                    // Sending it again would be refused again.
                    self.acknowledged(&client_id);
                    self.tell_problem(Some(message));
                }
                _ => self.tell_problem(Some(message)),
            },
        }
        effects
    }

    /// The message is no longer pending (stored, or refused for good).
    fn acknowledged(&mut self, client_id: &ClientId) {
        if self.pending.iter().any(|m| &m.client_id == client_id) {
            self.pending_mut().retain(|m| &m.client_id != client_id);
        }
    }

    /// The assistant's answer to `question`, a step further. A piece that
    /// does not follow what is shown (this page came in mid-answer, or lost
    /// a frame) is skipped: the stored answer shows it all.
    fn on_assist(&mut self, bot: Nick, question: Seq, asker: Nick, step: AssistStep) {
        let current = self
            .people
            .answering
            .as_ref()
            .filter(|a| a.question == question);
        let next = match step {
            AssistStep::Thinking => Answering {
                bot,
                question,
                asker,
                text: String::new(),
            },
            AssistStep::Text(at, text) => {
                let shown = current.map_or("", |a| a.text.as_str());
                if shown.chars().count() != at as usize {
                    return;
                }
                Answering {
                    bot,
                    question,
                    asker,
                    text: format!("{shown}{text}"),
                }
            }
            // Said to whoever asked, beside the room: an answer being
            // written meanwhile goes on showing.
            AssistStep::Refused(why) => {
                if self.standing.me.as_ref() == Some(&asker) {
                    self.notes_mut().info = Some(format!("{bot}: {why}"));
                }
                return;
            }
        };
        self.people_mut().answering = Some(next);
    }

    fn on_entry(&mut self, entry: Entry, tab_hidden: bool, effects: &mut Vec<Effect>) {
        let live = entry.seq > self.head;
        let last = self.log.entries.last().map_or(0, |e| e.seq);
        // A live entry that skips ahead means frames went missing in
        // between: fetch that range from the history.
        if live && last + 1 < entry.seq {
            effects.push(Effect::FillGap {
                after: last,
                before: entry.seq,
            });
        }
        if live {
            match &entry.kind {
                EntryKind::Joined => {
                    let online = &mut self.people_mut().online;
                    online.insert(entry.nick.clone(), entry.account);
                }
                EntryKind::Left => self.people_mut().online.remove(&entry.nick),
                EntryKind::Crowd(joined, left, _) => {
                    let online = &mut self.people_mut().online;
                    for person in joined {
                        online.insert(person.nick.clone(), person.account);
                    }
                    for nick in left {
                        online.remove(nick);
                    }
                }
                _ => {}
            }
        }
        if entry.kind.target().is_some() {
            // An edit, deletion or reaction changes what the log shows; it
            // keeps its own place (its seq) but is not a line of its own.
            let log = &mut self.log_mut().entries;
            apply_action(log, &entry);
            insert_entry(log, entry);
            return;
        }
        if let EntryKind::Message {
            client_id, reply, ..
        } = &entry.kind
        {
            if entry.bot
                && let Some(answering) = &self.people.answering
                && reply.as_ref().is_some_and(|q| q.seq == answering.question)
            {
                self.people_mut().answering = None;
            }
            self.acknowledged(client_id);
            // Their message is out: they are no longer typing it.
            if self.people.typing.iter().any(|(n, _)| n == &entry.nick) {
                self.people_mut().typing.retain(|(n, _)| n != &entry.nick);
            }
        }
        let from_other = self.standing.me.as_ref() != Some(&entry.nick);
        let news =
            matches!(entry.kind, EntryKind::Message { .. }) && from_other && (live || self.resumed);
        let copy = news.then(|| entry.clone());
        if !insert_entry(&mut self.log_mut().entries, entry) {
            return;
        }
        let Some(entry) = copy else {
            return;
        };
        // On screen in a background tab is unseen too: the title shows it.
        if !self.on_screen || tab_hidden {
            let mentioned = match (&entry.kind, &self.standing.me) {
                (EntryKind::Message { body, .. }, Some(me)) => {
                    crate::markup::mentions(body.as_str(), me.as_str())
                }
                _ => false,
            };
            let unread = self.unread_mut();
            unread.messages += 1;
            unread.mentions += u32::from(mentioned);
        }
        // Only what arrives now is worth a chime, not a catch-up burst.
        if live {
            effects.push(Effect::Chime(entry));
        }
    }

    /// The text of this person's message `seq`, to edit it.
    pub fn message_text(&self, seq: Seq) -> Option<String> {
        match &self.entry(seq)?.kind {
            EntryKind::Message { body, .. } => Some(body.as_str().to_owned()),
            _ => None,
        }
    }

    /// Message `seq` quoted, to answer it.
    pub fn quote(&self, seq: Seq) -> Option<Quote> {
        let entry = self.entry(seq)?;
        let EntryKind::Message { body, .. } = &entry.kind else {
            return None;
        };
        Some(Quote {
            seq,
            nick: entry.nick.clone(),
            excerpt: Some(excerpt(body.as_str())),
        })
    }

    fn entry(&self, seq: Seq) -> Option<&Entry> {
        let log = &self.log.entries;
        log.binary_search_by_key(&seq, |e| e.seq)
            .ok()
            .map(|at| &log[at])
    }

    /// This person's latest message still in the log (Up arrow edits it).
    pub fn my_last_message(&self) -> Option<Seq> {
        let me = self.standing.me.as_ref()?;
        self.log
            .entries
            .iter()
            .rev()
            .find(|e| &e.nick == me && matches!(e.kind, EntryKind::Message { .. }))
            .map(|e| e.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::Person;

    const NOW: i64 = 1_800_000_000_000;

    fn nick(name: &str) -> Nick {
        Nick::parse(name).unwrap()
    }

    fn room() -> RoomName {
        RoomName::parse("tea").unwrap()
    }

    fn entry(seq: Seq, who: &str, kind: EntryKind) -> Entry {
        Entry {
            seq,
            at: NOW,
            nick: nick(who),
            kind,
            account: false,
            bot: false,
        }
    }

    fn message(seq: Seq, who: &str, text: &str) -> Entry {
        let client_id = ClientId::parse(&format!("c{seq}")).unwrap();
        entry(
            seq,
            who,
            EntryKind::message(client_id, MessageBody::parse(text).unwrap()),
        )
    }

    fn joined(head: Seq, online: &[&str]) -> ServerFrame {
        ServerFrame::Joined {
            room: room(),
            nick: nick("sadia"),
            online: online
                .iter()
                .map(|n| Person {
                    nick: nick(n),
                    account: false,
                })
                .collect(),
            head,
            reset: false,
            moderator: false,
            media: None,
            assistant: None,
        }
    }

    fn arrives(entry: Entry) -> ServerFrame {
        ServerFrame::Entry {
            room: room(),
            entry,
        }
    }

    fn refused(code: ErrorCode, client_id: Option<ClientId>) -> ServerFrame {
        ServerFrame::Error {
            code,
            room: Some(room()),
            client_id,
            message: "refused".into(),
        }
    }

    /// A state that joined as sadia at `head`, looking at another room.
    fn sadia_in(history: Vec<Entry>, head: Seq) -> RoomState {
        let mut state = RoomState::new(history, true);
        state.joining(nick("sadia"));
        state.resume_point();
        state.receive(joined(head, &["usman"]), NOW, false);
        state.take_changed();
        state
    }

    fn seqs(state: &RoomState) -> Vec<Seq> {
        state.log().entries.iter().map(|e| e.seq).collect()
    }

    fn online(state: &RoomState) -> Vec<String> {
        state.people().online.nicks().map(Nick::to_string).collect()
    }

    #[test]
    fn the_answer_being_written_grows_in_order_and_gives_way_to_the_stored_one() {
        let mut state = sadia_in(vec![], 0);
        let assist = |asker: &str, step: AssistStep| ServerFrame::Assist {
            room: room(),
            bot: nick("assistant"),
            question: 1,
            asker: nick(asker),
            step,
        };
        let shown = |state: &RoomState| state.people().answering.as_ref().map(|a| a.text.clone());
        state.receive(assist("usman", AssistStep::Thinking), NOW, false);
        assert_eq!(shown(&state).as_deref(), Some(""));
        state.receive(
            assist("usman", AssistStep::Text(0, "Hel".into())),
            NOW,
            false,
        );
        // A piece past a gap waits for the stored answer.
        state.receive(
            assist("usman", AssistStep::Text(9, "xyz".into())),
            NOW,
            false,
        );
        state.receive(
            assist("usman", AssistStep::Text(3, "lo".into())),
            NOW,
            false,
        );
        assert_eq!(shown(&state).as_deref(), Some("Hello"));
        // Someone else's refused question leaves it be; one's own is said.
        state.receive(
            assist("omar", AssistStep::Refused("busy".into())),
            NOW,
            false,
        );
        assert_eq!(state.notes().info, None);
        assert_eq!(shown(&state).as_deref(), Some("Hello"));
        state.receive(
            assist("sadia", AssistStep::Refused("busy".into())),
            NOW,
            false,
        );
        assert_eq!(state.notes().info.as_deref(), Some("assistant: busy"));
        let mut answer = message(2, "assistant", "Hello there");
        answer.bot = true;
        if let EntryKind::Message { reply, .. } = &mut answer.kind {
            *reply = Some(Quote {
                seq: 1,
                nick: nick("usman"),
                excerpt: Some("@assistant hi".into()),
            });
        }
        state.receive(arrives(answer), NOW, false);
        assert_eq!(shown(&state), None);
    }

    #[test]
    fn entries_stay_in_seq_order_and_unique() {
        let mut log = vec![];
        for seq in [1, 3, 2, 3, 1, 4] {
            insert_entry(&mut log, entry(seq, "n", EntryKind::Joined));
        }
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn only_live_arrivals_and_departures_change_who_is_online() {
        let mut state = sadia_in(vec![], 5);
        // Replayed history (at or below the join's head) is already counted
        // in the join's list.
        state.receive(arrives(entry(4, "omar", EntryKind::Joined)), NOW, false);
        assert_eq!(online(&state), ["usman"]);
        state.receive(arrives(entry(6, "omar", EntryKind::Joined)), NOW, false);
        state.receive(arrives(entry(7, "usman", EntryKind::Left)), NOW, false);
        assert_eq!(online(&state), ["omar"]);
        let crowd = EntryKind::Crowd(
            vec![Person {
                nick: nick("lena"),
                account: true,
            }],
            vec![nick("omar")],
            true,
        );
        state.receive(arrives(entry(8, "lena", crowd)), NOW, false);
        assert_eq!(online(&state), ["lena"]);
    }

    #[test]
    fn messages_from_others_count_as_unread_off_screen_and_mentions_apart() {
        let mut state = sadia_in(vec![], 0);
        let effects = state.receive(arrives(message(1, "usman", "hi all")), NOW, false);
        assert!(matches!(effects.as_slice(), [Effect::Chime(e)] if e.seq == 1));
        state.receive(arrives(message(2, "usman", "@sadia look")), NOW, false);
        state.receive(arrives(message(3, "sadia", "mine")), NOW, false);
        assert_eq!((state.unread().messages, state.unread().mentions), (2, 1));

        state.set_on_screen(true);
        assert_eq!((state.unread().messages, state.unread().mentions), (0, 0));
        state.receive(arrives(message(4, "usman", "seen")), NOW, false);
        assert_eq!(state.unread().messages, 0);
        // On screen in a background tab is still unseen.
        state.receive(arrives(message(5, "usman", "away?")), NOW, true);
        assert_eq!(state.unread().messages, 1);
    }

    #[test]
    fn a_first_replay_is_not_news_but_a_resumed_one_is_without_a_chime() {
        let mut first = RoomState::new(vec![], false);
        first.joining(nick("sadia"));
        first.resume_point();
        first.receive(joined(2, &[]), NOW, false);
        let effects = first.receive(arrives(message(2, "usman", "old")), NOW, false);
        assert_eq!((effects, first.unread().messages), (vec![], 0));

        let mut back = sadia_in(vec![message(1, "usman", "seen before")], 3);
        let effects = back.receive(arrives(message(2, "usman", "missed")), NOW, false);
        assert_eq!((effects, back.unread().messages), (vec![], 1));
        // The same entry twice (a replay racing the live feed) counts once.
        back.receive(arrives(message(2, "usman", "missed")), NOW, false);
        assert_eq!((seqs(&back), back.unread().messages), (vec![1, 2], 1));
    }

    #[test]
    fn a_live_entry_that_skips_ahead_asks_for_the_gap() {
        let mut state = sadia_in(vec![message(1, "usman", "a")], 1);
        let effects = state.receive(arrives(message(5, "usman", "e")), NOW, false);
        assert_eq!(
            effects[0],
            Effect::FillGap {
                after: 1,
                before: 5
            }
        );
        // The gap's entries, an edit among them, fill it in order.
        let edit = entry(
            3,
            "usman",
            EntryKind::Edit(1, MessageBody::parse("a, edited").unwrap()),
        );
        state.fill(vec![message(2, "usman", "b"), edit]);
        assert_eq!(seqs(&state), [1, 2, 3, 5]);
        assert_eq!(state.message_text(1).as_deref(), Some("a, edited"));
    }

    #[test]
    fn a_pending_message_goes_when_acknowledged_or_seen_in_the_log() {
        let mut state = sadia_in(vec![], 0);
        let pending = |text: &str, id: &str| Pending {
            client_id: ClientId::parse(id).unwrap(),
            body: MessageBody::parse(text).unwrap(),
            reply_to: None,
            media: vec![],
            sealed: None,
            files: vec![],
        };
        state.queue(pending("one", "p1"));
        state.queue(pending("two", "p2"));
        state.queue(pending("three", "p3"));
        assert_eq!(state.take_changed(), Changed::PENDING);
        let ack = ServerFrame::Ack {
            room: room(),
            client_id: ClientId::parse("p1").unwrap(),
            seq: 1,
        };
        state.receive(ack, NOW, false);
        let mut echo = message(2, "sadia", "two");
        echo.kind = EntryKind::message(
            ClientId::parse("p2").unwrap(),
            MessageBody::parse("two").unwrap(),
        );
        state.receive(arrives(echo), NOW, false);
        assert_eq!(state.pending().len(), 1);
        // Not stored this time: it stays, and goes again.
        let p3 = ClientId::parse("p3").unwrap();
        let effects = state.receive(refused(ErrorCode::Internal, Some(p3.clone())), NOW, false);
        assert_eq!(effects, [Effect::Retry(p3.clone())]);
        assert_eq!(state.pending().len(), 1);
        // Refused for good: it goes, and the page says why.
        state.receive(refused(ErrorCode::NoSuchMedia, Some(p3)), NOW, false);
        assert!(state.pending().is_empty());
        assert_eq!(state.notes().problem.as_deref(), Some("refused"));
    }

    #[test]
    fn a_message_sealed_with_an_old_key_is_sealed_again_and_keeps_its_place() {
        let mut state = sadia_in(vec![], 0);
        let id = ClientId::parse("p1").unwrap();
        let sealed = |text: &str| Pending {
            client_id: id.clone(),
            body: MessageBody::parse("hello").unwrap(),
            reply_to: None,
            media: vec![],
            sealed: Some(MessageBody::parse(text).unwrap()),
            files: vec![],
        };
        state.queue(sealed("old epoch"));
        let effects = state.receive(
            refused(ErrorCode::NewKeyNeeded, Some(id.clone())),
            NOW,
            false,
        );
        assert_eq!(effects, [Effect::Reseal(id.clone())]);
        assert_eq!(state.pending().len(), 1, "still pending while sealed again");
        state.queue(sealed("new epoch"));
        assert_eq!(state.pending().len(), 1);
        let ClientFrame::Send { body, .. } = state.pending()[0].clone().frame(room()) else {
            unreachable!()
        };
        assert_eq!(
            body.as_str(),
            "new epoch",
            "the server gets the sealed body"
        );
        // Plain text where only sealed is taken: refused for good.
        state.receive(refused(ErrorCode::NotSealed, Some(id)), NOW, false);
        assert!(state.pending().is_empty());
    }

    #[test]
    fn a_taken_nickname_asks_again_and_a_ban_stops_rejoining() {
        let mut state = sadia_in(vec![], 0);
        let effects = state.receive(refused(ErrorCode::NickInUse, None), NOW, false);
        assert_eq!(effects, [Effect::Forget]);
        let standing = state.standing();
        assert_eq!(
            (standing.me.clone(), standing.joined, standing.asking_nick),
            (None, false, true)
        );

        let mut state = sadia_in(vec![], 0);
        let effects = state.receive(refused(ErrorCode::Banned, None), NOW, false);
        assert_eq!(effects, [Effect::Forget]);
        assert!(!state.standing().joined);
        assert_eq!(state.standing().me, Some(nick("sadia")));
        assert_eq!(state.notes().problem.as_deref(), Some("refused"));

        // Anything else is said, and changes nothing else.
        let mut state = sadia_in(vec![], 0);
        let effects = state.receive(refused(ErrorCode::RateLimited, None), NOW, false);
        assert_eq!((effects, state.standing().joined), (vec![], true));
        assert_eq!(state.take_changed(), Changed::NOTES);
    }

    #[test]
    fn typing_shows_for_others_only_until_it_expires_or_they_send() {
        let mut state = sadia_in(vec![], 0);
        let typing = |who: &str| ServerFrame::Typing {
            room: room(),
            nick: nick(who),
        };
        assert_eq!(state.receive(typing("sadia"), NOW, false), []);
        assert_eq!(
            state.receive(typing("usman"), NOW, false),
            [Effect::TypingShown]
        );
        state.receive(typing("omar"), NOW + 1_000, false);
        // A typing notice wakes who is online and typing, not the log.
        assert_eq!(state.take_changed(), Changed::PEOPLE);
        state.expire_typing(NOW + TYPING_SHOWN_MS);
        let who = |s: &RoomState| -> Vec<String> {
            s.people()
                .typing
                .iter()
                .map(|(n, _)| n.to_string())
                .collect()
        };
        assert_eq!(who(&state), ["omar"]);
        state.receive(arrives(message(1, "omar", "done")), NOW, false);
        assert!(who(&state).is_empty());
    }

    #[test]
    fn a_join_that_missed_too_much_starts_the_log_again() {
        let mut state = sadia_in(vec![message(1, "usman", "a"), message(2, "usman", "b")], 2);
        state.resume_point();
        let ServerFrame::Joined { room, nick, .. } = joined(900, &[]) else {
            unreachable!()
        };
        let reset = ServerFrame::Joined {
            room,
            nick,
            online: vec![],
            head: 900,
            reset: true,
            moderator: true,
            media: Some(MediaGrant {
                key: "k".into(),
                max_bytes: 10,
            }),
            assistant: None,
        };
        let effects = state.receive(reset, NOW, false);
        assert!(matches!(effects.as_slice(), [Effect::Media(g)] if g.key == "k"));
        assert!(seqs(&state).is_empty() && !state.log().at_start);
        assert!(state.standing().moderator && state.notes().info.is_some());
        // The latest page that follows is not news.
        state.receive(arrives(message(900, "usman", "latest")), NOW, false);
        assert_eq!(state.unread().messages, 0);
    }

    #[test]
    fn a_page_that_does_not_touch_the_log_replaces_it() {
        let mut state = RoomState::new(vec![message(1, "usman", "a")], true);
        state.merge(
            vec![message(2, "usman", "b"), message(3, "usman", "c")],
            false,
        );
        assert_eq!((seqs(&state), state.log().at_start), (vec![1, 2, 3], true));
        state.merge(vec![message(9, "usman", "i")], false);
        assert_eq!((seqs(&state), state.log().at_start), (vec![9], false));
        state.add_older(vec![message(8, "usman", "h")], true);
        assert_eq!((seqs(&state), state.log().at_start), (vec![8, 9], true));
    }

    #[test]
    fn quotes_and_edits_find_messages_and_the_up_arrow_finds_mine() {
        let state = sadia_in(
            vec![
                message(1, "sadia", "first"),
                message(2, "sadia", "second"),
                message(3, "usman", "theirs"),
                entry(4, "usman", EntryKind::Joined),
            ],
            4,
        );
        assert_eq!(state.my_last_message(), Some(2));
        assert_eq!(state.quote(3).map(|q| q.nick), Some(nick("usman")));
        assert_eq!(state.quote(4), None);
        assert_eq!(state.message_text(2).as_deref(), Some("second"));
    }
}
