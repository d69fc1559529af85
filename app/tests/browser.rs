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
        r#"["error","main","nick_in_use",null,"that nickname is already in use in this room"]"#,
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

mod e2e {
    //! The WebCrypto the encrypted rooms rest on, in Chromium itself.

    use app::e2e::crypto::{self, CryptoError, KeyPair};
    use app::e2e::{DeviceId, DeviceKeys, additional_data};
    use app::rooms::RoomName;
    use wasm_bindgen_test::*;

    fn room() -> RoomName {
        RoomName::parse("~team-abcdefghij").unwrap()
    }

    fn device(id: &str) -> DeviceId {
        DeviceId::parse(id).unwrap()
    }

    #[wasm_bindgen_test]
    async fn a_sealed_message_opens_with_its_key_and_context() {
        let key = crypto::room_key().await.unwrap();
        let ad = additional_data(&room(), 1, &device("aaaaaaaaaaaaaaaa"));
        let (iv, sealed) = crypto::seal(&key, "the launch is on tuesday".as_bytes(), &ad)
            .await
            .unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"launch"));
        let plain = crypto::open(&key, &iv, &sealed, &ad).await.unwrap();
        assert_eq!(plain, b"the launch is on tuesday");
        // A fresh IV every time: the same text never seals the same way.
        let (iv_again, sealed_again) =
            crypto::seal(&key, "the launch is on tuesday".as_bytes(), &ad)
                .await
                .unwrap();
        assert_ne!(iv, iv_again);
        assert_ne!(sealed, sealed_again);
    }

    #[wasm_bindgen_test]
    async fn a_changed_ciphertext_iv_or_context_does_not_open() {
        let key = crypto::room_key().await.unwrap();
        let ad = additional_data(&room(), 1, &device("aaaaaaaaaaaaaaaa"));
        let (iv, sealed) = crypto::seal(&key, b"pay alice 10", &ad).await.unwrap();

        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        let mut other_iv = iv;
        other_iv[11] ^= 1;
        let other_epoch = additional_data(&room(), 2, &device("aaaaaaaaaaaaaaaa"));
        let other_device = additional_data(&room(), 1, &device("bbbbbbbbbbbbbbbb"));
        let other_room = additional_data(
            &RoomName::parse("~other-abcdefghij").unwrap(),
            1,
            &device("aaaaaaaaaaaaaaaa"),
        );
        let another_key = crypto::room_key().await.unwrap();
        for (k, iv, body, ad) in [
            (&key, &iv, &flipped, &ad),
            (&key, &other_iv, &sealed, &ad),
            (&key, &iv, &sealed, &other_epoch),
            (&key, &iv, &sealed, &other_device),
            (&key, &iv, &sealed, &other_room),
            (&another_key, &iv, &sealed, &ad),
        ] {
            assert_eq!(
                crypto::open(k, iv, body, ad).await,
                Err(CryptoError::DoesNotOpen)
            );
        }
    }

    async fn devices(n: usize) -> Vec<KeyPair> {
        let mut pairs = Vec::new();
        for _ in 0..n {
            pairs.push(crypto::agreement_pair().await.unwrap());
        }
        pairs
    }

    const IDS: [&str; 3] = ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"];

    #[wasm_bindgen_test]
    async fn a_room_key_wrapped_for_several_devices_opens_for_each() {
        let sender = crypto::agreement_pair().await.unwrap();
        let members = devices(3).await;
        let key = crypto::room_key().await.unwrap();
        let ad = additional_data(&room(), 1, &device("dddddddddddddddd"));
        let (iv, sealed) = crypto::seal(&key, b"hello all", &ad).await.unwrap();
        for (member, id) in members.iter().zip(IDS) {
            let context = additional_data(&room(), 1, &device(id));
            let (wrap_iv, wrapped) = crypto::wrap(&key, &sender.private, &member.public, &context)
                .await
                .unwrap();
            assert_eq!(wrapped.len(), 48, "a 32-byte key and its tag");
            // The member unwraps with its private key and the sender's public key.
            let theirs = crypto::unwrap(
                &wrapped,
                &wrap_iv,
                &member.private,
                &sender.public,
                &context,
            )
            .await
            .unwrap();
            assert_eq!(
                crypto::open(&theirs, &iv, &sealed, &ad).await.unwrap(),
                b"hello all"
            );
        }
    }

    #[wasm_bindgen_test]
    async fn a_removed_device_cannot_unwrap_the_next_epoch() {
        let sender = crypto::agreement_pair().await.unwrap();
        let members = devices(3).await;
        let removed = &members[2];
        // Epoch 2 is wrapped for the two devices that stay.
        let key = crypto::room_key().await.unwrap();
        let mut wraps = Vec::new();
        for (member, id) in members[..2].iter().zip(IDS) {
            let context = additional_data(&room(), 2, &device(id));
            wraps.push((
                context.clone(),
                crypto::wrap(&key, &sender.private, &member.public, &context)
                    .await
                    .unwrap(),
            ));
        }
        // Whatever wrap the removed device takes, under whatever name, its
        // own private key opens none of them.
        for (context, (iv, wrapped)) in &wraps {
            for context in [
                context.clone(),
                additional_data(&room(), 2, &device(IDS[2])),
            ] {
                assert_eq!(
                    crypto::unwrap(wrapped, iv, &removed.private, &sender.public, &context).await,
                    Err(CryptoError::DoesNotOpen)
                );
            }
        }
        // And the key it kept from epoch 1 opens nothing sealed in epoch 2.
        let old_key = crypto::room_key().await.unwrap();
        let ad = additional_data(&room(), 2, &device(IDS[0]));
        let (iv, sealed) = crypto::seal(&key, b"after you left", &ad).await.unwrap();
        assert_eq!(
            crypto::open(&old_key, &iv, &sealed, &ad).await,
            Err(CryptoError::DoesNotOpen)
        );
    }

    #[wasm_bindgen_test]
    async fn a_device_record_verifies_only_as_it_was_signed() {
        let signing = crypto::signing_pair().await.unwrap();
        let agree = crypto::to_base64(&crypto::agreement_pair().await.unwrap().public);
        let id = device(IDS[0]);
        let signed = DeviceKeys::signed_bytes("usman", &id, &agree);
        let signature = crypto::sign(&signing.private, &signed).await.unwrap();
        assert_eq!(signature.len(), 64);
        let record = DeviceKeys {
            id: id.clone(),
            agree: agree.clone(),
            sign: crypto::to_base64(&signing.public),
            signature: crypto::to_base64(&signature),
        };
        assert!(record.well_formed(), "{record:?}");
        assert!(
            crypto::verify(&signing.public, &signature, &signed)
                .await
                .unwrap()
        );
        // A server that swaps the key agreement key, or the account, is caught.
        let swapped = crypto::to_base64(&crypto::agreement_pair().await.unwrap().public);
        for other in [
            DeviceKeys::signed_bytes("usman", &id, &swapped),
            DeviceKeys::signed_bytes("mallory", &id, &agree),
        ] {
            assert!(
                !crypto::verify(&signing.public, &signature, &other)
                    .await
                    .unwrap()
            );
        }
        assert_eq!(crypto::from_base64(&record.agree).unwrap().len(), 65);
    }
}
