//! The room page at `/r/:room`: the log (history rendered on the server, then
//! live entries over the socket), who is online, and the composer.

use crate::clock;
use crate::messages::{ClientId, Entry, EntryKind, HistoryPage, MessageBody, Seq, room_history};
use crate::people::{Nick, SessionId};
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame};
use crate::rooms::RoomName;
use crate::socket::{ChatSocket, RoomLink, Status, memory, random_id};
use leptos::html;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use std::collections::BTreeSet;
use std::rc::Rc;

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let room = move || params.read().get("room").unwrap_or_default();
    let history = Resource::new(room, |room| room_history(room, None, None));

    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the room…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(page) => view! { <RoomView page /> }.into_any(),
                    Err(_) => {
                        view! {
                            <main class="lobby">
                                <h1>"No such room"</h1>
                                <p class="problem">
                                    "A room name uses only letters, digits, '-' and '_'."
                                </p>
                                <a href="/">"Back to the lobby"</a>
                            </main>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// A message shown before the server has acknowledged it.
#[derive(Clone, PartialEq)]
struct Pending {
    client_id: ClientId,
    body: MessageBody,
}

/// Inserts `entry` in `seq` order unless the log already has it.
fn insert_entry(log: &mut Vec<Entry>, entry: Entry) -> bool {
    match log.last() {
        Some(last) if last.seq < entry.seq => {
            log.push(entry);
            true
        }
        None => {
            log.push(entry);
            true
        }
        _ => match log.binary_search_by_key(&entry.seq, |e| e.seq) {
            Ok(_) => false,
            Err(at) => {
                log.insert(at, entry);
                true
            }
        },
    }
}

#[component]
fn RoomView(page: HistoryPage) -> impl IntoView {
    let socket = ChatSocket::from_context();
    let room = page.room.clone();
    let log = RwSignal::new(page.entries);
    let pending = RwSignal::new(Vec::<Pending>::new());
    let online = RwSignal::new(BTreeSet::<Nick>::new());
    // Entries at or below `head` were already in the room when we joined; only
    // later ones change who is online.
    let head = StoredValue::new(Seq::MAX);
    let me = RwSignal::new(None::<Nick>);
    let joined = RwSignal::new(false);
    let asking_nick = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let info = RwSignal::new(None::<String>);
    let draft = RwSignal::new(String::new());
    let log_ref = NodeRef::<html::Div>::new();

    let on_frame = {
        let room = room.clone();
        move |frame: ServerFrame| match frame {
            ServerFrame::Joined {
                online: now,
                head: h,
                reset,
                ..
            } => {
                if reset {
                    // Too much was missed to replay: the latest page follows.
                    log.set(Vec::new());
                    info.set(Some(
                        "You were away for a while: showing the latest messages.".into(),
                    ));
                }
                head.set_value(h);
                online.set(now.into_iter().collect());
                joined.set(true);
                problem.set(None);
            }
            ServerFrame::Entry { entry, .. } => {
                if entry.seq > head.get_value() {
                    match &entry.kind {
                        EntryKind::Joined => {
                            online.update(|o| {
                                o.insert(entry.nick.clone());
                            });
                        }
                        EntryKind::Left => {
                            online.update(|o| {
                                o.remove(&entry.nick);
                            });
                        }
                        EntryKind::Message { .. } => {}
                    }
                }
                if let EntryKind::Message { client_id, .. } = &entry.kind {
                    pending.update(|p| p.retain(|m| &m.client_id != client_id));
                }
                let seq = entry.seq;
                let last = log.with_untracked(|l| l.last().map_or(0, |e| e.seq));
                log.update(|log| {
                    insert_entry(log, entry);
                });
                // A live entry that skips ahead means frames went missing in
                // between: fetch that range from the history.
                if seq > head.get_value() && last + 1 < seq {
                    fill_gap(room.clone(), last, seq, log);
                }
            }
            ServerFrame::Ack { client_id, .. } => {
                pending.update(|p| p.retain(|m| m.client_id != client_id));
            }
            ServerFrame::Error {
                code: ErrorCode::NickInUse,
                message,
                ..
            } => {
                socket.forget(&room);
                joined.set(false);
                me.set(None);
                asking_nick.set(true);
                problem.set(Some(message));
            }
            ServerFrame::Error { message, .. } => problem.set(Some(message)),
        }
    };

    let join = {
        let room = room.clone();
        move |nick: Nick| {
            let session = SessionId::parse(&memory::session()).ok();
            let Some(session) = session else {
                problem.set(Some("This browser cannot keep a session.".into()));
                return;
            };
            me.set(Some(nick.clone()));
            asking_nick.set(false);
            let on_frame = on_frame.clone();
            let room_for_join = room.clone();
            socket.enter(
                room.clone(),
                RoomLink {
                    on_connect: Rc::new(move || {
                        let mut frames = vec![ClientFrame::Join {
                            room: room_for_join.clone(),
                            nick: nick.clone(),
                            session: session.clone(),
                            since: Some(log.with_untracked(|l| l.last().map_or(0, |e| e.seq))),
                        }];
                        frames.extend(pending.get_untracked().into_iter().map(|p| {
                            ClientFrame::Send {
                                room: room_for_join.clone(),
                                client_id: p.client_id,
                                body: p.body,
                            }
                        }));
                        frames
                    }),
                    on_frame: Rc::new(on_frame),
                },
            );
        }
    };

    // Who we are is only known in the browser, after hydration.
    {
        let join = join.clone();
        Effect::new(
            move || match memory::nick().and_then(|n| Nick::parse(&n).ok()) {
                Some(nick) => join(nick),
                None => asking_nick.set(true),
            },
        );
    }
    {
        let room = room.clone();
        on_cleanup(move || socket.leave(&room));
    }

    // Keep the newest entry in view.
    Effect::new(move || {
        log.track();
        pending.track();
        if let Some(el) = log_ref.get() {
            el.set_scroll_top(el.scroll_height());
        }
    });

    let send = {
        let room = room.clone();
        move || {
            if !joined.get_untracked() {
                return;
            }
            match MessageBody::parse(&draft.get_untracked()) {
                Ok(body) => {
                    let Ok(client_id) = ClientId::parse(&random_id()) else {
                        return;
                    };
                    pending.update(|p| {
                        p.push(Pending {
                            client_id: client_id.clone(),
                            body: body.clone(),
                        })
                    });
                    socket.send(&ClientFrame::Send {
                        room: room.clone(),
                        client_id,
                        body,
                    });
                    draft.set(String::new());
                    problem.set(None);
                }
                Err(reason) => problem.set(Some(reason.to_string())),
            }
        }
    };

    let status_text = move || match (socket.status().get(), joined.get()) {
        (Status::Reconnecting, _) => Some("Reconnecting…"),
        (_, false) if me.get().is_some() => Some("Connecting…"),
        _ => None,
    };

    let title = format!("#{} · Chat", room);
    view! {
        <Title text=title />
        <main class="room">
            <header class="room-header">
                <a class="back" href="/">
                    "← Rooms"
                </a>
                <h1>{format!("#{room}")}</h1>
                <span class="status" role="status">
                    {status_text}
                </span>
                <span class="me">{move || me.get().map(|n| format!("You are {n}"))}</span>
            </header>
            <div class="room-body">
                <div
                    class="log"
                    role="log"
                    aria-label="Messages"
                    aria-live="polite"
                    node_ref=log_ref
                    tabindex="0"
                >
                    <For each=move || log.get() key=|entry| entry.seq let:entry>
                        <EntryLine entry />
                    </For>
                    <For each=move || pending.get() key=|p| p.client_id.clone() let:p>
                        <div class="message pending" aria-label="Sending">
                            <span class="author">{move || me.get().map(|n| n.to_string())}</span>
                            <span class="sending">"sending…"</span>
                            <p class="body">{p.body.as_str().to_owned()}</p>
                        </div>
                    </For>
                </div>
                <aside class="online">
                    <h2 id="online-heading">
                        "Online " <span class="count">{move || online.with(|o| o.len())}</span>
                    </h2>
                    <ul aria-label="Online">
                        <For each=move || online.get() key=|n| n.clone() let:nick>
                            <li>{nick.to_string()}</li>
                        </For>
                    </ul>
                </aside>
            </div>
            <p class="info" role="status">
                {move || info.get()}
            </p>
            <p class="problem" role="alert">
                {move || problem.get()}
            </p>
            <Show
                when=move || asking_nick.get()
                fallback=move || {
                    let send = send.clone();
                    let send_on_enter = send.clone();
                    view! {
                        <form
                            class="composer"
                            on:submit=move |ev: leptos::ev::SubmitEvent| {
                                ev.prevent_default();
                                send();
                            }
                        >
                            <textarea
                                aria-label="Message"
                                placeholder=move || {
                                    if joined.get() { "Write a message" } else { "Connecting…" }
                                }
                                rows="1"
                                maxlength="4000"
                                prop:disabled=move || !joined.get()
                                prop:value=move || draft.get()
                                on:input=move |ev| draft.set(event_target_value(&ev))
                                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                                    // Enter sends; Shift+Enter is a newline; an IME
                                    // composing text (keyCode 229) keeps its Enter.
                                    if ev.key() == "Enter" && !ev.shift_key()
                                        && !ev.is_composing() && ev.key_code() != 229
                                    {
                                        ev.prevent_default();
                                        send_on_enter();
                                    }
                                }
                            ></textarea>
                            <button type="submit" prop:disabled=move || !joined.get()>
                                "Send"
                            </button>
                        </form>
                    }
                }
            >
                <NickForm on_pick=join.clone() />
            </Show>
        </main>
    }
}

/// Loads the entries strictly between `last` and `next` into the log.
fn fill_gap(room: RoomName, last: Seq, next: Seq, log: RwSignal<Vec<Entry>>) {
    let missing = (next - last - 1).min(200) as u32;
    leptos::task::spawn_local(async move {
        if let Ok(page) = room_history(room.to_string(), Some(next), Some(missing)).await {
            log.update(|log| {
                for entry in page.entries {
                    insert_entry(log, entry);
                }
            });
        }
    });
}

/// Asks for a nickname on the room page itself (a shared link, or a taken nick).
#[component]
fn NickForm(on_pick: impl Fn(Nick) + Clone + 'static) -> impl IntoView {
    let nick = RwSignal::new(memory::nick().unwrap_or_default());
    let problem = RwSignal::new(None::<String>);
    view! {
        <form
            class="nick-form"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                match Nick::parse(&nick.get_untracked()) {
                    Ok(n) => {
                        memory::set_nick(n.as_str());
                        on_pick(n);
                    }
                    Err(reason) => problem.set(Some(reason.to_string())),
                }
            }
        >
            <label>
                "Nickname"
                <input
                    maxlength="32"
                    autocomplete="nickname"
                    prop:value=move || nick.get()
                    on:input=move |ev| nick.set(event_target_value(&ev))
                />
            </label>
            <button type="submit">"Join"</button>
            <span class="problem">{move || problem.get()}</span>
        </form>
    }
}

