//! Messages and the room log: the validated message body, the client's message
//! id, the sequenced entries a room's history is made of, and the history
//! server function the room page reads.

pub use crate::emoji::Emoji;
use crate::media::Attachment;
use crate::people::{Nick, Person, TokenError, check_token};
use crate::rooms::RoomName;
use serde::{Deserialize, Serialize};

/// A room's sequence number: 1, 2, 3, ... assigned when an entry is committed.
pub type Seq = u64;

pub const BODY_MAX_CHARS: usize = 4000;

/// Latest entries the room page shows before anyone scrolls.
pub const PAGE_SIZE: u32 = 50;

/// Why a message was refused; the text is shown to the person as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("A message cannot be empty.")]
    Empty,
    #[error("A message can be at most {BODY_MAX_CHARS} characters.")]
    TooLong,
    #[error("A message cannot contain control characters.")]
    ControlChar,
}

/// A message's text: 1 to 4000 characters, not blank. Line breaks and tabs are
/// kept (people paste code); `\r\n` becomes `\n`; trailing whitespace goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageBody(String);

impl MessageBody {
    pub fn parse(raw: &str) -> Result<Self, BodyError> {
        let body = raw.replace("\r\n", "\n");
        let body = body.trim_end();
        if body.trim_start().is_empty() {
            return Err(BodyError::Empty);
        }
        // A sealed body is longer than the text it seals (docs/SECURITY.md).
        if body.chars().count() > BODY_MAX_CHARS && crate::e2e::Sealed::parse(body).is_none() {
            return Err(BodyError::TooLong);
        }
        if body
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(BodyError::ControlChar);
        }
        Ok(Self(body.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageBody {
    type Error = BodyError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<MessageBody> for String {
    fn from(body: MessageBody) -> Self {
        body.0
    }
}

/// The id a browser gives a message before sending it. A resend with the same
/// id (after a reconnect, say) returns the stored original instead of a copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        check_token(raw).map(|()| Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = TokenError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        check_token(&raw).map(|()| Self(raw))
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

/// Different emoji one message can carry as reactions.
pub const REACTIONS_MAX: usize = 20;

/// Most characters of a replied-to message shown in the reply's quote.
pub const QUOTE_CHARS: usize = 100;

/// The message a reply answers, as it reads now. On the wire an array
/// `[seq, nick, excerpt]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    from = "(Seq, Nick, Option<String>)",
    into = "(Seq, Nick, Option<String>)"
)]
pub struct Quote {
    pub seq: Seq,
    pub nick: Nick,
    /// Its first line, cut to [`QUOTE_CHARS`]; `None` once it is deleted.
    pub excerpt: Option<String>,
}

/// The first line of `body`, cut to [`QUOTE_CHARS`] characters.
pub fn excerpt(body: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = line.trim();
    match line.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// Everyone who reacted to a message with one emoji, first reactor first.
/// On the wire an array `[emoji, [nick, ...]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(Emoji, Vec<Nick>)", into = "(Emoji, Vec<Nick>)")]
pub struct Reaction {
    pub emoji: Emoji,
    pub nicks: Vec<Nick>,
}

impl From<(Seq, Nick, Option<String>)> for Quote {
    fn from((seq, nick, excerpt): (Seq, Nick, Option<String>)) -> Self {
        Self { seq, nick, excerpt }
    }
}

impl From<Quote> for (Seq, Nick, Option<String>) {
    fn from(quote: Quote) -> Self {
        (quote.seq, quote.nick, quote.excerpt)
    }
}

impl From<(Emoji, Vec<Nick>)> for Reaction {
    fn from((emoji, nicks): (Emoji, Vec<Nick>)) -> Self {
        Self { emoji, nicks }
    }
}

impl From<Reaction> for (Emoji, Vec<Nick>) {
    fn from(reaction: Reaction) -> Self {
        (reaction.emoji, reaction.nicks)
    }
}

/// Turns `nick`'s `emoji` on a message on or off (each person counts once per emoji).
pub fn toggle_reaction(reactions: &mut Vec<Reaction>, emoji: &Emoji, nick: &Nick, on: bool) {
    match reactions.iter_mut().position(|r| &r.emoji == emoji) {
        Some(at) => {
            let nicks = &mut reactions[at].nicks;
            let held = nicks.iter().position(|n| n == nick);
            match (held, on) {
                (None, true) => nicks.push(nick.clone()),
                (Some(i), false) => {
                    nicks.remove(i);
                    if nicks.is_empty() {
                        reactions.remove(at);
                    }
                }
                _ => {}
            }
        }
        None if on => reactions.push(Reaction {
            emoji: emoji.clone(),
            nicks: vec![nick.clone()],
        }),
        None => {}
    }
}

/// A message's fields as one JSON array (see [`EntryKind::Message`]).
mod message_fields {
    use super::{Attachment, ClientId, MessageBody, Quote, Reaction};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    type Fields = (
        ClientId,
        MessageBody,
        Option<Quote>,
        bool,
        Vec<Reaction>,
        Vec<Attachment>,
    );

    pub fn serialize<S: Serializer>(
        client_id: &ClientId,
        body: &MessageBody,
        reply: &Option<Quote>,
        edited: &bool,
        reactions: &[Reaction],
        media: &[Attachment],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        (client_id, body, reply, edited, reactions, media).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        Fields::deserialize(deserializer)
    }
}

/// What happened at one point of a room's log.
///
/// Edits, deletions and reactions are entries of their own (with their own
/// `seq`, so replay and resume carry them like anything else) that act on an
/// earlier message, the `target`. Pages of history return messages as they
/// are now: edited text, reactions, a deleted message as [`EntryKind::Deleted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// On the wire `{"message": [client_id, body, reply, edited, reactions,
    /// media]}`: the entry the browser decodes most, as an array.
    #[serde(
        serialize_with = "message_fields::serialize",
        deserialize_with = "message_fields::deserialize"
    )]
    Message {
        client_id: ClientId,
        body: MessageBody,
        /// The message this one answers.
        reply: Option<Quote>,
        /// Its author changed the text since it was sent.
        edited: bool,
        reactions: Vec<Reaction>,
        /// Pictures, videos and files, in the order they were attached.
        /// Deleting the message deletes them.
        media: Vec<Attachment>,
    },
    /// The person arrived; shown as "NICK joined".
    Joined,
    /// The person's last connection to the room went away; shown as "NICK left".
    Left,
    /// `Crowd(joined, left, quiet)`: arrivals and departures that came close
    /// together, as one notice ("sadia, usman and 10 others joined"); the
    /// entry's own `nick` is the first one named. `quiet` in a room too big
    /// for notices: it keeps everyone's list of who is online right, and is
    /// not drawn.
    Crowd(Vec<Person>, Vec<Nick>, bool),
    /// Where a deleted message was: its text is gone from the server.
    Deleted,
    // The actions are tuples (JSON arrays: `{"edit":[3,"text"]}`): fewer
    // bytes per entry, and less decoding code in the browser's bundle.
    /// `Edit(target, body)`: the author of message `target` changed its text.
    Edit(Seq, MessageBody),
    /// `Delete(target)`: message `target` was deleted (by its author or a moderator).
    Delete(Seq),
    /// `React(target, emoji, on)`: the entry's author turned their `emoji`
    /// on message `target` on or off.
    React(Seq, Emoji, bool),
}

