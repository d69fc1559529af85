//! Reading the chat over plain HTTP: the lobby's rooms, a room's history and
//! search, for the server functions and the pages rendered on the server.
//!
//! Every read is one requester's (see [`Requester`]) and asks
//! [`crate::access`] first: a banned person cannot page through a room's
//! history or search it, and a guest cannot read a room closed to guests.
//! Search has its own budget per address and a time limit, so that it cannot
//! crowd out the logins, joins and history pages sharing its database.

use crate::access::{Access, Act};
use crate::accounts::throttle::Throttle;
use crate::hub::RoomHub;
use crate::store::{Author, BackedUp, DevicePublished, EpochMade, Store};
use app::backend::{BackendError, ChatBackend};
use app::e2e::{BackedUpKey, DeviceId, DeviceKeys, KeyBackup, NewEpoch, RoomKeys, SharedKeys};
use app::messages::{HistoryPage, Seq};
use app::rooms::{PrivateRoom, RoomName, RoomSummary};
use app::search::{SEARCH_PAGE, SearchPage};
use futures::future::BoxFuture;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Who a plain HTTP request comes from, put in its extensions by the
/// router (`routes::who_is_reading`): `None` for someone the server cannot
/// tell apart from anyone else.
#[derive(Clone, Debug, Default)]
pub struct Requester {
    pub who: Option<Author>,
    pub ip: Option<IpAddr>,
    /// A signed-in requester's session and browser, which a device it
    /// publishes is then known by (see `accounts::devices`).
    pub device_use: crate::store::DeviceUse,
}

/// A search that takes longer is given up (the person is told to narrow it).
const SEARCH_DEADLINE: Duration = Duration::from_secs(2);

/// A budget of calls: a burst, then one every `every`.
#[derive(Clone, Copy, Debug)]
pub struct CallBudget {
    pub burst: u32,
    pub every: Duration,
}

/// What every read shares: the hub (for the lobby's rooms, which it holds
/// in memory), the store, the rules, the search budgets.
#[derive(Clone)]
pub struct Library {
    hub: Arc<RoomHub>,
    store: Store,
    access: Access,
    searches: Arc<SearchBudgets>,
    /// Calls to the end-to-end keys' endpoints, per account and per
    /// address: each may write several rows, and a loop of them would
    /// hold the store's write lock.
    key_calls: Arc<Throttle>,
    /// Tells an account's sockets that its keys changed.
    accounts: Arc<crate::accounts::Accounts>,
}

/// Per-address search budgets, keyed like every per-address limit
/// ([`crate::peers::address_key`]), kept as login budgets are (the least
/// recently used forgotten first when many addresses search at once).
struct SearchBudgets(Throttle);

impl SearchBudgets {
    fn allow(&self, ip: IpAddr) -> bool {
        self.0
            .attempt(&crate::peers::address_key(ip).to_string())
            .is_ok()
    }
}

/// Why a read did not happen; the text is for the reader.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Denied(#[from] crate::access::Denied),
    #[error("you are searching too fast; wait a moment")]
    TooManySearches,
    #[error("too many key requests; wait a moment")]
    TooManyKeyCalls,
    #[error("that search took too long; add a word or make it longer")]
    TooSlow,
    #[error("the server could not load this; try again")]
    Store(#[from] crate::store::StoreError),
    /// Devices and keys are an account's.
    #[error("log in to use end-to-end encryption")]
    NotSignedIn,
    #[error("that device id is another device's")]
    DeviceTaken,
    #[error("that device record is not one this account's browser made")]
    BadDevice,
    #[error(
        "this account has as many devices as it may ({}): remove an old one on the account page",
        app::e2e::DEVICES_PER_ACCOUNT
    )]
    TooManyDevices,
    #[error("at most {} keys at once", app::e2e::SHARED_KEYS_MAX)]
    TooManyKeys,
    #[error("that is not a key backup")]
    BadBackup,
    #[error("turn on key backup first")]
    NoBackup,
    /// Someone else made that epoch first, or the members' devices changed.
    #[error("the conversation's people or devices changed; try again")]
    KeysChanged,
}

