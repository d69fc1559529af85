//! The log's rows: each entry as a message (with its reply quote, reactions
//! and action buttons), a deleted message's place or a join/leave notice;
//! messages of one author grouped, a separator between days, message bodies
//! drawn from their parsed markup; and the one click handler for every
//! message's buttons.

use crate::clock::{self, Hydrated, Now};
use crate::conversation::Conversation;
use crate::e2e::Opened;
use crate::e2e::SealedFile;
use crate::erased::Slot;
use crate::markup::{self, Block, Piece, Span};
use crate::media::{Attachment, MediaKind, human_size, media_url, thumb_url};
use crate::messages::{self, Entry, EntryKind, Said, Seq, crowd_line};
use crate::people::Nick;
use leptos::either::{Either, EitherOf3, EitherOf4};
use leptos::prelude::*;

/// A log line with what its neighbours decide about it.
#[derive(Clone, PartialEq)]
pub(super) struct Row {
    pub entry: Entry,
    /// Changes whenever the entry does (an edit, a reaction), so the line is
    /// drawn again.
    pub version: u64,
    /// Same author as the message just above, within a few minutes: shown
    /// without repeating the name and time.
    pub grouped: bool,
    /// The first entry of a calendar day gets a separator above it.
    pub day: Option<i64>,
}

/// Messages closer than this to the previous one by the same author are grouped.
const GROUP_WITHIN_MS: i64 = 5 * 60_000;

pub(super) fn rows(log: &[Entry], local: bool) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::with_capacity(log.len());
    let mut previous: Option<(&Entry, i64)> = None;
    // Edits, deletions and reactions show in the message they act on; a
    // quiet crowd (a room too big for notices) shows nowhere.
    let drawn =
        |e: &&Entry| e.kind.target().is_none() && !matches!(e.kind, EntryKind::Crowd(.., true));
    for entry in log.iter().filter(drawn) {
        let day = clock::day_number(entry.at, clock::zone_offset_ms(entry.at, local));
        let new_day = previous.is_none_or(|(_, d)| d != day);
        let grouped = !new_day
            && is_message(&entry.kind)
            && previous.is_some_and(|(p, _)| {
                is_message(&p.kind)
                    && p.nick == entry.nick
                    && p.account == entry.account
                    && entry.at - p.at < GROUP_WITHIN_MS
            });
        rows.push(Row {
            entry: entry.clone(),
            version: version(&entry.kind),
            grouped,
            day: new_day.then_some(day),
        });
        previous = Some((entry, day));
    }
    rows
}

/// A fingerprint of what a line shows (FNV-1a over its text, whether it was
/// edited, and its reactions), so an edit or a reaction draws it again.
fn version(kind: &EntryKind) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes.iter().chain(&[0xff]) {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    match kind {
        EntryKind::Message {
            body,
            edited,
            reactions,
            reply,
            ..
        } => {
            eat(body.as_str().as_bytes());
            eat(&[u8::from(*edited)]);
            if let Some(quote) = reply {
                eat(quote.excerpt.as_deref().unwrap_or("\u{0}").as_bytes());
            }
            for reaction in reactions {
                eat(reaction.emoji.as_str().as_bytes());
                for nick in &reaction.nicks {
                    eat(nick.as_str().as_bytes());
                }
            }
        }
        EntryKind::Deleted => eat(b"deleted"),
        _ => {}
    }
    hash
}

/// A message, or the place of a deleted one: the lines grouped by author.
fn is_message(kind: &EntryKind) -> bool {
    matches!(kind, EntryKind::Message { .. } | EntryKind::Deleted)
}

/// "Today", "Yesterday" or the date, between the days of the log.
#[component]
pub(super) fn DaySeparator(day: i64) -> impl IntoView {
    let local = use_context::<Hydrated>().map(|h| h.0);
    let now = use_context::<Now>().map(|n| n.0);
    let label = move || {
        let local = local.is_some_and(|l| l.get());
        // "Today" needs the reader's clock, which the server does not have.
        let today = now
            .filter(|_| local)
            .map(|n| n.get())
            .map(|now| clock::day_number(now, clock::zone_offset_ms(now, true)));
        clock::day_label(day, today)
    };
    view! {
        <div class="day" role="separator">
            <span>{label}</span>
        </div>
    }
}

