//! Pictures, videos and files: uploaded by members with their room's key,
//! sent in messages, fetched by members only, and served so that nothing
//! uploaded can run on the chat's origin. Runs on the directory blob store,
//! and on the S3-compatible one with `CHAT_TEST_MEDIA=s3`.

use crate::common::*;
use app::media::{Attachment, KEY_HEADER, MediaGrant, MediaId, MediaKind, NAME_HEADER, PASS_PATH};
use app::messages::{EntryKind, MessageBody};
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use std::io::Cursor;

/// Joins and returns the room's media grant.
pub(crate) async fn join_for_media(
    client: &mut Client,
    room_name: &str,
    nick_name: &str,
) -> MediaGrant {
    match client.try_join(room_name, nick_name).await {
        ServerFrame::Joined {
            media: Some(grant), ..
        } => grant,
        other => panic!("expected a join with a media grant, got {other:?}"),
    }
}

/// Uploads `bytes` as `name` with `key`; the status and the body's text.
pub(crate) async fn upload(app: &TestApp, key: &str, name: &str, bytes: Vec<u8>) -> (u16, String) {
    upload_with(app, key, &[(NAME_HEADER, name)], bytes).await
}

/// Uploads `bytes` with `key` and `headers`; the status and the body's text.
pub(crate) async fn upload_with(
    app: &TestApp,
    key: &str,
    headers: &[(&str, &str)],
    bytes: Vec<u8>,
) -> (u16, String) {
    let origin = format!("http://{}", app.addr());
    let mut request = reqwest::Client::new()
        .post(format!("{origin}/api/media"))
        .header("origin", &origin)
        .header(KEY_HEADER, key);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let res = request
        .body(bytes)
        .send()
        .await
        .expect("the upload request goes");
    let status = res.status().as_u16();
    (status, res.text().await.expect("an answer"))
}

/// Uploads and expects it kept.
pub(crate) async fn uploaded(app: &TestApp, key: &str, name: &str, bytes: Vec<u8>) -> Attachment {
    let (status, body) = upload(app, key, name, bytes).await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_str(&body).expect("the answer is an attachment")
}

