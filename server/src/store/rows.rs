//! Rows as both databases return them, and their checked conversion into the
//! app's validated types.

use super::{AccountRow, Departed, Draft, Found, OwnedRoom, SessionRow, StoreError};
use app::media::{Attachment, MediaId, MediaKind};
use app::messages::{
    ClientId, Emoji, Entry, EntryKind, MessageBody, Quote, Seq, excerpt, toggle_reaction,
};
use app::people::Nick;
use app::rooms::RoomName;
use std::borrow::Cow;

pub(super) struct EntryRow {
    pub room_id: i64,
    pub seq: i64,
    pub at: i64,
    pub nick: String,
    pub kind: String,
    pub client_id: Option<String>,
    pub body: Option<String>,
    pub account: bool,
    pub bot: bool,
    pub target: Option<i64>,
    pub edited: bool,
    /// For a reply: the name and current text of the message it answers.
    pub quote_nick: Option<String>,
    pub quote_body: Option<String>,
}

impl EntryRow {
    pub fn into_entry(self) -> Result<Entry, StoreError> {
        let corrupt = || StoreError::Corrupt {
            room_id: self.room_id,
            seq: self.seq,
        };
        let nick = Nick::parse(&self.nick).map_err(|_| corrupt())?;
        let body = || MessageBody::parse(self.body.as_deref().unwrap_or("")).map_err(|_| corrupt());
        let target = || self.target.map(|t| t as Seq).ok_or_else(corrupt);
        let kind = match self.kind.as_str() {
            "message" => EntryKind::Message {
                client_id: ClientId::parse(self.client_id.as_deref().unwrap_or(""))
                    .map_err(|_| corrupt())?,
                body: body()?,
                reply: self
                    .target
                    .zip(self.quote_nick.as_deref())
                    .and_then(|(seq, nick)| {
                        Some(Quote {
                            seq: seq as Seq,
                            nick: Nick::parse(nick).ok()?,
                            excerpt: self.quote_body.as_deref().map(excerpt),
                        })
                    }),
                edited: self.edited,
                reactions: vec![],
                media: vec![],
            },
            "joined" => match self.body.as_deref() {
                None => EntryKind::Joined,
                Some(crowd) => {
                    let (joined, left, quiet) =
                        serde_json::from_str(crowd).map_err(|_| corrupt())?;
                    EntryKind::Crowd(joined, left, quiet)
                }
            },
            "left" => EntryKind::Left,
            "deleted" => EntryKind::Deleted,
            "edit" => EntryKind::Edit(target()?, body()?),
            "delete" => EntryKind::Delete(target()?),
            word @ ("react" | "unreact") => EntryKind::React(
                target()?,
                Emoji::parse(self.body.as_deref().unwrap_or("")).map_err(|_| corrupt())?,
                word == "react",
            ),
            _ => return Err(corrupt()),
        };
        Ok(Entry {
            seq: self.seq as Seq,
            at: self.at,
            nick,
            kind,
            account: self.account,
            bot: self.bot,
        })
    }
}

/// An attachment of a message as read back.
pub(super) struct AttachmentRow {
    pub seq: i64,
    pub public_id: String,
    pub name: String,
    pub content_type: String,
    pub kind: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

impl AttachmentRow {
    /// `None` for a row that no longer validates (it is left out).
    pub fn into_attachment(self) -> Option<Attachment> {
        Some(Attachment {
            id: MediaId::parse(&self.public_id).ok()?,
            name: self.name,
            size: self.size.max(0) as u64,
            content_type: self.content_type,
            kind: media_kind(&self.kind)?,
            width: self.width.and_then(|w| u32::try_from(w).ok()),
            height: self.height.and_then(|h| u32::try_from(h).ok()),
        })
    }
}

/// The `kind` column of `media` read back.
pub(super) fn media_kind(word: &str) -> Option<MediaKind> {
    match word {
        "image" => Some(MediaKind::Image),
        "video" => Some(MediaKind::Video),
        "file" => Some(MediaKind::File),
        _ => None,
    }
}

/// The `kind` column of `media` for a kind.
pub(super) fn media_kind_word(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::File => "file",
    }
}

/// One person's reaction as stored.
pub(super) struct ReactionRow {
    pub seq: i64,
    pub emoji: String,
    pub nick: String,
}

