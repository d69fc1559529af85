//! The send budget of one connection: its own token bucket, and its address's
//! (shared by every connection from there), counting every frame, text or
//! binary. A frame over either budget is dropped; too many in a row is flooding.

use crate::config::Limits;
use crate::peers::{Peers, TokenBucket};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Over-limit frames in a row after which a connection counts as flooding.
const FLOOD_STRIKES: u32 = 20;

pub struct RateLimit {
    own: TokenBucket,
    joins: TokenBucket,
    strikes: u32,
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl RateLimit {
    pub fn new(limits: &Limits, peers: Arc<Peers>, ip: IpAddr) -> Self {
        Self {
            own: TokenBucket::new(limits.rate_burst, limits.rate_per_sec),
            joins: TokenBucket::new(limits.join_burst, limits.joins_per_sec),
            strikes: 0,
            peers,
            ip,
        }
    }

    /// True if one more frame is allowed now.
    pub fn allow(&mut self) -> bool {
        if self.own.take() && self.peers.allow_frame(self.ip) {
            self.strikes = 0;
            true
        } else {
            self.strikes += 1;
            metrics::counter!(crate::metrics::RATE_REFUSALS).increment(1);
            false
        }
    }

    /// True once enough frames in a row were refused.
    pub fn flooding(&self) -> bool {
        self.strikes >= FLOOD_STRIKES
    }

    /// Takes one announced join from this connection's and its address's
    /// budgets; otherwise how long until one is allowed.
    pub fn allow_join(&mut self) -> Result<(), Duration> {
        if !self.joins.take() {
            return Err(self.joins.wait());
        }
        self.peers.allow_join(self.ip)
    }
}