/// GETs `path` (with extra headers).
pub(crate) async fn fetch(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("http://{}{path}", app.addr()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("GET works")
}

/// The cookie the server sets for a holder of `key` at the pass endpoint,
/// as a `Cookie` header's pair; `None` when it refuses.
pub(crate) async fn media_pass(app: &TestApp, key: &str) -> Option<String> {
    let res = reqwest::Client::new()
        .post(format!("http://{}{PASS_PATH}", app.addr()))
        .header(KEY_HEADER, key)
        .send()
        .await
        .expect("the pass request goes");
    if res.status() != 204 {
        return None;
    }
    let set = header(&res, "set-cookie");
    Some(set.split(';').next().unwrap_or_default().to_owned())
}

/// GETs `path` as a browser holding `key`'s room pass would (without one
/// when the pass is refused).
pub(crate) async fn fetch_as(
    app: &TestApp,
    key: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let cookie = media_pass(app, key).await.unwrap_or_default();
    let mut all = headers.to_vec();
    all.push(("cookie", &cookie));
    fetch(app, path, &all).await
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Sends `text` with `files`; the entry everyone sees (read back by `client`).
pub(crate) async fn send_with(
    client: &mut Client,
    room_name: &str,
    text: &str,
    files: &[&MediaId],
) {
    let client_id = client.new_client_id();
    client
        .send_frame(&ClientFrame::Send {
            room: room(room_name),
            client_id,
            body: MessageBody::parse(text).unwrap(),
            reply_to: None,
            media: files.iter().map(|id| (*id).clone()).collect(),
        })
        .await;
}

pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A JPEG whose EXIF says: rotate 90° (orientation 6), a description, and
/// a GPS position.
fn jpeg_with_exif(width: u32, height: u32, marker: &str) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
    let mut plain = Cursor::new(Vec::new());
    image
        .write_to(&mut plain, image::ImageFormat::Jpeg)
        .unwrap();
    let plain = plain.into_inner();
    let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        let mut e = vec![];
        e.extend(tag.to_be_bytes());
        e.extend(kind.to_be_bytes());
        e.extend(count.to_be_bytes());
        e.extend(value);
        e
    };
    let text = format!("{marker}\0");
    // Header (8), IFD0 (2 + 3 * 12 + 4 = 42), the GPS IFD (2 + 12 + 4 = 18), the text.
    let (gps_at, text_at) = (8u32 + 42, 8u32 + 42 + 18);
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend(3u16.to_be_bytes());
    tiff.extend(entry(0x010e, 2, text.len() as u32, text_at.to_be_bytes()));
    tiff.extend(entry(0x0112, 3, 1, [0, 6, 0, 0]));
    tiff.extend(entry(0x8825, 4, 1, gps_at.to_be_bytes()));
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(1u16.to_be_bytes());
    tiff.extend(entry(0x0001, 2, 2, *b"N\0\0\0"));
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(text.as_bytes());
    let mut app1 = vec![0xff, 0xe1];
    app1.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend(b"Exif\0\0");
    app1.extend(tiff);
    let mut out = plain[..2].to_vec();
    out.extend(app1);
    out.extend(&plain[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A few hundred bytes claiming to be a 20,000 x 20,000 picture.
fn png_bomb() -> Vec<u8> {
    let mut bytes = png(8, 8);
    // IHDR: length (4), "IHDR" (4), width (4), height (4), ..., CRC after 13 bytes.
    bytes[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

async fn blobs(app: &TestApp) -> usize {
    app.server
        .media()
        .blobs()
        .count()
        .await
        .expect("the blobs list")
}

/// The attachments of the message entry `client` hears next.
async fn hear_files(client: &mut Client) -> Vec<Attachment> {
    let frames = client
        .recv_until(|f| {
            matches!(f, ServerFrame::Entry { entry, .. } if matches!(entry.kind, EntryKind::Message { .. }))
        })
        .await;
    match frames.into_iter().last() {
        Some(ServerFrame::Entry { entry, .. }) => match entry.kind {
            EntryKind::Message { media, .. } => media,
            _ => unreachable!(),
        },
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_picture_is_sent_seen_full_size_and_as_a_thumbnail() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "pics", "sadia").await;
    assert_eq!(grant.max_bytes, 25_000_000, "the default limit is 25 MB");
    let mut usman = app.client().await;
    let usman_grant = join_for_media(&mut usman, "pics", "usman").await;
    assert_ne!(
        usman_grant.key, grant.key,
        "every member has a key of their own"
    );

    let picture = uploaded(&app, &grant.key, "harbour.png", png(1200, 800)).await;
    assert_eq!(picture.kind, MediaKind::Image);
    assert_eq!((picture.width, picture.height), (Some(1200), Some(800)));
    send_with(&mut sadia, "pics", "the harbour", &[&picture.id]).await;
    let heard = hear_files(&mut usman).await;
    assert_eq!(heard, vec![picture.clone()]);

    let key = &usman_grant.key;
    let full = fetch_as(&app, key, &format!("/media/{}", picture.id.as_str()), &[]).await;
    assert_eq!(full.status(), 200);
    assert_eq!(header(&full, "content-type"), "image/png");
    assert_eq!(header(&full, "x-content-type-options"), "nosniff");
    assert!(header(&full, "content-disposition").starts_with("inline"));
    assert!(header(&full, "content-security-policy").contains("sandbox"));
    assert!(header(&full, "cache-control").contains("immutable"));
    let decoded = image::load_from_memory(&full.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1200, 800));

    let thumb = fetch_as(
        &app,
        key,
        &format!("/media/{}/thumb", picture.id.as_str()),
        &[],
    )
    .await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(header(&thumb, "content-type"), "image/jpeg");
    let small = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((small.width(), small.height()), (640, 427));

    // History carries it too, for whoever opens the room later.
    let log = log_of(&app, "pics").await;
    assert!(log.iter().any(
        |e| matches!(&e.kind, EntryKind::Message { media, .. } if media == &vec![picture.clone()])
    ));
}

#[tokio::test]
async fn exif_and_gps_are_gone_and_the_picture_stands_upright() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "pics", "sadia").await;
    let marker = "secret-location-marker";
    let original = jpeg_with_exif(40, 20, marker);
    assert!(original.windows(4).any(|w| w == b"Exif"));
    let picture = uploaded(&app, &grant.key, "phone.jpg", original).await;
    // Orientation 6 turns 40 x 20 into 20 x 40.
    assert_eq!((picture.width, picture.height), (Some(20), Some(40)));
    let kept = fetch_as(
        &app,
        &grant.key,
        &format!("/media/{}", picture.id.as_str()),
        &[],
    )
    .await
    .bytes()
    .await
    .unwrap();
    assert!(!kept.windows(4).any(|w| w == b"Exif"), "no EXIF is kept");
    assert!(!kept.windows(marker.len()).any(|w| w == marker.as_bytes()));
    let decoded = image::load_from_memory(&kept).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (20, 40));
}

#[tokio::test]
async fn an_html_file_named_png_and_an_svg_are_downloads_never_pages() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "files", "sadia").await;
    let html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    for (name, bytes) in [("cute-cat.png", html.to_vec()), ("logo.svg", svg.to_vec())] {
        let file = uploaded(&app, &grant.key, name, bytes).await;
        assert_eq!(file.kind, MediaKind::File, "{name} is only a file");
        assert!(
            !file.content_type.starts_with("image/"),
            "{name}: {}",
            file.content_type
        );
        send_with(&mut sadia, "files", name, &[&file.id]).await;
        let served = fetch_as(
            &app,
            &grant.key,
            &format!("/media/{}", file.id.as_str()),
            &[],
        )
        .await;
        assert_eq!(served.status(), 200);
        assert!(
            header(&served, "content-disposition").starts_with("attachment"),
            "{name} is a download"
        );
        assert_eq!(header(&served, "x-content-type-options"), "nosniff");
        assert!(header(&served, "content-security-policy").contains("sandbox"));
        assert_ne!(header(&served, "content-type"), "image/svg+xml");
        assert_ne!(header(&served, "content-type"), "image/png");
        // A file has no thumbnail to show inline either.
        let thumb = fetch_as(
            &app,
            &grant.key,
            &format!("/media/{}/thumb", file.id.as_str()),
            &[],
        )
        .await;
        assert_eq!(thumb.status(), 404);
    }
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_and_nothing_is_kept() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "pics", "sadia").await;
    let bomb = png_bomb();
    assert!(bomb.len() < 1000);
    let (status, why) = upload(&app, &grant.key, "tiny.png", bomb).await;
    assert_eq!(status, 422, "{why}");
    assert!(
        why.contains("20000 × 20000") && why.contains("megapixels"),
        "{why}"
    );
    assert_eq!(blobs(&app).await, 0);
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept() {
    let app = spawn_app_with(&["--media-max-bytes", "100000"]).await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "files", "sadia").await;
    assert_eq!(grant.max_bytes, 100_000);
    let (status, why) = upload(&app, &grant.key, "big.bin", vec![7u8; 200_000]).await;
    assert_eq!(status, 413, "{why}");
    assert!(why.contains("big.bin") && why.contains("100 KB"), "{why}");
    // A sender that does not say the length up front is cut off as it goes.
    let origin = format!("http://{}", app.addr());
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![1u8; 10_000])).collect();
    let res = reqwest::Client::new()
        .post(format!("{origin}/api/media"))
        .header("origin", &origin)
        .header(KEY_HEADER, &grant.key)
        .header(NAME_HEADER, "streamed.bin")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status(), 413);
    }
    assert_eq!(blobs(&app).await, 0);
    let rows = read_rows(&app, "SELECT public_id FROM media").await;
    assert!(rows.is_empty(), "no upload was recorded");
}

