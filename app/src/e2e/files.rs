//! Files of encrypted conversations, in the browser. Each file is sealed
//! with a key of its own (AES-256-GCM, a fresh IV) before it is uploaded,
//! and a picture's thumbnail is made here (the server never sees the
//! picture) and sealed with the same key under another IV. The key and
//! IVs travel in the sealed message ([`SealedFile`]). A fetched file opens
//! into a `blob:` address the page shows.
//!
//! The bytes stay in JavaScript (`ArrayBuffer`s and `Blob`s) from the file
//! to the upload and from the download to the page: a 25 MB video never
//! passes through the WASM heap, which would keep that memory for good.

use super::crypto::{self, CryptoError};
use super::{SealedFile, file_additional_data};
use crate::media::{Attachment, INLINE_TYPES, MediaId, MediaKind, SEALED_TYPE, media_url};
use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, CryptoKey};

/// The longest side of a thumbnail, in pixels (the server's own are 640
/// wide).
const THUMB_SIDE: u32 = 640;

/// A file sealed and ready to upload, with what its record needs.
pub struct Prepared {
    pub ciphertext: Blob,
    /// A picture's sealed thumbnail and its IV (base64).
    pub thumb: Option<(Blob, String)>,
    key: String,
    iv: String,
    content_type: String,
    kind: MediaKind,
    width: Option<u32>,
    height: Option<u32>,
}

impl Prepared {
    /// Its record for the sealed message, once the uploads have their ids.
    pub fn record(
        &self,
        name: String,
        size: u64,
        id: MediaId,
        thumb: Option<MediaId>,
    ) -> SealedFile {
        SealedFile {
            file: Attachment {
                id,
                name,
                size,
                content_type: self.content_type.clone(),
                kind: self.kind,
                width: self.width,
                height: self.height,
            },
            key: self.key.clone(),
            iv: self.iv.clone(),
            thumb: thumb.zip(self.thumb.as_ref().map(|(_, iv)| iv.clone())),
        }
    }
}

async fn wait(promise: js_sys::Promise) -> Result<wasm_bindgen::JsValue, CryptoError> {
    JsFuture::from(promise)
        .await
        .map_err(|_| CryptoError::DoesNotOpen)
}

/// How the file shows: pictures and videos of the allowed types inline,
/// anything else as a download.
fn kind_of(content_type: &str) -> MediaKind {
    if !INLINE_TYPES.contains(&content_type) {
        MediaKind::File
    } else if content_type.starts_with("image/") {
        MediaKind::Image
    } else {
        MediaKind::Video
    }
}

/// `file` sealed with a new key of its own; a picture also gets a
/// thumbnail, sealed with it. A "picture" this browser cannot decode goes
/// as a plain file.
pub async fn prepare(file: &web_sys::File) -> Result<Prepared, CryptoError> {
    let key = crypto::file_key().await?;
    let raw = crypto::export_raw(&key).await?;
    let bytes: Object = wait(file.array_buffer()).await?.unchecked_into();
    let (iv, ciphertext) = crypto::seal_buffer(&key, &bytes, file_additional_data(false)).await?;
    let mut content_type = file.type_();
    let mut kind = kind_of(&content_type);
    let (mut width, mut height, mut thumb) = (None, None, None);
    if kind == MediaKind::Image {
        match thumbnail(file).await {
            Some((w, h, small)) => {
                let small: Object = wait(small.array_buffer()).await?.unchecked_into();
                let (iv, sealed) =
                    crypto::seal_buffer(&key, &small, file_additional_data(true)).await?;
                thumb = Some((blob(&sealed, None)?, crypto::to_base64(&iv)));
                (width, height) = (Some(w), Some(h));
            }
            None => {
                kind = MediaKind::File;
                content_type = SEALED_TYPE.to_owned();
            }
        }
    }
    Ok(Prepared {
        ciphertext: blob(&ciphertext, None)?,
        thumb,
        key: crypto::to_base64(&raw),
        iv: crypto::to_base64(&iv),
        content_type,
        kind,
        width,
        height,
    })
}

