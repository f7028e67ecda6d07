//! Why a request is refused before the app sees it: a status and a short reason for the debug
//! log. Every rejection closes the connection (RFC 9112 §9.6: framing can no longer be trusted).

use http::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    pub status: StatusCode,
    pub reason: &'static str,
}

impl Reject {
    pub fn new(status: StatusCode, reason: &'static str) -> Reject {
        Reject { status, reason }
    }

    pub fn bad(reason: &'static str) -> Reject {
        Reject::new(StatusCode::BAD_REQUEST, reason)
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.status.as_u16(), self.reason)
    }
}

impl std::error::Error for Reject {}
