//! The room page at `/r/:room`: the log (history rendered on the server, then
//! live entries over the socket, older pages as the reader scrolls up), who is
//! online and typing, and the composer with emoji. The room's state itself is
//! a [`Conversation`] that outlives this page.

use crate::alerts::Alerts;
use crate::clock;
use crate::conversation::{Conversation, typing_text};
use crate::emoji::{self, EmojiChoice};
use crate::markup::{self, Block, Piece, Span};
use crate::messages::{Entry, EntryKind, HistoryPage, room_history};
use crate::people::Nick;
use crate::sidebar::{JoinedRooms, unread_prefix};
use crate::socket::{ChatSocket, Status, memory};
use leptos::either::{Either, EitherOf3};
use leptos::html;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

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

/// A log line with what its neighbours decide about it.
#[derive(Clone, PartialEq)]
struct Row {
    entry: Entry,
    /// Same author as the message just above, within a few minutes: shown
    /// without repeating the name and time.
    grouped: bool,
    /// The first entry of a calendar day gets a separator above it.
    day: Option<i64>,
}

/// Messages closer than this to the previous one by the same author are grouped.
const GROUP_WITHIN_MS: i64 = 5 * 60_000;

fn rows(log: &[Entry], local: bool) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::with_capacity(log.len());
    let mut previous: Option<(&Entry, i64)> = None;
    for entry in log {
        let day = clock::day_number(entry.at, clock::zone_offset_ms(entry.at, local));
        let new_day = previous.is_none_or(|(_, d)| d != day);
        let grouped = !new_day
            && matches!(entry.kind, EntryKind::Message { .. })
            && previous.is_some_and(|(p, _)| {
                matches!(p.kind, EntryKind::Message { .. })
                    && p.nick == entry.nick
                    && entry.at - p.at < GROUP_WITHIN_MS
            });
        rows.push(Row {
            entry: entry.clone(),
            grouped,
            day: new_day.then_some(day),
        });
        previous = Some((entry, day));
    }
    rows
}

/// Within this many pixels of an edge counts as being at that edge.
const EDGE_PX: i32 = 48;

