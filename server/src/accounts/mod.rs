//! Accounts: signing up, logging in and out, the session behind the cookie,
//! and everything an account page does (password change, log out everywhere,
//! deletion, rooms closed to guests).
//!
//! - [`password`]: Argon2id hashing on blocking threads, a few at a time.
//! - [`cookie`]: the session token, its stored hash, the cookie's flags.
//! - [`throttle`]: attempt budgets per address and per username.
//! - [`sockets`]: the open WebSockets of each signed-in session, so signing
//!   out (or a password change) can close them.
//! - [`devices`]: the browsers an account reads encrypted conversations
//!   in, and removing one.
//! - [`pages`]: the server-rendered forms (no JavaScript needed, none sent).
//! - [`routes`]: the form handlers.
//!
//! Sessions are rows in the chat's own database (table `sessions`), found by
//! the hash of the cookie's token; a session ends when logged out, when idle
//! longer than `--session-idle-days`, or `--session-max-days` after login.
//! A new session (new token) is made at every login: a token planted before
//! login is worth nothing after it.

pub mod cookie;
pub mod devices;
pub mod pages;
pub mod password;
pub mod routes;
pub mod sockets;
pub mod throttle;

use crate::bus::{Control, Ended};
use crate::hub::{Evicted, RoomHub, nick_key};
use crate::store::{AccountRow, OwnedRoom, RoomFlag, RosterChange, Store, StoreError, now_ms};
use app::accounts::{PasswordError, UsernameError, check_password, parse_username};
use app::people::Nick;
use app::rooms::RoomName;
use cookie::CookiePolicy;
use password::{HashError, Hasher};
use sockets::SignedInSockets;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use throttle::Throttle;

/// A session's `seen_at` is written at most this often (not on every request).
const TOUCH_EVERY_MS: i64 = 60 * 60 * 1000;

use app::rooms::{PRIVATE_NAME_MAX_CHARS, PRIVATE_SUFFIX_CHARS};

/// Ten random lowercase letters and digits: about 51 bits, too many to find
/// a room by asking for addresses.
fn private_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; PRIVATE_SUFFIX_CHARS];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    // Modulo 36 favours the first four characters a little (256 = 7 * 36
    // + 4): a fraction of a bit less, which no guesser can use.
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// Changes an owner may make to their rooms at once (from one account, and
/// from one address), before one per `ROOM_CHANGES_EVERY` applies: plenty
/// for a person at the account page, not for a script in a loop.
const ROOM_CHANGES_BURST: u32 = 20;
const ROOM_CHANGES_EVERY: Duration = Duration::from_secs(2);

/// Why an account action was refused; the text is what the form shows.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Username(#[from] UsernameError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("That username is taken (names that look alike count as the same); pick another.")]
    NameTaken,
    /// The same answer for an unknown user and a wrong password.
    #[error("Wrong username or password.")]
    WrongCredentials,
    #[error("The current password is wrong.")]
    WrongPassword,
    #[error("Too many attempts; try again in {} seconds.", .0.as_secs().max(1))]
    TooManyAttempts(Duration),
    #[error("You are not signed in (or your session ended); log in again.")]
    NotSignedIn,
    #[error("No account is named {0}.")]
    NoSuchAccount(String),
    #[error("That device is not one of yours (or it was removed already).")]
    NoSuchDevice,
    #[error(transparent)]
    BadRoomName(app::rooms::RoomNameError),
    #[error("The server is busy; try again in a moment.")]
    Busy,
    #[error("Something went wrong on the server; try again in a moment.")]
    Internal(String),
}

impl From<StoreError> for AccountError {
    fn from(err: StoreError) -> Self {
        AccountError::Internal(err.to_string())
    }
}

impl From<HashError> for AccountError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy => AccountError::Busy,
            HashError::Failed(why) => AccountError::Internal(why),
        }
    }
}

/// A request's signed-in session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account_id: i64,
    pub name: Nick,
    /// The session's stored token hash: which session to end or keep.
    pub token_hash: String,
    /// When the session ends however much it is used (ms since the epoch):
    /// its sockets close then (see [`Accounts::purge_expired_sessions`]).
    pub expires_at: i64,
}

