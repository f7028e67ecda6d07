# bench/setup.sh: sourced by bench/run and bench/instructions, so that both measure the same
# peers in the same venv and the same pyrite binary. It installs what is missing (apt: wrk,
# nginx, libev-dev, curl, taskset, plus whatever the caller lists in EXTRA_APT; a venv at
# target/bench-venv with the pinned peers from bench/requirements.txt), builds pyrite with
# `cargo build --release` unless PYRITE_BIN is set, and the pool's floor (bench/floor.rs) unless
# FLOOR_BIN is set, and exports PYRITE_BIN, FLOOR_BIN and VENV.
# The caller has already cd'ed to the repository root.

PYTHON=${PYTHON:-python3}
VENV=target/bench-venv

apt_install() {
    if ! apt-get install -y "$@"; then
        apt-get update && apt-get install -y "$@"
    fi
}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
dpkg -s libev-dev >/dev/null 2>&1 || missing+=(libev-dev)
command -v curl >/dev/null || missing+=(curl)
command -v taskset >/dev/null || missing+=(util-linux)
for pkg in ${EXTRA_APT:-}; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "bench: installing ${missing[*]}" >&2
    apt_install "${missing[@]}"
fi

# The venv is reused; it is (re)filled when bench/requirements.txt changed since the last install.
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.bench-requirements"
if ! cmp -s bench/requirements.txt "$stamp"; then
    if "$VENV/bin/pip" install -q -r bench/requirements.txt; then
        cp bench/requirements.txt "$stamp"
    else
        # One peer failing to build must not stop the others: install them one by one. The harness
        # reports a peer that is still missing as "not installed" in its table.
        echo "bench: installing the peers together failed; trying one at a time" >&2
        grep -vE '^\s*(#|$)' bench/requirements.txt | while read -r req; do
            "$VENV/bin/pip" install -q "$req" || echo "bench: could not install $req" >&2
        done
    fi
fi

if [ -z "${PYRITE_BIN:-}" ]; then
    cargo build --release
    PYRITE_BIN=$PWD/target/release/pyrite
fi
# The pool's floor (bench/floor.rs), a lower bound measured beside the servers when named.
if [ -z "${FLOOR_BIN:-}" ]; then
    cargo build --release --example pool_floor
    FLOOR_BIN=$PWD/target/release/examples/pool_floor
fi
export PYRITE_BIN FLOOR_BIN VENV
