//! A rolling restart through nginx, as the issue tried it: nginx with upstream keep-alive and
//! no retries (`examples/deploy/nginx-site.conf`) in front of two hosts, each running pyrite
//! with 2 workers, GET and POST load through nginx, and each host restarted in turn with
//! SIGTERM. nginx OSS has no active health checks, so the test plays the deploy script: once
//! the stopping instance's probe says 503 it is marked `down` and nginx reloaded; once the new
//! one's probe says 200 it is put back. Not one request may fail.

use std::process::Stdio;
use std::time::Duration;

use super::{example, instance, setup, upstreams, wait_probe, Balancer};
use crate::support::load::Load;
use crate::support::netns::{self, Net};
use crate::support::{eventually, kill, tmpdir, try_fetch, LONG_WAIT, WAIT};

/// The example site with our upstream servers (`down` where not `up`) and listen address.
fn site(example: &str, servers: &[String], up: &[bool], listen: &str) -> String {
    let mut out = String::new();
    let (mut in_upstream, mut listed) = (false, false);
    for line in example.lines() {
        let text = line.trim_start();
        if text.starts_with("upstream ") {
            in_upstream = true;
        } else if in_upstream && text.starts_with('}') {
            in_upstream = false;
        }
        if in_upstream && text.starts_with("server ") {
            if !listed {
                for (addr, up) in servers.iter().zip(up) {
                    let down = if *up { "" } else { " down" };
                    out.push_str(&format!("    server {addr}{down};\n"));
                }
                listed = true;
            }
            continue;
        }
        if text.starts_with("listen ") {
            out.push_str(&format!("    listen {listen};\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(listed, "no `server` lines in the example's upstream block");
    out
}

/// A private nginx: the system's binary, our configuration, everything under `dir`.
fn main_conf(dir: &str) -> String {
    format!(
        "daemon off;\nmaster_process on;\nworker_processes 2;\nuser root;\n\
         pid {dir}/nginx.pid;\nerror_log {dir}/error.log notice;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n\
         proxy_temp_path {dir}/proxy;\n  fastcgi_temp_path {dir}/fastcgi;\n\
         uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n\
         include {dir}/site.conf;\n}}\n"
    )
}

/// Times nginx has (re)started its workers, from its error log.
fn generations(dir: &str) -> usize {
    std::fs::read_to_string(format!("{dir}/error.log"))
        .unwrap_or_default()
        .matches("start worker processes")
        .count()
}

#[test]
fn a_rolling_restart_through_nginx_fails_no_request() {
    let Some(net) = setup("nginx") else { return };
    let flags = [
        "--drain-timeout",
        "3",
        "--forwarded-allow-ips",
        "10.77.0.0/16",
        "--access-logfile",
        "-",
    ];
    let mut servers = [instance(&net, 0, &flags), instance(&net, 1, &flags)];
    let upstream = upstreams(&net);
    let dir = tmpdir("nginx");
    let dir = dir.to_string_lossy().into_owned();
    let example = example("nginx-site.conf");
    let listen = "127.0.0.1:8080";
    let write_site = |up: &[bool]| {
        std::fs::write(
            format!("{dir}/site.conf"),
            site(&example, &upstream, up, listen),
        )
        .unwrap()
    };
    write_site(&[true, true]);
    std::fs::write(format!("{dir}/nginx.conf"), main_conf(&dir)).unwrap();
    let err_log = format!("{dir}/error.log");
    let conf = format!("{dir}/nginx.conf");
    let nginx = Balancer(
        Net::command(&net.lb, "nginx", &["-e", &err_log, "-p", &dir, "-c", &conf])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx"),
    );
    let lb = net.lb.clone();
    let up = eventually(WAIT, || {
        let lb = lb.clone();
        netns::within(&lb, move || {
            try_fetch(listen, "GET", "/work?t=up", &[], b"").is_ok_and(|r| r.status == 200)
        })
    });
    assert!(
        up,
        "nginx did not come up: {}",
        std::fs::read_to_string(&err_log).unwrap_or_default()
    );
    let reload = |up: &[bool]| {
        let before = generations(&dir);
        write_site(up);
        kill(nginx.0.id() as i32, libc::SIGHUP);
        assert!(
            eventually(WAIT, || generations(&dir) > before),
            "nginx did not reload: {}",
            std::fs::read_to_string(&err_log).unwrap_or_default()
        );
    };

    let load = Load::start(listen, 8, Some(&net.lb), 5);
    assert!(
        load.wait_for(200, LONG_WAIT),
        "the load does not get through"
    );
    for (n, server) in servers.iter_mut().enumerate() {
        let mut up = [true, true];
        server.signal(libc::SIGTERM);
        // The deploy script: the stopping instance's probe says 503, out it goes.
        assert!(
            wait_probe(&net, n, 503),
            "host {n}: the probe never said 503"
        );
        up[n] = false;
        reload(&up);
        let status = server.expect_exit(LONG_WAIT, "SIGTERM during a rolling restart");
        assert_eq!(status.code(), Some(0), "host {n}: {status:?}");
        *server = instance(&net, n, &flags);
        assert!(
            wait_probe(&net, n, 200),
            "host {n}: the new probe never said 200"
        );
        up[n] = true;
        reload(&up);
        assert!(
            load.wait_for(300, LONG_WAIT),
            "the load stalled after host {n}"
        );
        assert!(
            server.wait_for_stdout("POST /echo", 1, Duration::from_secs(20)),
            "host {n}: no request reached the restarted instance"
        );
    }
    let tally = load.finish();
    eprintln!(
        "nginx rolling restart: {} GET and {} POST answered, {} failed",
        tally.gets,
        tally.posts,
        tally.failures.len()
    );
    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed:\n{}",
        tally.failures.len(),
        tally.gets + tally.posts + tally.failures.len() as u64,
        tally.failures.join("\n")
    );
    drop(nginx);
}