#[tokio::test]
async fn only_members_of_the_room_upload_to_it_and_fetch_from_it() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "private-ish", "sadia").await;
    let file = uploaded(&app, &grant.key, "notes.txt", b"meeting at noon".to_vec()).await;
    send_with(&mut sadia, "private-ish", "notes", &[&file.id]).await;
    let mut mallory = app.client().await;
    let elsewhere = join_for_media(&mut mallory, "elsewhere", "mallory").await;
    let path = format!("/media/{}", file.id.as_str());
    for key in [elsewhere.key.as_str(), "", "not-a-key"] {
        let res = fetch_as(&app, key, &path, &[]).await;
        assert_eq!(res.status(), 403, "key {key:?}");
    }
    let (status, _) = upload(&app, "made-up", "x.txt", b"x".to_vec()).await;
    assert_eq!(status, 403, "no upload without a member's key");
    let res = fetch_as(&app, &grant.key, &path, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "meeting at noon");
}

#[tokio::test]
async fn a_copied_file_link_opens_nothing_for_someone_outside_the_room() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "pics", "sadia").await;
    let file = uploaded(&app, &grant.key, "plan.png", png(40, 30)).await;
    send_with(&mut sadia, "pics", "the plan", &[&file.id]).await;
    sadia.hear("the plan").await;

    // The address a member's browser shows (and "copy image link" copies).
    let link = app::media::media_url(&file.id);
    assert!(!link.contains(&grant.key), "{link} carries the room's key");
    assert_eq!(fetch(&app, &link, &[]).await.status(), 403, "no pass");
    let mut mallory = app.client().await;
    let elsewhere = join_for_media(&mut mallory, "elsewhere", "mallory").await;
    assert_eq!(
        fetch_as(&app, &elsewhere.key, &link, &[]).await.status(),
        403,
        "another room's pass"
    );
    assert_eq!(media_pass(&app, "00ff00ff").await, None, "a made-up key");

    // The member's pass: a cookie for the media paths only, out of scripts'
    // reach, that opens the file and its thumbnail.
    let res = reqwest::Client::new()
        .post(format!("http://{}{PASS_PATH}", app.addr()))
        .header(KEY_HEADER, &grant.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let set = header(&res, "set-cookie");
    assert!(set.contains("; Path=/media;"), "{set}");
    assert!(set.contains("; HttpOnly"), "{set}");
    let pass = set.split(';').next().unwrap().to_owned();
    let full = fetch(&app, &link, &[("cookie", &pass)]).await;
    assert_eq!(full.status(), 200);
    let thumb = fetch(&app, &app::media::thumb_url(&file.id), &[("cookie", &pass)]).await;
    assert_eq!(thumb.status(), 200);

    // The pass is no key: it uploads nothing.
    let origin = format!("http://{}", app.addr());
    let upload = reqwest::Client::new()
        .post(format!("{origin}/api/media"))
        .header("origin", &origin)
        .header("cookie", &pass)
        .header(NAME_HEADER, "more.txt")
        .body(b"more".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 403);
}

