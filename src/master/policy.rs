//! Supervision policy as decisions, apart from the system calls that carry them out: what a
//! signal asks for, how a stop merges with one already under way, what a dead worker's exit
//! means (recycled, crashed, a crash loop to back off from, an app that cannot load), when a
//! hung worker is aborted and then killed, and when a reload's new workers take over. Pure
//! functions of what the master knows, so each rule has a unit test.

use std::time::{Duration, Instant};

use super::stats::Restart;
use crate::exit;
use crate::heartbeat::Verdict;
use crate::sys::{self, ExitStatus};

/// A worker that dies sooner than this after being forked counts as a crash loop.
pub const QUICK_DEATH: Duration = Duration::from_secs(1);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Workers dying before they boot this many times in a row means none ever will.
pub const MAX_BOOT_FAILURES: u32 = 5;
/// After SIGABRT, how long a hung worker gets before SIGKILL.
pub const ABORT_GRACE: Duration = Duration::from_secs(1);

/// Where the master is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    /// HUP: a new generation boots; the old one is stopped once it all serves.
    Reloading,
    /// Serve on until `drained` (`--drain-timeout`: the workers drain, the health probe says
    /// 503), then stop accepting; in-flight requests finish until `deadline`, then SIGKILL.
    Stopping {
        drained: Instant,
        deadline: Instant,
        exit_code: u8,
    },
}

/// What a signal to the master asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// TERM: drain, then stop.
    GracefulStop,
    /// INT, QUIT: kill the workers at once, then stop.
    FastStop,
    /// HUP: a new generation of workers, then the old one goes.
    Reload,
    /// TTIN.
    OneMore,
    /// TTOU: one worker less (the oldest stops gracefully).
    OneLess,
    /// USR1: reopen the log files, here and in every worker.
    ReopenLogs,
    /// USR2: re-execute the binary with the listeners inherited.
    Upgrade,
    Ignore,
}

/// The meaning of `sig` while the master is `stopping` (or not) with `workers` wanted.
pub fn on_signal(sig: i32, stopping: bool, workers: usize) -> Action {
    match sig {
        sys::SIGTERM => Action::GracefulStop,
        sys::SIGINT | sys::SIGQUIT => Action::FastStop,
        sys::SIGHUP if !stopping => Action::Reload,
        sys::SIGTTIN if !stopping => Action::OneMore,
        sys::SIGTTOU if !stopping && workers > 1 => Action::OneLess,
        sys::SIGUSR1 => Action::ReopenLogs,
        sys::SIGUSR2 if !stopping => Action::Upgrade,
        _ => Action::Ignore,
    }
}

/// How the workers are asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// SIGTERM: finish what is in flight.
    Finish,
    /// SIGKILL.
    Kill,
}

/// A stop, merged with any under way.
#[derive(Debug, PartialEq, Eq)]
pub struct Stop {
    pub phase: Phase,
    /// The first stop: the listeners close and the file watcher goes.
    pub first: bool,
    /// What every worker is sent now, if anything.
    pub ask: Option<Ask>,
}

/// A stop from `phase` that serves on for `drain`, then gives in-flight requests `grace`, and
/// exits with `exit_code`: the earlier times win, and so does a non-zero exit code already
/// decided. The workers are asked on the first stop, and killed by any stop without grace
/// (which has no drain either).
pub fn stop(phase: Phase, now: Instant, drain: Duration, grace: Duration, exit_code: u8) -> Stop {
    let drain = if grace.is_zero() {
        Duration::ZERO
    } else {
        drain
    };
    // `--drain-timeout` and `--graceful-timeout` may be any number of seconds, up to 2^64 - 1.
    let drained = crate::deadline::after(now, drain);
    let deadline = crate::deadline::after(drained, grace);
    let (drained, deadline, exit_code, first) = match phase {
        Phase::Stopping {
            drained: old_drained,
            deadline: old,
            exit_code: old_code,
        } => (
            old_drained.min(drained),
            old.min(deadline),
            if old_code != 0 { old_code } else { exit_code },
            false,
        ),
        _ => (drained, deadline, exit_code, true),
    };
    let ask = if grace.is_zero() {
        Some(Ask::Kill)
    } else {
        first.then_some(Ask::Finish)
    };
    Stop {
        phase: Phase::Stopping {
            drained,
            deadline,
            exit_code,
        },
        first,
        ask,
    }
}

/// What a USR2 does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    /// Start the new master.
    Start,
    /// This master has not yet taken over from the one that started it (its workers do not all
    /// serve, the old master still runs): upgrade once it has. Starting a newer master now
    /// would leave the old one behind for good — its own successor would be stopped by ours
    /// before it ever stopped the old one.
    Later,
    /// A new master started by an earlier USR2 is still taking over.
    Busy,
}

/// What a USR2 does while this master is `taking_over` from an older one (or not) and
/// `child_running` (a new master of its own already takes over, or not).
pub fn upgrade(taking_over: bool, child_running: bool) -> Upgrade {
    if child_running {
        Upgrade::Busy
    } else if taking_over {
        Upgrade::Later
    } else {
        Upgrade::Start
    }
}