/// Session lifetimes, attempt budgets and cookie flags, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct AccountPolicy {
    pub cookie: CookiePolicy,
    pub idle: Duration,
    pub absolute: Duration,
    /// How often sessions ended outside this server are looked for.
    pub ended_sessions_check: Duration,
    pub hash_concurrency: usize,
    /// Attempts per address: a burst, then one every `address_every`.
    pub address_burst: u32,
    pub address_every: Duration,
    /// Attempts per username.
    pub username_burst: u32,
    pub username_every: Duration,
}

pub struct Accounts {
    /// Rooms' settings and the sockets in them (closing a room to guests).
    hub: Arc<RoomHub>,
    /// Accounts and sessions: the store itself, not through the hub.
    store: Store,
    hasher: Hasher,
    per_address: Throttle,
    /// A name's attempts from one address.
    per_username: Throttle,
    /// A name's attempts from everywhere: ten times looser, so that one
    /// address cannot lock its owner out, while many addresses still cannot
    /// guess at leisure.
    per_name_anywhere: Throttle,
    /// Owners' changes to their rooms (settings, moderators), per account
    /// and per address: each is told to every server and may send people
    /// out of a room, so a loop of them would be a flood.
    room_changes: Throttle,
    pub policy: AccountPolicy,
    pub sockets: Arc<SignedInSockets>,
}

/// Whether a name's comparison key is that of "deleted user", which deleted
/// accounts' messages show and nobody may take.
pub fn names_deleted_user(key: &str) -> bool {
    Nick::parse(crate::hub::DELETED_USER).is_ok_and(|d| nick_key(&d) == key)
}

impl Accounts {
    pub fn new(hub: Arc<RoomHub>, store: Store, policy: AccountPolicy) -> Arc<Self> {
        Arc::new(Self {
            store,
            hub,
            hasher: Hasher::new(policy.hash_concurrency),
            per_address: Throttle::new(policy.address_burst, policy.address_every),
            per_username: Throttle::new(policy.username_burst, policy.username_every),
            per_name_anywhere: Throttle::new(
                policy.username_burst.saturating_mul(10),
                policy.username_every / 10,
            ),
            room_changes: Throttle::new(ROOM_CHANGES_BURST, ROOM_CHANGES_EVERY),
            policy,
            sockets: Arc::default(),
        })
    }

    /// Counts a change an owner makes to one of their rooms, against the
    /// account's and the address's budgets.
    fn room_change(&self, ip: IpAddr, signed_in: &SignedIn) -> Result<(), AccountError> {
        let address = crate::peers::address_key(ip);
        self.room_changes
            .attempt(&format!("account {}", signed_in.account_id))
            .and_then(|()| self.room_changes.attempt(&format!("from {address}")))
            .map_err(AccountError::TooManyAttempts)
    }

    /// Counts a signup or login attempt against the address's and the
    /// name's budgets (a name is counted by its comparison key, so look-alike
    /// spellings share one budget).
    fn attempt(&self, ip: IpAddr, name_key: &str) -> Result<(), AccountError> {
        let address = crate::peers::address_key(ip).to_string();
        self.per_address
            .attempt(&address)
            .and_then(|()| {
                self.per_username
                    .attempt(&format!("{name_key} from {address}"))
            })
            .and_then(|()| self.per_name_anywhere.attempt(name_key))
            .map_err(AccountError::TooManyAttempts)
    }

