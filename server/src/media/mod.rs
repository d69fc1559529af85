//! Pictures, videos and files: uploads checked and stored so they can never
//! run script on the chat's origin, then served to the room's members.
//!
//! An upload's path: the browser `POST`s the bytes with the media key its
//! room's `Joined` frame granted ([`Media::grant`]); [`Media::receive`]
//! streams them to a temporary file (never whole in memory) under the size
//! and daily limits, decides the type from the bytes, makes pictures safe
//! ([`inspect`]), keeps the result in the blob store under its content
//! address ([`blobs`]) and records an upload row with a random public id. A
//! `send` naming that id attaches it (the store checks it is the sender's
//! unsent upload to the room). Deleting the message deletes its rows; the
//! janitor ([`Media::sweep`]) deletes blobs nothing refers to any more.
//!
//! - [`blobs`]: the blob store seam (a directory, or an S3-compatible bucket).
//! - [`inspect`]: sniffing, the allow list, picture decoding and thumbnails.
//! - [`routes`]: the upload endpoint and the media responses (headers, ranges).

pub mod blobs;
pub mod inspect;
pub mod routes;

use crate::accounts::cookie::hex;
use crate::store::{Author, MediaRow, Member, Store, StoreError, now_ms};
use app::media::{Attachment, MediaGrant, MediaKind, human_size};
pub use blobs::Blobs;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// An upload that sends nothing for this long is dropped (a half-sent
/// request must not hold a slot forever).
const STALL: Duration = Duration::from_secs(30);

/// Uploads never sent in a message are deleted after a day.
const UNSENT_KEPT_MS: i64 = 24 * 60 * 60 * 1000;

/// How often the janitor looks for blobs to delete.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// How long an upload waits for a free picture decoder before it is told
/// the server is busy (a huge picture can hold one for seconds).
const DECODE_WAIT: Duration = Duration::from_secs(10);

/// What uploads may be and where they go, from the flags.
#[derive(Debug, Clone)]
pub struct MediaPolicy {
    pub store: String,
    pub max_bytes: u64,
    pub daily_bytes: u64,
    pub address_daily_bytes: u64,
    /// Guests of one address together (a guest's own budget starts over
    /// with each new tab).
    pub guest_address_daily_bytes: u64,
    /// The blob store's size in all; 0: no cap.
    pub store_max_bytes: u64,
    pub uploads_per_address: usize,
    pub max_pixels: u64,
    pub types: Vec<String>,
}

/// Failures of the media machinery; the detail goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("cannot open the media store {location}: {source}")]
    OpenStore {
        location: String,
        source: object_store::Error,
    },
    #[error("cannot create the media directory {location}: {source}")]
    CreateDir {
        location: String,
        source: std::io::Error,
    },
    #[error("media store error: {0}")]
    Blob(#[from] object_store::Error),
    #[error("media file error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such blob")]
    NotFound,
}

