//! The browser's WebCrypto (`SubtleCrypto`), and nothing hand-made: device
//! key pairs (ECDH and ECDSA on P-256), room keys (AES-256-GCM), wrapping a
//! room key for a device (ECDH, then HKDF-SHA-256 to an AES-GCM key), and
//! sealing a message (AES-GCM with a fresh 96-bit IV and additional data).
//! docs/SECURITY.md says why these and what they give.

use js_sys::{Array, Object, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AesDerivedKeyParams, AesGcmParams, AesKeyGenParams, CryptoKey, CryptoKeyPair, EcKeyGenParams,
    EcKeyImportParams, EcdhKeyDeriveParams, EcdsaParams, HkdfParams, SubtleCrypto,
};

const CURVE: &str = "P-256";
/// HKDF's `info`: what the derived key is for, so a secret shared for one
/// purpose never keys another.
const WRAP_INFO: &[u8] = b"chat room key wrap v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("this browser cannot encrypt (no WebCrypto: an insecure page?)")]
    Unavailable,
    /// Wrong key, or the ciphertext, IV or additional data changed.
    #[error("it does not open with this key")]
    DoesNotOpen,
    #[error("a key is not what it should be")]
    BadKey,
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let crypto = web_sys::window()
        .ok_or(CryptoError::Unavailable)?
        .crypto()
        .map_err(|_| CryptoError::Unavailable)?;
    Ok(crypto.subtle())
}

async fn wait(promise: Result<Promise, JsValue>) -> Result<JsValue, CryptoError> {
    let promise = promise.map_err(|_| CryptoError::BadKey)?;
    JsFuture::from(promise)
        .await
        .map_err(|_| CryptoError::BadKey)
}

fn usages(list: &[&str]) -> JsValue {
    list.iter()
        .map(|u| JsValue::from_str(u))
        .collect::<Array>()
        .into()
}

fn array(bytes: &[u8]) -> Object {
    Uint8Array::from(bytes).into()
}

fn bytes_of(buffer: &JsValue) -> Vec<u8> {
    Uint8Array::new(buffer).to_vec()
}

/// `N` random bytes from the browser's generator (never a made-up
/// stand-in: an IV used twice would break AES-GCM).
pub fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or(CryptoError::Unavailable)?
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|_| CryptoError::Unavailable)?;
    Ok(bytes)
}

/// Standard base64, with the browser's `btoa`.
pub fn to_base64(bytes: &[u8]) -> String {
    let latin1: String = bytes.iter().map(|b| char::from(*b)).collect();
    web_sys::window()
        .and_then(|w| w.btoa(&latin1).ok())
        .unwrap_or_default()
}

/// The bytes of standard base64 (`None` if it is not).
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    let latin1 = web_sys::window()?.atob(text).ok()?;
    latin1.chars().map(|c| u8::try_from(c).ok()).collect()
}

/// SHA-256 of `data`.
pub async fn sha256(data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let digest = wait(subtle()?.digest_with_str_and_u8_array("SHA-256", data)).await?;
    Ok(bytes_of(&digest))
}

/// A private key and its public key's raw bytes.
pub struct KeyPair {
    pub private: CryptoKey,
    pub public: Vec<u8>,
}

async fn key_pair(algorithm: &str, private_usages: &[&str]) -> Result<KeyPair, CryptoError> {
    let params = EcKeyGenParams::new(algorithm, CURVE);
    // Not extractable: the private key never leaves WebCrypto (IndexedDB
    // keeps it as an opaque object). A public key always is.
    let pair: CryptoKeyPair =
        wait(subtle()?.generate_key_with_object(&params, false, &usages(private_usages)))
            .await?
            .unchecked_into();
    let public = wait(subtle()?.export_key("raw", &pair.get_public_key())).await?;
    Ok(KeyPair {
        private: pair.get_private_key(),
        public: bytes_of(&public),
    })
}

/// A device's key agreement pair (ECDH P-256).
pub async fn agreement_pair() -> Result<KeyPair, CryptoError> {
    key_pair("ECDH", &["deriveBits"]).await
}

/// A device's signing pair (ECDSA P-256).
pub async fn signing_pair() -> Result<KeyPair, CryptoError> {
    key_pair("ECDSA", &["sign"]).await
}

fn ecdsa() -> EcdsaParams {
    EcdsaParams::new_with_str("ECDSA", "SHA-256")
}