    /// Registers `username` and signs the new account in; the new session's
    /// cookie token is returned.
    pub async fn sign_up(
        &self,
        ip: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<(SignedIn, String), AccountError> {
        let name = parse_username(username)?;
        check_password(password)?;
        // Counted only once the input passed its rules: junk sign-ups spend
        // nobody's budget, nor fill the throttle with keys.
        let key = nick_key(&name);
        self.attempt(ip, &key)?;
        if names_deleted_user(&key) {
            return Err(AccountError::NameTaken);
        }
        let store = &self.store;
        if store.account_by_key(&key).await?.is_some() {
            return Err(AccountError::NameTaken);
        }
        let hash = self.hasher.hash(password.to_owned()).await?;
        let id = store
            .create_account(&name, &key, &hash)
            .await?
            .ok_or(AccountError::NameTaken)?;
        tracing::info!(account = id, "account created");
        self.start_session(id, name).await
    }

    /// Checks the password and starts a new session.
    pub async fn log_in(
        &self,
        ip: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<(SignedIn, String), AccountError> {
        // A name no nickname rule allows has no account: refused before it
        // counts (or costs a hash), so junk cannot fill the throttle.
        let Ok(nick) = Nick::parse(username) else {
            return Err(AccountError::WrongCredentials);
        };
        let key = nick_key(&nick);
        self.attempt(ip, &key)?;
        let account = self.store.account_by_key(&key).await?;
        let (id, name, hash) = match account {
            Some(AccountRow {
                id,
                name,
                password_hash,
            }) => (Some(id), Some(name), Some(password_hash)),
            None => (None, None, None),
        };
        let matches = self
            .hasher
            .verify(password.chars().take(1024).collect(), hash)
            .await?;
        match (matches, id, name) {
            (true, Some(id), Some(name)) => self.start_session(id, name).await,
            _ => Err(AccountError::WrongCredentials),
        }
    }

    async fn start_session(&self, id: i64, name: Nick) -> Result<(SignedIn, String), AccountError> {
        let (token, token_hash) =
            cookie::new_token().map_err(|e| AccountError::Internal(e.to_string()))?;
        self.store.create_session(&token_hash, id).await?;
        Ok((
            SignedIn {
                account_id: id,
                name,
                token_hash,
                expires_at: now_ms() + self.policy.absolute.as_millis() as i64,
            },
            token,
        ))
    }

    /// The session a request's `Cookie` header carries, if it is still valid.
    pub async fn signed_in(&self, cookies: Option<&str>) -> Result<Option<SignedIn>, StoreError> {
        let Some(token) = cookies.and_then(|c| self.policy.cookie.token(c)) else {
            return Ok(None);
        };
        let token_hash = cookie::token_hash(token);
        let store = &self.store;
        let Some(session) = store.session(&token_hash).await? else {
            return Ok(None);
        };
        let now = now_ms();
        let expired = now - session.seen_at > self.policy.idle.as_millis() as i64
            || now - session.created_at > self.policy.absolute.as_millis() as i64;
        if expired {
            store.delete_session(&token_hash).await?;
            return Ok(None);
        }
        if now - session.seen_at > TOUCH_EVERY_MS {
            store.touch_session(&token_hash).await?;
        }
        Ok(Some(SignedIn {
            account_id: session.account_id,
            name: session.name,
            token_hash,
            expires_at: session.created_at + self.policy.absolute.as_millis() as i64,
        }))
    }

    /// Whether the session still exists (a logout may land between a
    /// socket's upgrade and its registration).
    pub async fn still_signed_in(&self, signed_in: &SignedIn) -> bool {
        matches!(self.store.session(&signed_in.token_hash).await, Ok(Some(_)))
    }

    /// Ends this session and closes its sockets.
    pub async fn log_out(&self, signed_in: &SignedIn) -> Result<(), AccountError> {
        self.store.delete_session(&signed_in.token_hash).await?;
        self.end_sockets(
            signed_in.account_id,
            Ended::Session(signed_in.token_hash.clone()),
        );
        Ok(())
    }

    /// Ends every session of the account (this one too) and closes their sockets.
    pub async fn log_out_everywhere(&self, signed_in: &SignedIn) -> Result<(), AccountError> {
        self.store
            .delete_sessions(signed_in.account_id, None)
            .await?;
        self.end_sockets(signed_in.account_id, Ended::All);
        Ok(())
    }

    /// Closes the sockets of ended sessions, on this server and the others.
    fn end_sockets(&self, account_id: i64, ended: Ended) {
        self.sockets.close(account_id, &ended);
        self.hub
            .bus()
            .tell(&Control::SessionsEnded { account_id, ended });
    }

    /// Opens or closes a room to guests on this server and the others (the
    /// store already holds the setting).
    async fn apply_accounts_only(&self, room: &RoomName, on: bool) {
        self.hub.set_accounts_only(room, on).await;
        self.hub.bus().tell(&Control::AccountsOnly {
            room: room.clone(),
            on,
        });
    }

    /// Applies what other servers say about sessions and rooms to this one's
    /// sockets and rooms (several servers only).
    pub fn follow_other_servers(self: &Arc<Self>) {
        let Some(mut told) = self.hub.bus().told() else {
            return;
        };
        let accounts = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let control = match told.recv().await {
                    Ok(control) => control,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "fell behind other servers' control messages");
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let Some(accounts) = accounts.upgrade() else {
                    return;
                };
                match control {
                    Control::SessionsEnded { account_id, ended } => {
                        accounts.sockets.close(account_id, &ended);
                    }
                    Control::AccountsOnly { room, on } => {
                        accounts.hub.set_accounts_only(&room, on).await;
                    }
                    Control::QuietNotices { room, on } => {
                        accounts.hub.set_quiet_notices(&room, on).await;
                    }
                    Control::NameTaken { room, key } => {
                        accounts.hub.name_taken(&room, &key).await;
                    }
                    Control::Invited {
                        room,
                        account_id,
                        with,
                    } => {
                        accounts.tell_invited(&room, account_id, with);
                    }
                    Control::KeysChanged { room, account_id } => {
                        accounts.tell_keys_changed(&room, account_id);
                    }
                    // The assistant follows these itself.
                    Control::StopAssistant { .. } => {}
                    Control::NoLongerMember { room, account_id } => {
                        let author = crate::store::Author::Account(account_id);
                        let why = Evicted::NoLongerMember;
                        accounts.hub.send_out_author(&room, &author, why).await;
                    }
                    Control::SentOut {
                        room,
                        author,
                        banned,
                    } => {
                        if let Some(author) = crate::store::Author::from_column(&author) {
                            let why = if banned {
                                Evicted::Banned
                            } else {
                                Evicted::Removed
                            };
                            accounts.hub.send_out_author(&room, &author, why).await;
                        }
                    }
                }
            }
        });
    }

    async fn check_current(&self, signed_in: &SignedIn, current: &str) -> Result<(), AccountError> {
        let account = self
            .store
            .account_by_id(signed_in.account_id)
            .await?
            .ok_or(AccountError::NotSignedIn)?;
        let matches = self
            .hasher
            .verify(
                current.chars().take(1024).collect(),
                Some(account.password_hash),
            )
            .await?;
        if matches {
            Ok(())
        } else {
            Err(AccountError::WrongPassword)
        }
    }

    /// Changes the password; every other session ends and its sockets close
    /// (whoever else knew the old password is out), this one stays.
    pub async fn change_password(
        &self,
        ip: IpAddr,
        signed_in: &SignedIn,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        self.attempt(ip, &nick_key(&signed_in.name))?;
        self.check_current(signed_in, current).await?;
        check_password(new)?;
        let hash = self.hasher.hash(new.to_owned()).await?;
        let store = &self.store;
        store.set_password(signed_in.account_id, &hash).await?;
        store
            .delete_sessions(signed_in.account_id, Some(&signed_in.token_hash))
            .await?;
        self.end_sockets(
            signed_in.account_id,
            Ended::AllBut(signed_in.token_hash.clone()),
        );
        tracing::info!(account = signed_in.account_id, "password changed");
        Ok(())
    }

    /// Deletes the account after checking its password; its messages stay,
    /// shown as "deleted user", and its name is free again.
    pub async fn delete(
        &self,
        ip: IpAddr,
        signed_in: &SignedIn,
        password: &str,
    ) -> Result<(), AccountError> {
        self.attempt(ip, &nick_key(&signed_in.name))?;
        self.check_current(signed_in, password).await?;
        let store = &self.store;
        let closed: Vec<RoomName> = store
            .owned_rooms(signed_in.account_id)
            .await?
            .into_iter()
            .filter(|r| r.accounts_only)
            .map(|r| r.name)
            .collect();
        store
            .delete_account(signed_in.account_id, crate::hub::DELETED_USER)
            .await?;
        // With no owner left to open them again, its rooms open to guests.
        for room in &closed {
            self.apply_accounts_only(room, false).await;
        }
        // After the delete: a tab that reloads at once finds no session.
        self.end_sockets(signed_in.account_id, Ended::All);
        tracing::info!(account = signed_in.account_id, "account deleted");
        Ok(())
    }

    /// The account's own data as JSON ("Download my data"). Each download
    /// reads all the account's messages, so it counts against the same
    /// budget as changes to its rooms.
    pub async fn data(&self, ip: IpAddr, signed_in: &SignedIn) -> Result<String, AccountError> {
        self.room_change(ip, signed_in)?;
        let data = self
            .store
            .account_data(signed_in.account_id)
            .await?
            .ok_or(AccountError::NotSignedIn)?;
        serde_json::to_string_pretty(&data).map_err(|e| AccountError::Internal(e.to_string()))
    }

    pub async fn owned_rooms(&self, signed_in: &SignedIn) -> Result<Vec<OwnedRoom>, AccountError> {
        let store = &self.store;
        let mut rooms = store.owned_rooms(signed_in.account_id).await?;
        for room in &mut rooms {
            room.moderators = store.moderators(&room.name).await?;
            if room.name.is_private() {
                let roster = store.members(&room.name).await?;
                room.members = roster.members.into_iter().map(|m| m.nick).collect();
            }
        }
        Ok(rooms)
    }

    /// The private rooms the signed-in person was let into (their own too),
    /// and their direct messages.
    pub async fn private_rooms(
        &self,
        signed_in: &SignedIn,
    ) -> Result<Vec<app::rooms::PrivateRoom>, AccountError> {
        Ok(self.store.private_rooms(signed_in.account_id).await?)
    }

    /// Names (or unnames) `name` a moderator of `room`, which the signed-in
    /// person must own.
    pub async fn set_moderator(
        &self,
        ip: IpAddr,
        signed_in: &SignedIn,
        room: &RoomName,
        name: &Nick,
        on: bool,
    ) -> Result<RosterChange, AccountError> {
        self.room_change(ip, signed_in)?;
        let key = nick_key(name);
        Ok(self
            .store
            .set_moderator(room, signed_in.account_id, &key, on)
            .await?)
    }

    /// Makes a private room called `name`, owned by the signed-in person,
    /// its first member. Its address is `~name-` and a random suffix: a
    /// name is never "taken", so making one tells nobody which private
    /// rooms exist (every other path answers for one that does as for one
    /// that does not), and nobody can guess the address either.
    pub async fn create_private_room(
        &self,
        ip: IpAddr,
        signed_in: &SignedIn,
        name: &str,
    ) -> Result<RoomName, AccountError> {
        let name = name.trim().trim_start_matches(app::rooms::PRIVATE_MARK);
        RoomName::parse(name).map_err(AccountError::BadRoomName)?;
        if name.len() > PRIVATE_NAME_MAX_CHARS {
            return Err(AccountError::BadRoomName(
                app::rooms::RoomNameError::TooLong,
            ));
        }
        self.room_change(ip, signed_in)?;
        // 36^10 suffixes: a second try is already a curiosity.
        for _ in 0..3 {
            let room = RoomName::private(&format!("{name}-{}", private_suffix()))
                .map_err(AccountError::BadRoomName)?;
            let made = self
                .store
                .create_private_room(&room, signed_in.account_id)
                .await?;
            if made {
                return Ok(room);
            }
        }
        Err(AccountError::Internal(
            "three random private room names were all taken".into(),
        ))
    }

    /// Lets `name` into the signed-in person's private room, or takes them
    /// out: out, their connections there leave at once, on every server,
    /// and whatever the room says next is not for them.
    pub async fn set_member(
        &self,
        ip: IpAddr,
        signed_in: &SignedIn,
        room: &RoomName,
        name: &Nick,
        on: bool,
    ) -> Result<RosterChange, AccountError> {
        self.room_change(ip, signed_in)?;
        let key = nick_key(name);
        let change = self
            .store
            .set_member(room, signed_in.account_id, &key, on)
            .await?;
        if let (RosterChange::Done(account_id), true) = (change, on) {
            self.invite(room, account_id, None);
        }
        if let (RosterChange::Done(account_id), false) = (change, on) {
            let author = crate::store::Author::Account(account_id);
            self.hub
                .send_out_author(room, &author, Evicted::NoLongerMember)
                .await;
            self.hub.bus().tell(&Control::NoLongerMember {
                room: room.clone(),
                account_id,
            });
        }
        Ok(change)
    }

    /// The direct message between the signed-in person and `name`, made if
    /// they have none (both people's sockets, on every server, hear of a
    /// new one); `None` when there is no such account, or it is theirs.
    pub async fn open_direct(
        &self,
        ip: IpAddr,
        signed_in: &SignedIn,
        name: &Nick,
    ) -> Result<Option<crate::store::DirectRoom>, AccountError> {
        self.room_change(ip, signed_in)?;
        // No dash: a private room's address always has one before its
        // suffix, so the two kinds never share an address.
        let fresh = RoomName::private(&format!("{}{}", private_suffix(), private_suffix()))
            .map_err(AccountError::BadRoomName)?;
        let key = nick_key(name);
        let direct = self
            .store
            .open_direct(signed_in.account_id, &key, &fresh)
            .await?;
        if let Some(direct) = direct.as_ref().filter(|d| d.made) {
            let me = signed_in.name.clone();
            self.invite(&direct.room, direct.with_id, Some(me));
            self.invite(
                &direct.room,
                signed_in.account_id,
                Some(direct.with.clone()),
            );
        }
        Ok(direct)
    }

    /// Tells every socket of the account, on every server, that it is in
    /// `room` now.
    fn invite(&self, room: &RoomName, account_id: i64, with: Option<Nick>) {
        self.tell_invited(room, account_id, with.clone());
        self.hub.bus().tell(&Control::Invited {
            room: room.clone(),
            account_id,
            with,
        });
    }

    /// Tells every socket of the account, on every server, that its keys for
    /// the encrypted conversation `room` changed.
    pub fn keys_changed(&self, room: &RoomName, account_id: i64) {
        self.tell_keys_changed(room, account_id);
        self.hub.bus().tell(&Control::KeysChanged {
            room: room.clone(),
            account_id,
        });
    }

    fn tell_keys_changed(&self, room: &RoomName, account_id: i64) {
        let frame = app::protocol::ServerFrame::KeysChanged { room: room.clone() };
        self.sockets
            .tell(account_id, &crate::connection::reader::frame(&frame));
    }

    /// Tells the account's sockets on this server that it was let into `room`.
    fn tell_invited(&self, room: &RoomName, account_id: i64, with: Option<Nick>) {
        let frame = app::protocol::ServerFrame::Invited {
            room: room.clone(),
            with,
        };
        self.sockets
            .tell(account_id, &crate::connection::reader::frame(&frame));
    }

    /// Turns a setting of one of the account's rooms on or off (closed to
    /// guests, notices hidden), in the store, on this server and on the
    /// others; false if the room is not theirs.
    pub async fn set_room_flag(
        &self,
        ip: IpAddr,
        signed_in: &SignedIn,
        room: &RoomName,
        flag: RoomFlag,
        on: bool,
    ) -> Result<bool, AccountError> {
        self.room_change(ip, signed_in)?;
        let changed = self
            .store
            .set_room_flag(room, signed_in.account_id, flag, on)
            .await?;
        if changed {
            match flag {
                RoomFlag::AccountsOnly => self.apply_accounts_only(room, on).await,
                RoomFlag::QuietNotices => {
                    self.hub.set_quiet_notices(room, on).await;
                    self.hub.bus().tell(&Control::QuietNotices {
                        room: room.clone(),
                        on,
                    });
                }
                // Read from the store at each question: nothing to tell.
                RoomFlag::AssistantOff => {}
            }
        }
        Ok(changed)
    }

    /// Sets how many days `room`'s messages are kept (`None`: for ever, or
    /// as long as the server's `--retention-days`); whether the account owns it.
    pub async fn set_retention(
        &self,
        ip: IpAddr,
        signed_in: &SignedIn,
        room: &RoomName,
        days: Option<u32>,
    ) -> Result<bool, AccountError> {
        self.room_change(ip, signed_in)?;
        Ok(self
            .store
            .set_retention(room, signed_in.account_id, days)
            .await?)
    }

    /// Deletes expired sessions now and then, for as long as the server runs.
    pub fn purge_expired_sessions(self: &Arc<Self>) {
        let accounts = Arc::downgrade(self);
        tokio::spawn(async move {
            let check_every = accounts.upgrade().map_or(EXPIRY_CHECK_EVERY, |a| {
                (a.policy.absolute / 2).clamp(Duration::from_millis(250), EXPIRY_CHECK_EVERY)
            });
            let mut every = tokio::time::interval(check_every);
            let mut ticks: u64 = 0;
            loop {
                every.tick().await;
                let Some(accounts) = accounts.upgrade() else {
                    return;
                };
                // A session that reached its end by time closes its sockets,
                // as a logout would (they learn it with close code 4003).
                let closed = accounts.sockets.close_expired(now_ms());
                if closed > 0 {
                    tracing::info!(sockets = closed, "sockets of expired sessions closed");
                }
                ticks += 1;
                if ticks % PURGE_EVERY_TICKS != 1 {
                    continue;
                }
                // An open socket is a session in use: not purged as idle.
                for (_, token_hash) in accounts.sockets.open_sessions() {
                    if let Err(err) = accounts.store.touch_session(&token_hash).await {
                        tracing::warn!(%err, "could not keep an open session alive");
                    }
                }
                let now = now_ms();
                let idle = now - accounts.policy.idle.as_millis() as i64;
                let old = now - accounts.policy.absolute.as_millis() as i64;
                match accounts.store.purge_sessions(idle, old).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sessions = n, "expired sessions deleted"),
                    Err(err) => tracing::warn!(%err, "could not delete expired sessions"),
                }
            }
        });
    }
}

