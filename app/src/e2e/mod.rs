//! End-to-end encryption of private rooms and direct messages: what the
//! browser and the server share about it. The server never sees a key it
//! could use: it stores and relays sealed bodies, wrapped room keys and
//! public device keys, and checks only their shape (docs/SECURITY.md).
//!
//! - here: the [`Sealed`] body format, device ids and the public device
//!   record, a room's key state as the server hands it to a device, and the
//!   server functions that publish a device and a new epoch's keys;
//! - `backup` (browser only): the key backup a recovery passphrase opens;
//! - `crypto` (browser only): WebCrypto (`SubtleCrypto`) for device keys,
//!   wrapping room keys and sealing messages;
//! - `device` (browser only): this browser's device keys, kept in IndexedDB
//!   as non-extractable `CryptoKey`s, published once per account;
//! - `files` (browser only): a file sealed with a key of its own before
//!   it is uploaded, a picture's thumbnail made in the browser, and a
//!   fetched file opened into a `blob:` address;
//! - `keys` (browser only): each room's keys as this device unwrapped them,
//!   a new epoch when the server says one is due, sealing and opening.

#[cfg(feature = "hydrate")]
pub mod backup;
#[cfg(feature = "hydrate")]
pub mod crypto;
#[cfg(feature = "hydrate")]
pub mod device;
#[cfg(feature = "hydrate")]
pub mod files;
#[cfg(feature = "hydrate")]
pub mod keys;

use crate::media::{Attachment, MediaId, MediaKind};
use crate::rooms::RoomName;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a sealed body starts with: the format's name and version. Its
/// plaintext is the message's text.
pub const SEALED_PREFIX: &str = "e2e1.";

/// What a sealed message with files starts with: its plaintext is a
/// [`Content`] in JSON (the text, and each file's name, type and key).
pub const SEALED_FILES_PREFIX: &str = "e2e2.";

/// The longest sealed body: a 4000-character message is at most 16000
/// bytes of UTF-8, ten files' records at most about 8000 more, a third
/// more in base64, plus the header.
pub const SEALED_MAX_CHARS: usize = 40_000;

/// Whether `body` is sealed (in either format), judged by its start alone:
/// cheap enough for every redraw. [`Sealed::parse`] checks the rest.
pub fn is_sealed(body: &str) -> bool {
    body.starts_with(SEALED_PREFIX) || body.starts_with(SEALED_FILES_PREFIX)
}

/// Characters of a device id.
pub const DEVICE_ID_CHARS: usize = 16;

/// Epoch keys one `share_keys` call may carry: each is a row written under
/// the store's write lock, so a lying client cannot hold it with thousands.
/// A device with more to hand over sends them in several calls.
pub const SHARED_KEYS_MAX: usize = 256;

/// Devices one account may publish (a phone, a laptop, a few browsers).
pub const DEVICES_PER_ACCOUNT: usize = 20;

/// A browser's device id: random lowercase letters and digits, made once
/// per browser and account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == DEVICE_ID_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeviceId {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or("not a device id")
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> Self {
        id.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

as_array!(DeviceKeys, DeviceKeysArray, (id: DeviceId, agree: String, sign: String, signature: String));
as_array!(MemberDevice, MemberDeviceArray, (account: crate::people::Nick, keys: DeviceKeys));
as_array!(Wrap, WrapArray, (device: DeviceId, iv: String, key: String));
as_array!(EpochKey, EpochKeyArray, (epoch: u32, from: MemberDevice, wrap: Wrap));
as_array!(RoomKeys, RoomKeysArray, (current: u32, latest: u32, devices: Vec<MemberDevice>, keys: Vec<EpochKey>, share: Vec<KeyRequest>));
as_array!(SharedKeys, SharedKeysArray, (room: RoomName, device: DeviceId, to: DeviceId, keys: Vec<(u32, Wrap)>));
as_array!(NewEpoch, NewEpochArray, (room: RoomName, epoch: u32, device: DeviceId, wraps: Vec<Wrap>));
as_array!(KeyRequest, KeyRequestArray, (device: MemberDevice, epochs: Vec<u32>));

/// Standard base64 (with padding), as the browser's `btoa` writes it.
pub fn is_base64(text: &str) -> bool {
    !text.is_empty()
        && text.len().is_multiple_of(4)
        && text
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        && text.len() - text.trim_end_matches('=').len() <= 2
}

/// A message body sealed in the browser: the epoch of the room key that
/// sealed it, the sealing device, the 96-bit IV and the AES-GCM ciphertext
/// (with its tag), as `e2e1.EPOCH.DEVICE.IV.CIPHERTEXT`. The room, epoch
/// and device are bound to it as additional data ([`additional_data`]), so
/// a body moved to another room, epoch or device does not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The plaintext is a [`Content`] (`e2e2.`), not bare text (`e2e1.`).
    pub files: bool,
    pub epoch: u32,
    pub device: DeviceId,
    /// Base64 of the 12-byte IV.
    pub iv: String,
    /// Base64 of the ciphertext and its 16-byte tag.
    pub ciphertext: String,
}

