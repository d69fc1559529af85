//! How the server functions' answers travel: JSON, read from text.
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
