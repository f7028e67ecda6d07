//! Byte ranges (RFC 9110 §14): single, suffix and open ranges, multipart/byteranges,
//! unsatisfiable ranges and If-Range, on small files, files read from disk, and large files
//! from odd offsets; and `curl -C -` resuming a cut download.

use crate::support::{fetch, get, Server, WAIT};

use super::{big_site, digits, docroot, s, BIG};

#[test]
fn ranges_single_suffix_open_multipart_unsatisfiable_and_if_range() {
    let (dir, root) = docroot("ranges");
    let content = digits(1000);
    std::fs::write(dir.join("root/digits.txt"), &content).unwrap();
    // Larger than the in-memory limit, so ranges are read from disk.
    let big = digits(3 * 1024 * 1024 + 7);
    std::fs::write(dir.join("root/big.bin"), &big).unwrap();
    let server = Server::start(&["--docroot", &root]);

    let whole = get(&server.addr, "/digits.txt");
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let etag = whole.header("etag").unwrap().to_owned();
    let modified = whole.header("last-modified").unwrap().to_owned();

    let range = |path: &str, spec: &str| fetch(&server.addr, "GET", path, &[("Range", spec)], b"");
    for (path, body) in [("/digits.txt", &content), ("/big.bin", &big)] {
        let len = body.len();
        let r = range(path, "bytes=10-19");
        assert_eq!(r.status, 206, "{path}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes 10-19/{len}").as_str())
        );
        assert_eq!(r.body, body[10..20]);
        let r = range(path, "bytes=-5");
        assert_eq!(r.status, 206);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {}-{}/{len}", len - 5, len - 1).as_str())
        );
        assert_eq!(r.body, body[len - 5..]);
        let r = range(path, "bytes=995-");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, body[995..]);
        assert_eq!(
            r.header("content-length"),
            Some((len - 995).to_string().as_str())
        );
        let r = range(path, &format!("bytes={len}-"));
        assert_eq!(r.status, 416);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{len}").as_str())
        );

        // Several ranges: one multipart/byteranges part each, in order.
        let r = range(path, "bytes=0-1, 500-502");
        assert_eq!(r.status, 206);
        let ct = r.header("content-type").unwrap();
        let boundary = ct
            .strip_prefix("multipart/byteranges; boundary=")
            .unwrap_or_else(|| panic!("{ct}"));
        let text = r.text();
        let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "{text}");
        assert!(parts[1].contains(&format!("Content-Range: bytes 0-1/{len}\r\n\r\n01\r\n")));
        assert!(parts[2].contains(&format!(
            "Content-Range: bytes 500-502/{len}\r\n\r\n012\r\n"
        )));
        assert_eq!(parts[3], "--\r\n");
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
    }
    // Overlapping ranges are coalesced into one part.
    let r = range("/digits.txt", "bytes=0-4,3-9");
    assert_eq!(r.header("content-range"), Some("bytes 0-9/1000"));
    // A malformed or foreign-unit Range is ignored.
    assert_eq!(range("/digits.txt", "bytes=9-1").status, 200);
    assert_eq!(range("/digits.txt", "lines=1-2").status, 200);
    // HEAD ignores Range (§14.2: range handling is defined for GET).
    let head = fetch(
        &server.addr,
        "HEAD",
        "/digits.txt",
        &[("Range", "bytes=0-1")],
        b"",
    );
    assert_eq!(head.status, 200);

    // If-Range: the range only when the validator still matches.
    let if_range = |validator: &str| {
        fetch(
            &server.addr,
            "GET",
            "/digits.txt",
            &[("Range", "bytes=0-1"), ("If-Range", validator)],
            b"",
        )
    };
    assert_eq!(if_range(&etag).status, 206);
    assert_eq!(if_range(&modified).status, 206);
    let stale = if_range("\"stale\"");
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, content);
    assert_eq!(if_range("Thu, 01 Jan 1970 00:00:00 GMT").status, 200);
    assert_eq!(
        if_range(&format!("W/{etag}")).status,
        200,
        "weak tags never match If-Range"
    );
}

