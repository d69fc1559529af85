//! The room page at `/r/:room`: the log (history rendered on the server, then
//! live entries over the socket, older pages as the reader scrolls up), who is
//! online and typing, and the composer with emoji. The room's state itself is
//! a [`Conversation`](crate::conversation::Conversation) that outlives this
//! page.
//!
//! Files:
//! - `mod.rs`: the page ([`RoomPage`]) and its layout, scrolling and status.
//! - `log.rs`: the log's rows: entry lines, grouping, day separators, and
//!   message bodies drawn from their parsed markup.
//! - `composer.rs`: the message box with `:shortcode:` completion.
//! - `attach.rs`: the Attach button, the picked files' list (progress,
//!   cancel, retry), paste and drop.
//! - `viewer.rs`: pictures full size (arrows, Escape).
//! - `answer.rs`: the assistant's answer as it is written.
//! - `safety.rs`: the safety number with another person in an encrypted
//!   conversation.
//! - `backup.rs`: turning key backup on, and restoring from it.
//! - `members.rs`: a private room's members, and the owner's invite and
//!   remove forms.
//! - `emoji_picker.rs`: the emoji palette opened from the composer (and to
//!   pick a reaction).
//!
//! The nickname form shown when the room has no nickname yet is shared with
//! the lobby, in [`crate::nick_form`].

mod answer;
mod attach;
mod backup;
mod composer;
mod emoji_picker;
mod log;
mod members;
mod safety;
mod viewer;

use crate::accounts::Viewer;
use crate::alerts::Alerts;
use crate::api::CallFailed;
use crate::clock::Hydrated;
use crate::conversation::typing_text;
use crate::erased::{Kept, Slot};
use crate::erased::{When, effect, handler};
use crate::messages::{Emoji, EntryKind, HistoryPage, Seq, fetch_history};
use crate::navigation::{Place, Route};
use crate::nick_form::NickForm;
use crate::page_data::{self, Failure, Preloaded};
use crate::people::Nick;
use crate::protocol::ClientFrame;
use crate::rooms::RoomName;
use crate::sidebar::JoinedRooms;
use crate::socket::{ChatSocket, Status};
use crate::storage;
use composer::Composer;
use emoji_picker::EmojiPicker;
use leptos::html;
use leptos::prelude::*;
use log::{DaySeparator, EntryLine, body_view, on_log_click, rows};

#[component]
pub fn RoomPage() -> impl IntoView {
    let place = Place::from_context();
    let history = page_data::follow(
        move || place.room(),
        |room| async move {
            if RoomName::parse(&room).is_err() {
                return Err(Failure::NoSuchRoom);
            }
            fetch_history(&room, None, None)
                .await
                .map_err(|failed| match failed {
                    CallFailed::Refused(reason) => Failure::Refused(reason),
                    CallFailed::NotFound => Failure::NoSuchRoom,
                    CallFailed::Failed => Failure::Unavailable,
                })
        },
        |preloaded| match preloaded {
            Preloaded::Room(page) => Some(page.clone()),
            Preloaded::Lobby(_) => None,
        },
    );

    move || match history.get() {
        None => view! { <p class="loading">"Loading the room…"</p> }.into_any(),
        Some(Ok(page)) => view! { <RoomView page /> }.into_any(),
        Some(Err(failure)) => {
            let (heading, reason) = match failure {
                Failure::NoSuchRoom => (
                    "No such room",
                    "No room by that name is open to you. A room name uses only letters, digits, '-' and '_'.".to_owned(),
                ),
                Failure::Refused(reason) => ("You cannot open this room", reason),
                Failure::Unavailable => (
                    "This room could not be loaded",
                    "The server could not load it; try again.".to_owned(),
                ),
            };
            view! {
                <main class="lobby">
                    <h1>{heading}</h1>
                    <p class="problem">{reason}</p>
                    <a href="/">"Back to the lobby"</a>
                </main>
            }
            .into_any()
        }
    }
}

/// Within this many pixels of an edge counts as being at that edge.
const EDGE_PX: i32 = 48;

