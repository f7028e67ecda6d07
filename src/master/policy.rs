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
    /// Stop accepting, let in-flight requests finish until `deadline`, then SIGKILL.
    Stopping {
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

/// A stop with `grace` for in-flight requests and `exit_code`, from `phase`: the earlier
/// deadline wins, and so does a non-zero exit code already decided. The workers are asked on
/// the first stop, and killed by any stop without grace.
pub fn stop(phase: Phase, now: Instant, grace: Duration, exit_code: u8) -> Stop {
    let deadline = now + grace;
    let (deadline, exit_code, first) = match phase {
        Phase::Stopping {
            deadline: old,
            exit_code: old_code,
        } => (
            old.min(deadline),
            if old_code != 0 { old_code } else { exit_code },
            false,
        ),
        _ => (deadline, exit_code, true),
    };
    let ask = if grace.is_zero() {
        Some(Ask::Kill)
    } else {
        first.then_some(Ask::Finish)
    };
    Stop {
        phase: Phase::Stopping {
            deadline,
            exit_code,
        },
        first,
        ask,
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

/// Judges a death and updates the crash-loop counters.
pub fn fate(death: &Death, record: &mut Record) -> Fate {
    let gone = death.stopping || death.replaced;
    if death.status == ExitStatus::Code(0) {
        return if gone { Fate::Exited } else { Fate::Recycled };
    }
    if gone {
        return Fate::Gone;
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
            return Fate::CannotBoot {
                attempts: record.boot_failures,
            };
        }
    }
    if death.lived < QUICK_DEATH {
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
mod tests {
    use super::*;

    fn death(status: ExitStatus) -> Death {
        Death {
            status,
            booted: true,
            lived: Duration::from_secs(60),
            stopping: false,
            replaced: false,
            reloading: false,
        }
    }

    #[test]
    fn signals() {
        assert_eq!(on_signal(sys::SIGTERM, true, 2), Action::GracefulStop);
        assert_eq!(on_signal(sys::SIGQUIT, false, 2), Action::FastStop);
        assert_eq!(on_signal(sys::SIGHUP, false, 2), Action::Reload);
        assert_eq!(on_signal(sys::SIGHUP, true, 2), Action::Ignore);
        assert_eq!(on_signal(sys::SIGTTOU, false, 1), Action::Ignore, "never 0");
        assert_eq!(on_signal(sys::SIGTTOU, false, 2), Action::OneLess);
        assert_eq!(on_signal(sys::SIGUSR1, true, 2), Action::ReopenLogs);
        assert_eq!(on_signal(sys::SIGUSR2, true, 2), Action::Ignore);
    }

    #[test]
    fn stops_merge() {
        let now = Instant::now();
        let graceful = stop(Phase::Running, now, Duration::from_secs(30), 0);
        assert!(graceful.first);
        assert_eq!(graceful.ask, Some(Ask::Finish));
        // A second graceful stop asks nothing more; its later deadline does not win.
        let again = stop(graceful.phase, now, Duration::from_secs(60), 3);
        assert!(!again.first);
        assert_eq!(again.ask, None);
        assert_eq!(
            again.phase,
            Phase::Stopping {
                deadline: now + Duration::from_secs(30),
                exit_code: 3
            }
        );
        // A fast stop kills at once and keeps the exit code already decided.
        let fast = stop(again.phase, now, Duration::ZERO, 0);
        assert_eq!(fast.ask, Some(Ask::Kill));
        assert_eq!(
            fast.phase,
            Phase::Stopping {
                deadline: now,
                exit_code: 3
            }
        );
    }

    #[test]
    fn clean_exits() {
        let mut record = Record::default();
        assert_eq!(
            fate(&death(ExitStatus::Code(0)), &mut record),
            Fate::Recycled
        );
        let stopping = Death {
            stopping: true,
            ..death(ExitStatus::Code(0))
        };
        assert_eq!(fate(&stopping, &mut record), Fate::Exited);
        let crashed_while_stopping = Death {
            stopping: true,
            ..death(ExitStatus::Signal(9))
        };
        assert_eq!(fate(&crashed_while_stopping, &mut record), Fate::Gone);
    }

    #[test]
    fn an_app_that_cannot_load_stops_the_server_unless_reloading() {
        let mut record = Record::default();
        let failed = Death {
            booted: false,
            ..death(ExitStatus::Code(exit::WORKER_APP_LOAD_ERROR))
        };
        assert_eq!(
            fate(&failed, &mut record),
            Fate::AppFailed {
                code: exit::APP_LOAD_ERROR
            }
        );
        let reloading = Death {
            reloading: true,
            ..failed
        };
        assert_eq!(fate(&reloading, &mut record), Fate::AbandonReload);
    }

    #[test]
    fn crash_loops_back_off_then_give_up() {
        let mut record = Record::default();
        let early = Death {
            booted: false,
            lived: Duration::from_millis(10),
            ..death(ExitStatus::Signal(11))
        };
        let mut waits = Vec::new();
        for _ in 0..4 {
            match fate(&early, &mut record) {
                Fate::Respawn {
                    backoff: Some(wait),
                } => waits.push(wait.as_millis()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(waits, [100, 200, 400, 800]);
        assert_eq!(fate(&early, &mut record), Fate::CannotBoot { attempts: 5 });
        // A booted worker that lived long resets the quick deaths.
        let mut record = Record {
            quick_deaths: 3,
            boot_failures: 0,
        };
        assert_eq!(
            fate(&death(ExitStatus::Signal(9)), &mut record),
            Fate::Respawn { backoff: None }
        );
        assert_eq!(record.quick_deaths, 0);
        assert_eq!(backoff(40), BACKOFF_CAP);
    }

    #[test]
    fn hung_workers_are_aborted_then_killed() {
        let now = Instant::now();
        let stuck = Verdict::Stuck { for_ms: 5000 };
        assert_eq!(hung(stuck, None, now), Hung::Abort { stuck_ms: 5000 });
        assert_eq!(hung(Verdict::Alive, None, now), Hung::Leave);
        assert_eq!(hung(stuck, Some(now), now), Hung::Leave, "grace");
        let long_ago = now - Duration::from_secs(2);
        assert_eq!(hung(Verdict::Alive, Some(long_ago), now), Hung::Kill);
    }

    #[test]
    fn spawning_waits_for_the_backoff() {
        let now = Instant::now();
        assert_eq!(to_spawn(1, 4, None, now), 3);
        assert_eq!(to_spawn(5, 4, None, now), 0);
        assert_eq!(to_spawn(1, 4, Some(now + Duration::from_secs(1)), now), 0);
        assert_eq!(to_spawn(1, 4, Some(now), now), 3);
        assert!(serves_in_full(4, 4) && !serves_in_full(3, 4));
    }
}
