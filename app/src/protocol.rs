//! The WebSocket protocol: typed JSON frames shared by the server and the
//! browser. Every frame is an object with a `"type"` field naming its variant.
//!
//! A client joins a room, then sends messages to it; the server answers a join
//! with `Joined` (who is online and the room's head `seq`), replays what the
//! client missed, then streams every new `Entry` live, in `seq` order. A sender
//! also receives `Ack { client_id, seq }` once its message is committed.

use crate::media::{MediaGrant, MediaId};
use crate::messages::{ClientId, Emoji, Entry, MessageBody, Seq};
use crate::people::{Nick, Person, SessionId};
use crate::rooms::RoomName;
use serde::{Deserialize, Serialize};

/// Largest text frame the server reads; anything bigger closes the socket.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Frames a browser sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Enter a room as `nick` (a signed-in connection enters under its
    /// account's name whatever `nick` says). `since` is the last `seq` the client already
    /// shows; entries after it are replayed before live ones. Joining a room
    /// this connection is already in only refreshes the `Joined` answer.
    Join {
        room: RoomName,
        nick: Nick,
        session: SessionId,
        #[serde(default)]
        since: Option<Seq>,
    },
    /// Leave a room (closing the socket leaves every room).
    Leave { room: RoomName },
    /// Post a message. A repeated `client_id` is acknowledged with the `seq`
    /// of the message first stored under it, never stored twice.
    Send {
        room: RoomName,
        client_id: ClientId,
        body: MessageBody,
        /// The `seq` of the message this one answers (quoted above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<Seq>,
        /// Files this connection's person uploaded to the room beforehand
        /// (at most `MEDIA_PER_MESSAGE`: each file, and in an encrypted
        /// conversation each picture's sealed thumbnail), in this order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        media: Vec<MediaId>,
    },
    /// Change the text of one's own message `target`.
    Edit {
        room: RoomName,
        target: Seq,
        body: MessageBody,
    },
    /// Delete one's own message `target` (a moderator: anyone's). Its text
    /// is removed from the server, not hidden.
    Delete { room: RoomName, target: Seq },
    /// A moderator sends the author of message `target` out of the room
    /// (they may join again).
    Remove { room: RoomName, target: Seq },
    /// A moderator sends the author of message `target` out of the room for
    /// good: the account, or the guest's session, cannot join it again.
    Ban { room: RoomName, target: Seq },
    /// Turn one's `emoji` reaction on message `target` on or off.
    React {
        room: RoomName,
        target: Seq,
        emoji: Emoji,
        on: bool,
    },
    /// The person is typing in `room`; others see it for a few seconds.
    /// Browsers send it at most every couple of seconds while typing.
    Typing { room: RoomName },
    /// Stop the assistant's answer being written in `room` (its asker, or
    /// one of the room's moderators): what it wrote so far is kept.
    StopAssistant { room: RoomName },
}

/// Frames the server sends.
///
/// On the wire each is a JSON array: its type, then its fields in the order
/// written here (`["ack","main","c1",12]`). Read by hand in one pass rather
/// than as serde's internally tagged objects, which buffer every frame and
/// compile each field's decoder a second time for the buffer: the browser's
/// bundle paid for that in every type an entry holds (docs/PROTOCOL.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// The connection is now in the room. `online` is who was there just
    /// before this join; `head` is the room's last `seq` at that moment:
    /// entries up to `head` are history, later ones are live.
    Joined {
        room: RoomName,
        nick: Nick,
        online: Vec<Person>,
        head: Seq,
        /// The client's `since` was too far behind (or beyond `head`): it
        /// gets the latest page instead of a replay and should drop what it
        /// showed before.
        reset: bool,
        /// This person may delete anyone's message here, remove and ban.
        moderator: bool,
        /// The key this person uploads to and fetches the room's media with.
        media: Option<MediaGrant>,
        /// The server's assistant, if it has one: its name, and whether it
        /// answers here (never in an encrypted conversation, nor where the
        /// room's owner turned it off).
        assistant: Option<(Nick, bool)>,
    },
    /// A committed entry of the room's log (replayed or live).
    Entry { room: RoomName, entry: Entry },
    /// The sender's message `client_id` is stored as `seq`.
    Ack {
        room: RoomName,
        client_id: ClientId,
        seq: Seq,
    },
    /// `nick` is typing in `room` (not stored; it fades unless repeated).
    Typing { room: RoomName, nick: Nick },
    /// The owner of the private room `room` let this person in, or a direct
    /// message with `with` began: sent to every socket of their account,
    /// whatever rooms it is in, so the room shows in their sidebar at once.
    Invited { room: RoomName, with: Option<Nick> },
    /// The assistant's answer to message `question` (asked by `asker`)
    /// as it is written: not stored, like typing. The answer itself comes
    /// as an ordinary entry once finished (a reply to `question`).
    Assist {
        room: RoomName,
        /// The assistant's name.
        bot: Nick,
        question: Seq,
        asker: Nick,
        step: AssistStep,
    },
    /// The keys of the encrypted conversation `room` changed for this
    /// person (a device of theirs was added, or was handed keys): fetch
    /// them again, share what another device lacks, open what waited.
    KeysChanged { room: RoomName },
    /// A request was refused; the connection stays open.
    Error {
        /// The room it was about, if any (`null` on the wire otherwise).
        room: Option<RoomName>,
        code: ErrorCode,
        /// The message a refused `send` carried, so the browser knows which
        /// one to try again (with the same id: it is never stored twice).
        client_id: Option<ClientId>,
        message: String,
    },
}

