//! The chat's shared crate, compiled twice: natively for the server (feature
//! `ssr`) and to WebAssembly for the browser (feature `hydrate`).
//!
//! Layout:
//! - [`api`]: how the browser calls server functions (`gloo-net`'s fetch).
//! - [`people`]: `Nick` and `SessionId`, validated nickname and per-tab session.
//! - [`accounts`]: username and password rules, who the page is signed in
//!   as, the account links (the account forms themselves are server pages).
//! - [`rooms`]: `RoomName`, the lobby's room list and its server function.
//! - [`messages`]: `MessageBody`, `ClientId`, the sequenced log `Entry`, the
//!   history server function.
//! - [`media`]: attachments (ids, kinds, the room's media grant, their URLs).
//! - [`search`]: message search results, query words, its server function.
//! - [`e2e`]: end-to-end encryption of private rooms and direct messages
//!   (the sealed body format, device keys, epochs; WebCrypto in the browser).
//! - [`protocol`]: the WebSocket frames (`ClientFrame`, `ServerFrame`).
//! - [`socket`]: the browser's shared WebSocket (`gloo-net`) with reconnect
//!   (inert in SSR).
//! - [`storage`]: everything the browser remembers (nickname, session, joined
//!   rooms, alert toggles), its keys in one place (inert in SSR).
//! - [`uploads`]: files on their way into a room (progress, cancel, retry).
//! - [`conversation`]: one joined room's state in the browser (log, online,
//!   typing, unread), fed by the socket whether or not it is on screen: a
//!   pure reducer of server frames into that state, with signals around it.
//! - [`sidebar`]: the joined rooms (kept across reloads) with unread counts.
//! - [`case`]: letter case ignored (mentions, suggestions, search words),
//!   lowercased by the browser when there.
//! - [`markup`]: the message formatting parser (bold, italic, code, links).
//! - [`emoji`]: the picker's palette and `:shortcode:` completion.
//! - [`alerts`]: desktop notifications and sound while the tab is hidden.
//! - [`icons`]: the buttons' icons, as inline SVG.
//! - [`lobby`], [`room`]: the two pages (the room page is a folder: page, log,
//!   composer, emoji picker); [`nick_form`]: the nickname field both share.
//! - [`navigation`]: which page the address shows, and moving between
//!   pages in place (links, back button) instead of Leptos's router.
//! - [`page_data`]: what a page opens with (a room's history, the lobby's
//!   rooms): loaded by the server, handed to the browser in the document,
//!   fetched again when the browser moves in place.
//! - [`clock`]: time formatting, and the `Hydrated`/`Now` contexts.
//! - [`erased`]: event handlers, effects and `When` (Leptos's `Show`) with
//!   their closures boxed, signals (`Slot`, `Kept`, `Bell`) with their values'
//!   types erased, so Leptos compiles each kind once.
//! - `backend` (ssr only): the trait through which server functions reach the
//!   server's store and room hub, provided as context by the `server` crate.

/// Gives a struct a JSON form that is an array of its fields, in order (as
/// [`crate::media::Attachment`] has): the browser decodes an array with far
/// less code than an object (docs/PERFORMANCE.md, "End-to-end encryption").
/// The struct says `#[serde(from = "NameArray", into = "NameArray")]`.
macro_rules! as_array {
    ($name:ident, $array:ident, ($($field:ident: $ty:ty),+)) => {
        type $array = ($($ty,)+);
        impl From<$array> for $name {
            fn from(($($field,)+): $array) -> Self {
                Self { $($field),+ }
            }
        }
        impl From<$name> for $array {
            fn from(value: $name) -> Self {
                ($(value.$field,)+)
            }
        }
    };
}

pub mod accounts;
pub mod alerts;
pub mod api;
pub mod case;
pub mod clock;
pub mod conversation;
pub mod e2e;
pub mod emoji;
pub mod erased;
pub mod icons;
pub mod lobby;
pub mod markup;
pub mod media;
pub mod messages;
pub mod navigation;
pub mod nick_form;
pub mod page_data;
pub mod people;
pub mod protocol;
pub mod room;
pub mod rooms;
pub mod search;
pub mod sidebar;
pub mod socket;
pub mod storage;
pub mod uploads;

#[cfg(feature = "ssr")]
pub mod backend;

use leptos::prelude::*;
use leptos_meta::HashedStylesheet;

/// The HTML document around every page (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <CommonHead options=options.clone() />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                // The browser keeps it up to date from then on (`App`).
                <DocumentTitle text=navigation::title_here() />
                <accounts::ViewerMeta />
                <page_data::PageDataScript />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// What every document's head carries, the app's pages and the server's
/// account pages alike: encoding, viewport, colour schemes, icon, stylesheet.
#[component]
pub fn CommonHead(options: LeptosOptions) -> impl IntoView {
    view! {
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <link rel="icon" type="image/png" href="/favicon.png" />
        <HashedStylesheet options id="leptos" />
    }
}

/// A `<title>` for a server-rendered head. Its text goes in as escaped
/// markup: as a child, the renderer would follow it with a hydration marker
/// (`<!>`), which a title shows as text.
#[component]
pub fn DocumentTitle(text: String) -> impl IntoView {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
    view! { <title inner_html=escaped></title> }
}

#[component]
pub fn App() -> impl IntoView {
    accounts::Viewer::provide();
    ChatSocket::provide();
    alerts::Alerts::provide();
    sidebar::JoinedRooms::provide();
    clock::provide();
    let place = navigation::Place::provide();
    // Moving between rooms changes the place but not the page: the room
    // page stays and follows its room.
    let page = Memo::new(move |_| place.page());
    // The tab's title counts unread messages across the joined rooms.
    let joined = sidebar::JoinedRooms::from_context();
    erased::effect(move || {
        let title = format!(
            "{}{}",
            sidebar::unread_prefix(joined.total_unread()),
            place.title()
        );
        document().set_title(&title);
    });

    view! {
        <div class="shell">
            <sidebar::Sidebar />
            // The server loads a page's data before it renders
            // (`page_data`), so the history is in the HTML itself and
            // readable without JavaScript.
            {move || match page.get() {
                Page::Lobby => view! { <lobby::Lobby /> }.into_any(),
                Page::Room => view! { <room::RoomPage /> }.into_any(),
                Page::Missing => view! { <p>"Page not found."</p> }.into_any(),
            }}
        </div>
    }
}

use navigation::Page;
use socket::ChatSocket;
