//! An OSV database on disk (a directory of `*.json` records, as osv.dev's per-ecosystem
//! `all.zip` unpacks, or that zip itself) → an [`Index`], built once and cached by the database's
//! digest: the sha256 of the zip's bytes, or of the directory's listing (relative path, size and
//! modification time of every record), so a changed database is always re-read.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::index::{FORMAT, Index};
use crate::osv::Record;

/// Largest record read (osv.dev's records are a few KiB; this bounds a hostile file).
const MAX_RECORD: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("{path}: {problem}")]
    Io { path: String, problem: String },
    #[error("{path}: not an OSV record: {problem}")]
    Record { path: String, problem: String },
    #[error("{path}: not a directory of OSV records nor a zip of them")]
    Kind { path: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> DatabaseError {
    DatabaseError::Io {
        path: path.display().to_string(),
        problem: e.to_string(),
    }
}

/// A loaded database: its index and whether it came from the cache.
pub struct Loaded {
    pub index: Index,
    pub cached: bool,
}

/// The record files of a directory, sorted, recursively.
fn record_files(dir: &Path) -> Result<Vec<PathBuf>, DatabaseError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let p = e.map_err(|e| io(&d, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The database's digest (see the module doc).
pub fn digest(path: &Path) -> Result<String, DatabaseError> {
    let mut h = Sha256::new();
    if path.is_dir() {
        for f in record_files(path)? {
            let m = std::fs::metadata(&f).map_err(|e| io(&f, e))?;
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let rel = f.strip_prefix(path).unwrap_or(&f);
            h.update(format!("{} {} {mtime}\n", rel.display(), m.len()).as_bytes());
        }
    } else if path.is_file() {
        let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(|e| io(path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    } else {
        return Err(io(path, "no such file or directory"));
    }
    Ok(hex::encode(h.finalize()))
}

fn parse(path: &str, bytes: &[u8]) -> Result<Record, DatabaseError> {
    serde_json::from_slice(bytes).map_err(|e| DatabaseError::Record {
        path: path.to_string(),
        problem: e.to_string(),
    })
}

/// Reads every record of the database into a new index.
pub fn build(path: &Path, digest: &str) -> Result<Index, DatabaseError> {
    let mut index = Index::new(digest);
    if path.is_dir() {
        for f in record_files(path)? {
            let file = std::fs::File::open(&f).map_err(|e| io(&f, e))?;
            let mut bytes = Vec::new();
            file.take(MAX_RECORD)
                .read_to_end(&mut bytes)
                .map_err(|e| io(&f, e))?;
            index.add(parse(&f.display().to_string(), &bytes)?);
        }
        return Ok(index);
    }
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|_| DatabaseError::Kind {
        path: path.display().to_string(),
    })?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| io(path, e))?;
        let entry_name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        if !entry.is_file() || !entry_name.ends_with(".json") {
            continue;
        }
        let name = format!("{}!{entry_name}", path.display());
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_RECORD)
            .read_to_end(&mut bytes)
            .map_err(|e| io(path, e))?;
        index.add(parse(&name, &bytes)?);
    }
    Ok(index)
}

/// The index of the database at `path`: from `cache_dir/<digest>.json` when it is there and of
/// this format, else built and written there (a cache that cannot be written is only slower).
pub fn load(path: &Path, cache_dir: Option<&Path>) -> Result<Loaded, DatabaseError> {
    let digest = digest(path)?;
    let cache = cache_dir.map(|d| d.join(format!("{digest}.json")));
    if let Some(c) = &cache
        && let Ok(bytes) = std::fs::read(c)
        && let Ok(index) = serde_json::from_slice::<Index>(&bytes)
        && index.format == FORMAT
        && index.digest == digest
    {
        return Ok(Loaded {
            index,
            cached: true,
        });
    }
    let index = build(path, &digest)?;
    if let Some(c) = &cache
        && let Some(dir) = c.parent()
        && std::fs::create_dir_all(dir).is_ok()
        && let Ok(bytes) = serde_json::to_vec(&index)
    {
        let tmp = c.with_extension(format!("tmp.{}", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, c);
        }
    }
    Ok(Loaded {
        index,
        cached: false,
    })
}
