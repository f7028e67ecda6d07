//! Byte ranges (RFC 9110 §14): parsing `Range: bytes=…` against a representation's length,
//! and coalescing what a client asks for into the parts actually sent.

/// Ranges past this many (after coalescing) are not worth a multipart answer: the whole file
/// goes out with 200 instead, as §14.2 allows for requests with many small ranges.
pub const MAX_PARTS: usize = 16;

/// A satisfiable range, `start..end` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// `bytes FIRST-LAST/COMPLETE` (RFC 9110 §14.4).
    pub fn content_range(&self, complete: u64) -> String {
        format!("bytes {}-{}/{complete}", self.start, self.end - 1)
    }
}

/// What a `Range` field asks of a representation `len` bytes long.
#[derive(Debug, PartialEq, Eq)]
pub enum Ranges {
    /// Not a bytes range we understand, malformed, or too fragmented: send everything (200).
    Ignore,
    /// No range overlaps the representation: 416.
    Unsatisfiable,
    /// One or more satisfiable ranges, coalesced, in ascending order.
    Satisfiable(Vec<ByteRange>),
}

/// Parses `value` (RFC 9110 §14.1.2) for a representation of `len` bytes.
pub fn parse(value: &str, len: u64) -> Ranges {
    let Some((unit, specs)) = value.split_once('=') else {
        return Ranges::Ignore;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranges::Ignore;
    }
    let mut ranges = Vec::new();
    let mut any = false;
    for spec in specs.split(',') {
        let spec = spec.trim_matches([' ', '\t']);
        if spec.is_empty() {
            continue;
        }
        any = true;
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Ignore;
        };
        let range = if first.is_empty() {
            // suffix-range: the last N bytes.
            let Some(n) = number(last) else {
                return Ranges::Ignore;
            };
            (n > 0 && len > 0).then(|| ByteRange {
                start: len - n.min(len),
                end: len,
            })
        } else {
            let Some(start) = number(first) else {
                return Ranges::Ignore;
            };
            let end = if last.is_empty() {
                len
            } else {
                match number(last) {
                    Some(last) if last >= start => last.saturating_add(1).min(len),
                    _ => return Ranges::Ignore,
                }
            };
            (start < len).then_some(ByteRange { start, end })
        };
        ranges.extend(range);
    }
    if !any {
        return Ranges::Ignore;
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    let ranges = coalesce(ranges);
    if ranges.len() > MAX_PARTS {
        return Ranges::Ignore;
    }
    Ranges::Satisfiable(ranges)
}

/// Sorts and merges overlapping or adjacent ranges (RFC 9110 §14.3 lets a server coalesce),
/// so no byte is sent twice.
fn coalesce(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// 1*DIGIT, nothing else (no sign, no spaces).
fn number(raw: &str) -> Option<u64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok().or(Some(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn single_ranges() {
        assert_eq!(
            parse("bytes=0-499", 1000),
            Ranges::Satisfiable(vec![r(0, 500)])
        );
        assert_eq!(
            parse("bytes=500-", 1000),
            Ranges::Satisfiable(vec![r(500, 1000)])
        );
        assert_eq!(
            parse("bytes=-200", 1000),
            Ranges::Satisfiable(vec![r(800, 1000)])
        );
        assert_eq!(
            parse("bytes=-2000", 1000),
            Ranges::Satisfiable(vec![r(0, 1000)])
        );
        assert_eq!(
            parse("bytes=900-5000", 1000),
            Ranges::Satisfiable(vec![r(900, 1000)])
        );
        assert_eq!(parse("BYTES = 0-0", 10), Ranges::Satisfiable(vec![r(0, 1)]));
        assert_eq!(
            parse("bytes=0-99999999999999999999999", 10),
            Ranges::Satisfiable(vec![r(0, 10)])
        );
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(parse("bytes=1000-", 1000), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 1000), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=5-1", 1000), Ranges::Ignore);
        assert_eq!(parse("bytes=a-b", 1000), Ranges::Ignore);
        assert_eq!(parse("bytes=", 1000), Ranges::Ignore);
        assert_eq!(parse("items=0-1", 1000), Ranges::Ignore);
        assert_eq!(parse("bytes=+1-2", 1000), Ranges::Ignore);
    }

    #[test]
    fn several_ranges_are_coalesced() {
        assert_eq!(
            parse("bytes=0-1, 5-6", 10),
            Ranges::Satisfiable(vec![r(0, 2), r(5, 7)])
        );
        assert_eq!(
            parse("bytes=5-6,0-1,1-3, 20-30", 10),
            Ranges::Satisfiable(vec![r(0, 4), r(5, 7)])
        );
        assert_eq!(
            parse("bytes=0-1,2-3", 10),
            Ranges::Satisfiable(vec![r(0, 4)])
        );
        let many: Vec<String> = (0..40).map(|i| format!("{}-{}", i * 3, i * 3)).collect();
        assert_eq!(
            parse(&format!("bytes={}", many.join(",")), 1000),
            Ranges::Ignore
        );
    }
}
