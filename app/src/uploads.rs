//! Files on their way into a room, before the message that carries them:
//! each is uploaded as soon as it is picked (with progress, cancel, retry),
//! and one that meets a dropped connection waits and goes again when the
//! room is joined again. The bytes go over HTTP (`XMLHttpRequest`, for its
//! upload progress), never over the socket. In an encrypted conversation
//! each file is sealed in the browser first (`crate::e2e::files`): the
//! server gets ciphertext, and a picture's sealed thumbnail beside it. Only
//! the browser uploads; on the server this is an inert list.

use crate::e2e::SealedFile;
#[cfg(feature = "hydrate")]
use crate::erased::Kept;
use crate::erased::Slot;
use crate::media::{Attachment, MediaGrant, MediaId};
#[cfg(feature = "hydrate")]
use leptos::prelude::*;

/// Where one file is.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadState {
    /// Not started, or the connection dropped: it goes once the room is joined.
    Waiting,
    /// Percent sent.
    Sending(u32),
    Done(Attachment),
    /// Refused, with the server's reason; it can be tried again.
    Failed(String),
}

impl UploadState {
    /// Tells the states apart for redrawing a file's line: 0-100 percent
    /// sent, then waiting, done, failed.
    pub fn stage(&self) -> u32 {
        match self {
            Self::Sending(percent) => *percent,
            Self::Waiting => 101,
            Self::Done(_) => 102,
            Self::Failed(_) => 103,
        }
    }
}

/// One picked file.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub local: u32,
    pub name: String,
    pub size: u64,
    pub state: UploadState,
    /// In an encrypted conversation, once uploaded: its record for the
    /// sealed message (its key, its thumbnail).
    pub sealed: Option<SealedFile>,
}

/// The files picked for the next message of one room.
#[derive(Clone, Copy)]
pub struct Uploads {
    pub list: Slot<Vec<Upload>>,
    /// The room is end-to-end encrypted: files are sealed before they go.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    sealed: bool,
    #[cfg(feature = "hydrate")]
    next: Kept<u32>,
    /// The files themselves and their request in flight, by local id.
    #[cfg(feature = "hydrate")]
    files: StoredValue<Vec<(u32, web_sys::File, Option<web_sys::XmlHttpRequest>)>, LocalStorage>,
}

impl Uploads {
    pub fn new(sealed: bool) -> Self {
        Self {
            list: Slot::new(vec![]),
            sealed,
            #[cfg(feature = "hydrate")]
            next: Kept::new(0),
            #[cfg(feature = "hydrate")]
            files: StoredValue::new_local(vec![]),
        }
    }

    fn set_state(&self, local: u32, state: UploadState) {
        self.list.update(|list| {
            if let Some(upload) = list.iter_mut().find(|u| u.local == local) {
                upload.state = state;
            }
        });
    }

    /// Every file uploaded: their ids, in order, a sealed picture's
    /// thumbnail after it (`None` while any is not).
    pub fn ready(&self) -> Option<Vec<MediaId>> {
        let each: Option<Vec<Vec<MediaId>>> = self.list.with_untracked(|list| {
            list.iter()
                .map(|u| match (&u.state, &u.sealed) {
                    (UploadState::Done(_), Some(file)) => Some(file.uploads().cloned().collect()),
                    (UploadState::Done(attachment), None) => Some(vec![attachment.id.clone()]),
                    _ => None,
                })
                .collect()
        });
        each.map(|each| each.into_iter().flatten().collect())
    }

