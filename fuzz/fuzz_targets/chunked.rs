//! The chunked decoder over arbitrary bytes: never panics, and feeding the input in pieces
//! (split where the first byte says) decodes exactly what feeding it whole does.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pyrite::http::chunked::{Decoder, Step};
use pyrite::http::parse::Limits;

fn decode(pieces: &[&[u8]]) -> (Vec<u8>, Result<bool, u16>) {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Step::Data(data)) => out.extend_from_slice(&data),
                Ok(Step::Done) => return (out, Ok(true)),
                Ok(Step::NeedMore) => break,
                Err(reject) => return (out, Err(reject.status.as_u16())),
            }
        }
    }
    (out, Ok(false))
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = decode(&[input]);
    let step = usize::from(split).max(1);
    let pieces: Vec<&[u8]> = input.chunks(step).collect();
    let split = decode(&pieces);
    assert_eq!(whole, split);
});