impl Sealed {
    /// The body's parts if it is sealed (any other text is not).
    pub fn parse(body: &str) -> Option<Self> {
        let (files, rest) = match body.strip_prefix(SEALED_PREFIX) {
            Some(rest) => (false, rest),
            None => (true, body.strip_prefix(SEALED_FILES_PREFIX)?),
        };
        if body.len() > SEALED_MAX_CHARS {
            return None;
        }
        let mut parts = rest.split('.');
        let epoch: u32 = parts.next()?.parse().ok().filter(|e| *e > 0)?;
        let device = DeviceId::parse(parts.next()?)?;
        let iv = parts.next()?;
        let ciphertext = parts.next()?;
        if parts.next().is_some() || iv.len() != 16 || !is_base64(iv) || !is_base64(ciphertext) {
            return None;
        }
        // 16 bytes of tag at least.
        if ciphertext.len() < 24 {
            return None;
        }
        Some(Self {
            files,
            epoch,
            device,
            iv: iv.to_owned(),
            ciphertext: ciphertext.to_owned(),
        })
    }
}

impl fmt::Display for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}.{}.{}.{}",
            if self.files {
                SEALED_FILES_PREFIX
            } else {
                SEALED_PREFIX
            },
            self.epoch,
            self.device,
            self.iv,
            self.ciphertext
        )
    }
}

/// A file of an encrypted message, as its sealed [`Content`] describes
/// it: the server holds only its ciphertext (and its thumbnail's), stored
/// as an opaque upload; the key to both travels here, inside the message.
/// On the wire an array, its first element an [`Attachment`] array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SealedFileArray", into = "SealedFileArray")]
pub struct SealedFile {
    /// The upload holding the file's ciphertext (`id`), and its name, size
    /// before encryption, type and picture size as the sender's browser
    /// knew them. The type is shown inline only if it is one of the media
    /// allow list's picture and video types ([`SealedFile::shown`]).
    pub file: Attachment,
    /// The file's own AES-256-GCM key (base64 of 32 bytes), made for it
    /// alone.
    pub key: String,
    /// The IV the file was sealed with (base64 of 12 bytes).
    pub iv: String,
    /// A picture's thumbnail, made in the sender's browser and sealed with
    /// the same key under its own IV: its upload and IV.
    pub thumb: Option<(MediaId, String)>,
}

as_array!(SealedFile, SealedFileArray, (file: Attachment, key: String, iv: String, thumb: Option<(MediaId, String)>));

impl SealedFile {
    /// Its uploads (the file, then its thumbnail): what the message's
    /// `media` names, so the server ties them to it.
    pub fn uploads(&self) -> impl Iterator<Item = &MediaId> {
        std::iter::once(&self.file.id).chain(self.thumb.as_ref().map(|(id, _)| id))
    }

    /// Whether the browser may show it inline (a picture or video of an
    /// allowed type); anything else is a download.
    pub fn inline(&self) -> bool {
        self.file.kind != MediaKind::File
            && crate::media::INLINE_TYPES.contains(&self.file.content_type.as_str())
    }

    /// The file as the log shows it: a download, whatever the sender said
    /// its kind is, unless it may be shown inline.
    pub fn shown(&self) -> Attachment {
        let mut file = self.file.clone();
        if !self.inline() {
            file.kind = MediaKind::File;
        }
        file
    }
}

/// What binds a file's ciphertext (or its thumbnail's) to its role, so
/// the one cannot be shown as the other.
pub fn file_additional_data(thumb: bool) -> &'static [u8] {
    if thumb {
        b"chat file thumb"
    } else {
        b"chat file"
    }
}

/// The plaintext of a sealed message with files (`e2e2.`): its text and
/// its files, as `[text, [file, ...]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content(pub String, pub Vec<SealedFile>);