/// Reads `rows` into entries and puts each message's reactions (`reactions`,
/// in the order they were made) and attachments (in their order) on it.
pub(super) fn entries(
    rows: Vec<EntryRow>,
    reactions: Vec<ReactionRow>,
    attachments: Vec<AttachmentRow>,
) -> Result<Vec<Entry>, StoreError> {
    let mut entries = rows
        .into_iter()
        .map(EntryRow::into_entry)
        .collect::<Result<Vec<_>, _>>()?;
    for row in attachments {
        let seq = row.seq as Seq;
        if let Some(attachment) = row.into_attachment()
            && let Ok(at) = entries.binary_search_by_key(&seq, |e| e.seq)
            && let EntryKind::Message { media, .. } = &mut entries[at].kind
        {
            media.push(attachment);
        }
    }
    for reaction in reactions {
        let (Ok(emoji), Ok(nick)) = (Emoji::parse(&reaction.emoji), Nick::parse(&reaction.nick))
        else {
            continue;
        };
        if let Ok(at) = entries.binary_search_by_key(&(reaction.seq as Seq), |e| e.seq)
            && let EntryKind::Message { reactions, .. } = &mut entries[at].kind
        {
            toggle_reaction(reactions, &emoji, &nick, true);
        }
    }
    Ok(entries)
}

/// A draft's columns: kind word, client id, text, target. A crowd is a
/// `joined` row whose text is the JSON `[joined, left, quiet]` (a lone
/// `joined` has none), so both databases' kind constraints hold as they are.
pub(super) fn columns(
    draft: &Draft,
) -> (
    &'static str,
    Option<&str>,
    Option<Cow<'_, str>>,
    Option<i64>,
) {
    let target = draft.kind.target().or(draft.reply_to).map(|t| t as i64);
    let (client_id, body) = match &draft.kind {
        EntryKind::Message {
            client_id, body, ..
        } => (Some(client_id.as_str()), Some(body.as_str().into())),
        EntryKind::Edit(_, body) => (None, Some(body.as_str().into())),
        EntryKind::React(_, emoji, _) => (None, Some(emoji.as_str().into())),
        EntryKind::Crowd(joined, left, quiet) => (
            None,
            Some(
                serde_json::to_string(&(joined, left, quiet))
                    .expect("names and flags serialize")
                    .into(),
            ),
        ),
        EntryKind::Joined | EntryKind::Left | EntryKind::Deleted | EntryKind::Delete(..) => {
            (None, None)
        }
    };
    (kind_word(&draft.kind), client_id, body, target)
}

/// The quote of a reply's original as read (`None` unless it is a message
/// or a deleted one).
pub(super) fn quote(seq: i64, nick: &str, kind: &str, body: Option<&str>) -> Option<Quote> {
    matches!(kind, "message" | "deleted").then_some(())?;
    Some(Quote {
        seq: seq as Seq,
        nick: Nick::parse(nick).ok()?,
        excerpt: body.map(excerpt),
    })
}

/// A search result as read; one that no longer validates reads as none.
pub(super) fn found(room: &str, seq: i64, at: i64, nick: &str, snippet: String) -> Option<Found> {
    Some(Found {
        room: RoomName::parse(room).ok()?,
        seq: seq as Seq,
        at,
        nick: Nick::parse(nick).ok()?,
        snippet,
    })
}

/// An account as read; a stored name that no longer validates reads as none.
pub(super) fn account_row(id: i64, name: &str, password_hash: String) -> Option<AccountRow> {
    Some(AccountRow {
        id,
        name: Nick::parse(name).ok()?,
        password_hash,
    })
}

/// Room names as read; one that no longer validates is skipped rather than
/// failing the lobby.
pub(super) fn room_names(names: &[String]) -> Vec<RoomName> {
    names
        .iter()
        .filter_map(|n| RoomName::parse(n).ok())
        .collect()
}

/// A shutdown record as read; one that no longer validates reads as none.
pub(super) fn departed(room: &str, nick: &str, session: String) -> Option<Departed> {
    Some(Departed {
        room: RoomName::parse(room).ok()?,
        nick: Nick::parse(nick).ok()?,
        session,
    })
}

/// A session as read; one whose account name no longer validates reads as none.
pub(super) fn session_row(
    account_id: i64,
    name: &str,
    created_at: i64,
    seen_at: i64,
) -> Option<SessionRow> {
    Some(SessionRow {
        account_id,
        name: Nick::parse(name).ok()?,
        created_at,
        seen_at,
    })
}

/// An owned room as read; one whose name no longer validates reads as none.
pub(super) fn owned_room(
    name: &str,
    accounts_only: bool,
    quiet_notices: bool,
    assistant_off: bool,
    retention_days: Option<i64>,
) -> Option<OwnedRoom> {
    Some(OwnedRoom {
        name: RoomName::parse(name).ok()?,
        accounts_only,
        quiet_notices,
        assistant_off,
        retention_days: retention_days.and_then(|d| u32::try_from(d).ok()),
        moderators: vec![],
        members: vec![],
    })
}

