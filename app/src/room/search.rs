//! The room header's message search: a searchbox, a choice between this
//! room and every joined room, and the results, each a link that opens its
//! room at that message (`?at=SEQ`).

use crate::clock::{self, Hydrated};
use crate::rooms::RoomName;
use crate::search::{Found, SEARCH_PAGE, marked, search_messages};
use crate::sidebar::JoinedRooms;
use leptos::either::Either;
use leptos::prelude::*;

#[component]
pub(super) fn SearchBox(room: RoomName) -> impl IntoView {
    let joined = JoinedRooms::from_context();
    let query = RwSignal::new(String::new());
    let everywhere = RwSignal::new(false);
    let found = RwSignal::new(None::<Vec<Found>>);
    let more = RwSignal::new(false);
    let page = StoredValue::new(0u32);
    let searching = RwSignal::new(false);
    let failed = RwSignal::new(false);
    let room = StoredValue::new(room);

    let run = move |next_page: u32| {
        let text = query.get_untracked();
        if text.trim().is_empty() {
            found.set(None);
            return;
        }
        let rooms: Vec<String> = if everywhere.get_untracked() {
            joined
                .list
                .get_untracked()
                .iter()
                .map(ToString::to_string)
                .collect()
        } else {
            vec![room.with_value(ToString::to_string)]
        };
        searching.set(true);
        leptos::task::spawn_local(async move {
            let answer = search_messages(text, rooms, next_page).await;
            searching.set(false);
            failed.set(answer.is_err());
            let Ok(answer) = answer else { return };
            page.set_value(next_page);
            more.set(answer.more);
            if next_page == 0 {
                found.set(Some(answer.found));
            } else {
                found.update(|f| f.get_or_insert_with(Vec::new).extend(answer.found));
            }
        });
    };
    let run_first = move || run(0);

    view! {
        <form
            class="message-search"
            role="search"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                run_first();
            }
        >
            <input
                type="search"
                aria-label="Search messages"
                placeholder="Search messages"
                maxlength="200"
                prop:value=query
                on:input=move |ev| {
                    query.set(event_target_value(&ev));
                    if query.with_untracked(|q| q.is_empty()) {
                        found.set(None);
                    }
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Escape" {
                        query.set(String::new());
                        found.set(None);
                    }
                }
            />
            <label class="everywhere">
                <input
                    type="checkbox"
                    prop:checked=everywhere
                    on:change=move |ev| {
                        everywhere.set(event_target_checked(&ev));
                        if found.with_untracked(Option::is_some) {
                            run_first();
                        }
                    }
                />
                "All my rooms"
            </label>
        </form>
        <Show when=move || found.with(Option::is_some) || failed.get()>
            <section class="search-results" aria-label="Search results">
                <p class="problem" role="alert">
                    {move || failed.get().then_some("Search failed; try again.")}
                </p>
                {move || {
                    found
                        .get()
                        .map(|found| {
                            if found.is_empty() {
                                Either::Left(view! { <p>"No messages found."</p> })
                            } else {
                                Either::Right(view! {
                                    <ul>{found.into_iter().map(result_view).collect_view()}</ul>
                                })
                            }
                        })
                }}
                <Show when=move || more.get()>
                    <button
                        type="button"
                        prop:disabled=move || searching.get()
                        on:click=move |_| run(page.get_value() + 1)
                    >
                        {format!("More results (next {SEARCH_PAGE})")}
                    </button>
                </Show>
                <button type="button" on:click=move |_| found.set(None)>
                    "Close search"
                </button>
            </section>
        </Show>
    }
}

/// One result: where and when, who, and the text with its matches marked.
fn result_view(found: Found) -> impl IntoView {
    let local = use_context::<Hydrated>().is_some_and(|h| h.0.get_untracked());
    let when = clock::exact(found.at, clock::zone_offset_ms(found.at, local));
    let href = format!("{}?at={}", found.room.path(), found.seq);
    let text = marked(&found.snippet)
        .into_iter()
        .map(|(text, matched)| {
            if matched {
                Either::Left(view! { <mark>{text}</mark> })
            } else {
                Either::Right(text)
            }
        })
        .collect_view();
    view! {
        <li>
            <a href=href>
                <span class="where">
                    {format!("#{}", found.room)} " · " <bdi>{found.nick.to_string()}</bdi> " · "
                    <time datetime=clock::iso_utc(found.at)>{when}</time>
                </span>
                <span class="snippet">{text}</span>
            </a>
        </li>
    }
}
