//! How the browser calls the server functions ([`call`]): the function's
//! own argument struct (the one `#[server]` makes) POSTed as JSON with
//! `gloo-net`'s `fetch`, answered in JSON, as Leptos's own client would send
//! it, without that client's codecs in the bundle. The functions the browser
//! calls take `input = Json` for it. (Uploads go through `XMLHttpRequest`
//! instead, in `crate::uploads`: `fetch` cannot report an upload's progress.)

use leptos::server_fn::ServerFn;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A call from the browser to a server function failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailed {
    /// The server refused this person (a 403: banned, the room closed to
    /// guests); its reason, for them.
    Refused(String),
    /// Not there (a room by that name, or a private one this person is not
    /// in: the two look the same).
    NotFound,
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
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ];
    let response = send(path, &headers, Some(body.into()))
        .await
        .ok_or(CallFailed::Failed)?;
    let text = response.text().await.map_err(|_| CallFailed::Failed)?;
    match response.status() {
        200..=299 => Ok(text),
        // A server function's error answers `ServerError|<the reason>`.
        403 => Err(CallFailed::Refused(
            text.strip_prefix("ServerError|")
                .unwrap_or(&text)
                .to_owned(),
        )),
        404 => Err(CallFailed::NotFound),
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

/// POSTs `body` (text, or a `Blob`) to `path` with `headers`; the answer,
/// whatever its status (`None`: no answer).
#[cfg(feature = "hydrate")]
pub async fn send(
    path: &str,
    headers: &[(&str, &str)],
    body: Option<wasm_bindgen::JsValue>,
) -> Option<gloo_net::http::Response> {
    let mut request = gloo_net::http::Request::post(path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = match body {
        Some(body) => request.body(body),
        None => request.build(),
    };
    request.ok()?.send().await.ok()
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
