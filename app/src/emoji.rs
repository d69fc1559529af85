//! Emoji: the picker's palette and `:shortcode:` completion.
//!
//! The emoji data (names, GitHub shortcodes, groups) comes from the `emojis`
//! crate and stays on the server: the browser asks for it through two server
//! functions, so the table never grows the WebAssembly bundle every visitor
//! downloads. The palette is fetched once, on the first open of the picker.

use serde::{Deserialize, Serialize};

/// One emoji as offered to a person: the character(s) and its shortcode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EmojiChoiceArray", into = "EmojiChoiceArray")]
pub struct EmojiChoice {
    pub emoji: String,
    pub shortcode: String,
}

/// A titled section of the picker ("Smileys & Emotion", ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EmojiGroupArray", into = "EmojiGroupArray")]
pub struct EmojiGroup {
    pub name: String,
    pub emojis: Vec<EmojiChoice>,
}

/// One emoji a person reacted with. On the server it must be an emoji the
/// `emojis` table knows (so a reaction cannot carry text); the browser trusts
/// what the server sends and checks only its shape, keeping the table out of
/// the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Emoji(String);

/// Why a reaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a reaction is one emoji")]
pub struct NotAnEmoji;

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, NotAnEmoji> {
        // The longest emoji sequences (families, flags of regions) are 35 bytes.
        let shaped = !raw.is_empty()
            && raw.len() <= 40
            && !raw
                .chars()
                .any(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || c.is_control());
        #[cfg(feature = "ssr")]
        let known = emojis::get(raw).is_some();
        #[cfg(not(feature = "ssr"))]
        let known = true;
        if shaped && known {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NotAnEmoji)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Emoji {
    type Error = NotAnEmoji;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Emoji> for String {
    fn from(emoji: Emoji) -> Self {
        emoji.0
    }
}

/// How many completions are offered at once.
pub const MAX_MATCHES: usize = 8;

/// Emojis whose shortcode starts with `prefix` (best first), then those that
/// merely contain it: `:smile` offers 😄 first.
#[leptos::server(prefix = "/api", endpoint = "emoji_matches", input = leptos::server_fn::codec::Json)]
pub async fn emoji_matches(
    prefix: String,
) -> Result<Vec<EmojiChoice>, leptos::prelude::ServerFnError> {
    Ok(data::matches(&prefix))
}

/// [`emoji_matches`], called from the browser.
pub async fn fetch_matches(prefix: String) -> Result<Vec<EmojiChoice>, crate::api::CallFailed> {
    crate::api::call(&EmojiMatches { prefix }).await
}

/// [`emoji_palette`], called from the browser.
pub async fn fetch_palette() -> Result<Vec<EmojiGroup>, crate::api::CallFailed> {
    crate::api::call(&EmojiPalette {}).await
}

/// Every emoji, by group, for the picker.
#[leptos::server(prefix = "/api", endpoint = "emoji_palette", input = leptos::server_fn::codec::Json)]
pub async fn emoji_palette() -> Result<Vec<EmojiGroup>, leptos::prelude::ServerFnError> {
    Ok(data::palette().to_vec())
}

/// The text before the cursor ends in a shortcode being typed (`:smi`):
/// returns where its colon is and the code typed so far (at least two chars,
/// so a time like `10:3` or a lone colon offers nothing).
pub fn shortcode_before(text: &str, cursor: usize) -> Option<(usize, &str)> {
    let before = text.get(..cursor)?;
    let colon = before.rfind(':')?;
    let code = &before[colon + 1..];
    let word_start = colon == 0
        || before[..colon]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_whitespace() || "([{".contains(c));
    let well_formed = code.len() >= 2
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+' || c == '-');
    (word_start && well_formed).then_some((colon, code))
}

/// The text before the cursor ends in a finished shortcode (`:tada:`):
/// returns where its first colon is and the code, for replacing it whole.
pub fn finished_shortcode(text: &str, cursor: usize) -> Option<(usize, &str)> {
    let before = text.get(..cursor)?.strip_suffix(':')?;
    shortcode_before(before, before.len())
}

#[cfg(feature = "ssr")]
mod data {
    use super::{EmojiChoice, EmojiGroup, MAX_MATCHES};
    use std::sync::OnceLock;

    fn choice(emoji: &emojis::Emoji, shortcode: &str) -> EmojiChoice {
        EmojiChoice {
            emoji: emoji.as_str().to_owned(),
            shortcode: shortcode.to_owned(),
        }
    }

    pub fn matches(prefix: &str) -> Vec<EmojiChoice> {
        let prefix = prefix.trim_matches(':').to_ascii_lowercase();
        if prefix.is_empty() {
            return vec![];
        }
        let mut starts = vec![];
        let mut contains = vec![];
        for emoji in emojis::iter() {
            for code in emoji.shortcodes() {
                if code.starts_with(&prefix) {
                    starts.push(choice(emoji, code));
                } else if code.contains(&prefix) {
                    contains.push(choice(emoji, code));
                }
            }
        }
        // Shorter first: `smile` before `smiley_cat`.
        starts.sort_by_key(|c| c.shortcode.len());
        starts.extend(contains);
        starts.truncate(MAX_MATCHES);
        starts
    }

    fn group_name(group: emojis::Group) -> &'static str {
        use emojis::Group::*;
        match group {
            SmileysAndEmotion => "Smileys & Emotion",
            PeopleAndBody => "People & Body",
            AnimalsAndNature => "Animals & Nature",
            FoodAndDrink => "Food & Drink",
            TravelAndPlaces => "Travel & Places",
            Activities => "Activities",
            Objects => "Objects",
            Symbols => "Symbols",
            Flags => "Flags",
        }
    }

    pub fn palette() -> &'static [EmojiGroup] {
        static PALETTE: OnceLock<Vec<EmojiGroup>> = OnceLock::new();
        PALETTE.get_or_init(|| {
            emojis::Group::iter()
                .map(|group| EmojiGroup {
                    name: group_name(group).to_owned(),
                    emojis: group
                        .emojis()
                        .filter_map(|e| Some(choice(e, e.shortcode()?)))
                        .collect(),
                })
                .collect()
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn smile_is_offered_first_for_smile() {
            let found = matches("smile");
            assert_eq!(found[0].emoji, "😄");
            assert_eq!(found[0].shortcode, "smile");
            assert!(found.len() <= MAX_MATCHES);
        }

        #[test]
        fn the_palette_has_every_group_with_shortcodes() {
            let palette = palette();
            assert_eq!(palette.len(), 9);
            assert!(palette.iter().all(|g| !g.emojis.is_empty()));
            assert!(palette[0].emojis.iter().any(|e| e.shortcode == "grinning"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shortcode_before;

    #[test]
    fn a_reaction_is_one_emoji_not_text() {
        use super::Emoji;
        assert!(Emoji::parse("👍").is_ok());
        assert!(Emoji::parse("👨‍👩‍👧").is_ok());
        assert!(Emoji::parse("").is_err());
        assert!(Emoji::parse("hi").is_err());
        assert!(Emoji::parse("<b>").is_err());
        assert!(Emoji::parse("👍 👍").is_err());
    }

    #[test]
    fn a_shortcode_is_found_right_before_the_cursor() {
        assert_eq!(shortcode_before("hi :smi", 7), Some((3, "smi")));
        assert_eq!(shortcode_before(":+1", 3), Some((0, "+1")));
        assert_eq!(shortcode_before("(:tada", 6), Some((1, "tada")));
    }

    #[test]
    fn a_finished_shortcode_is_found_with_both_colons() {
        use super::finished_shortcode;
        assert_eq!(finished_shortcode("yay :tada:", 10), Some((4, "tada")));
        assert_eq!(finished_shortcode("yay :tada", 9), None);
        assert_eq!(finished_shortcode("at 10:30:", 9), None);
    }

    #[test]
    fn times_urls_and_short_codes_offer_nothing() {
        assert_eq!(shortcode_before("at 10:30", 8), None);
        assert_eq!(shortcode_before("see http://x", 12), None);
        assert_eq!(shortcode_before("hi :s", 5), None);
        assert_eq!(shortcode_before("hi :smile done", 14), None);
        assert_eq!(shortcode_before("é:é", 1), None);
    }
}

as_array!(EmojiChoice, EmojiChoiceArray, (emoji: String, shortcode: String));

as_array!(EmojiGroup, EmojiGroupArray, (name: String, emojis: Vec<EmojiChoice>));
