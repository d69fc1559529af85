//! Who is talking: the validated nickname and the per-tab session that lets a
//! reconnecting tab be recognised as the same person.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest nickname, counted in characters (not bytes) so every script gets the same room.
pub const NICK_MAX_CHARS: usize = 32;

/// Why a nickname was refused; the text is shown to the person as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NickError {
    #[error("Pick a nickname.")]
    Empty,
    #[error("A nickname can be at most {NICK_MAX_CHARS} characters.")]
    TooLong,
    #[error("A nickname cannot contain control characters.")]
    ControlChar,
    #[error("A nickname cannot contain invisible or text-direction characters.")]
    Invisible,
}

/// Characters that draw nothing or reorder the text around them (zero-width
/// spaces and joiners, bidi overrides and isolates, soft hyphen, tags, ...):
/// the Unicode Default_Ignorable_Code_Point set plus the bidi controls. Names
/// made with them look like other names, or scramble the line they sit in.
pub fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}'
        | '\u{17B4}'..='\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Emoji sequences need a few of those: the zero-width joiner (👩‍💻) and the
/// emoji presentation selectors (❤️), which are fine right after a symbol.
fn joins_emoji(previous: Option<char>, c: char) -> bool {
    matches!(c, '\u{200D}' | '\u{FE0E}' | '\u{FE0F}')
        && previous.is_some_and(|p| !p.is_alphanumeric() && !p.is_whitespace() && !p.is_ascii())
}

/// A nickname: trimmed, 1 to 32 characters, no control or invisible
/// characters. On the server it is also put in Unicode NFC, so one name has
/// one spelling (the browser leaves that to the server: the tables would
/// weigh on every download).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nick(String);

