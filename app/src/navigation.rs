//! Where the reader is, and moving between the two pages without leaving
//! the app: a link or the back button changes the page in place, so the
//! joined rooms' sockets and state carry on.
//!
//! This replaces Leptos's router, which cost the browser's bundle about
//! 23 KB (of 258) for two flat routes (docs/PERFORMANCE.md, "The WASM bundle, seventh
//! part"). What it does in the browser, as that router did: it takes over a
//! plain left click on a link to this site (not one with a modifier key, a
//! `target`, `download` or `rel="external"`, nor one already handled), pushes
//! the new address and scrolls to the top; the back and forward buttons move
//! the same way. On the server the place is the request's.

use crate::erased::Slot;
use crate::rooms::RoomName;
use leptos::prelude::*;

/// The pages, by path: `/` and `/r/<room>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Lobby,
    Room,
    Missing,
}

/// The address the page shows: its path and its query (without the `?`).
#[derive(Clone, Copy)]
pub struct Place {
    path: Slot<String>,
    query: Slot<String>,
}

impl Place {
    /// The place for this page, from the request on the server and from the
    /// address bar in the browser (where it also starts following links and
    /// the back button).
    pub fn provide() -> Self {
        let (path, query) = Self::read();
        let place = Place {
            path: Slot::new(path),
            query: Slot::new(query),
        };
        provide_context(place);
        #[cfg(feature = "hydrate")]
        browser::follow(place);
        place
    }

    #[cfg(feature = "ssr")]
    fn read() -> (String, String) {
        use_context::<http::request::Parts>()
            .map(|parts| {
                let path = parts.uri.path().to_owned();
                let query = parts.uri.query().unwrap_or_default().to_owned();
                (path, query)
            })
            .unwrap_or_else(|| ("/".to_owned(), String::new()))
    }

    #[cfg(not(feature = "ssr"))]
    fn read() -> (String, String) {
        let location = window().location();
        let path = location.pathname().unwrap_or_else(|_| "/".to_owned());
        let search = location.search().unwrap_or_default();
        (path, search.trim_start_matches('?').to_owned())
    }

    pub fn from_context() -> Self {
        expect_context()
    }

    /// Which page the path shows (tracked).
    pub fn page(self) -> Page {
        self.path.with(|p| page_of(p))
    }

    /// The room in a `/r/<room>` path, as written (tracked).
    pub fn room(self) -> Option<String> {
        self.path.with(|p| room_of(p).map(str::to_owned))
    }

    /// The title this place gives the tab, before any unread count (tracked).
    pub fn title(self) -> String {
        self.path.with(|p| title_of(p))
    }

    /// The query's value for `name`, decoded (tracked).
    pub fn query(self, name: &str) -> Option<String> {
        self.query.with(|q| query_value(q, name))
    }

    /// The query's value for `name`, decoded (not tracked).
    pub fn query_untracked(self, name: &str) -> Option<String> {
        self.query.with_untracked(|q| query_value(q, name))
    }

    /// Goes to `to` (a path with an optional query) within the app, as a
    /// followed link does.
    pub fn go(self, to: &str) {
        #[cfg(feature = "hydrate")]
        browser::push(to);
        let to = to.split('#').next().unwrap_or_default();
        let (path, query) = to.split_once('?').unwrap_or((to, ""));
        self.set(path, query);
    }

    /// Only what changed is set, so a move within one page (another
    /// room) leaves the page and everything that reads only the query alone.
    fn set(self, path: &str, query: &str) {
        if self.path.with_untracked(|p| p != path) {
            self.path.set(path.to_owned());
        }
        if self.query.with_untracked(|q| q != query) {
            self.query.set(query.to_owned());
        }
    }
}

/// The site's addresses, each written once, as the server's router writes
/// it (`{room}` standing for a room's name): the router matches
/// [`Route::pattern`], links and forms point at [`Route::to`] (or, for a
/// route without a room, at its pattern, which is its path), and
/// [`page_of`] reads a path back with [`Route::room_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The lobby (`?q=` searches room names).
    Lobby,
    /// A room's page.
    Room,
    /// A message sent from a room's page without JavaScript.
    RoomPost,
    /// The lobby's join form, without JavaScript.
    Join,
    /// Message search, a page rendered on the server.
    Search,
    /// The signed-in person's account page.
    Account,
    LogIn,
    SignUp,
}

impl Route {
    pub const fn pattern(self) -> &'static str {
        match self {
            Route::Lobby => "/",
            Route::Room => "/r/{room}",
            Route::RoomPost => "/r/{room}/post",
            Route::Join => "/join",
            Route::Search => "/search",
            Route::Account => "/account",
            Route::LogIn => "/login",
            Route::SignUp => "/signup",
        }
    }

    /// This route's address for `room`.
    pub fn to(self, room: &RoomName) -> String {
        self.pattern().replace("{room}", room.as_str())
    }

    /// Whether `path` is this route's address, and its `{room}` as written
    /// (not checked: the page says when it names no possible room); `""`
    /// for a route without one.
    pub fn room_in(self, path: &str) -> Option<&str> {
        let mut room = "";
        let mut wanted = self.pattern().split('/');
        let mut given = path.split('/');
        loop {
            match (wanted.next(), given.next()) {
                (None, None) => return Some(room),
                (Some("{room}"), Some(segment)) if !segment.is_empty() => room = segment,
                (Some(a), Some(b)) if a == b => {}
                _ => return None,
            }
        }
    }
}

