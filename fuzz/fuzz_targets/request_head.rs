//! Request head → framing → the path the app sees: never panics, and whatever is accepted is
//! self-consistent (the head fits the input, the path is decoded from a target that was valid).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyrite::http::{framing, parse, Known};

fuzz_target!(|data: &[u8]| {
    let limits = parse::Limits {
        request_line: 256,
        fields: 16,
        field_size: 256,
    };
    let Ok(Some((_, len))) = parse::head(data, &limits) else {
        return;
    };
    assert!(len <= data.len());
    assert!(data[..len].ends_with(b"\r\n\r\n"));
    // Parsing again from the same bytes gives the same answer (no hidden state).
    assert!(matches!(parse::head(&data[..len], &limits), Ok(Some((_, l))) if l == len));
    let mut buf = bytes::BytesMut::from(data);
    let Ok(Some(raw)) = parse::take_head(&mut buf, &limits) else {
        panic!("a head that parses is taken");
    };
    assert_eq!(buf.len(), data.len() - len);
    if let Ok(request) = framing::interpret(raw) {
        let head = request.head;
        let path = pyrite::text::decode_path(head.path());
        assert!(path.len() <= head.path().len());
        if head.version == http::Version::HTTP_11 {
            assert_eq!(head.fields.get_all(Known::Host).count(), 1);
        }
    }
});
