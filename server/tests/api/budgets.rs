//! Budgets an attacker with one laptop runs into: searches per address (and
//! the one-letter prefix that no longer reads the whole index), addresses
//! behind a trusted proxy, login attempts that only count once the input is
//! well formed, guests' uploads per address, the media store's cap, and
//! sessions that end by time closing their sockets.

use crate::accounts::{PASSWORD, post, sign_up, signed_in_client};
use crate::common::*;
use crate::media::{join_for_media, png, upload};

/// Searches #main for `query` over the server function, from `forwarded_for`
/// if given (as a proxy would say); the status and the texts found.
async fn search_from(
    app: &TestApp,
    query: &str,
    forwarded_for: Option<&str>,
) -> (u16, Vec<String>) {
    let origin = format!("http://{}", app.addr());
    let mut request = reqwest::Client::new()
        .post(format!("{origin}/api/search_messages"))
        .header("origin", &origin)
        .form(&[("query", query), ("rooms[0]", "main"), ("page", "0")]);
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    let found = serde_json::from_str::<app::search::SearchPage>(&body)
        .map(|page| {
            page.found
                .into_iter()
                .map(|f| {
                    f.snippet
                        .replace([app::search::MARK_START, app::search::MARK_END], "")
                })
                .collect()
        })
        .unwrap_or_default();
    (status, found)
}

#[tokio::test]
async fn a_short_last_word_matches_whole_words_only() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    sadia.say("main", "an elephant walked by").await;
    sadia.say("main", "e is a letter").await;
    assert_eq!(
        search_from(&app, "e", None).await.1,
        ["e is a letter"],
        "one letter is a word, not a prefix"
    );
    assert_eq!(search_from(&app, "el", None).await.1, Vec::<String>::new());
    assert_eq!(
        search_from(&app, "ele", None).await.1,
        ["an elephant walked by"],
        "three letters are a prefix"
    );
}

#[tokio::test]
async fn searches_are_budgeted_per_address() {
    let app = spawn_app_with(&["--search-burst", "2", "--search-every-ms", "600000"]).await;
    assert_eq!(search_from(&app, "hello", None).await.0, 200);
    assert_eq!(search_from(&app, "hello", None).await.0, 200);
    let (status, _) = search_from(&app, "hello", None).await;
    assert_eq!(status, 429, "the third search in a row is refused");
    let page = reqwest::get(format!("http://{}/search?room=main&q=hello", app.addr()))
        .await
        .unwrap();
    assert_eq!(page.status(), 429);
    assert!(page.text().await.unwrap().contains("searching too fast"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let flags = [
        "--search-burst",
        "1",
        "--search-every-ms",
        "600000",
        "--trusted-proxies",
        "127.0.0.0/8",
    ];
    let app = spawn_app_with(&flags).await;
    assert_eq!(search_from(&app, "hi", Some("203.0.113.1")).await.0, 200);
    assert_eq!(
        search_from(&app, "hi", Some("203.0.113.2")).await.0,
        200,
        "another client behind the same proxy"
    );
    assert_eq!(
        search_from(&app, "hi", Some("203.0.113.1")).await.0,
        429,
        "the first client's budget is spent"
    );
    assert_eq!(
        search_from(&app, "hi", Some("6.6.6.6, 203.0.113.1"))
            .await
            .0,
        429,
        "a forged address further left proves nothing"
    );
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_header_is_ignored() {
    let app = spawn_app_with(&["--search-burst", "1", "--search-every-ms", "600000"]).await;
    assert_eq!(search_from(&app, "hi", Some("203.0.113.1")).await.0, 200);
    assert_eq!(
        search_from(&app, "hi", Some("203.0.113.2")).await.0,
        429,
        "anyone can write the header: the peer is the address"
    );
}

#[tokio::test]
async fn malformed_logins_spend_no_budget() {
    let app = spawn_app_with(&["--login-address-burst", "2"]).await;
    sign_up(&app, "sadia", PASSWORD).await;
    // Names no account can have: empty, too long, invisible or control
    // characters.
    let too_long = "x".repeat(40);
    for junk in [
        "",
        "   ",
        &too_long,
        "\u{202E}nimda",
        "ad\u{200B}min",
        "a\u{7}b",
    ] {
        let answer = post(
            &app,
            "/login",
            &[("username", junk), ("password", "x")],
            None,
        )
        .await;
        assert_eq!(answer.status, 401, "{junk:?}: {}", answer.body);
    }
    let answer = post(
        &app,
        "/login",
        &[("username", "sadia"), ("password", PASSWORD)],
        None,
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
}

#[tokio::test]
async fn guests_of_one_address_share_a_daily_upload_budget() {
    let app = spawn_app_with(&["--media-guest-address-daily-bytes", "10"]).await;
    let mut first = app.client().await;
    let first_key = join_for_media(&mut first, "files", "zara").await.key;
    let (status, body) = upload(&app, &first_key, "a.txt", vec![b'a'; 8]).await;
    assert_eq!(status, 201, "{body}");
    // A new tab is a new guest, but not a new address.
    let mut second = app.client().await;
    let second_key = join_for_media(&mut second, "files", "amir").await.key;
    let (status, body) = upload(&app, &second_key, "b.txt", vec![b'b'; 8]).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = upload(&app, &second_key, "c.txt", vec![b'c'; 8]).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("Guests on your network address"), "{body}");
    // An account is not a guest.
    let cookie = sign_up(&app, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(&app, &cookie).await;
    let key = join_for_media(&mut sadia, "files", "sadia").await.key;
    let (status, body) = upload(&app, &key, "d.txt", vec![b'd'; 8]).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_media_store_refuses_uploads_past_its_cap() {
    let app = spawn_app_with(&["--media-store-max-bytes", "20"]).await;
    let mut sadia = app.client().await;
    let key = join_for_media(&mut sadia, "files", "sadia").await.key;
    let (status, body) = upload(&app, &key, "a.txt", vec![b'a'; 15]).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = upload(&app, &key, "b.txt", vec![b'b'; 10]).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("file store is full"), "{body}");
}

#[tokio::test]
async fn a_session_that_ends_by_time_closes_its_sockets() {
    let app = spawn_app_with(&["--session-max-secs", "2"]).await;
    let cookie = sign_up(&app, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(&app, &cookie).await;
    sadia.join("main", "sadia").await;
    assert_eq!(
        sadia.close_code().await,
        Some(4003),
        "closed as a logout is"
    );
}

#[tokio::test]
async fn pictures_dropped_together_take_turns_instead_of_being_refused() {
    let app = spawn_app().await;
    let mut sadia = app.client().await;
    let key = join_for_media(&mut sadia, "files", "sadia").await.key;
    // One address decodes one picture at a time; the others wait their turn.
    let uploads = (0..4).map(|n| {
        let (app, key) = (&app, key.clone());
        async move { upload(app, &key, &format!("p{n}.png"), png(64 + n, 48)).await }
    });
    for (status, body) in futures::future::join_all(uploads).await {
        assert_eq!(status, 201, "{body}");
    }
}
