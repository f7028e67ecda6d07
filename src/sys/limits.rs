//! What the machine lets one user run: the bound `--workers` × `--threads` is checked against
//! at start-up, so a count the kernel cannot provide is refused then, not found out by a fork
//! or a thread spawn that fails later.
#![allow(unsafe_code)]

/// How many tasks (processes and threads) this server may create at most: the smallest of the
/// kernel's `threads-max` and `pid_max` and, unless running as root (whom it does not hold),
/// the soft `RLIMIT_NPROC`. `None` when none of them can be read.
pub fn task_limit() -> Option<u64> {
    let read =
        |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    let mut limits = vec![
        read("/proc/sys/kernel/threads-max"),
        read("/proc/sys/kernel/pid_max"),
    ];
    // SAFETY: geteuid has no memory effects and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `limit` is a valid out-pointer for getrlimit.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) } == 0;
        if got && limit.rlim_cur != libc::RLIM_INFINITY {
            limits.push(Some(limit.rlim_cur));
        }
    }
    limits.into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_machine_has_a_limit() {
        let limit = super::task_limit().expect("/proc is mounted");
        assert!(limit >= 2, "{limit}");
    }
}