/// Where an answer being written is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssistStep {
    /// Asked; no words yet.
    Thinking,
    /// More of the answer: `(at, text)`, the text going at character `at`
    /// of what came before (a browser that missed a piece waits for the
    /// entry). A pair, not a struct: less decoding code in the bundle.
    Text(u32, String),
    /// Not answered, and why (asked too often, the day's budget spent):
    /// said to the room, not stored.
    Refused(String),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FrameKind {
    Joined,
    Entry,
    Ack,
    Typing,
    Assist,
    Invited,
    KeysChanged,
    Error,
}

impl Serialize for ServerFrame {
    fn serialize<S: serde::Serializer>(&self, to: S) -> Result<S::Ok, S::Error> {
        use FrameKind as K;
        match self {
            ServerFrame::Joined {
                room,
                nick,
                online,
                head,
                reset,
                moderator,
                media,
                assistant,
            } => (
                K::Joined,
                room,
                nick,
                online,
                head,
                reset,
                moderator,
                media,
                assistant,
            )
                .serialize(to),
            ServerFrame::Entry { room, entry } => (K::Entry, room, entry).serialize(to),
            ServerFrame::Ack {
                room,
                client_id,
                seq,
            } => (K::Ack, room, client_id, seq).serialize(to),
            ServerFrame::Typing { room, nick } => (K::Typing, room, nick).serialize(to),
            ServerFrame::Assist {
                room,
                bot,
                question,
                asker,
                step,
            } => (K::Assist, room, bot, question, asker, step).serialize(to),
            ServerFrame::Invited { room, with } => (K::Invited, room, with).serialize(to),
            ServerFrame::KeysChanged { room } => (K::KeysChanged, room).serialize(to),
            ServerFrame::Error {
                room,
                code,
                client_id,
                message,
            } => (K::Error, room, code, client_id, message).serialize(to),
        }
    }
}

impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: serde::Deserializer<'de>>(from: D) -> Result<Self, D::Error> {
        from.deserialize_seq(FrameFields)
    }
}

/// Reads a server frame's array: its type, then what that type has.
struct FrameFields;

