//! The rooms this person has joined: kept in the browser across reloads,
//! each followed in the background with an unread count, listed in the
//! sidebar with a way to join, create and leave rooms. The total unread count
//! goes into the page title.

use crate::accounts::AccountLinks;
use crate::alerts::{AlertToggles, Alerts};
use crate::conversation::Conversation;
use crate::erased::{Kept, Slot};
use crate::erased::{effect, handler};
use crate::messages::Entry;
use crate::navigation::Place;
use crate::people::Nick;
use crate::rooms::{PRIVATE_NAME_MAX_CHARS, ROOM_MAX_CHARS, RoomName};
use crate::socket::ChatSocket;
use crate::storage;
use leptos::prelude::*;

/// The joined rooms and their conversations; cheap to copy.
#[derive(Clone, Copy)]
pub struct JoinedRooms {
    /// In the order they were joined.
    pub list: Slot<Vec<RoomName>>,
    /// The room on screen, if any.
    pub active: Slot<Option<RoomName>>,
    /// Which joined rooms are direct messages, with the other person: the
    /// sidebar lists them apart, by that person's name.
    pub direct: Slot<Vec<(RoomName, Nick)>>,
    /// A list, not a map: a person joins a handful of rooms, and a map type
    /// costs the bundle its own hashing and table code.
    conversations: Kept<Vec<(RoomName, Conversation)>>,
    socket: ChatSocket,
    /// Conversations outlive the page that opened them, so they belong to
    /// the app's owner, not to a page's.
    owner: Kept<Owner>,
}

