//! What a page opens with: a room's latest history, the lobby's rooms.
//!
//! The server loads it before it renders (`server::routes` puts a
//! [`Preloaded`] in the request's extensions, from [`preload`]), renders the
//! page with it, and writes it into the document's head as JSON
//! ([`PageDataScript`]). The browser hydrates from that copy, so the first
//! page costs no request, and fetches through the server functions when it
//! moves to another room or search in place ([`follow`]).
//!
//! Leptos's `Resource` and `Suspense` did this before; they cost the bundle
//! 18 KB as sent (docs/PERFORMANCE.md, "The WASM bundle, eighth part").

use crate::erased::Slot;
use crate::messages::HistoryPage;
use crate::rooms::RoomSummary;
use leptos::prelude::*;
use std::future::Future;

/// Why a page has no data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The address names no possible room.
    NoSuchRoom,
    /// The reader may not read it (banned, the room closed to guests): the
    /// server's reason, for them.
    Refused(String),
    /// The server could not load it (the detail is in the server's log).
    Unavailable,
}

impl Failure {
    /// Its name in the data block's `data-failed`.
    fn name(&self) -> &'static str {
        match self {
            Self::NoSuchRoom => "no-such-room",
            Self::Refused(_) => "refused",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A page's data: `None` while it loads.
pub type Loading<T> = Slot<Option<Result<T, Failure>>>;

/// What the server loaded for the page it renders.
#[derive(Clone, Debug)]
pub enum Preloaded {
    Room(Result<HistoryPage, Failure>),
    Lobby(Result<Vec<RoomSummary>, Failure>),
}

impl Preloaded {
    /// The status the page answers with when it shows no room: 403 when
    /// the reader may not see it, 404 for no such room (or a private one
    /// they are not in, which must look the same).
    pub fn refusal(&self) -> Option<u16> {
        match self {
            Preloaded::Room(Err(Failure::Refused(_))) => Some(403),
            Preloaded::Room(Err(Failure::NoSuchRoom)) => Some(404),
            _ => None,
        }
    }
}

/// The id of the `<script type="application/json">` carrying the data.
const SCRIPT_ID: &str = "page-data";

/// The page's data, first as the server loaded it, then fetched with `fetch`
/// each time `key` changes (another room, another search). A key of `None`
/// (the address is leaving this page) fetches nothing.
///
/// `from_server` picks this page's data out of what the server loaded; in
/// the browser, the same data comes from the document, once, for the page
/// the document was rendered for.
pub fn follow<K, T, F>(
    key: impl Fn() -> Option<K> + 'static,
    fetch: impl Fn(K) -> F + 'static,
    from_server: impl FnOnce(&Preloaded) -> Option<Result<T, Failure>>,
) -> Loading<T>
where
    K: PartialEq + Clone + 'static,
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
    F: Future<Output = Result<T, Failure>> + 'static,
{
    #[cfg(feature = "ssr")]
    let data = Slot::new(preloaded().and_then(|loaded| from_server(&loaded)));
    #[cfg(feature = "hydrate")]
    let data = {
        let _ = from_server;
        Slot::new(browser::take_from_document())
    };
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let data = {
        let _ = from_server;
        Slot::new(None)
    };
    let mut shown: Option<K> = None;
    let mut first = true;
    let wanted = std::rc::Rc::new(std::cell::Cell::new(0u64));
    crate::erased::effect(move || {
        let Some(key) = key() else {
            return;
        };
        // The data the page hydrated with is this key's.
        if std::mem::take(&mut first) && data.with_untracked(Option::is_some) {
            shown = Some(key);
            return;
        }
        if shown.as_ref() == Some(&key) {
            return;
        }
        // What `fetch` reads is not this effect's business.
        let answer = untrack(|| fetch(key.clone()));
        shown = Some(key);
        data.set(None);
        // Only the latest request fills the page: a slow answer for a room
        // already left is dropped.
        let ticket = wanted.get() + 1;
        wanted.set(ticket);
        let wanted = wanted.clone();
        leptos::task::spawn_local(async move {
            let answer = answer.await;
            if wanted.get() == ticket {
                data.set(Some(answer));
            }
        });
    });
    data
}

/// What the server loaded for this request, if it is a page's. It sits in
/// the request's extensions behind an `Arc`: every read of the request
/// clones them.
#[cfg(feature = "ssr")]
fn preloaded() -> Option<std::sync::Arc<Preloaded>> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<std::sync::Arc<Preloaded>>().cloned())
}

