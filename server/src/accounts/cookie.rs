//! The session cookie: a random token only the server can look up.
//!
//! The browser holds 32 random bytes (hex); the database holds their SHA-256,
//! so a copy of the database signs nobody in. The cookie is `HttpOnly` (page
//! scripts never see it), `SameSite=Lax` (not sent on cross-site posts),
//! `Path=/`, and `Secure` with the `__Host-` name prefix unless the server runs
//! with `--insecure-cookies` for plain-HTTP local use.

use axum::http::HeaderValue;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::time::Duration;

/// The cookie's name over HTTPS; the prefix makes browsers insist on
/// `Secure`, `Path=/` and no `Domain`, so no subdomain can plant one.
const SECURE_NAME: &str = "__Host-chat_session";
/// The cookie's name over plain HTTP (`--insecure-cookies`).
const PLAIN_NAME: &str = "chat_session";

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A fresh session token and its stored hash.
pub fn new_token() -> Result<(String, String), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let token = hex(&bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// The form guest's cookie over HTTPS, and over plain HTTP.
const SECURE_GUEST_NAME: &str = "__Host-chat_guest";
const PLAIN_GUEST_NAME: &str = "chat_guest";

/// The guest session a form guest's token stands for: a hash of it, so that
/// the database (which stores authors) holds nothing that would let anyone
/// else post, edit or delete as them. Sockets may not use sessions with this
/// prefix (`connection::reader`).
pub fn form_guest_session(token: &str) -> app::people::SessionId {
    let session = format!("form-{}", &token_hash(token)[..40]);
    app::people::SessionId::parse(&session).expect("hex with a prefix is a token")
}

#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
    /// How long the browser keeps the cookie (the session's absolute lifetime).
    pub max_age: Duration,
}

impl CookiePolicy {
    fn name(&self) -> &'static str {
        if self.secure { SECURE_NAME } else { PLAIN_NAME }
    }

    /// The session token in a request's `Cookie` header, if any.
    pub fn token<'a>(&self, cookies: &'a str) -> Option<&'a str> {
        find_token(cookies, self.name())
    }

    /// A form guest's token (see [`form_guest_session`]) in a request's
    /// `Cookie` header, if any.
    pub fn guest_token<'a>(&self, cookies: &'a str) -> Option<&'a str> {
        find_token(cookies, self.guest_name())
    }

    /// Gives a guest who posts through the plain form a secret of the
    /// server's making: their messages are theirs alone, and bans follow it.
    pub fn set_guest(&self, token: &str) -> HeaderValue {
        self.header_named(self.guest_name(), token, self.max_age.as_secs())
    }

    /// Lets a room's member see its files: their media key, sent back with
    /// every `/media` request (and no other) instead of written into the
    /// files' addresses, where a copied link would hand out the whole room.
    pub fn set_media_pass(&self, room_id: i64, key: &str) -> HeaderValue {
        let name = self.media_pass_name(room_id);
        self.header_at(&name, key, self.max_age.as_secs(), "/media")
    }

    /// The media key for room `room_id` in a request's `Cookie` header.
    pub fn media_pass<'a>(&self, cookies: &'a str, room_id: i64) -> Option<&'a str> {
        cookie_value(cookies, &self.media_pass_name(room_id))
            .filter(|value| value.len() <= 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// One cookie per room, so a guest in several rooms (a tab each) can see
    /// them all. `__Secure-` over HTTPS: only a secure page may set it.
    fn media_pass_name(&self, room_id: i64) -> String {
        let prefix = if self.secure { "__Secure-" } else { "" };
        format!("{prefix}chat_media_{room_id}")
    }

    fn guest_name(&self) -> &'static str {
        if self.secure {
            SECURE_GUEST_NAME
        } else {
            PLAIN_GUEST_NAME
        }
    }

    pub fn set(&self, token: &str) -> HeaderValue {
        self.header(token, self.max_age.as_secs())
    }

    /// Tells the browser to forget the cookie.
    pub fn clear(&self) -> HeaderValue {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age: u64) -> HeaderValue {
        self.header_named(self.name(), value, max_age)
    }

    fn header_named(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        self.header_at(name, value, max_age, "/")
    }

    /// A cookie sent back only with requests under `path`.
    fn header_at(&self, name: &str, value: &str, max_age: u64, path: &str) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        );
        HeaderValue::from_str(&cookie).expect("cookie values are hex")
    }
}

/// The 64-hex-digit value of cookie `name` in a `Cookie` header.
fn find_token<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookie_value(cookies, name)
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn cookie_value<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, hash_a) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), hash_a);
        assert_ne!(a, hash_a);
    }

    #[test]
    fn the_token_is_found_among_other_cookies_and_junk_is_ignored() {
        let policy = CookiePolicy {
            secure: false,
            max_age: Duration::from_secs(60),
        };
        let token = "ab".repeat(32);
        let header = format!("theme=dark; chat_session={token}; other=1");
        assert_eq!(policy.token(&header), Some(token.as_str()));
        assert_eq!(policy.token("chat_session=<script>"), None);
        assert_eq!(policy.token(&format!("__Host-chat_session={token}")), None);
    }

    #[test]
    fn the_secure_cookie_has_every_flag() {
        let policy = CookiePolicy {
            secure: true,
            max_age: Duration::from_secs(60),
        };
        let set = policy.set("00");
        let set = set.to_str().unwrap();
        for flag in [
            "__Host-chat_session=00",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(set.contains(flag), "{set} lacks {flag}");
        }
    }
}