impl JoinedRooms {
    pub fn provide() -> Self {
        let socket = ChatSocket::from_context();
        let joined = Self {
            list: Slot::new(vec![]),
            active: Slot::new(None),
            direct: Slot::new(vec![]),
            conversations: Kept::new(Vec::new()),
            socket,
            owner: Kept::new(Owner::current().expect("created inside the app")),
        };
        provide_context(joined);
        let alerts = Alerts::from_context();
        // The saved list is only readable in the browser, after hydration:
        // follow every saved room that no page has opened yet.
        let signed_in = crate::accounts::Viewer::from_context().0;
        effect(move || {
            for (room, with) in storage::direct() {
                joined.remember_direct(&room, with);
            }
            for room in storage::rooms() {
                joined.follow(room, alerts);
            }
            // An account's private rooms and direct messages follow it to
            // every browser it signs in on.
            #[cfg(feature = "hydrate")]
            if let Some(account) = signed_in.clone() {
                leptos::task::spawn_local(async move {
                    // Published as soon as the account is used here, so a
                    // conversation begun with it seals the first words for
                    // this browser too (a device that appears later reads
                    // from then on).
                    let _ = crate::e2e::device::this_device(account.as_str()).await;
                    let Ok(list) = crate::api::call(&crate::rooms::PrivateRooms {}).await else {
                        return;
                    };
                    for private in list {
                        if let Some(with) = private.with {
                            joined.remember_direct(&private.room, with);
                        }
                        joined.follow(private.room, alerts);
                    }
                });
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = &signed_in;
        });
        // Let into a private room, or a direct message begun: it shows in
        // the sidebar at once, and is followed like a saved room.
        socket.on_invited(move |room, with| {
            if let Some(with) = with {
                joined.remember_direct(&room, with);
            }
            joined.follow(room, alerts);
        });
        // Coming back to the tab means the room on screen has been seen.
        #[cfg(feature = "hydrate")]
        {
            let handle = window_event_listener_untyped("visibilitychange", move |_| {
                if crate::alerts::tab_hidden() {
                    return;
                }
                let active = joined.active.get_untracked();
                if let Some(conversation) = active.and_then(|room| joined.get(&room)) {
                    conversation.seen();
                }
            });
            on_cleanup(move || handle.remove());
        }
        joined
    }

    pub fn from_context() -> Self {
        expect_context::<Self>()
    }

    /// The room's conversation, created (with `entries`) if it is new, else
    /// merged with them.
    pub fn conversation(
        &self,
        room: RoomName,
        entries: Vec<Entry>,
        at_start: bool,
    ) -> Conversation {
        if let Some(existing) = self.get(&room) {
            existing.merge(entries, at_start);
            return existing;
        }
        let conversation = self
            .owner
            .with_value(|owner| owner.with(|| Conversation::new(room.clone(), entries, at_start)));
        self.conversations
            .update_value(|c| c.push((room, conversation)));
        conversation
    }

    pub fn get(&self, room: &RoomName) -> Option<Conversation> {
        self.conversations
            .with_value(|c| c.iter().find(|(r, _)| r == room).map(|(_, c)| *c))
    }

    /// Follows `room` in the background (its unread count, its alerts) and
    /// lists it in the sidebar, unless that is done already.
    fn follow(&self, room: RoomName, alerts: Alerts) {
        if self.get(&room).is_none() {
            let conversation = self.conversation(room.clone(), vec![], false);
            if let Some(nick) = storage::nick().and_then(|n| Nick::parse(&n).ok()) {
                conversation.connect(self.socket, alerts, nick);
            }
        }
        self.remember(&room);
    }

    /// Marks `room` as the direct message with `with` (and saves that).
    pub fn remember_direct(&self, room: &RoomName, with: Nick) {
        if self
            .direct
            .with_untracked(|d| d.iter().any(|(r, _)| r == room))
        {
            return;
        }
        self.direct.update(|d| d.push((room.clone(), with)));
        storage::set_direct(&self.direct.get_untracked());
    }

    /// The other person of the direct message `room`, if it is one.
    pub fn direct_with(&self, room: &RoomName) -> Option<Nick> {
        self.direct
            .with(|d| d.iter().find(|(r, _)| r == room).map(|(_, n)| n.clone()))
    }

    /// Adds the room to the sidebar (and the saved list) if it is not there.
    pub fn remember(&self, room: &RoomName) {
        if self.list.with_untracked(|l| l.contains(room)) {
            return;
        }
        self.list.update(|l| l.push(room.clone()));
        storage::set_rooms(&self.list.get_untracked());
    }

    /// Leaves the room for good: the server hears it, the sidebar drops it.
    pub fn leave(&self, room: &RoomName) {
        self.socket.leave(room);
        if let Some(conversation) = self
            .conversations
            .try_update_value(|c| {
                let at = c.iter().position(|(r, _)| r == room)?;
                Some(c.remove(at).1)
            })
            .flatten()
        {
            conversation.left();
        }
        self.list.update(|l| l.retain(|r| r != room));
        storage::set_rooms(&self.list.get_untracked());
        if self
            .direct
            .with_untracked(|d| d.iter().any(|(r, _)| r == room))
        {
            self.direct.update(|d| d.retain(|(r, _)| r != room));
            storage::set_direct(&self.direct.get_untracked());
        }
    }

    /// Unread messages over every joined room.
    pub fn total_unread(&self) -> u32 {
        self.list.with(|list| {
            list.iter()
                .filter_map(|room| self.get(room))
                .map(|c| c.unread().get())
                .sum()
        })
    }
}

/// "(3) " in front of the title when something is unread.
pub fn unread_prefix(total: u32) -> String {
    if total == 0 {
        String::new()
    } else {
        format!("({total}) ")
    }
}

#[component]
pub fn Sidebar() -> impl IntoView {
    let joined = JoinedRooms::from_context();
    // Behind a button on narrow screens; always shown on wide ones (CSS).
    let open = Slot::new(false);
    // Private rooms are for accounts.
    let signed_in = crate::accounts::Viewer::from_context().0.is_some();
    let new_room = Slot::new(String::new());
    let problem = Slot::new(None::<String>);
    let place = Place::from_context();

    let go = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match RoomName::parse(&new_room.get_untracked()) {
            Ok(room) => {
                new_room.set(String::new());
                problem.set(None);
                open.set(false);
                place.go(&room.path());
            }
            Err(reason) => problem.set(Some(reason.to_string())),
        }
    };