impl ReadError {
    /// The HTTP status a refusal is sent with; `None` for the server's own
    /// failure (logged, and shown only as "could not load").
    pub fn status(&self) -> Option<axum::http::StatusCode> {
        use crate::access::Denied;
        use axum::http::StatusCode;
        Some(match self {
            ReadError::Denied(Denied::Store(_)) | ReadError::Store(_) => return None,
            ReadError::Denied(denied) => denied.http_status(),
            ReadError::TooManySearches | ReadError::TooManyKeyCalls => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ReadError::TooSlow => StatusCode::SERVICE_UNAVAILABLE,
            ReadError::NotSignedIn | ReadError::TooManyDevices => StatusCode::FORBIDDEN,
            ReadError::DeviceTaken | ReadError::KeysChanged => StatusCode::CONFLICT,
            ReadError::TooManyKeys | ReadError::BadBackup | ReadError::BadDevice => {
                StatusCode::BAD_REQUEST
            }
            ReadError::NoBackup => StatusCode::CONFLICT,
        })
    }
}

impl Library {
    pub fn new(
        hub: Arc<RoomHub>,
        store: Store,
        access: Access,
        searches: CallBudget,
        key_calls: CallBudget,
        accounts: Arc<crate::accounts::Accounts>,
    ) -> Self {
        Self {
            hub,
            store,
            access,
            accounts,
            searches: Arc::new(SearchBudgets(Throttle::new(searches.burst, searches.every))),
            key_calls: Arc::new(Throttle::new(key_calls.burst, key_calls.every)),
        }
    }

    /// The chat as `requester` may read it.
    pub fn reader(&self, requester: Requester) -> Reader {
        Reader {
            library: self.clone(),
            requester,
        }
    }
}

/// One requester's reads.
pub struct Reader {
    library: Library,
    requester: Requester,
}

impl Reader {
    /// Messages in `rooms` holding every one of `words`: the rooms the
    /// requester may not read are left out, and the search is refused over
    /// the address's budget or given up past its deadline.
    pub async fn search_rooms(
        &self,
        rooms: Vec<RoomName>,
        words: Vec<String>,
        page: u32,
    ) -> Result<SearchPage, ReadError> {
        if let Some(ip) = self.requester.ip
            && !self.library.searches.allow(ip)
        {
            return Err(ReadError::TooManySearches);
        }
        let mut readable = self
            .library
            .access
            .allowed(rooms, self.requester.who.as_ref(), Act::Read)
            .await?;
        // The server cannot read an encrypted conversation: the browser
        // searches what it has opened.
        readable.retain(|room| !room.is_private());
        if readable.is_empty() {
            return Ok(SearchPage {
                found: vec![],
                more: false,
            });
        }
        // One more than a page says whether another follows.
        let search =
            self.library
                .store
                .search(&readable, &words, page * SEARCH_PAGE, SEARCH_PAGE + 1);
        let mut found = match tokio::time::timeout(SEARCH_DEADLINE, search).await {
            Ok(Ok(found)) => found,
            // Every search connection busy for as long as the deadline: as
            // slow as a search that ran out of time, not a failure.
            Err(_) | Ok(Err(crate::store::StoreError::Query(sqlx::Error::PoolTimedOut))) => {
                return Err(ReadError::TooSlow);
            }
            Ok(Err(err)) => return Err(err.into()),
        };
        let more = found.len() > SEARCH_PAGE as usize;
        found.truncate(SEARCH_PAGE as usize);
        Ok(SearchPage { found, more })
    }

    /// The status a refusal to read `room` now is sent with; `None` when
    /// the requester may (a store failure reads as yes: the page itself
    /// will say it could not load).
    pub async fn refusal(&self, room: &RoomName) -> Option<axum::http::StatusCode> {
        match self
            .library
            .access
            .check(room, self.requester.who.as_ref(), Act::Read)
            .await
        {
            Ok(_) => None,
            Err(denied) => ReadError::from(denied).status(),
        }
    }