/// A picture's size and a JPEG of it at most [`THUMB_SIDE`] on its longer
/// side, drawn upright (`None` if the browser cannot decode it).
async fn thumbnail(file: &web_sys::File) -> Option<(u32, u32, Blob)> {
    let window = web_sys::window()?;
    let bitmap: web_sys::ImageBitmap =
        JsFuture::from(window.create_image_bitmap_with_blob(file).ok()?)
            .await
            .ok()?
            .unchecked_into();
    let (width, height) = (bitmap.width(), bitmap.height());
    if width == 0 || height == 0 {
        return None;
    }
    let scale = (f64::from(THUMB_SIDE) / f64::from(width.max(height))).min(1.0);
    let (w, h) = (
        ((f64::from(width) * scale).round() as u32).max(1),
        ((f64::from(height) * scale).round() as u32).max(1),
    );
    let canvas = web_sys::OffscreenCanvas::new(w, h).ok()?;
    let context: web_sys::OffscreenCanvasRenderingContext2d =
        canvas.get_context("2d").ok()??.unchecked_into();
    context
        .draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, f64::from(w), f64::from(h))
        .ok()?;
    bitmap.close();
    let options = web_sys::ImageEncodeOptions::new();
    options.set_type("image/jpeg");
    options.set_quality(0.8);
    let small = JsFuture::from(canvas.convert_to_blob_with_options(&options).ok()?)
        .await
        .ok()?;
    Some((width, height, small.unchecked_into()))
}

fn blob(buffer: &wasm_bindgen::JsValue, content_type: Option<&str>) -> Result<Blob, CryptoError> {
    let parts = Array::of1(buffer);
    let options = BlobPropertyBag::new();
    if let Some(content_type) = content_type {
        options.set_type(content_type);
    }
    Blob::new_with_buffer_source_sequence_and_options(&parts, &options)
        .map_err(|_| CryptoError::Unavailable)
}

/// Why a sealed file could not be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("it could not be downloaded")]
    Fetch,
    #[error("it could not be decrypted")]
    Decrypt,
}

/// Fetches `file` (or its thumbnail), opens it with its key, and gives the
/// `blob:` address the page shows it from. Only pictures and videos of the
/// allowed types keep their type; anything else is opaque bytes, so even a
/// file that lies about being HTML is never a page on this origin.
pub async fn open(file: &SealedFile, thumb: bool) -> Result<String, OpenError> {
    let (id, iv) = match (&file.thumb, thumb) {
        (Some((id, iv)), true) => (id, iv),
        _ => (&file.file.id, &file.iv),
    };
    let response = gloo_net::http::Request::get(&media_url(id))
        .send()
        .await
        .map_err(|_| OpenError::Fetch)?;
    if !response.ok() {
        return Err(OpenError::Fetch);
    }
    let promise = web_sys::Response::from(response)
        .array_buffer()
        .map_err(|_| OpenError::Fetch)?;
    let sealed: Object = JsFuture::from(promise)
        .await
        .map_err(|_| OpenError::Fetch)?
        .unchecked_into();
    let key = file_key(&file.key).await.ok_or(OpenError::Decrypt)?;
    let iv = crypto::from_base64(iv).ok_or(OpenError::Decrypt)?;
    let is_thumb = thumb && file.thumb.is_some();
    let plain = crypto::open_buffer(&key, &iv, &sealed, file_additional_data(is_thumb))
        .await
        .map_err(|_| OpenError::Decrypt)?;
    let content_type = match (is_thumb, file.inline()) {
        (true, _) => "image/jpeg",
        (false, true) => file.file.content_type.as_str(),
        (false, false) => SEALED_TYPE,
    };
    let blob = blob(&plain, Some(content_type)).map_err(|_| OpenError::Decrypt)?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| OpenError::Decrypt)
}

async fn file_key(raw: &str) -> Option<CryptoKey> {
    let raw = crypto::from_base64(raw).filter(|raw| raw.len() == 32)?;
    crypto::import_aes(&Uint8Array::from(raw.as_slice()).into(), false)
        .await
        .ok()
}

/// Fetches and opens `file`, then hands it to the browser as a download
/// under its own name.
pub async fn save(file: &SealedFile) -> Result<(), OpenError> {
    let url = open(file, false).await?;
    let link: Option<web_sys::HtmlAnchorElement> = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .map(JsCast::unchecked_into);
    if let Some(link) = link {
        link.set_href(&url);
        link.set_download(&file.file.name);
        link.click();
    }
    // The click has started the download from the bytes already.
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}