impl Nick {
    pub fn parse(raw: &str) -> Result<Self, NickError> {
        let nick = raw.trim();
        if nick.is_empty() {
            return Err(NickError::Empty);
        }
        if nick.chars().count() > NICK_MAX_CHARS {
            return Err(NickError::TooLong);
        }
        if nick.chars().any(char::is_control) {
            return Err(NickError::ControlChar);
        }
        let mut previous = None;
        for c in nick.chars() {
            if invisible(c) && !joins_emoji(previous, c) {
                return Err(NickError::Invisible);
            }
            previous = Some(c);
        }
        #[cfg(feature = "ssr")]
        {
            use unicode_normalization::UnicodeNormalization;
            Ok(Self(nick.nfc().collect()))
        }
        #[cfg(not(feature = "ssr"))]
        Ok(Self(nick.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Nick {
    type Error = NickError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Nick> for String {
    fn from(nick: Nick) -> Self {
        nick.0
    }
}

impl fmt::Display for Nick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Someone in a room as everyone sees them: the name, and whether it belongs
/// to an account (signed in) or to a guest (a nickname for this visit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub nick: Nick,
    #[serde(default, skip_serializing_if = "is_false")]
    pub account: bool,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !b
}

/// Who is in a room, in name order, each with whether they are signed in
/// (else a guest). A sorted list rather than a `BTreeMap`: the browser
/// bundle then carries no b-tree code (docs/PERFORMANCE.md), and a room's
/// list is short enough for a binary search and a shift.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Online(Vec<(Nick, bool)>);

impl Online {
    /// Adds someone, or updates whether they are signed in.
    pub fn insert(&mut self, nick: Nick, account: bool) {
        match self.0.binary_search_by(|(n, _)| n.cmp(&nick)) {
            Ok(at) => self.0[at].1 = account,
            Err(at) => self.0.insert(at, (nick, account)),
        }
    }

    pub fn remove(&mut self, nick: &Nick) {
        if let Ok(at) = self.0.binary_search_by(|(n, _)| n.cmp(nick)) {
            self.0.remove(at);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn nicks(&self) -> impl Iterator<Item = &Nick> {
        self.0.iter().map(|(nick, _)| nick)
    }
}

/// One at a time, so no sort is compiled into the bundle; the server sends
/// the list in name order, so each lands at the end.
impl FromIterator<Person> for Online {
    fn from_iter<I: IntoIterator<Item = Person>>(people: I) -> Self {
        let mut online = Self::default();
        for person in people {
            online.insert(person.nick, person.account);
        }
        online
    }
}

impl IntoIterator for Online {
    type Item = (Nick, bool);
    type IntoIter = std::vec::IntoIter<(Nick, bool)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Why a token (session or client message id) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("An id must be 1-64 characters of letters, digits, '-' or '_'.")]
pub struct TokenError;

/// Checks the shape shared by every client-made random id.
pub(crate) fn check_token(raw: &str) -> Result<(), TokenError> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(TokenError) }
}

/// A browser tab's session: random, kept in `sessionStorage`, so a reload or a
/// reconnect of the same tab replaces its old connection instead of colliding
/// with its own nickname.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        check_token(raw).map(|()| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionId {
    type Error = TokenError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        check_token(&raw).map(|()| Self(raw))
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(nick: &str, account: bool) -> Person {
        Person {
            nick: Nick::parse(nick).unwrap(),
            account,
        }
    }

    #[test]
    fn the_online_list_keeps_name_order_and_one_line_per_person() {
        let mut online: Online = [
            person("zoe", false),
            person("amir", true),
            person("mei", false),
        ]
        .into_iter()
        .collect();
        online.insert(Nick::parse("bo").unwrap(), false);
        // Signing in under a name already listed updates that line.
        online.insert(Nick::parse("zoe").unwrap(), true);
        online.remove(&Nick::parse("mei").unwrap());
        online.remove(&Nick::parse("nobody").unwrap());
        let shown: Vec<(String, bool)> = online
            .clone()
            .into_iter()
            .map(|(n, a)| (n.as_str().to_owned(), a))
            .collect();
        assert_eq!(
            shown,
            [
                ("amir".into(), true),
                ("bo".into(), false),
                ("zoe".into(), true)
            ]
        );
        assert_eq!(online.len(), 3);
        assert_eq!(online.nicks().next().unwrap().as_str(), "amir");
    }

    #[test]
    fn a_nickname_is_trimmed() {
        assert_eq!(Nick::parse("  sadia ").unwrap().as_str(), "sadia");
    }

    #[test]
    fn an_empty_or_blank_nickname_is_refused() {
        assert_eq!(Nick::parse(""), Err(NickError::Empty));
        assert_eq!(Nick::parse("   \t"), Err(NickError::Empty));
    }

    #[test]
    fn thirty_two_characters_fit_but_thirty_three_do_not() {
        assert!(Nick::parse(&"ü".repeat(32)).is_ok());
        assert_eq!(Nick::parse(&"a".repeat(33)), Err(NickError::TooLong));
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(Nick::parse("sa\u{0}dia"), Err(NickError::ControlChar));
        assert_eq!(Nick::parse("sa\ndia"), Err(NickError::ControlChar));
    }

    #[test]
    fn invisible_and_direction_characters_are_refused() {
        for sneaky in [
            "ad\u{200B}min",
            "\u{202E}nimda",
            "sa\u{2066}dia\u{2069}",
            "so\u{00AD}ft",
            "\u{FEFF}bom",
            "tag\u{E0041}",
            "a\u{200D}b",
        ] {
            assert_eq!(Nick::parse(sneaky), Err(NickError::Invisible), "{sneaky:?}");
        }
    }

    #[test]
    fn emoji_sequences_keep_their_joiners() {
        assert!(Nick::parse("dev 👩\u{200D}💻").is_ok());
        assert!(Nick::parse("\u{2764}\u{FE0F} fan").is_ok());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_server_stores_one_spelling_of_a_name() {
        let decomposed = Nick::parse("Se\u{0301}verine").unwrap();
        assert_eq!(decomposed.as_str(), "S\u{00E9}verine");
    }

    #[test]
    fn unicode_nicknames_are_welcome() {
        assert_eq!(Nick::parse("Sádia 🌸").unwrap().as_str(), "Sádia 🌸");
    }

    #[test]
    fn a_nickname_is_validated_when_decoded() {
        let err = serde_json::from_str::<Nick>("\"\"").unwrap_err();
        assert!(err.to_string().contains("Pick a nickname"));
        let nick: Nick = serde_json::from_str("\" usman \"").unwrap();
        assert_eq!(nick.as_str(), "usman");
    }

    #[test]
    fn session_ids_are_short_safe_tokens() {
        assert!(SessionId::parse("a1-b2_C3").is_ok());
        assert!(SessionId::parse("").is_err());
        assert!(SessionId::parse("has space").is_err());
        assert!(SessionId::parse(&"x".repeat(65)).is_err());
    }
}
