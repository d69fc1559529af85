//! The assistant against a scripted OpenAI-compatible server written here
//! (axum on port 0): each test scripts what the provider sends, as real
//! compatible servers send it (a role-only first chunk, no usage block, no
//! `[DONE]`), and checks what the room sees: the answer growing in `assist`
//! frames, then one stored answer replying to the question, or a failure
//! said plainly.

use crate::common::*;
use app::messages::{Entry, EntryKind, Seq};
use app::protocol::{AssistStep, ClientFrame, ServerFrame};
use axum::response::IntoResponse;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the scripted provider answers to each request, in turn (the last
/// one again once they run out).
#[derive(Clone)]
pub enum Turn {
    /// These chunks' texts, `gap` apart, then `finish` and the end of the
    /// stream (no `[DONE]`).
    Stream {
        pieces: Vec<&'static str>,
        gap: Duration,
        finish: &'static str,
    },
    /// A status with a `Retry-After`, if any.
    Status(u16, Option<u64>),
    /// These pieces, then a chunk that is not JSON.
    Garbled(Vec<&'static str>),
    /// These pieces, then nothing, with the connection left open.
    Stall(Vec<&'static str>),
}

#[derive(Clone)]
struct Provider {
    turns: Arc<Vec<Turn>>,
    /// The request bodies, in order.
    asked: Arc<Mutex<Vec<serde_json::Value>>>,
}

fn chunk(text: &str) -> String {
    let json = serde_json::json!({ "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": null }] });
    format!("data: {json}\n\n")
}

async fn completions(
    axum::extract::State(provider): axum::extract::State<Provider>,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> axum::response::Response {
    let turn = {
        let mut asked = provider.asked.lock().unwrap();
        asked.push(body);
        let n = asked.len() - 1;
        provider.turns[n.min(provider.turns.len() - 1)].clone()
    };
    let (pieces, gap, end) = match turn {
        Turn::Status(status, retry) => {
            let mut response =
                (axum::http::StatusCode::from_u16(status).unwrap(), "no").into_response();
            if let Some(retry) = retry {
                response
                    .headers_mut()
                    .insert("retry-after", retry.to_string().parse().unwrap());
            }
            return response;
        }
        Turn::Stream {
            pieces,
            gap,
            finish,
        } => {
            let done = serde_json::json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": finish }] });
            (pieces, gap, Some(format!("data: {done}\n\n")))
        }
        Turn::Garbled(pieces) => (
            pieces,
            Duration::ZERO,
            Some("data: {not json\n\n".to_owned()),
        ),
        Turn::Stall(pieces) => (pieces, Duration::ZERO, None),
    };
    let role = serde_json::json!({ "choices": [{ "index": 0, "delta": { "role": "assistant" } }] });
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    tokio::spawn(async move {
        let _ = tx.send(Ok(format!("data: {role}\n\n"))).await;
        for piece in pieces {
            tokio::time::sleep(gap).await;
            if tx.send(Ok(chunk(piece))).await.is_err() {
                return;
            }
        }
        match end {
            Some(end) => {
                let _ = tx.send(Ok(end)).await;
            }
            // Hold the stream open, saying nothing.
            None => tokio::time::sleep(Duration::from_secs(60)).await,
        }
    });
    let body = axum::body::Body::from_stream(tokio_stream_of(rx));
    ([("content-type", "text/event-stream")], body).into_response()
}

fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<String, std::io::Error>>,
) -> impl futures::Stream<Item = Result<String, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Starts the scripted provider; its base URL (with `/v1`) and what it was asked.
pub async fn provider(turns: Vec<Turn>) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let state = Provider {
        turns: Arc::new(turns),
        asked: Arc::default(),
    };
    let asked = state.asked.clone();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), asked)
}

pub fn stream(pieces: Vec<&'static str>) -> Turn {
    Turn::Stream {
        pieces,
        gap: Duration::from_millis(20),
        finish: "stop",
    }
}

/// A chat server whose assistant is the scripted provider.
async fn app_with(
    turns: Vec<Turn>,
    flags: &[&str],
) -> (TestApp, Arc<Mutex<Vec<serde_json::Value>>>) {
    let (url, asked) = provider(turns).await;
    let mut all = vec![
        "--ai-base-url",
        &url,
        "--ai-api-key",
        "test-key",
        "--ai-model",
        "scripted",
        "--ai-cooldown-ms",
        "1",
        "--ai-idle-timeout-ms",
        "500",
        "--ai-first-token-timeout-ms",
        "2000",
    ];
    all.extend_from_slice(flags);
    let app = spawn_app_with(&all).await;
    (app, asked)
}

