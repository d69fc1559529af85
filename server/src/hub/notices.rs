//! Join and leave notices, said together when they come close, as Slack and
//! Discord do: a class of a thousand arriving is a few entries, not a
//! thousand (each sent to every member).
//!
//! A room's [`Desk`] takes each change. After a quiet spell a join is said at
//! once, and the next [`NoticePolicy::window`] opens: changes in it are held
//! and said as one entry when it ends ("sadia, usman and 10 others joined;
//! amir left"), and another window opens while they keep coming. A leave is
//! always held: someone who leaves and comes straight back (a reload, a
//! join/leave loop) says nothing, and someone who comes and goes within one
//! window is said to have done both. Above [`NoticePolicy::quiet_above`] people
//! online, a room's notices are quiet crowds: still sent, so everyone's list
//! of who is online stays right, but not drawn in the log.
//!
//! Changes reach the desk under the room's member lock (and the desk's lock
//! is taken after it), so what it holds is exactly what the members map and
//! the log disagree on. A joiner's `Joined` frame lists who is here, plus
//! the departures still held ([`Desk::as_said`]): the held notices, said
//! later, then only confirm (a join) or correct (a leave) that list. A
//! held arrival is said before its author's first message
//! ([`Desk::before_speaking`]).

use crate::store::Author;
use app::messages::EntryKind;
use app::people::{Nick, Person};
use std::time::Duration;

/// How notices are grouped, from the flags.
#[derive(Debug, Clone, Copy)]
pub struct NoticePolicy {
    /// How long changes are held to be said together.
    pub window: Duration,
    /// Rooms with more people online than this get quiet notices.
    pub quiet_above: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    Joined,
    Left,
}

/// What the hub does with a change the desk took in.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Heard {
    /// Say it now, and open a window.
    SayNow,
    /// Held; open a window (none was open).
    HeldOpening,
    /// Held in the open window, or cancelled by it.
    Held,
}

/// People named in a notice, with who they are.
pub(super) type Named = Vec<(Nick, Author)>;

/// Someone whose arrival or departure is not said yet.
#[derive(Debug)]
struct Held {
    nick: Nick,
    author: Author,
    /// In the room as the log last said it.
    said_in: bool,
    /// In the room now.
    now_in: bool,
}

/// One room's held changes, by name (the browser's list of who is online
/// is by name): only where each person ends the window is said.
#[derive(Debug, Default)]
pub(super) struct Desk {
    /// A window is open: changes wait for its end.
    open: bool,
    held: Vec<Held>,
}

impl Desk {
    pub(super) fn hear(&mut self, nick: &Nick, author: &Author, change: Change) -> Heard {
        let now_in = change == Change::Joined;
        match self.held.iter_mut().find(|h| h.nick == *nick) {
            Some(held) => {
                held.now_in = now_in;
                held.author = author.clone();
            }
            None if now_in && !self.open => {
                self.open = true;
                return Heard::SayNow;
            }
            None => self.held.push(Held {
                nick: nick.clone(),
                author: author.clone(),
                said_in: !now_in,
                now_in,
            }),
        }
        if self.open {
            Heard::Held
        } else {
            self.open = true;
            Heard::HeldOpening
        }
    }

    /// At a window's end: who came and who went, to be said as one entry
    /// (and the next window stays open); `None`, and the desk closes, if
    /// there is nothing to say. A leave and a quick return say nothing;
    /// someone who came and went is said to have done both (their messages
    /// may be in the log).
    pub(super) fn take(&mut self) -> Option<(Named, Named)> {
        let (mut joined, mut left) = (vec![], vec![]);
        for held in self.held.drain(..) {
            if !held.said_in {
                joined.push((held.nick.clone(), held.author.clone()));
            }
            if !held.now_in {
                left.push((held.nick, held.author));
            }
        }
        if joined.is_empty() && left.is_empty() {
            self.open = false;
            return None;
        }
        Some((joined, left))
    }