    /// A page of the room's history, if the requester may read it.
    pub async fn page(
        &self,
        room: RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<HistoryPage, ReadError> {
        self.library
            .access
            .check(&room, self.requester.who.as_ref(), Act::Read)
            .await?;
        let entries = self.library.store.page(&room, before, limit).await?;
        let at_start = entries.first().is_none_or(|e| e.seq == 1);
        let roster = match (room.is_private(), before) {
            (true, None) => Some(self.roster(&room).await?),
            _ => None,
        };
        Ok(HistoryPage {
            room,
            entries,
            at_start,
            roster,
        })
    }

    /// A private room's members, and whether the reader owns it.
    async fn roster(&self, room: &RoomName) -> Result<app::rooms::Roster, ReadError> {
        let roster = self.library.store.members(room).await?;
        let members = roster.members;
        let owner = members.iter().find(|m| m.owner);
        let yours = match (&self.requester.who, owner) {
            (Some(crate::store::Author::Account(id)), Some(owner)) => *id == owner.account_id,
            _ => false,
        };
        Ok(app::rooms::Roster {
            owner: owner.map(|m| m.nick.clone()),
            members: members.into_iter().map(|m| m.nick).collect(),
            yours,
            direct: roster.direct,
        })
    }
}

/// A read's failure as the server functions and pages pass it on: a
/// refusal with its reason and status, or a failure (its detail logged by
/// whoever shows it).
fn backend_error(err: ReadError) -> BackendError {
    match err.status() {
        Some(status) => BackendError::Refused {
            status,
            reason: err.to_string(),
        },
        None => BackendError::Failed(format!("{err:?}")),
    }
}

impl Reader {
    /// The signed-in account calling a key endpoint, within its budget and
    /// its address's.
    fn account(&self) -> Result<i64, ReadError> {
        let Some(Author::Account(id)) = self.requester.who else {
            return Err(ReadError::NotSignedIn);
        };
        let over = |key: String| self.library.key_calls.attempt(&key).is_err();
        if over(format!("account {id}"))
            || self
                .requester
                .ip
                .is_some_and(|ip| over(crate::peers::address_key(ip).to_string()))
        {
            return Err(ReadError::TooManyKeyCalls);
        }
        Ok(id)
    }

    pub async fn publish_device(&self, keys: DeviceKeys) -> Result<(), ReadError> {
        let account = self.account()?;
        let name = self.library.store.account_by_id(account).await?;
        let signed = name.is_some_and(|row| crate::accounts::devices::genuine(&row.name, &keys));
        if !keys.well_formed() || !signed {
            return Err(ReadError::BadDevice);
        }
        let used = &self.requester.device_use;
        match self
            .library
            .store
            .publish_device(account, &keys, used)
            .await?
        {
            DevicePublished::Known => Ok(()),
            DevicePublished::Added(rooms) => {
                // Its other devices (and it) fetch the keys again: they
                // hand it what they hold.
                for room in &rooms {
                    self.library.accounts.keys_changed(room, account);
                }
                Ok(())
            }
            DevicePublished::Taken => Err(ReadError::DeviceTaken),
            DevicePublished::TooMany => Err(ReadError::TooManyDevices),
        }
    }

    /// A room's keys for one of the reader's devices: a member's, else "No
    /// such room" as on every other path.
    pub async fn room_keys(&self, room: RoomName, device: DeviceId) -> Result<RoomKeys, ReadError> {
        let account = self.account()?;
        self.library
            .access
            .check(&room, self.requester.who.as_ref(), Act::Read)
            .await?;
        if !room.is_private() {
            return Err(crate::access::Denied::NoSuchRoom.into());
        }
        self.library
            .store
            .room_keys(&room, account, &device)
            .await?
            .ok_or(ReadError::DeviceTaken)
    }

