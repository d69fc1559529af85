//! Attaching files: the **Attach** button and its file chooser, the list of
//! picked files above the box (name, size, progress, remove or cancel, the
//! reason one failed and a retry), and taking files that are pasted or
//! dropped onto the room.

use crate::conversation::Conversation;
use crate::erased::{When, handler};
use crate::media::human_size;
use crate::uploads::UploadState;
use leptos::html;
use leptos::prelude::*;

/// Adds `files` (from the chooser, a paste or a drop) to the next message.
#[cfg(feature = "hydrate")]
pub(super) fn take_files(conv: Conversation, files: Option<web_sys::FileList>) -> bool {
    let Some(files) = files else {
        return false;
    };
    let picked: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
    if picked.is_empty() {
        return false;
    }
    let grant = conv.media().get_untracked();
    if let Some(problem) = conv.uploads.add(picked, grant, move || conv.send_held()) {
        conv.tell_problem(problem);
    }
    true
}

/// The paperclip button; the file input it opens stays out of sight.
#[component]
pub(super) fn AttachButton(conv: Conversation) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let on_change = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = input.get_untracked() {
            take_files(conv, el.files());
            // The same file can be picked again after removing it.
            el.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = conv;
    };
    view! {
        <input
            type="file"
            multiple
            class="visually-hidden"
            tabindex="-1"
            aria-hidden="true"
            node_ref=input
            on:change=handler(on_change)
        />
        <button
            type="button"
            class="attach-button"
            aria-label="Attach"
            title="Attach files"
            on:click=handler(move |_| {
                if let Some(el) = input.get_untracked() {
                    el.click();
                }
            })
        >
            <crate::icons::Icon path=crate::icons::PAPERCLIP />
        </button>
    }
}

/// The picked files, each with its progress or its problem.
#[component]
pub(super) fn UploadList(conv: Conversation) -> impl IntoView {
    let uploads = conv.uploads;
    let waiting = move || conv.held.with(Option::is_some);
    view! {
        <When when=move || uploads.list.with(|l| !l.is_empty())>
            <ul class="uploads" aria-label="Files to send">
                // Drawn again whole when it changes (no keyed `For`), like
                // the room's other short lists.
                {move || {
                    uploads.list.get().into_iter().map(|upload| {
                        let local = upload.local;
                        let name = upload.name.clone();
                        let (bar, note, retry) = match &upload.state {
                            UploadState::Waiting => (None, Some("Waiting for the connection…".to_owned()), false),
                            UploadState::Sending(percent) => (Some(*percent), None, false),
                            UploadState::Done(_) => (Some(100), None, false),
                            UploadState::Failed(why) => (None, Some(why.clone()), true),
                        };
                        let failed = retry;
                        let quiet = note.is_none();
                        let sending = matches!(upload.state, UploadState::Sending(_));
                        let remove_label = if sending {
                            format!("Cancel upload of {name}")
                        } else {
                            format!("Remove {name}")
                        };
                        view! {
                            <li class="upload" class:failed=failed>
                                <span class="upload-name">{name.clone()}</span>
                                <span class="upload-size">{human_size(upload.size)}</span>
                                // Static parts shown or hidden: far less bundle than optional views.
                                <progress
                                    max="100"
                                    value=bar.unwrap_or(0)
                                    hidden=bar.is_none()
                                    aria-label=format!("Uploading {name}")
                                ></progress>
                                <span
                                    class="upload-note"
                                    role=failed.then_some("alert")
                                    hidden=quiet
                                >
                                    {note.unwrap_or_default()}
                                </span>
                                <button
                                    type="button"
                                    hidden=!retry
                                    on:click=handler(move |_| {
                                        uploads
                                            .retry(
                                                local,
                                                conv.media().get_untracked(),
                                                move || conv.send_held(),
                                            )
                                    })
                                >
                                    "Retry"
                                </button>
                                <button
                                    type="button"
                                    class="upload-remove"
                                    aria-label=remove_label
                                    on:click=handler(move |_| {
                                        uploads.remove(local);
                                        if uploads.is_empty() {
                                            // Nothing left to wait for: the words go back in the box.
                                            if let Some(held) = conv.held.get_untracked() {
                                                conv.draft.set(held.text);
                                            }
                                            conv.held.set(None);
                                        } else {
                                            conv.send_held();
                                        }
                                    })
                                >
                                    "×"
                                </button>
                            </li>
                        }
                            .into_any()
                    }).collect::<Vec<_>>()
                }}
            </ul>
            <When when=waiting>
                <p class="composing-note">"Sending once the files are uploaded…"</p>
            </When>
        </When>
    }
}
