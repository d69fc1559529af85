//! Limits per address: how many connections one address may hold, and the
//! send and join budgets all of its connections share, so that opening more
//! sockets never buys more room to flood.
//!
//! [`Peers`] is consulted when a TCP connection is accepted ([`Peers::admit`],
//! which holds a [`PeerPass`] for as long as the connection lives) and by each
//! WebSocket for every frame and every announced join.
//!
//! Behind a reverse proxy every connection comes from the proxy's address;
//! [`Proxies`] names the proxies whose `X-Forwarded-For` is believed, and
//! the client they name is the address every limit counts. A proxy's own
//! connections count only towards the total; a WebSocket through it is
//! admitted again under its client's address ([`Peers::admit`] at the
//! upgrade).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Addresses remembered with no connection open; past this, those quiet
/// for [`FORGET_AFTER`] are forgotten.
const REMEMBERED: usize = 4096;
const FORGET_AFTER: Duration = Duration::from_secs(120);

/// A steady rate with a burst allowance.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
    burst: f64,
    per_sec: f64,
}

impl TokenBucket {
    pub fn new(burst: f64, per_sec: f64) -> Self {
        Self {
            tokens: burst,
            last: Instant::now(),
            burst,
            per_sec,
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
    }

    /// Takes one token if there is one.
    pub fn take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is there.
    pub fn wait(&self) -> Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        Duration::from_secs_f64(missing / self.per_sec)
    }

    pub fn full(&mut self) -> bool {
        self.refill();
        self.tokens >= self.burst
    }
}

/// The per-address limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct AddressLimits {
    /// Open TCP connections (pages and sockets alike), all addresses together.
    pub max_connections: usize,
    /// Open TCP connections from one address.
    pub max_per_address: u32,
    /// Frames per second all sockets of one address may send, and their burst.
    pub frame_burst: f64,
    pub frames_per_sec: f64,
    /// Announced joins ("NICK joined") per second from one address, and burst.
    pub join_burst: f64,
    pub joins_per_sec: f64,
}

struct Peer {
    connections: u32,
    frames: TokenBucket,
    joins: TokenBucket,
    seen: Instant,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the server is at its connection limit")]
    Full,
    #[error("this address has too many connections open")]
    AddressFull,
}

/// Who counts as one address: an IPv4 address (IPv4-mapped IPv6 included),
/// or an IPv6 /64, the block one subscriber usually holds whole.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

pub struct Peers {
    limits: AddressLimits,
    open: AtomicUsize,
    addresses: Mutex<HashMap<IpAddr, Peer>>,
}

/// One admitted connection; gives its place back when dropped.
pub struct PeerPass {
    peers: Arc<Peers>,
    /// `None` for a trusted proxy's connection: counted in all only.
    ip: Option<IpAddr>,
}

impl Drop for PeerPass {
    fn drop(&mut self) {
        self.peers.open.fetch_sub(1, Ordering::AcqRel);
        let Some(ip) = self.ip else { return };
        let mut addresses = self.peers.addresses.lock().expect("peer lock");
        if let Some(peer) = addresses.get_mut(&address_key(ip)) {
            peer.connections = peer.connections.saturating_sub(1);
            peer.seen = Instant::now();
        }
    }
}

impl Peers {
    pub fn new(limits: AddressLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: AtomicUsize::new(0),
            addresses: Mutex::new(HashMap::new()),
        })
    }

    /// Connections open right now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn with_peer<T>(&self, ip: IpAddr, f: impl FnOnce(&mut Peer) -> T) -> T {
        let ip = address_key(ip);
        let mut addresses = self.addresses.lock().expect("peer lock");
        if addresses.len() >= REMEMBERED && !addresses.contains_key(&ip) {
            addresses.retain(|_, p| {
                p.connections > 0
                    || p.seen.elapsed() < FORGET_AFTER
                    || !(p.frames.full() && p.joins.full())
            });
        }
        let limits = self.limits;
        let peer = addresses.entry(ip).or_insert_with(|| Peer {
            connections: 0,
            frames: TokenBucket::new(limits.frame_burst, limits.frames_per_sec),
            joins: TokenBucket::new(limits.join_burst, limits.joins_per_sec),
            seen: Instant::now(),
        });
        peer.seen = Instant::now();
        f(peer)
    }

    /// Admits a new connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<PeerPass, Refusal> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.limits.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Full);
        }
        let admitted = self.with_peer(ip, |peer| {
            if peer.connections >= self.limits.max_per_address {
                false
            } else {
                peer.connections += 1;
                true
            }
        });
        if !admitted {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::AddressFull);
        }
        Ok(PeerPass {
            peers: self.clone(),
            ip: Some(ip),
        })
    }

    /// Admits a connection from a trusted proxy: it carries many clients,
    /// so only the cap in all applies to it (each client's own count is
    /// taken where the client is known).
    pub fn admit_proxy(self: &Arc<Self>) -> Result<PeerPass, Refusal> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.limits.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Full);
        }
        Ok(PeerPass {
            peers: self.clone(),
            ip: None,
        })
    }

    /// Takes one frame from `ip`'s shared send budget.
    pub fn allow_frame(&self, ip: IpAddr) -> bool {
        self.with_peer(ip, |peer| peer.frames.take())
    }

    /// Takes one announced join from `ip`'s budget; otherwise how long until
    /// one is allowed.
    pub fn allow_join(&self, ip: IpAddr) -> Result<(), Duration> {
        self.with_peer(ip, |peer| {
            if peer.joins.take() {
                Ok(())
            } else {
                Err(peer.joins.wait())
            }
        })
    }
}

