//! `--preload`: the master imports the app before forking, so workers share the pages the
//! import produced; without it every worker imports the app itself.

mod common;
mod supervision_support;

use common::http::get;
use common::{apps_dir, pyrite, Server};
use supervision_support::{get_json, num, smaps_rollup_kib};

fn total_pss_mib(server: &Server) -> u64 {
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 2, "{workers:?}");
    workers
        .iter()
        .map(|&pid| smaps_rollup_kib(pid, "Pss"))
        .sum::<u64>()
        / 1024
}

#[test]
fn preloaded_workers_share_a_100_mib_import() {
    let server = pyrite()
        .args(&[
            "--preload",
            "-w",
            "2",
            "--pythonpath",
            &apps_dir(),
            "sup_preload",
        ])
        .start();
    for _ in 0..4 {
        let info = get_json(&server.addr, "/");
        assert_eq!(num(&info, "blob"), 100 * 1024 * 1024);
        assert_eq!(num(&info, "import_pid") as i32, server.pid());
    }
    let pss = total_pss_mib(&server);
    assert!(
        pss < 150,
        "2 preloaded workers have a combined PSS of {pss} MiB; the 100 MiB import is not shared"
    );
}

#[test]
fn without_preload_each_worker_holds_its_own_copy() {
    // The control for the test above: the measurement does see the 100 MiB per worker.
    let server = pyrite()
        .args(&["-w", "2", "--pythonpath", &apps_dir(), "sup_preload"])
        .start();
    assert_eq!(get(&server.addr, "/").status, 200);
    let pss = total_pss_mib(&server);
    assert!(pss >= 190, "combined PSS {pss} MiB, expected 2 x 100 MiB");
}

#[test]
fn preload_imports_the_app_in_the_master() {
    let server = pyrite()
        .args(&[
            "--preload",
            "-w",
            "2",
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start();
    let workers = server.worker_pids();
    for _ in 0..6 {
        let info = get_json(&server.addr, "/");
        let pid = num(&info, "pid") as i32;
        assert!(workers.contains(&pid), "{pid} not in {workers:?}");
        assert_eq!(num(&info, "import_pid") as i32, server.pid(), "{info:?}");
    }
}

#[test]
fn without_preload_each_worker_imports_the_app_itself() {
    let server = pyrite()
        .args(&["-w", "2", "--pythonpath", &apps_dir(), "supervised"])
        .start();
    let workers = server.worker_pids();
    for _ in 0..6 {
        let info = get_json(&server.addr, "/");
        let pid = num(&info, "pid") as i32;
        assert!(workers.contains(&pid), "{pid} not in {workers:?}");
        assert_eq!(num(&info, "import_pid") as i32, pid, "{info:?}");
        assert_ne!(num(&info, "import_pid") as i32, server.pid());
    }
}
