//! The reader's side of a connection: which rooms it is in, as whom, and the
//! answer to each client frame.

use super::close::CLOSE_FLOOD;
use super::outbox::Outbox;
use super::rate::RateLimit;
use super::replay::forward;
use crate::access::{Access, Act, Denied};
use crate::accounts::SignedIn;
use crate::config::Limits;
use crate::hub::{ConnId, Evicted, Eviction, Evictions, HubError, Room, RoomHub, SendOutError};
use crate::store::{Author, Draft};
use app::messages::{ClientId, EntryKind, PAGE_SIZE, Seq};
use app::people::Nick;
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use app::rooms::RoomName;
use axum::extract::ws::Message;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How the sessions of guests posting through the plain form begin
/// (`accounts::cookie::form_guest_session`, and the form's message ids that
/// stood for them before).
const FORM_GUESTS: &str = "form-";

/// The answer when the store failed an action (the detail is in the log).
const NOT_NOW: &str = "the server could not do that right now; try again";

/// Typing signals from one member reach the room at most this often, so a
/// client that sends them on every keystroke cannot crowd the room's feed.
const TYPING_EVERY: Duration = Duration::from_secs(1);

pub fn frame(frame: &ServerFrame) -> Message {
    Message::Text(frame.to_json().into())
}

pub fn error(code: ErrorCode, room: Option<RoomName>, message: impl Into<String>) -> Message {
    frame(&ServerFrame::Error {
        code,
        room,
        client_id: None,
        message: message.into(),
    })
}

/// Decodes a client's text frame, with a readable reason when it is refused.
pub fn decode(text: &str) -> Result<ClientFrame, String> {
    serde_json::from_str::<ClientFrame>(text).map_err(|err| format!("invalid frame: {err}"))
}

/// One room this connection is in.
pub struct Membership {
    pub room: Arc<Room>,
    pub nick: Nick,
    pub author: Author,
    pub forwarder: JoinHandle<()>,
    /// When this member's last typing signal went out to the room.
    typing_sent: Option<Instant>,
}

/// The rooms a connection is in, found by name.
///
/// A short list, not a hash map: a connection is in one room or a few (at
/// most `--max-rooms`), and a map's smallest table (four buckets) cost
/// every idle socket about 400 bytes more than one entry does.
#[derive(Default)]
pub struct Memberships(Vec<Membership>);

impl Memberships {
    fn position(&self, room: &RoomName) -> Option<usize> {
        self.0.iter().position(|m| &m.room.name == room)
    }

    pub fn get(&self, room: &RoomName) -> Option<&Membership> {
        self.0.iter().find(|m| &m.room.name == room)
    }

    pub fn get_mut(&mut self, room: &RoomName) -> Option<&mut Membership> {
        self.0.iter_mut().find(|m| &m.room.name == room)
    }

    pub fn contains_key(&self, room: &RoomName) -> bool {
        self.position(room).is_some()
    }

    /// Adds `membership`, giving back the one it replaces in the same room.
    pub fn insert(&mut self, membership: Membership) -> Option<Membership> {
        match self.position(&membership.room.name) {
            Some(at) => Some(std::mem::replace(&mut self.0[at], membership)),
            None => {
                self.0.push(membership);
                None
            }
        }
    }

    pub fn remove(&mut self, room: &RoomName) -> Option<Membership> {
        let at = self.position(room)?;
        let membership = self.0.swap_remove(at);
        if self.0.is_empty() {
            // An idle socket that left its rooms keeps no list.
            self.0 = Vec::new();
        }
        Some(membership)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Membership> + '_ {
        self.0.drain(..)
    }
}

/// What the reader knows about its connection.
pub struct Reader {
    /// The account the connection signed in as (from its upgrade's cookie);
    /// without one it is a guest.
    pub signed_in: Option<SignedIn>,
    pub hub: Arc<RoomHub>,
    pub access: Access,
    pub media: crate::media::Media,
    pub conn: ConnId,
    pub outbox: Outbox,
    pub evictions: Evictions,
    pub rooms: Memberships,
    pub rate: RateLimit,
    pub limits: Limits,
    /// Hears every message this connection sends, when configured.
    pub assistant: Option<Arc<crate::assistant::Assistant>>,
    pub ip: IpAddr,
}