/// The browser renders no document head.
#[cfg(not(feature = "ssr"))]
fn preloaded() -> Option<std::sync::Arc<Preloaded>> {
    None
}

/// Loads what the page at `path` (with `query`) opens with; `None` for an
/// address that is no page. The caller puts it in the request's extensions
/// as an `Arc<Preloaded>`.
#[cfg(feature = "ssr")]
pub async fn preload(
    backend: &dyn crate::backend::ChatBackend,
    path: &str,
    query: &str,
) -> Option<Preloaded> {
    use crate::navigation::{Page, page_of, query_value, room_of};
    let unavailable = |err: crate::backend::BackendError| match err {
        crate::backend::BackendError::Refused { status, .. } if status.as_u16() == 404 => {
            Failure::NoSuchRoom
        }
        crate::backend::BackendError::Refused { reason, .. } => Failure::Refused(reason),
        crate::backend::BackendError::Failed(detail) => {
            tracing::error!(error = %detail, path, "a page's data could not be loaded");
            Failure::Unavailable
        }
    };
    match page_of(path) {
        Page::Room => {
            let Ok(room) = crate::rooms::RoomName::parse(room_of(path)?) else {
                return Some(Preloaded::Room(Err(Failure::NoSuchRoom)));
            };
            let page = backend
                .history(room, None, crate::messages::PAGE_SIZE)
                .await;
            Some(Preloaded::Room(page.map_err(unavailable)))
        }
        Page::Lobby => {
            let search = crate::rooms::lobby_search(query_value(query, "q"));
            let rooms = backend.rooms(search, crate::rooms::LOBBY_ROOMS).await;
            Some(Preloaded::Lobby(rooms.map_err(unavailable)))
        }
        Page::Missing => None,
    }
}

/// The `<script>` in the server's `<head>` handing the page's data to the
/// browser: its JSON (with `<` escaped, so no text in it can close the
/// element), or `data-failed` and why.
#[component]
pub fn PageDataScript() -> impl IntoView {
    fn json<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value)
            .unwrap_or_default()
            .replace('<', "\\u003c")
    }
    let (text, failed) = match &*preloaded()? {
        Preloaded::Room(Ok(page)) => (json(page), None),
        Preloaded::Lobby(Ok(rooms)) => (json(rooms), None),
        // A refusal's reason rides in the block as a JSON string.
        Preloaded::Room(Err(failure @ Failure::Refused(reason))) => {
            (json(reason), Some(failure.name()))
        }
        Preloaded::Room(Err(failure)) | Preloaded::Lobby(Err(failure)) => {
            (String::new(), Some(failure.name()))
        }
    };
    Some(view! {
        // A data block never runs; the nonce keeps "every script carries
        // this response's nonce" true for anyone auditing the page.
        <script
            type="application/json"
            id=SCRIPT_ID
            nonce=use_nonce().map(|nonce| nonce.to_string())
            data-failed=failed
            inner_html=text
        ></script>
    })
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{Failure, SCRIPT_ID};

    /// The data the server wrote into the document, taken out of it so that
    /// only the first page reads it.
    pub fn take_from_document<T: serde::de::DeserializeOwned>() -> Option<Result<T, Failure>> {
        match take_script()? {
            Ok(json) => serde_json::from_str(&json).ok().map(Ok),
            Err(failure) => Some(Err(failure)),
        }
    }

    /// The data block's JSON, or why it has none (the part that is the same
    /// whatever the page's data is: it is in the bundle once).
    fn take_script() -> Option<Result<String, Failure>> {
        let script = leptos::prelude::document()
            .query_selector(&format!("head > script#{SCRIPT_ID}"))
            .ok()??;
        script.remove();
        let failed = script.get_attribute("data-failed");
        let text = script.text_content()?;
        Some(match failed {
            None => Ok(text),
            Some(name) if name == Failure::NoSuchRoom.name() => Err(Failure::NoSuchRoom),
            Some(name) if name == "refused" => {
                Err(Failure::Refused(serde_json::from_str(&text).ok()?))
            }
            Some(_) => Err(Failure::Unavailable),
        })
    }
}
