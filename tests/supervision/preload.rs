//! `--preload`: the master imports the app before forking, so workers share the pages the
//! import produced; without it every worker imports the app itself and holds its own copy.
//! The app (`sup_preload.py`) allocates 100 MiB at import and answers which process imported it.

use super::{get_json, num};
use crate::support::process::proc_kib;
use crate::support::{pyrite, Server};

/// The two workers' combined proportional set size, in MiB.
fn total_pss_mib(server: &Server) -> u64 {
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 2, "{workers:?}");
    workers
        .iter()
        .map(|&pid| proc_kib(pid, "smaps_rollup", "Pss"))
        .sum::<u64>()
        / 1024
}

#[test]
fn preload_imports_the_app_in_the_master_and_the_workers_share_it() {
    let server = pyrite()
        .args(&["--preload", "-w", "2"])
        .app("sup_preload")
        .start();
    let workers = server.worker_pids();
    for _ in 0..6 {
        let info = get_json(&server.addr, "/");
        let pid = num(&info, "pid") as i32;
        assert!(workers.contains(&pid), "{pid} not in {workers:?}");
        assert_eq!(num(&info, "blob"), 100 * 1024 * 1024);
        assert_eq!(num(&info, "import_pid") as i32, server.pid(), "{info:?}");
    }
    let pss = total_pss_mib(&server);
    assert!(
        pss < 150,
        "2 preloaded workers have a combined PSS of {pss} MiB; the 100 MiB import is not shared"
    );
}

#[test]
fn without_preload_each_worker_imports_the_app_and_holds_its_own_copy() {
    // The control for the test above: the measurement does see the 100 MiB per worker.
    let server = pyrite().args(&["-w", "2"]).app("sup_preload").start();
    let workers = server.worker_pids();
    for _ in 0..6 {
        let info = get_json(&server.addr, "/");
        let pid = num(&info, "pid") as i32;
        assert!(workers.contains(&pid), "{pid} not in {workers:?}");
        assert_eq!(num(&info, "import_pid") as i32, pid, "{info:?}");
        assert_ne!(num(&info, "import_pid") as i32, server.pid());
    }
    let pss = total_pss_mib(&server);
    assert!(pss >= 190, "combined PSS {pss} MiB, expected 2 x 100 MiB");
}
