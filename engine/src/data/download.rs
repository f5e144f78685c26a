//! Dataset files: where they are looked for, and how they are downloaded.
//!
//! A [`Source`] names a dataset, its files with their SHA-256 and the mirrors
//! to download them from. [`Source::locate`] looks in `$BORN_DATA/<name>/`,
//! then the user cache (`$XDG_CACHE_HOME/born/datasets/<name>` or
//! `~/.cache/born/datasets/<name>`), then the source's system directories, and
//! otherwise downloads into the user cache with [`Source::fetch`]: each file goes
//! to a temporary file in the cache directory, its SHA-256 is checked, and only
//! then is it renamed into place, so a corrupted or partial download is never cached.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable that names a directory of datasets (`$BORN_DATA/<name>/`).
pub const DATA_ENV: &str = "BORN_DATA";

/// One file of a dataset and the SHA-256 of its bytes as the mirrors serve them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// File name, as on the mirrors (for example `train-images-idx3-ubyte.gz`).
    pub name: String,
    /// Lower-case hex SHA-256 of the file as downloaded.
    pub sha256: String,
}

impl FileSpec {
    /// A file and its SHA-256.
    pub fn new(name: impl Into<String>, sha256: impl Into<String>) -> FileSpec {
        FileSpec {
            name: name.into(),
            sha256: sha256.into().to_ascii_lowercase(),
        }
    }

    /// The path of this file in `dir`: the name itself, or the name without
    /// `.gz` (an uncompressed copy), whichever exists.
    pub fn find_in(&self, dir: &Path) -> Option<PathBuf> {
        let p = dir.join(&self.name);
        if p.is_file() {
            return Some(p);
        }
        let raw = dir.join(self.name.strip_suffix(".gz")?);
        raw.is_file().then_some(raw)
    }
}

/// A downloadable dataset: its name, files with checksums, and mirrors.
///
/// Tests and users can build their own (their own mirrors and hashes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Directory name under `$BORN_DATA` and the cache (for example `mnist`).
    pub name: String,
    /// The files, each with its SHA-256.
    pub files: Vec<FileSpec>,
    /// Base URLs tried in order; a file's URL is the base followed by its name.
    pub mirrors: Vec<String>,
    /// Directories of system packages to look in after the cache.
    pub system_dirs: Vec<PathBuf>,
}

/// MNIST file names and the SHA-256 of the original `.gz` files, as served by
/// every public mirror (the same bytes as Yann LeCun's original distribution).
pub const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
];

/// Fashion-MNIST file names and the SHA-256 of the original `.gz` files served
/// by Zalando's mirror (whose MD5s are the well-known `8d4fb7e6...`, `25c81989...`,
/// `bef4ecab...`, `bb300cfd...`). Debian's `dataset-fashion-mnist` recompresses
/// the same data, so its `.gz` bytes differ: files found locally are not hashed but
/// checked by content when loaded (IDX header, shapes, counts, label range).
pub const FASHION_MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
];

fn err(reason: impl Into<String>) -> Error {
    Error::arg("datasets", reason)
}

impl Source {
    /// A source from `(file name, sha256)` pairs and mirror base URLs.
    pub fn new(name: impl Into<String>, files: &[(&str, &str)], mirrors: &[&str]) -> Source {
        Source {
            name: name.into(),
            files: files.iter().map(|&(n, h)| FileSpec::new(n, h)).collect(),
            mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
            system_dirs: Vec::new(),
        }
    }

    /// MNIST: PyTorch's and TensorFlow's public mirrors (no system package).
    pub fn mnist() -> Source {
        Source::new(
            "mnist",
            &MNIST_FILES,
            &[
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ],
        )
    }

    /// Fashion-MNIST: Zalando's mirror (and the GitHub copy), and Debian's
    /// `dataset-fashion-mnist` package in `/usr/share/datasets/fashion-mnist`.
    pub fn fashion_mnist() -> Source {
        let mut s = Source::new(
            "fashion-mnist",
            &FASHION_MNIST_FILES,
            &[
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            ],
        );
        s.system_dirs.push(PathBuf::from("/usr/share/datasets/fashion-mnist"));
        s
    }