/// One line of the log: a message (with its reply quote, reactions and
/// actions), a deleted message's place, or a join/leave notice.
#[component]
pub(super) fn EntryLine(entry: Entry, grouped: bool, conv: Conversation) -> impl IntoView {
    let at = entry.at;
    let seq = entry.seq;
    let local = use_context::<Hydrated>().map(|h| h.0);
    let now = use_context::<Now>().map(|n| n.0);
    let is_local = move || local.is_some_and(|l| l.get());
    let offset = move || clock::zone_offset_ms(at, is_local());
    let shown_time = move || match now.filter(|_| is_local()) {
        Some(now) => clock::relative(at, now.get(), offset()),
        None => clock::hhmm(at, offset()),
    };
    let time = move || {
        view! {
            <time datetime=clock::iso_utc(at) title=move || clock::exact(at, offset())>
                {shown_time}
            </time>
        }
    };
    let nick = entry.nick.to_string();
    let me = conv.me();
    let highlighted = move || conv.highlighted.get() == Some(seq);
    // Guests pick any free nickname for a visit; an account's name is theirs.
    // The assistant is marked for what it is, not as a guest.
    let guest = (!entry.account).then(|| {
        let (class, label) = if entry.bot {
            ("bot", "bot")
        } else {
            ("guest", "guest")
        };
        view! { <span class=class>{label}</span> }
    });
    let meta = if grouped {
        Either::Left(view! {
            // Heard by screen readers, not shown: the group's first line names them.
            <bdi class="author visually-hidden">{nick.clone()}</bdi>
            <time
                class="hover-time"
                datetime=clock::iso_utc(at)
                title=move || clock::exact(at, offset())
            >
                {move || clock::hhmm(at, offset())}
            </time>
        })
    } else {
        Either::Right(view! {
            <div class="meta">
                <bdi class="author">{nick.clone()}</bdi>
                {guest}
                {time()}
            </div>
        })
    };
    let notice = match entry.kind {
        EntryKind::Message {
            body,
            reply,
            edited,
            reactions,
            media,
            ..
        } => {
            let sealed = crate::e2e::is_sealed(body.as_str());
            // A sealed message's uploads are ciphertext: its files show from
            // the records inside it, once open.
            let has_media = !media.is_empty();
            let media = (has_media && !sealed).then(|| media_view(media, seq, conv));
            let sealed_files = (sealed && has_media).then(|| {
                let body = body.clone();
                move || match conv.readable(body.as_str()) {
                    Some(Opened::Files(_, files)) => Some(sealed_media_view(files, seq, conv)),
                    _ => None,
                }
            });
            let mentioned = {
                let body = body.clone();
                move || {
                    let Some(opened) = conv.readable(body.as_str()) else {
                        return false;
                    };
                    let Some(text) = opened.text() else {
                        return false;
                    };
                    me.with(|me| {
                        me.as_ref()
                            .is_some_and(|me| markup::mentions(text, me.as_str()))
                    })
                }
            };
            let author = entry.nick.clone();
            let mine = move || me.with(|me| me.as_ref() == Some(&author));
            // The buttons carry what they do (`data-action`, `data-seq`,
            // `data-emoji`); one listener on the log acts for all of them
            // (see `on_log_click`), which keeps every line light.
            let quote = reply.map(|quote| {
                let text = {
                    let excerpt = quote.excerpt.clone();
                    let seq = quote.seq;
                    move || match &excerpt {
                        None => "message deleted".to_owned(),
                        // The server's excerpt of a sealed body is no text:
                        // the quoted message as this device opens it, if it
                        // is here (shown once it is open).
                        Some(excerpt) if crate::e2e::is_sealed(excerpt) => {
                            match conv.message_text(seq).and_then(|body| conv.readable(&body)) {
                                Some(opened) if opened.text().is_some() => {
                                    messages::excerpt(opened.shown())
                                }
                                _ => "encrypted message".to_owned(),
                            }
                        }
                        Some(excerpt) => excerpt.clone(),
                    }
                };
                let label = {
                    let text = text.clone();
                    let nick = quote.nick.clone();
                    move || format!("In reply to {nick}: {}", text())
                };
                view! {
                    <button
                        type="button"
                        class="quote"
                        aria-label=label
                        data-action="jump"
                        data-seq=quote.seq
                    >
                        <bdi class="quote-author">{quote.nick.to_string()}</bdi>
                        <span class="quote-text" class:gone=quote.excerpt.is_none()>
                            {text}
                        </span>
                    </button>
                }
            });
            let reactions = (!reactions.is_empty()).then(|| {
                let buttons = reactions
                    .into_iter()
                    .map(|reaction| {
                        let names = reaction
                            .nicks
                            .iter()
                            .map(Nick::as_str)
                            .collect::<Vec<_>>()
                            .join(", ");
                        let count = reaction.nicks.len();
                        let label = format!("{} {count}, from {names}", reaction.emoji.as_str());
                        let nicks = reaction.nicks;
                        let reacted = move || {
                            me.with(|me| me.as_ref().is_some_and(|me| nicks.contains(me)))
                                .to_string()
                        };
                        view! {
                            <button
                                type="button"
                                class="reaction"
                                aria-label=label
                                title=names
                                aria-pressed=reacted
                                data-action="react"
                                data-seq=seq
                                data-emoji=reaction.emoji.as_str().to_owned()
                            >
                                {reaction.emoji.as_str().to_owned()}
                                <span class="count">{count}</span>
                            </button>
                        }
                    })
                    .collect_view();
                view! { <div class="reactions">{buttons}</div> }
            });
            return EitherOf3::A(view! {
                <article
                    class="message"
                    class:grouped=grouped
                    class:mine=mine
                    class:mention=mentioned
                    class:highlighted=highlighted
                    id=format!("m-{seq}")
                    data-seq=seq
                >
                    {meta}
                    {quote}
                    <div class="body">
                        {if sealed {
                            Either::Left(move || match conv.readable(body.as_str()) {
                                Some(Opened::Text(text) | Opened::Files(text, _)) => {
                                    Either::Left(body_view(&text))
                                }
                                state => Either::Right(view! {
                                    <p class="sealed">
                                        {state.as_ref().map_or("Decrypting…", Opened::shown).to_owned()}
                                    </p>
                                }),
                            })
                        } else {
                            Either::Right(body_view(body.as_str()))
                        }}
                    </div>
                    {media}
                    {sealed_files}
                    {edited.then(|| view! { <span class="edited">"(edited)"</span> })}
                    {reactions}
                    <div class="actions" role="toolbar" aria-label="Message actions">
                        <button type="button" data-action="reply" data-seq=seq>
                            "Reply"
                        </button>
                        <button type="button" aria-haspopup="dialog" data-action="pick" data-seq=seq>
                            "React"
                        </button>
                        // Shown by the stylesheet: `own` on one's own
                        // messages, `mod` on others' when moderating (the
                        // server checks both again).
                        <button type="button" class="own" data-action="edit" data-seq=seq>
                            "Edit"
                        </button>
                        <button type="button" class="own mod" data-action="delete" data-seq=seq>
                            "Delete"
                        </button>
                        <button type="button" class="mod" data-action="remove" data-seq=seq>
                            "Remove"
                        </button>
                        <button type="button" class="mod" data-action="ban" data-seq=seq>
                            "Ban"
                        </button>
                    </div>
                </article>
            });
        }
        EntryKind::Deleted => {
            return EitherOf3::B(view! {
                <article
                    class="message deleted"
                    class:grouped=grouped
                    class:highlighted=highlighted
                    id=format!("m-{seq}")
                    data-seq=seq
                >
                    {meta}
                    <p class="body gone">"This message was deleted."</p>
                </article>
            });
        }
        EntryKind::Joined => crowd_line(&[&entry.nick], &[]),
        EntryKind::Left => crowd_line(&[], &[&entry.nick]),
        EntryKind::Crowd(joined, left, _) => crowd_line(
            &joined.iter().map(|p| &p.nick).collect::<Vec<_>>(),
            &left.iter().collect::<Vec<_>>(),
        ),
        // Actions never get a line of their own (see `rows`).
        EntryKind::Edit(..) | EntryKind::Delete(..) | EntryKind::React(..) => vec![],
    };
    // Each name is isolated, so a right-to-left name cannot reorder the
    // words around it.
    let line = notice
        .into_iter()
        .map(|part| match part {
            Said::Name(nick) => Either::Left(view! { <bdi>{nick.as_str().to_owned()}</bdi> }),
            Said::Words(words) => Either::Right(Either::Left(words)),
            Said::Count(n) => Either::Right(Either::Right(n.to_string())),
        })
        .collect_view();
    EitherOf3::C(view! {
        <div class="notice" data-seq=seq>
            <span>{line}</span>
            {time()}
        </div>
    })
}