    pub async fn share_keys(&self, shared: SharedKeys) -> Result<(), ReadError> {
        let account = self.account()?;
        if shared.keys.len() > app::e2e::SHARED_KEYS_MAX {
            return Err(ReadError::TooManyKeys);
        }
        match self.library.store.share_keys(account, &shared).await? {
            // Only news is told: a repeat would have every tab fetch again.
            Some(stored) if stored > 0 => {
                self.library.accounts.keys_changed(&shared.room, account);
                Ok(())
            }
            Some(_) => Ok(()),
            None => Err(crate::access::Denied::NoSuchRoom.into()),
        }
    }

    pub async fn start_key_backup(&self, salt: String, check: String) -> Result<(), ReadError> {
        let account = self.account()?;
        if !app::e2e::backup_well_formed(&salt, &check) {
            return Err(ReadError::BadBackup);
        }
        self.library
            .store
            .start_key_backup(account, &salt, &check)
            .await?;
        Ok(())
    }

    pub async fn back_up_keys(
        &self,
        room: RoomName,
        keys: Vec<BackedUpKey>,
    ) -> Result<(), ReadError> {
        let account = self.account()?;
        if keys.len() > app::e2e::SHARED_KEYS_MAX {
            return Err(ReadError::TooManyKeys);
        }
        if !keys.iter().all(BackedUpKey::well_formed) {
            return Err(ReadError::BadBackup);
        }
        // The room's rules first, as for its keys (`room_keys`): a member
        // may keep what they may read.
        self.library
            .access
            .check(&room, self.requester.who.as_ref(), Act::Read)
            .await?;
        match self
            .library
            .store
            .back_up_keys(account, &room, &keys)
            .await?
        {
            BackedUp::Done => Ok(()),
            BackedUp::NoBackup => Err(ReadError::NoBackup),
            BackedUp::NotMember => Err(crate::access::Denied::NoSuchRoom.into()),
        }
    }

    pub async fn new_epoch(&self, epoch: NewEpoch) -> Result<(), ReadError> {
        let account = self.account()?;
        self.library
            .access
            .check(&epoch.room, self.requester.who.as_ref(), Act::Post)
            .await?;
        match self.library.store.new_epoch(account, &epoch).await? {
            EpochMade::Done => {
                tracing::debug!(room = %epoch.room, epoch = epoch.epoch, "new key epoch");
                Ok(())
            }
            EpochMade::Conflict => Err(ReadError::KeysChanged),
            EpochMade::NotMember => Err(crate::access::Denied::NoSuchRoom.into()),
        }
    }
}

impl ChatBackend for Reader {
    fn publish_device(&self, keys: DeviceKeys) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            Reader::publish_device(self, keys)
                .await
                .map_err(backend_error)
        })
    }

    fn room_keys(
        &self,
        room: RoomName,
        device: DeviceId,
    ) -> BoxFuture<'_, Result<RoomKeys, BackendError>> {
        Box::pin(async move {
            Reader::room_keys(self, room, device)
                .await
                .map_err(backend_error)
        })
    }

    fn new_epoch(&self, epoch: NewEpoch) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move { Reader::new_epoch(self, epoch).await.map_err(backend_error) })
    }

    fn share_keys(&self, shared: SharedKeys) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            Reader::share_keys(self, shared)
                .await
                .map_err(backend_error)
        })
    }

    fn start_key_backup(
        &self,
        salt: String,
        check: String,
    ) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            Reader::start_key_backup(self, salt, check)
                .await
                .map_err(backend_error)
        })
    }

    fn back_up_keys(
        &self,
        room: RoomName,
        keys: Vec<BackedUpKey>,
    ) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            Reader::back_up_keys(self, room, keys)
                .await
                .map_err(backend_error)
        })
    }

    fn key_backup(&self) -> BoxFuture<'_, Result<Option<KeyBackup>, BackendError>> {
        Box::pin(async move {
            let account = self.account().map_err(backend_error)?;
            self.library
                .store
                .key_backup(account)
                .await
                .map_err(|e| backend_error(e.into()))
        })
    }

    fn private_rooms(&self) -> BoxFuture<'_, Result<Vec<PrivateRoom>, BackendError>> {
        Box::pin(async move {
            let Some(Author::Account(account)) = self.requester.who else {
                return Ok(vec![]);
            };
            self.library
                .store
                .private_rooms(account)
                .await
                .map_err(|e| BackendError::Failed(e.to_string()))
        })
    }

    fn rooms(
        &self,
        search: String,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RoomSummary>, BackendError>> {
        Box::pin(async move {
            self.library
                .hub
                .summaries(&search, limit)
                .await
                .map_err(|e| BackendError::Failed(e.to_string()))
        })
    }

    fn history(
        &self,
        room: RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'_, Result<HistoryPage, BackendError>> {
        Box::pin(async move { self.page(room, before, limit).await.map_err(backend_error) })
    }

    fn search(
        &self,
        rooms: Vec<RoomName>,
        words: Vec<String>,
        page: u32,
    ) -> BoxFuture<'_, Result<SearchPage, BackendError>> {
        Box::pin(async move {
            self.search_rooms(rooms, words, page)
                .await
                .map_err(backend_error)
        })
    }
}

