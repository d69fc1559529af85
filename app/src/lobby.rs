//! The lobby at `/`: pick a nickname and a room, or open one of the listed rooms.

use crate::accounts::{AccountLinks, Viewer};
use crate::erased::Slot;
use crate::erased::handler;
use crate::navigation::{Page, Place, Route};
use crate::nick_form::NickField;
use crate::page_data::{self, Failure, Preloaded};
use crate::people::Nick;
use crate::rooms::{ROOM_MAX_CHARS, RoomName, fetch_rooms};
use crate::storage;
use leptos::prelude::*;

#[component]
pub fn Lobby() -> impl IntoView {
    // `?q=` narrows the list to rooms whose name holds it (a plain GET form,
    // so it works without JavaScript too).
    let place = Place::from_context();
    let search = move || place.query("q").filter(|q| !q.trim().is_empty());
    let rooms = page_data::follow(
        move || (place.page() == Page::Lobby).then(search),
        |search| async move { fetch_rooms(search).await.map_err(|_| Failure::Unavailable) },
        |preloaded| match preloaded {
            Preloaded::Lobby(rooms) => Some(rooms.clone()),
            Preloaded::Room(_) => None,
        },
    );
    // The inputs keep their own values (no `prop:value`): what a person types
    // before the page has hydrated must not be reset by hydration.
    let nick_ref = NodeRef::<leptos::html::Input>::new();
    let room_ref = NodeRef::<leptos::html::Input>::new();
    let problem = Slot::new(None::<String>);
    let signed_in = Viewer::from_context().0;
    let joining_as = signed_in.clone();

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = |input: NodeRef<leptos::html::Input>| {
            input.get_untracked().map(|i| i.value()).unwrap_or_default()
        };
        // Signed in, the account's name is the nickname.
        let account = signed_in.clone();
        let parsed = account
            .map_or_else(|| Nick::parse(&value(nick_ref)), Ok)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                RoomName::parse(&value(room_ref))
                    .map(|r| (n, r))
                    .map_err(|e| e.to_string())
            });
        match parsed {
            Ok((n, r)) => {
                storage::set_nick(n.as_str());
                place.go(&r.path());
            }
            Err(reason) => problem.set(Some(reason)),
        }
    };

    view! {
        <main class="lobby">
            <h1>"Chat"</h1>
            <p class="tagline">"Pick a nickname, join a room, talk."</p>
            <AccountLinks />
            // Without JavaScript the form still works: /join redirects to the room.
            <form class="join-form" action=Route::Join.pattern() method="get" on:submit=handler(on_submit)>
                // Signed in, the account's name is the nickname (the field
                // stays, hidden, so the page has one shape for everyone).
                <p class="joining-as" hidden=joining_as.is_none()>
                    "Joining as " <strong>{joining_as.as_ref().map(|n| n.to_string())}</strong>
                </p>
                <div class="nick-field" hidden=joining_as.is_some()>
                    <NickField input=nick_ref plain_form=joining_as.is_none() />
                </div>
                <label>
                    "Room"
                    <input
                        name="room"
                        maxlength=ROOM_MAX_CHARS
                        required
                        value="main"
                        node_ref=room_ref
                    />
                </label>
                <button type="submit">"Join"</button>
                <p class="problem" role="alert">
                    {move || problem.get()}
                </p>
            </form>
            <section class="room-list" aria-labelledby="rooms-heading">
                <h2 id="rooms-heading">"Rooms"</h2>
                <form class="room-search" role="search" action="/" method="get">
                    <input
                        type="search"
                        name="q"
                        aria-label="Find a room"
                        placeholder="Find a room"
                        maxlength=ROOM_MAX_CHARS
                        value=search
                    />
                    <button type="submit">"Find"</button>
                </form>
                {move || match rooms.get() {
                    None => view! { <p>"Loading rooms…"</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() && search().is_some() => {
                        view! { <p>"No room by that name yet: join it to create it."</p> }
                            .into_any()
                    }
                    Some(Ok(list)) if list.is_empty() => {
                        view! { <p>"No rooms yet: yours will be the first."</p> }.into_any()
                    }
                    Some(Ok(list)) => {
                        view! {
                            <ul aria-label="Rooms">
                                {list
                                    .into_iter()
                                    .map(|summary| {
                                        let online = format!("{} online", summary.online);
                                        view! {
                                            <li>
                                                <a href=summary.name.path()>
                                                    {format!("#{}", summary.name)}
                                                </a>
                                                <span class="online-count">{online}</span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                    Some(Err(_)) => {
                        view! { <p class="problem">"The room list could not be loaded."</p> }
                            .into_any()
                    }
                }}
            </section>
        </main>
    }
}