/// Why an upload was refused; the text is for the person who sent it.
#[derive(Debug, thiserror::Error)]
pub enum UploadRefusal {
    #[error("Join the room before sharing files in it")]
    NotMember,
    #[error("The file needs a name")]
    NoName,
    #[error("{name} is larger than the {} limit for one file", human_size(*max))]
    TooLarge { name: String, max: u64 },
    #[error("You have shared {} of files today, the most one person may; try again tomorrow", human_size(*limit))]
    DailyLimit { limit: u64 },
    #[error("Your network address has shared {} of files today, the most it may; try again tomorrow", human_size(*limit))]
    AddressDailyLimit { limit: u64 },
    #[error("Guests on your network address have shared {} of files today, the most they may; log in to share more, or try again tomorrow", human_size(*limit))]
    GuestAddressDailyLimit { limit: u64 },
    #[error("Too many uploads at once from your network address; wait for one to finish")]
    TooManyAtOnce,
    #[error("The server is busy with other pictures; try again in a moment")]
    Busy,
    #[error("The server's file store is full; ask its operator to make room")]
    StoreFull,
    #[error("Files of type {0} cannot be shared here")]
    TypeNotAllowed(String),
    #[error(transparent)]
    Picture(#[from] inspect::PictureRefusal),
    #[error("The upload stalled; try again")]
    Stalled,
    #[error("The upload was cut off before the end")]
    CutOff,
    #[error("The file could not be stored right now; try again in a moment")]
    Internal,
}

/// One address's uploads: in progress now, and bytes today (in all, and
/// by its guests).
struct AddressUse {
    in_flight: usize,
    /// The address's turn to decode a picture: one at a time each, so one
    /// address cannot take every decoder (the others wait their turn).
    turn: Arc<Semaphore>,
    day: i64,
    bytes: u64,
    guest_bytes: u64,
}

impl Default for AddressUse {
    fn default() -> Self {
        Self {
            in_flight: 0,
            turn: Arc::new(Semaphore::new(1)),
            day: 0,
            bytes: 0,
            guest_bytes: 0,
        }
    }
}

impl AddressUse {
    /// Nothing to remember: no upload, no bytes today, nobody holding or
    /// waiting for the turn (a decode outlives its request).
    fn idle(&self) -> bool {
        self.in_flight == 0 && self.bytes == 0 && Arc::strong_count(&self.turn) == 1
    }
}

struct Inner {
    store: Store,
    blobs: Blobs,
    policy: MediaPolicy,
    /// Pictures decode one per core at most: each can take hundreds of MB.
    decoding: Arc<Semaphore>,
    /// By [`crate::peers::address_key`] (an IPv6 /64 is one address).
    addresses: Mutex<HashMap<IpAddr, AddressUse>>,
}

/// The media service every connection and route shares.
#[derive(Clone)]
pub struct Media(Arc<Inner>);

/// An address's place among its in-progress uploads, given back on drop.
struct Slot {
    media: Media,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut addresses = self.media.0.addresses.lock().expect("address lock");
        if let Some(used) = addresses.get_mut(&self.ip) {
            used.in_flight = used.in_flight.saturating_sub(1);
            if used.idle() {
                addresses.remove(&self.ip);
            }
        }
    }
}

/// A fresh random token: 128 bits, hex.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    hex(&bytes)
}

