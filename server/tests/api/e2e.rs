//! End-to-end encryption as the server sees it: devices and wrapped keys it
//! stores and hands out but cannot use, epochs that change when people or
//! devices come and go, and encrypted conversations that take only sealed
//! bodies of the current epoch. The keys here are well-formed stand-ins:
//! the server checks shapes, the browsers do the cryptography (its tests
//! are in `app/tests/browser.rs` and Playwright).

use crate::accounts::{Answer, call_as};
use crate::common::*;
use app::e2e::{RoomKeys, Sealed};

/// A device record (`[id, agree, sign, signature]`) of `account`'s, as a
/// browser makes one: real P-256 keys (derived from the device's name, so
/// the same name gives the same record) and a real signature, which the
/// server verifies.
pub fn device(account: &str, id: &str) -> serde_json::Value {
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;
    use sha2::Digest as _;
    let secret = |what: &str| sha2::Sha256::digest(format!("{what} {id}"));
    let public = |key: &p256::SecretKey| {
        let point =
            p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false);
        base64::engine::general_purpose::STANDARD.encode(point.as_bytes())
    };
    let agree = public(&p256::SecretKey::from_slice(&secret("agree")).unwrap());
    let signer = p256::ecdsa::SigningKey::from_slice(&secret("sign")).unwrap();
    let sign = public(&p256::SecretKey::from(signer.as_nonzero_scalar()));
    let id = app::e2e::DeviceId::parse(id).unwrap();
    let signed = app::e2e::DeviceKeys::signed_bytes(account, &id, &agree);
    let signature: p256::ecdsa::Signature = signer.sign(&signed);
    let signature = base64::engine::general_purpose::STANDARD.encode(signature.to_bytes());
    serde_json::json!([id.as_str(), agree, sign, signature])
}

async fn publish_record(app: &TestApp, cookie: &str, keys: serde_json::Value) -> Answer {
    call_as(
        app,
        "/api/publish_device",
        serde_json::json!({ "keys": keys }),
        Some(cookie),
    )
    .await
}

