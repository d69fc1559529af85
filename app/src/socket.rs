//! The browser's one WebSocket, shared by every room view through context.
//!
//! Rooms register a [`RoomLink`]: how to (re)join and what to do with frames
//! for that room. The socket reconnects by itself with exponential backoff and
//! jitter, and on every (re)connect sends each room's join frames again, so a
//! room resumes from the last `seq` it shows. On the server side of SSR the
//! same API exists but does nothing: there is no socket to open there.

use crate::erased::Slot;
use crate::protocol::{ClientFrame, ServerFrame};
use crate::rooms::RoomName;
use leptos::prelude::*;
use std::rc::Rc;

/// What the person sees about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    Reconnecting,
}

/// A room's hook into the socket.
#[derive(Clone)]
pub struct RoomLink {
    /// Frames to send on every (re)connect: the join, then any unacknowledged sends.
    pub on_connect: Rc<dyn Fn() -> Vec<ClientFrame>>,
    /// Every frame for this room, and errors that name no room.
    pub on_frame: Rc<dyn Fn(ServerFrame)>,
}

/// Handle to the shared socket; cheap to copy into closures.
#[derive(Clone, Copy)]
pub struct ChatSocket {
    status: Slot<Status>,
    #[cfg(feature = "hydrate")]
    shared: StoredValue<Rc<std::cell::RefCell<live::Shared>>, LocalStorage>,
}

impl ChatSocket {
    /// Creates the socket handle and puts it in context; it connects on first use.
    pub fn provide() -> Self {
        let socket = Self {
            status: Slot::new(Status::Connecting),
            #[cfg(feature = "hydrate")]
            shared: StoredValue::new_local(Default::default()),
        };
        provide_context(socket);
        socket
    }

    pub fn from_context() -> Self {
        expect_context::<Self>()
    }

    /// The connection's state (tracked).
    pub fn status(&self) -> Status {
        self.status.get()
    }

    /// Starts following `room`: joins now if connected, and after every reconnect.
    pub fn enter(&self, room: RoomName, link: RoomLink) {
        #[cfg(feature = "hydrate")]
        live::enter(*self, room, link);
        #[cfg(not(feature = "hydrate"))]
        let _ = (room, link);
    }

    /// Stops following `room` and tells the server.
    pub fn leave(&self, room: &RoomName) {
        #[cfg(feature = "hydrate")]
        live::leave(*self, room);
        #[cfg(not(feature = "hydrate"))]
        let _ = room;
    }

    /// Stops following `room` without telling the server (it refused the join).
    pub fn forget(&self, room: &RoomName) {
        #[cfg(feature = "hydrate")]
        live::forget(*self, room);
        #[cfg(not(feature = "hydrate"))]
        let _ = room;
    }

    /// Sends a frame if the socket is open; returns false when it is not (the
    /// room's `on_connect` is then responsible for sending it later).
    pub fn send(&self, frame: &ClientFrame) -> bool {
        #[cfg(feature = "hydrate")]
        return live::send(*self, frame);
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = frame;
            false
        }
    }
}

#[cfg(feature = "hydrate")]
mod live {
    //! The socket itself, on the browser's `WebSocket` and its events
    //! directly: an async stream and sink over it (`gloo-net`) and the
    //! channels between them cost the bundle more than this does.

    use super::*;
    use std::cell::RefCell;
    use std::time::Duration;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    const FIRST_RETRY: Duration = Duration::from_millis(500);
    const LAST_RETRY: Duration = Duration::from_secs(30);
    /// The server's close code for a socket whose signed-in session ended.
    const SIGNED_OUT: u16 = 4003;

    #[derive(Default)]
    pub struct Shared {
        started: bool,
        /// The socket from when it opens until it closes.
        open: Option<WebSocket>,
        rooms: Vec<(RoomName, RoomLink)>,
        /// How long to wait before the next attempt (zero: the first wait).
        retry: Duration,
        /// The current connection's event handlers, kept as long as it
        /// lives (a handler cannot drop itself; the next connection does).
        handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    fn shared(socket: ChatSocket) -> Rc<RefCell<Shared>> {
        socket.shared.get_value()
    }

    pub fn enter(socket: ChatSocket, room: RoomName, link: RoomLink) {
        let shared = shared(socket);
        let (start, open) = {
            let mut shared = shared.borrow_mut();
            shared.rooms.retain(|(r, _)| *r != room);
            shared.rooms.push((room, link.clone()));
            let start = !std::mem::replace(&mut shared.started, true);
            (start, shared.open.is_some())
        };
        if start {
            connect(socket);
        } else if open {
            for frame in (link.on_connect)() {
                send(socket, &frame);
            }
        }
    }

    pub fn leave(socket: ChatSocket, room: &RoomName) {
        if forget(socket, room) {
            send(socket, &ClientFrame::Leave { room: room.clone() });
        }
    }

    /// Whether the room was followed.
    pub fn forget(socket: ChatSocket, room: &RoomName) -> bool {
        let shared = shared(socket);
        let mut shared = shared.borrow_mut();
        let before = shared.rooms.len();
        shared.rooms.retain(|(r, _)| r != room);
        shared.rooms.len() != before
    }

    pub fn send(socket: ChatSocket, frame: &ClientFrame) -> bool {
        let open = shared(socket).borrow().open.clone();
        open.is_some_and(|ws| {
            ws.ready_state() == WebSocket::OPEN && ws.send_with_str(&frame.to_json()).is_ok()
        })
    }

