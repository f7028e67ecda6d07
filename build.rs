//! Links libpython with an rpath (the binary runs without `LD_LIBRARY_PATH`) and records the
//! interpreter found at build time, which becomes `sys.executable` when no venv is in use.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    pyo3_build_config::add_libpython_rpath_link_args();
    let config = pyo3_build_config::get();
    let executable = config.executable().unwrap_or_default();
    let version = config.version();
    println!("cargo:rustc-env=PYRITE_PYTHON_EXECUTABLE={executable}");
    println!(
        "cargo:rustc-env=PYRITE_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
