//! Presence across servers: who holds which name in which room, whichever
//! server their connections are on (Redis bus only; one server alone decides
//! in its hub).
//!
//! Each room has a Redis hash `chat:CLUSTER:members:ROOM_ID` from name key to
//! `AUTHOR \t NICK \t SERVER,SERVER...`: the servers holding that person
//! there. A join *claims* the name (atomically, in a Lua script): new (it is
//! news: "joined"), already held by the same person elsewhere (a tab that
//! reconnected to another server, another browser: not news), or taken by
//! someone else (refused). A leave *releases* this server's hold; only the
//! last hold going is news ("left"). So a person moving between servers
//! (a rolling restart behind a proxy) is announced neither as gone nor back.
//!
//! Servers hold leases (`chat:CLUSTER:server:ID`, a key that expires unless renewed).
//! Every server renews its own and looks for expired ones; the one whose
//! `SREM` takes a dead server out of `chat:CLUSTER:servers` reaps it: removes its
//! holds in the rooms it held (`chat:CLUSTER:rooms-of:ID`) and announces "left" for
//! those nobody holds any more, exactly once. A server that finds its own
//! lease gone (Redis restarted empty) registers everything it holds again.
//!
//! When Redis cannot be reached, joins and leaves are decided by the hub
//! alone, as on one server, until it is back.

use crate::bus::Keys;
use std::time::Duration;
use tokio::sync::Mutex;

/// Longest a presence call may take before the hub decides alone.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Decide here: there is no shared presence, or it cannot be reached.
    Local,
    /// Nobody held the name: the person arrives.
    New,
    /// The same person holds it already (here or on another server).
    Held,
    /// Someone else holds it on another server.
    Taken,
    /// A guest held the account's registered name (`author`, shown as
    /// `nick`): the name is the account's now, and the guest is gone.
    TookFrom { author: String, nick: String },
}

/// A person a dead server held and nobody holds any more.
#[derive(Debug, Clone)]
pub struct Gone {
    pub room_id: i64,
    pub room: String,
    pub nick: String,
    pub author: String,
}

/// KEYS: the room's members, this server's rooms; ARGV: name key, author,
/// nick, server, `ROOM_ID ROOM` (so a reaper knows where to look).
const CLAIM: &str = r#"
redis.call('SADD', KEYS[2], ARGV[5])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\t' .. ARGV[3] .. '\t' .. ARGV[4])
  return 'new'
end
local author, nick, servers = string.match(cur, '^([^\t]*)\t([^\t]*)\t(.*)$')
if author ~= ARGV[2] then
  -- An account takes its registered name from a guest holding it.
  if string.sub(ARGV[2], 1, 8) == 'account:' and string.sub(author, 1, 6) == 'guest:' then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\t' .. ARGV[3] .. '\t' .. ARGV[4])
    return 'took\t' .. author .. '\t' .. nick
  end
  return 'taken'
end
for s in string.gmatch(servers, '[^,]+') do
  if s == ARGV[4] then return 'held' end
end
redis.call('HSET', KEYS[1], ARGV[1], author .. '\t' .. ARGV[3] .. '\t' .. servers .. ',' .. ARGV[4])
return 'held'
"#;

/// Takes `server` out of the holds of the names in ARGV[2..] (all names when
/// none are given) whose author is ARGV[3] (any author when empty); returns
/// `author \t nick` of each name nobody holds any more.
const RELEASE: &str = r#"
local server, author_wanted = ARGV[1], ARGV[2]
local gone = {}
local fields
if #ARGV > 2 then
  fields = {}
  for i = 3, #ARGV do table.insert(fields, ARGV[i]) end
else
  fields = redis.call('HKEYS', KEYS[1])
