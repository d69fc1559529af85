//! The search page, `GET /search`: the room header's search box submits
//! here, and the results are rendered on the server as plain HTML (it works
//! without JavaScript and costs the browser bundle nothing). Each result links
//! to its room at that message (`/r/ROOM?at=SEQ`), where the page loads
//! older history until it is shown.

use crate::accounts::pages::document;
use crate::accounts::routes::page;
use crate::reading::Requester;
use crate::state::AppState;
use app::clock;
use app::navigation::Route;
use app::rooms::RoomName;
use app::search::{Found, SEARCH_PAGES, SEARCH_ROOMS, SearchPage, marked, words};
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use leptos::either::Either;
use leptos::prelude::*;

/// What the search box sends.
#[derive(serde::Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    /// The room the search starts from.
    #[serde(default)]
    room: String,
    /// The rooms the person is in, comma-separated (filled in by the page's
    /// script; without it only `room` is searched).
    #[serde(default)]
    rooms: String,
    /// Search every room in `rooms`, not only `room`.
    #[serde(default)]
    everywhere: Option<String>,
    #[serde(default)]
    page: u32,
}

/// One page of messages matching the query in the chosen rooms (the same
/// search as the `search_messages` server function).
pub async fn search_page(
    State(state): State<AppState>,
    requester: Option<Extension<Requester>>,
    Query(form): Query<SearchForm>,
) -> Response {
    let reader = state
        .library
        .reader(requester.map(|Extension(r)| r).unwrap_or_default());
    let Ok(room) = RoomName::parse(&form.room) else {
        let html = document(
            &state.leptos_options,
            "Search",
            view! {
                <h1>"Search"</h1>
                <p class="problem" role="alert">"Search from a room."</p>
                <a href="/">"Back to the lobby"</a>
            }
            .into_any(),
        );
        return page(StatusCode::BAD_REQUEST, html);
    };
    let everywhere = form.everywhere.is_some();
    let mut rooms = vec![room.clone()];
    if everywhere {
        rooms.extend(
            form.rooms
                .split(',')
                .filter_map(|r| RoomName::parse(r.trim()).ok())
                .filter(|r| *r != room)
                .take(SEARCH_ROOMS - 1),
        );
    }
    let words = words(&form.q);
    let page_no = form.page.min(SEARCH_PAGES - 1);
    let found = if words.is_empty() {
        Ok(SearchPage {
            found: vec![],
            more: false,
        })
    } else {
        reader.search_rooms(rooms, words.clone(), page_no).await
    };
    let (status, found, more, problem) = match found {
        Ok(page) => (StatusCode::OK, page.found, page.more, None),
        Err(err) => {
            let status = err.status().unwrap_or_else(|| {
                tracing::error!(?err, "search failed");
                StatusCode::INTERNAL_SERVER_ERROR
            });
            (
                status,
                vec![],
                false,
                Some(format!("{}.", capitalised(&err.to_string()))),
            )
        }
    };
    let more = more && page_no + 1 < SEARCH_PAGES;
    let next = more.then(|| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("q", &form.q)
            .append_pair("room", room.as_str())
            .append_pair("rooms", &form.rooms)
            .append_pair("page", &(page_no + 1).to_string());
        if everywhere {
            query.append_pair("everywhere", "1");
        }
        format!("{}?{}", Route::Search.pattern(), query.finish())
    });
    let results = if words.is_empty() {
        Either::Left(view! { <p>"Type a word to search for."</p> })
    } else if found.is_empty() && problem.is_none() {
        Either::Left(view! { <p>"No messages found."</p> })
    } else {
        Either::Right(view! {
            <ul>
                {found.into_iter().map(result).collect_view()}
            </ul>
        })
    };
    let scope = if everywhere {
        "in your rooms".to_owned()
    } else {
        format!("in #{room}")
    };
    let main = view! {
        <h1>{format!("Search {scope}")}</h1>
        <form class="message-search" role="search" method="get" action=Route::Search.pattern()>
            <input type="hidden" name="room" value=room.to_string() />
            <input type="hidden" name="rooms" value=form.rooms.clone() />
            <input
                type="search"
                name="q"
                aria-label="Search messages"
                maxlength="200"
                value=form.q.clone()
            />
            <label>
                <input type="checkbox" name="everywhere" value="1" checked=everywhere />
                "All my rooms"
            </label>
            <button type="submit">"Search"</button>
        </form>
        <p class="problem" role="alert">{problem}</p>
        <section class="search-results" aria-label="Search results">
            {results}
            {next.map(|href| view! { <a href=href>"More results"</a> })}
        </section>
        <p>
            <a href=room.path()>{format!("Back to #{room}")}</a>
        </p>
    };
    page(
        status,
        document(&state.leptos_options, "Search", main.into_any()),
    )
}

/// `text` with its first letter a capital, as a sentence starts.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One result: where, who, when (UTC: the server does not know the reader's
/// zone), and the text around the matches with the matching words marked.
fn result(found: Found) -> impl IntoView {
    let href = format!("{}?at={}", found.room.path(), found.seq);
    let when = clock::exact(found.at, 0);
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
                    <time datetime=clock::iso_utc(found.at)>{when} " UTC"</time>
                </span>
                <span class="snippet">{text}</span>
            </a>
        </li>
    }
}