/// The reverse proxies (`--trusted-proxies`) whose word on the client's
/// address is taken.
#[derive(Debug, Clone, Default)]
pub struct Proxies(Arc<[ipnet::IpNet]>);

impl Proxies {
    pub fn new(blocks: &[ipnet::IpNet]) -> Self {
        Self(blocks.into())
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|block| block.contains(&ip))
    }

    /// The client a request from `peer` comes from: `peer` itself, unless it
    /// is a trusted proxy; then the nearest address in `X-Forwarded-For`
    /// that is not a trusted proxy. The proxy appends the address it saw, so
    /// walking from the right, past the trusted hops, ends at the client;
    /// anything further left was written by whoever sent the request and
    /// proves nothing. An entry there that is not an address (`unknown`)
    /// stops the walk at the proxy itself. `Forwarded` is not read: a proxy
    /// that appends to `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`)
    /// passes a client's own `Forwarded` header through untouched.
    pub fn client(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops: Vec<&str> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else {
                return peer;
            };
            hops.extend(value.split(','));
        }
        for hop in hops.into_iter().rev() {
            match forwarded_node(hop.trim()) {
                Some(ip) if self.trusts(ip) => continue,
                Some(ip) => return ip,
                None => return peer,
            }
        }
        peer
    }
}

/// An address as forwarding headers write it: `1.2.3.4`, `1.2.3.4:5678`,
/// `[2001:db8::1]:80`, `2001:db8::1`. Names (`unknown`, `_hidden`) are not
/// addresses.
fn forwarded_node(text: &str) -> Option<IpAddr> {
    let text = text.trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxies = Proxies::new(&["10.0.0.0/8".parse().unwrap()]);
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            proxies.client(proxy, &headers),
            "203.0.113.7".parse::<IpAddr>().unwrap(),
            "the address the proxy saw, not the one the sender wrote"
        );
        assert_eq!(proxies.client(stranger, &headers), stranger);
        let mut chain = axum::http::HeaderMap::new();
        chain.insert(
            "x-forwarded-for",
            "203.0.113.9, [2001:db8::7]:4711, 10.0.0.9".parse().unwrap(),
        );
        assert_eq!(
            proxies.client(proxy, &chain),
            "2001:db8::7".parse::<IpAddr>().unwrap(),
            "trusted hops are skipped"
        );
        let mut hidden = axum::http::HeaderMap::new();
        hidden.insert("x-forwarded-for", "6.6.6.6, unknown".parse().unwrap());
        assert_eq!(
            proxies.client(proxy, &hidden),
            proxy,
            "no walking past what is not an address"
        );
        let mut spoofed = axum::http::HeaderMap::new();
        spoofed.insert("forwarded", "for=6.6.6.6".parse().unwrap());
        spoofed.insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
        assert_eq!(
            proxies.client(proxy, &spoofed),
            "203.0.113.7".parse::<IpAddr>().unwrap(),
            "a Forwarded header the client wrote is not read"
        );
        assert_eq!(
            proxies.client(proxy, &axum::http::HeaderMap::new()),
            proxy,
            "no header: the proxy itself"
        );
    }

    fn limits() -> AddressLimits {
        AddressLimits {
            max_connections: 3,
            max_per_address: 2,
            frame_burst: 2.0,
            frames_per_sec: 0.001,
            join_burst: 1.0,
            joins_per_sec: 0.001,
        }
    }

    #[tokio::test]
    async fn connections_are_capped_per_address_and_in_all() {
        let peers = Peers::new(limits());
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = peers.admit(a).unwrap();
        let _second = peers.admit(a).unwrap();
        assert_eq!(peers.admit(a).err(), Some(Refusal::AddressFull));
        let _third = peers.admit(b).unwrap();
        assert_eq!(peers.admit(b).err(), Some(Refusal::Full));
        drop(first);
        assert!(
            peers.admit(a).is_ok(),
            "a closed connection frees its place"
        );
    }

    #[tokio::test]
    async fn an_ipv6_subscriber_block_is_one_address() {
        let peers = Peers::new(limits());
        let _a = peers.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        let _b = peers
            .admit("2001:db8:1:2:ffff::9".parse().unwrap())
            .unwrap();
        assert_eq!(
            peers.admit("2001:db8:1:2::77".parse().unwrap()).err(),
            Some(Refusal::AddressFull),
            "the same /64"
        );
        assert!(peers.admit("2001:db8:1:3::1".parse().unwrap()).is_ok());
    }

    #[tokio::test]
    async fn the_send_budget_is_shared_by_an_address() {
        let peers = Peers::new(limits());
        let ip = "10.0.0.1".parse().unwrap();
        assert!(peers.allow_frame(ip));
        assert!(peers.allow_frame(ip));
        assert!(!peers.allow_frame(ip));
        assert!(peers.allow_frame("10.0.0.2".parse().unwrap()));
        assert!(peers.allow_join(ip).is_ok());
        assert!(peers.allow_join(ip).unwrap_err() > Duration::from_secs(60));
    }
}
