//! How the server functions' answers travel: JSON, read from text; and how
//! the browser calls them ([`call`]).
//!
//! Leptos reads a server function's answer with `serde_json::from_slice`,
//! but the page's hydration data and the socket's frames with `from_str`.
//! Each reader compiles its own copy of every type's decoder, so a history
//! page (which arrives both ways) was decoded by two copies in the browser's
//! bundle. [`JsonText`] is the same JSON on the wire, read as text.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;
use serde::de::{DeserializeOwned, Error as _};

/// The answer's encoding: `application/json`, decoded with `from_str`.
pub struct JsonTextEncoding;

/// The answer side of a server function, `#[server(output =
/// crate::api::JsonText)]`: answers in [`JsonTextEncoding`]. (The arguments
/// still go as a form, the default input.)
pub type JsonText = Post<JsonTextEncoding>;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde_json::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// A call from the browser to a server function failed: no connection, a
/// refusal, or an answer that made no sense (the server logs its side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallFailed;

/// Calls the server function at `path` (its `ServerFn::PATH`) with `args`,
/// the way Leptos's own client does (a POSTed form, answered in JSON) but
/// without it: that client brings `serde_qs`, `gloo-net`'s HTTP and its own
/// error decoding into everyone's download (docs/PERFORMANCE.md, "The WASM
/// bundle, eighth part").
pub async fn call<T: DeserializeOwned>(
    path: &str,
    args: &[(&str, String)],
) -> Result<T, CallFailed> {
    let text = post_form(path, args).await.ok_or(CallFailed)?;
    serde_json::from_str(&text).map_err(|_| CallFailed)
}

#[cfg(feature = "hydrate")]
async fn post_form(path: &str, args: &[(&str, String)]) -> Option<String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let body = args
        .iter()
        .map(|(name, value)| {
            format!(
                "{name}={}",
                String::from(js_sys::encode_uri_component(value))
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let headers = web_sys::Headers::new().ok()?;
    headers
        .set("Content-Type", "application/x-www-form-urlencoded")
        .ok()?;
    headers.set("Accept", "application/json").ok()?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&body.into());
    let answer = JsFuture::from(leptos::prelude::window().fetch_with_str_and_init(path, &init));
    let response: web_sys::Response = answer.await.ok()?.dyn_into().ok()?;
    if !response.ok() {
        return None;
    }
    JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()
}

/// On the server, pages have their data before they render
/// (`crate::page_data`) and nothing else calls: there is no one to ask.
#[cfg(not(feature = "hydrate"))]
async fn post_form(_path: &str, _args: &[(&str, String)]) -> Option<String> {
    None
}