#[tokio::test]
async fn a_range_is_answered_with_206_for_seeking() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "files", "sadia").await;
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = uploaded(&app, &grant.key, "data.bin", bytes.clone()).await;
    send_with(&mut sadia, "files", "data", &[&file.id]).await;
    let path = format!("/media/{}", file.id.as_str());
    let part = fetch_as(&app, &grant.key, &path, &[("range", "bytes=100-199")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(header(&part, "content-range"), "bytes 100-199/10000");
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        bytes[100..200].to_vec()
    );
    let tail = fetch_as(&app, &grant.key, &path, &[("range", "bytes=9990-")]).await;
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap().to_vec(), bytes[9990..].to_vec());
    let beyond = fetch_as(&app, &grant.key, &path, &[("range", "bytes=20000-20010")]).await;
    assert_eq!(beyond.status(), 416);
    assert_eq!(header(&beyond, "content-range"), "bytes */10000");
}

#[tokio::test]
async fn the_same_bytes_twice_are_kept_once_under_two_ids() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "files", "sadia").await;
    let mut usman = app.client().await;
    let usman_grant = join_for_media(&mut usman, "files", "usman").await;
    let bytes = b"the same report, shared twice".to_vec();
    let first = uploaded(&app, &grant.key, "report.txt", bytes.clone()).await;
    let second = uploaded(&app, &usman_grant.key, "report.txt", bytes).await;
    assert_ne!(first.id, second.id, "ids do not tell who else has the file");
    assert_eq!(blobs(&app).await, 1);
}

