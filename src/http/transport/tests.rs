//! The transport's unit tests: sendfile with what was held back, a shrunk file, a stalled
//! peer, and a stream that is not a socket.

use super::*;
use std::io::Write;
use tokio::io::AsyncReadExt;

fn numbered(len: usize) -> (File, Vec<u8>) {
    let content: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&content).unwrap();
    (file, content)
}

#[tokio::test]
async fn send_file_writes_what_was_held_back_then_the_range() {
    let (file, content) = numbered(3 << 20);
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let transport = Transport::new(Box::new(ours), Duration::from_secs(10));
    assert!(transport.can_send_file());
    transport.defer(b"held");
    let mut offset = 1001;
    let len = content.len() as u64 - 2000;
    let send = async {
        transport.send_file(&file, &mut offset, len).await.unwrap();
        drop(transport);
    };
    let mut got = Vec::new();
    let (_, read) = tokio::join!(send, peer.read_to_end(&mut got));
    read.unwrap();
    assert_eq!(offset, content.len() as u64 - 999);
    assert_eq!(&got[..4], b"held");
    assert!(got[4..] == content[1001..content.len() - 999]);
}

#[tokio::test]
async fn send_file_of_a_shrunk_file_fails_with_unexpected_eof() {
    let (file, _) = numbered(100_000);
    let (ours, _peer) = UnixStream::pair().unwrap();
    let transport = Transport::new(Box::new(ours), Duration::from_secs(10));
    let mut offset = 40_000;
    let err = transport
        .send_file(&file, &mut offset, 100_000)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(offset, 100_000, "what the file held went out");
}

#[tokio::test]
async fn a_peer_that_stops_reading_times_writes_out() {
    let file = tempfile::tempfile().unwrap();
    file.set_len(64 << 20).unwrap();
    let (ours, _peer) = UnixStream::pair().unwrap();
    let transport = Transport::new(Box::new(ours), Duration::from_millis(100));
    let mut offset = 0;
    let err = transport
        .send_file(&file, &mut offset, 64 << 20)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(offset > 0 && offset < 64 << 20, "{offset}");
    let err = transport.write_all(&[0; 1 << 20]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
}

/// A stream that is not a socket, as a TLS stream would be.
impl Io for tokio::io::DuplexStream {}

#[tokio::test]
async fn a_stream_without_sendfile_says_so() {
    let (ours, _peer) = tokio::io::duplex(1024);
    let transport = Transport::new(Box::new(ours), Duration::from_secs(10));
    assert!(!transport.can_send_file());
    let (file, _) = numbered(10);
    let err = transport.send_file(&file, &mut 0, 10).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
}
