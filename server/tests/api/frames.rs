//! Property tests of frame decoding: random bytes and random valid-shaped
//! frames never panic, and every refusal carries a readable reason.

use proptest::prelude::*;
use server::connection::decode;

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9_-]{0,70}",
        Just(String::new()),
        "\\PC{0,40}",
    ]
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

proptest! {
    #[test]
    fn random_text_never_panics(text in any::<String>()) {
        let _ = decode(&text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn valid_shaped_frames_decode_or_say_why(
        kind in prop_oneof![Just("join"), Just("leave"), Just("send"), Just("other")],
        room in field(),
        nick in field(),
        body in field(),
        since in proptest::option::of(any::<i64>()),
    ) {
        let since = since.map_or("null".to_owned(), |s| s.to_string());
        let (room, nick, body) = (json_string(&room), json_string(&nick), json_string(&body));
        let text = match kind {
            "join" => format!(r#"{{"type":"join","room":{room},"nick":{nick},"session":"s1","since":{since}}}"#),
            "leave" => format!(r#"{{"type":"leave","room":{room}}}"#),
            "send" => format!(r#"{{"type":"send","room":{room},"client_id":{nick},"body":{body}}}"#),
            _ => format!(r#"{{"type":{nick},"room":{room}}}"#),
        };
        if let Err(reason) = decode(&text) {
            prop_assert!(reason.starts_with("invalid frame: "));
            prop_assert!(reason.len() > "invalid frame: ".len());
        }
    }
}
