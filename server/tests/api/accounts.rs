//! Accounts from the outside: forms posted like a browser posts them, the
//! session cookie they set, and WebSockets opened with (or without) it.

use crate::common::*;
use app::protocol::{ErrorCode, ServerFrame};
use reqwest::header;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The form handlers' answer, not followed (its `Set-Cookie` and `Location`
/// matter).
pub(crate) struct Answer {
    pub status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    /// `name=value` of the form guest's cookie this answer sets.
    pub(crate) fn guest_cookie(&self) -> String {
        let cookie = self.cookie();
        assert!(
            cookie.starts_with("__Host-chat_guest=") || cookie.starts_with("chat_guest="),
            "{cookie}"
        );
        cookie
    }

    /// Where a redirect points.
    pub(crate) fn location(&self) -> &str {
        self.location.as_deref().expect("a redirect")
    }

    /// `name=value` of the session cookie this answer sets.
    pub(crate) fn cookie(&self) -> String {
        let set = self.set_cookie.as_deref().expect("a session cookie is set");
        set.split(';').next().unwrap().to_owned()
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn answer(res: reqwest::Response) -> Answer {
    let text = |name: header::HeaderName| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (location, set_cookie, retry_after) = (
        text(header::LOCATION),
        text(header::SET_COOKIE),
        text(header::RETRY_AFTER),
    );
    Answer {
        status: res.status().as_u16(),
        location,
        set_cookie,
        retry_after,
        body: res.text().await.unwrap(),
    }
}

/// A POST to `path` from this site's own pages, with `cookie` if given.
pub(crate) fn from_site(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
) -> reqwest::RequestBuilder {
    let origin = format!("http://{}", app.addr());
    let request = no_redirects()
        .post(format!("{origin}{path}"))
        .header(header::ORIGIN, &origin);
    match cookie {
        Some(cookie) => request.header(header::COOKIE, cookie),
        None => request,
    }
}

/// POSTs a form from this site, as the browser does, with `cookie` if given.
pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> Answer {
    let request = from_site(app, path, cookie).form(form);
    answer(request.send().await.unwrap()).await
}

/// Calls a server function as the browser does (its arguments in JSON), with
/// `cookie` if given.
pub(crate) async fn call_as(
    app: &TestApp,
    path: &str,
    args: serde_json::Value,
    cookie: Option<&str>,
) -> Answer {
    let request = from_site(app, path, cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(args.to_string());
    answer(request.send().await.unwrap()).await
}

/// Asks, as the holder of `cookie`, to close `room_name` to guests.
pub(crate) async fn close_to_guests(app: &TestApp, room_name: &str, cookie: &str) -> Answer {
    post(
        app,
        "/account/rooms",
        &[("room", room_name), ("accounts_only", "on")],
        Some(cookie),
    )
    .await
}

pub(crate) async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Answer {
    let mut request = no_redirects().get(format!("http://{}{path}", app.addr()));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    answer(request.send().await.unwrap()).await
}

pub(crate) async fn sign_up(app: &TestApp, name: &str, password: &str) -> String {
    let answer = post(
        app,
        "/signup",
        &[("username", name), ("password", password)],
        None,
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    answer.cookie()
}

pub(crate) async fn log_in(app: &TestApp, name: &str, password: &str) -> Answer {
    post(
        app,
        "/login",
        &[("username", name), ("password", password)],
        None,
    )
    .await
}

/// A WebSocket opened with the session cookie, as a signed-in page opens it.
pub(crate) async fn signed_in_client(app: &TestApp, cookie: &str) -> Client {
    let mut request = format!("ws://{}/ws", app.addr())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    Client::from_stream(ws)
}

async fn signed_in_name(app: &TestApp, cookie: Option<&str>) -> Option<String> {
    let page = get(app, "/account", cookie).await;
    if page.status != 200 {
        return None;
    }
    let start = page.body.find("Signed in as <strong>")? + "Signed in as <strong>".len();
    let end = page.body[start..].find('<')?;
    Some(page.body[start..start + end].to_owned())
}

pub(crate) const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn sign_up_log_out_and_log_in_again() {
    let app = spawn_app().await;
    let cookie = sign_up(&app, "sadia", PASSWORD).await;
    assert_eq!(
        signed_in_name(&app, Some(&cookie)).await.as_deref(),
        Some("sadia")
    );

    let out = post(&app, "/logout", &[], Some(&cookie)).await;
    assert_eq!(out.status, 303);
    assert!(
        out.set_cookie.unwrap().contains("Max-Age=0"),
        "the cookie is cleared"
    );
    assert_eq!(
        signed_in_name(&app, Some(&cookie)).await,
        None,
        "the old cookie is dead"
    );
    assert_eq!(
        get(&app, "/account", Some(&cookie))
            .await
            .location
            .as_deref(),
        Some("/login")
    );

    let again = log_in(&app, "Sadia", PASSWORD).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(again.location.as_deref(), Some("/"));
    assert_eq!(
        signed_in_name(&app, Some(&again.cookie())).await.as_deref(),
        Some("sadia")
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure_by_default() {
    let app = spawn_app().await;
    let answer = post(
        &app,
        "/signup",
        &[("username", "sadia"), ("password", PASSWORD)],
        None,
    )
    .await;
    let set = answer.set_cookie.unwrap();
    assert!(set.starts_with("__Host-chat_session="), "{set}");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age="] {
        assert!(set.contains(flag), "{set} lacks {flag}");
    }

    let local = spawn_app_with(&["--insecure-cookies"]).await;
    let answer = post(
        &local,
        "/signup",
        &[("username", "sadia"), ("password", PASSWORD)],
        None,
    )
    .await;
    let set = answer.set_cookie.unwrap();
    assert!(
        set.starts_with("chat_session=") && !set.contains("Secure"),
        "{set}"
    );
}

#[tokio::test]
async fn every_login_gets_a_new_session_and_ends_the_one_it_replaces() {
    let app = spawn_app().await;
    let first = sign_up(&app, "sadia", PASSWORD).await;
    let login = post(
        &app,
        "/login",
        &[("username", "sadia"), ("password", PASSWORD)],
        Some(&first),
    )
    .await;
    let second = login.cookie();
    assert_ne!(first, second, "the session id changes at login");
    assert_eq!(signed_in_name(&app, Some(&first)).await, None);
    assert_eq!(
        signed_in_name(&app, Some(&second)).await.as_deref(),
        Some("sadia")
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    sign_up(&app, "sadia", PASSWORD).await;
    let wrong = log_in(&app, "sadia", "not the password").await;
    let unknown = log_in(&app, "nobody", "not the password").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert!(wrong.body.contains("Wrong username or password."));
    assert_eq!(
        wrong.body.replace("sadia", "nobody"),
        unknown.body,
        "nothing tells the two apart"
    );
    assert!(wrong.set_cookie.is_none() && unknown.set_cookie.is_none());
}

#[tokio::test]
async fn signup_forms_say_exactly_what_is_wrong() {
    let app = spawn_app().await;
    sign_up(&app, "sadia", PASSWORD).await;
    let cases = [
        ("SADIA", PASSWORD, 409, "That username is taken"),
        ("ѕadia", PASSWORD, 409, "That username is taken"),
        ("sa dia", PASSWORD, 400, "A username is 2 to 32 characters"),
        ("usman", "short", 400, "too short: use at least 8"),
        ("usman", &"x".repeat(129), 400, "too long: use at most 128"),
    ];
    for (name, password, status, says) in cases {
        let answer = post(
            &app,
            "/signup",
            &[("username", name), ("password", password)],
            None,
        )
        .await;
        assert_eq!(answer.status, status, "{name}: {}", answer.body);
        assert!(answer.body.contains(says), "{name}: {}", answer.body);
        assert!(answer.body.contains("role=\"alert\""));
    }
}

#[tokio::test]
async fn login_attempts_are_throttled_per_username_and_per_address() {
    // Budgets that do not refill during the test, however slow the hashing.
    let app = spawn_app_with(&[
        "--login-username-burst",
        "4",
        "--login-address-burst",
        "6",
        "--login-username-every-secs",
        "3600",
        "--login-address-every-secs",
        "3600",
    ])
    .await;
    // The signup counts as the name's first attempt.
    sign_up(&app, "sadia", PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(log_in(&app, "sadia", "guess guess").await.status, 401);
    }
    let refused = log_in(&app, "SADIA", PASSWORD).await;
    assert_eq!(refused.status, 429, "look-alike spellings share the budget");
    assert!(refused.body.contains("Too many attempts; try again in"));
    let wait: u64 = refused.retry_after.expect("Retry-After").parse().unwrap();
    assert!(wait >= 1);

    // Another name from the same address has its own budget, until the
    // address's runs out (1 signup + 4 logins so far).
    assert_eq!(log_in(&app, "usman", "guess guess").await.status, 401);
    assert_eq!(log_in(&app, "amara", "guess guess").await.status, 429);
}

#[tokio::test]
async fn the_stored_password_is_an_argon2id_hash_with_owasp_parameters() {
    let app = spawn_app().await;
    sign_up(&app, "sadia", PASSWORD).await;
    let hash = read_rows(&app, "SELECT password_hash FROM accounts").await[0][0].clone();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn a_socket_with_the_cookie_talks_as_the_account_and_without_it_as_a_guest() {
    let app = spawn_app().await;
    let cookie = sign_up(&app, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(&app, &cookie).await;
    // The nickname in the frame does not matter: the session says who this is.
    match sadia.try_join("main", "whoever").await {
        ServerFrame::Joined { nick, .. } => assert_eq!(nick.as_str(), "sadia"),
        other => panic!("expected joined, got {other:?}"),
    }
    let mut usman = app.client().await;
    let online = match usman.try_join("main", "usman").await {
        ServerFrame::Joined { online, .. } => online,
        other => panic!("expected joined, got {other:?}"),
    };
    assert!(
        online
            .iter()
            .any(|p| p.nick.as_str() == "sadia" && p.account)
    );
    sadia.say("main", "Hello from an account").await;
    let heard = usman.hear("Hello from an account").await;
    assert!(heard.account && heard.nick.as_str() == "sadia");
    usman.say("main", "Hello from a guest").await;
    let heard = sadia.hear("Hello from a guest").await;
    assert!(!heard.account && heard.nick.as_str() == "usman");

    // Each entry keeps who wrote it, beyond the name it shows.
    let authors = read_rows(
        &app,
        "SELECT nick, author FROM entries WHERE kind = 'message' ORDER BY seq",
    )
    .await;
    assert!(authors[0][1].starts_with("account:"), "{authors:?}");
    assert_eq!(authors[1][1], format!("guest:{}", usman.session.as_str()));
}

#[tokio::test]
async fn an_account_in_two_browsers_is_one_person_in_the_room() {
    let app = spawn_app().await;
    let first = sign_up(&app, "sadia", PASSWORD).await;
    let second = log_in(&app, "sadia", PASSWORD).await.cookie();
    let mut usman = app.client().await;
    usman.join("main", "usman").await;
    let mut laptop = signed_in_client(&app, &first).await;
    laptop.join("main", "sadia").await;
    let mut phone = signed_in_client(&app, &second).await;
    let (online, _) = phone.join("main", "sadia").await;
    assert!(online.iter().any(|n| n.as_str() == "sadia"));
    phone.say("main", "from my phone").await;
    laptop.hear("from my phone").await;
    // Closing one of them is not leaving: the other is still there.
    drop(phone);
    laptop.say("main", "still here").await;
    let frames = usman
        .recv_until(|f| message_text(f) == Some("still here"))
        .await;
    assert!(
        frames
            .iter()
            .all(|f| notice(f).is_none_or(|n| !n.contains("left"))),
        "{frames:?}"
    );
    let sadia_joins = log_of(&app, "main")
        .await
        .iter()
        .filter(|e| line(e) == "sadia joined")
        .count();
    assert_eq!(sadia_joins, 1);
}

#[tokio::test]
async fn a_guest_cannot_take_a_registered_name_however_it_is_spelled() {
    let app = spawn_app().await;
    sign_up(&app, "sadia", PASSWORD).await;
    for spelling in ["sadia", "SADIA", "ѕadia", "deleted user"] {
        let mut guest = app.client().await;
        let frame = guest.try_join("main", spelling).await;
        assert_eq!(
            error_code(&frame),
            Some(ErrorCode::NameReserved),
            "{spelling}"
        );
        let ServerFrame::Error { message, .. } = frame else {
            unreachable!()
        };
        assert!(message.contains("registered name"), "{message}");
    }
    // Without a socket too.
    let (status, body) = app
        .post_form("/r/main/post", "nick=Sadia&body=hi&client_id=f1")
        .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn an_owner_changing_room_settings_in_a_loop_is_told_to_wait_per_account_and_address() {
    let app = spawn_app().await;
    let owner = sign_up(&app, "sadia", PASSWORD).await;
    let other = sign_up(&app, "usman", PASSWORD).await;
    for (cookie, room, nick) in [(&owner, "club", "sadia"), (&other, "den", "usman")] {
        let mut client = signed_in_client(&app, cookie).await;
        client.join(room, nick).await;
    }
    let toggle = |cookie: &str, room: &'static str, on: bool| {
        let cookie = cookie.to_owned();
        let app = &app;
        async move {
            let on = if on { "on" } else { "off" };
            post(
                app,
                "/account/rooms",
                &[("room", room), ("quiet_notices", on)],
                Some(&cookie),
            )
            .await
        }
    };
    // A person at the account page changes a few; a script changes many:
    // every change is told to every server and may send people out.
    let mut done = 0;
    let refused = loop {
        let answer = toggle(&owner, "club", done % 2 == 0).await;
        if answer.status != 303 {
            break answer;
        }
        done += 1;
        assert!(done <= 100, "a hundred changes in a row were all taken");
    };
    assert!(done >= 10, "only {done} changes before the first refusal");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body.contains("Too many attempts"),
        "{}",
        refused.body
    );
    // The same address with another account is over its budget too.
    let elsewhere = toggle(&other, "den", true).await;
    assert_eq!(elsewhere.status, 429, "{}", elsewhere.body);
    // Moderators are room changes as well.
    let naming = post(
        &app,
        "/account/moderators",
        &[("room", "club"), ("name", "usman"), ("on", "on")],
        Some(&owner),
    )
    .await;
    assert_eq!(naming.status, 429, "{}", naming.body);
}

#[tokio::test]
async fn an_owner_can_close_a_room_to_guests() {
    let app = spawn_app().await;
    let owner = sign_up(&app, "sadia", PASSWORD).await;
    let member = sign_up(&app, "usman", PASSWORD).await;
    let mut sadia = signed_in_client(&app, &owner).await;
    sadia.join("club", "sadia").await;
    let mut early_guest = app.client().await;
    early_guest.join("club", "zara").await;

    let not_owner = close_to_guests(&app, "club", &member).await;
    assert_eq!(not_owner.status, 403);
    let page = get(&app, "/account", Some(&owner)).await;
    assert!(
        page.body.contains("Make #club accounts only"),
        "{}",
        page.body
    );
    let closed = close_to_guests(&app, "club", &owner).await;
    assert_eq!(closed.status, 303);
    // A guest already inside is sent out, and everyone is told.
    let frames = early_guest
        .recv_until(|f| error_code(f) == Some(ErrorCode::AccountsOnly))
        .await;
    assert!(
        frames.iter().all(|f| message_text(f).is_none()),
        "{frames:?}"
    );
    sadia.recv_until(|f| says(f, "zara left")).await;
    let id = early_guest.new_client_id();
    early_guest.say_with_id("club", &id, "still here?").await;
    assert_eq!(
        error_code(&early_guest.recv().await),
        Some(ErrorCode::NotInRoom)
    );

    let mut guest = app.client().await;
    let frame = guest.try_join("club", "amara").await;
    assert_eq!(error_code(&frame), Some(ErrorCode::AccountsOnly));
    let mut usman = signed_in_client(&app, &member).await;
    assert!(matches!(
        usman.try_join("club", "usman").await,
        ServerFrame::Joined { .. }
    ));
    // Other rooms stay open to guests.
    assert!(matches!(
        guest.try_join("main", "amara").await,
        ServerFrame::Joined { .. }
    ));
}

#[tokio::test]
async fn a_password_change_logs_out_every_other_session_and_closes_its_sockets() {
    let app = spawn_app_with(&["--login-username-burst", "100"]).await;
    let here = sign_up(&app, "sadia", PASSWORD).await;
    let elsewhere = log_in(&app, "sadia", PASSWORD).await.cookie();
    let mut stale = signed_in_client(&app, &elsewhere).await;
    stale.join("main", "sadia").await;
    let mut current = signed_in_client(&app, &here).await;
    current.join("main", "sadia").await;

    let wrong = post(
        &app,
        "/account/password",
        &[("current", "not it at all"), ("new", "a new passphrase")],
        Some(&here),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("The current password is wrong."));

    let changed = post(
        &app,
        "/account/password",
        &[("current", PASSWORD), ("new", "a new passphrase")],
        Some(&here),
    )
    .await;
    assert_eq!(changed.location.as_deref(), Some("/account?done=password"));
    assert_eq!(stale.close_code().await, Some(4003));
    assert_eq!(signed_in_name(&app, Some(&elsewhere)).await, None);
    assert_eq!(
        signed_in_name(&app, Some(&here)).await.as_deref(),
        Some("sadia")
    );
    current.say("main", "still connected").await;
    assert_eq!(log_in(&app, "sadia", PASSWORD).await.status, 401);
    assert_eq!(log_in(&app, "sadia", "a new passphrase").await.status, 303);

    // Logging out closes that session's sockets too.
    post(&app, "/logout", &[], Some(&here)).await;
    assert_eq!(current.close_code().await, Some(4003));
}

#[tokio::test]
async fn a_deleted_account_leaves_its_messages_to_a_deleted_user_and_frees_its_name() {
    let app = spawn_app().await;
    let cookie = sign_up(&app, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(&app, &cookie).await;
    sadia.join("main", "sadia").await;
    sadia.say("main", "remember me").await;
    let refused = post(
        &app,
        "/account/delete",
        &[("password", "wrong one!")],
        Some(&cookie),
    )
    .await;
    assert_eq!(refused.status, 401);
    // The room she created stays open to guests once she is gone.
    close_to_guests(&app, "main", &cookie).await;
    let deleted = post(
        &app,
        "/account/delete",
        &[("password", PASSWORD)],
        Some(&cookie),
    )
    .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(sadia.close_code().await, Some(4003));
    assert!(
        log_of(&app, "main")
            .await
            .iter()
            .any(|e| line(e) == "deleted user: remember me")
    );
    assert_eq!(signed_in_name(&app, Some(&cookie)).await, None);
    sign_up(&app, "sadia", "someone else entirely").await;
    let mut guest = app.client().await;
    assert!(matches!(
        guest.try_join("main", "amara").await,
        ServerFrame::Joined { .. }
    ));
}

#[tokio::test]
async fn account_forms_from_another_site_are_refused() {
    let app = spawn_app().await;
    let res = no_redirects()
        .post(format!("http://{}/login", app.addr()))
        .header(header::ORIGIN, "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("username", "sadia"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

#[tokio::test]
async fn a_database_from_before_accounts_migrates_and_keeps_its_history() {
    // SQLite whichever store the run is on: only SQLite databases predate
    // accounts (PostgreSQL starts at this schema).
    let dir = tempfile::tempdir().unwrap();
    let (db, mut conn) = sqlite_database_up_to(dir.path(), "0002").await;
    sqlx::query("INSERT INTO rooms (id, name, created_at) VALUES (1, 'main', 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body)
         VALUES (1, 1, 0, 'usman', 'message', 'c1', 'from the old days')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    let server = start_on(db.clone()).await;
    let app = TestApp { server, db, dir };
    let log = log_of(&app, "main").await;
    assert_eq!(line(&log[0]), "usman: from the old days");
    assert!(!log[0].account, "old entries were guests'");
    let mut client = app.client().await;
    client.join("main", "usman").await;
    client.say("main", "and from today").await;
}

#[tokio::test]
async fn a_guest_holding_a_name_its_account_claims_is_sent_out() {
    let app = spawn_app().await;
    let mut guest = app.client().await;
    guest.join("main", "Sadia").await;
    let mut usman = app.client().await;
    usman.join("main", "usman").await;
    let cookie = sign_up(&app, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(&app, &cookie).await;
    assert!(matches!(
        sadia.try_join("main", "sadia").await,
        ServerFrame::Joined { .. }
    ));
    let frames = guest
        .recv_until(|f| error_code(f) == Some(ErrorCode::NameReserved))
        .await;
    let ServerFrame::Error { message, .. } = frames.last().unwrap() else {
        unreachable!()
    };
    assert!(message.contains("registered name"), "{message}");
    usman.recv_until(|f| says(f, "Sadia left")).await;
    usman.recv_until(|f| says(f, "sadia joined")).await;
}

#[tokio::test]
async fn an_oversized_account_form_is_refused_before_any_hashing() {
    let app = spawn_app().await;
    let huge = "x".repeat(100_000);
    let answer = post(
        &app,
        "/login",
        &[("username", "sadia"), ("password", &huge)],
        None,
    )
    .await;
    assert_eq!(answer.status, 413);
    let answer = post(
        &app,
        "/signup",
        &[("username", "sadia"), ("password", &huge)],
        None,
    )
    .await;
    assert_eq!(answer.status, 413);
    // The server is fine, and nobody was signed up.
    assert_eq!(log_in(&app, "sadia", PASSWORD).await.status, 401);
}

#[tokio::test]
async fn download_my_data_gives_the_account_its_own_messages_and_nobody_elses() {
    let app = spawn_app().await;
    let sadia = sign_up(&app, "sadia", PASSWORD).await;
    let mut her = signed_in_client(&app, &sadia).await;
    her.join("garden", "sadia").await;
    let first = her.say("garden", "tulips <b>first</b>").await;
    let mut guest = app.client().await;
    guest.join("garden", "lerato").await;
    let theirs = guest.say("garden", "not hers to download").await;
    her.reply("garden", theirs, "agreed").await;
    her.send_frame(&crate::actions::react_in("garden", theirs, "👍", true))
        .await;
    guest.hear_action().await;

    let page = get(&app, "/account", Some(&sadia)).await;
    assert!(
        page.body
            .contains(r#"<a href="/account/data" download>Download my data</a>"#),
        "{}",
        page.body
    );
    let res = reqwest::Client::new()
        .get(format!("http://{}/account/data", app.addr()))
        .header(header::COOKIE, &sadia)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let disposition = res.headers()[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert_eq!(disposition, r#"attachment; filename="chat-sadia.json""#);
    let caching = res.headers()[header::CACHE_CONTROL].to_str().unwrap();
    assert!(caching.contains("no-store"), "{caching}");
    let data: serde_json::Value = res.json().await.unwrap();
    assert_eq!(data["account"]["name"], "sadia");
    assert_eq!(data["rooms_owned"], serde_json::json!(["garden"]));
    let messages = data["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["tulips <b>first</b>", "agreed"]);
    assert_eq!(messages[0]["seq"], first);
    assert_eq!(messages[1]["reply_to"], theirs);
    assert_eq!(
        data["reactions"],
        serde_json::json!([{ "room": "garden", "seq": theirs, "emoji": "👍" }])
    );

    // Each download reads everything the account wrote: it spends the
    // account's budget for room changes (20 at once), so a loop of them stops.
    let download = || {
        reqwest::Client::new()
            .get(format!("http://{}/account/data", app.addr()))
            .header(header::COOKIE, &sadia)
            .send()
    };
    for _ in 0..19 {
        assert_eq!(download().await.unwrap().status(), 200);
    }
    assert_eq!(download().await.unwrap().status(), 429);

    // Only for the signed-in: anyone else is sent to log in.
    let anonymous = get(&app, "/account/data", None).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location(), "/login");
}