/// One line of the log: a message, or a join/leave notice.
#[component]
fn EntryLine(entry: Entry) -> impl IntoView {
    let at = entry.at;
    let local = use_context::<Hydrated>().map(|h| h.0);
    let shown_time = move || {
        #[cfg(feature = "hydrate")]
        if local.is_some_and(|l| l.get()) {
            return clock::hhmm_local(at);
        }
        let _ = local;
        clock::hhmm_utc(at)
    };
    let time = view! {
        <time datetime=clock::iso_utc(at)>{shown_time}</time>
    };
    let nick = entry.nick.to_string();
    match entry.kind {
        EntryKind::Message { body, .. } => view! {
            <div class="message" data-seq=entry.seq>
                <span class="author">{nick}</span>
                {time}
                <p class="body">{String::from(body)}</p>
            </div>
        }
        .into_any(),
        EntryKind::Joined => view! {
            <div class="notice" data-seq=entry.seq>
                <span>{format!("{nick} joined")}</span>
                {time}
            </div>
        }
        .into_any(),
        EntryKind::Left => view! {
            <div class="notice" data-seq=entry.seq>
                <span>{format!("{nick} left")}</span>
                {time}
            </div>
        }
        .into_any(),
    }
}

/// Flips to true once the browser has taken over the server-rendered page, so
/// views can switch to browser-only formatting (local time) without breaking
/// hydration.
#[derive(Clone, Copy)]
pub struct Hydrated(pub RwSignal<bool>);

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: Seq) -> Entry {
        Entry {
            seq,
            at: 0,
            nick: Nick::parse("n").unwrap(),
            kind: EntryKind::Joined,
        }
    }

    #[test]
    fn entries_stay_in_seq_order_and_unique() {
        let mut log = vec![];
        for seq in [1, 3, 2, 3, 1, 4] {
            insert_entry(&mut log, entry(seq));
        }
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }
}