    view! {
        <button
            type="button"
            class="sidebar-toggle"
            aria-controls="sidebar"
            aria-expanded=move || open.get().to_string()
            on:click=handler(move |_| open.update(|o| *o = !*o))
        >
            "Rooms"
            <span class="unread" aria-hidden="true">
                {move || {
                    let total = joined.total_unread();
                    (total > 0).then(|| total.to_string())
                }}
            </span>
        </button>
        <nav id="sidebar" class="sidebar" class:open=move || open.get() aria-label="Joined rooms">
            <h2 class="sidebar-heading">"Your rooms"</h2>
            <ul class="joined-rooms">
                {move || {
                    joined
                        .list
                        .get()
                        .into_iter()
                        .filter(|room| joined.direct_with(room).is_none())
                        .map(|room| {
                            view! { <JoinedRoom room with=None on_open=move || open.set(false) /> }
                        })
                        .collect::<Vec<_>>()
                }}
            </ul>
            <h2 class="sidebar-heading" hidden=move || joined.direct.with(Vec::is_empty)>
                "Direct messages"
            </h2>
            <ul class="joined-rooms" aria-label="Direct messages">
                {move || {
                    joined
                        .direct
                        .get()
                        .into_iter()
                        .filter(|(room, _)| joined.list.with(|l| l.contains(room)))
                        .map(|(room, with)| {
                            view! {
                                <JoinedRoom room with=Some(with) on_open=move || open.set(false) />
                            }
                        })
                        .collect::<Vec<_>>()
                }}
            </ul>
            <form class="new-room" on:submit=handler(go)>
                <label>
                    "Open or create"
                    <input
                        maxlength=ROOM_MAX_CHARS
                        placeholder="room-name"
                        prop:value=move || new_room.get()
                        on:input=handler(move |ev| new_room.set(event_target_value(&ev)))
                    />
                </label>
                <button type="submit">"Go"</button>
                <p class="problem" role="alert">
                    {move || problem.get()}
                </p>
            </form>
            {signed_in.then(new_private_room)}
            <a class="all-rooms" href="/" on:click=handler(move |_| open.set(false))>
                "All rooms"
            </a>
            <AlertToggles />
            <AccountLinks />
        </nav>
    }
}

#[component]
fn JoinedRoom(
    room: RoomName,
    /// A direct message's other person: it is listed by their name.
    with: Option<Nick>,
    on_open: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let (name, leave_label) = match &with {
        Some(with) => (
            with.to_string(),
            format!("Close the conversation with {with}"),
        ),
        None => (format!("#{room}"), format!("Leave #{room}")),
    };
    let joined = JoinedRooms::from_context();
    let place = Place::from_context();
    let unread = {
        let room = room.clone();
        move || joined.get(&room).map_or(0, |c| c.unread().get())
    };
    let mentions = {
        let room = room.clone();
        move || joined.get(&room).map_or(0, |c| c.mentions().get())
    };
    let current = {
        let room = room.clone();
        move || joined.active.with(|a| a.as_ref() == Some(&room))
    };
    let leave = {
        let room = room.clone();
        move |_| {
            let was_current = joined.active.with_untracked(|a| a.as_ref() == Some(&room));
            joined.leave(&room);
            if was_current {
                place.go("/");
            }
        }
    };
    let label = {
        let name = name.clone();
        let unread = unread.clone();
        let mentions = mentions.clone();
        move || match (unread(), mentions()) {
            (0, _) => name.clone(),
            (n, 0) => format!("{name}, {n} unread"),
            (n, 1) => format!("{name}, {n} unread, 1 mention"),
            (n, m) => format!("{name}, {n} unread, {m} mentions"),
        }
    };
    view! {
        <li class="joined-room" class:current=current.clone()>
            <a
                href=room.path()
                aria-label=label
                aria-current={
                    let current = current.clone();
                    move || current().then_some("page")
                }
                on:click=handler(move |_| on_open())
            >
                <span class="name">{name}</span>
                <span
                    class="unread"
                    class:mentioned={
                        let mentions = mentions.clone();
                        move || mentions() > 0
                    }
                    aria-hidden="true"
                >
                    {
                        let mentions = mentions.clone();
                        move || {
                        // A mention shows as "@" before the count.
                        match (unread(), mentions()) {
                            (0, _) => None,
                            (n, 0) => Some(n.to_string()),
                            (n, _) => Some(format!("@{n}")),
                        }
                    }
                    }
                </span>
            </a>
            <button
                type="button"
                class="leave"
                aria-label=leave_label.clone()
                title=leave_label
                on:click=handler(leave)
            >
                "×"
            </button>
        </li>
    }
}

/// A button that opens the form making a private room (signed-in people
/// only). A plain form post: the server answers with the new room's page.
fn new_private_room() -> impl IntoView {
    let creating = Slot::new(false);
    view! {
        <button
            type="button"
            class="new-private"
            aria-expanded=move || creating.get().to_string()
            on:click=handler(move |_| creating.update(|open| *open = !*open))
        >
            "New private room"
        </button>
        <form method="post" action="/account/private-rooms" hidden=move || !creating.get()>
            <label>
                "Room name"
                <input name="room" required maxlength=PRIVATE_NAME_MAX_CHARS autocomplete="off" />
            </label>
            <button type="submit">"Create"</button>
        </form>
    }
}