/// The account a test device's name belongs to (`"sadia1"` → `"sadia"`).
fn owner_of(name: &str) -> &str {
    name.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// A device id made from a short name (`"sadia1"` → 16 characters).
pub fn device_id(name: &str) -> String {
    format!("{name:0<16}")
}

pub async fn publish(app: &TestApp, cookie: &str, name: &str) -> Answer {
    publish_record(app, cookie, device(owner_of(name), &device_id(name))).await
}

pub async fn room_keys(
    app: &TestApp,
    cookie: &str,
    room: &str,
    name: &str,
) -> (u16, Option<RoomKeys>) {
    let answer = call_as(
        app,
        "/api/room_keys",
        serde_json::json!({ "room": room, "device": device_id(name) }),
        Some(cookie),
    )
    .await;
    (answer.status, serde_json::from_str(&answer.body).ok())
}

/// Publishes epoch `epoch` of `room`'s key from device `name`, wrapped for
/// `devices` (ids).
pub async fn publish_epoch(
    app: &TestApp,
    cookie: &str,
    room: &str,
    name: &str,
    epoch: u32,
    devices: &[String],
) -> Answer {
    let wraps: Vec<_> = devices
        .iter()
        .map(|d| serde_json::json!([d, "AAAAAAAAAAAAAAAA", "K".repeat(64)]))
        .collect();
    call_as(
        app,
        "/api/new_epoch",
        serde_json::json!({ "epoch": [room, epoch, device_id(name), wraps] }),
        Some(cookie),
    )
    .await
}

/// Makes the next epoch of `room` from device `name`, wrapped for every
/// member device the server lists; its number.
pub async fn rekey(app: &TestApp, cookie: &str, room: &str, name: &str) -> u32 {
    let (status, keys) = room_keys(app, cookie, room, name).await;
    let keys = keys.unwrap_or_else(|| panic!("room keys: {status}"));
    let devices: Vec<String> = keys.devices.iter().map(|d| d.keys.id.to_string()).collect();
    let epoch = keys.latest + 1;
    let made = publish_epoch(app, cookie, room, name, epoch, &devices).await;
    assert_eq!(made.status, 200, "{}", made.body);
    epoch
}

/// `marker` as a sealed body of `epoch` from device `name`: opaque to the
/// server, and findable in what it stores and serves.
pub fn sealed(epoch: u32, name: &str, marker: &str) -> String {
    assert!(marker.len().is_multiple_of(4) && marker.bytes().all(|b| b.is_ascii_alphanumeric()));
    let body = format!(
        "e2e1.{epoch}.{}.AAAAAAAAAAAAAAAA.{marker}{}",
        device_id(name),
        "Q".repeat(24)
    );
    assert!(Sealed::parse(&body).is_some(), "{body}");
    body
}

/// sadia and usman, each with one device, in a direct message whose first
/// key epoch sadia made: their session cookies and the conversation's name.
async fn keyed_direct_message(app: &TestApp) -> (String, String, String) {
    use crate::accounts::{PASSWORD, get, sign_up};
    let sadia = sign_up(app, "sadia", PASSWORD).await;
    let usman = sign_up(app, "usman", PASSWORD).await;
    let dm = get(app, "/dm/usman", Some(&sadia)).await;
    let dm = dm.location().strip_prefix("/r/").unwrap().to_owned();
    assert_eq!(publish(app, &sadia, "sadia1").await.status, 200);
    assert_eq!(publish(app, &usman, "usman1").await.status, 200);
    assert_eq!(rekey(app, &sadia, &dm, "sadia1").await, 1);
    (sadia, usman, dm)
}

#[tokio::test]
async fn an_encrypted_conversation_takes_only_sealed_bodies_of_its_current_epoch() {
    use crate::accounts::{PASSWORD, get, sign_up, signed_in_client};
    let app = spawn_app().await;
    let sadia = sign_up(&app, "sadia", PASSWORD).await;
    let usman = sign_up(&app, "usman", PASSWORD).await;
    let dm = get(&app, "/dm/usman", Some(&sadia)).await;
    let dm = dm.location().strip_prefix("/r/").unwrap().to_owned();
    assert_eq!(publish(&app, &sadia, "sadia1").await.status, 200);
    assert_eq!(publish(&app, &usman, "usman1").await.status, 200);
    // Publishing again is fine; taking someone else's id is not.
    assert_eq!(publish(&app, &sadia, "sadia1").await.status, 200);
    let taken = publish_record(&app, &usman, device("usman", &device_id("sadia1"))).await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    // A record the account's browser did not sign is never stored: it
    // would stop every new epoch (none could be wrapped for it).
    let someone_elses = publish_record(&app, &usman, device("sadia", &device_id("usman9"))).await;
    assert_eq!(someone_elses.status, 400, "{}", someone_elses.body);
    let mut forged = device("usman", &device_id("usman9"));
    forged[1] = device("usman", &device_id("usman8"))[1].clone();
    let forged = publish_record(&app, &usman, forged).await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert!(
        forged.body.contains("not one this account"),
        "{}",
        forged.body
    );
    let mut off_curve = device("usman", &device_id("usman9"));
    off_curve[1] = serde_json::json!(format!("B{}=", "A".repeat(86)));
    assert_eq!(publish_record(&app, &usman, off_curve).await.status, 400);

    let mut her = signed_in_client(&app, &sadia).await;
    her.join(&dm, "sadia").await;
    // No epoch yet: even a sealed body waits for one.
    let early = sealed(1, "sadia1", "ZWFybHk0");
    her.send_text(&send_frame(&dm, "early-1", &early)).await;
    assert_eq!(her.refusal().await, app::protocol::ErrorCode::NewKeyNeeded);

    // Epoch 1 must be wrapped for exactly the members' devices.
    let both = [device_id("sadia1"), device_id("usman1")];
    let short = publish_epoch(&app, &sadia, &dm, "sadia1", 1, &both[..1]).await;
    assert_eq!(short.status, 409, "{}", short.body);
    let skipped = publish_epoch(&app, &sadia, &dm, "sadia1", 2, &both).await;
    assert_eq!(skipped.status, 409, "{}", skipped.body);
    assert_eq!(rekey(&app, &sadia, &dm, "sadia1").await, 1);

    // Plain text is refused, and never stored.
    her.send_text(&send_frame(&dm, "plain-1", "the launch is on tuesday"))
        .await;
    assert_eq!(her.refusal().await, app::protocol::ErrorCode::NotSealed);
    let body = sealed(1, "sadia1", "bGF1bmNo");
    her.say(&dm, &body).await;
    let stored = read_rows(&app, "SELECT COALESCE(body, '') FROM entries").await;
    assert!(
        stored.iter().all(|r| !r[0].contains("tuesday")),
        "{stored:?}"
    );
    assert!(stored.iter().any(|r| r[0] == body), "{stored:?}");

    // usman reads epoch 1's key wrapped for his device, from hers.
    let (_, keys) = room_keys(&app, &usman, &dm, "usman1").await;
    let keys = keys.unwrap();
    assert_eq!((keys.current, keys.latest), (1, 1));
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].from.keys.id.as_str(), device_id("sadia1"));
    assert_eq!(keys.devices.len(), 2);

    // A new device of usman's: a new epoch is due before anyone writes, and
    // his sockets hear that his keys changed.
    let mut his = signed_in_client(&app, &usman).await;
    assert_eq!(publish(&app, &usman, "usman2").await.status, 200);
    his.recv_until(
        |f| matches!(f, app::protocol::ServerFrame::KeysChanged { room } if room.as_str() == dm),
    )
    .await;
    let stale = sealed(1, "sadia1", "c3RhbGUx");
    her.send_text(&send_frame(&dm, "stale-1", &stale)).await;
    assert_eq!(her.refusal().await, app::protocol::ErrorCode::NewKeyNeeded);
    assert_eq!(rekey(&app, &sadia, &dm, "sadia1").await, 2);
    her.say(&dm, &sealed(2, "sadia1", "bmV3ZXBv")).await;
    // The new device has epoch 2's key, not epoch 1's, until his first
    // device, told what it lacks, wraps epoch 1 for it.
    let (_, second) = room_keys(&app, &usman, &dm, "usman2").await;
    let epochs: Vec<u32> = second.unwrap().keys.iter().map(|k| k.epoch).collect();
    assert_eq!(epochs, [2]);
    let (_, first) = room_keys(&app, &usman, &dm, "usman1").await;
    let share = first.unwrap().share;
    assert_eq!(share.len(), 1);
    assert_eq!(share[0].device.keys.id.as_str(), device_id("usman2"));
    assert_eq!(share[0].epochs, [1]);
    let handed = serde_json::json!({ "shared": [
        &dm, device_id("usman1"), device_id("usman2"),
        [[1, [device_id("usman2"), "BBBBBBBBBBBBBBBB", "W".repeat(64)]]],
    ]});
    // Only to one's own device: sadia cannot hand keys to his.
    let foreign = serde_json::json!({ "shared": [
        &dm, device_id("sadia1"), device_id("usman2"),
        [[1, [device_id("usman2"), "BBBBBBBBBBBBBBBB", "X".repeat(64)]]],
    ]});
    let refused = call_as(&app, "/api/share_keys", foreign, Some(&sadia)).await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    // Thousands of rows in one call would hold the store's write lock.
    let wrap = serde_json::json!([device_id("usman2"), "BBBBBBBBBBBBBBBB", "W".repeat(64)]);
    let flood: Vec<_> = (1..=app::e2e::SHARED_KEYS_MAX as u32 + 1)
        .map(|epoch| serde_json::json!([epoch, wrap]))
        .collect();
    let flood = serde_json::json!({ "shared": [
        &dm, device_id("usman1"), device_id("usman2"), flood,
    ]});
    let too_many = call_as(&app, "/api/share_keys", flood, Some(&usman)).await;
    assert_eq!(too_many.status, 400, "{}", too_many.body);
    let shared = call_as(&app, "/api/share_keys", handed, Some(&usman)).await;
    assert_eq!(shared.status, 200, "{}", shared.body);
    his.recv_until(|f| matches!(f, app::protocol::ServerFrame::KeysChanged { .. }))
        .await;
    let (_, second) = room_keys(&app, &usman, &dm, "usman2").await;
    let second = second.unwrap();
    let epochs: Vec<u32> = second.keys.iter().map(|k| k.epoch).collect();
    assert_eq!(epochs, [1, 2]);
    assert_eq!(second.keys[0].from.keys.id.as_str(), device_id("usman1"));
    assert_eq!(second.keys[0].wrap.key, "W".repeat(64));
    let (_, first) = room_keys(&app, &usman, &dm, "usman1").await;
    assert!(first.unwrap().share.is_empty(), "nothing left to share");

    // Somebody else's device, a guest, an outsider: no keys.
    let zara = sign_up(&app, "zara", PASSWORD).await;
    assert_eq!(publish(&app, &zara, "zara1").await.status, 200);
    assert_eq!(room_keys(&app, &zara, &dm, "zara1").await.0, 404);
    assert_eq!(room_keys(&app, &sadia, &dm, "usman1").await.0, 409);
    let guest = call_as(
        &app,
        "/api/room_keys",
        serde_json::json!({ "room": &dm, "device": device_id("sadia1") }),
        None,
    )
    .await;
    assert_eq!(guest.status, 403);
    let outsider_epoch = publish_epoch(&app, &zara, &dm, "zara1", 3, &both).await;
    assert_eq!(outsider_epoch.status, 404);

    // A sealed-looking body in a room that is not encrypted is refused:
    // its readers would take it for one they cannot open.
    her.join("main", "sadia").await;
    her.send_text(&send_frame(
        "main",
        "looks-1",
        &sealed(1, "sadia1", "bG9va3Nl"),
    ))
    .await;
    assert_eq!(her.refusal().await, app::protocol::ErrorCode::InvalidFrame);
}