/// The assistant's next answer once stored, and the words `watcher` saw
/// grow (from wherever it came in).
pub async fn answer(watcher: &mut Client) -> (Entry, String) {
    let mut grown = String::new();
    let mut from = None;
    loop {
        match watcher.recv().await {
            ServerFrame::Assist {
                step: AssistStep::Text(at, text),
                ..
            } => {
                let from = *from.get_or_insert(at as usize);
                assert_eq!(
                    at as usize,
                    from + grown.chars().count(),
                    "pieces arrive in order"
                );
                grown.push_str(&text);
            }
            ServerFrame::Entry { entry, .. } if entry.bot => return (entry, grown),
            _ => {}
        }
    }
}

pub fn body(entry: &Entry) -> &str {
    match &entry.kind {
        EntryKind::Message { body, .. } => body.as_str(),
        other => panic!("not a message: {other:?}"),
    }
}

fn quoted(entry: &Entry) -> Option<Seq> {
    match &entry.kind {
        EntryKind::Message { reply, .. } => reply.as_ref().map(|q| q.seq),
        _ => None,
    }
}

#[tokio::test]
async fn a_streamed_answer_grows_for_everyone_and_is_stored_once_as_a_reply() {
    let (app, asked) = app_with(vec![stream(vec!["Hello", " there,", " usman"])], &[]).await;
    let mut sadia = Client::connect(app.addr()).await;
    sadia.join("main", "sadia").await;
    let mut usman = Client::connect(app.addr()).await;
    usman.join("main", "usman").await;
    sadia.say("main", "what is a monad?").await;
    let question = sadia.say("main", "@Assistant say hello").await;

    let (answer, grown) = answer(&mut usman).await;
    assert_eq!(body(&answer), "Hello there, usman");
    assert!(
        grown.is_empty() || "Hello there, usman".starts_with(&grown),
        "{grown}"
    );
    assert_eq!(answer.nick.as_str(), "assistant");
    assert!(answer.bot && !answer.account);
    assert_eq!(quoted(&answer), Some(question));

    // Stored once, and history says the same.
    let log = log_of(&app, "main").await;
    assert_eq!(log.iter().filter(|e| e.bot).count(), 1);
    // The provider saw the system prompt, then who said what.
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["model"], "scripted");
    assert_eq!(asked[0]["stream"], true);
    let said: Vec<&str> = asked[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        said[1..],
        ["sadia: what is a monad?", "sadia: @Assistant say hello"]
    );
    assert_eq!(asked[0]["messages"][0]["role"], "system");

    // A reply to its answer asks again; a plain message does not.
    usman.say("main", "thanks").await;
    usman.reply("main", answer.seq, "and goodbye?").await;
    let (again, _) = self::answer(&mut usman).await;
    assert_eq!(body(&again), "Hello there, usman");
    assert_eq!(bot_answers(&app).await, 2);
}

async fn bot_answers(app: &TestApp) -> usize {
    log_of(app, "main").await.iter().filter(|e| e.bot).count()
}