    /// The directories [`Source::locate`] searches, in order: `$BORN_DATA/<name>`
    /// (when set), the user cache, then the system directories.
    pub fn search_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(d) = std::env::var_os(DATA_ENV).filter(|d| !d.is_empty()) {
            dirs.push(PathBuf::from(d).join(&self.name));
        }
        if let Some(c) = self.cache_dir() {
            dirs.push(c);
        }
        dirs.extend(self.system_dirs.iter().cloned());
        dirs
    }

    /// The user cache directory of this dataset: `$XDG_CACHE_HOME/born/datasets/<name>`,
    /// else `$HOME/.cache/born/datasets/<name>` (None without either variable).
    pub fn cache_dir(&self) -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|d| !d.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        Some(base.join("born").join("datasets").join(&self.name))
    }

    /// The first of `dirs` that holds every file (compressed or not).
    pub fn find(&self, dirs: &[PathBuf]) -> Option<PathBuf> {
        dirs.iter()
            .find(|d| self.files.iter().all(|f| f.find_in(d).is_some()))
            .cloned()
    }

    /// Finds the dataset in the default places ([`Source::search_dirs`]) or
    /// downloads it into the user cache; returns the directory holding the files.
    pub fn locate(&self) -> Result<PathBuf> {
        let cache = self.cache_dir();
        self.locate_in(&self.search_dirs(), cache.as_deref())
    }

    /// Like [`Source::locate`] with explicit places: the first of `dirs` that
    /// holds every file, else a download into `cache` (when given). Fails with
    /// one error that lists the places searched, the download failures, and
    /// where to put the files.
    pub fn locate_in(&self, dirs: &[PathBuf], cache: Option<&Path>) -> Result<PathBuf> {
        if let Some(d) = self.find(dirs) {
            return Ok(d);
        }
        let failure = match cache {
            Some(c) => match self.fetch(c) {
                Ok(()) => return Ok(c.to_path_buf()),
                Err(e) => e.to_string(),
            },
            None => "no cache directory (neither XDG_CACHE_HOME nor HOME is set), so nothing was downloaded".into(),
        };
        let names: Vec<&str> = self.files.iter().map(|f| f.name.as_str()).collect();
        let searched: Vec<String> = dirs.iter().map(|d| format!("  - {}", d.display())).collect();
        let target = cache
            .map(|c| c.display().to_string())
            .unwrap_or_else(|| format!("$XDG_CACHE_HOME/born/datasets/{}", self.name));
        Err(err(format!(
            "dataset `{name}` not found and could not be downloaded.\n\
             Searched:\n{searched}\n\
             Download: {failure}\n\
             To use it offline, put the files {names} (gzip or not) in {target}, \
             or in a directory <dir>/{name}/ and set {DATA_ENV}=<dir>.",
            name = self.name,
            searched = if searched.is_empty() {
                "  (no directories)".to_string()
            } else {
                searched.join("\n")
            },
            names = names.join(", "),
        )))
    }

    /// Downloads every file missing from `dir` (created if needed), trying the
    /// mirrors in order. Each file is written to a temporary file in `dir`,
    /// checked against its SHA-256, and renamed into place only if it matches.
    pub fn fetch(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create the cache {}: {e}", dir.display())))?;
        if self.mirrors.is_empty() {
            return Err(err(format!("dataset `{}` has no mirrors to download from", self.name)));
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(60))
            .build();
        for file in &self.files {
            if file.find_in(dir).is_some() {
                continue;
            }
            let mut failures = Vec::new();
            let mut done = false;
            for mirror in &self.mirrors {
                let url = format!("{}{}", mirror, file.name);
                match download(&agent, &url, file, dir) {
                    Ok(()) => {
                        done = true;
                        break;
                    }
                    Err(e) => failures.push(format!("{url}: {e}")),
                }
            }
            if !done {
                return Err(err(format!(
                    "could not download {} from any mirror (offline?):\n    {}",
                    file.name,
                    failures.join("\n    ")
                )));
            }
        }
        Ok(())
    }
}

/// Lower-case hex SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes a temporary file when dropped, unless it was renamed into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Downloads one URL into `dir/<file.name>` through a checked temporary file.
fn download(agent: &ureq::Agent, url: &str, file: &FileSpec, dir: &Path) -> std::result::Result<(), String> {
    let resp = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Status(code, _) => format!("HTTP status {code}"),
        ureq::Error::Transport(t) => format!("unreachable ({t})"),
    })?;
    let total: Option<u64> = resp.header("Content-Length").and_then(|v| v.parse().ok());
    let tmp_path = dir.join(format!(".{}.part-{}", file.name, std::process::id()));
    let tmp = TempFile(Some(tmp_path.clone()));
    let mut out = File::create(&tmp_path).map_err(|e| format!("cannot create {}: {e}", tmp_path.display()))?;
    let mut reader = resp.into_reader();
    let mut hasher = Sha256::new();
    let mut progress = Progress::new(&file.name, total);
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("connection lost after {got} bytes: {e}")),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| format!("cannot write {}: {e}", tmp_path.display()))?;
        got += n as u64;
        progress.update(got);
    }
    progress.finish(got);
    if let Some(t) = total.filter(|&t| t != got) {
        return Err(format!("truncated: expected {t} bytes, got {got}"));
    }
    out.sync_all()
        .map_err(|e| format!("cannot write {}: {e}", tmp_path.display()))?;
    drop(out);
    let actual = hex(&hasher.finalize());
    if actual != file.sha256 {
        return Err(format!(
            "checksum mismatch: SHA-256 is {actual}, expected {} (the download is corrupt and was not cached)",
            file.sha256
        ));
    }
    let dest = dir.join(&file.name);
    std::fs::rename(&tmp_path, &dest).map_err(|e| format!("cannot move the download to {}: {e}", dest.display()))?;
    std::mem::forget(tmp);
    Ok(())
}

/// A progress bar on a terminal; a few plain lines (0%, 25%, ..., 100%) otherwise,
/// so a notebook's output is not flooded with redraws.
enum Progress {
    Bar(indicatif::ProgressBar),
    Lines {
        name: String,
        total: Option<u64>,
        next: u64,
    },
}

impl Progress {
    fn new(name: &str, total: Option<u64>) -> Progress {
        if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            let bar = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(format!("downloading {name}"));
            Progress::Bar(bar)
        } else {
            println!(
                "born: downloading {name} ({})",
                total.map(mib).unwrap_or_else(|| "size unknown".into())
            );
            Progress::Lines {
                name: name.to_string(),
                total,
                next: 1,
            }
        }
    }

    fn update(&mut self, got: u64) {
        match self {
            Progress::Bar(b) => b.set_position(got),
            Progress::Lines { name, total, next } => {
                // Quarter lines only for files big enough to take a while.
                if let Some(t) = total.filter(|&t| t >= 4 << 20) {
                    while *next < 4 && got * 4 >= t * *next {
                        println!("born: {name}: {}% ({} of {})", *next * 25, mib(got), mib(t));
                        *next += 1;
                    }
                }
            }
        }
    }

    fn finish(&mut self, got: u64) {
        match self {
            Progress::Bar(b) => b.finish_and_clear(),
            Progress::Lines { name, .. } => println!("born: {name}: done ({})", mib(got)),
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}
