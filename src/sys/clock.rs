//! The local calendar time of a Unix timestamp (the access log's `t`, as Apache and gunicorn
//! print it): `localtime_r` reads the time zone the process runs in.
#![allow(unsafe_code)]

/// The broken-down local time of `secs`, and its offset from UTC in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1–12.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub utc_offset: i64,
}

/// `None` if the C library cannot represent `secs`.
pub fn local_time(secs: i64) -> Option<LocalTime> {
    let t: libc::time_t = secs;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: `t` and `tm` are valid for the call; localtime_r is the reentrant form, which
    // fills `tm` (or returns NULL, checked) and keeps no pointer to either.
    let tm = unsafe {
        if libc::localtime_r(&t, tm.as_mut_ptr()).is_null() {
            return None;
        }
        tm.assume_init()
    };
    Some(LocalTime {
        year: tm.tm_year + 1900,
        month: u32::try_from(tm.tm_mon + 1).ok()?,
        day: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        minute: u32::try_from(tm.tm_min).ok()?,
        second: u32::try_from(tm.tm_sec).ok()?,
        utc_offset: tm.tm_gmtoff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_instant() {
        let t = local_time(0).unwrap();
        // Whatever the zone, the epoch falls on 31 Dec 1969 or 1 Jan 1970.
        assert!(matches!((t.year, t.month), (1969, 12) | (1970, 1)));
        assert!(t.utc_offset.abs() <= 14 * 3600);
    }
}
