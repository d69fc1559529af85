//! This browser's device for the signed-in account: its key pairs, made
//! once and kept in IndexedDB (a `CryptoKey` is stored as the opaque object
//! it is, so a non-extractable private key never becomes bytes), and its
//! public record published to the server. IndexedDB is reached through
//! `web-sys` with a small promise bridge: the wrapper crates bring more
//! code to the bundle than the three calls used here.

use super::crypto::{self, CryptoError};
use super::{DeviceId, DeviceKeys};
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, IdbDatabase, IdbRequest, IdbTransactionMode};

const DATABASE: &str = "chat-e2e";
const DEVICES: &str = "devices";

/// This device: its public record and its two private keys.
pub struct Device {
    pub keys: DeviceKeys,
    /// ECDH: unwraps the room keys wrapped for this device, wraps new ones.
    pub agree: CryptoKey,
    /// The account's key backup key, once this device turned backup on or
    /// restored from it (see `super::backup`).
    pub backup: RefCell<Option<CryptoKey>>,
}

thread_local! {
    /// The device once loaded (or made) on this page, by account name.
    static LOADED: RefCell<Option<(String, Rc<Device>)>> = const { RefCell::new(None) };
    /// One load at a time: the sidebar and every sealed message of a page
    /// ask at once, and two makes would publish two devices.
    static LOADING: Rc<futures::lock::Mutex<()>> = Rc::new(futures::lock::Mutex::new(()));
}

/// Waits for an IndexedDB request; its result.
async fn finished(request: &IdbRequest) -> Result<JsValue, CryptoError> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let ok = Closure::once_into_js(move || resolve.call0(&JsValue::NULL));
        let failed = Closure::once_into_js(move || reject.call0(&JsValue::NULL));
        request.set_onsuccess(Some(ok.unchecked_ref()));
        request.set_onerror(Some(failed.unchecked_ref()));
    });
    JsFuture::from(promise)
        .await
        .map_err(|_| CryptoError::Unavailable)?;
    request.result().map_err(|_| CryptoError::Unavailable)
}

async fn database() -> Result<IdbDatabase, CryptoError> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or(CryptoError::Unavailable)?;
    let opening = factory
        .open_with_u32(DATABASE, 1)
        .map_err(|_| CryptoError::Unavailable)?;
    let upgrading = opening.clone();
    let upgrade = Closure::once_into_js(move || {
        if let Ok(db) = upgrading.result() {
            let db: IdbDatabase = db.unchecked_into();
            let _ = db.create_object_store(DEVICES);
        }
    });
    opening.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
    Ok(finished(&opening).await?.unchecked_into())
}

fn field(record: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(record, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined())
}

fn text(record: &JsValue, name: &str) -> Option<String> {
    field(record, name)?.as_string()
}

async fn load(db: &IdbDatabase, account: &str) -> Result<Option<Device>, CryptoError> {
    let store = db
        .transaction_with_str(DEVICES)
        .and_then(|t| t.object_store(DEVICES))
        .map_err(|_| CryptoError::Unavailable)?;
    let request = store
        .get(&JsValue::from_str(account))
        .map_err(|_| CryptoError::Unavailable)?;
    let record = finished(&request).await?;
    if record.is_undefined() {
        return Ok(None);
    }
    let keys = DeviceKeys {
        id: text(&record, "id")
            .and_then(|id| DeviceId::parse(&id))
            .ok_or(CryptoError::BadKey)?,
        agree: text(&record, "agreePublic").ok_or(CryptoError::BadKey)?,
        sign: text(&record, "signPublic").ok_or(CryptoError::BadKey)?,
        signature: text(&record, "signature").ok_or(CryptoError::BadKey)?,
    };
    let agree = field(&record, "agree")
        .ok_or(CryptoError::BadKey)?
        .unchecked_into();
    let backup = field(&record, "backup").map(JsCast::unchecked_into);
    Ok(Some(Device {
        keys,
        agree,
        backup: RefCell::new(backup),
    }))
}

