//! The raw CPython calls PyO3 does not wrap: interpreter start-up through `PyConfig`, so that
//! `sys.executable` names a real Python (a venv's when one is used) and CPython installs no
//! signal handlers (the master owns signals).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use pyo3::ffi;

/// Starts CPython in this process, then releases the GIL so PyO3 can attach per call. Under
/// the Python entry the interpreter that imported pyrite is running already: nothing to do.
///
/// `executable` becomes `sys.executable` and `sys.argv[0]`; CPython also derives its prefix
/// from it, which is how a venv's `pyvenv.cfg` (beside or above it) is found.
pub fn initialize(executable: &Path) -> Result<(), String> {
    if is_initialized() {
        return Ok(());
    }
    let exe = CString::new(executable.as_os_str().as_bytes())
        .map_err(|_| "the interpreter path contains a NUL byte".to_owned())?;
    // SAFETY: called once per process, before any other Python API, on the thread that will
    // run Python. `config` is initialised by PyConfig_InitPythonConfig before any field is read
    // or written, every string passed is a valid NUL-terminated C string that outlives the call,
    // and the config is cleared exactly once.
    unsafe {
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let config: *mut ffi::PyConfig = config.as_mut_ptr();
        (*config).install_signal_handlers = 0;
        (*config).parse_argv = 0;
        let program_name = std::ptr::addr_of_mut!((*config).program_name);
        let mut result = check(ffi::PyConfig_SetBytesString(
            config,
            program_name,
            exe.as_ptr(),
        ));
        if result.is_ok() {
            let executable = std::ptr::addr_of_mut!((*config).executable);
            result = check(ffi::PyConfig_SetBytesString(
                config,
                executable,
                exe.as_ptr(),
            ));
        }
        if result.is_ok() {
            let mut argv = [exe.as_ptr()];
            result = check(ffi::PyConfig_SetBytesArgv(config, 1, argv.as_mut_ptr()));
        }
        if result.is_ok() {
            result = check(ffi::Py_InitializeFromConfig(config));
        }
        ffi::PyConfig_Clear(config);
        result?;
        // The GIL is held after initialisation; release it so that Python threads started by
        // the app can run while this thread waits on sockets.
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Whether a Python interpreter runs in this process.
pub fn is_initialized() -> bool {
    // SAFETY: Py_IsInitialized may be called at any time, before or after start-up.
    unsafe { ffi::Py_IsInitialized() != 0 }
}

/// The linked libpython's version (`3.11.7`), the first word of `Py_GetVersion()`.
pub fn version() -> String {
    // SAFETY: Py_GetVersion may be called before Py_Initialize; it returns a static
    // NUL-terminated string.
    let full = unsafe { std::ffi::CStr::from_ptr(ffi::Py_GetVersion()) };
    full.to_string_lossy()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Turns a failed `PyStatus` into its message.
///
/// # Safety
/// `status` must come straight from a CPython config call.
unsafe fn check(status: ffi::PyStatus) -> Result<(), String> {
    // SAFETY: `status` is a valid PyStatus returned by CPython (caller's contract); `err_msg`
    // is either NULL or a static NUL-terminated string.
    unsafe {
        if ffi::PyStatus_Exception(status) == 0 {
            return Ok(());
        }
        if status.err_msg.is_null() {
            return Err(format!(
                "interpreter start-up failed (exit code {})",
                status.exitcode
            ));
        }
        Err(std::ffi::CStr::from_ptr(status.err_msg)
            .to_string_lossy()
            .into_owned())
    }
}

/// Forks a worker: with CPython's fork hooks around the fork when an interpreter runs in this
/// process (`--preload`, or the Python entry), a plain fork otherwise.
pub fn fork() -> std::io::Result<crate::sys::Fork> {
    if is_initialized() {
        fork_with_hooks()
    } else {
        crate::sys::fork()
    }
}

/// Forks the process around CPython's fork hooks, as `os.fork()` does: the child gets a
/// consistent interpreter (import lock, GIL and thread states re-initialised for its one
/// thread), and both sides end with the GIL released.
pub fn fork_with_hooks() -> std::io::Result<crate::sys::Fork> {
    // SAFETY: the interpreter is initialised (preload) and this thread holds no GIL; Ensure
    // takes it, the hooks run with it held as CPython requires, and each side releases it
    // exactly once.
    unsafe {
        let gil = ffi::PyGILState_Ensure();
        ffi::PyOS_BeforeFork();
        let forked = crate::sys::fork();
        match forked {
            Ok(crate::sys::Fork::Child) => ffi::PyOS_AfterFork_Child(),
            _ => ffi::PyOS_AfterFork_Parent(),
        }
        ffi::PyGILState_Release(gil);
        forked
    }
}

/// A new descriptor for the open file `fd` names (`fcntl(F_DUPFD_CLOEXEC)`), owned by the
/// caller, so the server can read a file the app handed to `wsgi.file_wrapper` while the app
/// keeps its own descriptor.
pub fn dup_fd(fd: i32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if fd < 0 {
        return Err(std::io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: fcntl with F_DUPFD_CLOEXEC only reads `fd` (an invalid one gives EBADF) and
    // returns a fresh descriptor that nothing else owns.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `new` is a valid descriptor just returned by fcntl and owned by no one else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(new) })
}

/// Schedules `exc` to be raised in the Python thread `ident` the next time it runs bytecode.
pub fn async_raise(_py: pyo3::Python<'_>, ident: u64, exc: &pyo3::Bound<'_, pyo3::types::PyType>) {
    // SAFETY: the GIL is held (`_py`); `exc` is a live exception type; an unknown ident is
    // harmless (the call returns 0).
    unsafe {
        ffi::PyThreadState_SetAsyncExc(ident as _, exc.as_ptr());
    }
}

/// Withdraws an exception scheduled by [`async_raise`] for the thread `ident` that has not been
/// raised yet.
pub fn clear_async_exc(_py: pyo3::Python<'_>, ident: u64) {
    // SAFETY: the GIL is held (`_py`); a null exception clears the pending one, if any; an
    // unknown ident is harmless (the call returns 0).
    unsafe {
        ffi::PyThreadState_SetAsyncExc(ident as _, std::ptr::null_mut());
    }
}

/// A `str` whose code points are `bytes` (latin-1), made in one call: CPython scans for the
/// widest byte and copies (the ASCII case is a plain copy), no UTF-8 decoding.
pub fn latin1<'py>(
    py: pyo3::Python<'py>,
    bytes: &[u8],
) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::types::PyString>> {
    let len = ffi::Py_ssize_t::try_from(bytes.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("string too long"))?;
    // SAFETY: the GIL is held (`py`); `bytes` is valid for `len` bytes during the call, which
    // copies them; a null errors pointer means "strict", which latin-1 never needs. The result
    // is a new reference (or NULL with an exception set), which `from_owned_ptr_or_err` takes.
    unsafe {
        let ptr = ffi::PyUnicode_DecodeLatin1(bytes.as_ptr().cast(), len, std::ptr::null());
        pyo3::Bound::from_owned_ptr_or_err(py, ptr).map(|s| s.cast_into_unchecked())
    }
}

thread_local! {
    /// The GIL as this thread holds it across requests (see [`hold_gil`]).
    static HELD: std::cell::Cell<Option<ffi::PyGILState_STATE>> = const { std::cell::Cell::new(None) };
}

/// Takes the GIL for this thread and keeps it until [`release_held_gil`]: the event loop calls
/// the app inline request after request, and taking and dropping the GIL for each one costs
/// more than a small request's handling. The loop gives it back before it waits for events,
/// so other Python threads run whenever it is idle (and, while it is busy, whenever the app's
/// bytecode yields the GIL at CPython's switch interval, as in any Python program). Nested
/// `Python::attach` calls then find the GIL held and neither take nor drop it.
pub fn hold_gil() {
    HELD.with(|held| {
        if held.get().is_none() {
            // SAFETY: the interpreter is initialised (the app was imported), and this thread
            // holds no GIL it has not taken through this function (every other attach is
            // scoped); the state is released exactly once, by `release_held_gil`.
            held.set(Some(unsafe { ffi::PyGILState_Ensure() }));
        }
    });
}

/// Gives back the GIL `hold_gil` took, if this thread holds it (a no-op otherwise).
pub fn release_held_gil() {
    let state = HELD.try_with(std::cell::Cell::take).ok().flatten();
    if let Some(state) = state {
        // SAFETY: `state` came from this thread's PyGILState_Ensure in `hold_gil`, and is
        // taken out of the cell so it is released once; no Python object borrowed under it
        // outlives this point (every use is inside a scoped attach).
        unsafe { ffi::PyGILState_Release(state) };
    }
}

/// How many references `obj` has (a pooled object is reused only when the pool holds the last).
pub fn refcount(obj: &pyo3::Bound<'_, pyo3::PyAny>) -> isize {
    // SAFETY: `obj` is a live object (a `Bound` holds a reference, and the GIL); reading its
    // reference count has no other requirement.
    unsafe { ffi::Py_REFCNT(obj.as_ptr()) }
}

/// Whether `obj` is a generator object itself (`PyGen_CheckExact`; Python cannot subclass the
/// generator type, so this is every generator a `def` with `yield` makes).
pub fn is_exact_generator(obj: &pyo3::Bound<'_, pyo3::PyAny>) -> bool {
    // SAFETY: `obj` is a live object (a `Bound` holds a reference, and the GIL); the check only
    // compares its type pointer with the generator type's address.
    unsafe { ffi::PyGen_CheckExact(obj.as_ptr()) != 0 }
}
