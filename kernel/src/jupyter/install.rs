//! Installing the kernelspec (`kernel.json` + logos) where Jupyter looks for kernels,
//! without Python.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The kernel's name in Jupyter (`--kernel born`).
pub const KERNEL_NAME: &str = "born";
/// The name shown in launchers.
pub const DISPLAY_NAME: &str = "Born (Rust)";

const LOGO_32: &[u8] = include_bytes!("../../assets/logo-32x32.png");
const LOGO_64: &[u8] = include_bytes!("../../assets/logo-64x64.png");

/// Where to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The user's Jupyter data dir (`$JUPYTER_DATA_DIR`, else `~/.local/share/jupyter`).
    User,
    /// The active Python environment (`$VIRTUAL_ENV`, else `$CONDA_PREFIX`).
    SysPrefix,
    /// `<prefix>/share/jupyter`.
    Prefix(PathBuf),
}

impl Target {
    /// Parses `--user`, `--sys-prefix`, `--prefix P` / `--prefix=P` (default: user).
    pub fn from_args(args: &[String]) -> Result<Target, String> {
        let mut target = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let t = match a.as_str() {
                "--user" => Target::User,
                "--sys-prefix" => Target::SysPrefix,
                "--prefix" => Target::Prefix(it.next().ok_or("--prefix needs a path")?.into()),
                s if s.starts_with("--prefix=") => Target::Prefix(s["--prefix=".len()..].into()),
                other => return Err(format!("unknown option {other:?}")),
            };
            if target.replace(t).is_some() {
                return Err("give only one of --user, --sys-prefix, --prefix".into());
            }
        }
        Ok(target.unwrap_or(Target::User))
    }

    /// The `kernels/born` directory for this target.
    pub fn kernel_dir(&self) -> Result<PathBuf, String> {
        let data = match self {
            Target::User => user_data_dir()?,
            Target::SysPrefix => {
                let prefix = std::env::var_os("VIRTUAL_ENV")
                    .or_else(|| std::env::var_os("CONDA_PREFIX"))
                    .ok_or("--sys-prefix: no active environment (neither VIRTUAL_ENV nor CONDA_PREFIX is set)")?;
                PathBuf::from(prefix).join("share/jupyter")
            }
            Target::Prefix(p) => p.join("share/jupyter"),
        };
        Ok(data.join("kernels").join(KERNEL_NAME))
    }
}

/// Jupyter's user data directory, as jupyter_core computes it.
fn user_data_dir() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("JUPYTER_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(d.into());
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).ok_or("HOME is not set")?;
    if cfg!(target_os = "macos") {
        return Ok(home.join("Library/Jupyter"));
    }
    match std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        Some(x) => Ok(PathBuf::from(x).join("jupyter")),
        None => Ok(home.join(".local/share/jupyter")),
    }
}

/// The `kernel.json` for the kernel executable at `exe`.
pub fn kernelspec(exe: &Path) -> Value {
    json!({
        "argv": [exe.to_string_lossy(), "kernel", "--connection-file", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "rust",
        "interrupt_mode": "message",
        "env": {},
        "metadata": {"debugger": false},
    })
}

/// Writes the kernelspec for `exe` into `target`; returns the directory.
pub fn install(target: &Target, exe: &Path) -> Result<PathBuf, String> {
    let dir = target.kernel_dir()?;
    let exe = exe.canonicalize().map_err(|e| format!("{}: {e}", exe.display()))?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let spec = serde_json::to_string_pretty(&kernelspec(&exe)).expect("JSON");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| format!("writing {}: {e}", p.display()))
    };
    write("kernel.json", format!("{spec}\n").as_bytes())?;
    write("logo-32x32.png", LOGO_32)?;
    write("logo-64x64.png", LOGO_64)?;
    Ok(dir)
}

/// Removes the kernelspec from `target`; returns the directory if it existed.
pub fn uninstall(target: &Target) -> Result<Option<PathBuf>, String> {
    let dir = target.kernel_dir()?;
    if !dir.exists() {
        return Ok(None);
    }
    std::fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_targets() {
        assert_eq!(Target::from_args(&[]).unwrap(), Target::User);
        assert_eq!(Target::from_args(&args(&["--sys-prefix"])).unwrap(), Target::SysPrefix);
        assert_eq!(
            Target::from_args(&args(&["--prefix", "/x"])).unwrap(),
            Target::Prefix("/x".into())
        );
        assert_eq!(
            Target::from_args(&args(&["--prefix=/y"])).unwrap(),
            Target::Prefix("/y".into())
        );
        assert!(Target::from_args(&args(&["--prefix"])).is_err());
        assert!(Target::from_args(&args(&["--user", "--sys-prefix"])).is_err());
        assert!(Target::from_args(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn install_and_uninstall_in_prefix() {
        let prefix = std::env::temp_dir().join(format!("born-kernelspec-{}", std::process::id()));
        let target = Target::Prefix(prefix.clone());
        let exe = std::env::current_exe().unwrap();
        let dir = install(&target, &exe).unwrap();
        assert_eq!(dir, prefix.join("share/jupyter/kernels/born"));
        let spec: Value = serde_json::from_slice(&std::fs::read(dir.join("kernel.json")).unwrap()).unwrap();
        assert_eq!(spec["display_name"], DISPLAY_NAME);
        assert_eq!(spec["argv"][1], "kernel");
        assert_eq!(spec["argv"][3], "{connection_file}");
        assert!(Path::new(spec["argv"][0].as_str().unwrap()).is_absolute());
        assert!(std::fs::read(dir.join("logo-64x64.png"))
            .unwrap()
            .starts_with(b"\x89PNG"));
        assert_eq!(uninstall(&target).unwrap(), Some(dir.clone()));
        assert!(!dir.exists());
        assert_eq!(uninstall(&target).unwrap(), None);
        let _ = std::fs::remove_dir_all(prefix);
    }
}
