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

    pub fn status(&self) -> Slot<Status> {
        self.status
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
    use super::*;
    use futures::{SinkExt, StreamExt, channel::mpsc};
    use gloo_net::websocket::{Message, futures::WebSocket};
    use std::collections::HashMap;
    use std::time::Duration;

    const FIRST_RETRY: Duration = Duration::from_millis(500);
    const LAST_RETRY: Duration = Duration::from_secs(30);
    /// The server's close code for a socket whose signed-in session ended.
    const SIGNED_OUT: u16 = 4003;

    #[derive(Default)]
    pub struct Shared {
        started: bool,
        outbox: Option<mpsc::UnboundedSender<String>>,
        rooms: HashMap<RoomName, RoomLink>,
    }

    pub fn enter(socket: ChatSocket, room: RoomName, link: RoomLink) {
        let (start, outbox) = socket.shared.with_value(|shared| {
            let mut shared = shared.borrow_mut();
            shared.rooms.insert(room, link.clone());
            let start = !std::mem::replace(&mut shared.started, true);
            (start, shared.outbox.clone())
        });
        if start {
            leptos::task::spawn_local(run(socket));
        } else if let Some(outbox) = outbox {
            for frame in (link.on_connect)() {
                let _ = outbox.unbounded_send(frame.to_json());
            }
        }
    }

    pub fn leave(socket: ChatSocket, room: &RoomName) {
        let was_in = socket
            .shared
            .with_value(|shared| shared.borrow_mut().rooms.remove(room).is_some());
        if was_in {
            send(socket, &ClientFrame::Leave { room: room.clone() });
        }
    }

    pub fn forget(socket: ChatSocket, room: &RoomName) {
        socket
            .shared
            .with_value(|shared| shared.borrow_mut().rooms.remove(room));
    }

    pub fn send(socket: ChatSocket, frame: &ClientFrame) -> bool {
        let outbox = socket
            .shared
            .with_value(|shared| shared.borrow().outbox.clone());
        outbox.is_some_and(|outbox| outbox.unbounded_send(frame.to_json()).is_ok())
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

    async fn sleep(delay: Duration) {
        let (done, wait) = futures::channel::oneshot::channel::<()>();
        set_timeout(
            move || {
                let _ = done.send(());
            },
            delay,
        );
        let _ = wait.await;
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
        let handlers: Vec<Rc<dyn Fn(ServerFrame)>> = socket.shared.with_value(|shared| {
            let shared = shared.borrow();
            match &room {
                Some(room) => shared
                    .rooms
                    .get(room)
                    .map(|l| l.on_frame.clone())
                    .into_iter()
                    .collect(),
                None => shared.rooms.values().map(|l| l.on_frame.clone()).collect(),
            }
        });
        for handler in handlers {
            handler(frame.clone());
        }
    }

    /// Connects, pumps frames both ways until the socket ends, waits, repeats.
    async fn run(socket: ChatSocket) {
        let mut retry = FIRST_RETRY;
        loop {
            if let Ok(ws) = WebSocket::open(&socket_url()) {
                let (mut write, mut read) = ws.split();
                let (outbox, mut queued) = mpsc::unbounded::<String>();
                let links: Vec<RoomLink> = socket.shared.with_value(|shared| {
                    let mut shared = shared.borrow_mut();
                    shared.outbox = Some(outbox.clone());
                    shared.rooms.values().cloned().collect()
                });
                for link in links {
                    for frame in (link.on_connect)() {
                        let _ = outbox.unbounded_send(frame.to_json());
                    }
                }
                leptos::task::spawn_local(async move {
                    while let Some(text) = queued.next().await {
                        if write.send(Message::Text(text)).await.is_err() {
                            break;
                        }
                    }
                });
                loop {
                    let message = match read.next().await {
                        Some(Ok(message)) => message,
                        // The session this page signed in with ended (logged
                        // out, password changed elsewhere): the page must
                        // become whoever this browser is now.
                        Some(Err(gloo_net::websocket::WebSocketError::ConnectionClose(close)))
                            if close.code == SIGNED_OUT =>
                        {
                            let _ = window().location().reload();
                            return;
                        }
                        _ => break,
                    };
                    retry = FIRST_RETRY;
                    socket.status.set(Status::Connected);
                    if let Message::Text(text) = message {
                        match serde_json::from_str::<ServerFrame>(&text) {
                            Ok(frame) => dispatch(socket, frame),
                            Err(err) => leptos::logging::warn!("unreadable frame: {err}"),
                        }
                    }
                }
                // Dropping the last sender ends the writer task above.
                socket
                    .shared
                    .with_value(|shared| shared.borrow_mut().outbox = None);
            }
            socket.status.set(Status::Reconnecting);
            let jitter = 0.5 + js_sys::Math::random();
            sleep(retry.mul_f64(jitter)).await;
            retry = (retry * 2).min(LAST_RETRY);
        }
    }
}

/// A fresh random id (128 bits, hex) for sessions.
pub fn random_id() -> String {
    random_hex::<16>()
}

/// A fresh id for a message the person sends: the time in milliseconds (11
/// hex digits, so ids sort by it) then 64 random bits. The store's client id
/// index leads with it, so ids made about now land on its last pages instead
/// of one page per room.
pub fn message_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        let now = js_sys::Date::now() as u64;
        format!("{now:011x}{}", random_hex::<8>())
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

fn random_hex<const N: usize>() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut bytes = [0u8; N];
        if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
            let _ = crypto.get_random_values_with_u8_array(&mut bytes);
        } else {
            for b in &mut bytes {
                *b = (js_sys::Math::random() * 256.0) as u8;
            }
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}