pub async fn sign(private: &CryptoKey, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let signature = wait(subtle()?.sign_with_object_and_u8_array(&ecdsa(), private, data)).await?;
    Ok(bytes_of(&signature))
}

/// Whether `signature` over `data` is by the raw public key `public`.
pub async fn verify(public: &[u8], signature: &[u8], data: &[u8]) -> Result<bool, CryptoError> {
    let params = EcKeyImportParams::new("ECDSA");
    params.set_named_curve(CURVE);
    let key: CryptoKey = wait(subtle()?.import_key_with_object(
        "raw",
        &array(public),
        &params,
        false,
        &usages(&["verify"]),
    ))
    .await?
    .unchecked_into();
    let valid = wait(subtle()?.verify_with_object_and_u8_array_and_u8_array(
        &ecdsa(),
        &key,
        signature,
        data,
    ))
    .await?;
    Ok(valid.as_bool() == Some(true))
}

/// A new room key: AES-256-GCM. Extractable only so that it can be wrapped
/// for devices; it is never exported in the clear.
pub async fn room_key() -> Result<CryptoKey, CryptoError> {
    let params = AesKeyGenParams::new("AES-GCM", 256);
    Ok(
        wait(subtle()?.generate_key_with_object(&params, true, &usages(&["encrypt", "decrypt"])))
            .await?
            .unchecked_into(),
    )
}

/// The key that wraps room keys between the device holding `private` and
/// the device whose raw ECDH public key is `public` (the same from either
/// side), for `context` (the room, epoch and receiving device) only.
async fn wrapping_key(
    private: &CryptoKey,
    public: &[u8],
    context: &[u8],
) -> Result<CryptoKey, CryptoError> {
    let subtle = subtle()?;
    let params = EcKeyImportParams::new("ECDH");
    params.set_named_curve(CURVE);
    let theirs: CryptoKey =
        wait(subtle.import_key_with_object("raw", &array(public), &params, false, &usages(&[])))
            .await?
            .unchecked_into();
    let shared = wait(subtle.derive_bits_with_object(
        &EcdhKeyDeriveParams::new("ECDH", &theirs),
        private,
        256,
    ))
    .await?;
    let secret: CryptoKey = wait(subtle.import_key_with_str(
        "raw",
        &Uint8Array::new(&shared).into(),
        "HKDF",
        false,
        &usages(&["deriveKey"]),
    ))
    .await?
    .unchecked_into();
    let hkdf = HkdfParams::new_with_str("HKDF", "SHA-256", &array(WRAP_INFO), &array(context));
    Ok(wait(subtle.derive_key_with_object_and_object(
        &hkdf,
        &secret,
        &AesDerivedKeyParams::new("AES-GCM", 256),
        false,
        &usages(&["wrapKey", "unwrapKey"]),
    ))
    .await?
    .unchecked_into())
}

fn gcm(iv: &[u8], additional_data: &[u8]) -> AesGcmParams {
    let params = AesGcmParams::new("AES-GCM", &array(iv));
    params.set_additional_data(&array(additional_data));
    params
}

/// `room_key` wrapped by this device (`private`) for the device whose raw
/// ECDH public key is `public`: `(iv, wrapped)`.
pub async fn wrap(
    room_key: &CryptoKey,
    private: &CryptoKey,
    public: &[u8],
    context: &[u8],
) -> Result<([u8; 12], Vec<u8>), CryptoError> {
    let key = wrapping_key(private, public, context).await?;
    let iv = random::<12>()?;
    let wrapped =
        wait(subtle()?.wrap_key_with_object("raw", room_key, &key, &gcm(&iv, context))).await?;
    Ok((iv, bytes_of(&wrapped)))
}

/// A room key wrapped for this device (`private`) by the device whose raw
/// ECDH public key is `public`.
pub async fn unwrap(
    wrapped: &[u8],
    iv: &[u8],
    private: &CryptoKey,
    public: &[u8],
    context: &[u8],
) -> Result<CryptoKey, CryptoError> {
    let key = wrapping_key(private, public, context).await?;
    let algorithm = Object::from(AesKeyGenParams::new("AES-GCM", 256));
    let promise = subtle()?.unwrap_key_with_buffer_source_and_object_and_object(
        "raw",
        &array(wrapped),
        &key,
        &gcm(iv, context),
        &algorithm,
        true,
        &usages(&["encrypt", "decrypt"]),
    );
    wait(promise)
        .await
        .map(JsCast::unchecked_into)
        .map_err(|_| CryptoError::DoesNotOpen)
}