    /// Someone about to speak whose arrival is held: it is said first
    /// (returned, and no longer held), so the log never shows a message
    /// before its author's arrival.
    pub(super) fn before_speaking(
        &mut self,
        nick: &Nick,
        author: &Author,
    ) -> Option<(Nick, Author)> {
        let at = self
            .held
            .iter()
            .position(|h| h.nick == *nick && h.author == *author && !h.said_in && h.now_in)?;
        let held = self.held.remove(at);
        Some((held.nick, held.author))
    }

    /// Nothing held (a window may still be open).
    pub(super) fn idle(&self) -> bool {
        self.held.is_empty()
    }

    /// Who a joiner is told is online, from who is in the room: departures
    /// not said yet put back (their notice takes them off). A name may now
    /// be listed twice (another server may hold it): the caller sorts and
    /// drops repeats.
    pub(super) fn as_said(&self, online: &mut Vec<Person>) {
        for held in &self.held {
            if held.said_in && !held.now_in {
                online.push(Person {
                    nick: held.nick.clone(),
                    account: held.author.is_account(),
                });
            }
        }
    }
}

/// The entry that says `joined` and `left`: a lone arrival or departure as
/// before, anything else (or anything in a quiet room) as a crowd. The
/// entry's name is the first one said.
pub(super) fn entry(
    mut joined: Named,
    mut left: Named,
    quiet: bool,
) -> Option<(Nick, Author, EntryKind)> {
    match (joined.len(), left.len(), quiet) {
        (0, 0, _) => None,
        (1, 0, false) => {
            let (nick, author) = joined.pop()?;
            Some((nick, author, EntryKind::Joined))
        }
        (0, 1, false) => {
            let (nick, author) = left.pop()?;
            Some((nick, author, EntryKind::Left))
        }
        _ => {
            let (nick, author) = joined.first().or(left.first()).cloned()?;
            let people = joined
                .into_iter()
                .map(|(nick, author)| Person {
                    nick,
                    account: author.is_account(),
                })
                .collect();
            let gone = left.into_iter().map(|(nick, _)| nick).collect();
            Some((nick, author, EntryKind::Crowd(people, gone, quiet)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::people::SessionId;

    fn guest(name: &str) -> (Nick, Author) {
        (
            Nick::parse(name).unwrap(),
            Author::Guest(SessionId::parse(&format!("s-{name}")).unwrap()),
        )
    }

    fn hear(desk: &mut Desk, name: &str, change: Change) -> Heard {
        let (nick, author) = guest(name);
        desk.hear(&nick, &author, change)
    }

    fn names(held: &[(Nick, Author)]) -> Vec<&str> {
        held.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn the_first_arrival_is_said_at_once_and_the_next_ones_together() {
        let mut desk = Desk::default();
        assert_eq!(hear(&mut desk, "sadia", Change::Joined), Heard::SayNow);
        assert_eq!(hear(&mut desk, "usman", Change::Joined), Heard::Held);
        assert_eq!(hear(&mut desk, "amir", Change::Joined), Heard::Held);
        assert_eq!(hear(&mut desk, "zara", Change::Left), Heard::Held);
        let (joined, left) = desk.take().unwrap();
        assert_eq!(names(&joined), ["usman", "amir"]);
        assert_eq!(names(&left), ["zara"]);
        // The window after a said one stays open; an empty one closes it.
        assert_eq!(hear(&mut desk, "nadia", Change::Joined), Heard::Held);
        assert!(desk.take().is_some());
        assert!(desk.take().is_none());
        assert_eq!(hear(&mut desk, "omar", Change::Joined), Heard::SayNow);
    }

    #[test]
    fn a_leave_and_a_quick_return_say_nothing() {
        let mut desk = Desk::default();
        assert_eq!(hear(&mut desk, "sadia", Change::Left), Heard::HeldOpening);
        assert_eq!(hear(&mut desk, "sadia", Change::Joined), Heard::Held);
        for _ in 0..30 {
            hear(&mut desk, "sadia", Change::Left);
            hear(&mut desk, "sadia", Change::Joined);
        }
        assert!(desk.take().is_none(), "nothing to say");
    }

    #[test]
    fn someone_who_comes_and_goes_within_a_window_is_said_to_have_done_both() {
        let mut desk = Desk::default();
        hear(&mut desk, "sadia", Change::Joined);
        hear(&mut desk, "usman", Change::Joined);
        hear(&mut desk, "usman", Change::Left);
        let (joined, left) = desk.take().unwrap();
        assert_eq!(
            (names(&joined), names(&left)),
            (vec!["usman"], vec!["usman"])
        );
    }

    #[test]
    fn a_held_arrival_is_said_before_its_authors_first_message() {
        let mut desk = Desk::default();
        hear(&mut desk, "sadia", Change::Joined);
        hear(&mut desk, "usman", Change::Joined);
        let (usman, author) = guest("usman");
        assert!(
            desk.before_speaking(&usman, &guest("x").1).is_none(),
            "another author"
        );
        let (nick, _) = desk.before_speaking(&usman, &author).unwrap();
        assert_eq!(nick.as_str(), "usman");
        let (sadia, author) = guest("sadia");
        assert!(
            desk.before_speaking(&sadia, &author).is_none(),
            "said already"
        );
        assert!(desk.take().is_none(), "nothing left to say");
    }

    #[test]
    fn a_joiners_list_is_made_right_by_the_notices_still_held() {
        let mut desk = Desk::default();
        hear(&mut desk, "sadia", Change::Joined);
        hear(&mut desk, "usman", Change::Joined);
        hear(&mut desk, "amir", Change::Joined);
        hear(&mut desk, "zara", Change::Left);
        let person = |n: &str| Person {
            nick: Nick::parse(n).unwrap(),
            account: false,
        };
        // In the room now: sadia (said), usman and amir (held); zara went
        // (held, so still listed: her notice will take her off).
        let mut online = vec![person("sadia"), person("usman"), person("amir")];
        desk.as_said(&mut online);
        assert_eq!(
            online,
            vec![
                person("sadia"),
                person("usman"),
                person("amir"),
                person("zara")
            ]
        );
        // Usman goes again: he is said to have come and gone.
        hear(&mut desk, "usman", Change::Left);
        let (joined, left) = desk.take().unwrap();
        assert_eq!(names(&joined), ["usman", "amir"]);
        assert_eq!(names(&left), ["usman", "zara"]);
    }

    #[test]
    fn a_name_changing_hands_is_said_as_both() {
        // A guest sent out for the account that registered the name.
        let mut desk = Desk::default();
        hear(&mut desk, "amir", Change::Joined);
        let (nick, _) = guest("sadia");
        desk.hear(&nick, &guest("sadia").1, Change::Left);
        let account = Author::Account(7);
        desk.hear(&nick, &account, Change::Joined);
        // The name never left the room: nothing to say about it.
        assert!(desk.take().is_none());
        let other = Nick::parse("Sadia").unwrap();
        desk.hear(&other, &guest("x").1, Change::Left);
        desk.hear(&nick, &account, Change::Joined);
        let (joined, left) = desk.take().unwrap();
        assert_eq!(names(&joined), ["sadia"]);
        assert_eq!(names(&left), ["Sadia"]);
    }

    #[test]
    fn a_lone_change_reads_as_before_and_a_quiet_room_gets_crowds() {
        let one = || vec![guest("sadia")];
        assert_eq!(entry(one(), vec![], false).unwrap().2, EntryKind::Joined);
        assert_eq!(entry(vec![], one(), false).unwrap().2, EntryKind::Left);
        assert!(matches!(
            entry(one(), vec![], true).unwrap().2,
            EntryKind::Crowd(_, _, true)
        ));
        let (nick, _, kind) = entry(vec![guest("usman")], one(), false).unwrap();
        assert_eq!(nick.as_str(), "usman");
        assert!(matches!(kind, EntryKind::Crowd(j, l, false) if j.len() == 1 && l.len() == 1));
        assert!(entry(vec![], vec![], false).is_none());
    }
}