/// A click in the log on one of the messages' buttons: what its `data-`
/// attributes say to do. `pick` opens the reaction picker, `jump` shows the
/// replied-to message.
pub(super) fn on_log_click(
    ev: &leptos::ev::MouseEvent,
    conv: Conversation,
    reacting: Slot<Option<Seq>>,
    jump: Callback<Seq>,
) {
    #[cfg(feature = "hydrate")]
    {
        use crate::messages::Emoji;
        use crate::protocol::ClientFrame;
        use crate::socket::ChatSocket;
        use wasm_bindgen::JsCast;
        let Some(button) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("[data-action]").ok().flatten())
        else {
            return;
        };
        let Some(seq) = button
            .get_attribute("data-seq")
            .and_then(|s| s.parse::<Seq>().ok())
        else {
            return;
        };
        let action = button.get_attribute("data-action").unwrap_or_default();
        let socket = ChatSocket::from_context();
        let room = conv.room();
        match action.as_str() {
            "reply" => conv.start_reply(seq),
            "edit" => conv.start_editing(seq),
            "pick" => reacting.set(Some(seq)),
            "jump" => jump.run(seq),
            "save" => {
                ev.prevent_default();
                let id = button.get_attribute("data-media").unwrap_or_default();
                if let Ok(id) = crate::media::MediaId::parse(&id) {
                    conv.save_file(seq, &id);
                }
            }
            "view" => {
                // The link opens the picture on its own without JavaScript.
                ev.prevent_default();
                let id = button.get_attribute("data-media").unwrap_or_default();
                if let Ok(id) = crate::media::MediaId::parse(&id) {
                    conv.viewing.set(Some(id));
                }
            }
            "delete" if confirm("Delete this message for everyone?") => {
                conv.act(socket, ClientFrame::Delete { room, target: seq })
            }
            "remove" if confirm("Remove this message's author from the room?") => {
                conv.act(socket, ClientFrame::Remove { room, target: seq })
            }
            "ban" if confirm("Ban this message's author from the room?") => {
                conv.act(socket, ClientFrame::Ban { room, target: seq })
            }
            "react" => {
                let Some(emoji) = button
                    .get_attribute("data-emoji")
                    .and_then(|e| Emoji::parse(&e).ok())
                else {
                    return;
                };
                let on = button.get_attribute("aria-pressed").as_deref() != Some("true");
                conv.act(
                    socket,
                    ClientFrame::React {
                        room,
                        target: seq,
                        emoji,
                        on,
                    },
                );
            }
            _ => {}
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, conv, reacting, jump);
}

