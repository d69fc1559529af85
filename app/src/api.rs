//! How the browser calls the server functions ([`call`]): the function's
//! own argument struct (the one `#[server]` makes) POSTed as JSON, answered
//! in JSON, as Leptos's own client would send it, without that client in the
//! bundle. The functions the browser calls take `input = Json` for it.

use leptos::server_fn::ServerFn;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A call from the browser to a server function failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailed {
    /// The server refused this person (a 403: banned, the room closed to
    /// guests); its reason, for them.
    Refused(String),
    /// No connection, or an answer that made no sense (the server logs its
    /// side).
    Failed,
}

/// Calls server function `F` with `args` (its argument struct), the way
/// Leptos's own client does for `input = Json` but without it: that client
/// brings its codecs, `gloo-net`'s HTTP and its own error decoding into
/// everyone's download (docs/PERFORMANCE.md, "The WASM bundle, eighth part").
pub async fn call<F>(args: &F) -> Result<F::Output, CallFailed>
where
    F: ServerFn + Serialize,
    F::Output: DeserializeOwned,
{
    let body = serde_json::to_string(args).map_err(|_| CallFailed::Failed)?;
    let text = post_json(F::PATH, &body).await?;
    serde_json::from_str(&text).map_err(|_| CallFailed::Failed)
}

#[cfg(feature = "hydrate")]
async fn post_json(path: &str, body: &str) -> Result<String, CallFailed> {
    use wasm_bindgen_futures::JsFuture;
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ];
    let response = send(path, &headers, Some(body))
        .await
        .ok_or(CallFailed::Failed)?;
    let text = JsFuture::from(response.text().map_err(|_| CallFailed::Failed)?)
        .await
        .ok()
        .and_then(|text| text.as_string())
        .ok_or(CallFailed::Failed)?;
    match response.status() {
        200..=299 => Ok(text),
        // A server function's error answers `ServerError|<the reason>`.
        403 => Err(CallFailed::Refused(
            text.strip_prefix("ServerError|")
                .unwrap_or(&text)
                .to_owned(),
        )),
        _ => Err(CallFailed::Failed),
    }
}

/// POSTs an empty body to `path` with one header (`name: value`); whether
/// the server agreed (a 2xx).
#[cfg(feature = "hydrate")]
pub async fn post_header(path: &str, name: &str, value: &str) -> bool {
    send(path, &[(name, value)], None)
        .await
        .is_some_and(|response| response.ok())
}

/// POSTs `body` to `path` with `headers`; the answer, whatever its status
/// (`None`: no answer).
#[cfg(feature = "hydrate")]
async fn send(
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Option<web_sys::Response> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let sent = web_sys::Headers::new().ok()?;
    for (name, value) in headers {
        sent.set(name, value).ok()?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&sent);
    if let Some(body) = body {
        init.set_body(&body.into());
    }
    let answer = JsFuture::from(leptos::prelude::window().fetch_with_str_and_init(path, &init));
    answer.await.ok()?.dyn_into().ok()
}

#[cfg(not(feature = "hydrate"))]
pub async fn post_header(_path: &str, _name: &str, _value: &str) -> bool {
    false
}

/// On the server, pages have their data before they render
/// (`crate::page_data`) and nothing else calls: there is no one to ask.
#[cfg(not(feature = "hydrate"))]
async fn post_json(_path: &str, _body: &str) -> Result<String, CallFailed> {
    Err(CallFailed::Failed)
}
