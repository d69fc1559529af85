//! Pictures, videos and files attached to messages: the validated ids and
//! names both sides share, what a message carries about each attachment, the
//! grant a joined room hands the browser, and the addresses media is fetched
//! from. Bytes never travel over the socket: they are uploaded to, and
//! fetched from, the server's media routes (see docs/PROTOCOL.md).

use crate::people::{TokenError, check_token};
use serde::{Deserialize, Serialize};

/// Most files one message may carry.
pub const FILES_PER_MESSAGE: usize = 10;

/// Most characters kept of a file's name.
pub const FILE_NAME_MAX_CHARS: usize = 120;

/// Where a browser uploads a file: `POST` the bytes as the body, with the
/// room's grant key in [`KEY_HEADER`] and the file's name (URI-encoded) in
/// [`NAME_HEADER`]. The answer is the [`Attachment`] as JSON, or a refusal
/// as text the person can read.
pub const UPLOAD_PATH: &str = "/api/media";
pub const KEY_HEADER: &str = "x-chat-media-key";

/// Where a browser trades its room's grant key (in [`KEY_HEADER`]) for the
/// cookie that lets it see the room's files: `POST`, answered `204` with the
/// cookie or `403`. The key never goes into a file's address, so a copied
/// link opens nothing for someone who is not in the room.
pub const PASS_PATH: &str = "/api/media/pass";
pub const NAME_HEADER: &str = "x-chat-file-name";

/// Set (to `1`) on an upload to an end-to-end encrypted conversation: the
/// body is ciphertext the browser sealed, kept as opaque bytes with no name
/// or type of its own (those travel inside the sealed message), and it is
/// the only kind of upload such a conversation takes.
pub const SEALED_HEADER: &str = "x-chat-sealed";

/// What a sealed upload is stored and served as.
pub const SEALED_TYPE: &str = "application/octet-stream";

/// The only types ever shown inline (by the server, or by a browser that
/// opened a sealed file).
pub const INLINE_TYPES: [&str; 6] = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/webm",
];

/// Media ids one message may name: each file, and for an encrypted
/// message's pictures their thumbnails (uploads of their own).
pub const MEDIA_PER_MESSAGE: usize = 2 * FILES_PER_MESSAGE;

/// A stored file's public id: random, so it cannot be guessed, and never
/// derived from the bytes, so it does not tell who else has the same file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MediaId(String);

impl MediaId {
    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        check_token(raw).map(|()| Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MediaId {
    type Error = TokenError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        check_token(&raw).map(|()| Self(raw))
    }
}

impl From<MediaId> for String {
    fn from(id: MediaId) -> Self {
        id.0
    }
}

/// How a file shows in the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A thumbnail, opening full size in the viewer.
    Image,
    /// Plays inline with controls.
    Video,
    /// A card with name, size and type, downloaded on click.
    File,
}

/// A file a message carries, as everyone sees it. On the wire an array
/// `[id, name, size, content_type, kind, width, height]`: shorter, and less
/// decoding code in the browser's bundle than an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AttachmentTuple", into = "AttachmentTuple")]
pub struct Attachment {
    pub id: MediaId,
    /// The name it was uploaded under (its text alternative).
    pub name: String,
    pub size: u64,
    /// Decided from the bytes, never from the name or the uploader.
    pub content_type: String,
    pub kind: MediaKind,
    /// Pictures: their size as stored, so the layout does not jump.
    pub width: Option<u32>,
    pub height: Option<u32>,
}

type AttachmentTuple = (
    MediaId,
    String,
    u64,
    String,
    MediaKind,
    Option<u32>,
    Option<u32>,
);

impl From<AttachmentTuple> for Attachment {
    fn from((id, name, size, content_type, kind, width, height): AttachmentTuple) -> Self {
        Self {
            id,
            name,
            size,
            content_type,
            kind,
            width,
            height,
        }
    }
}

impl From<Attachment> for AttachmentTuple {
    fn from(a: Attachment) -> Self {
        (
            a.id,
            a.name,
            a.size,
            a.content_type,
            a.kind,
            a.width,
            a.height,
        )
    }
}

/// What joining a room grants for its media: the key that proves membership
/// when uploading to it (and, traded at [`PASS_PATH`] for a cookie, when
/// fetching from it), and the limits uploads meet.
/// On the wire `[key, max_bytes]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(String, u64)", into = "(String, u64)")]
pub struct MediaGrant {
    pub key: String,
    /// Largest file, in bytes.
    pub max_bytes: u64,
}

impl From<(String, u64)> for MediaGrant {
    fn from((key, max_bytes): (String, u64)) -> Self {
        Self { key, max_bytes }
    }
}

impl From<MediaGrant> for (String, u64) {
    fn from(grant: MediaGrant) -> Self {
        (grant.key, grant.max_bytes)
    }
}

/// Where attachment `id` is fetched full size (by a member with the room's
/// pass, see [`PASS_PATH`]).
pub fn media_url(id: &MediaId) -> String {
    format!("/media/{}", id.as_str())
}

/// Where a picture's thumbnail is fetched.
pub fn thumb_url(id: &MediaId) -> String {
    format!("/media/{}/thumb", id.as_str())
}

/// A byte count as people read it: "812 B", "4.2 KB", "25 MB".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A file name fit to show and to store: control characters, path
/// separators and invisible or direction characters gone (a right-to-left
/// override makes `photo\u{202E}gnp.exe` read as `photoexe.png`), cut to
/// [`FILE_NAME_MAX_CHARS`]; `None` when nothing is left.
pub fn clean_file_name(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .filter(|c| !c.is_control() && !crate::people::invisible(*c))
        .take(FILE_NAME_MAX_CHARS)
        .collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty() && cleaned != "." && cleaned != "..").then(|| cleaned.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(4_200), "4.2 KB");
        assert_eq!(human_size(25_000_000), "25 MB");
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(
            clean_file_name("../../etc/passwd").as_deref(),
            Some(".._.._etc_passwd")
        );
        assert_eq!(clean_file_name("a\u{0}b.png").as_deref(), Some("ab.png"));
        assert_eq!(clean_file_name("  "), None);
        assert_eq!(
            clean_file_name("photo\u{202E}gnp.exe").as_deref(),
            Some("photognp.exe"),
            "no override can disguise the extension"
        );
        assert_eq!(
            clean_file_name("re\u{200B}port\u{2066}.pdf").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(
            clean_file_name(&"é".repeat(300)).unwrap().chars().count(),
            FILE_NAME_MAX_CHARS
        );
    }

    #[test]
    fn media_ids_are_safe_tokens() {
        assert!(MediaId::parse("Zq3-_x").is_ok());
        assert!(MediaId::parse("../x").is_err());
    }
}
