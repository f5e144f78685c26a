//! Where evcxr builds: a persistent per-user directory, so the engine compiles once
//! (optimized) and later sessions reuse it.
//!
//! Layout under the cache directory (`~/.cache/born/evcxr` by default):
//! - `.cargo/config.toml`: profile overrides for every crate but the cell's
//!   (`opt-level = 3`, no debug assertions: the engine runs fast and has the same
//!   layout as in the release kernel that shares its runtime);
//! - `slot-N/`: one evcxr crate + target directory per running session. A session
//!   holds `slot-N.lock` (flock) while it lives, so two kernels never build in the
//!   same directory; a new slot starts from a copy of a warm one's `target/`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Profile settings evcxr's generated Cargo.toml cannot express: dependencies
/// (the engine) optimized, cells compiled the way evcxr chooses.
const CARGO_CONFIG: &str = "# Written by born-kernel: dependencies of notebook cells (the Born engine)\n\
# are built optimized and without debug assertions, like the kernel itself.\n\
[profile.dev.package.\"*\"]\n\
opt-level = 3\n\
debug-assertions = false\n\
overflow-checks = false\n";

/// The engine crate's directory: `explicit`, else `BORN_ENGINE_PATH`, else the workspace's.
pub fn engine_path(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let path = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("BORN_ENGINE_PATH").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../engine")));
    let path = path
        .canonicalize()
        .map_err(|e| format!("the Born engine is not at {}: {e}", path.display()))?;
    if !path.join("Cargo.toml").is_file() {
        return Err(format!("{} has no Cargo.toml (set BORN_ENGINE_PATH)", path.display()));
    }
    Ok(path)
}

/// The crate cells link the engine through (`kernel/cells` beside the engine): the engine
/// re-exported as one shared Rust dylib, so cells do not each carry a copy of it.
pub fn cells_path(engine: &Path) -> Result<PathBuf, String> {
    let path = engine.join("../kernel/cells");
    path.canonicalize()
        .map_err(|e| format!("the Born cells crate is not at {}: {e}", path.display()))
}

/// The cache directory: `explicit`, else `BORN_CACHE_DIR`, else `$XDG_CACHE_HOME/born/evcxr`,
/// else `~/.cache/born/evcxr`.
pub fn cache_dir(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("BORN_CACHE_DIR") {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p).join("born/evcxr"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".cache/born/evcxr")),
        None => Err("no cache directory: set BORN_CACHE_DIR or HOME".into()),
    }
}

/// A locked evcxr work directory.
pub struct WorkDir {
    dir: PathBuf,
    lockfile: Option<PathBuf>,
    _lock: File,
}

impl WorkDir {
    /// Takes the first free slot in the cache directory.
    pub fn acquire(explicit: Option<&Path>, engine: &Path) -> Result<WorkDir, String> {
        let root = cache_dir(explicit)?;
        let cargo_dir = root.join(".cargo");
        std::fs::create_dir_all(&cargo_dir).map_err(|e| format!("cannot create {}: {e}", cargo_dir.display()))?;
        let config = cargo_dir.join("config.toml");
        if std::fs::read_to_string(&config).ok().as_deref() != Some(CARGO_CONFIG) {
            std::fs::write(&config, CARGO_CONFIG).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        }
        // The engine's workspace lock: cells build the engine with the kernel's dependency versions.
        let lockfile = engine.parent().map(|p| p.join("Cargo.lock")).filter(|p| p.is_file());
        for n in 0..64 {
            let lock_path = root.join(format!("slot-{n}.lock"));
            let file = File::create(&lock_path).map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
            // SAFETY: flock on a file descriptor we own.
            let locked = unsafe {
                use std::os::fd::AsRawFd;
                libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0
            };
            if !locked {
                continue;
            }
            let dir = root.join(format!("slot-{n}"));
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            if !dir.join("target").exists() {
                warm_from_sibling(&root, &dir);
            }
            return Ok(WorkDir {
                dir,
                lockfile,
                _lock: file,
            });
        }
        Err(format!("all 64 work directories in {} are in use", root.display()))
    }

    /// The evcxr crate directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` (which creates an evcxr context) with `EVCXR_TMPDIR` pointing at this
    /// directory: evcxr reads its work directory from the environment only.
    pub fn with_evcxr_env<R>(&self, f: impl FnOnce() -> R) -> R {
        static ENV: Mutex<()> = Mutex::new(());
        let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
        std::env::set_var("EVCXR_TMPDIR", &self.dir);
        add_sysroot_to_library_path();
        f()
    }

    /// Puts the engine workspace's `Cargo.lock` in place before `:dep born`, so cargo
    /// resolves the engine's dependencies to the kernel's versions without the network.
    pub fn seed_lockfile(&self) {
        if let Some(src) = &self.lockfile {
            let _ = std::fs::copy(src, self.dir.join("Cargo.lock"));
        }
    }
}

/// Puts the toolchain's library directory on `LD_LIBRARY_PATH` for the cell process.
///
/// Cells link `libstd-*.so` dynamically. evcxr relies on a relative rpath that cargo
/// computes for `target/.../deps/`, but loads the copy in `target/.../debug/`, one level
/// up: the path then misses whenever the work directory shares a parent with the
/// toolchain (as `~/.cache` and `~/.rustup` do), and `dlopen` fails.
fn add_sysroot_to_library_path() {
    let Ok(out) = std::process::Command::new("rustc")
        .args(["--print", "target-libdir"])
        .output()
    else {
        return;
    };
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if dir.is_empty() {
        return;
    }
    let current = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
    if current.split(':').any(|p| p == dir) {
        return;
    }
    let joined = if current.is_empty() {
        dir
    } else {
        format!("{dir}:{current}")
    };
    std::env::set_var("LD_LIBRARY_PATH", joined);
}

/// Copies a warm slot's `target/` into a new slot (cargo then only rebuilds what changed).
fn warm_from_sibling(root: &Path, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for e in entries.flatten() {
        let target = e.path().join("target");
        if e.path() != dir && target.is_dir() {
            let _ = std::process::Command::new("cp")
                .arg("-a")
                .arg("--reflink=auto")
                .arg(&target)
                .arg(dir.join("target"))
                .status();
            return;
        }
    }
}

/// Whether this process has a child other than the cell process: a cargo build,
/// meaning the cell has not started running yet. Linux only (false elsewhere).
pub fn compiling(cell_pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("children"))
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok())
                    .any(|p| p != cell_pid)
            })
            .unwrap_or(false)
    })
}

/// Gives the process (and the cell processes it starts) an `XDG_RUNTIME_DIR` when it has
/// none: Mesa's software GPU prints "XDG_RUNTIME_DIR is invalid or not set" into every
/// cell that touches the GPU otherwise. A private per-user directory under the temp dir;
/// call it first thing in `main`, before any thread starts.
pub fn ensure_runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_dir()) {
        return;
    }
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("born-runtime-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // Only a directory of ours that no one else can enter.
    if std::fs::metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0) {
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
    }
}
