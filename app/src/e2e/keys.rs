//! Each encrypted room's keys as this device holds them: fetched from the
//! server wrapped, unwrapped here, kept for the page's life. Sealing a
//! message makes a new epoch first when the server says one is due (nobody
//! made one, or someone or some device came or went since); opening one
//! finds its epoch's key, or says it is not here yet.

use super::crypto::{self, CryptoError};
use super::device::{Device, this_device};
use super::{
    Content, DeviceKeys, EpochKey, MemberDevice, NewEpoch, Opened, RoomKeys, Sealed, SealedFile,
    Wrap, additional_data, body_additional_data,
};
use crate::messages::MessageBody;
use crate::rooms::RoomName;
use std::cell::RefCell;
use std::rc::Rc;
use web_sys::CryptoKey;

/// Why a message could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("{0}")]
    Crypto(#[from] CryptoError),
    #[error("the server did not hand over this room's keys; try again")]
    Server,
}

struct Keyring {
    room: RoomName,
    current: u32,
    latest: u32,
    devices: Vec<MemberDevice>,
    keys: Vec<(u32, CryptoKey)>,
    /// The epochs made (or handed over) by a device the server lists now
    /// as a member's: only these are sealed with. An epoch from a device
    /// nobody was told of (one the server made up) opens what it sealed,
    /// but this device never seals with it.
    sealable: Vec<u32>,
}

impl Keyring {
    fn key(&self, epoch: u32) -> Option<&CryptoKey> {
        self.keys.iter().find(|(e, _)| *e == epoch).map(|(_, k)| k)
    }
}

thread_local! {
    /// What to tell about rooms' devices (a new one of someone's), by room.
    static NEWS: RefCell<Vec<(RoomName, String)>> = const { RefCell::new(Vec::new()) };
    static RINGS: RefCell<Vec<Rc<Keyring>>> = const { RefCell::new(Vec::new()) };
    /// One fetch at a time: a page opening fifty sealed messages asks the
    /// server for the room's keys once.
    static FETCHING: Rc<futures::lock::Mutex<()>> = Rc::new(futures::lock::Mutex::new(()));
}

fn cached(room: &RoomName) -> Option<Rc<Keyring>> {
    RINGS.with_borrow(|r| r.iter().find(|k| k.room == *room).cloned())
}

/// Drops what this page holds of `room`'s keys: the next seal or open asks
/// the server again (after it refused a message for a stale epoch).
pub fn forget(room: &RoomName) {
    RINGS.with_borrow_mut(|r| r.retain(|k| k.room != *room));
}

/// Whether the server's record of a device is signed by that device's own
/// signing key: one with a swapped key agreement key gets nothing wrapped.
async fn genuine(device: &MemberDevice) -> bool {
    let keys = &device.keys;
    let (Some(sign), Some(signature)) = (
        crypto::from_base64(&keys.sign),
        crypto::from_base64(&keys.signature),
    ) else {
        return false;
    };
    let signed = DeviceKeys::signed_bytes(device.account.as_str(), &keys.id, &keys.agree);
    crypto::verify(&sign, &signature, &signed)
        .await
        .unwrap_or(false)
}

async fn unwrap_epoch(room: &RoomName, device: &Device, key: &EpochKey) -> Option<CryptoKey> {
    if !genuine(&key.from).await {
        return None;
    }
    let public = crypto::from_base64(&key.from.keys.agree)?;
    let iv = crypto::from_base64(&key.wrap.iv)?;
    let wrapped = crypto::from_base64(&key.wrap.key)?;
    let context = additional_data(room, key.epoch, &device.keys.id);
    crypto::unwrap(&wrapped, &iv, &device.agree, &public, &context)
        .await
        .ok()
}

/// `room`'s keys as the server has them for this device, unwrapped.
async fn fetch(room: &RoomName, device: &Device) -> Result<Rc<Keyring>, SealError> {
    let state: RoomKeys = crate::api::call(&super::FetchRoomKeys {
        room: room.clone(),
        device: device.keys.id.clone(),
    })
    .await
    .map_err(|_| SealError::Server)?;
    let mut keys = Vec::new();
    let mut sealable = Vec::new();
    for key in &state.keys {
        if let Some(unwrapped) = unwrap_epoch(room, device, key).await {
            keys.push((key.epoch, unwrapped));
            let listed = state.devices.iter().any(|d| d.keys == key.from.keys);
            if listed {
                sealable.push(key.epoch);
            }
        }
    }
    announce_new_devices(room, &state.devices, device);
    share(room, device, &state, &keys).await;
    super::backup::back_up(room, device, &keys).await;
    let ring = Rc::new(Keyring {
        room: room.clone(),
        current: state.current,
        latest: state.latest,
        devices: state.devices,
        keys,
        sealable,
    });
    RINGS.with_borrow_mut(|r| {
        r.retain(|k| k.room != *room);
        r.push(ring.clone());
    });
    Ok(ring)
}

