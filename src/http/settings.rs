//! What every connection of a worker is held to: the request limits, the timeouts, the
//! `Server` field, trusted proxies, how many connections at once and how long a stopping
//! worker waits for them. `config` builds it.

use std::time::Duration;

use super::forwarded::AllowList;
use super::parse::Limits;

/// The connection-level settings of a worker (`--limit-request-*`, timeouts, `Server`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    /// The whole request head must arrive within this (`--header-timeout`).
    pub header_timeout: Duration,
    /// A body read may stall this long (`--body-timeout`).
    pub body_timeout: Duration,
    /// A body must arrive at this many bytes a second at least, over each window of
    /// `body_timeout` (`--body-min-rate`); 0 means no minimum.
    pub body_min_rate: u64,
    /// An idle persistent connection is closed after this; zero disables persistence.
    pub keep_alive: Duration,
    /// A write may stall this long (`--write-timeout`).
    pub write_timeout: Duration,
    pub server_header: bool,
    /// Peers whose forwarding headers and PROXY protocol headers are believed.
    pub forwarded_allow: AllowList,
    /// Expect a PROXY protocol header first on connections from allowed peers.
    pub proxy_protocol: bool,
    /// Connections one worker serves at once (`--max-connections`); more wait in the backlog.
    pub max_connections: usize,
    /// How long a closing worker waits for its connections (`--graceful-timeout`).
    pub graceful_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            limits: Limits::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            body_min_rate: 500,
            keep_alive: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            server_header: true,
            forwarded_allow: AllowList::parse(&["127.0.0.1".into(), "::1".into()])
                .unwrap_or_default(),
            proxy_protocol: false,
            max_connections: 4096,
            graceful_timeout: Duration::from_secs(30),
        }
    }
}
