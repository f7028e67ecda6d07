//! The master's decisions, checked without processes: each test states a situation and what
//! the policy makes of it.

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
    let secs = Duration::from_secs;
    let graceful = stop(Phase::Running, now, secs(5), secs(30), 0);
    assert!(graceful.first);
    assert_eq!(graceful.ask, Some(Ask::Finish));
    assert_eq!(
        graceful.phase,
        Phase::Stopping {
            drained: now + secs(5),
            deadline: now + secs(35),
            exit_code: 0
        }
    );
    // A second graceful stop asks nothing more; its later times do not win.
    let again = stop(graceful.phase, now, secs(10), secs(60), 3);
    assert!(!again.first);
    assert_eq!(again.ask, None);
    assert_eq!(
        again.phase,
        Phase::Stopping {
            drained: now + secs(5),
            deadline: now + secs(35),
            exit_code: 3
        }
    );
    // A fast stop kills at once, drains nothing and keeps the exit code already decided.
    let fast = stop(again.phase, now, secs(5), Duration::ZERO, 0);
    assert_eq!(fast.ask, Some(Ask::Kill));
    assert_eq!(
        fast.phase,
        Phase::Stopping {
            drained: now,
            deadline: now,
            exit_code: 3
        }
    );
    // Times that do not fit an Instant do not overflow.
    let huge = stop(Phase::Running, now, secs(u64::MAX), secs(u64::MAX), 0);
    assert!(matches!(huge.phase, Phase::Stopping { deadline, .. } if deadline > now));
}

#[test]
fn an_upgrade_waits_until_this_master_has_taken_over() {
    assert_eq!(upgrade(false, false), Upgrade::Start);
    assert_eq!(upgrade(true, false), Upgrade::Later);
    assert_eq!(upgrade(false, true), Upgrade::Busy);
    assert_eq!(upgrade(true, true), Upgrade::Busy);
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

/// Four deaths like `early` are respawned after 100 ms doubling; the fifth stops the server.
fn backs_off_then_gives_up(early: &Death, record: &mut Record) {
    let mut waits = Vec::new();
    for _ in 0..4 {
        match fate(early, record) {
            Fate::Respawn {
                backoff: Some(wait),
            } => waits.push(wait.as_millis()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, [100, 200, 400, 800]);
    assert_eq!(fate(early, record), Fate::CannotBoot { attempts: 5 });
}

#[test]
fn crash_loops_back_off_then_give_up() {
    let mut record = Record::default();
    let early = Death {
        booted: false,
        lived: Duration::from_millis(10),
        ..death(ExitStatus::Signal(11))
    };
    backs_off_then_gives_up(&early, &mut record);
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
fn a_clean_exit_before_booting_is_a_boot_failure() {
    // `os._exit(0)` at import: backed off like a crash, then the server stops (exit 3).
    let mut record = Record::default();
    let early = Death {
        booted: false,
        lived: Duration::from_millis(10),
        ..death(ExitStatus::Code(0))
    };
    backs_off_then_gives_up(&early, &mut record);
    // A slow start (an import taking seconds) is no reason to skip the back-off.
    let slow = Death {
        lived: Duration::from_secs(5),
        ..early
    };
    assert_eq!(
        fate(&slow, &mut Record::default()),
        Fate::Respawn {
            backoff: Some(Duration::from_millis(100))
        }
    );
    // While reloading, the old generation keeps serving: the reload is given up instead.
    let mut record = Record::default();
    let reloading = Death {
        reloading: true,
        ..early
    };
    for _ in 0..4 {
        assert!(matches!(
            fate(&reloading, &mut record),
            Fate::Respawn { backoff: Some(_) }
        ));
    }
    assert_eq!(fate(&reloading, &mut record), Fate::AbandonReload);
    // Asked to stop before it booted: nothing to count.
    let stopped = Death {
        stopping: true,
        ..early
    };
    assert_eq!(fate(&stopped, &mut Record::default()), Fate::Exited);
}

#[test]
fn any_grace_is_a_deadline() {
    let now = Instant::now();
    for grace in [Duration::MAX, Duration::from_secs(u64::MAX)] {
        match stop(Phase::Running, now, grace, grace, 0).phase {
            Phase::Stopping { deadline, .. } => assert!(deadline > now),
            other => panic!("{other:?}"),
        }
    }
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