/// Wraps for this person's other devices the epochs they lack and this one
/// holds: how a second browser reads what was said before it appeared.
async fn share(room: &RoomName, device: &Device, state: &RoomKeys, keys: &[(u32, CryptoKey)]) {
    for request in &state.share {
        if !genuine(&request.device).await {
            continue;
        }
        let Some(public) = crypto::from_base64(&request.device.keys.agree) else {
            continue;
        };
        let to = &request.device.keys.id;
        let mut wrapped = Vec::new();
        for (epoch, key) in keys.iter().filter(|(e, _)| request.epochs.contains(e)) {
            let context = additional_data(room, *epoch, to);
            if let Ok((iv, wrap)) = crypto::wrap(key, &device.agree, &public, &context).await {
                let wrap = Wrap {
                    device: to.clone(),
                    iv: crypto::to_base64(&iv),
                    key: crypto::to_base64(&wrap),
                };
                wrapped.push((*epoch, wrap));
            }
        }
        for keys in wrapped.chunks(super::SHARED_KEYS_MAX) {
            let shared = super::SharedKeys {
                room: room.clone(),
                device: device.keys.id.clone(),
                to: to.clone(),
                keys: keys.to_vec(),
            };
            let _ = crate::api::call(&super::ShareKeys { shared }).await;
        }
    }
}

/// Fetches `room`'s keys again now (sharing what this person's other
/// devices lack).
pub async fn refresh(room: &RoomName, account: &str) {
    if let Ok(device) = this_device(account).await {
        let _ = fetch(room, &device).await;
    }
}

/// Notes "NAME added a new device" for each device in `room` this browser
/// has not seen there before (none the first time it looks): a device the
/// server added behind someone's back is announced like a real one.
fn announce_new_devices(room: &RoomName, devices: &[MemberDevice], mine: &Device) {
    // A device is its id and its signing key: new keys under a known id
    // are a new device too.
    let seen_as = |d: &MemberDevice| format!("{}:{}", d.keys.id, d.keys.sign);
    let now: Vec<String> = devices.iter().map(seen_as).collect();
    if let Some(seen) = crate::storage::seen_devices(room) {
        for device in devices {
            let id = seen_as(device);
            if device.keys.id == mine.keys.id || seen.contains(&id) {
                continue;
            }
            let news = format!("{} added a new device", device.account);
            NEWS.with_borrow_mut(|n| n.push((room.clone(), news)));
        }
    }
    let ids: Vec<&str> = now.iter().map(String::as_str).collect();
    crate::storage::set_seen_devices(room, &ids);
}

/// What there is to tell about `room`'s devices since last asked.
pub fn take_news(room: &RoomName) -> Vec<String> {
    NEWS.with_borrow_mut(|n| {
        let (mine, rest): (Vec<_>, Vec<_>) = n.drain(..).partition(|(r, _)| r == room);
        *n = rest;
        mine.into_iter().map(|(_, news)| news).collect()
    })
}

/// The safety number between `account` (on this device) and `with` in
/// `room`, from the devices the server lists for them now: the same digits
/// on both sides unless someone's keys were swapped.
pub async fn safety_number(
    room: &RoomName,
    account: &str,
    with: &crate::people::Nick,
) -> Result<String, SealError> {
    let device = this_device(account).await?;
    let ring = fetch(room, &device).await?;
    let mut halves = Vec::new();
    for name in [account, with.as_str()] {
        let keys: Vec<&str> = ring
            .devices
            .iter()
            .filter(|d| d.account.as_str() == name)
            .map(|d| d.keys.sign.as_str())
            .collect();
        let digest = crypto::sha256(&super::safety_input(name, keys)).await?;
        halves.push((name.to_owned(), super::safety_digits(&digest)));
    }
    let [a, b]: [(String, String); 2] = halves.try_into().map_err(|_| SealError::Server)?;
    Ok(super::safety_number([a, b]))
}