impl Reader {
    /// Counts a frame against the send budgets; over them it is dropped (with
    /// an error), and a flood of them ends the connection. True if allowed.
    pub fn admit_frame(&mut self) -> bool {
        if self.rate.allow() {
            return true;
        }
        if self.rate.flooding() {
            self.outbox.close(CLOSE_FLOOD);
        } else {
            self.outbox.push(error(
                ErrorCode::RateLimited,
                None,
                "you are sending too fast; that frame was dropped, wait a moment",
            ));
        }
        false
    }

    pub async fn handle_text(&mut self, text: &str) {
        if !self.admit_frame() {
            return;
        }
        let reply = match decode(text) {
            Ok(frame) => self.handle(frame).await,
            Err(reason) => Some(error(ErrorCode::InvalidFrame, None, reason)),
        };
        if let Some(reply) = reply {
            self.outbox.push(reply);
        }
    }

    pub fn handle_binary(&mut self) {
        if self.admit_frame() {
            self.outbox.push(error(
                ErrorCode::InvalidFrame,
                None,
                "frames must be JSON text, not binary",
            ));
        }
    }

    async fn handle(&mut self, frame: ClientFrame) -> Option<Message> {
        match frame {
            ClientFrame::Join {
                room,
                nick,
                session,
                since,
            } => self.join(room, nick, session, since).await,
            ClientFrame::Leave { room } => {
                let Some(membership) = self.rooms.remove(&room) else {
                    return Some(error(
                        ErrorCode::NotInRoom,
                        Some(room),
                        "you are not in this room",
                    ));
                };
                membership.forwarder.abort();
                if let Err(err) = self
                    .hub
                    .leave(&membership.room, &membership.nick, self.conn)
                    .await
                {
                    tracing::error!(%err, %room, "leave failed");
                }
                None
            }
            ClientFrame::StopAssistant { room } => {
                let Some(membership) = self.rooms.get(&room) else {
                    return Some(error(
                        ErrorCode::NotInRoom,
                        Some(room),
                        "join the room before stopping its assistant",
                    ));
                };
                let author = membership.author.clone();
                if let Some(assistant) = self.assistant.clone() {
                    let moderator = self
                        .may(&room, &author, Act::Moderate)
                        .await
                        .unwrap_or(false);
                    assistant.stop(&room, &author, moderator);
                }
                None
            }
            ClientFrame::Typing { room } => {
                let Some(membership) = self.rooms.get_mut(&room) else {
                    return Some(error(
                        ErrorCode::NotInRoom,
                        Some(room),
                        "join the room before typing in it",
                    ));
                };
                let now = Instant::now();
                if membership
                    .typing_sent
                    .is_none_or(|sent| now.duration_since(sent) >= TYPING_EVERY)
                {
                    membership.typing_sent = Some(now);
                    membership.room.feed.typing(&membership.nick);
                }
                None
            }
            ClientFrame::Send {
                room,
                client_id,
                body,
                reply_to,
                media,
            } => {
                if media.len() > app::media::MEDIA_PER_MESSAGE {
                    return Some(self::frame(&ServerFrame::Error {
                        code: ErrorCode::InvalidFrame,
                        room: Some(room),
                        client_id: Some(client_id),
                        message: format!(
                            "a message can carry at most {} files",
                            app::media::FILES_PER_MESSAGE
                        ),
                    }));
                }
                let membership = match Self::poster(&mut self.rooms, &room, "sending to it") {
                    Ok(membership) => membership,
                    Err(refusal) => return Some(refusal),
                };
                // A sent message ends the typing: the next keystroke is news.
                membership.typing_sent = None;
                let mut message = Draft::message(
                    membership.room.id(),
                    &membership.nick,
                    &membership.author,
                    &client_id,
                    &body,
                );
                message.reply_to = reply_to;
                message.media = media;
                // Checked before anything is copied: most messages stop here.
                let heard = self
                    .assistant
                    .as_ref()
                    .filter(|a| a.may_be_called(&room, &membership.author, body.as_str(), reply_to))
                    .map(|assistant| {
                        let question = crate::assistant::Question {
                            room: room.clone(),
                            seq: 0,
                            nick: membership.nick.clone(),
                            author: membership.author.clone(),
                            ip: Some(self.ip),
                            text: body.as_str().to_owned(),
                            reply_to,
                        };
                        (assistant.clone(), question)
                    });
                // The ack waits for the commit, but the reader does not.
                let outbox = self.outbox.clone();
                self.hub
                    .post_then(&membership.room, message, move |posted| {
                        let reply = match posted {
                            Ok(seq) => {
                                if let Some((assistant, mut question)) = heard {
                                    question.seq = seq;
                                    assistant.heard(question);
                                }
                                ServerFrame::Ack {
                                    room,
                                    client_id,
                                    seq,
                                }
                            }
                            Err(HubError::Refused(refusal)) => ServerFrame::Error {
                                code: refusal.code(),
                                room: Some(room),
                                client_id: Some(client_id),
                                message: refusal.to_string(),
                            },
                            Err(err) => {
                                tracing::error!(%err, %room, "send failed");
                                not_stored(room, client_id)
                            }
                        };
                        outbox.push(self::frame(&reply));
                    });
                None
            }
            ClientFrame::Edit { room, target, body } => {
                self.act(room, EntryKind::Edit(target, body)).await
            }
            ClientFrame::Delete { room, target } => self.act(room, EntryKind::Delete(target)).await,
            ClientFrame::Remove { room, target } => self.send_out(room, target, false).await,
            ClientFrame::Ban { room, target } => self.send_out(room, target, true).await,
            ClientFrame::React {
                room,
                target,
                emoji,
                on,
            } => self.act(room, EntryKind::React(target, emoji, on)).await,
        }
    }