impl EntryKind {
    /// A new message as sent, before anyone acted on it.
    pub fn message(client_id: ClientId, body: MessageBody) -> Self {
        EntryKind::Message {
            client_id,
            body,
            reply: None,
            edited: false,
            reactions: vec![],
            media: vec![],
        }
    }

    /// The message this entry acts on, for edits, deletions and reactions.
    pub fn target(&self) -> Option<Seq> {
        match self {
            EntryKind::Edit(target, _)
            | EntryKind::Delete(target)
            | EntryKind::React(target, ..) => Some(*target),
            _ => None,
        }
    }
}

/// A piece of a crowd notice's line: a name (drawn isolated, so a
/// right-to-left name cannot reorder the words around it) or words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Name(Nick),
    Words(&'static str),
    Count(usize),
}

/// Names shown before "and N others".
const CROWD_NAMES: usize = 2;

/// A crowd notice's line, as Slack and Discord say it: "sadia joined",
/// "sadia and usman joined", "sadia, usman and 10 others joined; amir left".
pub fn crowd_line(joined: &[&Nick], left: &[&Nick]) -> Vec<Said> {
    let mut line = Vec::new();
    for (names, verb) in [(joined, " joined"), (left, " left")] {
        if names.is_empty() {
            continue;
        }
        if !line.is_empty() {
            line.push(Said::Words("; "));
        }
        let shown = if names.len() > CROWD_NAMES + 1 {
            CROWD_NAMES
        } else {
            names.len()
        };
        for (i, nick) in names[..shown].iter().enumerate() {
            if i > 0 {
                let last = i + 1 == shown && shown == names.len();
                line.push(Said::Words(if last { " and " } else { ", " }));
            }
            line.push(Said::Name((*nick).clone()));
        }
        if shown < names.len() {
            line.push(Said::Words(" and "));
            line.push(Said::Count(names.len() - shown));
            line.push(Said::Words(" others"));
        }
        line.push(Said::Words(verb));
    }
    line
}

