//! Messages and the room log: the validated message body, the client's message
//! id, the sequenced entries a room's history is made of, and the history
//! server function the room page reads.

use crate::people::{Nick, TokenError, check_token};
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
        if body.chars().count() > BODY_MAX_CHARS {
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

    /// A guest posting through a plain form has no tab session; the form's
    /// message id (random, used once) stands in for one. Both are tokens of
    /// one shape, so the conversion cannot fail.
    pub fn as_guest_session(&self) -> crate::people::SessionId {
        crate::people::SessionId::from_checked_token(self.0.clone())
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

/// What happened at one point of a room's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Message {
        client_id: ClientId,
        body: MessageBody,
    },
    /// The person arrived; shown as "NICK joined".
    Joined,
    /// The person's last connection to the room went away; shown as "NICK left".
    Left,
}

/// One committed entry of a room's log, identical in history and live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: Seq,
    /// Commit time, milliseconds since the Unix epoch (UTC).
    pub at: i64,
    pub nick: Nick,
    pub kind: EntryKind,
    /// Written by a signed-in account; otherwise by a guest.
    #[serde(default, skip_serializing_if = "crate::people::is_false")]
    pub account: bool,
}

/// A slice of a room's log in ascending `seq` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub room: RoomName,
    pub entries: Vec<Entry>,
    /// True when the page reaches the first entry of the room.
    pub at_start: bool,
}

/// The `limit` entries before `before` (or the latest ones), oldest first.
// A fixed endpoint (no hash suffix) so tools like `bench` can call it.
#[leptos::server(prefix = "/api", endpoint = "room_history")]
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

    #[test]
    fn client_ids_are_safe_tokens() {
        assert!(ClientId::parse("0f3a-91").is_ok());
        assert!(ClientId::parse("<script>").is_err());
    }
}
