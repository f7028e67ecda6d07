"""What the suite reads from /proc about the server: its masters and workers, their memory and
open descriptors, and which client connections a worker holds (to tell the requests lost with a
killed worker from the ones that failed elsewhere)."""

import ctypes
import os
import signal
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """A master started by USR2 outlives its parent, the old master: as a subreaper this process
    inherits it, so it is reaped and stopped with the rest."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def die_with_parent():
    """For `preexec_fn`: the server's master gets SIGKILL if the suite dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _stat(pid):
    """(state, ppid, pgrp) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def group_members(pgrp):
    """Every live (not zombie) process of a process group, as {pid: (ppid, cmdline)}."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _stat(int(entry))
        if st and st[2] == pgrp and st[0] != "Z":
            out[int(entry)] = (st[1], cmdline(int(entry)))
    return out


def workers_of(pgrp):
    """The worker pids of a server's process group (all masters' workers)."""
    return sorted(p for p, (_, cmd) in group_members(pgrp).items() if "worker" in cmd)


def masters_of(pgrp):
    return sorted(p for p, (_, cmd) in group_members(pgrp).items() if "master" in cmd)


def state(pid):
    st = _stat(pid)
    return st[0] if st else None


def alive(pid):
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def wait_stopped(pid, limit=1.0):
    """Waits until a process that was sent SIGSTOP is really stopped."""
    until = time.monotonic() + limit
    while time.monotonic() < until:
        if state(pid) in ("T", "t", None, "Z"):
            return True
        time.sleep(0.001)
    return False


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def sockets_of(pid, server_port):
    """The client-side ports of the TCP connections to `server_port` that `pid` holds open."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[9] in inodes and int(parts[1].split(":")[1], 16) == server_port:
                ports.add(int(parts[2].split(":")[1], 16))
    return ports


def listen_queue(port):
    """Connections waiting in the listen queue of 127.0.0.1:`port` (accepted by the kernel, not
    yet by a worker): the rx_queue of the LISTEN entry of /proc/net/tcp."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].split(":")[1], 16) == port:
                return int(parts[4].split(":")[1], 16)
    return None
