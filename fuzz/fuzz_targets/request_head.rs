//! Request head → framing → the path the app sees: never panics, and whatever is accepted is
//! self-consistent (the head fits the input, the path is decoded from a target that was valid).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyrite::http::{framing, parse};

fuzz_target!(|data: &[u8]| {
    let limits = parse::Limits {
        request_line: 256,
        fields: 16,
        field_size: 256,
    };
    let Ok(Some((raw, len))) = parse::head(data, &limits) else {
        return;
    };
    assert!(len <= data.len());
    assert!(data[..len].ends_with(b"\r\n\r\n"));
    // Parsing again from the same bytes gives the same answer (no hidden state).
    assert!(matches!(parse::head(&data[..len], &limits), Ok(Some((_, l))) if l == len));
    if let Ok(head) = framing::interpret(raw) {
        let path = pyrite::text::decode_path(head.parts.uri.path());
        assert!(path.len() <= head.parts.uri.path().len());
        if head.parts.version == http::Version::HTTP_11 {
            assert_eq!(
                head.parts
                    .headers
                    .get_all(http::header::HOST)
                    .iter()
                    .count(),
                1
            );
        }
    }
});
