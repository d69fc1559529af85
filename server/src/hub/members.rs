//! Members: who holds which name in a room, joining (the name claimed on
//! every server first), leaving (at once, or after the reconnect grace), and
//! the notices each change stores.

use super::*;

pub(super) struct Member {
    pub(super) nick: Nick,
    pub(super) author: Author,
    /// The connections in the room under this name: one for a guest, any
    /// number for an account.
    pub(super) holders: Vec<Holder>,
}

pub(super) struct Holder {
    pub(super) conn: ConnId,
    /// Tells the connection when a newer one takes its place.
    pub(super) evictions: Option<Evictions>,
}

impl Member {
    pub(super) fn held_by(&self, conn: ConnId) -> bool {
        self.holders.iter().any(|h| h.conn == conn)
    }

    /// Tells every connection holding this place that it lost it.
    pub(super) fn send_out(&self, room: &RoomName, why: Evicted) {
        for holder in &self.holders {
            if let Some(evictions) = &holder.evictions {
                evictions.send(Eviction {
                    room: room.clone(),
                    why,
                });
            }
        }
    }

    pub(super) fn person(&self) -> Person {
        Person {
            nick: self.nick.clone(),
            account: self.author.is_account(),
        }
    }
}

/// A member gone from a room on this server: announced already, or (with
/// several servers) not yet known to be news.
pub(super) enum Departure {
    /// Said now (its commit, to await) or held by the desk.
    Announced(Option<Commit>),
    Unsure {
        key: String,
        member: Member,
    },
}

/// Who joins which room, as [`RoomHub::join`] was asked.
pub(super) struct Arrival<'a> {
    pub(super) name: &'a RoomName,
    pub(super) nick: &'a Nick,
    /// The nickname's [`nick_key`].
    pub(super) key: String,
    pub(super) author: &'a Author,
    /// The account that would own the room if this join creates it.
    pub(super) creator: Option<i64>,
    pub(super) conn: ConnId,
}

/// What a connection gets for joining.
pub struct Joining {
    pub room: Arc<Room>,
    /// `None` when this connection was already in the room: it keeps its feed.
    pub feed: Option<Subscription<Broadcast>>,
    pub online: Vec<Person>,
    pub head: Seq,
}

impl RoomHub {
    /// Puts `nick` in the room for connection `conn`, written as `author`.
    ///
    /// The same guest session on another connection (a reload, a reconnect)
    /// takes the nickname over silently; another connection of the same
    /// account joins it; anyone else gets [`HubError::NickInUse`]. A guest
    /// cannot take a registered name, nor enter a room closed to guests.
    /// Only a real arrival is announced with a "joined" entry, and only if
    /// `may_announce` (the joiner's budget of announced joins) allows it.
    pub async fn join(
        &self,
        name: &RoomName,
        nick: &Nick,
        author: &Author,
        conn: ConnId,
        evictions: Evictions,
        may_announce: &mut (dyn FnMut() -> Result<(), Duration> + Send),
    ) -> Result<Joining, HubError> {
        let key = nick_key(nick);
        let creator = self.may_create(nick, &key, author).await?;
        // With several servers, the name is claimed across all of them first.
        let (claim, everywhere) = match &self.presence {
            None => (Claim::Local, None),
            Some(presence) => {
                let room = self.room(name, creator).await?;
                let column = author.column();
                let claim = presence
                    .claim(room.id, name.as_str(), &key, &column, nick.as_str())
                    .await;
                if claim == Claim::Taken {
                    return Err(HubError::NickInUse);
                }
                if let Claim::TookFrom { .. } = claim {
                    // Wherever the guest is, it leaves (here: in join_here).
                    self.bus.tell(&Control::NameTaken {
                        room: name.clone(),
                        key: key.clone(),
                    });
                }
                (claim, presence.members(room.id).await)
            }
        };
        let arrival = Arrival {
            name,
            nick,
            key,
            author,
            creator,
            conn,
        };
        let new = claim == Claim::New;
        let joined = self
            .join_here(&arrival, evictions, may_announce, claim, everywhere)
            .await;
        if joined.is_err()
            && new
            && let Some(presence) = &self.presence
            && let Ok(room) = self.room(name, creator).await
        {
            presence
                .release(room.id, &arrival.key, &author.column())
                .await;
        }
        joined
    }