impl<'de> serde::de::Visitor<'de> for FrameFields {
    type Value = ServerFrame;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a server frame: [type, fields…]")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut fields: A,
    ) -> Result<ServerFrame, A::Error> {
        fn next<'de, T: Deserialize<'de>, A: serde::de::SeqAccess<'de>>(
            fields: &mut A,
        ) -> Result<T, A::Error> {
            fields
                .next_element()?
                .ok_or_else(|| serde::de::Error::custom("the frame ends before its last field"))
        }
        let kind = next(&mut fields)?;
        // Every frame names a room second; only an error may say `null`.
        let room: Option<RoomName> = next(&mut fields)?;
        if let FrameKind::Error = kind {
            return Ok(ServerFrame::Error {
                room,
                code: next(&mut fields)?,
                client_id: next(&mut fields)?,
                message: next(&mut fields)?,
            });
        }
        let room = room.ok_or_else(|| serde::de::Error::custom("a frame without its room"))?;
        Ok(match kind {
            FrameKind::Joined => ServerFrame::Joined {
                room,
                nick: next(&mut fields)?,
                online: next(&mut fields)?,
                head: next(&mut fields)?,
                reset: next(&mut fields)?,
                moderator: next(&mut fields)?,
                media: next(&mut fields)?,
                assistant: next(&mut fields)?,
            },
            FrameKind::Entry => ServerFrame::Entry {
                room,
                entry: next(&mut fields)?,
            },
            FrameKind::Ack => ServerFrame::Ack {
                room,
                client_id: next(&mut fields)?,
                seq: next(&mut fields)?,
            },
            FrameKind::Typing => ServerFrame::Typing {
                room,
                nick: next(&mut fields)?,
            },
            FrameKind::Assist => ServerFrame::Assist {
                room,
                bot: next(&mut fields)?,
                question: next(&mut fields)?,
                asker: next(&mut fields)?,
                step: next(&mut fields)?,
            },
            FrameKind::Invited => ServerFrame::Invited {
                room,
                with: next(&mut fields)?,
            },
            // (An error returned above.)
            FrameKind::KeysChanged | FrameKind::Error => ServerFrame::KeysChanged { room },
        })
    }
}

/// Machine-readable reason in an `Error` frame; `message` says it for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not a known frame, or a field broke its rule.
    InvalidFrame,
    /// Someone else in the room already has this nickname.
    NickInUse,
    /// A guest asked for a name an account has registered (compared like
    /// nicknames: case, Unicode form and look-alike letters do not matter).
    NameReserved,
    /// The room's owner has closed it to guests: sign in to join.
    AccountsOnly,
    /// Sent to or left a room this connection has not joined.
    NotInRoom,
    /// Over the connection's or its address's rate limit (frames, or joins
    /// that announce someone); the frame was dropped.
    RateLimited,
    /// The connection is already in as many rooms as it may be.
    TooManyRooms,
    /// The message an edit, deletion or reaction names is not in the room
    /// (or is already deleted).
    NoSuchMessage,
    /// Only a message's author may edit it, and only its author or a
    /// moderator may delete it.
    NotYours,
    /// The message already carries the most different reactions it may
    /// (`REACTIONS_MAX`); one of those can still be added.
    TooManyReactions,
    /// Only the room's owner and its moderators may do that (and not to
    /// one another).
    NotModerator,
    /// A moderator removed this person from the room; joining again works.
    Removed,
    /// This person is banned from the room.
    Banned,
    /// A private room this person is not a member of, or none by that name:
    /// the two answer alike, so a name tells nobody outside that it exists.
    NoSuchRoom,
    /// A message named a file that is not this person's upload to this
    /// room, or is attached already.
    NoSuchMedia,
    /// An end-to-end encrypted conversation takes only bodies sealed in the
    /// browser (docs/SECURITY.md): plain text was refused, never stored.
    NotSealed,
    /// The body was sealed with a key epoch that is not the room's current
    /// one (someone or some device came or went): seal it again with a new
    /// epoch and send it with the same id.
    NewKeyNeeded,
    /// The server could not do it; details are in its log, not here.
    Internal,
}

/// The text a person sees when their nickname is taken.
pub const NICK_IN_USE: &str = "that nickname is already in use in this room";

impl ServerFrame {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialise")
    }
}

impl ClientFrame {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client frames always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::EntryKind;

    fn room() -> RoomName {
        RoomName::parse("main").unwrap()
    }

    #[test]
    fn every_client_frame_round_trips() {
        let frames = [
            ClientFrame::Join {
                room: room(),
                nick: Nick::parse("sadia").unwrap(),
                session: SessionId::parse("s1").unwrap(),
                since: Some(7),
            },
            ClientFrame::Leave { room: room() },
            ClientFrame::Send {
                room: room(),
                client_id: ClientId::parse("c1").unwrap(),
                body: MessageBody::parse("Hi everyone!").unwrap(),
                reply_to: Some(2),
                media: vec![MediaId::parse("m1").unwrap()],
            },
            ClientFrame::Edit {
                room: room(),
                target: 3,
                body: MessageBody::parse("Hi all!").unwrap(),
            },
            ClientFrame::Delete {
                room: room(),
                target: 3,
            },
            ClientFrame::React {
                room: room(),
                target: 3,
                emoji: Emoji::parse("🎉").unwrap(),
                on: true,
            },
            ClientFrame::Remove {
                room: room(),
                target: 3,
            },
            ClientFrame::Ban {
                room: room(),
                target: 3,
            },
            ClientFrame::Typing { room: room() },
        ];
        for frame in frames {
            let json = frame.to_json();
            assert_eq!(serde_json::from_str::<ClientFrame>(&json).unwrap(), frame);
        }
    }

