//! Message search: what a result holds, how a query becomes words (never
//! query syntax), and its server function. The room's search box is a
//! plain GET form to the server-rendered `/search` page.

use crate::messages::Seq;
use crate::people::Nick;
use crate::rooms::RoomName;
use serde::{Deserialize, Serialize};

/// Results per page.
pub const SEARCH_PAGE: u32 = 20;
/// Pages one query may go through (results past them are not worth paging).
pub const SEARCH_PAGES: u32 = 10;
/// Rooms one search may cover at once.
pub const SEARCH_ROOMS: usize = 50;
/// Words one query may hold; more are ignored.
pub const SEARCH_WORDS: usize = 8;

/// Around a matching word in a snippet. Message bodies cannot contain
/// control characters, so these never come from what someone wrote.
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// One message found, with a snippet of its text around the matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub room: RoomName,
    pub seq: Seq,
    pub at: i64,
    pub nick: Nick,
    /// Part of the text, each matching word between [`MARK_START`] and [`MARK_END`].
    pub snippet: String,
}

/// A page of results, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SearchPageArray", into = "SearchPageArray")]
pub struct SearchPage {
    pub found: Vec<Found>,
    /// Another page follows.
    pub more: bool,
}

/// The shortest last word searched as a prefix: a shorter one matches only
/// as a whole word. A one-letter prefix (`e*`) reads a large part of the
/// whole index, and its answers are no use to anyone.
pub const MIN_PREFIX: usize = 3;

/// Whether the last word of a query is searched as a prefix.
pub fn last_is_prefix(words: &[String]) -> bool {
    words
        .last()
        .is_some_and(|w| w.chars().count() >= MIN_PREFIX)
}

/// The words of a query, lowercased: runs of letters and digits. Quotes,
/// operators, `%` and the like only separate words, so no input can be
/// read as the database's query syntax.
pub fn words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(crate::case::lower)
        .take(SEARCH_WORDS)
        .collect()
}

/// A snippet cut into (text, matched) pieces for display.
pub fn marked(snippet: &str) -> Vec<(String, bool)> {
    let mut pieces = vec![];
    let mut matched = false;
    let mut text = String::new();
    for c in snippet.chars() {
        if c == MARK_START || c == MARK_END {
            if !text.is_empty() {
                pieces.push((std::mem::take(&mut text), matched));
            }
            matched = c == MARK_START;
        } else {
            text.push(c);
        }
    }
    if !text.is_empty() {
        pieces.push((text, matched));
    }
    pieces
}

/// Messages in `rooms` (the room on screen, or every room the person is
/// in) containing every word of `query`, newest first; `page` counts from 0.
#[leptos::server(prefix = "/api", endpoint = "search_messages")]
pub async fn search_messages(
    query: String,
    rooms: Vec<String>,
    page: u32,
) -> Result<SearchPage, leptos::prelude::ServerFnError> {
    let rooms = match rooms
        .iter()
        .take(SEARCH_ROOMS)
        .map(|r| RoomName::parse(r))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(rooms) => rooms,
        Err(err) => return Err(leptos::prelude::ServerFnError::Args(err.to_string())),
    };
    let words = words(&query);
    if words.is_empty() || page >= SEARCH_PAGES {
        return Ok(SearchPage {
            found: vec![],
            more: false,
        });
    }
    let backend = crate::backend::from_context()?;
    backend
        .search(rooms, words, page)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_only_words() {
        assert_eq!(
            words(r#"  "Hello" OR wor*ld %_ NEAR(a b) "#),
            ["hello", "or", "wor", "ld", "near", "a", "b"]
        );
        assert!(words(r#"" * % ( ) - : ^"#).is_empty());
        assert_eq!(words("Crème brûlée"), ["crème", "brûlée"]);
    }

    #[test]
    fn a_snippet_splits_at_its_marks() {
        let snippet = format!("say {MARK_START}hello{MARK_END} to all");
        assert_eq!(
            marked(&snippet),
            [
                ("say ".to_owned(), false),
                ("hello".to_owned(), true),
                (" to all".to_owned(), false)
            ]
        );
    }
}

as_array!(SearchPage, SearchPageArray, (found: Vec<Found>, more: bool));
