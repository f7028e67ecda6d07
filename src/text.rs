//! Byte-string helpers that several layers share and none owns: percent-decoding a request
//! path once (the router, static files and the app's `PATH_INFO` all need it) and writing a
//! number in decimal without `fmt` (the response writer and the access log, per request).

/// Percent-decodes a request path once (RFC 3986 §2.1). Bytes, since the result need not be
/// UTF-8; borrowed when there was nothing to decode.
pub fn decode_path(raw: &str) -> std::borrow::Cow<'_, [u8]> {
    percent_encoding::percent_decode_str(raw).into()
}

/// `n` in decimal ASCII, written into the end of `buf`.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(decimal(0, &mut [0; 20]), b"0");
        assert_eq!(decimal(u64::MAX, &mut [0; 20]), b"18446744073709551615");
    }

    #[test]
    fn paths_are_decoded_once() {
        assert_eq!(&*decode_path("/a%20b/%2541"), b"/a b/%41");
        assert_eq!(&*decode_path("/%E4%BD%A0"), "/你".as_bytes());
        assert!(matches!(decode_path("/a/b"), std::borrow::Cow::Borrowed(_)));
    }
}
