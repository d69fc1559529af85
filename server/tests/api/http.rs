//! The HTTP surface under attack: foreign hosts (DNS rebinding), cross-site
//! writes, missing security headers, half-sent requests, too many connections
//! from one address.

use crate::common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Sends one raw request and returns the status code of the answer.
async fn raw_status(app: &TestApp, request: &str) -> u16 {
    let mut tcp = TcpStream::connect(app.addr()).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0; 1024];
    let n = tokio::time::timeout(WAIT, tcp.read(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head:?}"))
}

fn get_with_host(host: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn a_request_for_a_host_we_do_not_serve_is_refused() {
    let app = spawn_app_with(&["--public-url", "https://chat.example.com"]).await;
    let port = app.addr().port();
    for fine in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "chat.example.com".to_owned(),
        "CHAT.example.com:443".to_owned(),
        "[::1]:80".to_owned(),
    ] {
        assert_eq!(raw_status(&app, &get_with_host(&fine)).await, 200, "{fine}");
    }
    // A page on attacker.example whose name now points at 127.0.0.1.
    for foreign in [
        format!("attacker.example:{port}"),
        "localhost.attacker.example".to_owned(),
    ] {
        assert_eq!(
            raw_status(&app, &get_with_host(&foreign)).await,
            421,
            "{foreign}"
        );
    }
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: attacker.example:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    assert_eq!(raw_status(&app, &upgrade).await, 421);
}

#[tokio::test]
async fn the_socket_needs_the_pages_exact_origin() {
    let app = spawn_app().await;
    let port = app.addr().port();
    let handshake = |origin: String| {
        let url = format!("ws://{}/ws", app.addr());
        async move {
            let mut request = url.into_client_request().unwrap();
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
            match tokio_tungstenite::connect_async(request).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
                Err(other) => panic!("{other}"),
            }
        }
    };
    assert_eq!(handshake(format!("http://127.0.0.1:{port}")).await, 101);
    assert_eq!(
        handshake(format!("http://127.0.0.1:{}", port + 1)).await,
        403,
        "other port"
    );
    assert_eq!(
        handshake(format!("ftp://127.0.0.1:{port}")).await,
        403,
        "other scheme"
    );
}

#[tokio::test]
async fn server_functions_refuse_cross_site_calls() {
    let app = spawn_app().await;
    let url = format!("http://{}/api/list_rooms", app.addr());
    let call = |headers: Vec<(&'static str, String)>| {
        let url = url.clone();
        async move {
            let mut request = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body("{}");
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    let own = format!("http://{}", app.addr());
    assert_eq!(
        call(vec![
            ("origin", own.clone()),
            ("sec-fetch-site", "same-origin".into())
        ])
        .await,
        200
    );
    assert_eq!(
        call(vec![("origin", own)]).await,
        200,
        "older browsers: Origin only"
    );
    assert_eq!(call(vec![]).await, 200, "not a browser");
    assert_eq!(
        call(vec![
            ("origin", "https://evil.example".into()),
            ("sec-fetch-site", "cross-site".into())
        ])
        .await,
        403
    );
    assert_eq!(
        call(vec![("origin", "https://evil.example".into())]).await,
        403
    );
    assert_eq!(
        call(vec![("sec-fetch-site", "same-site".into())]).await,
        403,
        "a sibling subdomain"
    );
}

#[tokio::test]
async fn pages_carry_a_nonce_policy_and_security_headers() {
    let app = spawn_app().await;
    let response = reqwest::get(format!("http://{}/r/main", app.addr()))
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {name} header"))
    };
    let policy = header("content-security-policy");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce")
        .to_owned();
    assert!(nonce.len() >= 16, "{nonce}");
    let html = response.text().await.unwrap();
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every script carries this response's nonce:\n{html}"
    );
    // A fresh nonce for every response.
    let again = reqwest::get(format!("http://{}/r/main", app.addr()))
        .await
        .unwrap();
    let again = again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!again.contains(&nonce));
    // Anything else runs nothing at all.
    let health = reqwest::get(format!("http://{}/health", app.addr()))
        .await
        .unwrap();
    let strict = health.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(strict.starts_with("default-src 'none'"), "{strict}");
}

#[tokio::test]
async fn a_half_sent_request_is_dropped_and_does_not_hold_up_shutdown() {
    let app = spawn_app_with(&["--header-timeout-secs", "1"]).await;
    let mut half = TcpStream::connect(app.addr()).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut rest = vec![0; 1024];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match half.read(&mut rest).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue, // a 408 answer, then the close
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the half-sent request was reaped");

    // Shutdown with some of them open is not held up by them.
    let app = spawn_app().await;
    let mut stalled = vec![];
    for _ in 0..5 {
        let mut tcp = TcpStream::connect(app.addr()).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        stalled.push(tcp);
    }
    let mut listener = app.client().await;
    listener.join("main", "listener").await;
    let started = Instant::now();
    app.server.shutdown().await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert_eq!(listener.close_code().await, Some(1012));
}

#[tokio::test]
async fn one_address_may_hold_only_so_many_connections() {
    let app = spawn_app_with(&["--max-connections-per-address", "5"]).await;
    let mut open = vec![];
    for _ in 0..5 {
        open.push(app.client().await);
    }
    let url = format!("ws://{}/ws", app.addr());
    match tokio_tungstenite::connect_async(url.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("the sixth connection got in: {:?}", other.map(|_| ())),
    }
    // Closing one makes room again.
    let mut first = open.remove(0);
    first.ws.close(None).await.unwrap();
    drop(first);
    let mut admitted = false;
    for _ in 0..50 {
        if tokio_tungstenite::connect_async(url.clone()).await.is_ok() {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted, "a freed place is given to the next connection");
}

#[tokio::test]
async fn health_says_ready_when_the_store_commits() {
    let app = spawn_app().await;
    // The bus line names the bus this run uses.
    let bus = if bus_flags().is_empty() {
        "in-process"
    } else {
        "redis connected"
    };
    assert_eq!(
        app.get("/health").await,
        (
            200,
            format!("ok\ndatabase: ok\nbus: ok ({bus})\nassistant: off (no API key)\n")
        )
    );
}

#[tokio::test]
async fn metrics_are_only_for_the_scraper_with_the_token_and_count_what_happened() {
    let closed = spawn_app().await;
    assert_eq!(closed.get("/metrics").await.0, 404, "off without a token");

    let app = spawn_app_with(&["--metrics-token", "s3cret-scrape"]).await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/metrics", app.addr());
    let wrong = http.get(&url).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let scrape = || app.scrape("s3cret-scrape");
    let before = scrape().await;
    let committed = |text: &str| sample(text, "chat_entries_committed_total").unwrap_or(0.0);

    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    sadia.say("main", "counted").await;
    let after = scrape().await;
    // Other tests' servers share this process's counters: at least ours.
    assert!(
        committed(&after) >= committed(&before) + 2.0,
        "a join notice and a message: {after}"
    );
    assert!(
        sample(&after, "chat_connections").is_some_and(|n| n >= 1.0),
        "{after}"
    );
    assert!(after.contains("chat_commit_seconds"), "{after}");
}