/// The backend the server functions find in context: it reads as the
/// request's [`Requester`], which the router put in the request's extensions
/// (Leptos hands the request's parts to the server function's context).
pub struct PerRequest(pub Library);

impl PerRequest {
    fn reader(&self) -> Reader {
        let requester = leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Requester>().cloned())
            .unwrap_or_default();
        self.0.reader(requester)
    }
}

impl ChatBackend for PerRequest {
    fn publish_device(&self, keys: DeviceKeys) -> BoxFuture<'_, Result<(), BackendError>> {
        let reader = self.reader();
        Box::pin(async move { ChatBackend::publish_device(&reader, keys).await })
    }

    fn room_keys(
        &self,
        room: RoomName,
        device: DeviceId,
    ) -> BoxFuture<'_, Result<RoomKeys, BackendError>> {
        let reader = self.reader();
        Box::pin(async move { ChatBackend::room_keys(&reader, room, device).await })
    }

    fn new_epoch(&self, epoch: NewEpoch) -> BoxFuture<'_, Result<(), BackendError>> {
        let reader = self.reader();
        Box::pin(async move { ChatBackend::new_epoch(&reader, epoch).await })
    }

    fn share_keys(&self, shared: SharedKeys) -> BoxFuture<'_, Result<(), BackendError>> {
        let reader = self.reader();
        Box::pin(async move { ChatBackend::share_keys(&reader, shared).await })
    }

    fn start_key_backup(
        &self,
        salt: String,
        check: String,
    ) -> BoxFuture<'_, Result<(), BackendError>> {
        let reader = self.reader();
        Box::pin(async move { ChatBackend::start_key_backup(&reader, salt, check).await })
    }

    fn back_up_keys(
        &self,
        room: RoomName,
        keys: Vec<BackedUpKey>,
    ) -> BoxFuture<'_, Result<(), BackendError>> {
        let reader = self.reader();
        Box::pin(async move { ChatBackend::back_up_keys(&reader, room, keys).await })
    }

    fn key_backup(&self) -> BoxFuture<'_, Result<Option<KeyBackup>, BackendError>> {
        let reader = self.reader();
        Box::pin(async move { ChatBackend::key_backup(&reader).await })
    }

    fn private_rooms(&self) -> BoxFuture<'_, Result<Vec<PrivateRoom>, BackendError>> {
        let reader = self.reader();
        Box::pin(async move { reader.private_rooms().await })
    }

    fn rooms(
        &self,
        search: String,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RoomSummary>, BackendError>> {
        let reader = self.reader();
        Box::pin(async move { reader.rooms(search, limit).await })
    }

    fn history(
        &self,
        room: RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'_, Result<HistoryPage, BackendError>> {
        let reader = self.reader();
        Box::pin(async move { reader.history(room, before, limit).await })
    }

    fn search(
        &self,
        rooms: Vec<RoomName>,
        words: Vec<String>,
        page: u32,
    ) -> BoxFuture<'_, Result<SearchPage, BackendError>> {
        let reader = self.reader();
        Box::pin(async move { ChatBackend::search(&reader, rooms, words, page).await })
    }
}