    /// [`RoomHub::join`] once the name is claimed (or there is no one else to
    /// ask): `claim` says whether the arrival is news; `everywhere` is who is
    /// in the room on every server, `(author, nick)`.
    pub(super) async fn join_here(
        &self,
        arrival: &Arrival<'_>,
        evictions: Evictions,
        may_announce: &mut (dyn FnMut() -> Result<(), Duration> + Send),
        claim: Claim,
        everywhere: Option<Vec<(String, String)>>,
    ) -> Result<Joining, HubError> {
        let Arrival {
            name,
            nick,
            ref key,
            author,
            creator,
            conn,
        } = *arrival;
        // Notices said at once, awaited before the join is answered.
        let mut said = Vec::new();
        let joining = loop {
            let room = self.room(name, creator).await?;
            let mut members = room.members.lock().expect("member lock");
            if room.retired.load(Ordering::Acquire) {
                continue;
            }
            if !author.is_account() && room.accounts_only.load(Ordering::Acquire) {
                return Err(HubError::AccountsOnly(name.clone()));
            }
            let mut online: Vec<Person> = members.values().map(Member::person).collect();
            if let Some(everywhere) = &everywhere {
                online.extend(everywhere.iter().filter_map(|(author, nick)| {
                    let nick = Nick::parse(nick).ok()?;
                    let other = nick_key(&nick);
                    (other != *key && !members.contains_key(&other)).then(|| Person {
                        nick,
                        account: author.starts_with("account:"),
                    })
                }));
            }
            // With the departures not said yet: their notices take them off.
            room.desk.lock().expect("desk lock").as_said(&mut online);
            // In name order, as the browser lists them (it then only appends).
            online.sort_unstable_by(|a, b| a.nick.cmp(&b.nick));
            online.dedup_by(|a, b| a.nick == b.nick);
            let announce = match members.get_mut(key) {
                Some(member) if member.held_by(conn) => {
                    let head = room.feed.head();
                    drop(members);
                    return Ok(Joining {
                        room,
                        feed: None,
                        online,
                        head,
                    });
                }
                Some(member) if member.author == *author => {
                    let holder = Holder {
                        conn,
                        evictions: Some(evictions.clone()),
                    };
                    match author {
                        Author::Guest(_) => {
                            for old in member.holders.drain(..) {
                                if let Some(old) = old.evictions {
                                    old.send(Eviction {
                                        room: name.clone(),
                                        why: Evicted::Replaced,
                                    });
                                }
                            }
                        }
                        // Every tab of an account stays; one that was
                        // expected back after a restart is here now.
                        Author::Account(_) | Author::Bot(_) => {
                            member.holders.retain(|h| h.conn != RETURNING)
                        }
                    }
                    member.holders.push(holder);
                    member.nick = nick.clone();
                    false
                }
                // A guest holds the name an account has since registered:
                // the account comes in, the guest is sent out.
                Some(member) if author.is_account() && !member.author.is_account() => {
                    may_announce().map_err(HubError::TooManyJoins)?;
                    let guest = std::mem::replace(
                        member,
                        Member {
                            nick: nick.clone(),
                            author: author.clone(),
                            holders: vec![Holder {
                                conn,
                                evictions: Some(evictions.clone()),
                            }],
                        },
                    );
                    guest.send_out(name, Evicted::NameRegistered);
                    said.extend(self.notice(&room, &guest.nick, &guest.author, Change::Left));
                    true
                }
                Some(_) => return Err(HubError::NickInUse),
                None => {
                    may_announce().map_err(HubError::TooManyJoins)?;
                    // A guest on another server held the name this account
                    // took: announced as gone here, before the account.
                    if let Claim::TookFrom {
                        author: guest,
                        nick: shown,
                    } = &claim
                        && let (Some(guest), Ok(shown)) =
                            (Author::from_column(guest), Nick::parse(shown))
                    {
                        said.extend(self.notice(&room, &shown, &guest, Change::Left));
                    }
                    members.insert(
                        key.clone(),
                        Member {
                            nick: nick.clone(),
                            author: author.clone(),
                            holders: vec![Holder {
                                conn,
                                evictions: Some(evictions),
                            }],
                        },
                    );
                    room.online.store(members.len() as u32, Ordering::Relaxed);
                    // Held on another server already: not news.
                    claim != Claim::Held
                }
            };
            let (feed, head) = room.feed.subscribe();
            if announce {
                said.extend(self.notice(&room, nick, author, Change::Joined));
            }
            drop(members);
            let joining = Joining {
                room,
                feed: Some(feed),
                online,
                head,
            };
            break joining;
        };
        for commit in said {
            Self::stored(name.clone(), commit).await;
        }
        Ok(joining)
    }

