//! The picture viewer: a picture of the log full size, over the room. Left
//! and Right arrows (or the buttons) go to the previous and next picture of
//! the log, Escape (or Close) goes back to where one was.

use crate::conversation::Conversation;
use crate::e2e::{Opened, SealedFile, is_sealed};
use crate::erased::{effect, handler};
use crate::media::{Attachment, MediaId, MediaKind, media_url};
use crate::messages::EntryKind;
use leptos::html;
use leptos::prelude::*;

/// A picture of the log: shared as it is, or sealed (in an encrypted
/// conversation, as this device opened its message).
struct Picture {
    id: MediaId,
    name: String,
    sealed: Option<SealedFile>,
}

/// Every picture the log holds, oldest first.
fn pictures(conv: Conversation) -> Vec<Picture> {
    let messages: Vec<(String, Vec<Attachment>)> = conv.log().with_untracked(|log| {
        log.iter()
            .filter_map(|entry| match &entry.kind {
                EntryKind::Message { body, media, .. } if !media.is_empty() => {
                    Some((body.as_str().to_owned(), media.clone()))
                }
                _ => None,
            })
            .collect()
    });
    let mut all = Vec::new();
    for (body, media) in messages {
        if !is_sealed(&body) {
            all.extend(
                media
                    .into_iter()
                    .filter(|a| a.kind == MediaKind::Image)
                    .map(|a| Picture {
                        id: a.id,
                        name: a.name,
                        sealed: None,
                    }),
            );
        } else if let Some(Opened::Files(_, files)) = conv.readable(&body) {
            all.extend(
                files
                    .into_iter()
                    .filter(|f| f.inline() && f.file.kind == MediaKind::Image)
                    .map(|f| Picture {
                        id: f.file.id.clone(),
                        name: f.file.name.clone(),
                        sealed: Some(f),
                    }),
            );
        }
    }
    all
}

/// Moves the viewer `by` pictures along the log (clamped at the ends).
fn step(conv: Conversation, by: isize) {
    let Some(open) = conv.viewing.get_untracked() else {
        return;
    };
    let all = pictures(conv);
    let Some(at) = all.iter().position(|a| a.id == open) else {
        return;
    };
    let next = (at as isize + by).clamp(0, all.len() as isize - 1) as usize;
    conv.viewing.set(Some(all[next].id.clone()));
}

#[component]
pub(super) fn Viewer(conv: Conversation) -> impl IntoView {
    let dialog = NodeRef::<html::Div>::new();
    let _keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if conv.viewing.get_untracked().is_none() {
            return;
        }
        match ev.key().as_str() {
            "Escape" => conv.viewing.set(None),
            "ArrowLeft" => step(conv, -1),
            "ArrowRight" => step(conv, 1),
            _ => return,
        }
        ev.prevent_default();
    });
    // The open picture, where it is among the log's, and how many there
    // are. The markup below is always there (hidden when closed), its
    // attributes following this: far less bundle than a view made anew.
    let shown = Memo::new(move |_| {
        let open = conv.viewing.get()?;
        let all = pictures(conv);
        let at = all.iter().position(|a| a.id == open)?;
        let picture = &all[at];
        // A sealed picture full size once open, its thumbnail until then.
        let src = match &picture.sealed {
            Some(file) => conv
                .file_url(file, false)
                .or_else(|| conv.file_url(file, true))
                .unwrap_or_default(),
            None => media_url(&picture.id),
        };
        Some((src, picture.name.clone(), at, all.len()))
    });
    // The keyboard goes to the viewer when it opens.
    effect(move || {
        if shown.with(Option::is_some)
            && let Some(el) = dialog.get()
        {
            let _ = el.focus();
        }
    });
    let name = move || shown.with(|s| s.as_ref().map(|s| s.1.clone()).unwrap_or_default());
    let at = move || shown.with(|s| s.as_ref().map_or((0, 0), |s| (s.2, s.3)));
    view! {
        <div
            class="viewer"
            role="dialog"
            aria-modal="true"
            aria-label="Picture viewer"
            tabindex="-1"
            hidden=move || shown.with(Option::is_none)
            node_ref=dialog
        >
            // A click beside the picture closes it.
            <div class="viewer-backdrop" on:click=handler(move |_| conv.viewing.set(None))></div>
            <img
                src=move || shown.with(|s| s.as_ref().map(|s| s.0.clone()))
                alt=name
            />
            <p class="viewer-caption">
                {name}
                <span class="viewer-count">
                    {move || {
                        let (at, count) = at();
                        format!(" · {} of {count}", at + 1)
                    }}
                </span>
            </p>
            <button
                type="button"
                class="viewer-prev"
                aria-label="Previous picture"
                prop:disabled=move || at().0 == 0
                on:click=handler(move |_| step(conv, -1))
            >
                "‹"
            </button>
            <button
                type="button"
                class="viewer-next"
                aria-label="Next picture"
                prop:disabled=move || {
                    let (at, count) = at();
                    at + 1 >= count
                }
                on:click=handler(move |_| step(conv, 1))
            >
                "›"
            </button>
            <button
                type="button"
                class="viewer-close"
                aria-label="Close viewer"
                on:click=handler(move |_| conv.viewing.set(None))
            >
                "×"
            </button>
        </div>
    }
}
