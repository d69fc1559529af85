//! Key backup, in the browser: a device whose person turned it on seals
//! every room key it holds with a key made from their recovery passphrase
//! (PBKDF2, never sent) and stores it on the server; a new device given the
//! same passphrase opens them and wraps them for itself, so it reads the
//! history with no other device of theirs online. docs/SECURITY.md says
//! what the server can try with it (guess passphrases, slowly).

use super::crypto::{self, CryptoError};
use super::device::{self, Device, this_device};
use super::{BackedUpKey, KeyBackup, SHARED_KEYS_MAX, SharedKeys, Wrap, additional_data};
use crate::rooms::RoomName;
use std::cell::RefCell;
use web_sys::CryptoKey;

/// What the check of a backup says, sealed with its key.
const CHECK: &[u8] = b"chat key backup v1";
const CHECK_CONTEXT: &[u8] = b"chat key backup check";

/// Why a backup could not be turned on or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Crypto(#[from] CryptoError),
    #[error("the server could not do it; try again")]
    Server,
    #[error("this account has no key backup yet: turn it on from a device that reads the history")]
    NoBackup,
    #[error("that is not this account's recovery passphrase")]
    WrongPassphrase,
}

thread_local! {
    /// The epochs this page put in the backup (or found there), by room.
    static BACKED: RefCell<Vec<(RoomName, u32)>> = const { RefCell::new(Vec::new()) };
}

fn key_context(room: &RoomName, epoch: u32) -> Vec<u8> {
    format!("chat key backup\n{room}\n{epoch}").into_bytes()
}

/// Puts in the backup the keys of `room` this device holds and has not put
/// there yet on this page (none if its person has no backup).
pub(super) async fn back_up(room: &RoomName, device: &Device, keys: &[(u32, CryptoKey)]) {
    let Some(backup) = device.backup.borrow().clone() else {
        return;
    };
    let mut sealed = Vec::new();
    for (epoch, key) in keys {
        let done = BACKED.with_borrow(|b| b.contains(&(room.clone(), *epoch)));
        if done {
            continue;
        }
        let Ok(raw) = crypto::export_raw(key).await else {
            continue;
        };
        if let Ok((iv, key)) = crypto::seal(&backup, &raw, &key_context(room, *epoch)).await {
            sealed.push(BackedUpKey(
                *epoch,
                crypto::to_base64(&iv),
                crypto::to_base64(&key),
            ));
        }
    }
    for keys in sealed.chunks(SHARED_KEYS_MAX) {
        let call = super::BackUpKeys {
            room: room.clone(),
            keys: keys.to_vec(),
        };
        if crate::api::call(&call).await.is_ok() {
            BACKED.with_borrow_mut(|b| b.extend(keys.iter().map(|k| (room.clone(), k.0))));
        }
    }
}

/// Turns key backup on for `account` with `passphrase` (a new backup: one
/// made with an older passphrase is dropped), then backs up the keys of
/// every private room and direct message it is in. How many keys went.
pub async fn turn_on(account: &str, passphrase: &str) -> Result<usize, BackupError> {
    this_device(account).await?;
    let salt = crypto::random::<16>()?;
    let key = crypto::passphrase_key(passphrase, &salt).await?;
    let (iv, check) = crypto::seal(&key, CHECK, CHECK_CONTEXT).await?;
    crate::api::call(&super::StartKeyBackup {
        salt: crypto::to_base64(&salt),
        check: format!("{}.{}", crypto::to_base64(&iv), crypto::to_base64(&check)),
    })
    .await
    .map_err(|_| BackupError::Server)?;
    device::keep_backup_key(account, &key).await?;
    BACKED.with_borrow_mut(Vec::clear);
    let rooms = crate::api::call(&crate::rooms::PrivateRooms {})
        .await
        .unwrap_or_default();
    for room in rooms {
        // Fetching a room's keys backs them up.
        super::keys::forget(&room.room);
        super::keys::refresh(&room.room, account).await;
    }
    Ok(BACKED.with_borrow(Vec::len))
}

/// Opens `account`'s key backup with `passphrase` and wraps every key in
/// it for this device. How many keys it got.
pub async fn restore(account: &str, passphrase: &str) -> Result<usize, BackupError> {
    let device = this_device(account).await?;
    let KeyBackup(salt, check, rooms) = crate::api::call(&super::FetchKeyBackup {})
        .await
        .map_err(|_| BackupError::Server)?
        .ok_or(BackupError::NoBackup)?;
    let salt = crypto::from_base64(&salt).ok_or(BackupError::Server)?;
    let key = crypto::passphrase_key(passphrase, &salt).await?;
    let (iv, sealed) = check.split_once('.').ok_or(BackupError::Server)?;
    let (Some(iv), Some(sealed)) = (crypto::from_base64(iv), crypto::from_base64(sealed)) else {
        return Err(BackupError::Server);
    };
    if crypto::open(&key, &iv, &sealed, CHECK_CONTEXT).await.ok() != Some(CHECK.to_vec()) {
        return Err(BackupError::WrongPassphrase);
    }
    device::keep_backup_key(account, &key).await?;
    let own = crypto::from_base64(&device.keys.agree).ok_or(CryptoError::BadKey)?;
    let me = &device.keys.id;
    let mut restored = 0;
    for (room, keys) in rooms {
        let mut wraps = Vec::new();
        for BackedUpKey(epoch, iv, sealed) in keys {
            let (Some(iv), Some(sealed)) = (crypto::from_base64(&iv), crypto::from_base64(&sealed))
            else {
                continue;
            };
            let Ok(raw) = crypto::open(&key, &iv, &sealed, &key_context(&room, epoch)).await else {
                continue;
            };
            let raw = js_sys::Uint8Array::from(raw.as_slice());
            let room_key = crypto::import_aes(&raw.into(), true).await?;
            let context = additional_data(&room, epoch, me);
            let (iv, wrapped) = crypto::wrap(&room_key, &device.agree, &own, &context).await?;
            wraps.push((
                epoch,
                Wrap {
                    device: me.clone(),
                    iv: crypto::to_base64(&iv),
                    key: crypto::to_base64(&wrapped),
                },
            ));
            BACKED.with_borrow_mut(|b| b.push((room.clone(), epoch)));
        }
        for keys in wraps.chunks(SHARED_KEYS_MAX) {
            // This device hands them to itself: the server keeps them as
            // wrapped for it, and its sockets hear that its keys changed.
            let shared = SharedKeys {
                room: room.clone(),
                device: me.clone(),
                to: me.clone(),
                keys: keys.to_vec(),
            };
            crate::api::call(&super::ShareKeys { shared })
                .await
                .map_err(|_| BackupError::Server)?;
            restored += keys.len();
        }
        super::keys::forget(&room);
    }
    Ok(restored)
}