/// A sealed body as this device can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Text(String),
    /// A message with files: its text and the files' records.
    Files(String, Vec<SealedFile>),
    /// No key for its epoch here (yet): another device of this person, or
    /// the sender, has to wrap it for this one.
    Waiting,
    /// It does not open with its epoch's key: changed on the way.
    Broken,
}

impl Opened {
    /// The text, once open.
    pub fn text(&self) -> Option<&str> {
        match self {
            Opened::Text(text) | Opened::Files(text, _) => Some(text),
            Opened::Waiting | Opened::Broken => None,
        }
    }

    /// What the log shows for a sealed body in this state.
    pub fn shown(&self) -> &str {
        match self {
            Opened::Text(text) | Opened::Files(text, _) => text,
            Opened::Waiting => "Waiting for the key from another device",
            Opened::Broken => "This message could not be decrypted",
        }
    }
}

/// What a sealed body is bound to: the room, the epoch and the sealing
/// device (or, for a wrapped room key, the device it is wrapped for).
pub fn additional_data(room: &RoomName, epoch: u32, device: &DeviceId) -> Vec<u8> {
    format!("{room}\n{epoch}\n{device}").into_bytes()
}

/// What a sealed message body is bound to: [`additional_data`], and for a
/// body with files (`e2e2.`) that format too, so a server that swaps the
/// prefix gets a body that does not open rather than one read the wrong way.
pub fn body_additional_data(
    room: &RoomName,
    epoch: u32,
    device: &DeviceId,
    files: bool,
) -> Vec<u8> {
    let mut data = additional_data(room, epoch, device);
    if files {
        data.extend_from_slice(b"\nfiles");
    }
    data
}

/// A device's public keys as it publishes them: its ECDH P-256 key (room
/// keys are wrapped for it) and its ECDSA P-256 key, which signs the rest
/// ([`DeviceKeys::signed_bytes`]). Raw public keys, in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "DeviceKeysArray", into = "DeviceKeysArray")]
pub struct DeviceKeys {
    pub id: DeviceId,
    pub agree: String,
    pub sign: String,
    pub signature: String,
}

/// An uncompressed P-256 public key is 65 bytes: 88 characters of base64.
const PUBLIC_KEY_B64: usize = 88;
/// An ECDSA P-256 signature from WebCrypto is 64 bytes.
const SIGNATURE_B64: usize = 88;

impl DeviceKeys {
    /// Whether every part has the shape it must (the server then verifies
    /// the signature, and the browsers do again before trusting it).
    pub fn well_formed(&self) -> bool {
        self.agree.len() == PUBLIC_KEY_B64
            && self.sign.len() == PUBLIC_KEY_B64
            && self.signature.len() == SIGNATURE_B64
            && [&self.agree, &self.sign, &self.signature]
                .iter()
                .all(|part| is_base64(part))
    }

    /// What the signature covers: the account's name, the device id and
    /// its key agreement key, so none of them can be swapped alone.
    pub fn signed_bytes(account: &str, id: &DeviceId, agree: &str) -> Vec<u8> {
        format!("chat device\n{account}\n{id}\n{agree}").into_bytes()
    }
}

