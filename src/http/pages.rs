//! The server's own small HTML responses (404, 405, 413, 500, …). Like every response, they
//! get their `Server` field from the writer.

use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Response, StatusCode};

use super::body::Body;

/// An HTML page saying `status` and a short `detail`.
pub fn error(status: StatusCode) -> Response<Body> {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    let html = format!(
        "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\n\
         <body><h1>{code} {reason}</h1><hr><p>pyrite</p></body></html>\n"
    );
    let mut response = Response::new(Body::full(html.clone()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(html.len()));
    response
}
