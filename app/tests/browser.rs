//! Browser-side code in real headless Chromium (wasm-bindgen-test):
//! `cargo test -p app --target wasm32-unknown-unknown --features hydrate --test browser`.

#![cfg(all(target_arch = "wasm32", feature = "hydrate"))]

use app::clock;
use app::protocol::{ErrorCode, ServerFrame};
use app::socket::{message_id, random_id};
use app::storage;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn random_ids_are_128_bit_hex_and_differ() {
    let a = random_id();
    let b = random_id();
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
    // They pass the protocol's own id rule.
    assert!(app::messages::ClientId::parse(&a).is_ok());
}

#[wasm_bindgen_test]
fn message_ids_start_with_the_time_so_later_ones_sort_after() {
    let first = message_id();
    let made = js_sys::Date::now();
    while js_sys::Date::now() < made + 2.0 {}
    let later = message_id();
    assert_eq!(first.len(), 27, "{first}");
    assert!(first.bytes().all(|c| c.is_ascii_hexdigit()));
    let millis = u64::from_str_radix(&first[..11], 16).unwrap();
    assert!((millis as f64 - js_sys::Date::now()).abs() < 60_000.0);
    assert!(later > first, "{first} then {later}");
    assert!(app::messages::ClientId::parse(&first).is_ok());
}

#[wasm_bindgen_test]
fn the_nickname_is_remembered_in_local_storage() {
    storage::set_nick("sadia");
    assert_eq!(storage::nick().as_deref(), Some("sadia"));
    let stored = web_sys::window()
        .unwrap()
        .local_storage()
        .unwrap()
        .unwrap()
        .get_item("chat.nick")
        .unwrap();
    assert_eq!(stored.as_deref(), Some("sadia"));
}

#[wasm_bindgen_test]
fn a_tab_keeps_one_session_id() {
    let first = storage::session();
    assert_eq!(storage::session(), first);
    assert!(app::people::SessionId::parse(&first).is_ok());
}

#[wasm_bindgen_test]
fn local_times_follow_the_browser_clock() {
    let at = 1_795_637_148_000_i64;
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    let expected = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
    assert_eq!(clock::hhmm_local(at), expected);
    assert_eq!(
        clock::iso_utc(at),
        date.to_iso_string()
            .as_string()
            .unwrap()
            .replace(".000Z", "Z")
    );
}

#[wasm_bindgen_test]
fn server_frames_decode_in_the_browser() {
    let frame: ServerFrame = serde_json::from_str(
        r#"{"type":"error","code":"nick_in_use","room":"main","message":"that nickname is already in use in this room"}"#,
    )
    .unwrap();
    assert!(matches!(
        frame,
        ServerFrame::Error {
            code: ErrorCode::NickInUse,
            ..
        }
    ));
}

#[wasm_bindgen_test]
fn mentions_and_suggestions_ignore_case_as_the_server_does() {
    // The browser lowercases here (JavaScript's toLowerCase); the server's
    // Rust mapping must agree on the letters people use in nicknames.
    use app::case::{lower, same_letter};
    for word in ["Émile", "ZOË", "ĞÜLŞEN", "ΣΟΦΊΑ", "Дмитрий", "Usman_42"] {
        assert_eq!(lower(word), word.to_lowercase(), "{word}");
    }
    assert!(same_letter('Ä', 'ä'));
    assert!(!same_letter('İ', 'i'));
    assert!(app::markup::mentions("hi @ÉMILE!", "émile"));
    assert!(!app::markup::mentions("hi @EMILE!", "émile"));
}