/// The digits of one person's half of a safety number: 30 digits from the
/// SHA-256 of their devices' signing keys, 5 from each 5 bytes (a 40-bit
/// number modulo 100000), as Signal shows them.
pub fn safety_digits(digest: &[u8]) -> String {
    digest
        .chunks(5)
        .take(6)
        .map(|chunk| {
            let n = chunk.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect()
}

/// What one person's half of a safety number hashes: their name and their
/// devices' signing keys, in a fixed order.
pub fn safety_input(account: &str, mut sign_keys: Vec<&str>) -> Vec<u8> {
    sign_keys.sort_unstable();
    format!("chat safety number v1\n{account}\n{}", sign_keys.join("\n")).into_bytes()
}

/// Two halves as both people see them: the lower name's first, in groups
/// of five digits.
pub fn safety_number(mut halves: [(String, String); 2]) -> String {
    halves.sort();
    let digits: String = halves.iter().map(|(_, d)| d.as_str()).collect();
    digits
        .as_bytes()
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A device of someone in a room, as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "MemberDeviceArray", into = "MemberDeviceArray")]
pub struct MemberDevice {
    pub account: crate::people::Nick,
    pub keys: DeviceKeys,
}

/// A room key wrapped for one device by another: the IV and the wrapped
/// key, in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WrapArray", into = "WrapArray")]
pub struct Wrap {
    pub device: DeviceId,
    pub iv: String,
    pub key: String,
}

impl Wrap {
    /// A wrapped 32-byte AES key is 48 bytes with its tag: 64 characters.
    pub fn well_formed(&self) -> bool {
        self.iv.len() == 16 && self.key.len() == 64 && is_base64(&self.iv) && is_base64(&self.key)
    }
}

/// An epoch's key as wrapped for the asking device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EpochKeyArray", into = "EpochKeyArray")]
pub struct EpochKey {
    pub epoch: u32,
    /// The device that made the epoch and wrapped its key; its public keys
    /// are in [`RoomKeys::devices`] if it is still a member's, else here.
    pub from: MemberDevice,
    pub wrap: Wrap,
}

/// A room's keys as the server hands them to one of its members' devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RoomKeysArray", into = "RoomKeysArray")]
pub struct RoomKeys {
    /// The epoch messages must be sealed with now; 0 when a new one is due
    /// (nobody made one yet, or someone or some device came or went since).
    pub current: u32,
    /// The highest epoch made so far (the next one is this plus one).
    pub latest: u32,
    /// Every device of every member, this one included.
    pub devices: Vec<MemberDevice>,
    /// The epochs' keys wrapped for this device, oldest first.
    pub keys: Vec<EpochKey>,
    /// This person's other devices, each with the epochs this device holds
    /// and it does not: this device wraps them for it ([`SharedKeys`]).
    pub share: Vec<KeyRequest>,
}

/// Epochs another device of the same person lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "KeyRequestArray", into = "KeyRequestArray")]
pub struct KeyRequest {
    pub device: MemberDevice,
    pub epochs: Vec<u32>,
}

/// Epoch keys one device wraps for another device of the same account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SharedKeysArray", into = "SharedKeysArray")]
pub struct SharedKeys {
    pub room: RoomName,
    /// The wrapping device (the caller's).
    pub device: DeviceId,
    pub to: DeviceId,
    /// Each epoch with its key wrapped for `to` (`Wrap::device` is `to`).
    pub keys: Vec<(u32, Wrap)>,
}

/// A new epoch, as the device that made it publishes it: its key wrapped
/// for every device of every member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "NewEpochArray", into = "NewEpochArray")]
pub struct NewEpoch {
    pub room: RoomName,
    pub epoch: u32,
    pub device: DeviceId,
    pub wraps: Vec<Wrap>,
}

/// One epoch key in an account's key backup: the epoch, the IV and the
/// 32-byte key sealed with the backup key (AES-256-GCM, the room and epoch
/// as additional data), in base64. The backup key comes from the person's
/// recovery passphrase (PBKDF2) and never reaches the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackedUpKey(pub u32, pub String, pub String);

impl BackedUpKey {
    pub fn well_formed(&self) -> bool {
        self.0 > 0
            && self.1.len() == 16
            && self.2.len() == 64
            && is_base64(&self.1)
            && is_base64(&self.2)
    }
}

/// An account's key backup as the server hands it back: the PBKDF2 salt
/// (base64 of 16 bytes), a check sealed with the backup key (`IV.CT`, to
/// tell a wrong passphrase at once), and the keys of the private rooms and
/// direct messages the account is still in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBackup(
    pub String,
    pub String,
    pub Vec<(RoomName, Vec<BackedUpKey>)>,
);

/// Whether a new backup's salt and check have their shapes.
pub fn backup_well_formed(salt: &str, check: &str) -> bool {
    let Some((iv, sealed)) = check.split_once('.') else {
        return false;
    };
    salt.len() == 24
        && is_base64(salt)
        && iv.len() == 16
        && is_base64(iv)
        && sealed.len() <= 128
        && is_base64(sealed)
}