#[component]
fn RoomView(page: HistoryPage) -> impl IntoView {
    let socket = ChatSocket::from_context();
    let alerts = Alerts::from_context();
    let joined = JoinedRooms::from_context();
    let room = page.room.clone();
    let signed_in = Viewer::from_context().0;
    let reader = signed_in.clone();
    // A direct message is named after the other person, and has no
    // members to manage.
    let direct_with = page
        .roster
        .as_ref()
        .and_then(|roster| roster.direct_with(signed_in.as_ref()));
    if let Some(with) = &direct_with {
        joined.remember_direct(&room, with.clone());
    }
    let conv = joined.conversation(room.clone(), page.entries, page.at_start);
    let members = page.roster.filter(|roster| !roster.direct).map(|roster| {
        let me = signed_in.clone();
        view! { <members::Members conv room=room.clone() roster me /> }
    });
    let local = use_context::<Hydrated>().map(|h| h.0);
    let log_ref = NodeRef::<html::Div>::new();
    // Follow new entries only while the reader is at the bottom; otherwise
    // count them on the "N new messages" button.
    let stuck = Kept::new(true);
    let new_below = Slot::new(0u32);
    let last_shown = Kept::new(conv.log().with_untracked(|l| l.last().map_or(0, |e| e.seq)));

    conv.set_on_screen(true);
    joined.active.set(Some(room.clone()));
    {
        let room = room.clone();
        on_cleanup(move || {
            conv.set_on_screen(false);
            joined.active.update(|a| {
                if a.as_ref() == Some(&room) {
                    *a = None;
                }
            });
        });
    }

    // Moving between rooms keeps this page and changes only the place, so
    // the query is read from it (a search result's `?at=` must not follow
    // the reader into the next room).
    let place = Place::from_context();
    // A link may carry the nickname (`?nick=`): the lobby's form sends one
    // when it is submitted before the page is interactive, or without
    // JavaScript at all.
    let link_nick = place
        .query_untracked("nick")
        .and_then(|n| Nick::parse(&n).ok());
    let hydrated = use_context::<Hydrated>().is_some_and(|h| h.0.get_untracked());
    // Asking since an earlier visit (a nickname that was taken): keep asking.
    let asked_before = hydrated && conv.asking_nick().get_untracked();
    // The server's render (and so the first one in the browser) cannot know
    // a remembered nickname: without one in the link, the composer also has
    // a nickname field, for a person without JavaScript. The browser drops
    // it as soon as it knows who this is (or asks with its own form).
    // Signed in, the session says who posts: no nickname field at all.
    let plain_nick_field = Slot::new(
        !hydrated
            && link_nick.is_none()
            && conv.me().get_untracked().is_none()
            && signed_in.is_none(),
    );

    // Who we are is only known for sure in the browser, after hydration.
    {
        let room = room.clone();
        let link_nick = link_nick.clone();
        effect(move || {
            let account = signed_in.clone();
            plain_nick_field.set(false);
            joined.remember(&room);
            if let Some(nick) = &link_nick {
                storage::set_nick(nick.as_str());
                forget_link_nick(&room);
            }
            if conv.me().get_untracked().is_some() || asked_before {
                return;
            }
            // Signed in, the account's name is the nickname: no question.
            let nick = account
                .or_else(|| link_nick.clone())
                .or_else(|| storage::nick().and_then(|n| Nick::parse(&n).ok()));
            match nick {
                Some(nick) => conv.connect(socket, alerts, nick),
                None => conv.ask_nick(),
            }
        });
    }

    let scroll_to_bottom = move || {
        if let Some(el) = log_ref.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };

    effect(move || {
        let me = conv.me().get_untracked();
        let (last, fresh) = conv.log().with(|log| {
            let since = last_shown.get_value();
            let fresh = log
                .iter()
                .rev()
                .take_while(|e| e.seq > since)
                .filter(|e| {
                    matches!(e.kind, EntryKind::Message { .. }) && Some(&e.nick) != me.as_ref()
                })
                .count() as u32;
            (log.last().map_or(0, |e| e.seq), fresh)
        });
        let mine = conv.pending().with(|p| !p.is_empty());
        last_shown.set_value(last);
        if stuck.get_value() || mine {
            scroll_to_bottom();
        } else {
            new_below.update(|n| *n += fresh);
        }
    });

    let load_older = move || {
        leptos::task::spawn_local(async move {
            let before = log_ref
                .get_untracked()
                .map(|el| el.scroll_height() - el.scroll_top());
            if conv.load_older().await
                && let Some(distance) = before
            {
                // Keep the entry the reader was looking at in place once the
                // older page has been drawn above it.
                // The page may be gone by now (another room was opened).
                request_animation_frame(move || {
                    if let Some(el) = log_ref.try_get_untracked().flatten() {
                        el.set_scroll_top(el.scroll_height() - distance);
                    }
                });
            }
        });
    };

    let on_scroll = move |_| {
        let Some(el) = log_ref.get_untracked() else {
            return;
        };
        let at_bottom = el.scroll_height() - el.scroll_top() - el.client_height() < EDGE_PX;
        stuck.set_value(at_bottom);
        if at_bottom {
            new_below.set(0);
        }
        if el.scroll_top() < EDGE_PX {
            load_older();
        }
    };

    // Reply quotes and search results jump to a message, loading older
    // history until it is there.
    let jump = Callback::new(move |seq: Seq| {
        stuck.set_value(false);
        leptos::task::spawn_local(async move {
            if conv.reveal(seq).await {
                request_animation_frame(move || show_message(seq));
            } else {
                conv.tell_info("That message is no longer in this room's history.");
            }
        });
    });
    // A search result links here with `?at=SEQ`.
    effect(move || {
        if let Some(seq) = place.query("at").and_then(|s| s.parse::<Seq>().ok()) {
            jump.run(seq);
        }
    });
    let reacting = Slot::new(None::<Seq>);
    let react_with = move |emoji: String| {
        let Some(target) = reacting.get_untracked() else {
            return;
        };
        reacting.set(None);
        if let Ok(emoji) = Emoji::parse(&emoji) {
            conv.act(
                socket,
                ClientFrame::React {
                    room: conv.room(),
                    target,
                    emoji,
                    on: true,
                },
            );
        }
    };

    let jump_to_latest = move |_| {
        stuck.set_value(true);
        new_below.set(0);
        scroll_to_bottom();
    };

    let status_text = move || match (socket.status(), conv.joined().get()) {
        (Status::Reconnecting, _) => Some("Reconnecting…"),
        (_, false) if conv.me().get().is_some() => Some("Connecting…"),
        _ => None,
    };
    let typing = move || {
        let nicks: Vec<Nick> = conv
            .typing()
            .with(|t| t.iter().map(|(n, _)| n.clone()).collect());
        typing_text(&nicks)
    };
    let joined_rooms = move || {
        joined
            .list
            .with(|l| l.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","))
    };
    let (title, kind, start_text) = match &direct_with {
        Some(with) => (
            with.to_string(),
            Some("Direct message"),
            format!("This is the start of your conversation with {with}."),
        ),
        None => (
            format!("#{room}"),
            room.is_private().then_some("Private room"),
            format!("This is the start of #{room}."),
        ),
    };
    // Beside each signed-in person in the online list, for a signed-in
    // reader: "Message NAME" opens (or begins) their direct message.
    let can_message = reader.is_some() && direct_with.is_none();
    let room_path = room.path();
    let post_path = Route::RoomPost.to(&room);

    view! {
        <main
            class="room"
            on:dragover=handler(move |ev: leptos::ev::DragEvent| {
                // Dropping files here attaches them (anything else is left alone).
                #[cfg(feature = "hydrate")]
                if ev.data_transfer().is_some_and(|d| d.types().includes(&"Files".into(), 0)) {
                    ev.prevent_default();
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = ev;
            })
            on:drop=handler(move |ev: leptos::ev::DragEvent| {
                #[cfg(feature = "hydrate")]
                if attach::take_files(conv, ev.data_transfer().and_then(|d| d.files())) {
                    ev.prevent_default();
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = ev;
            })
        >
            <viewer::Viewer conv />
            <header class="room-header">
                <h1>{title}</h1>
                {kind.map(|kind| view! { <span class="private">{kind}</span> })}
                {room.is_private().then(|| view! {
                    <span class="encrypted" title="Only its members' devices can read what is said here">
                        "End-to-end encrypted"
                    </span>
                })}
                {direct_with.clone().map(|with| view! {
                    <safety::SafetyNumber conv with label="Safety number".to_owned() />
                })}
                {room.is_private().then(|| view! { <backup::KeyBackup conv /> })}
                <span class="status" role="status">
                    {status_text}
                </span>
                <span class="me">{move || conv.me().get().map(|n| format!("You are {n}"))}</span>
                // The server cannot search an encrypted conversation.
                {(!room.is_private()).then(|| view! {
                <form class="message-search" role="search" method="get" action=Route::Search.pattern()>
                    <input type="hidden" name="room" value=room.to_string() />
                    // The server cannot know which rooms this browser is in.
                    <input type="hidden" name="rooms" prop:value=joined_rooms />
                    <input
                        type="search"
                        name="q"
                        aria-label="Search messages"
                        placeholder="Search messages"
                        maxlength="200"
                    />
                    <label class="everywhere">
                        <input type="checkbox" name="everywhere" value="1" />
                        "All my rooms"
                    </label>
                </form>
                })}
            </header>
            <div class="room-body">
                <div class="log-column">
                    <div
                        class="log"
                        class:moderating=move || conv.moderator().get()
                        role="log"
                        aria-label="Messages"
                        aria-live="polite"
                        node_ref=log_ref
                        tabindex="0"
                        on:scroll=handler(on_scroll)
                        on:click=handler(move |ev| on_log_click(&ev, conv, reacting, jump))
                    >
                        <When
                            when=move || conv.at_start().get()
                            fallback=move || {
                                view! {
                                    <button
                                        type="button"
                                        class="older"
                                        prop:disabled=move || conv.loading_older.get()
                                        on:click=handler(move |_| load_older())
                                    >
                                        {move || {
                                            if conv.loading_older.get() {
                                                "Loading earlier messages…"
                                            } else {
                                                "Load earlier messages"
                                            }
                                        }}
                                    </button>
                                }
                            }
                        >
                            <p class="room-start">{start_text.clone()}</p>
                        </When>
                        <For
                            each=move || {
                                let local = local.is_some_and(|l| l.get());
                                conv.log().with(|log| rows(log, local))
                            }
                            key=|row| (row.entry.seq, row.version, row.grouped, row.day)
                            let:row
                        >
                            {row.day.map(|day| view! { <DaySeparator day /> })}
                            <EntryLine entry=row.entry grouped=row.grouped conv />
                        </For>
                        // Short lists are drawn again whole when they change (no keyed
                        // `For`): one compiled copy of the list code for all of them.
                        {move || {
                            conv.pending()
                                .get()
                                .into_iter()
                                .map(|p| {
                                    view! {
                                        <div class="message pending" aria-label="Sending">
                                            <span class="author">
                                                {move || conv.me().get().map(|n| n.to_string())}
                                            </span>
                                            <span class="sending">"sending…"</span>
                                            <div class="body">{body_view(p.body.as_str())}</div>
                                        </div>
                                    }
                                        .into_any()
                                })
                                .collect::<Vec<_>>()
                        }}
                    </div>
                    <When when=move || { new_below.get() > 0 }>
                        <button type="button" class="jump" on:click=handler(jump_to_latest)>
                            {move || match new_below.get() {
                                1 => "1 new message ↓".to_string(),
                                n => format!("{n} new messages ↓"),
                            }}
                        </button>
                    </When>
                    {move || {
                        reacting
                            .get()
                            .map(|_| {
                                view! {
                                    <EmojiPicker
                                        on_pick=react_with
                                        on_close=move || reacting.set(None)
                                    />
                                }
                            })
                    }}
                    <answer::Answer conv socket />
                    <p class="typing" aria-live="polite">
                        {typing}
                    </p>
                </div>
                <aside class="online" aria-labelledby="online-heading">
                    <h2 id="online-heading">
                        "Online " <span class="count">{move || conv.online().with(|o| o.len())}</span>
                    </h2>
                    <ul aria-label="Online">
                        // The assistant, where it answers, marked as the bot it is.
                        {move || {
                            conv.assistant().get().filter(|(_, here)| *here).map(|(bot, _)| {
                                view! {
                                    <li>
                                        <bdi>{bot.to_string()}</bdi>
                                        <span class="bot">" bot"</span>
                                    </li>
                                }
                            })
                        }}
                        {move || {
                            conv.online()
                                .get()
                                .into_iter()
                                .map(|(nick, member)| {
                                    let message = (can_message && member
                                        && reader.as_ref() != Some(&nick))
                                        .then(|| message_button(&nick));
                                    view! {
                                        <li>
                                            <bdi>{nick.to_string()}</bdi>
                                            {(!member).then(|| view! { <span class="guest">" guest"</span> })}
                                            {message}
                                        </li>
                                    }
                                        .into_any()
                                })
                                .collect::<Vec<_>>()
                        }}
                    </ul>
                    {members}
                </aside>
            </div>
            <p class="info" role="status">
                {move || conv.info().get()}
            </p>
            <p class="problem" role="alert">
                {move || conv.problem().get()}
            </p>
            <When
                when=move || conv.asking_nick().get()
                fallback=move || {
                    view! {
                        <Composer
                            conv
                            action=post_path.clone()
                            plain_nick=link_nick.clone()
                            plain_nick_field
                        />
                    }
                }
            >
                <NickForm
                    on_pick=move |nick| conv.connect(socket, alerts, nick)
                    action=room_path.clone()
                />
            </When>
        </main>
    }
}

/// A plain form post, so it works before the page is interactive: the
/// server answers with the direct message's page.
fn message_button(nick: &Nick) -> impl IntoView + use<> {
    view! {
        <form class="message-person" method="post" action="/dm">
            <input type="hidden" name="name" value=nick.to_string() />
            <button type="submit" aria-label=format!("Message {nick}") title=format!("Message {nick}")>
                "Message"
            </button>
        </form>
    }
}

/// Takes `?nick=` out of the address bar once the nickname is remembered, so
/// the room's address stays the one to share.
fn forget_link_nick(room: &crate::rooms::RoomName) {
    #[cfg(feature = "hydrate")]
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ =
            history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&room.path()));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = room;
}

/// Scrolls message `seq` into view and puts the keyboard on it.
fn show_message(seq: Seq) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(&format!("m-{seq}")))
    {
        el.scroll_into_view();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = seq;
}