impl Media {
    pub fn open(policy: MediaPolicy, store: Store) -> Result<Self, MediaError> {
        let blobs = Blobs::open(&policy.store)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self(Arc::new(Inner {
            store,
            blobs,
            policy,
            decoding: Arc::new(Semaphore::new(cores.clamp(1, 4))),
            addresses: Mutex::new(HashMap::new()),
        })))
    }

    pub fn blobs(&self) -> &Blobs {
        &self.0.blobs
    }

    pub fn policy(&self) -> &MediaPolicy {
        &self.0.policy
    }

    /// What joining room `room_id` grants `author` for its media.
    pub async fn grant(&self, room_id: i64, author: &Author) -> Result<MediaGrant, StoreError> {
        let key = self
            .0
            .store
            .member_key(room_id, author, &random_token())
            .await?;
        Ok(MediaGrant {
            key,
            max_bytes: self.0.policy.max_bytes,
        })
    }

    /// The file shared under `id`, if it is still there.
    pub async fn file(&self, id: &app::media::MediaId) -> Result<Option<MediaRow>, StoreError> {
        self.0.store.media(id.as_str()).await
    }

    /// The member `key` belongs to.
    pub async fn member(&self, key: &str) -> Result<Option<Member>, StoreError> {
        if key.is_empty() || key.len() > 64 {
            return Ok(None);
        }
        self.0.store.member_by_key(key).await
    }

    /// Takes one of `ip`'s upload slots, and checks its bytes today (and
    /// its guests', for a guest).
    fn take_slot(&self, ip: IpAddr, guest: bool) -> Result<Slot, UploadRefusal> {
        let policy = &self.0.policy;
        let today = now_ms() / DAY_MS;
        let ip = crate::peers::address_key(ip);
        let mut addresses = self.0.addresses.lock().expect("address lock");
        let used = addresses.entry(ip).or_default();
        if used.day != today {
            used.day = today;
            used.bytes = 0;
            used.guest_bytes = 0;
        }
        if guest && used.guest_bytes >= policy.guest_address_daily_bytes {
            return Err(UploadRefusal::GuestAddressDailyLimit {
                limit: policy.guest_address_daily_bytes,
            });
        }
        if used.in_flight >= policy.uploads_per_address {
            return Err(UploadRefusal::TooManyAtOnce);
        }
        if used.bytes >= policy.address_daily_bytes {
            return Err(UploadRefusal::AddressDailyLimit {
                limit: policy.address_daily_bytes,
            });
        }
        used.in_flight += 1;
        Ok(Slot {
            media: self.clone(),
            ip,
        })
    }

    fn count_address_bytes(&self, ip: IpAddr, bytes: u64, guest: bool) {
        let mut addresses = self.0.addresses.lock().expect("address lock");
        if let Some(used) = addresses.get_mut(&crate::peers::address_key(ip)) {
            used.bytes = used.bytes.saturating_add(bytes);
            if guest {
                used.guest_bytes = used.guest_bytes.saturating_add(bytes);
            }
        }
    }

    /// `ip`'s turn to decode pictures.
    fn turn(&self, ip: IpAddr) -> Arc<Semaphore> {
        let mut addresses = self.0.addresses.lock().expect("address lock");
        let used = addresses.entry(crate::peers::address_key(ip)).or_default();
        used.turn.clone()
    }

    /// Decodes the picture at `path` once a decoder is free and `ip` has no
    /// other picture decoding (several dropped at once take turns), waiting
    /// at most [`DECODE_WAIT`] in all. The decoder and the address's turn
    /// are held by the decoding itself, not the request: a request dropped
    /// midway does not free them while the decoder still runs.
    async fn decode(
        &self,
        ip: IpAddr,
        path: std::path::PathBuf,
        mime: String,
    ) -> Result<inspect::Picture, UploadRefusal> {
        let turn = self.turn(ip);
        let decoders = self.0.decoding.clone();
        let waited = tokio::time::timeout(DECODE_WAIT, async move {
            let turn = turn.acquire_owned().await?;
            let decoder = decoders.acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>((turn, decoder))
        })
        .await;
        let held = match waited {
            Ok(Ok(held)) => held,
            Ok(Err(err)) => return Err(internal(err)),
            Err(_) => return Err(UploadRefusal::Busy),
        };
        let max_pixels = self.0.policy.max_pixels;
        let started = std::time::Instant::now();
        let picture = tokio::task::spawn_blocking(move || {
            let _held = held;
            inspect::picture(&path, &mime, max_pixels)
        })
        .await
        .map_err(internal)??;
        tracing::debug!(elapsed = ?started.elapsed(), "picture processed");
        Ok(picture)
    }

    /// Receives one upload from `ip` by `member`, named `name` (cleaned
    /// already), whose request announced `length` bytes. A `sealed` one is
    /// ciphertext from an encrypted conversation: kept as opaque bytes,
    /// never sniffed or decoded. Over a limit, nothing is kept.
    pub async fn receive<S, E>(
        &self,
        ip: IpAddr,
        member: &Member,
        name: String,
        sealed: bool,
        length: Option<u64>,
        body: S,
    ) -> Result<Attachment, UploadRefusal>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let policy = &self.0.policy;
        if length.is_some_and(|l| l > policy.max_bytes) {
            return Err(UploadRefusal::TooLarge {
                name,
                max: policy.max_bytes,
            });
        }
        let guest = !Author::from_column(&member.author).is_some_and(|a| a.is_account());
        let _slot = self.take_slot(ip, guest)?;
        if policy.store_max_bytes > 0 {
            let held = self.0.store.media_bytes().await.map_err(internal)?.max(0) as u64;
            if held.saturating_add(length.unwrap_or(0)) >= policy.store_max_bytes {
                tracing::warn!(
                    held,
                    cap = policy.store_max_bytes,
                    "the media store is full"
                );
                return Err(UploadRefusal::StoreFull);
            }
        }
        let since = now_ms() - DAY_MS;
        let used = self
            .0
            .store
            .uploaded_since(&member.author, since)
            .await
            .map_err(internal)?
            .max(0) as u64;
        if used >= policy.daily_bytes || length.is_some_and(|l| used + l > policy.daily_bytes) {
            return Err(UploadRefusal::DailyLimit {
                limit: policy.daily_bytes,
            });
        }
        let room = policy.daily_bytes - used;
        let (file, hash, size) =
            receive_to_file(body, policy.max_bytes, room, policy.daily_bytes, &name).await?;
        let (mime, kind) = if sealed {
            (app::media::SEALED_TYPE.to_owned(), MediaKind::File)
        } else {
            let mut head = vec![0u8; 8192];
            let mut opened = tokio::fs::File::open(file.path()).await.map_err(internal)?;
            let mut read = 0;
            while read < head.len() {
                match opened.read(&mut head[read..]).await.map_err(internal)? {
                    0 => break,
                    n => read += n,
                }
            }
            head.truncate(read);
            inspect::sniff(&head)
        };
        if !sealed && !inspect::allowed(&mime, &policy.types) {
            return Err(UploadRefusal::TypeNotAllowed(mime));
        }
        let blobs = &self.0.blobs;
        let (blob, thumb, content_type, size, width, height) = match kind {
            MediaKind::Image => {
                let picture = self
                    .decode(ip, file.path().to_owned(), mime.clone())
                    .await?;
                let thumb = match picture.thumb {
                    Some(thumb) => {
                        let address = content_address(&thumb);
                        blobs.put_bytes(&address, thumb).await.map_err(internal)?;
                        Some(address)
                    }
                    None => None,
                };
                let (blob, stored) = match picture.bytes {
                    Some(bytes) => {
                        let (address, len) = (content_address(&bytes), bytes.len() as u64);
                        blobs.put_bytes(&address, bytes).await.map_err(internal)?;
                        (address, len)
                    }
                    None => {
                        blobs.put_file(&hash, file.path()).await.map_err(internal)?;
                        (hash, size)
                    }
                };
                (
                    blob,
                    thumb,
                    picture.content_type.to_owned(),
                    stored,
                    Some(picture.width),
                    Some(picture.height),
                )
            }
            MediaKind::Video | MediaKind::File => {
                blobs.put_file(&hash, file.path()).await.map_err(internal)?;
                (hash, None, mime, size, None, None)
            }
        };
        drop(file);
        let public_id = random_token();
        let row = MediaRow {
            public_id: public_id.clone(),
            room_id: member.room_id,
            uploader: member.author.clone(),
            blob,
            thumb,
            name: name.clone(),
            content_type: content_type.clone(),
            kind,
            size: size as i64,
            width: width.map(|w| w as i32),
            height: height.map(|h| h as i32),
            created_at: now_ms(),
            seq: None,
        };
        self.0.store.insert_media(&row).await.map_err(internal)?;
        self.count_address_bytes(ip, size, guest);
        row.attachment()
            .ok_or_else(|| internal("a fresh media id is not a token"))
    }

    /// Deletes the blobs that lost their last upload (and uploads never
    /// sent within a day); how many blobs went.
    pub async fn sweep(&self) -> Result<usize, MediaError> {
        let store = &self.0.store;
        store.expire_unsent(now_ms() - UNSENT_KEPT_MS).await?;
        let mut deleted = 0;
        for blob in store.orphans(100).await? {
            if !store.blob_in_use(&blob).await? {
                self.0.blobs.delete(&blob).await?;
                deleted += 1;
            }
            store.forget_orphan(&blob).await?;
        }
        Ok(deleted)
    }

    /// Sweeps every couple of seconds for as long as the server runs.
    pub fn keep_sweeping(&self) {
        let media = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(err) = media.sweep().await {
                    tracing::warn!(%err, "media sweep failed; trying again soon");
                }
            }
        });
    }
}

