//! The message box: Enter sends, `:shortcode:` completion as one types, the
//! button that opens the emoji picker, the files attached (see `attach`), and the caret arithmetic between the
//! draft (UTF-8) and the DOM's selection offsets (UTF-16).

use super::attach::{AttachButton, UploadList};
use super::emoji_picker::EmojiPicker;
use crate::alerts::Alerts;
use crate::conversation::Conversation;
use crate::emoji::{self, EmojiChoice};
use crate::erased::{Kept, Slot};
use crate::erased::{When, effect, handler};
use crate::messages::BODY_MAX_CHARS;
use crate::nick_form::NickField;
use crate::people::Nick;
use crate::socket::ChatSocket;
use leptos::html;
use leptos::prelude::*;

/// The message box with its emoji picker and `:shortcode:` completion.
#[component]
pub(super) fn Composer(
    conv: Conversation,
    /// Where the form posts when JavaScript is off (`/r/ROOM/post`).
    action: String,
    /// The nickname the page's link carries, for that plain post.
    plain_nick: Option<Nick>,
    /// Shows a nickname field for that plain post (no nickname known yet).
    plain_nick_field: Slot<bool>,
) -> impl IntoView {
    let plain_nick_ref = NodeRef::<html::Input>::new();
    let socket = ChatSocket::from_context();
    let box_ref = NodeRef::<html::Textarea>::new();

    // The box keeps its own value (no `prop:value`): hydration must not wipe
    // what was typed into the server-rendered box, so on first sight the
    // draft takes the box's text, and afterwards the box follows the draft.
    let adopted = Kept::new(false);
    effect(move || {
        let draft = conv.draft.get();
        let Some(el) = box_ref.get() else {
            return;
        };
        if !adopted.get_value() {
            adopted.set_value(true);
            let typed = el.value();
            if !typed.is_empty() && draft.is_empty() {
                conv.draft.set(typed);
                return;
            }
        }
        if el.value() != draft {
            el.set_value(&draft);
        }
    });
    // Edit (its button, or Up) and Reply hand the keyboard to the box, the
    // caret after the text, as Slack does: typing goes on there, Enter
    // saves. Left on the button, typing went nowhere and Enter pressed Edit
    // again.
    effect(move || {
        let started = conv.editing.get().is_some() || conv.replying.with(Option::is_some);
        if !started {
            return;
        }
        let Some(el) = box_ref.get_untracked() else {
            return;
        };
        let draft = conv.draft.get_untracked();
        if el.value() != draft {
            el.set_value(&draft);
        }
        let end = utf16_len(&draft);
        let _ = el.focus();
        let _ = el.set_selection_range(end, end);
    });
    let picker_open = Slot::new(false);
    let suggestions = Slot::new(Vec::<Suggestion>::new());
    let chosen = Slot::new(0usize);
    // The shortcode being completed: (byte range in the draft, code).
    let completing = Kept::new(None::<(usize, usize, String)>);

    // Puts `emoji` in place of `range` of the draft and the caret after it.
    let put = move |range: (usize, usize), emoji: &str| {
        let draft = conv.draft.get_untracked();
        let (from, to) = (range.0.min(draft.len()), range.1.min(draft.len()));
        let text = format!("{}{emoji}{}", &draft[..from], &draft[to..]);
        let caret = utf16_len(&draft[..from]) + utf16_len(emoji);
        conv.draft.set(text.clone());
        if let Some(el) = box_ref.get_untracked() {
            el.set_value(&text);
            let _ = el.focus();
            let _ = el.set_selection_range(caret, caret);
        }
        suggestions.set(vec![]);
        completing.set_value(None);
    };

    let accept = move |i: usize| {
        let Some(choice) = suggestions.with_untracked(|s| s.get(i).cloned()) else {
            return;
        };
        if let Some((from, to, _)) = completing.get_value() {
            put((from, to), &choice.insert);
        }
    };

    let complete = move || {
        let Some(el) = box_ref.get_untracked() else {
            return;
        };
        let text = el.value();
        let caret = byte_index(&text, el.selection_start().ok().flatten().unwrap_or(0));
        // A whole `:tada:` typed out turns into 🎉 once the server knows it.
        if let Some((colon, code)) = emoji::finished_shortcode(&text, caret) {
            let code = code.to_owned();
            suggestions.set(vec![]);
            completing.set_value(None);
            // Cancelled with the page; and only applied if nothing was typed
            // meanwhile, so the caret never jumps under the person's fingers.
            leptos::task::spawn_local_scoped_with_cancellation(async move {
                let found = emoji::fetch_matches(code.clone()).await.unwrap_or_default();
                let unchanged = conv.draft.with_untracked(|d| *d == text);
                if let Some(exact) = found.into_iter().find(|c| c.shortcode == code)
                    && unchanged
                {
                    put((colon, caret), &exact.emoji);
                }
            });
            return;
        }
        // `@us` offers the people in the room whose name starts so.
        if let Some((at, typed)) = mention_before(&text, caret) {
            let me = conv.me().get_untracked();
            let people: Vec<Suggestion> = conv.online().with_untracked(|online| {
                online
                    .nicks()
                    .filter(|n| Some(*n) != me.as_ref())
                    .filter(|n| starts_like(n.as_str(), typed))
                    .take(emoji::MAX_MATCHES)
                    .map(|n| Suggestion {
                        insert: format!("@{n} "),
                        shown: format!("@{n}"),
                    })
                    .collect()
            });
            let typed = typed.to_owned();
            completing.set_value((!people.is_empty()).then_some((at, caret, typed)));
            chosen.set(0);
            suggestions.set(people);
            return;
        }
        let Some((colon, code)) = emoji::shortcode_before(&text, caret) else {
            suggestions.set(vec![]);
            completing.set_value(None);
            return;
        };
        let code = code.to_owned();
        completing.set_value(Some((colon, caret, code.clone())));
        leptos::task::spawn_local_scoped_with_cancellation(async move {
            let found = emoji::fetch_matches(code.clone()).await.unwrap_or_default();
            // Only the answer for what is typed now counts.
            if completing.with_value(|c| c.as_ref().is_some_and(|(_, _, now)| *now == code)) {
                chosen.set(0);
                suggestions.set(found.into_iter().map(Suggestion::emoji).collect());
            }
        });
    };

    let send = move || {
        alerts_unlock();
        conv.send_draft(socket);
        suggestions.set(vec![]);
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let offered = suggestions.with_untracked(|s| s.len());
        if offered > 0 {
            match ev.key().as_str() {
                "ArrowDown" => {
                    ev.prevent_default();
                    chosen.update(|c| *c = (*c + 1) % offered);
                    return;
                }
                "ArrowUp" => {
                    ev.prevent_default();
                    chosen.update(|c| *c = (*c + offered - 1) % offered);
                    return;
                }
                "Enter" | "Tab" if !ev.shift_key() && !ev.is_composing() => {
                    ev.prevent_default();
                    accept(chosen.get_untracked());
                    return;
                }
                "Escape" => {
                    suggestions.set(vec![]);
                    return;
                }
                _ => {}
            }
        }
        match ev.key().as_str() {
            // Up in an empty box edits this person's last message.
            "ArrowUp" if conv.draft.with_untracked(String::is_empty) => {
                if let Some(seq) = conv.my_last_message() {
                    ev.prevent_default();
                    conv.start_editing(seq);
                }
                return;
            }
            "Escape"
                if conv.editing.get_untracked().is_some()
                    || conv.replying.get_untracked().is_some() =>
            {
                ev.prevent_default();
                conv.cancel_editing();
                return;
            }
            _ => {}
        }
        // Enter sends; Shift+Enter is a newline; an IME composing text
        // (keyCode 229) keeps its Enter.
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && ev.key_code() != 229 {
            ev.prevent_default();
            send();
        }
    };

    let pick = move |emoji: String| {
        let range = box_ref
            .get_untracked()
            .map(|el| {
                let text = el.value();
                let start = el
                    .selection_start()
                    .ok()
                    .flatten()
                    .unwrap_or(utf16_len(&text));
                let end = el.selection_end().ok().flatten().unwrap_or(start);
                (byte_index(&text, start), byte_index(&text, end))
            })
            .unwrap_or((usize::MAX, usize::MAX));
        put(range, &emoji);
    };

    view! {
        <form
            class="composer"
            method="post"
            action=action
            on:submit=handler(move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                send();
            })
        >
            // What the box is doing besides writing a new message.
            {move || {
                let (note, cancel) = match (conv.editing.get(), conv.replying.get()) {
                    (Some(_), _) => ("Editing your message (Escape cancels)".to_owned(), "Cancel edit"),
                    (None, Some(quote)) => {
                        (
                            format!(
                                "Replying to {}: {}",
                                quote.nick,
                                quote.excerpt.unwrap_or_default(),
                            ),
                            "Cancel reply",
                        )
                    }
                    (None, None) => return None,
                };
                Some(
                    view! {
                        <p class="composing-note">
                            {note}
                            <button type="button" on:click=handler(move |_| conv.cancel_editing())>
                                {cancel}
                            </button>
                        </p>
                    },
                )
            }}
            // Mentioning the assistant where it does not answer says so.
            {move || {
                let (bot, _) = conv.assistant().get().filter(|(_, here)| !here)?;
                conv.draft.with(|d| crate::markup::mentions(d, bot.as_str())).then(|| {
                    let why = if conv.room().is_private() {
                        format!("{bot} cannot read end-to-end encrypted conversations, so it is not asked here.")
                    } else {
                        format!("{bot} is turned off in this room by its owner.")
                    };
                    view! { <p class="composing-note" role="status">{why}</p> }
                })
            }}
            <When when=move || suggestions.with(|s| !s.is_empty())>
                <ul
                    class="emoji-suggestions"
                    role="listbox"
                    aria-label=move || {
                        let people = suggestions
                            .with(|s| s.first().is_some_and(|c| c.insert.starts_with('@')));
                        if people { "Mention suggestions" } else { "Emoji suggestions" }
                    }
                >
                    {move || {
                        suggestions
                            .get()
                            .into_iter()
                            .enumerate()
                            .map(|(i, choice)| {
                                view! {
                                    <li
                                        role="option"
                                        aria-selected=move || (chosen.get() == i).to_string()
                                        on:mousedown=handler(move |ev: leptos::ev::MouseEvent| {
                                            ev.prevent_default();
                                            accept(i);
                                        })
                                    >
                                        {choice.shown}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </When>
            <UploadList conv />
            <When when=move || plain_nick_field.get()>
                <NickField input=plain_nick_ref plain_form=true />
            </When>
            <textarea
                aria-label="Message"
                node_ref=box_ref
                placeholder=move || {
                    if conv.joined().get() { "Write a message" } else { "Connecting…" }
                }
                name="body"
                rows="1"
                maxlength=BODY_MAX_CHARS
                on:input=handler(move |ev| {
                    let text = event_target_value(&ev);
                    if !text.trim().is_empty() {
                        conv.note_typing(socket);
                    }
                    conv.draft.set(text);
                    complete();
                })
                on:keydown=handler(on_keydown)
                on:blur=handler(move |_| suggestions.set(vec![]))
                on:paste=handler(move |ev: leptos::ev::ClipboardEvent| {
                    // A pasted picture (or file) is attached; pasted text is just text.
                    #[cfg(feature = "hydrate")]
                    if super::attach::take_files(conv, ev.clipboard_data().and_then(|d| d.files())) {
                        ev.prevent_default();
                    }
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                })
            ></textarea>
            <AttachButton conv />
            <button
                type="button"
                class="emoji-button"
                aria-label="Emoji"
                aria-expanded=move || picker_open.get().to_string()
                on:click=handler(move |_| picker_open.update(|o| *o = !*o))
            >
                <crate::icons::Icon path=crate::icons::SMILE />
            </button>
            {plain_nick
                .map(|nick| view! { <input type="hidden" name="nick" value=nick.to_string() /> })}
            <input type="hidden" name="client_id" value=form_message_id() />
            <button
                type="submit"
                prop:disabled=move || !conv.joined().get() && conv.uploads.list.with(Vec::is_empty)
            >
                {move || if conv.editing.get().is_some() { "Save" } else { "Send" }}
            </button>
            <When when=move || picker_open.get()>
                <EmojiPicker
                    on_pick=move |emoji| {
                        picker_open.set(false);
                        pick(emoji);
                    }
                    on_close=move || {
                        picker_open.set(false);
                        if let Some(el) = box_ref.get_untracked() {
                            let _ = el.focus();
                        }
                    }
                />
            </When>
        </form>
    }
}

/// A completion offered under the box: what goes in, what it shows.
#[derive(Clone)]
struct Suggestion {
    insert: String,
    shown: String,
}

impl Suggestion {
    fn emoji(choice: EmojiChoice) -> Self {
        Self {
            shown: format!("{} :{}:", choice.emoji, choice.shortcode),
            insert: choice.emoji,
        }
    }
}

/// `name` starts with `typed`, letter case aside.
fn starts_like(name: &str, typed: &str) -> bool {
    // A word-final capital sigma lowercases to 'ς', elsewhere to 'σ':
    // `@ΟΔΥΣ` must still find "Οδυσσέας".
    let fold = |s: &str| crate::case::lower(s).replace('ς', "σ");
    fold(name).starts_with(&fold(typed))
}

/// The text before the cursor ends in `@name` being typed (the `@` at the
/// start of a word): where the `@` is and what follows it.
fn mention_before(text: &str, cursor: usize) -> Option<(usize, &str)> {
    let before = text.get(..cursor)?;
    let at = before.rfind('@')?;
    let typed = &before[at + 1..];
    let word_start = before[..at]
        .chars()
        .next_back()
        .is_none_or(|c| c.is_whitespace() || "([{".contains(c));
    (word_start && !typed.contains(char::is_whitespace)).then_some((at, typed))
}

fn alerts_unlock() {
    // Sending is a click or a key press: a moment browsers allow audio to start.
    if Alerts::from_context().sound.get_untracked() {
        crate::alerts::unlock_audio();
    }
}

/// The byte offset in `text` of a UTF-16 offset (what the DOM counts in).
fn byte_index(text: &str, utf16: u32) -> usize {
    let mut units = 0;
    for (i, c) in text.char_indices() {
        if units >= utf16 {
            return i;
        }
        units += c.len_utf16() as u32;
    }
    text.len()
}

fn utf16_len(text: &str) -> u32 {
    text.encode_utf16().count() as u32
}

/// The id of a message posted with the plain form: made when the page is
/// rendered, so submitting the same page twice stores the message once.
fn form_message_id() -> String {
    #[cfg(feature = "ssr")]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static MADE: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("form-{nanos:x}-{:x}", MADE.fetch_add(1, Ordering::Relaxed))
    }
    #[cfg(not(feature = "ssr"))]
    crate::socket::random_id()
}

#[cfg(test)]
mod tests {
    use super::mention_before;

    #[test]
    fn a_mention_is_completed_from_the_at_sign_of_a_word() {
        assert_eq!(mention_before("hi @us", 6), Some((3, "us")));
        assert_eq!(mention_before("@", 1), Some((0, "")));
        assert_eq!(mention_before("(@sa", 4), Some((1, "sa")));
        assert_eq!(mention_before("mail me@host", 12), None);
        assert_eq!(mention_before("@usman hi", 9), None);
    }

    #[test]
    fn people_are_offered_by_the_start_of_their_name_in_any_case() {
        use super::starts_like;
        assert!(starts_like("Usman", "us"));
        assert!(starts_like("Émile", "ÉM"));
        assert!(starts_like("Οδυσσέας", "ΟΔΥΣ"));
        assert!(starts_like("sana", ""));
        assert!(!starts_like("sana", "sanaa"));
        assert!(!starts_like("usman", "sm"));
    }
}
