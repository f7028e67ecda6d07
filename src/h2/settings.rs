//! The `--http2-*` limits, with defaults for a server facing the internet. What the `h2` crate
//! enforces itself (CONTINUATION floods, HPACK bombs past the header-list size, resets of
//! streams not yet accepted, protocol-error resets, small DATA frames) is configured from here
//! too; `conn` adds the budget for streams the client resets after they were accepted.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// SETTINGS_MAX_CONCURRENT_STREAMS (`--http2-max-concurrent-streams`).
    pub max_concurrent_streams: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE, decoded bytes (`--http2-max-header-list-size`); a
    /// larger request gets 431, a header block growing far past it ends the connection.
    pub max_header_list_size: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much of a request body may arrive before it is read.
    pub initial_stream_window: u32,
    /// The connection's receive window, over all its streams.
    pub initial_connection_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE.
    pub max_frame_size: u32,
    /// Response bytes buffered per stream before its body is pulled again.
    pub max_send_buffer: usize,
    /// A PING is sent after this long without one (`None`: never).
    pub keep_alive_interval: Option<Duration>,
    /// A PING unanswered for this long closes the connection.
    pub keep_alive_timeout: Duration,
    /// Streams a client may reset once accepted, per connection and 10 s (`RESET_WINDOW`); one
    /// more closes the connection with ENHANCE_YOUR_CALM (CVE-2023-44487, rapid reset).
    pub max_reset_streams: u32,
}

/// The window over which `max_reset_streams` is counted.
pub const RESET_WINDOW: Duration = Duration::from_secs(10);

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_concurrent_streams: 100,
            max_header_list_size: 64 * 1024,
            initial_stream_window: 1024 * 1024,
            initial_connection_window: 2 * 1024 * 1024,
            max_frame_size: 16 * 1024,
            max_send_buffer: 400 * 1024,
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            max_reset_streams: 100,
        }
    }
}

impl Settings {
    /// The `h2` crate's server configured from these limits.
    pub(super) fn builder(&self) -> h2::server::Builder {
        let mut builder = h2::server::Builder::new();
        builder
            .max_concurrent_streams(self.max_concurrent_streams)
            .max_header_list_size(self.max_header_list_size)
            .initial_window_size(self.initial_stream_window)
            .initial_connection_window_size(self.initial_connection_window)
            .max_frame_size(self.max_frame_size)
            .max_send_buffer_size(self.max_send_buffer)
            // Streams reset before they are accepted (rapid reset) and resets the server had
            // to send for the client's protocol errors: the crate's own budgets.
            .max_pending_accept_reset_streams(20)
            .max_local_error_reset_streams(Some(1024))
            .max_concurrent_reset_streams(64)
            .reset_stream_duration(Duration::from_secs(10));
        builder
    }
}