/// The cached ring if it can serve `wanted` (an epoch, or the current one
/// when `None`), else a fresh one from the server.
async fn ring(
    room: &RoomName,
    device: &Device,
    wanted: Option<u32>,
) -> Result<Rc<Keyring>, SealError> {
    let lock = FETCHING.with(Rc::clone);
    let _one_at_a_time = lock.lock().await;
    if let Some(ring) = cached(room) {
        let serves = match wanted {
            // An epoch made after the ring was fetched may be there now.
            Some(epoch) => epoch <= ring.latest,
            None => ring.sealable.contains(&ring.current),
        };
        if serves {
            return Ok(ring);
        }
    }
    fetch(room, device).await
}

/// Makes epoch `latest + 1`: a new room key wrapped for every genuine
/// device of every member. Someone else making it first is fine: the caller
/// fetches the room's keys again either way.
async fn new_epoch(room: &RoomName, device: &Device, ring: &Keyring) -> Result<(), SealError> {
    let epoch = ring.latest + 1;
    let key = crypto::room_key().await?;
    let mut wraps = Vec::new();
    for member in &ring.devices {
        if !genuine(member).await {
            continue;
        }
        let Some(public) = crypto::from_base64(&member.keys.agree) else {
            continue;
        };
        let context = additional_data(room, epoch, &member.keys.id);
        let (iv, wrapped) = crypto::wrap(&key, &device.agree, &public, &context).await?;
        wraps.push(Wrap {
            device: member.keys.id.clone(),
            iv: crypto::to_base64(&iv),
            key: crypto::to_base64(&wrapped),
        });
    }
    let _ = crate::api::call(&super::PublishEpoch {
        epoch: NewEpoch {
            room: room.clone(),
            epoch,
            device: device.keys.id.clone(),
            wraps,
        },
    })
    .await;
    Ok(())
}

/// `body` (with the records of `files`, if it carries any) sealed for
/// `room` with its current epoch's key, as `account`'s device on this
/// browser (making the device, and a new epoch, if due).
pub async fn seal(
    room: &RoomName,
    account: &str,
    body: &MessageBody,
    files: &[SealedFile],
) -> Result<MessageBody, SealError> {
    let device = this_device(account).await?;
    let mut ring = ring(room, &device, None).await?;
    // Twice at most: a new epoch, then (if someone else's won) theirs.
    for _ in 0..2 {
        if ring.current > 0 && ring.sealable.contains(&ring.current) {
            break;
        }
        new_epoch(room, &device, &ring).await?;
        ring = fetch(room, &device).await?;
    }
    let key = ring.key(ring.current).ok_or(SealError::Server)?;
    let files_in = !files.is_empty();
    let context = body_additional_data(room, ring.current, &device.keys.id, files_in);
    let plain = if files.is_empty() {
        body.as_str().to_owned()
    } else {
        serde_json::to_string(&Content(body.as_str().to_owned(), files.to_vec()))
            .map_err(|_| SealError::Server)?
    };
    let (iv, ciphertext) = crypto::seal(key, plain.as_bytes(), &context).await?;
    let sealed = Sealed {
        files: files_in,
        epoch: ring.current,
        device: device.keys.id.clone(),
        iv: crypto::to_base64(&iv),
        ciphertext: crypto::to_base64(&ciphertext),
    };
    MessageBody::parse(&sealed.to_string()).map_err(|_| SealError::Server)
}

/// What `sealed` (said in `room`) reads as on `account`'s device here.
pub async fn open(room: &RoomName, account: &str, sealed: &Sealed) -> Opened {
    let Ok(device) = this_device(account).await else {
        return Opened::Waiting;
    };
    let Ok(ring) = ring(room, &device, Some(sealed.epoch)).await else {
        return Opened::Waiting;
    };
    let Some(key) = ring.key(sealed.epoch) else {
        return Opened::Waiting;
    };
    let (Some(iv), Some(ciphertext)) = (
        crypto::from_base64(&sealed.iv),
        crypto::from_base64(&sealed.ciphertext),
    ) else {
        return Opened::Broken;
    };
    let context = body_additional_data(room, sealed.epoch, &sealed.device, sealed.files);
    match crypto::open(key, &iv, &ciphertext, &context).await {
        // `from_str`, not `from_slice`: one JSON reader in the bundle, not two.
        Ok(plain) => match (String::from_utf8(plain), sealed.files) {
            (Ok(json), true) => serde_json::from_str::<Content>(&json)
                .map_or(Opened::Broken, |Content(text, files)| {
                    Opened::Files(text, files)
                }),
            (Ok(text), false) => Opened::Text(text),
            (Err(_), _) => Opened::Broken,
        },
        Err(_) => Opened::Broken,
    }
}