    /// This connection's membership of `room` if it may post there: it has
    /// joined, and the room is open to it. Otherwise the error to answer.
    fn poster<'a>(
        rooms: &'a mut Memberships,
        room: &RoomName,
        doing: &str,
    ) -> Result<&'a mut Membership, Message> {
        let Some(membership) = rooms.get_mut(room) else {
            return Err(error(
                ErrorCode::NotInRoom,
                Some(room.clone()),
                format!("join the room before {doing}"),
            ));
        };
        if !membership.author.is_account() && membership.room.accounts_only() {
            return Err(error(
                ErrorCode::AccountsOnly,
                Some(room.clone()),
                format!("#{room} is for signed-in people only: log in or sign up to post"),
            ));
        }
        Ok(membership)
    }

    /// What the room's rules say to this connection's person doing `act`
    /// (read from the store each time: a ban, a close to guests or a new
    /// moderator may have landed meanwhile).
    async fn may(&self, room: &RoomName, author: &Author, act: Act) -> Result<bool, Denied> {
        self.access
            .check(room, Some(author), act)
            .await
            .map(|granted| granted.moderator)
    }

    /// The refusal frame for `denied`; a store failure is logged, not shown.
    fn denied(room: RoomName, denied: Denied) -> Message {
        if let Denied::Store(err) = &denied {
            tracing::error!(%err, %room, "could not read the room's rules");
        }
        error(denied.code(), Some(room), denied.to_string())
    }

    /// An edit, deletion or reaction: the store judges it against its
    /// target; everyone in the room (the actor too) sees it as an entry, and
    /// only a refusal is answered directly.
    async fn act(&mut self, room: RoomName, kind: EntryKind) -> Option<Message> {
        let membership = match Self::poster(&mut self.rooms, &room, "acting on its messages") {
            Ok(membership) => membership,
            Err(refusal) => return Some(refusal),
        };
        let (in_room, nick, author) = (
            membership.room.clone(),
            membership.nick.clone(),
            membership.author.clone(),
        );
        // Anyone's message is a moderator's to delete; the store judges
        // everything else against the target, in the write's transaction.
        let moderator = matches!(kind, EntryKind::Delete(_))
            && self.may(&room, &author, Act::Delete).await.unwrap_or(false);
        let acting = self.hub.act(&in_room, &nick, &author, kind, moderator);
        let outbox = self.outbox.clone();
        tokio::spawn(async move {
            let (code, message) = match acting.committed().await {
                Ok(_) => return,
                Err(HubError::Refused(refusal)) => (refusal.code(), refusal.to_string()),
                Err(err) => {
                    tracing::error!(%err, %room, "message action failed");
                    (ErrorCode::Internal, NOT_NOW.to_owned())
                }
            };
            outbox.push(error(code, Some(room), message));
        });
        None
    }

    /// A moderator removes (or bans) the author of message `target`: their
    /// connections leave the room on every server, announced as gone; a ban
    /// also keeps that account or guest session from joining again.
    async fn send_out(&mut self, room: RoomName, target: Seq, ban: bool) -> Option<Message> {
        let membership = match Self::poster(&mut self.rooms, &room, "moderating it") {
            Ok(membership) => membership,
            Err(refusal) => return Some(refusal),
        };
        let (in_room, me) = (membership.room.clone(), membership.author.clone());
        match self.may(&room, &me, Act::Moderate).await {
            Ok(_) => {}
            Err(Denied::NotModerator) => {
                return Some(error(
                    ErrorCode::NotModerator,
                    Some(room),
                    "only the room's owner and its moderators can remove people",
                ));
            }
            Err(denied) => return Some(Self::denied(room, denied)),
        }
        match self
            .hub
            .send_out_author_of(&in_room, &me, target, ban)
            .await
        {
            Ok(nick) => {
                tracing::info!(%room, %nick, ban, "a moderator sent someone out");
                None
            }
            Err(err @ SendOutError::NoSuchMessage) => {
                Some(error(ErrorCode::NoSuchMessage, Some(room), err.to_string()))
            }
            Err(err @ SendOutError::Protected) => {
                Some(error(ErrorCode::NotModerator, Some(room), err.to_string()))
            }
            Err(SendOutError::Store(err)) => {
                tracing::error!(%err, %room, "a removal failed");
                Some(error(ErrorCode::Internal, Some(room), NOT_NOW))
            }
        }
    }

    async fn join(
        &mut self,
        room: RoomName,
        nick: Nick,
        session: app::people::SessionId,
        since: Option<u64>,
    ) -> Option<Message> {
        // Signed in, the account's name is the nickname, whatever was asked.
        let (nick, author) = match &self.signed_in {
            Some(account) => (account.name.clone(), Author::Account(account.account_id)),
            // Sessions of form guests are the server's to make (from their
            // cookie; and before that cookie, from the message ids everyone
            // saw): no socket may take one on.
            None if session.as_str().starts_with(FORM_GUESTS) => {
                return Some(error(
                    ErrorCode::InvalidFrame,
                    Some(room),
                    "that session id is reserved; reload the page",
                ));
            }
            None => (nick, Author::Guest(session)),
        };
        if let Some(existing) = self.rooms.get(&room)
            && existing.nick != nick
        {
            return Some(error(
                ErrorCode::InvalidFrame,
                Some(room),
                format!("you are already in this room as {}", existing.nick),
            ));
        }
        if !self.rooms.contains_key(&room) && self.rooms.len() >= self.limits.max_rooms {
            return Some(error(
                ErrorCode::TooManyRooms,
                Some(room),
                format!(
                    "you are in {} rooms already; leave one to join another",
                    self.limits.max_rooms
                ),
            ));
        }
        // Refused before anyone is told of an arrival; asked again below,
        // once in, for a ban that lands in between.
        if let Err(denied) = self.may(&room, &author, Act::Join).await {
            return Some(Self::denied(room, denied));
        }
        let rate = &mut self.rate;
        let joined = self
            .hub
            .join(
                &room,
                &nick,
                &author,
                self.conn,
                self.evictions.clone(),
                &mut || rate.allow_join(),
            )
            .await;
        let joining = match joined {
            Ok(joining) => joining,
            Err(HubError::NickInUse) => {
                return Some(error(
                    ErrorCode::NickInUse,
                    Some(room),
                    app::protocol::NICK_IN_USE,
                ));
            }
            Err(err @ HubError::NameReserved(_)) => {
                return Some(error(ErrorCode::NameReserved, Some(room), err.to_string()));
            }
            Err(err @ HubError::AccountsOnly(_)) => {
                return Some(error(ErrorCode::AccountsOnly, Some(room), err.to_string()));
            }
            Err(HubError::TooManyJoins(wait)) => {
                return Some(error(
                    ErrorCode::RateLimited,
                    Some(room),
                    format!(
                        "you are joining rooms too fast; try again in {} s",
                        wait.as_secs().max(1)
                    ),
                ));
            }
            Err(err @ (HubError::Store(_) | HubError::Refused(_))) => {
                tracing::error!(%err, %room, "join failed");
                return Some(error(
                    ErrorCode::Internal,
                    Some(room),
                    "could not join this room right now; try again in a moment",
                ));
            }
        };
        let head = joining.head;
        // A ban stored after the check above sent out nobody (this person
        // was not in yet): asked again now that they are in, so a ban is
        // either seen here or sends them out.
        let moderator = match self.may(&room, &author, Act::Join).await {
            Ok(moderator) => moderator,
            Err(denied) => {
                if joining.feed.is_some()
                    && let Err(err) = self.hub.leave(&joining.room, &nick, self.conn).await
                {
                    tracing::error!(%err, %room, "leave failed");
                }
                return Some(Self::denied(room, denied));
            }
        };
        // Too far behind (or ahead of a log that was reset): start over
        // from the latest page rather than replaying everything.
        let max_replay = self.limits.max_replay;
        let reset = since.is_some_and(|s| s > head || head - s > max_replay);
        // Without a key the room still works, only without files.
        let media = match self.media.grant(joining.room.id(), &author).await {
            Ok(grant) => Some(grant),
            Err(err) => {
                tracing::error!(%err, %room, "could not grant a media key");
                None
            }
        };
        let assistant = match &self.assistant {
            Some(assistant) => Some((assistant.name().clone(), assistant.answers_in(&room).await)),
            None => None,
        };
        let joined = ServerFrame::Joined {
            room: room.clone(),
            nick: nick.clone(),
            online: joining.online,
            head,
            reset,
            moderator,
            media,
            assistant,
        };
        let Some(feed) = joining.feed else {
            // Already in the room: its forwarder keeps going.
            return Some(frame(&joined));
        };
        let after = match since {
            Some(since) if !reset => since,
            _ => head.saturating_sub(u64::from(PAGE_SIZE)),
        };
        let forwarder = tokio::spawn(forward(
            self.hub.clone(),
            joining.room.clone(),
            joined,
            after,
            head,
            feed,
            self.outbox.clone(),
        ));
        let replaced = self.rooms.insert(Membership {
            room: joining.room,
            nick,
            author,
            forwarder,
            typing_sent: None,
        });
        // This connection took its place back after losing it: one forwarder.
        if let Some(old) = replaced {
            old.forwarder.abort();
        }
        None
    }

    /// A newer connection of the same tab took this room over; true when
    /// this connection is left in no room at all. An eviction that is out of
    /// date (this connection took the place back since) is ignored.
    pub fn evicted(&mut self, eviction: Eviction) -> bool {
        if eviction.why != Evicted::Replaced {
            if let Some(membership) = self.rooms.remove(&eviction.room) {
                membership.forwarder.abort();
                let room = eviction.room;
                let (code, message) = match eviction.why {
                    Evicted::ClosedToGuests => (
                        ErrorCode::AccountsOnly,
                        format!(
                            "#{room} is now for signed-in people only: log in or sign up to rejoin it"
                        ),
                    ),
                    Evicted::Removed => (
                        ErrorCode::Removed,
                        format!("A moderator removed you from #{room}. You may join it again."),
                    ),
                    Evicted::Banned => (
                        ErrorCode::Banned,
                        format!("A moderator banned you from #{room}."),
                    ),
                    // As if the room were gone: it is, for them.
                    Evicted::NoLongerMember => (
                        ErrorCode::NoSuchRoom,
                        crate::access::Denied::NoSuchRoom.to_string(),
                    ),
                    _ => (
                        ErrorCode::NameReserved,
                        HubError::NameReserved(membership.nick).to_string(),
                    ),
                };
                self.outbox.push(error(code, Some(room), message));
            }
            return false;
        }
        let stale = self
            .rooms
            .get(&eviction.room)
            .is_some_and(|m| m.room.held_by(&m.nick, self.conn));
        if !stale && let Some(membership) = self.rooms.remove(&eviction.room) {
            membership.forwarder.abort();
        }
        self.rooms.is_empty()
    }
}

/// The answer to a message the store would not take, even after retrying:
/// the browser keeps it and sends it again with the same id.
fn not_stored(room: RoomName, client_id: ClientId) -> ServerFrame {
    ServerFrame::Error {
        code: ErrorCode::Internal,
        room: Some(room),
        client_id: Some(client_id),
        message: "the server could not store this message yet; it will be sent again".into(),
    }
}
