//! The log's rows: each entry as a message or a join/leave notice, messages
//! of one author grouped, a separator between days, and message bodies drawn
//! from their parsed markup.

use crate::clock::{self, Hydrated, Now};
use crate::markup::{self, Block, Piece, Span};
use crate::messages::{Entry, EntryKind};
use crate::people::Nick;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

/// A log line with what its neighbours decide about it.
#[derive(Clone, PartialEq)]
pub(super) struct Row {
    pub entry: Entry,
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
    for entry in log {
        let day = clock::day_number(entry.at, clock::zone_offset_ms(entry.at, local));
        let new_day = previous.is_none_or(|(_, d)| d != day);
        let grouped = !new_day
            && matches!(entry.kind, EntryKind::Message { .. })
            && previous.is_some_and(|(p, _)| {
                matches!(p.kind, EntryKind::Message { .. })
                    && p.nick == entry.nick
                    && p.account == entry.account
                    && entry.at - p.at < GROUP_WITHIN_MS
            });
        rows.push(Row {
            entry: entry.clone(),
            grouped,
            day: new_day.then_some(day),
        });
        previous = Some((entry, day));
    }
    rows
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

/// One line of the log: a message, or a join/leave notice.
#[component]
pub(super) fn EntryLine(entry: Entry, grouped: bool, me: RwSignal<Option<Nick>>) -> impl IntoView {
    let at = entry.at;
    let local = use_context::<Hydrated>().map(|h| h.0);
    let now = use_context::<Now>().map(|n| n.0);
    let is_local = move || local.is_some_and(|l| l.get());
    let offset = move || clock::zone_offset_ms(at, is_local());
    let shown_time = move || match now.filter(|_| is_local()) {
        Some(now) => clock::relative(at, now.get(), offset()),
        None => clock::hhmm(at, offset()),
    };
    let time = view! {
        <time datetime=clock::iso_utc(at) title=move || clock::exact(at, offset())>
            {shown_time}
        </time>
    };
    let nick = entry.nick.to_string();
    let notice = match entry.kind {
        EntryKind::Message { body, .. } => {
            let mentioned = {
                let body = body.clone();
                move || {
                    me.with(|me| {
                        me.as_ref()
                            .is_some_and(|me| markup::mentions(body.as_str(), me.as_str()))
                    })
                }
            };
            // Guests pick any free nickname for a visit; an account's name is theirs.
            let guest = (!entry.account).then(|| view! { <span class="guest">"guest"</span> });
            let meta = if grouped {
                Either::Left(view! {
                    // Heard by screen readers, not shown: the group's first line names them.
                    <bdi class="author visually-hidden">{nick}</bdi>
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
                        <bdi class="author">{nick}</bdi>
                        {guest}
                        {time}
                    </div>
                })
            };
            return Either::Left(view! {
                <div class="message" class:grouped=grouped class:mention=mentioned data-seq=entry.seq>
                    {meta}
                    <div class="body">{body_view(body.as_str())}</div>
                </div>
            });
        }
        EntryKind::Joined => " joined",
        EntryKind::Left => " left",
    };
    // The name is isolated, so a right-to-left name cannot reorder the words
    // around it.
    Either::Right(view! {
        <div class="notice" data-seq=entry.seq>
            <span><bdi>{nick}</bdi>{notice}</span>
            {time}
        </div>
    })
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
            kind: EntryKind::Message {
                client_id: crate::messages::ClientId::parse(&format!("c{seq}")).unwrap(),
                body: crate::messages::MessageBody::parse("hi").unwrap(),
            },
            account: false,
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