    #[test]
    fn every_server_frame_round_trips() {
        let entry = Entry {
            seq: 3,
            at: 1_700_000_000_000,
            nick: Nick::parse("usman").unwrap(),
            kind: EntryKind::message(
                ClientId::parse("c9").unwrap(),
                MessageBody::parse("Hello Sadia!").unwrap(),
            ),
            account: false,
            bot: false,
        };
        let frames = [
            ServerFrame::Joined {
                room: room(),
                nick: Nick::parse("usman").unwrap(),
                online: vec![Person {
                    nick: Nick::parse("sadia").unwrap(),
                    account: true,
                }],
                head: 2,
                reset: false,
                moderator: true,
                media: Some(MediaGrant {
                    key: "k1".into(),
                    max_bytes: 25_000_000,
                }),
                assistant: Some((Nick::parse("assistant").unwrap(), true)),
            },
            ServerFrame::Entry {
                room: room(),
                entry,
            },
            ServerFrame::Ack {
                room: room(),
                client_id: ClientId::parse("c9").unwrap(),
                seq: 3,
            },
            ServerFrame::Typing {
                room: room(),
                nick: Nick::parse("usman").unwrap(),
            },
            ServerFrame::Error {
                code: ErrorCode::NickInUse,
                room: Some(room()),
                client_id: None,
                message: NICK_IN_USE.into(),
            },
        ];
        for frame in frames {
            let json = frame.to_json();
            assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), frame);
        }
    }

    #[test]
    fn a_server_frame_missing_what_its_type_needs_is_refused() {
        let err = serde_json::from_str::<ServerFrame>(r#"["ack","main"]"#).unwrap_err();
        assert!(err.to_string().contains("ends before"), "{err}");
        let err = serde_json::from_str::<ServerFrame>(r#"["shout","main"]"#).unwrap_err();
        assert!(err.to_string().contains("shout"), "{err}");
        let err = serde_json::from_str::<ServerFrame>(r#"["typing",null,"usman"]"#).unwrap_err();
        assert!(err.to_string().contains("without its room"), "{err}");
        let err = serde_json::from_str::<ServerFrame>(r#"["keys_changed","main",1]"#).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
        // An error frame about no room in particular needs none.
        let frame: ServerFrame =
            serde_json::from_str(r#"["error",null,"invalid_frame",null,"not JSON"]"#).unwrap();
        assert!(matches!(frame, ServerFrame::Error { room: None, .. }));
    }

    #[test]
    fn a_server_frame_is_an_array_led_by_its_type() {
        let ack = ServerFrame::Ack {
            room: room(),
            client_id: ClientId::parse("c1").unwrap(),
            seq: 12,
        };
        assert_eq!(ack.to_json(), r#"["ack","main","c1",12]"#);
    }

    #[test]
    fn the_wire_format_is_tagged_snake_case_json() {
        let json = ClientFrame::Leave { room: room() }.to_json();
        assert_eq!(json, r#"{"type":"leave","room":"main"}"#);
    }

    #[test]
    fn a_frame_with_a_bad_field_is_refused_with_the_rule_it_broke() {
        let err = serde_json::from_str::<ClientFrame>(
            r#"{"type":"send","room":"no spaces","client_id":"c","body":"x"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("letters, digits"), "{err}");
    }

    #[test]
    fn a_reaction_must_be_an_emoji() {
        let err = serde_json::from_str::<ClientFrame>(
            r#"{"type":"react","room":"main","target":1,"emoji":"<b>x</b>","on":true}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("one emoji"), "{err}");
    }

    #[test]
    fn a_send_from_before_replies_still_reads() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"send","room":"main","client_id":"c1","body":"hi"}"#)
                .unwrap();
        assert!(matches!(frame, ClientFrame::Send { reply_to: None, .. }));
    }

    #[test]
    fn join_without_since_means_from_the_latest_page() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"join","room":"main","nick":"sadia","session":"s1"}"#)
                .unwrap();
        assert!(matches!(frame, ClientFrame::Join { since: None, .. }));
    }
}