#[test]
fn curl_resumes_a_cut_download() {
    let (dir, root) = docroot("resume");
    let content: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(dir.join("root/file.bin"), &content).unwrap();
    let server = Server::start(&["--access-logfile", "-", "--docroot", &root]);
    let out = dir.join("download.bin");
    // The first 700 000 bytes arrived before the cut.
    std::fs::write(&out, &content[..700_000]).unwrap();
    let url = format!("http://{}/file.bin", server.addr);
    let curl = std::process::Command::new("curl")
        .args(["-sS", "-f", "-C", "-", "-o"])
        .arg(&out)
        .arg(&url)
        .status();
    match curl {
        Ok(status) => {
            assert!(status.success(), "curl -C - failed: {status}");
            assert!(
                std::fs::read(&out).unwrap() == content,
                "resumed file differs"
            );
            assert!(server.wait_for_stdout("\"GET /file.bin HTTP/1.1\" 206 1300000", 1, WAIT));
        }
        Err(_) => {
            // No curl: send what `curl -C -` sends.
            let r = fetch(
                &server.addr,
                "GET",
                "/file.bin",
                &[("Range", "bytes=700000-")],
                b"",
            );
            assert_eq!(r.status, 206);
            assert_eq!(
                r.header("content-range"),
                Some("bytes 700000-1999999/2000000")
            );
            assert!(r.body == content[700_000..]);
        }
    }
}

#[test]
fn a_range_of_a_large_file_from_an_odd_offset() {
    let (root, content) = big_site("range");
    let server = Server::start(&["--access-logfile", "-", "--docroot", &s(&root)]);
    let r = fetch(
        &server.addr,
        "GET",
        "/big.bin",
        &[("Range", "bytes=1000001-3000002")],
        b"",
    );
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 1000001-3000002/{BIG}").as_str())
    );
    assert!(r.body == content[1_000_001..=3_000_002]);
    let tail = fetch(
        &server.addr,
        "GET",
        "/big.bin",
        &[("Range", "bytes=-300007")],
        b"",
    );
    assert_eq!(tail.status, 206);
    assert!(tail.body == content[BIG - 300_007..]);
    assert_eq!(server.logged_bytes("/big.bin", 206), 2_000_002);
}

#[test]
fn multipart_byteranges_of_a_large_file() {
    let (root, content) = big_site("multipart");
    let server = Server::start(&["--docroot", &s(&root)]);
    let ranges = [
        (1, 3),
        (100_001, 400_000),
        (400_017, 400_017),
        (4_000_000, BIG - 1),
    ];
    let spec = ranges
        .iter()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect::<Vec<_>>()
        .join(", ");
    let r = fetch(
        &server.addr,
        "GET",
        "/big.bin",
        &[("Range", &format!("bytes={spec}"))],
        b"",
    );
    assert_eq!(r.status, 206);
    let boundary = r
        .header("content-type")
        .and_then(|ct| ct.strip_prefix("multipart/byteranges; boundary="))
        .expect("multipart/byteranges")
        .to_owned();
    let delimiter = format!("\r\n--{boundary}");
    let find = |from: usize, needle: &[u8]| {
        r.body[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| from + p)
    };
    let mut at = 0;
    for (start, end) in ranges {
        at = find(at, delimiter.as_bytes()).expect("a part") + delimiter.len();
        let data = find(at, b"\r\n\r\n").expect("part headers") + 4;
        let headers = String::from_utf8_lossy(&r.body[at..data]);
        assert!(
            headers.contains(&format!("Content-Range: bytes {start}-{end}/{BIG}\r\n")),
            "{headers}"
        );
        at = data + (end - start + 1);
        assert!(
            r.body[data..at] == content[start..=end],
            "part {start}-{end}"
        );
    }
    assert_eq!(&r.body[at..], format!("{delimiter}--\r\n").as_bytes());
}