fn new_id() -> Result<DeviceId, CryptoError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let id: String = crypto::random::<{ super::DEVICE_ID_CHARS }>()?
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    Ok(DeviceId::parse(&id).expect("made to the rule"))
}

async fn make(db: &IdbDatabase, account: &str) -> Result<Device, CryptoError> {
    let agree = crypto::agreement_pair().await?;
    let sign = crypto::signing_pair().await?;
    let id = new_id()?;
    let agree_public = crypto::to_base64(&agree.public);
    let signature = crypto::sign(
        &sign.private,
        &DeviceKeys::signed_bytes(account, &id, &agree_public),
    )
    .await?;
    let keys = DeviceKeys {
        id,
        agree: agree_public,
        sign: crypto::to_base64(&sign.public),
        signature: crypto::to_base64(&signature),
    };
    let record = Object::new();
    for (name, value) in [
        ("id", JsValue::from_str(keys.id.as_str())),
        ("agreePublic", JsValue::from_str(&keys.agree)),
        ("signPublic", JsValue::from_str(&keys.sign)),
        ("signature", JsValue::from_str(&keys.signature)),
        ("agree", agree.private.clone().into()),
        ("sign", sign.private.into()),
    ] {
        let _ = Reflect::set(&record, &JsValue::from_str(name), &value);
    }
    let store = db
        .transaction_with_str_and_mode(DEVICES, IdbTransactionMode::Readwrite)
        .and_then(|t| t.object_store(DEVICES))
        .map_err(|_| CryptoError::Unavailable)?;
    let request = store
        .put_with_key(&record, &JsValue::from_str(account))
        .map_err(|_| CryptoError::Unavailable)?;
    finished(&request).await?;
    Ok(Device {
        keys,
        agree: agree.private,
        backup: RefCell::new(None),
    })
}

/// This browser's device for `account`, made (and kept) the first time,
/// published to the server once per page.
pub async fn this_device(account: &str) -> Result<Rc<Device>, CryptoError> {
    let lock = LOADING.with(Rc::clone);
    let _one_at_a_time = lock.lock().await;
    let loaded = LOADED.with_borrow(|l| {
        l.as_ref()
            .filter(|(name, _)| name == account)
            .map(|(_, d)| d.clone())
    });
    if let Some(device) = loaded {
        return Ok(device);
    }
    let db = database().await?;
    let device = match load(&db, account).await? {
        Some(device) => device,
        None => make(&db, account).await?,
    };
    let published = crate::api::call(&super::PublishDevice {
        keys: device.keys.clone(),
    })
    .await;
    if published.is_err() {
        return Err(CryptoError::Unavailable);
    }
    let device = Rc::new(device);
    LOADED.with_borrow_mut(|l| *l = Some((account.to_owned(), device.clone())));
    Ok(device)
}

/// Keeps `key` (a key backup's, non-extractable) with `account`'s device
/// here: it seals each room key this device learns into the backup.
pub async fn keep_backup_key(account: &str, key: &CryptoKey) -> Result<(), CryptoError> {
    let device = this_device(account).await?;
    let db = database().await?;
    let name = JsValue::from_str(account);
    // Read, then write in a transaction of its own: one kept open across
    // an await could end before the write.
    let record = {
        let store = db
            .transaction_with_str(DEVICES)
            .and_then(|t| t.object_store(DEVICES))
            .map_err(|_| CryptoError::Unavailable)?;
        finished(&store.get(&name).map_err(|_| CryptoError::Unavailable)?).await?
    };
    if record.is_undefined() {
        return Err(CryptoError::Unavailable);
    }
    let _ = Reflect::set(&record, &JsValue::from_str("backup"), key);
    let store = db
        .transaction_with_str_and_mode(DEVICES, IdbTransactionMode::Readwrite)
        .and_then(|t| t.object_store(DEVICES))
        .map_err(|_| CryptoError::Unavailable)?;
    let request = store
        .put_with_key(&record, &name)
        .map_err(|_| CryptoError::Unavailable)?;
    finished(&request).await?;
    device.backup.replace(Some(key.clone()));
    Ok(())
}