#[component]
fn RoomView(page: HistoryPage) -> impl IntoView {
    let socket = ChatSocket::from_context();
    let alerts = Alerts::from_context();
    let joined = JoinedRooms::from_context();
    let room = page.room.clone();
    let conv = joined.conversation(room.clone(), page.entries, page.at_start);
    let local = use_context::<Hydrated>().map(|h| h.0);
    let log_ref = NodeRef::<html::Div>::new();
    // Follow new entries only while the reader is at the bottom; otherwise
    // count them on the "N new messages" button.
    let stuck = StoredValue::new(true);
    let new_below = RwSignal::new(0u32);
    let last_shown = StoredValue::new(conv.log.with_untracked(|l| l.last().map_or(0, |e| e.seq)));

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

    // Who we are is only known in the browser, after hydration.
    {
        let room = room.clone();
        Effect::new(move || {
            joined.remember(&room);
            if conv.me.get_untracked().is_some() || conv.asking_nick.get_untracked() {
                return;
            }
            match memory::nick().and_then(|n| Nick::parse(&n).ok()) {
                Some(nick) => conv.connect(socket, alerts, nick),
                None => conv.asking_nick.set(true),
            }
        });
    }

    let scroll_to_bottom = move || {
        if let Some(el) = log_ref.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };

    Effect::new(move || {
        let me = conv.me.get_untracked();
        let (last, fresh) = conv.log.with(|log| {
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
        let mine = conv.pending.with(|p| !p.is_empty());
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

    let jump_to_latest = move |_| {
        stuck.set_value(true);
        new_below.set(0);
        scroll_to_bottom();
    };

    let status_text = move || match (socket.status().get(), conv.joined.get()) {
        (Status::Reconnecting, _) => Some("Reconnecting…"),
        (_, false) if conv.me.get().is_some() => Some("Connecting…"),
        _ => None,
    };
    let typing = move || {
        let nicks: Vec<Nick> = conv
            .typing
            .with(|t| t.iter().map(|(n, _)| n.clone()).collect());
        typing_text(&nicks)
    };
    let title = {
        let room = room.clone();
        move || format!("{}#{room} · Chat", unread_prefix(joined.total_unread()))
    };
    let start_text = format!("This is the start of #{room}.");

    view! {
        <Title text=title />
        <main class="room">
            <header class="room-header">
                <h1>{format!("#{room}")}</h1>
                <span class="status" role="status">
                    {status_text}
                </span>
                <span class="me">{move || conv.me.get().map(|n| format!("You are {n}"))}</span>
            </header>
            <div class="room-body">
                <div class="log-column">
                    <div
                        class="log"
                        role="log"
                        aria-label="Messages"
                        aria-live="polite"
                        node_ref=log_ref
                        tabindex="0"
                        on:scroll=on_scroll
                    >
                        <Show
                            when=move || conv.at_start.get()
                            fallback=move || {
                                view! {
                                    <button
                                        type="button"
                                        class="older"
                                        prop:disabled=move || conv.loading_older.get()
                                        on:click=move |_| load_older()
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
                        </Show>
                        <For
                            each=move || {
                                let local = local.is_some_and(|l| l.get());
                                conv.log.with(|log| rows(log, local))
                            }
                            key=|row| (row.entry.seq, row.grouped, row.day)
                            let:row
                        >
                            {row.day.map(|day| view! { <DaySeparator day /> })}
                            <EntryLine entry=row.entry grouped=row.grouped me=conv.me />
                        </For>
                        <For each=move || conv.pending.get() key=|p| p.client_id.clone() let:p>
                            <div class="message pending" aria-label="Sending">
                                <span class="author">
                                    {move || conv.me.get().map(|n| n.to_string())}
                                </span>
                                <span class="sending">"sending…"</span>
                                <div class="body">{body_view(p.body.as_str())}</div>
                            </div>
                        </For>
                    </div>
                    <Show when=move || { new_below.get() > 0 }>
                        <button type="button" class="jump" on:click=jump_to_latest>
                            {move || match new_below.get() {
                                1 => "1 new message ↓".to_string(),
                                n => format!("{n} new messages ↓"),
                            }}
                        </button>
                    </Show>
                    <p class="typing" aria-live="polite">
                        {typing}
                    </p>
                </div>
                <aside class="online" aria-labelledby="online-heading">
                    <h2 id="online-heading">
                        "Online " <span class="count">{move || conv.online.with(|o| o.len())}</span>
                    </h2>
                    <ul aria-label="Online">
                        <For each=move || conv.online.get() key=|n| n.clone() let:nick>
                            <li><bdi>{nick.to_string()}</bdi></li>
                        </For>
                    </ul>
                </aside>
            </div>
            <p class="info" role="status">
                {move || conv.info.get()}
            </p>
            <p class="problem" role="alert">
                {move || conv.problem.get()}
            </p>
            <Show
                when=move || conv.asking_nick.get()
                fallback=move || view! { <Composer conv /> }
            >
                <NickForm on_pick=move |nick| conv.connect(socket, alerts, nick) />
            </Show>
        </main>
    }
}

/// The message box with its emoji picker and `:shortcode:` completion.
#[component]
fn Composer(conv: Conversation) -> impl IntoView {
    let socket = ChatSocket::from_context();
    let box_ref = NodeRef::<html::Textarea>::new();
    let picker_open = RwSignal::new(false);
    let suggestions = RwSignal::new(Vec::<EmojiChoice>::new());
    let chosen = RwSignal::new(0usize);
    // The shortcode being completed: (byte range in the draft, code).
    let completing = StoredValue::new(None::<(usize, usize, String)>);

    // Puts `emoji` in place of `range` of the draft and the caret after it.
    let put = move |range: (usize, usize), emoji: &str| {
        let draft = conv.draft.get_untracked();
        let (from, to) = (range.0.min(draft.len()), range.1.min(draft.len()));
        let text = format!("{}{emoji}{}", &draft[..from], &draft[to..]);
        let caret = utf16_len(&draft[..from]) + utf16_len(emoji);
        conv.draft.set(text.clone());
        if let Some(el) = box_ref.get_untracked() {
            el.set_value(&text);
            let _ = el.focus();
            let _ = el.set_selection_range(caret, caret);
        }
        suggestions.set(vec![]);
        completing.set_value(None);
    };

    let accept = move |i: usize| {
        let Some(choice) = suggestions.with_untracked(|s| s.get(i).cloned()) else {
            return;
        };
        if let Some((from, to, _)) = completing.get_value() {
            put((from, to), &choice.emoji);
        }
    };

    let complete = move || {
        let Some(el) = box_ref.get_untracked() else {
            return;
        };
        let text = el.value();
        let caret = byte_index(&text, el.selection_start().ok().flatten().unwrap_or(0));
        // A whole `:tada:` typed out turns into 🎉 once the server knows it.
        if let Some((colon, code)) = emoji::finished_shortcode(&text, caret) {
            let code = code.to_owned();
            suggestions.set(vec![]);
            completing.set_value(None);
            // Cancelled with the page; and only applied if nothing was typed
            // meanwhile, so the caret never jumps under the person's fingers.
            leptos::task::spawn_local_scoped_with_cancellation(async move {
                let found = emoji::emoji_matches(code.clone()).await.unwrap_or_default();
                let unchanged = conv.draft.with_untracked(|d| *d == text);
                if let Some(exact) = found.into_iter().find(|c| c.shortcode == code)
                    && unchanged
                {
                    put((colon, caret), &exact.emoji);
                }
            });
            return;
        }
        let Some((colon, code)) = emoji::shortcode_before(&text, caret) else {
            suggestions.set(vec![]);
            completing.set_value(None);
            return;
        };
        let code = code.to_owned();
        completing.set_value(Some((colon, caret, code.clone())));
        leptos::task::spawn_local_scoped_with_cancellation(async move {
            let found = emoji::emoji_matches(code.clone()).await.unwrap_or_default();
            // Only the answer for what is typed now counts.
            if completing.with_value(|c| c.as_ref().is_some_and(|(_, _, now)| *now == code)) {
                chosen.set(0);
                suggestions.set(found);
            }
        });
    };

    let send = move || {
        alerts_unlock();
        conv.send_draft(socket);
        suggestions.set(vec![]);
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let offered = suggestions.with_untracked(|s| s.len());
        if offered > 0 {
            match ev.key().as_str() {
                "ArrowDown" => {
                    ev.prevent_default();
                    chosen.update(|c| *c = (*c + 1) % offered);
                    return;
                }
                "ArrowUp" => {
                    ev.prevent_default();
                    chosen.update(|c| *c = (*c + offered - 1) % offered);
                    return;
                }
                "Enter" | "Tab" if !ev.shift_key() && !ev.is_composing() => {
                    ev.prevent_default();
                    accept(chosen.get_untracked());
                    return;
                }
                "Escape" => {
                    suggestions.set(vec![]);
                    return;
                }
                _ => {}
            }
        }
        // Enter sends; Shift+Enter is a newline; an IME composing text
        // (keyCode 229) keeps its Enter.
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && ev.key_code() != 229 {
            ev.prevent_default();
            send();
        }
    };

    let pick = move |emoji: String| {
        let range = box_ref
            .get_untracked()
            .map(|el| {
                let text = el.value();
                let start = el
                    .selection_start()
                    .ok()
                    .flatten()
                    .unwrap_or(utf16_len(&text));
                let end = el.selection_end().ok().flatten().unwrap_or(start);
                (byte_index(&text, start), byte_index(&text, end))
            })
            .unwrap_or((usize::MAX, usize::MAX));
        put(range, &emoji);
    };

    view! {
        <form
            class="composer"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                send();
            }
        >
            <Show when=move || suggestions.with(|s| !s.is_empty())>
                <ul class="emoji-suggestions" role="listbox" aria-label="Emoji suggestions">
                    {move || {
                        suggestions
                            .get()
                            .into_iter()
                            .enumerate()
                            .map(|(i, choice)| {
                                view! {
                                    <li
                                        role="option"
                                        aria-selected=move || (chosen.get() == i).to_string()
                                        on:mousedown=move |ev| {
                                            ev.prevent_default();
                                            accept(i);
                                        }
                                    >
                                        <span class="emoji">{choice.emoji}</span>
                                        {format!(":{}:", choice.shortcode)}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
            <textarea
                aria-label="Message"
                node_ref=box_ref
                placeholder=move || {
                    if conv.joined.get() { "Write a message" } else { "Connecting…" }
                }
                rows="1"
                maxlength="4000"
                prop:disabled=move || !conv.joined.get()
                prop:value=move || conv.draft.get()
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    if !text.trim().is_empty() {
                        conv.note_typing(socket);
                    }
                    conv.draft.set(text);
                    complete();
                }
                on:keydown=on_keydown
                on:blur=move |_| suggestions.set(vec![])
            ></textarea>
            <button
                type="button"
                class="emoji-button"
                aria-label="Emoji"
                aria-expanded=move || picker_open.get().to_string()
                on:click=move |_| picker_open.update(|o| *o = !*o)
            >
                <span aria-hidden="true">"🙂"</span>
            </button>
            <button type="submit" prop:disabled=move || !conv.joined.get()>
                "Send"
            </button>
            <Show when=move || picker_open.get()>
                <EmojiPicker
                    on_pick=move |emoji| {
                        picker_open.set(false);
                        pick(emoji);
                    }
                    on_close=move || {
                        picker_open.set(false);
                        if let Some(el) = box_ref.get_untracked() {
                            let _ = el.focus();
                        }
                    }
                />
            </Show>
        </form>
    }
}

fn alerts_unlock() {
    // Sending is a click or a key press: a moment browsers allow audio to start.
    if Alerts::from_context().sound.get_untracked() {
        crate::alerts::unlock_audio();
    }
}

/// The palette, fetched on first open; the first page keeps the WASM lean.
#[component]
fn EmojiPicker(
    on_pick: impl Fn(String) + Copy + Send + Sync + 'static,
    on_close: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let palette = LocalResource::new(emoji::emoji_palette);
    let filter = RwSignal::new(String::new());
    let search_ref = NodeRef::<html::Input>::new();
    // Opening the picker puts the keyboard in its search box.
    Effect::new(move || {
        if let Some(el) = search_ref.get() {
            let _ = el.focus();
        }
    });
    view! {
        <div
            class="emoji-picker"
            role="dialog"
            aria-label="Emoji picker"
            on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                if ev.key() == "Escape" {
                    ev.prevent_default();
                    on_close();
                }
            }
        >
            <input
                class="emoji-filter"
                aria-label="Search emoji"
                placeholder="Search emoji"
                node_ref=search_ref
                prop:value=filter
                on:input=move |ev| filter.set(event_target_value(&ev).to_ascii_lowercase())
            />
            <Suspense fallback=|| view! { <p>"Loading emoji…"</p> }>
                {move || Suspend::new(async move {
                    let groups = palette.await.unwrap_or_default();
                    view! {
                        <div class="emoji-groups">
                            {move || {
                                let wanted = filter.get();
                                groups
                                    .iter()
                                    .map(|group| {
                                        let shown: Vec<EmojiChoice> = group
                                            .emojis
                                            .iter()
                                            .filter(|e| e.shortcode.contains(wanted.as_str()))
                                            .cloned()
                                            .collect();
                                        (!shown.is_empty())
                                            .then(|| {
                                                view! {
                                                    <section>
                                                        <h3>{group.name.clone()}</h3>
                                                        <div class="emoji-grid">
                                                            {shown
                                                                .into_iter()
                                                                .map(|e| {
                                                                    let code = format!(":{}:", e.shortcode);
                                                                    let emoji = e.emoji.clone();
                                                                    view! {
                                                                        <button
                                                                            type="button"
                                                                            aria-label=code.clone()
                                                                            title=code
                                                                            on:click=move |_| on_pick(emoji.clone())
                                                                        >
                                                                            {e.emoji}
                                                                        </button>
                                                                    }
                                                                })
                                                                .collect_view()}
                                                        </div>
                                                    </section>
                                                }
                                            })
                                    })
                                    .collect_view()
                            }}
                        </div>
                    }
                })}
            </Suspense>
        </div>
    }
}

/// The byte offset in `text` of a UTF-16 offset (what the DOM counts in).
fn byte_index(text: &str, utf16: u32) -> usize {
    let mut units = 0;
    for (i, c) in text.char_indices() {
        if units >= utf16 {
            return i;
        }
        units += c.len_utf16() as u32;
    }
    text.len()
}

fn utf16_len(text: &str) -> u32 {
    text.encode_utf16().count() as u32
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

/// "Today", "Yesterday" or the date, between the days of the log.
#[component]
fn DaySeparator(day: i64) -> impl IntoView {
    let local = use_context::<Hydrated>().map(|h| h.0);
    let now = use_context::<Now>().map(|n| n.0);
    let label = move || {
        let local = local.is_some_and(|l| l.get());
        // "Today" needs the reader's clock, which the server does not have.
        let today = now
            .filter(|_| local)
            .map(|n| n.get())
            .map(|now| clock::day_number(now, clock::zone_offset_ms(now, true)));
        clock::day_label(day, today)
    };
    view! {
        <div class="day" role="separator">
            <span>{label}</span>
        </div>
    }
}

/// One line of the log: a message, or a join/leave notice.
#[component]
fn EntryLine(entry: Entry, grouped: bool, me: RwSignal<Option<Nick>>) -> impl IntoView {
    let at = entry.at;
    let local = use_context::<Hydrated>().map(|h| h.0);
    let now = use_context::<Now>().map(|n| n.0);
    let is_local = move || local.is_some_and(|l| l.get());
    let offset = move || clock::zone_offset_ms(at, is_local());
    let shown_time = move || match now.filter(|_| is_local()) {
        Some(now) => clock::relative(at, now.get(), offset()),
        None => clock::hhmm(at, offset()),
    };
    let time = view! {
        <time datetime=clock::iso_utc(at) title=move || clock::exact(at, offset())>
            {shown_time}
        </time>
    };
    let nick = entry.nick.to_string();
    let notice = match entry.kind {
        EntryKind::Message { body, .. } => {
            let mentioned = {
                let body = body.clone();
                move || {
                    me.with(|me| {
                        me.as_ref()
                            .is_some_and(|me| markup::mentions(body.as_str(), me.as_str()))
                    })
                }
            };
            let meta = if grouped {
                Either::Left(view! {
                    // Heard by screen readers, not shown: the group's first line names them.
                    <bdi class="author visually-hidden">{nick}</bdi>
                    <time
                        class="hover-time"
                        datetime=clock::iso_utc(at)
                        title=move || clock::exact(at, offset())
                    >
                        {move || clock::hhmm(at, offset())}
                    </time>
                })
            } else {
                Either::Right(view! {
                    <div class="meta">
                        <bdi class="author">{nick}</bdi>
                        {time}
                    </div>
                })
            };
            return Either::Left(view! {
                <div class="message" class:grouped=grouped class:mention=mentioned data-seq=entry.seq>
                    {meta}
                    <div class="body">{body_view(body.as_str())}</div>
                </div>
            });
        }
        EntryKind::Joined => " joined",
        EntryKind::Left => " left",
    };
    // The name is isolated, so a right-to-left name cannot reorder the words
    // around it.
    Either::Right(view! {
        <div class="notice" data-seq=entry.seq>
            <span><bdi>{nick}</bdi>{notice}</span>
            {time}
        </div>
    })
}

/// A message body drawn from its parsed tree: every piece of text goes into
/// the DOM as text, so nothing a person types can become markup.
fn body_view(body: &str) -> impl IntoView + use<> {
    markup::parse(body)
        .into_iter()
        .map(|block| match block {
            Block::Paragraph(inlines) => Either::Left(view! {
                <p>{markup::spans(&inlines).into_iter().map(span_view).collect_view()}</p>
            }),
            Block::CodeBlock { lang, code } => Either::Right(view! {
                <pre data-lang=(!lang.is_empty()).then_some(lang)>
                    <code>{code}</code>
                </pre>
            }),
        })
        .collect_view()
}

fn span_view(span: Span) -> impl IntoView {
    let piece = match span.piece {
        Piece::Text(text) => EitherOf3::A(text),
        Piece::Code(code) => EitherOf3::B(view! { <code>{code}</code> }),
        Piece::Link(href) => {
            let text = href.clone();
            EitherOf3::C(view! {
                <a href=href target="_blank" rel="noopener noreferrer nofollow">
                    {text}
                </a>
            })
        }
    };
    let piece = if span.italic {
        Either::Left(view! { <em>{piece}</em> })
    } else {
        Either::Right(piece)
    };
    if span.bold {
        Either::Left(view! { <strong>{piece}</strong> })
    } else {
        Either::Right(piece)
    }
}

/// Flips to true once the browser has taken over the server-rendered page, so
/// views can switch to browser-only formatting (local time) without breaking
/// hydration.
#[derive(Clone, Copy)]
pub struct Hydrated(pub RwSignal<bool>);

/// The browser's clock, ticking every half minute, for relative times.
#[derive(Clone, Copy)]
pub struct Now(pub RwSignal<i64>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Seq;

    fn message(seq: Seq, at: i64, nick: &str) -> Entry {
        Entry {
            seq,
            at,
            nick: Nick::parse(nick).unwrap(),
            kind: EntryKind::Message {
                client_id: crate::messages::ClientId::parse(&format!("c{seq}")).unwrap(),
                body: crate::messages::MessageBody::parse("hi").unwrap(),
            },
        }
    }

    #[test]
    fn consecutive_messages_of_one_author_are_grouped_within_a_day() {
        let day = 86_400_000 * 20_000;
        let log = [
            message(1, day + 1_000, "sadia"),
            message(2, day + 2_000, "sadia"),
            message(3, day + 3_000, "usman"),
            message(4, day + 3_000 + GROUP_WITHIN_MS, "usman"),
            message(5, day + 86_400_000, "usman"),
        ];
        let rows = rows(&log, false);
        let grouped: Vec<bool> = rows.iter().map(|r| r.grouped).collect();
        assert_eq!(grouped, [false, true, false, false, false]);
        let days: Vec<Option<i64>> = rows.iter().map(|r| r.day).collect();
        assert_eq!(days, [Some(20_000), None, None, None, Some(20_001)]);
    }
}