/// Logs an internal failure; the person is told only that it failed.
fn internal(err: impl std::fmt::Display) -> UploadRefusal {
    tracing::error!(%err, "an upload failed");
    UploadRefusal::Internal
}

impl From<MediaError> for UploadRefusal {
    fn from(err: MediaError) -> Self {
        internal(err)
    }
}

/// The content address of `bytes`.
fn content_address(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Writes `body` to a temporary file, hashing as it goes; refused past
/// `max` bytes, past `room` (what is left of the day's allowance), or when
/// the sender stalls.
async fn receive_to_file<S, E>(
    mut body: S,
    max: u64,
    room: u64,
    daily: u64,
    name: &str,
) -> Result<(tempfile::NamedTempFile, String, u64), UploadRefusal>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file = tempfile::NamedTempFile::new().map_err(internal)?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(internal)?);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    loop {
        let chunk = match tokio::time::timeout(STALL, body.next()).await {
            Err(_) => return Err(UploadRefusal::Stalled),
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                tracing::debug!(%err, "an upload was cut off");
                return Err(UploadRefusal::CutOff);
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        size += chunk.len() as u64;
        if size > max {
            return Err(UploadRefusal::TooLarge {
                name: name.to_owned(),
                max,
            });
        }
        if size > room {
            return Err(UploadRefusal::DailyLimit { limit: daily });
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    out.sync_all().await.map_err(internal)?;
    Ok((file, hex(&hasher.finalize()), size))
}