/// Asks the person to confirm (a browser dialog).
#[cfg(feature = "hydrate")]
fn confirm(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}

/// A message's files: pictures as thumbnails opening the viewer, videos
/// playing inline, anything else as a card that downloads. Until this
/// browser holds the room's media pass (the server-rendered page, before
/// joining) they are their names only.
fn media_view(media: Vec<Attachment>, seq: Seq, conv: Conversation) -> impl IntoView {
    let items = media
        .into_iter()
        .map(|file| {
            move || {
                let url = media_url(&file.id);
                let thumb = thumb_url(&file.id);
                let href = Some(url.clone());
                file_view(conv, seq, &file, false, href, Some(thumb), Some(url))
            }
        })
        .collect_view();
    view! { <div class="media">{items}</div> }
}

/// An encrypted message's files, from the records sealed inside it:
/// pictures as thumbnails this browser opened (the viewer shows them full
/// size), videos playing from the opened bytes, anything else a card that
/// downloads once opened (on a click: a big file is not fetched unasked).
fn sealed_media_view(files: Vec<SealedFile>, seq: Seq, conv: Conversation) -> impl IntoView {
    let items = files
        .into_iter()
        .map(|sealed| {
            move || {
                let file = sealed.shown();
                let (thumb, full) = match file.kind {
                    MediaKind::Image => (conv.file_url(&sealed, true), None),
                    MediaKind::Video => (None, conv.file_url(&sealed, false)),
                    MediaKind::File => (None, None),
                };
                file_view(conv, seq, &file, true, Some("#".into()), thumb, full)
            }
        })
        .collect_view();
    view! { <div class="media">{items}</div> }
}

