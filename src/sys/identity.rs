//! Who a process is and how it shows: users and groups by name, dropping privileges in a
//! worker, and the process title `ps` shows (`pyrite: master [APP]`).
#![allow(unsafe_code)]

use std::io;

/// Replaces what `ps` shows for this process by overwriting the argv area (whose bounds the
/// kernel reports in /proc/self/stat), and sets the thread name (`comm`) too.
pub fn set_process_title(title: &str) {
    // Valgrind reads its own options back from this memory in forked children; profiling runs
    // keep the original command line.
    if std::env::var_os("LD_PRELOAD").is_some_and(|p| p.to_string_lossy().contains("vgpreload")) {
        return;
    }
    let Some((start, end)) = argv_area() else {
        return;
    };
    let len = end.saturating_sub(start);
    if len < 2 {
        return;
    }
    let bytes = title.as_bytes();
    let n = bytes.len().min(len - 1);
    // SAFETY: [start, end) is this process's own argv block, mapped and writable for the
    // process's whole life; nothing in pyrite keeps references into it after start-up (the entry
    // copied the arguments).
    unsafe {
        let dst = start as *mut u8;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, n);
        std::ptr::write_bytes(dst.add(n), 0, len - n);
    }
    let comm: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|&b| b != 0)
        .take(15)
        .chain([0])
        .collect();
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, comm.as_ptr() as libc::c_ulong, 0, 0, 0);
    }
}

fn argv_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may itself hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // arg_start and arg_end are fields 48 and 49 of stat(5); `rest` starts at field 3.
    let start = fields.get(48 - 3)?.parse().ok()?;
    let end = fields.get(49 - 3)?.parse().ok()?;
    Some((start, end))
}

/// A user's uid and primary gid, by name or number.
pub fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam/getpwuid return NULL or a pointer to a static passwd record, read at
    // once (the master is single-threaded, so nothing else can overwrite it meanwhile).
    unsafe {
        let mut pw = libc::getpwnam(cname.as_ptr());
        if pw.is_null() {
            if let Ok(uid) = name.parse::<u32>() {
                pw = libc::getpwuid(uid);
                if pw.is_null() {
                    return Some((uid, uid));
                }
            }
        }
        if pw.is_null() {
            return None;
        }
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// A group's gid, by name or number.
pub fn lookup_group(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: as in lookup_user.
    unsafe {
        let gr = libc::getgrnam(cname.as_ptr());
        (!gr.is_null()).then(|| (*gr).gr_gid)
    }
}

/// Drops the worker's privileges: supplementary groups cleared, then gid, then uid.
pub fn drop_privileges(uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    // SAFETY: plain syscalls on integers; each result is checked.
    unsafe {
        if let Some(gid) = gid {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some(uid) = uid {
            if libc::setuid(uid) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}
