//! Links libpython with an rpath (the binary runs without `LD_LIBRARY_PATH`) and records the
//! interpreter found at build time, which becomes `sys.executable` when no venv is in use, and
//! its installation prefix, which `--version` names. Built as the Python extension (maturin
//! sets `PYO3_BUILD_EXTENSION_MODULE`), pyo3 links no libpython and no rpath is added.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    pyo3_build_config::add_libpython_rpath_link_args();
    let config = pyo3_build_config::get();
    let executable = config.executable().unwrap_or_default();
    let version = config.version();
    // `PREFIX/lib` holds libpython; without a lib dir, `PREFIX/bin/python3`.
    let prefix = config
        .lib_dir()
        .and_then(|dir| std::path::Path::new(dir).parent())
        .or_else(|| std::path::Path::new(executable).parent()?.parent())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=PYRITE_PYTHON_EXECUTABLE={executable}");
    println!("cargo:rustc-env=PYRITE_PYTHON_PREFIX={prefix}");
    println!(
        "cargo:rustc-env=PYRITE_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