    fn socket_url() -> String {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        format!("{scheme}://{host}/ws")
    }

    /// Hands a frame to its room; the borrow ends before any handler runs,
    /// because handlers may send frames themselves.
    fn dispatch(socket: ChatSocket, frame: ServerFrame) {
        let room = match &frame {
            ServerFrame::Joined { room, .. }
            | ServerFrame::Entry { room, .. }
            | ServerFrame::Ack { room, .. }
            | ServerFrame::Typing { room, .. } => Some(room.clone()),
            ServerFrame::Error { room, .. } => room.clone(),
        };
        let handlers: Vec<Rc<dyn Fn(ServerFrame)>> = shared(socket)
            .borrow()
            .rooms
            .iter()
            .filter(|(r, _)| room.as_ref().is_none_or(|room| r == room))
            .map(|(_, link)| link.on_frame.clone())
            .collect();
        for handler in handlers {
            handler(frame.clone());
        }
    }

    /// Opens a connection; on open every room joins again, and when it
    /// closes the next attempt waits, longer each time (with jitter).
    fn connect(socket: ChatSocket) {
        let Ok(ws) = WebSocket::new(&socket_url()) else {
            return reconnect_later(socket);
        };
        let on_open = {
            let ws = ws.clone();
            move |_: web_sys::Event| {
                let links: Vec<RoomLink> = {
                    let shared = shared(socket);
                    let mut shared = shared.borrow_mut();
                    shared.open = Some(ws.clone());
                    shared.rooms.iter().map(|(_, link)| link.clone()).collect()
                };
                for link in links {
                    for frame in (link.on_connect)() {
                        send(socket, &frame);
                    }
                }
            }
        };
        let on_message = move |event: web_sys::Event| {
            shared(socket).borrow_mut().retry = Duration::ZERO;
            socket.status.set(Status::Connected);
            let Some(text) = event.unchecked_into::<MessageEvent>().data().as_string() else {
                return;
            };
            match serde_json::from_str::<ServerFrame>(&text) {
                Ok(frame) => dispatch(socket, frame),
                Err(_) => leptos::logging::warn!("unreadable frame ({} bytes)", text.len()),
            }
        };
        let on_close = move |event: web_sys::Event| {
            // The session this page signed in with ended (logged out,
            // password changed elsewhere): the page must become whoever
            // this browser is now.
            if event.unchecked_into::<CloseEvent>().code() == SIGNED_OUT {
                let _ = window().location().reload();
                return;
            }
            shared(socket).borrow_mut().open = None;
            reconnect_later(socket);
        };
        let handlers: Vec<Closure<dyn FnMut(web_sys::Event)>> = vec![
            Closure::new(on_open),
            Closure::new(on_message),
            Closure::new(on_close),
        ];
        ws.set_onopen(Some(handlers[0].as_ref().unchecked_ref()));
        ws.set_onmessage(Some(handlers[1].as_ref().unchecked_ref()));
        ws.set_onclose(Some(handlers[2].as_ref().unchecked_ref()));
        shared(socket).borrow_mut().handlers = handlers;
    }

    fn reconnect_later(socket: ChatSocket) {
        socket.status.set(Status::Reconnecting);
        let retry = {
            let shared = shared(socket);
            let mut shared = shared.borrow_mut();
            let retry = shared.retry.max(FIRST_RETRY);
            shared.retry = (retry * 2).min(LAST_RETRY);
            retry
        };
        let jitter = 0.5 + js_sys::Math::random();
        set_timeout(move || connect(socket), retry.mul_f64(jitter));
    }
}

/// A fresh random id (128 bits, hex) for sessions.
pub fn random_id() -> String {
    let mut id = String::with_capacity(32);
    push_random_hex(&mut id, 16);
    id
}

/// A fresh id for a message the person sends: the time in milliseconds (11
/// hex digits, so ids sort by it) then 64 random bits. The store's client id
/// index leads with it, so ids made about now land on its last pages instead
/// of one page per room.
pub fn message_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut id = String::with_capacity(27);
        push_hex(&mut id, js_sys::Date::now() as u64, 11);
        push_random_hex(&mut id, 8);
        id
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

/// Appends `len` (at most 16) random bytes in hex.
fn push_random_hex(out: &mut String, len: usize) {
    #[cfg(feature = "hydrate")]
    {
        let mut bytes = [0u8; 16];
        let bytes = &mut bytes[..len.min(16)];
        if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
            let _ = crypto.get_random_values_with_u8_array(bytes);
        } else {
            for b in bytes.iter_mut() {
                *b = (js_sys::Math::random() * 256.0) as u8;
            }
        }
        for b in bytes.iter() {
            push_hex(out, u64::from(*b), 2);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (out, len);
}

/// Appends `value`'s lowest `digits` hex digits, zero-padded (what `{:0N$x}`
/// writes, without the formatting machinery in the bundle).
#[cfg(any(feature = "hydrate", test))]
fn push_hex(out: &mut String, value: u64, digits: u32) {
    for i in (0..digits).rev() {
        let digit = (value >> (4 * i)) & 0xf;
        out.push(char::from_digit(digit as u32, 16).unwrap_or('0'));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_written_as_format_writes_it() {
        for (value, digits) in [(0u64, 2), (0xab, 2), (7, 2), (0x18c_1234_5678, 11), (1, 11)] {
            let mut written = String::new();
            super::push_hex(&mut written, value, digits);
            assert_eq!(
                written,
                format!("{value:0width$x}", width = digits as usize)
            );
        }
    }
}