/// Applies an edit, deletion or reaction entry to the log it belongs to:
/// its target, and quotes of its target in replies. Applying one twice
/// changes nothing more; false when the log does not hold the target.
pub fn apply_action(log: &mut [Entry], action: &Entry) -> bool {
    let Some(target) = action.kind.target() else {
        return false;
    };
    // Replies quote their original as it reads now.
    let quoted = match &action.kind {
        EntryKind::Edit(_, body) => Some(Some(excerpt(body.as_str()))),
        EntryKind::Delete(..) => Some(None),
        _ => None,
    };
    if let Some(excerpt) = quoted {
        for entry in log.iter_mut() {
            if let EntryKind::Message {
                reply: Some(quote), ..
            } = &mut entry.kind
                && quote.seq == target
            {
                quote.excerpt = excerpt.clone();
            }
        }
    }
    let Ok(at) = log.binary_search_by_key(&target, |e| e.seq) else {
        return false;
    };
    let entry = &mut log[at];
    match (&action.kind, &mut entry.kind) {
        (
            EntryKind::Edit(_, body),
            EntryKind::Message {
                body: old, edited, ..
            },
        ) => {
            *old = body.clone();
            *edited = true;
        }
        (EntryKind::Delete(..), kind) => *kind = EntryKind::Deleted,
        (EntryKind::React(_, emoji, on), EntryKind::Message { reactions, .. }) => {
            toggle_reaction(reactions, emoji, &action.nick, *on);
        }
        _ => {}
    }
    true
}

/// One committed entry of a room's log, identical in history and live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EntryArray", into = "EntryArray")]
pub struct Entry {
    pub seq: Seq,
    /// Commit time, milliseconds since the Unix epoch (UTC).
    pub at: i64,
    pub nick: Nick,
    pub kind: EntryKind,
    /// Written by a signed-in account; otherwise by a guest (or a bot).
    pub account: bool,
    /// Written by the server's assistant (never by a person).
    pub bot: bool,
}

/// A slice of a room's log in ascending `seq` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "HistoryPageArray", into = "HistoryPageArray")]
pub struct HistoryPage {
    pub room: RoomName,
    pub entries: Vec<Entry>,
    /// True when the page reaches the first entry of the room.
    pub at_start: bool,
    /// A private room's members, with its latest page (not older ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roster: Option<crate::rooms::Roster>,
}