/// What the master knows of a worker that died.
#[derive(Debug, Clone, Copy)]
pub struct Death {
    pub status: ExitStatus,
    /// It had announced that it serves.
    pub booted: bool,
    /// How long after its fork it died.
    pub lived: Duration,
    /// The master is stopping.
    pub stopping: bool,
    /// It belonged to an older generation (reloaded, retired).
    pub replaced: bool,
    /// A reload is under way.
    pub reloading: bool,
}

/// The crash-loop counters, carried from one death to the next.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Deaths in a row within [`QUICK_DEATH`] of the fork.
    pub quick_deaths: u32,
    /// Deaths in a row before booting.
    pub boot_failures: u32,
}

/// What a worker's death means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// A clean exit while stopping, or of a replaced worker.
    Exited,
    /// A clean exit while running: it recycled itself (`--max-requests`, `--max-rss`).
    Recycled,
    /// A crash while stopping, or of a replaced worker: nothing to replace.
    Gone,
    /// The new generation's app does not load: the old workers keep serving.
    AbandonReload,
    /// The app does not load (or the interpreter does not start): the server stops with `code`.
    AppFailed { code: u8 },
    /// Workers die before booting, again and again: the server stops.
    CannotBoot { attempts: u32 },
    /// Replaced, after `backoff` when it died right after its fork.
    Respawn { backoff: Option<Duration> },
}

/// Judges a death and updates the crash-loop counters. A worker that exits before it boots is a
/// boot failure whatever its status — `os._exit(0)` at import included — so a crash loop backs
/// off and, after [`MAX_BOOT_FAILURES`], stops the server (or abandons a reload) instead of
/// respawning forever.
pub fn fate(death: &Death, record: &mut Record) -> Fate {
    let gone = death.stopping || death.replaced;
    let clean = death.status == ExitStatus::Code(0);
    if gone {
        return if clean { Fate::Exited } else { Fate::Gone };
    }
    if clean && death.booted {
        return Fate::Recycled;
    }
    if !death.booted {
        if let ExitStatus::Code(code @ (exit::WORKER_APP_LOAD_ERROR | exit::WORKER_BOOT_ERROR)) =
            death.status
        {
            if death.reloading {
                return Fate::AbandonReload;
            }
            return Fate::AppFailed { code: code as u8 };
        }
        record.boot_failures += 1;
        if record.boot_failures >= MAX_BOOT_FAILURES {
            if death.reloading {
                // The old generation still serves: it stays, the new one is given up.
                record.boot_failures = 0;
                return Fate::AbandonReload;
            }
            return Fate::CannotBoot {
                attempts: record.boot_failures,
            };
        }
    }
    // Before booting, however slow the start (a big import), a death is part of a loop.
    if death.lived < QUICK_DEATH || !death.booted {
        record.quick_deaths += 1;
        return Fate::Respawn {
            backoff: Some(backoff(record.quick_deaths)),
        };
    }
    record.quick_deaths = 0;
    Fate::Respawn { backoff: None }
}

/// The wait before replacing a worker after the `n`th quick death in a row: 100 ms doubling,
/// at most 10 s.
pub fn backoff(n: u32) -> Duration {
    BACKOFF_START
        .saturating_mul(1 << n.saturating_sub(1).min(16))
        .min(BACKOFF_CAP)
}

/// What to do about a booted worker judged `verdict`, aborted at `aborted` (if it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hung {
    Leave,
    /// SIGABRT: stuck past `--timeout` and the grace period.
    Abort {
        stuck_ms: u64,
    },
    /// SIGKILL: aborted more than [`ABORT_GRACE`] ago and still there.
    Kill,
}

pub fn hung(verdict: Verdict, aborted: Option<Instant>, now: Instant) -> Hung {
    match (verdict, aborted) {
        (Verdict::Stuck { for_ms }, None) => Hung::Abort { stuck_ms: for_ms },
        (_, Some(at)) if now.saturating_duration_since(at) > ABORT_GRACE => Hung::Kill,
        _ => Hung::Leave,
    }
}

/// Whether a generation with `ready` booted workers of `wanted` serves in full: a reload then
/// retires the old workers, an upgrade stops the old master.
pub fn serves_in_full(ready: usize, wanted: usize) -> bool {
    ready >= wanted
}

/// How many workers to fork now: none while a backoff runs (`respawn_at` still ahead).
pub fn to_spawn(running: usize, wanted: usize, respawn_at: Option<Instant>, now: Instant) -> usize {
    if respawn_at.is_some_and(|at| now < at) {
        return 0;
    }
    wanted.saturating_sub(running)
}

/// Why a worker that died is replaced, for the restart counters (`None`: it is not — the
/// master is stopping, or the worker belonged to a generation already replaced).
pub fn restart_reason(death: &Death, fate: Fate, aborted: bool, recycled: u64) -> Option<Restart> {
    if death.stopping || death.replaced {
        return None;
    }
    if aborted {
        return Some(Restart::Timeout);
    }
    Some(match (fate, recycled) {
        (Fate::Recycled, r) if r == crate::metrics::Recycle::MaxRequests as u64 => {
            Restart::MaxRequests
        }
        (Fate::Recycled, r) if r == crate::metrics::Recycle::MaxRss as u64 => Restart::MaxRss,
        _ => Restart::Crash,
    })
}

#[cfg(test)]
mod tests;