/// The app's own pages (the others are the server's): the routes the
/// server renders the app for.
pub const PAGE_ROUTES: [Route; 2] = [Route::Lobby, Route::Room];

/// Which page a path shows.
pub fn page_of(path: &str) -> Page {
    if Route::Lobby.room_in(path).is_some() {
        Page::Lobby
    } else if room_of(path).is_some() {
        Page::Room
    } else {
        Page::Missing
    }
}

/// The title of the page at `path`: `#room · Chat` in a room, else `Chat`.
pub fn title_of(path: &str) -> String {
    match room_of(path).and_then(|room| RoomName::parse(room).ok()) {
        Some(room) => format!("#{room} · Chat"),
        None => "Chat".to_owned(),
    }
}

/// The title of the page being rendered (for the server's `<title>`).
pub fn title_here() -> String {
    title_of(&Place::read().0)
}

/// The room a room page's path (`/r/<room>`, or `/r/<room>/` as people
/// type it) names, as written.
pub fn room_of(path: &str) -> Option<&str> {
    Route::Room.room_in(path.strip_suffix('/').unwrap_or(path))
}

/// The first value of `name` in a query (`a=1&b=two+words`), with `+` and
/// `%XX` decoded as a form encodes them. (Written out: `form_urlencoded`
/// would cost the bundle 0.6 KB.)
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Place;
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, JsValue};

    /// Follows links to this site and the back and forward buttons.
    pub(super) fn follow(place: Place) {
        // Handlers stay for the page's life, as the app does.
        std::mem::forget(window_event_listener(leptos::ev::click, move |ev| {
            if let Some(to) = followed_link(&ev) {
                ev.prevent_default();
                place.go(&to);
            }
        }));
        std::mem::forget(window_event_listener(leptos::ev::popstate, move |_| {
            let (path, query) = Place::read();
            place.set(&path, &query);
        }));
    }

    /// Where a click goes, if it is a plain click on a link within the app.
    fn followed_link(ev: &web_sys::MouseEvent) -> Option<String> {
        if ev.default_prevented()
            || ev.button() != 0
            || ev.meta_key()
            || ev.alt_key()
            || ev.ctrl_key()
            || ev.shift_key()
        {
            return None;
        }
        let target = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
        let link = target
            .closest("a[href]")
            .ok()??
            .dyn_into::<web_sys::HtmlAnchorElement>()
            .ok()?;
        let elsewhere = !matches!(link.target().as_str(), "" | "_self");
        if elsewhere || link.has_attribute("download") || link.rel().contains("external") {
            return None;
        }
        let location = window().location();
        if link.origin() != location.origin().ok()? {
            return None;
        }
        let (path, search, hash) = (link.pathname(), link.search(), link.hash());
        // A jump within the same page is the browser's.
        let here = location.pathname().ok()? + &location.search().ok()?;
        if !hash.is_empty() && here == format!("{path}{search}") {
            return None;
        }
        Some(format!("{path}{search}{hash}"))
    }

    pub(super) fn push(to: &str) {
        let window = window();
        if let Ok(history) = window.history() {
            let _ = history.push_state_with_url(&JsValue::NULL, "", Some(to));
        }
        window.scroll_to_with_x_and_y(0.0, 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_pick_their_page() {
        let main = RoomName::parse("main").unwrap();
        for route in PAGE_ROUTES {
            let path = route.to(&main);
            assert_ne!(page_of(&path), Page::Missing, "the server serves {route:?}");
        }
        assert_eq!(Route::Room.to(&main), "/r/main");
        assert_eq!(Route::RoomPost.to(&main), "/r/main/post");
        assert_eq!(Route::RoomPost.room_in("/r/main/post"), Some("main"));
        assert_eq!(Route::Room.room_in("/r/main/post"), None);
        assert_eq!(Route::Search.room_in("/search"), Some(""));
        assert_eq!(Route::Search.room_in("/searching"), None);
        assert_eq!(page_of("//"), Page::Missing);
        assert_eq!(page_of("/"), Page::Lobby);
        assert_eq!(page_of("/r/main"), Page::Room);
        assert_eq!(page_of("/r/main/"), Page::Room);
        assert_eq!(page_of("/r/"), Page::Missing);
        assert_eq!(page_of("/r/a/b"), Page::Missing);
        assert_eq!(page_of("/elsewhere"), Page::Missing);
        assert_eq!(room_of("/r/rust-lang"), Some("rust-lang"));
        assert_eq!(title_of("/r/rust-lang"), "#rust-lang · Chat");
        assert_eq!(title_of("/r/no%20such"), "Chat");
        assert_eq!(title_of("/"), "Chat");
    }

    #[test]
    fn query_values_are_decoded_as_forms_encode_them() {
        let query = "q=two+words&nick=%C3%A9lise&at=42&bad=%zz&empty";
        assert_eq!(query_value(query, "q").as_deref(), Some("two words"));
        assert_eq!(query_value(query, "nick").as_deref(), Some("élise"));
        assert_eq!(query_value(query, "at").as_deref(), Some("42"));
        assert_eq!(query_value(query, "bad").as_deref(), Some("%zz"));
        assert_eq!(query_value(query, "empty").as_deref(), Some(""));
        assert_eq!(query_value(query, "missing"), None);
        assert_eq!(query_value("", "q"), None);
        assert_eq!(query_value("a=%4", "a").as_deref(), Some("%4"));
    }
}