    /// The sealed records of the files, in order (for the sealed message).
    pub fn sealed_files(&self) -> Vec<SealedFile> {
        self.list
            .with_untracked(|l| l.iter().filter_map(|u| u.sealed.clone()).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.list.with_untracked(Vec::is_empty)
    }

    pub fn any_failed(&self) -> bool {
        self.list
            .with_untracked(|l| l.iter().any(|u| matches!(u.state, UploadState::Failed(_))))
    }

    /// The names, for a message sent without words of its own.
    pub fn names(&self) -> String {
        self.list.with_untracked(|l| {
            l.iter()
                .map(|u| u.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// Forgets every file (their message is on its way).
    pub fn clear(&self) {
        self.list.set(vec![]);
        #[cfg(feature = "hydrate")]
        self.files.update_value(|files| files.clear());
    }

    /// Takes file `local` out (cancelling its upload if it is under way).
    pub fn remove(&self, local: u32) {
        self.list.update(|l| l.retain(|u| u.local != local));
        #[cfg(feature = "hydrate")]
        self.files.update_value(|files| {
            if let Some(at) = files.iter().position(|(id, ..)| *id == local) {
                let (_, _, request) = files.remove(at);
                if let Some(request) = request {
                    let _ = request.abort();
                }
            }
        });
    }

    /// Sends every waiting file (the room was just joined, again).
    pub fn resume(&self, grant: &MediaGrant, done: impl Fn() + Copy + 'static) {
        let waiting: Vec<u32> = self.list.with_untracked(|l| {
            l.iter()
                .filter(|u| u.state == UploadState::Waiting)
                .map(|u| u.local)
                .collect()
        });
        for local in waiting {
            self.start(local, grant.clone(), done);
        }
    }

    /// Tries file `local` again.
    pub fn retry(&self, local: u32, grant: Option<MediaGrant>, done: impl Fn() + Copy + 'static) {
        self.set_state(local, UploadState::Waiting);
        if let Some(grant) = grant {
            self.start(local, grant, done);
        }
    }

    /// Adds picked (dropped, pasted) files and starts uploading them;
    /// `done` runs each time one finishes. A problem for the whole lot (too
    /// many files) is returned for the person to read.
    #[cfg(feature = "hydrate")]
    pub fn add(
        &self,
        picked: Vec<web_sys::File>,
        grant: Option<MediaGrant>,
        done: impl Fn() + Copy + 'static,
    ) -> Option<String> {
        use crate::media::{FILES_PER_MESSAGE, human_size};
        let mut problem = None;
        for file in picked {
            if self.list.with_untracked(Vec::len) >= FILES_PER_MESSAGE {
                problem = Some(format!(
                    "A message can carry at most {FILES_PER_MESSAGE} files."
                ));
                break;
            }
            let local = self.next.get_value();
            self.next.set_value(local + 1);
            let name = match file.name() {
                name if name.trim().is_empty() => "pasted image".to_owned(),
                name => name,
            };
            let size = file.size() as u64;
            // Sealing adds AES-GCM's 16-byte tag.
            let sent = if self.sealed { size + 16 } else { size };
            // Known too big: refused here rather than after sending it all.
            let state = match &grant {
                Some(grant) if sent > grant.max_bytes => UploadState::Failed(format!(
                    "{name} is larger than the {} limit for one file.",
                    human_size(grant.max_bytes)
                )),
                _ => UploadState::Waiting,
            };
            let start = state == UploadState::Waiting;
            self.list.update(|l| {
                l.push(Upload {
                    local,
                    name,
                    size,
                    state,
                    sealed: None,
                })
            });
            self.files
                .update_value(|files| files.push((local, file, None)));
            if let (true, Some(grant)) = (start, &grant) {
                self.start(local, grant.clone(), done);
            }
        }
        problem
    }

    #[cfg(not(feature = "hydrate"))]
    fn start(&self, local: u32, grant: MediaGrant, done: impl Fn() + Copy + 'static) {
        let _ = (local, grant, done);
    }

    /// Uploads file `local` under the room's `grant`.
    #[cfg(feature = "hydrate")]
    fn start(&self, local: u32, grant: MediaGrant, done: impl Fn() + Copy + 'static) {
        // One compiled copy of the upload for every caller's `done`.
        self.send_file(local, grant, std::rc::Rc::new(done));
    }

    #[cfg(feature = "hydrate")]
    fn send_file(&self, local: u32, grant: MediaGrant, done: std::rc::Rc<dyn Fn()>) {
        let Some(file) = self.files.with_value(|files| {
            files
                .iter()
                .find(|(id, ..)| *id == local)
                .map(|(_, f, _)| f.clone())
        }) else {
            return;
        };
        if !self.sealed {
            return self.post(local, grant, file.into(), None, done);
        }
        let this = *self;
        this.set_state(local, UploadState::Sending(0));
        leptos::task::spawn_local(async move {
            let prepared = match crate::e2e::files::prepare(&file).await {
                Ok(prepared) => prepared,
                Err(reason) => {
                    this.set_state(
                        local,
                        UploadState::Failed(format!("This file could not be encrypted: {reason}.")),
                    );
                    return done();
                }
            };
            // The thumbnail first (it is small), then the file with progress.
            let thumb = match &prepared.thumb {
                Some((blob, _)) => match post_sealed(&grant, blob).await {
                    Ok(thumb) => Some(thumb.id),
                    Err(reason) => {
                        this.set_state(local, reason);
                        return done();
                    }
                },
                None => None,
            };
            let body = prepared.ciphertext.clone();
            this.post(local, grant, body, Some((prepared, thumb)), done);
        });
    }

    /// POSTs `body` as upload `local` (for a sealed file, its ciphertext,
    /// with what its record needs once the server names it).
    #[cfg(feature = "hydrate")]
    fn post(
        &self,
        local: u32,
        grant: MediaGrant,
        body: web_sys::Blob,
        sealed: Option<(crate::e2e::files::Prepared, Option<MediaId>)>,
        done: std::rc::Rc<dyn Fn()>,
    ) {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let Some((name, size)) = self.list.with_untracked(|l| {
            l.iter()
                .find(|u| u.local == local)
                .map(|u| (u.name.clone(), u.size))
        }) else {
            return;
        };
        let Ok(request) = web_sys::XmlHttpRequest::new() else {
            return;
        };
        let this = *self;
        let opened = request
            .open_with_async("POST", crate::media::UPLOAD_PATH, true)
            .and_then(|()| request.set_request_header(crate::media::KEY_HEADER, &grant.key))
            .and_then(|()| match sealed {
                // A sealed file's name is inside its message, not here.
                Some(_) => request.set_request_header(crate::media::SEALED_HEADER, "1"),
                None => {
                    let encoded: String = js_sys::encode_uri_component(&name).into();
                    request.set_request_header(crate::media::NAME_HEADER, &encoded)
                }
            });
        if opened.is_err() {
            this.set_state(
                local,
                UploadState::Failed("This browser cannot upload files.".into()),
            );
            return;
        }
        let on_progress =
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
                if ev.length_computable() && ev.total() > 0.0 {
                    let percent = (ev.loaded() / ev.total() * 100.0).floor() as u32;
                    this.set_state(local, UploadState::Sending(percent.min(99)));
                }
            });
        if let Ok(upload) = request.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        on_progress.forget();
        let finished = request.clone();
        let on_load = Closure::once_into_js(move || {
            let status = finished.status().unwrap_or(0);
            let text = finished.response_text().ok().flatten().unwrap_or_default();
            let (state, record) = match answered(status, &text) {
                Ok(attachment) => {
                    let record = sealed.as_ref().map(|(prepared, thumb)| {
                        prepared.record(name, size, attachment.id.clone(), thumb.clone())
                    });
                    (UploadState::Done(attachment), record)
                }
                Err(state) => (state, None),
            };
            this.list.update(|l| {
                if let Some(upload) = l.iter_mut().find(|u| u.local == local) {
                    upload.state = state;
                    upload.sealed = record;
                }
            });
            done();
        });
        request.set_onload(Some(on_load.unchecked_ref()));
        // No answer at all: the connection is down; wait for it.
        let on_error = Closure::once_into_js(move || this.set_state(local, UploadState::Waiting));
        request.set_onerror(Some(on_error.unchecked_ref()));
        this.set_state(local, UploadState::Sending(0));
        if request.send_with_opt_blob(Some(&body)).is_err() {
            this.set_state(local, UploadState::Waiting);
            return;
        }
        self.files.update_value(|files| {
            if let Some(entry) = files.iter_mut().find(|(id, ..)| *id == local) {
                entry.2 = Some(request);
            }
        });
    }
}

/// Uploads a sealed thumbnail (small: no progress to show); the server's
/// record of it, or the state its file fails in.
#[cfg(feature = "hydrate")]
async fn post_sealed(grant: &MediaGrant, blob: &web_sys::Blob) -> Result<Attachment, UploadState> {
    use crate::media::{KEY_HEADER, SEALED_HEADER, UPLOAD_PATH};
    let headers = [(KEY_HEADER, grant.key.as_str()), (SEALED_HEADER, "1")];
    let body = Some(blob.clone().into());
    let Some(response) = crate::api::send(UPLOAD_PATH, &headers, body).await else {
        return Err(UploadState::Waiting);
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    answered(status, &text)
}

/// What the server's answer to an upload means for its file: the server's
/// record of it, or the state the file is left in.
#[cfg(feature = "hydrate")]
fn answered(status: u16, text: &str) -> Result<Attachment, UploadState> {
    match status {
        201 => serde_json::from_str(text)
            .map_err(|_| UploadState::Failed("The server's answer made no sense.".into())),
        // The room's key went stale (the server forgot it): it goes again
        // with the next one.
        403 if text.is_empty() => Err(UploadState::Waiting),
        _ if text.trim().is_empty() => Err(UploadState::Failed(format!(
            "The upload failed (error {status})."
        ))),
        _ => Err(UploadState::Failed(text.trim().to_owned())),
    }
}