/// The `kind` column's word for an entry kind.
pub(super) fn kind_word(kind: &EntryKind) -> &'static str {
    match kind {
        EntryKind::Message { .. } => "message",
        EntryKind::Joined | EntryKind::Crowd(..) => "joined",
        EntryKind::Left => "left",
        EntryKind::Deleted => "deleted",
        EntryKind::Edit(..) => "edit",
        EntryKind::Delete(..) => "delete",
        EntryKind::React(_, _, true) => "react",
        EntryKind::React(_, _, false) => "unreact",
    }
}

/// A standing query's row (see `crate::access`): the room's name, closed to
/// guests, banned, moderator, member.
pub(super) type StandingRow = (String, bool, bool, bool, bool, i64);

/// A standing row as the rules read it (`None` for a name that no longer
/// parses). Whether the room is private is in its name.
pub(super) fn standing(
    (name, accounts_only, banned, moderator, member, key_epoch): StandingRow,
) -> Option<(RoomName, super::Standing)> {
    let room = RoomName::parse(&name).ok()?;
    let standing = super::Standing {
        private: room.is_private(),
        member,
        accounts_only,
        banned,
        moderator,
        key_epoch: u32::try_from(key_epoch).unwrap_or(0),
    };
    Some((room, standing))
}

/// A device as the key queries read it: account name, device id, agree,
/// sign, signature.
pub(super) type DeviceRow = (String, String, String, String, String);

pub(super) fn member_device(
    (account, id, agree, sign, signature): DeviceRow,
) -> Option<app::e2e::MemberDevice> {
    Some(app::e2e::MemberDevice {
        account: Nick::parse(&account).ok()?,
        keys: app::e2e::DeviceKeys {
            id: app::e2e::DeviceId::parse(&id)?,
            agree,
            sign,
            signature,
        },
    })
}

/// The account's other devices with the epochs they lack, grouped.
pub(super) fn key_requests(
    rows: Vec<(String, String, String, String, String, i64)>,
) -> Vec<app::e2e::KeyRequest> {
    let mut requests: Vec<app::e2e::KeyRequest> = Vec::new();
    for (account, id, agree, sign, signature, epoch) in rows {
        let Ok(epoch) = u32::try_from(epoch) else {
            continue;
        };
        match requests.last_mut() {
            Some(last) if last.device.keys.id.as_str() == id => last.epochs.push(epoch),
            _ => {
                if let Some(device) = member_device((account, id, agree, sign, signature)) {
                    requests.push(app::e2e::KeyRequest {
                        device,
                        epochs: vec![epoch],
                    });
                }
            }
        }
    }
    requests
}

/// An epoch's key wrapped for one device: the epoch, the maker's
/// [`DeviceRow`], the wrap's IV and key.
pub(super) type EpochKeyRow = (i64, String, String, String, String, String, String, String);

pub(super) fn epoch_key(
    (epoch, account, id, agree, sign, signature, iv, key): EpochKeyRow,
    device: &app::e2e::DeviceId,
) -> Option<app::e2e::EpochKey> {
    Some(app::e2e::EpochKey {
        epoch: u32::try_from(epoch).ok()?,
        from: member_device((account, id, agree, sign, signature))?,
        wrap: app::e2e::Wrap {
            device: device.clone(),
            iv,
            key,
        },
    })
}

/// A key backup's rows (room, epoch, IV, sealed key), ordered by room,
/// grouped by room.
pub(crate) fn backup_rooms(
    rows: Vec<(String, i64, String, String)>,
) -> Vec<(RoomName, Vec<app::e2e::BackedUpKey>)> {
    let mut rooms: Vec<(RoomName, Vec<app::e2e::BackedUpKey>)> = Vec::new();
    for (room, epoch, iv, sealed) in rows {
        let (Ok(room), Ok(epoch)) = (RoomName::parse(&room), u32::try_from(epoch)) else {
            continue;
        };
        let key = app::e2e::BackedUpKey(epoch, iv, sealed);
        match rooms.last_mut() {
            Some((last, keys)) if *last == room => keys.push(key),
            _ => rooms.push((room, vec![key])),
        }
    }
    rooms
}

/// One of an account's devices as both stores read it: id, browser,
/// created, last seen, session.
pub(super) type AccountDeviceRow = (String, String, i64, Option<i64>, Option<String>);

pub(super) fn account_device(
    (id, browser, created_at, seen_at, session): AccountDeviceRow,
) -> Option<crate::store::AccountDevice> {
    Some(crate::store::AccountDevice {
        id: app::e2e::DeviceId::parse(&id)?,
        browser,
        created_at,
        seen_at: seen_at.unwrap_or(created_at),
        session,
    })
}
