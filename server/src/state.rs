//! What every request handler shares ([`AppState`]): the pieces of the
//! server the routes reach (sockets' shared parts, reads, accounts through
//! the sockets' share), and the request checks' settings (hosts, origins,
//! timeouts). Its own module so that the routes of each domain (`routes`,
//! `accounts::routes`, `media::routes`, `search`) depend on it, not on one
//! another.

use crate::connection::Shared;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub sockets: Shared,
    /// Reads over plain HTTP (history, search), each asking the room's rules.
    pub library: crate::reading::Library,
    /// Origins allowed besides the page's own (`--allowed-origin`, `--public-url`).
    pub allowed_origins: Arc<[String]>,
    pub hosts: Hosts,
    pub request_timeout: Duration,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// What a scraper must show for `/metrics`; `None`: no such page.
    pub metrics_token: Option<Arc<str>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The host names this server answers to.
#[derive(Clone, Debug)]
pub struct Hosts {
    names: Arc<[String]>,
}

impl Hosts {
    /// The hosts of `public_urls`, plus loopback names; IP literals are always
    /// fine (a rebinding attack needs a name it controls).
    pub fn new(public_urls: &[String]) -> Self {
        let mut names: Vec<String> = public_urls
            .iter()
            .filter_map(|url| {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let authority = rest.split('/').next()?;
                Some(host_only(authority).to_ascii_lowercase())
            })
            .collect();
        names.push("localhost".into());
        Self {
            names: names.into(),
        }
    }

    pub fn allows(&self, host: &str) -> bool {
        let name = host_only(host).to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        name.parse::<std::net::IpAddr>().is_ok()
            || name
                .strip_prefix('[')
                .and_then(|n| n.strip_suffix(']'))
                .is_some_and(|n| n.parse::<std::net::Ipv6Addr>().is_ok())
            || self.names.iter().any(|n| n == name)
    }
}

/// `host` without its `:port`.
fn host_only(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}