/// `plain` sealed with `room_key` and a fresh IV: `(iv, ciphertext)`.
pub async fn seal(
    room_key: &CryptoKey,
    plain: &[u8],
    additional_data: &[u8],
) -> Result<([u8; 12], Vec<u8>), CryptoError> {
    let iv = random::<12>()?;
    let sealed = wait(subtle()?.encrypt_with_object_and_u8_array(
        &gcm(&iv, additional_data),
        room_key,
        plain,
    ))
    .await?;
    Ok((iv, bytes_of(&sealed)))
}

/// What `seal` sealed, if `room_key`, `iv` and `additional_data` are the
/// ones it was sealed with and nothing changed.
pub async fn open(
    room_key: &CryptoKey,
    iv: &[u8],
    ciphertext: &[u8],
    additional_data: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let promise =
        subtle()?.decrypt_with_object_and_u8_array(&gcm(iv, additional_data), room_key, ciphertext);
    let plain = wait(promise).await.map_err(|_| CryptoError::DoesNotOpen)?;
    Ok(bytes_of(&plain))
}

/// A new key for one file: AES-256-GCM, extractable because it travels
/// (in base64) inside the sealed message that carries the file.
pub async fn file_key() -> Result<CryptoKey, CryptoError> {
    room_key().await
}

/// The raw bytes of an extractable key.
pub async fn export_raw(key: &CryptoKey) -> Result<Vec<u8>, CryptoError> {
    Ok(bytes_of(&wait(subtle()?.export_key("raw", key)).await?))
}

/// An AES-256-GCM key from its raw bytes (`raw`: an `ArrayBuffer` or
/// view); `extractable` if it is to be wrapped for a device.
pub async fn import_aes(raw: &Object, extractable: bool) -> Result<CryptoKey, CryptoError> {
    Ok(wait(subtle()?.import_key_with_str(
        "raw",
        raw,
        "AES-GCM",
        extractable,
        &usages(&["encrypt", "decrypt"]),
    ))
    .await?
    .unchecked_into())
}

/// [`seal`] for bytes that stay in JavaScript (a file's `ArrayBuffer`):
/// `(iv, ciphertext)`, the ciphertext an `ArrayBuffer`.
pub async fn seal_buffer(
    key: &CryptoKey,
    plain: &Object,
    additional_data: &[u8],
) -> Result<([u8; 12], JsValue), CryptoError> {
    let iv = random::<12>()?;
    let sealed = wait(subtle()?.encrypt_with_object_and_buffer_source(
        &gcm(&iv, additional_data),
        key,
        plain,
    ))
    .await?;
    Ok((iv, sealed))
}

/// [`open`] for bytes that stay in JavaScript: the plaintext `ArrayBuffer`.
pub async fn open_buffer(
    key: &CryptoKey,
    iv: &[u8],
    ciphertext: &Object,
    additional_data: &[u8],
) -> Result<JsValue, CryptoError> {
    let promise =
        subtle()?.decrypt_with_object_and_buffer_source(&gcm(iv, additional_data), key, ciphertext);
    wait(promise).await.map_err(|_| CryptoError::DoesNotOpen)
}

/// PBKDF2-SHA-256 rounds for a recovery passphrase (OWASP's figure for
/// 2023 on): about half a second in a browser, once per backup or restore.
const PASSPHRASE_ROUNDS: u32 = 600_000;

/// The AES-256-GCM key a recovery passphrase and `salt` make (PBKDF2).
pub async fn passphrase_key(passphrase: &str, salt: &[u8]) -> Result<CryptoKey, CryptoError> {
    let subtle = subtle()?;
    let base: CryptoKey = wait(subtle.import_key_with_str(
        "raw",
        &array(passphrase.as_bytes()),
        "PBKDF2",
        false,
        &usages(&["deriveKey"]),
    ))
    .await?
    .unchecked_into();
    let params = web_sys::Pbkdf2Params::new(
        "PBKDF2",
        &JsValue::from_str("SHA-256"),
        PASSPHRASE_ROUNDS,
        &array(salt),
    );
    Ok(wait(subtle.derive_key_with_object_and_object(
        &params,
        &base,
        &AesDerivedKeyParams::new("AES-GCM", 256),
        false,
        &usages(&["encrypt", "decrypt"]),
    ))
    .await?
    .unchecked_into())
}