    /// The account that would own a room `author` creates by speaking in it
    /// under `nick` (whose [`nick_key`] is `key`): theirs, or none for a
    /// guest, whose nickname must not be a registered username (nor the name
    /// deleted accounts' messages show).
    pub(super) async fn may_create(
        &self,
        nick: &Nick,
        key: &str,
        author: &Author,
    ) -> Result<Option<i64>, HubError> {
        if let Author::Account(id) = author {
            return Ok(Some(*id));
        }
        let deleted = Nick::parse(DELETED_USER).map(|n| nick_key(&n));
        if deleted.as_deref() == Ok(key) || self.store.account_by_key(key).await?.is_some() {
            return Err(HubError::NameReserved(nick.clone()));
        }
        Ok(None)
    }

    /// An account took its registered name in the room from a guest, on
    /// another server: this server's connections of that guest leave the
    /// room (the other server announced it).
    pub async fn name_taken(&self, name: &RoomName, key: &str) {
        let Some(room) = self.rooms.lock().await.get(name).cloned() else {
            return;
        };
        {
            let mut members = room.members.lock().expect("member lock");
            if members.get(key).is_none_or(|m| m.author.is_account()) {
                return;
            }
            let guest = members.remove(key).expect("just found");
            guest.send_out(name, Evicted::NameRegistered);
            room.online.store(members.len() as u32, Ordering::Relaxed);
        }
        self.retire_if_empty(&room).await;
    }

    /// Someone is no longer in the room on this server (the caller took them
    /// out under the member lock). On one server that is news at once, and
    /// the notice is enqueued now, so notices keep the order of the changes;
    /// with several, only if no other server holds the name (see
    /// [`RoomHub::announce`]).
    pub(super) fn depart(&self, room: &Arc<Room>, key: String, member: Member) -> Departure {
        match &self.presence {
            None => {
                Departure::Announced(self.notice(room, &member.nick, &member.author, Change::Left))
            }
            Some(_) => Departure::Unsure { key, member },
        }
    }

    /// Announces a departure if it is news: with several servers, once this
    /// server's hold on the name is released and nobody else's is left
    /// (someone who moved to another server is not gone).
    pub(super) async fn announce(&self, room: &Arc<Room>, departure: Departure) {
        let (key, member) = match departure {
            Departure::Announced(said) => {
                if let Some(commit) = said {
                    Self::stored(room.name.clone(), commit).await;
                }
                return;
            }
            Departure::Unsure { key, member } => (key, member),
        };
        let Some(presence) = self.presence.as_ref() else {
            return;
        };
        let gone = presence
            .release(room.id, &key, &member.author.column())
            .await
            .unwrap_or(true);
        if gone {
            // Under the member lock, as every notice is taken in.
            let said = {
                let _members = room.members.lock().expect("member lock");
                self.notice(room, &member.nick, &member.author, Change::Left)
            };
            if let Some(commit) = said {
                Self::stored(room.name.clone(), commit).await;
            }
        }
    }

    /// Takes connection `conn` out of `nick`'s place in the room; when it was
    /// the last one holding it, the person is gone, and that is announced. A
    /// connection replaced by a newer one of the same session leaves silently.
    pub async fn leave(&self, room: &Arc<Room>, nick: &Nick, conn: ConnId) -> Result<(), HubError> {
        let key = nick_key(nick);
        let departure = {
            let mut members = room.members.lock().expect("member lock");
            let Some(member) = members.get_mut(&key).filter(|m| m.held_by(conn)) else {
                return Ok(());
            };
            member.holders.retain(|h| h.conn != conn);
            if !member.holders.is_empty() {
                return Ok(());
            }
            let member = members.remove(&key).expect("just found");
            room.online.store(members.len() as u32, Ordering::Relaxed);
            self.depart(room, key, member)
        };
        self.announce(room, departure).await;
        // Not while a notice is held: a join meanwhile still finds this room
        // (and its feed) in memory.
        self.retire_if_empty(room).await;
        Ok(())
    }

    /// Leaves after the reconnect grace period, for a connection that dropped
    /// rather than left: if the same session joins again meanwhile, the member
    /// belongs to the new connection and nothing is announced. While the
    /// server stops, nobody leaves: the restart gives them the grace instead.
    pub fn leave_after_grace(self: &Arc<Self>, room: Arc<Room>, nick: Nick, conn: ConnId) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.grace).await;
            if hub.stopping.load(Ordering::Acquire) {
                return;
            }
            if let Err(err) = hub.leave(&room, &nick, conn).await {
                tracing::error!(%err, room = %room.name, "leave failed");
            }
        });
    }
}