#[tokio::test]
async fn a_rate_limited_provider_is_tried_once_more_after_its_retry_after() {
    let (app, asked) = app_with(vec![Turn::Status(429, Some(1)), stream(vec!["ok"])], &[]).await;
    let mut sadia = Client::connect(app.addr()).await;
    sadia.join("main", "sadia").await;
    sadia.say("main", "@assistant hi").await;
    let (answer, _) = answer(&mut sadia).await;
    assert_eq!(body(&answer), "ok");
    assert_eq!(asked.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failing_provider_is_tried_once_more_after_its_retry_after_too() {
    let (app, asked) = app_with(vec![Turn::Status(503, Some(1)), stream(vec!["back"])], &[]).await;
    let mut sadia = Client::connect(app.addr()).await;
    sadia.join("main", "sadia").await;
    sadia.say("main", "@assistant are you up?").await;
    let (answer, _) = answer(&mut sadia).await;
    assert_eq!(body(&answer), "back");
    assert_eq!(asked.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn failures_are_said_plainly_as_the_answer() {
    for (turns, said) in [
        (
            vec![Turn::Status(429, Some(120))],
            "assistant couldn't answer: the provider is rate limiting us; try again in 120 s",
        ),
        (
            vec![Turn::Status(500, None)],
            "assistant couldn't answer: the provider failed (HTTP 500); try again later",
        ),
        (
            vec![Turn::Garbled(vec!["Hel"])],
            "Hel (assistant couldn't answer: the provider sent something unreadable)",
        ),
        (
            vec![Turn::Stall(vec!["Hel"])],
            "Hel (assistant couldn't answer: the provider stopped sending mid-answer)",
        ),
        (
            vec![Turn::Stream {
                pieces: vec!["a long", " story"],
                gap: Duration::ZERO,
                finish: "length",
            }],
            "a long story… (cut at the longest answer)",
        ),
    ] {
        let (app, _) = app_with(turns, &[]).await;
        let mut sadia = Client::connect(app.addr()).await;
        sadia.join("main", "sadia").await;
        sadia.say("main", "@assistant tell me").await;
        let (answer, _) = answer(&mut sadia).await;
        assert_eq!(body(&answer), said);
        // The room goes on.
        sadia.say("main", "never mind").await;
    }
}

#[tokio::test]
async fn the_asker_stops_an_answer_and_one_question_at_a_time_is_answered_per_room() {
    let slow = Turn::Stream {
        pieces: vec!["one"; 100],
        gap: Duration::from_millis(50),
        finish: "stop",
    };
    let (app, asked) = app_with(vec![slow], &[]).await;
    let mut sadia = Client::connect(app.addr()).await;
    sadia.join("main", "sadia").await;
    let mut usman = Client::connect(app.addr()).await;
    usman.join("main", "usman").await;
    sadia.say("main", "@assistant count").await;
    usman
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::Assist {
                    step: AssistStep::Text(..),
                    ..
                }
            )
        })
        .await;
    // Another question meanwhile is told to wait.
    usman.say("main", "@assistant me too").await;
    let told = usman
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::Assist {
                    step: AssistStep::Refused(_),
                    ..
                }
            )
        })
        .await;
    let Some(ServerFrame::Assist {
        step: AssistStep::Refused(why),
        asker,
        ..
    }) = told.last()
    else {
        unreachable!()
    };
    assert!(why.contains("answering another question"), "{why}");
    assert_eq!(asker.as_str(), "usman");
    // Someone else cannot stop it; the asker can.
    usman
        .send_frame(&ClientFrame::StopAssistant { room: room("main") })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(log_of(&app, "main").await.iter().all(|e| !e.bot));
    sadia
        .send_frame(&ClientFrame::StopAssistant { room: room("main") })
        .await;
    let (answer, _) = answer(&mut usman).await;
    assert!(body(&answer).starts_with("one"), "{}", body(&answer));
    assert!(body(&answer).ends_with("(stopped)"), "{}", body(&answer));
    assert_eq!(asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_key_there_is_no_assistant_and_its_name_is_nobody_s_to_take() {
    let app = spawn_app().await;
    let (_, health) = app.get("/health").await;
    assert!(health.contains("assistant: off"), "{health}");
    let (app, _) = app_with(vec![stream(vec!["hi"])], &[]).await;
    let (_, health) = app.get("/health").await;
    assert!(
        health.contains("assistant: on (scripted as assistant)"),
        "{health}"
    );
    let mut guest = Client::connect(app.addr()).await;
    let refused = guest.try_join("main", "Assistant").await;
    assert!(
        matches!(
            refused,
            ServerFrame::Error {
                code: app::protocol::ErrorCode::NameReserved,
                ..
            }
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_room_s_owner_turns_the_assistant_off_and_encrypted_conversations_never_call_it() {
    use crate::accounts::{PASSWORD, get, post, sign_up, signed_in_client};
    let (app, asked) = app_with(vec![stream(vec!["hi"])], &[]).await;
    let sadia = sign_up(&app, "sadia", PASSWORD).await;
    let mut hers = signed_in_client(&app, &sadia).await;
    let ServerFrame::Joined { assistant, .. } = hers.try_join("tea", "sadia").await else {
        panic!("joined")
    };
    assert_eq!(assistant, Some((nick("assistant"), true)));
    let off = post(
        &app,
        "/account/rooms",
        &[("room", "tea"), ("assistant_off", "on")],
        Some(&sadia),
    )
    .await;
    assert_eq!(off.location(), "/account?done=room");
    let page = get(&app, "/account", Some(&sadia)).await.body;
    assert!(page.contains("Let assistant answer in #tea"), "{page}");
    hers.say("tea", "@assistant are you there?").await;
    let mut guest = Client::connect(app.addr()).await;
    let ServerFrame::Joined { assistant, .. } = guest.try_join("tea", "omar").await else {
        panic!("joined")
    };
    assert_eq!(assistant, Some((nick("assistant"), false)));

    // A direct message: sealed bodies only, and a reply there never asks.
    sign_up(&app, "usman", PASSWORD).await;
    let dm = get(&app, "/dm/usman", Some(&sadia)).await;
    let dm = dm.location().strip_prefix("/r/").unwrap().to_owned();
    let ServerFrame::Joined { assistant, .. } = hers.try_join(&dm, "sadia").await else {
        panic!("joined")
    };
    assert_eq!(assistant, Some((nick("assistant"), false)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(asked.lock().unwrap().is_empty());
    assert!(log_of(&app, "tea").await.iter().all(|e| !e.bot));
}