#[tokio::test]
async fn a_link_from_another_site_asks_before_starting_a_direct_message() {
    use crate::accounts::{PASSWORD, sign_up};
    let app = spawn_app().await;
    let sadia = sign_up(&app, "sadia", PASSWORD).await;
    sign_up(&app, "usman", PASSWORD).await;
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://{}/dm/usman", app.addr()))
        .header("cookie", &sadia)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("Message usman"), "{body}");
    let listed = call_as(
        &app,
        "/api/private_rooms",
        serde_json::json!({}),
        Some(&sadia),
    )
    .await;
    assert_eq!(listed.body, "[]", "nothing made");
}

fn send_frame(room: &str, client_id: &str, body: &str) -> String {
    serde_json::json!({
        "type": "send", "room": room, "client_id": client_id, "body": body,
    })
    .to_string()
}

/// Uploads `bytes` as a sealed file (ciphertext from the browser) with
/// `key`; the status and the body's text.
async fn upload_sealed(app: &TestApp, key: &str, bytes: Vec<u8>) -> (u16, String) {
    crate::media::upload_with(app, key, &[(app::media::SEALED_HEADER, "1")], bytes).await
}

#[tokio::test]
async fn files_in_an_encrypted_conversation_are_sealed_bytes_only_its_members_fetch() {
    use crate::accounts::{PASSWORD, sign_up, signed_in_client};
    use crate::media::{fetch, fetch_as, join_for_media, png, upload};
    use app::media::{Attachment, MediaKind, SEALED_TYPE};
    use app::messages::EntryKind;
    use app::protocol::ServerFrame;
    let app = spawn_app().await;
    let (sadia, usman, dm) = keyed_direct_message(&app).await;
    let epoch = 1;
    let mut her = signed_in_client(&app, &sadia).await;
    let grant = join_for_media(&mut her, &dm, "sadia").await;
    let mut his = signed_in_client(&app, &usman).await;
    let his_grant = join_for_media(&mut his, &dm, "usman").await;

    // A file as it is would be seen by the server: refused.
    let (status, body) = upload(&app, &grant.key, "plans.png", png(8, 8)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("encrypted in the browser"), "{body}");
    // Sealed bytes (here a stand-in: anything opaque) are kept as they
    // are, with no name or type of their own.
    let ciphertext: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (status, body) = upload_sealed(&app, &grant.key, ciphertext.clone()).await;
    assert_eq!(status, 201, "{body}");
    let file: Attachment = serde_json::from_str(&body).unwrap();
    assert_eq!(file.kind, MediaKind::File);
    assert_eq!(file.content_type, SEALED_TYPE);
    assert_eq!(file.size, 5000);
    assert!(!body.contains("plans"), "{body}");
    let (status, body) = upload_sealed(&app, &grant.key, vec![1; 300]).await;
    assert_eq!(status, 201, "{body}");
    let thumb: Attachment = serde_json::from_str(&body).unwrap();

    // The message names both (a file and its thumbnail); the files'
    // names and keys are inside its sealed body.
    let message = sealed(epoch, "sadia1", "ZmlsZXM0").replacen("e2e1.", "e2e2.", 1);
    let client_id = her.new_client_id();
    her.send_frame(&app::protocol::ClientFrame::Send {
        room: room(&dm),
        client_id,
        body: app::messages::MessageBody::parse(&message).unwrap(),
        reply_to: None,
        media: vec![file.id.clone(), thumb.id.clone()],
    })
    .await;
    let heard = his
        .recv_until(|f| {
            matches!(f, ServerFrame::Entry { entry, .. } if matches!(entry.kind, EntryKind::Message { .. }))
        })
        .await;
    let Some(ServerFrame::Entry { entry, .. }) = heard.into_iter().last() else {
        unreachable!()
    };
    let EntryKind::Message { body, media, .. } = entry.kind else {
        unreachable!()
    };
    assert_eq!(body.as_str(), message);
    assert_eq!(media, vec![file.clone(), thumb]);

    // A member fetches the bytes exactly as sealed, as a download.
    let path = format!("/media/{}", file.id.as_str());
    let got = fetch_as(&app, &his_grant.key, &path, &[]).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], SEALED_TYPE);
    assert!(
        got.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(got.bytes().await.unwrap().to_vec(), ciphertext);
    // Someone else, even signed in, does not learn it exists.
    let zara = sign_up(&app, "zara", PASSWORD).await;
    let outside = fetch(&app, &path, &[("cookie", &zara)]).await;
    assert_eq!(outside.status(), 404);
    let nobody = fetch(&app, &path, &[]).await;
    assert_eq!(nobody.status(), 404);

    // A sealed file where nobody could open it is refused.
    let mut open_room = app.client().await;
    let plain_grant = join_for_media(&mut open_room, "main", "tariq").await;
    let (status, body) = upload_sealed(&app, &plain_grant.key, vec![2; 100]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not end-to-end encrypted"), "{body}");

    // What the server stored: opaque bytes under a name that says nothing.
    let names = read_rows(&app, "SELECT name, content_type FROM media").await;
    assert!(
        names
            .iter()
            .all(|r| r[0] == "encrypted file" && r[1] == SEALED_TYPE),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_key_backup_keeps_sealed_keys_of_the_rooms_its_account_is_in() {
    use crate::accounts::{PASSWORD, sign_up};
    let app = spawn_app().await;
    let (sadia, usman, dm) = keyed_direct_message(&app).await;
    let key =
        |epoch: u32, fill: &str| serde_json::json!([epoch, "AAAAAAAAAAAAAAAA", fill.repeat(64)]);
    let back_up = |cookie: String, keys: Vec<serde_json::Value>| {
        let app = &app;
        let dm = dm.clone();
        async move {
            call_as(
                app,
                "/api/back_up_keys",
                serde_json::json!({ "room": dm, "keys": keys }),
                Some(&cookie),
            )
            .await
        }
    };
    let start = |cookie: String, salt: &'static str| {
        let app = &app;
        async move {
            call_as(
                app,
                "/api/start_key_backup",
                serde_json::json!({ "salt": salt, "check": "BBBBBBBBBBBBBBBB.Y2hlY2tlZCBhbmQgdGFnIGhlcmU=" }),
                Some(&cookie),
            )
            .await
        }
    };
    let fetch_backup = |cookie: Option<String>| {
        let app = &app;
        async move {
            call_as(
                app,
                "/api/key_backup",
                serde_json::json!({}),
                cookie.as_deref(),
            )
            .await
        }
    };

    // Nothing to add to before a backup is started; nothing to fetch.
    assert_eq!(back_up(sadia.clone(), vec![key(1, "K")]).await.status, 409);
    assert_eq!(fetch_backup(Some(sadia.clone())).await.body, "null");
    // A salt and check of the wrong shape are refused.
    assert_eq!(start(sadia.clone(), "short").await.status, 400);
    assert_eq!(
        start(sadia.clone(), "c2FsdHNhbHRzYWx0c2FsdA==")
            .await
            .status,
        200
    );

    // Keys of epochs the room has are kept (once); another epoch is not.
    let added = back_up(sadia.clone(), vec![key(1, "K"), key(7, "K")]).await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(back_up(sadia.clone(), vec![key(1, "Z")]).await.status, 200);
    let backup: app::e2e::KeyBackup =
        serde_json::from_str(&fetch_backup(Some(sadia.clone())).await.body).unwrap();
    assert_eq!(backup.0, "c2FsdHNhbHRzYWx0c2FsdA==");
    assert_eq!(backup.2.len(), 1);
    assert_eq!(backup.2[0].0.as_str(), dm);
    assert_eq!(
        backup.2[0].1,
        [app::e2e::BackedUpKey(
            1,
            "AAAAAAAAAAAAAAAA".into(),
            "K".repeat(64)
        )]
    );
    // Malformed or too many keys, an outsider's room, a guest: refused.
    assert_eq!(back_up(sadia.clone(), vec![key(1, "!")]).await.status, 400);
    let flood = (1..=app::e2e::SHARED_KEYS_MAX as u32 + 1)
        .map(|e| key(e, "K"))
        .collect();
    assert_eq!(back_up(sadia.clone(), flood).await.status, 400);
    let zara = sign_up(&app, "zara", PASSWORD).await;
    assert_eq!(
        start(zara.clone(), "c2FsdHNhbHRzYWx0c2FsdA==").await.status,
        200
    );
    assert_eq!(back_up(zara.clone(), vec![key(1, "K")]).await.status, 404);
    assert_eq!(fetch_backup(None).await.status, 403);
    assert_eq!(fetch_backup(Some(usman.clone())).await.body, "null");

    // A new passphrase starts a new backup: the old keys could not be
    // opened with it.
    assert_eq!(
        start(sadia.clone(), "bmV3c2FsdG5ld3NhbHRuZQ==")
            .await
            .status,
        200
    );
    let backup: app::e2e::KeyBackup =
        serde_json::from_str(&fetch_backup(Some(sadia.clone())).await.body).unwrap();
    assert_eq!(backup.0, "bmV3c2FsdG5ld3NhbHRuZQ==");
    assert!(backup.2.is_empty());
}

#[tokio::test]
async fn a_removed_device_is_left_out_of_the_next_epoch_and_its_session_logged_out() {
    use crate::accounts::{PASSWORD, answer, from_site, get, log_in, post, signed_in_client};
    let app = spawn_app_with(&["--login-username-burst", "100"]).await;
    let (sadia, usman, dm) = keyed_direct_message(&app).await;
    // usman's laptop: another login, its own device, a socket in the DM.
    let laptop = log_in(&app, "usman", PASSWORD).await.cookie();
    let firefox =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let published = from_site(&app, "/api/publish_device", Some(&laptop))
        .header("content-type", "application/json")
        .header("user-agent", firefox)
        .body(serde_json::json!({ "keys": device("usman", &device_id("usman2")) }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer(published).await.status, 200);
    let mut lost = signed_in_client(&app, &laptop).await;
    lost.join(&dm, "usman").await;
    assert_eq!(rekey(&app, &sadia, &dm, "sadia1").await, 2);

    // His account page lists both, the newest first, and says which one
    // it is open in.
    let page = get(&app, "/account", Some(&usman)).await.body;
    let laptop_line = page
        .find("Firefox on Windows, usman200: added Today")
        .expect(&page);
    let phone_line = page
        .find("usman100 (this browser): added Today")
        .expect(&page);
    assert!(laptop_line < phone_line);
    assert!(page.contains("Remove device usman200"), "{page}");

    // Nobody removes another account's device, or one that is no device.
    let theirs = [("device", device_id("usman2"))];
    let theirs: Vec<(&str, &str)> = theirs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = post(&app, "/account/devices", &theirs, Some(&sadia)).await;
    assert_eq!(refused.status, 404);
    assert!(
        refused.body.contains("not one of yours"),
        "{}",
        refused.body
    );
    let garbled = post(&app, "/account/devices", &[("device", "<b>")], Some(&usman)).await;
    assert_eq!(garbled.status, 404);

    let removed = post(&app, "/account/devices", &theirs, Some(&usman)).await;
    assert_eq!(removed.location(), "/account?done=device");
    // Its session is over, its socket closed.
    assert_eq!(lost.close_code().await, Some(4003));
    assert_eq!(get(&app, "/account", Some(&laptop)).await.status, 303);
    let page = get(&app, removed.location(), Some(&usman)).await.body;
    assert!(page.contains("The device is removed"), "{page}");
    assert!(!page.contains("usman200"), "{page}");
    // It gets no keys, and the next epoch must leave it out.
    assert_eq!(room_keys(&app, &usman, &dm, "usman2").await.0, 409);
    let mut her = signed_in_client(&app, &sadia).await;
    her.join(&dm, "sadia").await;
    her.send_text(&send_frame(
        &dm,
        "after-1",
        &sealed(2, "sadia1", "YWZ0ZXIx"),
    ))
    .await;
    assert_eq!(her.refusal().await, app::protocol::ErrorCode::NewKeyNeeded);
    let with_it = [
        device_id("sadia1"),
        device_id("usman1"),
        device_id("usman2"),
    ];
    let stale = publish_epoch(&app, &sadia, &dm, "sadia1", 3, &with_it).await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(rekey(&app, &sadia, &dm, "sadia1").await, 3);
    let (_, keys) = room_keys(&app, &usman, &dm, "usman1").await;
    let devices: Vec<String> = keys
        .unwrap()
        .devices
        .iter()
        .map(|d| d.keys.id.to_string())
        .collect();
    assert!(!devices.contains(&device_id("usman2")), "{devices:?}");
    her.say(&dm, &sealed(3, "sadia1", "YWZ0ZXIy")).await;
    let again = post(&app, "/account/devices", &theirs, Some(&usman)).await;
    assert_eq!(again.status, 404);

    // Removing the device of the very browser asking logs it out.
    let own = post(
        &app,
        "/account/devices",
        &[("device", &device_id("usman1"))],
        Some(&usman),
    )
    .await;
    assert_eq!(own.location(), "/");
    assert_eq!(get(&app, "/account", Some(&usman)).await.status, 303);
}

#[tokio::test]
async fn key_endpoints_have_a_budget_per_account_and_per_address() {
    use crate::accounts::{PASSWORD, answer, sign_up};
    let app = spawn_app_with(&["--key-calls-burst", "4", "--key-calls-every-ms", "60000"]).await;
    let sadia = sign_up(&app, "sadia", PASSWORD).await;
    let usman = sign_up(&app, "usman", PASSWORD).await;
    let zara = sign_up(&app, "zara", PASSWORD).await;
    // Publishing a device, as every page load does, from `source`.
    let publish_from = |cookie: &str, name: &str, source: [u8; 4]| {
        let origin = format!("http://{}", app.addr());
        let request = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(source))
            .build()
            .unwrap()
            .post(format!("{origin}/api/publish_device"))
            .header("origin", &origin)
            .header("cookie", cookie)
            .header("content-type", "application/json")
            .body(
                serde_json::json!({ "keys": device(owner_of(name), &device_id(name)) }).to_string(),
            );
        async move { answer(request.send().await.unwrap()).await }
    };
    for _ in 0..4 {
        assert_eq!(
            publish_from(&sadia, "sadia1", [127, 0, 0, 1]).await.status,
            200
        );
    }
    let over = publish_from(&sadia, "sadia1", [127, 0, 0, 1]).await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert!(over.body.contains("too many key requests"), "{}", over.body);
    // Another account at that address is over with it ...
    assert_eq!(
        publish_from(&zara, "zara1", [127, 0, 0, 1]).await.status,
        429
    );
    // ... while one elsewhere has its own budget, and runs out of it too.
    for _ in 0..4 {
        assert_eq!(
            publish_from(&usman, "usman1", [127, 0, 0, 2]).await.status,
            200
        );
    }
    assert_eq!(
        publish_from(&usman, "usman1", [127, 0, 0, 3]).await.status,
        429
    );
    assert_eq!(
        publish_from(&zara, "zara1", [127, 0, 0, 4]).await.status,
        200
    );
}