/// One file of a message, plain or sealed (`href`: where its link goes
/// without JavaScript; `thumb`, `full`: where the page shows it from, once
/// known). A sealed file card downloads through the log's click handler.
fn file_view(
    conv: Conversation,
    seq: Seq,
    file: &Attachment,
    sealed: bool,
    href: Option<String>,
    thumb: Option<String>,
    full: Option<String>,
) -> impl IntoView + use<> {
    let name = file.name.clone();
    if !conv.files_open.get() {
        return EitherOf4::A(view! { <span class="media-name">{name}</span> });
    }
    let id = file.id.as_str().to_owned();
    match file.kind {
        MediaKind::Image => EitherOf4::B(view! {
            <a
                class="media-picture"
                href=href
                data-action="view"
                data-seq=seq
                data-media=id
            >
                <img
                    src=thumb
                    alt=name
                    loading="lazy"
                    width=file.width
                    height=file.height
                />
            </a>
        }),
        MediaKind::Video => EitherOf4::C(view! {
            <video
                class="media-video"
                src=full
                controls
                preload="metadata"
                aria-label=name
                width=file.width
                height=file.height
            ></video>
        }),
        MediaKind::File => EitherOf4::D(view! {
            <a
                class="file-card"
                href=if sealed { href } else { full }
                download=(!sealed).then(|| name.clone())
                data-action=sealed.then_some("save")
                data-seq=seq
                data-media=id
            >
                <span class="file-name">{name.clone()}</span>
                <span class="file-meta">
                    {format!("{} · {}", human_size(file.size), file.content_type)}
                </span>
            </a>
        }),
    }
}

/// A message body drawn from its parsed tree: every piece of text goes into
/// the DOM as text, so nothing a person types can become markup.
pub(super) fn body_view(body: &str) -> impl IntoView + use<> {
    markup::parse(body)
        .into_iter()
        .map(|block| match block {
            Block::Paragraph(inlines) => Either::Left(view! {
                <p>{markup::spans(&inlines).into_iter().map(span_view).collect_view()}</p>
            }),
            Block::CodeBlock { lang, code } => Either::Right(view! {
                <pre data-lang=(!lang.is_empty()).then_some(lang)>
                    <code>{code}</code>
                </pre>
            }),
        })
        .collect_view()
}

fn span_view(span: Span) -> impl IntoView {
    let piece = match span.piece {
        Piece::Text(text) => EitherOf3::A(text),
        Piece::Code(code) => EitherOf3::B(view! { <code>{code}</code> }),
        Piece::Link(href) => {
            let text = href.clone();
            EitherOf3::C(view! {
                <a href=href target="_blank" rel="noopener noreferrer nofollow">
                    {text}
                </a>
            })
        }
    };
    let piece = if span.italic {
        Either::Left(view! { <em>{piece}</em> })
    } else {
        Either::Right(piece)
    };
    if span.bold {
        Either::Left(view! { <strong>{piece}</strong> })
    } else {
        Either::Right(piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Seq;

    fn message(seq: Seq, at: i64, nick: &str) -> Entry {
        Entry {
            seq,
            at,
            nick: Nick::parse(nick).unwrap(),
            kind: EntryKind::message(
                crate::messages::ClientId::parse(&format!("c{seq}")).unwrap(),
                crate::messages::MessageBody::parse("hi").unwrap(),
            ),
            account: false,
            bot: false,
        }
    }

    #[test]
    fn consecutive_messages_of_one_author_are_grouped_within_a_day() {
        let day = 86_400_000 * 20_000;
        let log = [
            message(1, day + 1_000, "sadia"),
            message(2, day + 2_000, "sadia"),
            message(3, day + 3_000, "usman"),
            message(4, day + 3_000 + GROUP_WITHIN_MS, "usman"),
            message(5, day + 86_400_000, "usman"),
        ];
        let rows = rows(&log, false);
        let grouped: Vec<bool> = rows.iter().map(|r| r.grouped).collect();
        assert_eq!(grouped, [false, true, false, false, false]);
        let days: Vec<Option<i64>> = rows.iter().map(|r| r.day).collect();
        assert_eq!(days, [Some(20_000), None, None, None, Some(20_001)]);
    }
}