end
for _, key in ipairs(fields) do
  local cur = redis.call('HGET', KEYS[1], key)
  if cur then
    local author, nick, servers = string.match(cur, '^([^\t]*)\t([^\t]*)\t(.*)$')
    if author_wanted == '' or author == author_wanted then
      local kept, found = {}, false
      for s in string.gmatch(servers, '[^,]+') do
        if s == server then found = true else table.insert(kept, s) end
      end
      if found then
        if #kept == 0 then
          redis.call('HDEL', KEYS[1], key)
          table.insert(gone, author .. '\t' .. nick)
        else
          redis.call('HSET', KEYS[1], key, author .. '\t' .. nick .. '\t' .. table.concat(kept, ','))
        end
      end
    end
  end
end
return gone
"#;

/// The names every server holds, shared through Redis.
pub struct SharedPresence {
    client: redis::Client,
    keys: Keys,
    server: String,
    /// How long this server's lease lasts unless renewed.
    lease: Duration,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
    claim: redis::Script,
    release: redis::Script,
}

impl SharedPresence {
    pub fn new(client: redis::Client, keys: Keys, server: String, lease: Duration) -> Self {
        Self {
            client,
            keys,
            server,
            lease,
            connection: Mutex::new(None),
            claim: redis::Script::new(CLAIM),
            release: redis::Script::new(RELEASE),
        }
    }

    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let mut held = self.connection.lock().await;
        if held.is_none() {
            *held =
                tokio::time::timeout(CALL_TIMEOUT, self.client.get_multiplexed_async_connection())
                    .await
                    .ok()
                    .and_then(Result::ok);
        }
        held.clone()
    }

    async fn forget_connection(&self) {
        *self.connection.lock().await = None;
    }

    /// Runs `call` with a connection and a deadline; `None` if Redis could
    /// not answer (the connection is then made afresh next time).
    async fn call<T, F>(
        &self,
        call: impl FnOnce(redis::aio::MultiplexedConnection) -> F,
    ) -> Option<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(CALL_TIMEOUT, call(conn)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) => {
                tracing::warn!(%err, "presence: Redis refused a call; deciding here");
                self.forget_connection().await;
                None
            }
            Err(_) => {
                tracing::warn!("presence: Redis did not answer in time; deciding here");
                self.forget_connection().await;
                None
            }
        }
    }

    /// How often the lease is renewed (and dead servers looked for).
    pub fn renew_every(&self) -> Duration {
        self.lease / 5
    }

    /// Claims `key` in room `room_id` for `author` (shown as `nick`).
    pub async fn claim(
        &self,
        room_id: i64,
        room: &str,
        key: &str,
        author: &str,
        nick: &str,
    ) -> Claim {
        let answer: Option<String> = self
            .call(|mut conn| async move {
                // (EVALSHA, loading the script the first time.)
                self.claim
                    .key(self.keys.members(room_id))
                    .key(self.keys.rooms_of(&self.server))
                    .arg(key)
                    .arg(author)
                    .arg(nick)
                    .arg(&self.server)
                    .arg(format!("{room_id} {room}"))
                    .invoke_async(&mut conn)
                    .await
            })
            .await;
        match answer.as_deref() {
            Some("new") => Claim::New,
            Some("held") => Claim::Held,
            Some("taken") => Claim::Taken,
            Some(took) => match took.strip_prefix("took\t").and_then(|t| t.split_once('\t')) {
                Some((author, nick)) => Claim::TookFrom {
                    author: author.to_owned(),
                    nick: nick.to_owned(),
                },
                None => Claim::Local,
            },
            None => Claim::Local,
        }
    }

    /// Gives up this server's hold of `key`; `Some(true)` when nobody holds
    /// it any more (news), `None` when Redis could not say.
    pub async fn release(&self, room_id: i64, key: &str, author: &str) -> Option<bool> {
        let gone: Vec<String> = self
            .call(|mut conn| async move {
                self.release
                    .key(self.keys.members(room_id))
                    .arg(&self.server)
                    .arg(author)
                    .arg(key)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Some(!gone.is_empty())
    }

    /// Everyone holding a name in the room, on any server: `(author, nick)`.
    pub async fn members(&self, room_id: i64) -> Option<Vec<(String, String)>> {
        let all: Vec<String> = self
            .call(|mut conn| async move {
                redis::cmd("HVALS")
                    .arg(self.keys.members(room_id))
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Some(
            all.iter()
                .filter_map(|v| {
                    let mut parts = v.splitn(3, '\t');
                    Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
                })
                .collect(),
        )
    }

    /// Renews this server's lease; `Some(true)` if it had lapsed (Redis lost
    /// everything: register again what this server holds).
    pub async fn renew(&self) -> Option<bool> {
        self.call(|mut conn| async move {
            let lease = self.keys.lease(&self.server);
            let (had,): (bool,) = redis::pipe()
                .cmd("EXISTS")
                .arg(&lease)
                .cmd("SET")
                .arg(&lease)
                .arg(1)
                .arg("PX")
                .arg(self.lease.as_millis() as u64)
                .ignore()
                .cmd("SADD")
                .arg(self.keys.servers())
                .arg(&self.server)
                .ignore()
                .query_async(&mut conn)
                .await?;
            Ok(!had)
        })
        .await
    }

    /// Finds servers whose lease expired, and for each one this server is
    /// the first to notice, takes their holds away: the people nobody holds
    /// any more are returned, to be announced as gone.
    pub async fn reap(&self) -> Vec<Gone> {
        let servers: Vec<String> = self
            .call(|mut conn| async move {
                redis::cmd("SMEMBERS")
                    .arg(self.keys.servers())
                    .query_async(&mut conn)
                    .await
            })
            .await
            .unwrap_or_default();
        let mut gone = vec![];
        for dead in servers.into_iter().filter(|s| *s != self.server) {
            let reaped: Option<Vec<Gone>> = self
                .call(|mut conn| {
                    let dead = dead.clone();
                    async move {
                        let alive: bool = redis::cmd("EXISTS")
                            .arg(self.keys.lease(&dead))
                            .query_async(&mut conn)
                            .await?;
                        if alive {
                            return Ok(vec![]);
                        }
                        // Only the server whose SREM removes it reaps it.
                        let mine: i64 = redis::cmd("SREM")
                            .arg(self.keys.servers())
                            .arg(&dead)
                            .query_async(&mut conn)
                            .await?;
                        if mine == 0 {
                            return Ok(vec![]);
                        }
                        let rooms_key = self.keys.rooms_of(&dead);
                        let rooms: Vec<String> = redis::cmd("SMEMBERS")
                            .arg(&rooms_key)
                            .query_async(&mut conn)
                            .await?;
                        let mut gone = vec![];
                        for entry in rooms {
                            let Some((id, room)) = entry.split_once(' ') else {
                                continue;
                            };
                            let Ok(room_id) = id.parse::<i64>() else {
                                continue;
                            };
                            let names: Vec<String> = self
                                .release
                                .key(self.keys.members(room_id))
                                .arg(&dead)
                                .arg("")
                                .invoke_async(&mut conn)
                                .await?;
                            for name in names {
                                if let Some((author, nick)) = name.split_once('\t') {
                                    gone.push(Gone {
                                        room_id,
                                        room: room.to_owned(),
                                        nick: nick.to_owned(),
                                        author: author.to_owned(),
                                    });
                                }
                            }
                        }
                        let _: () = redis::cmd("DEL")
                            .arg(&rooms_key)
                            .query_async(&mut conn)
                            .await?;
                        Ok(gone)
                    }
                })
                .await;
            if let Some(reaped) = reaped {
                if !reaped.is_empty() {
                    tracing::info!(server = %dead, people = reaped.len(), "a server's lease expired; its people are gone");
                }
                gone.extend(reaped);
            }
        }
        gone
    }
}
