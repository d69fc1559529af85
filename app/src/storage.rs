//! Everything the browser remembers, in one place: the nickname and the
//! joined rooms (every tab, `localStorage`), this tab's session
//! (`sessionStorage`), and the notification and sound toggles.
//!
//! The key strings and their storage kinds are what browsers already hold
//! data under: changing one forgets that data. On the server there is no
//! browser, so reads find nothing and writes are dropped; that stand-in is
//! `read` and `write`, and every typed helper here is built on them.

use crate::people::Nick;
use crate::rooms::RoomName;

/// Where a key lives in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Shared by every tab, kept across visits.
    Local,
    /// This tab only, kept across its reloads.
    Session,
}

/// One remembered value: its key string and where it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    name: &'static str,
    kind: Kind,
}

/// The last nickname used, offered again on the next visit.
pub const NICK: Key = Key {
    name: "chat.nick",
    kind: Kind::Local,
};
/// This tab's session id, so a reload is recognised as the same person.
pub const SESSION: Key = Key {
    name: "chat.session",
    kind: Kind::Session,
};
/// The joined rooms, comma-separated, in the order they were joined.
pub const ROOMS: Key = Key {
    name: "chat.rooms",
    kind: Kind::Local,
};
/// Which joined rooms are direct messages, and with whom: `room:name`
/// pairs, comma-separated (a username has neither character).
pub const DIRECT: Key = Key {
    name: "chat.direct",
    kind: Kind::Local,
};
/// The devices seen in each encrypted conversation, so a new one is
/// announced: `room=id id id` lines.
pub const DEVICES: Key = Key {
    name: "chat.devices",
    kind: Kind::Local,
};
/// Desktop notifications while the tab is hidden: "on" or "off".
pub const NOTIFY: Key = Key {
    name: "chat.notify",
    kind: Kind::Local,
};
/// A sound while the tab is hidden: "on" or "off".
pub const SOUND: Key = Key {
    name: "chat.sound",
    kind: Kind::Local,
};

#[cfg(feature = "hydrate")]
fn store(kind: Kind) -> Option<web_sys::Storage> {
    let window = web_sys::window()?;
    match kind {
        Kind::Local => window.local_storage(),
        Kind::Session => window.session_storage(),
    }
    .ok()?
}

/// The stored text under `key`, if any.
fn read(key: Key) -> Option<String> {
    #[cfg(feature = "hydrate")]
    return store(key.kind)?.get_item(key.name).ok()?;
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (key.name, key.kind);
        None
    }
}

/// Stores `value` under `key`; a browser that refuses (private mode, full
/// quota) just does not remember.
fn write(key: Key, value: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(store) = store(key.kind) {
        let _ = store.set_item(key.name, value);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}

/// The nickname as last typed; callers parse it, as it may predate today's rules.
pub fn nick() -> Option<String> {
    read(NICK)
}

pub fn set_nick(nick: &str) {
    write(NICK, nick);
}

/// This tab's session id, created on first use and kept across reloads.
pub fn session() -> String {
    if let Some(id) = read(SESSION) {
        return id;
    }
    let id = crate::socket::random_id();
    write(SESSION, &id);
    id
}

/// The saved joined rooms; names that no longer parse are dropped.
pub fn rooms() -> Vec<RoomName> {
    read(ROOMS)
        .unwrap_or_default()
        .split(',')
        .filter_map(|name| RoomName::parse(name).ok())
        .collect()
}

pub fn set_rooms(list: &[RoomName]) {
    let names: Vec<&str> = list.iter().map(RoomName::as_str).collect();
    write(ROOMS, &names.join(","));
}

/// The saved direct messages: each room with the other person's name.
pub fn direct() -> Vec<(RoomName, Nick)> {
    read(DIRECT)
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| {
            let (room, with) = pair.split_once(':')?;
            Some((RoomName::parse(room).ok()?, Nick::parse(with).ok()?))
        })
        .collect()
}

pub fn set_direct(list: &[(RoomName, Nick)]) {
    let pairs: Vec<String> = list.iter().map(|(r, n)| format!("{r}:{n}")).collect();
    write(DIRECT, &pairs.join(","));
}

/// The device ids last seen in `room` (`None`: never looked).
pub fn seen_devices(room: &RoomName) -> Option<Vec<String>> {
    let all = read(DEVICES)?;
    let line = all
        .lines()
        .find_map(|l| l.strip_prefix(room.as_str())?.strip_prefix('='))?;
    Some(line.split(' ').map(str::to_owned).collect())
}

pub fn set_seen_devices(room: &RoomName, ids: &[&str]) {
    let all = read(DEVICES).unwrap_or_default();
    let mut lines: Vec<String> = all
        .lines()
        .filter(|l| !l.starts_with(&format!("{room}=")))
        .map(str::to_owned)
        .collect();
    lines.push(format!("{room}={}", ids.join(" ")));
    write(DEVICES, &lines.join("\n"));
}

/// A toggle: on only if it was explicitly turned on.
pub fn flag(key: Key) -> bool {
    read(key).is_some_and(|v| v == "on")
}

pub fn set_flag(key: Key, on: bool) {
    write(key, if on { "on" } else { "off" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_where_browsers_already_keep_them() {
        let keys = [NICK, SESSION, ROOMS, DIRECT, DEVICES, NOTIFY, SOUND].map(|k| (k.name, k.kind));
        assert_eq!(
            keys,
            [
                ("chat.nick", Kind::Local),
                ("chat.session", Kind::Session),
                ("chat.rooms", Kind::Local),
                ("chat.direct", Kind::Local),
                ("chat.devices", Kind::Local),
                ("chat.notify", Kind::Local),
                ("chat.sound", Kind::Local),
            ]
        );
    }

    #[cfg(not(feature = "hydrate"))]
    #[test]
    fn the_server_remembers_nothing() {
        set_nick("sadia");
        set_flag(SOUND, true);
        assert_eq!(nick(), None);
        assert!(!flag(SOUND));
        assert!(rooms().is_empty());
        assert_eq!(session(), "");
    }
}