#[tokio::test]
async fn deleting_a_message_deletes_its_files() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "pics", "sadia").await;
    let picture = uploaded(&app, &grant.key, "big.png", png(900, 900)).await;
    assert_eq!(blobs(&app).await, 2, "the picture and its thumbnail");
    send_with(&mut sadia, "pics", "oops", &[&picture.id]).await;
    let seq = match sadia
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await
        .pop()
    {
        Some(ServerFrame::Ack { seq, .. }) => seq,
        _ => unreachable!(),
    };
    sadia
        .send_frame(&ClientFrame::Delete {
            room: room("pics"),
            target: seq,
        })
        .await;
    sadia.hear_action().await;
    let res = fetch_as(
        &app,
        &grant.key,
        &format!("/media/{}", picture.id.as_str()),
        &[],
    )
    .await;
    assert_eq!(res.status(), 404);
    let deadline = tokio::time::Instant::now() + WAIT;
    while blobs(&app).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the blobs were never deleted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_message_carries_only_its_senders_unsent_uploads_to_that_room() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "files", "sadia").await;
    let mut usman = app.client().await;
    join_for_media(&mut usman, "files", "usman").await;
    let file = uploaded(&app, &grant.key, "mine.txt", b"sadia's".to_vec()).await;
    send_with(&mut usman, "files", "look what I found", &[&file.id]).await;
    assert_eq!(usman.refusal().await, ErrorCode::NoSuchMedia);
    send_with(&mut sadia, "files", "mine", &[&file.id]).await;
    assert_eq!(hear_files(&mut sadia).await, vec![file.clone()]);
    // Once sent it is not sent again in another message.
    send_with(&mut sadia, "files", "again", &[&file.id]).await;
    assert_eq!(sadia.refusal().await, ErrorCode::NoSuchMedia);
}

#[tokio::test]
async fn a_person_has_a_daily_allowance() {
    let app = spawn_app_with(&["--media-daily-bytes", "50000"]).await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "files", "sadia").await;
    uploaded(&app, &grant.key, "one.bin", vec![1u8; 30_000]).await;
    let (status, why) = upload(&app, &grant.key, "two.bin", vec![2u8; 30_000]).await;
    assert_eq!(status, 429, "{why}");
    assert!(why.contains("today"), "{why}");
}

#[tokio::test]
async fn a_banned_member_loses_the_rooms_files() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let grant = join_for_media(&mut sadia, "files", "sadia").await;
    let file = uploaded(&app, &grant.key, "a.txt", b"a".to_vec()).await;
    send_with(&mut sadia, "files", "a", &[&file.id]).await;
    let room_id = read_rows(
        &app,
        "SELECT CAST(id AS TEXT) FROM rooms WHERE name = 'files'",
    )
    .await[0][0]
        .clone();
    let path = format!("/media/{}", file.id.as_str());
    let pass = media_pass(&app, &grant.key).await.expect("a member's pass");
    assert_eq!(fetch(&app, &path, &[("cookie", &pass)]).await.status(), 200);
    let author = read_rows(&app, "SELECT author FROM room_members").await[0][0].clone();
    app.server
        .hub()
        .store()
        .ban(room_id.parse().unwrap(), &author, &nick("sadia"))
        .await
        .unwrap();
    // The pass taken before the ban no longer opens anything, and no new
    // one is given.
    assert_eq!(fetch(&app, &path, &[("cookie", &pass)]).await.status(), 403);
    assert_eq!(media_pass(&app, &grant.key).await, None);
}