/// [`room_history`], called from the browser.
pub async fn fetch_history(
    room: &str,
    before: Option<Seq>,
    limit: Option<u32>,
) -> Result<HistoryPage, crate::api::CallFailed> {
    crate::api::call(&RoomHistory {
        room: room.to_owned(),
        before,
        limit,
    })
    .await
}

/// The `limit` entries before `before` (or the latest ones), oldest first.
// A fixed endpoint (no hash suffix) so tools like `bench` can call it; its
// arguments in JSON, as the browser sends them (`api::call`).
#[leptos::server(prefix = "/api", endpoint = "room_history", input = leptos::server_fn::codec::Json)]
pub async fn room_history(
    room: String,
    before: Option<Seq>,
    limit: Option<u32>,
) -> Result<HistoryPage, leptos::prelude::ServerFnError> {
    let room = match RoomName::parse(&room) {
        Ok(room) => room,
        Err(err) => return Err(leptos::prelude::ServerFnError::Args(err.to_string())),
    };
    let limit = limit.unwrap_or(PAGE_SIZE).clamp(1, 200);
    let backend = crate::backend::from_context()?;
    backend
        .history(room, before, limit)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &[Said]) -> String {
        line.iter()
            .map(|part| match part {
                Said::Name(nick) => nick.as_str().to_owned(),
                Said::Words(words) => (*words).to_owned(),
                Said::Count(n) => n.to_string(),
            })
            .collect()
    }

    fn nicks(names: &[&str]) -> Vec<Nick> {
        names.iter().map(|n| Nick::parse(n).unwrap()).collect()
    }

    fn line(joined: &[&str], left: &[&str]) -> Vec<Said> {
        let (joined, left) = (nicks(joined), nicks(left));
        crowd_line(
            &joined.iter().collect::<Vec<_>>(),
            &left.iter().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn a_crowd_is_named_as_people_say_it() {
        let joined = |names: &[&str]| read(&line(names, &[]));
        assert_eq!(joined(&["sadia"]), "sadia joined");
        assert_eq!(joined(&["sadia", "usman"]), "sadia and usman joined");
        assert_eq!(
            joined(&["sadia", "usman", "amir"]),
            "sadia, usman and amir joined"
        );
        let many: Vec<String> = (0..12).map(|i| format!("p{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(joined(&many), "p0, p1 and 10 others joined");
        assert_eq!(
            read(&line(&["sadia", "usman"], &["amir"])),
            "sadia and usman joined; amir left"
        );
        assert_eq!(read(&line(&[], &["amir", "zara"])), "amir and zara left");
        // Each name is a part of its own, so it can be drawn isolated.
        let parts = line(&["سارا", "usman"], &[]);
        assert_eq!(parts[0], Said::Name(Nick::parse("سارا").unwrap()));
    }

    #[test]
    fn a_message_keeps_its_lines_and_loses_trailing_space() {
        let body = MessageBody::parse("  line one\r\n\tline two \n").unwrap();
        assert_eq!(body.as_str(), "  line one\n\tline two");
    }

    #[test]
    fn a_blank_message_is_refused() {
        assert_eq!(MessageBody::parse(""), Err(BodyError::Empty));
        assert_eq!(MessageBody::parse(" \n\t "), Err(BodyError::Empty));
    }

    #[test]
    fn four_thousand_characters_fit_but_more_do_not() {
        assert!(MessageBody::parse(&"é".repeat(4000)).is_ok());
        assert_eq!(
            MessageBody::parse(&"a".repeat(4001)),
            Err(BodyError::TooLong)
        );
    }

    #[test]
    fn control_characters_other_than_newline_and_tab_are_refused() {
        assert_eq!(MessageBody::parse("bell\u{7}"), Err(BodyError::ControlChar));
    }

    #[test]
    fn html_is_just_text_to_a_message() {
        let raw = "<img src=x onerror=alert(1)>";
        assert_eq!(MessageBody::parse(raw).unwrap().as_str(), raw);
    }

    fn at(seq: Seq, nick: &str, kind: EntryKind) -> Entry {
        Entry {
            seq,
            at: 0,
            nick: Nick::parse(nick).unwrap(),
            kind,
            account: false,
            bot: false,
        }
    }

    #[test]
    fn actions_change_their_target_and_quotes_of_it_and_repeat_harmlessly() {
        let body = |t: &str| MessageBody::parse(t).unwrap();
        let id = |t: &str| ClientId::parse(t).unwrap();
        let mut reply = EntryKind::message(id("c2"), body("sure"));
        if let EntryKind::Message { reply: r, .. } = &mut reply {
            *r = Some(Quote {
                seq: 1,
                nick: Nick::parse("sadia").unwrap(),
                excerpt: Some("lunch?".into()),
            });
        }
        let mut log = vec![
            at(1, "sadia", EntryKind::message(id("c1"), body("lunch?"))),
            at(2, "usman", reply),
        ];
        let edit = at(3, "sadia", EntryKind::Edit(1, body("dinner?")));
        let tada = Emoji::parse("🎉").unwrap();
        let react = |on| at(4, "usman", EntryKind::React(1, tada.clone(), on));
        for _ in 0..2 {
            assert!(apply_action(&mut log, &edit));
            assert!(apply_action(&mut log, &react(true)));
        }
        match &log[0].kind {
            EntryKind::Message {
                body,
                edited,
                reactions,
                ..
            } => {
                assert_eq!((body.as_str(), *edited), ("dinner?", true));
                assert_eq!(reactions.len(), 1);
                assert_eq!(reactions[0].nicks.len(), 1, "one person counts once");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&log[1].kind, EntryKind::Message { reply: Some(q), .. } if q.excerpt.as_deref() == Some("dinner?"))
        );
        apply_action(&mut log, &react(false));
        assert!(
            matches!(&log[0].kind, EntryKind::Message { reactions, .. } if reactions.is_empty())
        );
        apply_action(&mut log, &at(5, "sadia", EntryKind::Delete(1)));
        assert_eq!(log[0].kind, EntryKind::Deleted);
        assert!(
            matches!(&log[1].kind, EntryKind::Message { reply: Some(q), .. } if q.excerpt.is_none())
        );
        // A target the log does not hold is left to the server's pages.
        assert!(!apply_action(
            &mut log,
            &at(6, "sadia", EntryKind::Delete(99))
        ));
    }

    #[test]
    fn a_quote_is_the_first_line_cut_short() {
        assert_eq!(excerpt("\n  first line  \nsecond"), "first line");
        let long = "é".repeat(150);
        assert_eq!(excerpt(&long).chars().count(), QUOTE_CHARS + 1);
    }

    #[test]
    fn client_ids_are_safe_tokens() {
        assert!(ClientId::parse("0f3a-91").is_ok());
        assert!(ClientId::parse("<script>").is_err());
    }
}

as_array!(HistoryPage, HistoryPageArray, (room: RoomName, entries: Vec<Entry>, at_start: bool, roster: Option<crate::rooms::Roster>));

/// An entry on the wire: `[seq, at, nick, kind, writer]`, the writer being
/// 0 for a guest, 1 for an account, 2 for the assistant.
type EntryArray = (Seq, i64, Nick, EntryKind, u8);

impl From<EntryArray> for Entry {
    fn from((seq, at, nick, kind, writer): EntryArray) -> Self {
        Self {
            seq,
            at,
            nick,
            kind,
            account: writer == 1,
            bot: writer == 2,
        }
    }
}

impl From<Entry> for EntryArray {
    fn from(entry: Entry) -> Self {
        let writer = if entry.bot {
            2
        } else {
            u8::from(entry.account)
        };
        (entry.seq, entry.at, entry.nick, entry.kind, writer)
    }
}
