//! The browser's one WebSocket, shared by every room view through context.
//!
//! Rooms register a [`RoomLink`]: how to (re)join and what to do with frames
//! for that room. The socket reconnects by itself with exponential backoff and
//! jitter, and on every (re)connect sends each room's join frames again, so a
//! room resumes from the last `seq` it shows. On the server side of SSR the
//! same API exists but does nothing: there is no socket to open there.

use crate::erased::Slot;
use crate::people::Nick;
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

    /// What to do when the owner of a private room lets this person in, or
    /// a direct message with someone (the `Nick`) begins (the room is not
    /// followed yet, so no room's link hears it).
    pub fn on_invited(&self, hook: impl Fn(RoomName, Option<Nick>) + 'static) {
        #[cfg(feature = "hydrate")]
        live::on_invited(*self, Rc::new(hook));
        #[cfg(not(feature = "hydrate"))]
        let _ = hook;
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
    //! The socket itself: `gloo-net`'s WebSocket, a stream of messages and a
    //! sink for them. One task per connection reads it; frames are sent on it
    //! directly from anywhere (a send never waits: the socket is open or the
    //! frame is left for the room's next join), so it is borrowed only for
    //! the moment of each poll or send, never across an await.

    use super::*;
    use futures::{Sink, Stream};
    use gloo_net::websocket::futures::WebSocket;
    use gloo_net::websocket::{Message, State, WebSocketError};
    use std::cell::RefCell;
    use std::future::poll_fn;
    use std::pin::Pin;
    use std::time::Duration;

    const FIRST_RETRY: Duration = Duration::from_millis(500);
    const LAST_RETRY: Duration = Duration::from_secs(30);
    /// The server's close code for a socket whose signed-in session ended.
    const SIGNED_OUT: u16 = 4003;

    type Connection = Rc<RefCell<WebSocket>>;
    /// Told of a room this person is in now (and the other person, for a
    /// direct message).
    type InvitedHook = Rc<dyn Fn(RoomName, Option<Nick>)>;

    #[derive(Default)]
    pub struct Shared {
        started: bool,
        /// The connection from when it opens until it closes.
        open: Option<Connection>,
        rooms: Vec<(RoomName, RoomLink)>,
        /// How long to wait before the next attempt (zero: the first wait).
        retry: Duration,
        /// See [`ChatSocket::on_invited`].
        invited: Option<InvitedHook>,
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

    pub fn on_invited(socket: ChatSocket, hook: InvitedHook) {
        shared(socket).borrow_mut().invited = Some(hook);
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
        let Some(connection) = shared(socket).borrow().open.clone() else {
            return false;
        };
        let mut ws = connection.borrow_mut();
        matches!(ws.state(), State::Open)
            && Pin::new(&mut *ws)
                .start_send(Message::Text(frame.to_json()))
                .is_ok()
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
        if let ServerFrame::Invited { room, with } = frame {
            let hook = shared(socket).borrow().invited.clone();
            if let Some(hook) = hook {
                hook(room, with);
            }
            return;
        }
        let room = match &frame {
            ServerFrame::Joined { room, .. }
            | ServerFrame::Entry { room, .. }
            | ServerFrame::Ack { room, .. }
            | ServerFrame::Typing { room, .. }
            | ServerFrame::Assist { room, .. }
            | ServerFrame::Invited { room, .. }
            | ServerFrame::KeysChanged { room } => Some(room.clone()),
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

    /// Opens a connection; once it is open every room joins again, and when
    /// it closes the next attempt waits, longer each time (with jitter).
    fn connect(socket: ChatSocket) {
        let Ok(ws) = WebSocket::open(&socket_url()) else {
            return reconnect_later(socket);
        };
        let connection = Rc::new(RefCell::new(ws));
        leptos::task::spawn_local(async move {
            // The sink is ready once the socket is open, or has failed.
            let _ = poll_fn(|cx| Pin::new(&mut *connection.borrow_mut()).poll_ready(cx)).await;
            let opened = matches!(connection.borrow().state(), State::Open);
            if opened && read(socket, &connection).await == Closed::SignedOut {
                // The session this page signed in with ended (logged out,
                // password changed elsewhere): the page must become whoever
                // this browser is now.
                let _ = window().location().reload();
                return;
            }
            shared(socket).borrow_mut().open = None;
            reconnect_later(socket);
        });
    }

    /// Why a connection ended.
    #[derive(PartialEq)]
    enum Closed {
        Lost,
        SignedOut,
    }

    /// Rejoins every room, then hands each frame to its room until the
    /// connection closes.
    async fn read(socket: ChatSocket, connection: &Connection) -> Closed {
        let links: Vec<RoomLink> = {
            let shared = shared(socket);
            let mut shared = shared.borrow_mut();
            shared.open = Some(connection.clone());
            shared.rooms.iter().map(|(_, link)| link.clone()).collect()
        };
        for link in links {
            for frame in (link.on_connect)() {
                send(socket, &frame);
            }
        }
        while let Some(message) =
            poll_fn(|cx| Pin::new(&mut *connection.borrow_mut()).poll_next(cx)).await
        {
            let text = match message {
                Ok(Message::Text(text)) => text,
                Err(WebSocketError::ConnectionClose(close)) if close.code == SIGNED_OUT => {
                    return Closed::SignedOut;
                }
                _ => continue,
            };
            shared(socket).borrow_mut().retry = Duration::ZERO;
            socket.status.set(Status::Connected);
            match serde_json::from_str::<ServerFrame>(&text) {
                Ok(frame) => dispatch(socket, frame),
                Err(_) => leptos::logging::warn!("unreadable frame ({} bytes)", text.len()),
            }
        }
        Closed::Lost
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
        // Between half and one and a half times the wait, in whole ms.
        let jitter = 0.5 + js_sys::Math::random();
        let wait = Duration::from_millis((retry.as_millis() as f64 * jitter) as u64);
        set_timeout(move || connect(socket), wait);
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