/// Starts the signed-in person's key backup afresh (a new passphrase): the
/// salt and check of the new backup key; any older backup is dropped.
#[leptos::server(prefix = "/api", endpoint = "start_key_backup", input = leptos::server_fn::codec::Json)]
pub async fn start_key_backup(
    salt: String,
    check: String,
) -> Result<(), leptos::prelude::ServerFnError> {
    let backend = crate::backend::from_context()?;
    backend
        .start_key_backup(salt, check)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

/// Adds keys of `room` to the signed-in person's key backup (at most
/// [`SHARED_KEYS_MAX`] a call; keys already there are kept as they are).
#[leptos::server(prefix = "/api", endpoint = "back_up_keys", input = leptos::server_fn::codec::Json)]
pub async fn back_up_keys(
    room: RoomName,
    keys: Vec<BackedUpKey>,
) -> Result<(), leptos::prelude::ServerFnError> {
    let backend = crate::backend::from_context()?;
    backend
        .back_up_keys(room, keys)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

/// The signed-in person's key backup, if they made one.
#[leptos::server(prefix = "/api", endpoint = "key_backup", input = leptos::server_fn::codec::Json)]
pub async fn fetch_key_backup() -> Result<Option<KeyBackup>, leptos::prelude::ServerFnError> {
    let backend = crate::backend::from_context()?;
    backend
        .key_backup()
        .await
        .map_err(crate::backend::to_server_fn_error)
}

/// Publishes this browser's device for the signed-in account (again is
/// fine; another device's id is refused).
#[leptos::server(prefix = "/api", endpoint = "publish_device", input = leptos::server_fn::codec::Json)]
pub async fn publish_device(keys: DeviceKeys) -> Result<(), leptos::prelude::ServerFnError> {
    let backend = crate::backend::from_context()?;
    backend
        .publish_device(keys)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

/// `room`'s keys for `device` (one of the signed-in person's).
#[leptos::server(prefix = "/api", endpoint = "room_keys", input = leptos::server_fn::codec::Json)]
pub async fn fetch_room_keys(
    room: RoomName,
    device: DeviceId,
) -> Result<RoomKeys, leptos::prelude::ServerFnError> {
    let backend = crate::backend::from_context()?;
    backend
        .room_keys(room, device)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

/// Publishes a new epoch of `room`'s key; refused (409) if someone made
/// that epoch first, or the devices it is wrapped for are not exactly the
/// members' devices now (the caller asks for the room's keys again).
#[leptos::server(prefix = "/api", endpoint = "new_epoch", input = leptos::server_fn::codec::Json)]
pub async fn publish_epoch(epoch: NewEpoch) -> Result<(), leptos::prelude::ServerFnError> {
    let backend = crate::backend::from_context()?;
    backend
        .new_epoch(epoch)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

/// Hands epoch keys from one of the signed-in person's devices to another
/// of theirs (never to anyone else's).
#[leptos::server(prefix = "/api", endpoint = "share_keys", input = leptos::server_fn::codec::Json)]
pub async fn share_keys(shared: SharedKeys) -> Result<(), leptos::prelude::ServerFnError> {
    let backend = crate::backend::from_context()?;
    backend
        .share_keys(shared)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> DeviceId {
        DeviceId::parse("a1b2c3d4e5f6g7h8").unwrap()
    }

    #[test]
    fn a_sealed_body_reads_back_as_it_was_written() {
        let sealed = Sealed {
            files: false,
            epoch: 3,
            device: device(),
            iv: "AAAAAAAAAAAAAAAA".into(),
            ciphertext: "c2VjcmV0IGFuZCBpdHMgdGFnIGhlcmU=".into(),
        };
        let body = sealed.to_string();
        assert!(body.starts_with("e2e1.3.a1b2c3d4e5f6g7h8."), "{body}");
        assert_eq!(Sealed::parse(&body), Some(sealed.clone()));
        let with_files = Sealed {
            files: true,
            ..sealed
        };
        let body = with_files.to_string();
        assert!(body.starts_with("e2e2.3."), "{body}");
        assert!(is_sealed(&body));
        assert_eq!(Sealed::parse(&body), Some(with_files));
        assert!(!is_sealed("e2e3.3.a1b2c3d4e5f6g7h8.AAAAAAAAAAAAAAAA.c2Vj"));
    }

    #[test]
    fn a_body_with_files_is_bound_to_its_format() {
        let room = RoomName::parse("~abcdefghijklmnopqrst").unwrap();
        assert_eq!(
            body_additional_data(&room, 2, &device(), false),
            additional_data(&room, 2, &device())
        );
        assert_ne!(
            body_additional_data(&room, 2, &device(), true),
            body_additional_data(&room, 2, &device(), false)
        );
    }

    #[test]
    fn a_message_with_files_keeps_every_record_through_json() {
        let file = SealedFile {
            file: Attachment {
                id: MediaId::parse("m1").unwrap(),
                name: "cat.png".into(),
                size: 1234,
                content_type: "image/png".into(),
                kind: MediaKind::Image,
                width: Some(640),
                height: Some(480),
            },
            key: "k".repeat(44),
            iv: "AAAAAAAAAAAAAAAA".into(),
            thumb: Some((MediaId::parse("m2").unwrap(), "BBBBBBBBBBBBBBBB".into())),
        };
        assert!(file.inline());
        assert_eq!(
            file.uploads().map(MediaId::as_str).collect::<Vec<_>>(),
            ["m1", "m2"]
        );
        let content = Content("look".into(), vec![file.clone()]);
        let json = serde_json::to_string(&content).unwrap();
        assert_eq!(serde_json::from_str::<Content>(&json).unwrap(), content);
        // A type the sender claims but the allow list does not show inline
        // is a download, whatever its kind says.
        let mut svg = file;
        svg.file.content_type = "image/svg+xml".into();
        assert!(!svg.inline());
        assert_eq!(svg.shown().kind, MediaKind::File);
    }

    #[test]
    fn plain_text_and_broken_sealed_bodies_are_not_sealed() {
        let good = "e2e1.1.a1b2c3d4e5f6g7h8.AAAAAAAAAAAAAAAA.c2VjcmV0IGFuZCBpdHMgdGFnIGhlcmU=";
        assert!(Sealed::parse(good).is_some());
        for bad in [
            "hello",
            "e2e1.0.a1b2c3d4e5f6g7h8.AAAAAAAAAAAAAAAA.c2VjcmV0IGFuZCBpdHMgdGFnIGhlcmU=",
            "e2e1.1.A1B2C3D4E5F6G7H8.AAAAAAAAAAAAAAAA.c2VjcmV0IGFuZCBpdHMgdGFnIGhlcmU=",
            "e2e1.1.a1b2c3d4e5f6g7h8.AAAA.c2VjcmV0IGFuZCBpdHMgdGFnIGhlcmU=",
            "e2e1.1.a1b2c3d4e5f6g7h8.AAAAAAAAAAAAAAAA.not base64 at all!!",
            "e2e1.1.a1b2c3d4e5f6g7h8.AAAAAAAAAAAAAAAA.c2VjcmV0IGFuZCBpdHMgdGFnIGhlcmU=.more",
            "e2e1.1.a1b2c3d4e5f6g7h8.AAAAAAAAAAAAAAAA.c2Vj",
        ] {
            assert_eq!(Sealed::parse(bad), None, "{bad}");
        }
        let huge = format!("{}{}", &good[..40], "A".repeat(SEALED_MAX_CHARS));
        assert_eq!(Sealed::parse(&huge), None);
    }

    #[test]
    fn a_safety_number_is_sixty_digits_the_same_from_either_side() {
        let halves = |a: &str, b: &str| {
            [
                ("usman".to_owned(), a.to_owned()),
                ("sadia".to_owned(), b.to_owned()),
            ]
        };
        let digest: Vec<u8> = (0u8..32).collect();
        let half = safety_digits(&digest);
        assert_eq!(half.len(), 30);
        assert!(half.bytes().all(|b| b.is_ascii_digit()));
        // 0x0001020304 = 16909060: its last five digits.
        assert_eq!(&half[..5], "09060");
        let other = safety_digits(&[9u8; 32]);
        let seen_by_usman = safety_number(halves(&half, &other));
        let [a, b] = halves(&half, &other);
        let seen_by_sadia = safety_number([b, a]);
        assert_eq!(seen_by_usman, seen_by_sadia);
        assert_eq!(seen_by_usman.split(' ').count(), 12);
        assert!(seen_by_usman.starts_with(&other[..5]), "sadia's half first");
        // Key order does not matter; a key more does.
        assert_eq!(
            safety_input("usman", vec!["k2", "k1"]),
            safety_input("usman", vec!["k1", "k2"])
        );
        assert_ne!(
            safety_input("usman", vec!["k1"]),
            safety_input("usman", vec!["k1", "k2"])
        );
    }

    #[test]
    fn a_device_id_is_sixteen_lowercase_letters_or_digits() {
        assert!(DeviceId::parse("0123456789abcdef").is_some());
        for bad in [
            "0123456789abcde",
            "0123456789abcdeF",
            "0123456789abcde-",
            "",
        ] {
            assert!(DeviceId::parse(bad).is_none(), "{bad}");
        }
    }
}