impl Accounts {
    /// Closes, now and then for as long as the server runs, the sockets of
    /// sessions that are gone from the database without this server or the
    /// bus being told: ended by `server admin` (a reset password, a deleted
    /// account), which may run with no bus at all.
    pub fn close_ended_sessions(self: &Arc<Self>) {
        let accounts = Arc::downgrade(self);
        tokio::spawn(async move {
            let every = accounts
                .upgrade()
                .map_or(EXPIRY_CHECK_EVERY, |a| a.policy.ended_sessions_check);
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(accounts) = accounts.upgrade() else {
                    return;
                };
                // One query per batch of open sessions.
                let open = accounts.sockets.open_sessions();
                for batch in open.chunks(SESSIONS_CHECKED_AT_ONCE) {
                    let hashes: Vec<String> = batch.iter().map(|(_, hash)| hash.clone()).collect();
                    let existing: std::collections::HashSet<String> =
                        match accounts.store.sessions_that_exist(&hashes).await {
                            Ok(existing) => existing.into_iter().collect(),
                            Err(err) => {
                                tracing::warn!(%err, "could not check sessions");
                                break;
                            }
                        };
                    for (account_id, token_hash) in batch {
                        if !existing.contains(token_hash) {
                            tracing::info!(
                                account = account_id,
                                "a session ended elsewhere: its sockets close"
                            );
                            accounts
                                .sockets
                                .close(*account_id, &Ended::Session(token_hash.clone()));
                        }
                    }
                }
            }
        });
    }
}

/// Open sessions looked up in one query by the ended-sessions sweep.
const SESSIONS_CHECKED_AT_ONCE: usize = 500;

/// How often sockets of sessions past their lifetime are looked for (in
/// memory: no database call).
const EXPIRY_CHECK_EVERY: Duration = Duration::from_secs(15);

/// Expired sessions are deleted from the database every this many checks
/// (about once an hour).
const PURGE_EVERY_TICKS: u64 = 240;
