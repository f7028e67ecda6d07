//! Static files, served on the runtime thread without ever touching Python.
//! `resolve` maps a request path to a file safely inside its root; `reply` builds the response.

mod reply;
mod resolve;

pub use reply::{serve, FileStream};
pub use resolve::{decode_path, resolve, Resolved};
