//! The plans of text files and directories of them, and the parts of files a rank reads
//! ([`Shard`](crate::io::Shard)).

mod part;

pub(crate) use part::{line_start_at, Part};

use super::ReadError;
use crate::shard::{mine, Shard, ShardPlan, Split};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The plan of a text file or a directory of text part files; `header`: each file's
/// first line is a header (CSV).
pub(crate) fn text(root: &Path, shard: Shard, header: bool) -> Result<ShardPlan, ReadError> {
    let name: Arc<str> = root.display().to_string().into();
    let io = |e| ReadError::io(&name, e);
    let meta = std::fs::metadata(root).map_err(io)?;
    if meta.is_dir() {
        let files = list_files(root).map_err(io)?;
        if files.is_empty() {
            return Err(io(std::io::Error::other("no files in this directory")));
        }
        return Ok(ShardPlan::files(root, shard, files));
    }
    if !meta.is_file() {
        // A pipe has no length to cut, and every rank would read from the same one.
        let e = "not a regular file or a directory, which a shard needs";
        return Err(io(std::io::Error::other(e)));
    }
    let mut file = File::open(root).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let header = match header {
        true => line_start_at(&mut file, 1).map_err(io)?.min(len),
        false => 0,
    };
    let size = shard.size() as u64;
    let mut cuts = vec![header];
    for k in 1..size {
        let at = header + ((len - header) as u128 * k as u128 / size as u128) as u64;
        let at = line_start_at(&mut file, at).map_err(io)?.max(header);
        cuts.push(at.max(cuts[cuts.len() - 1]).min(len));
    }
    cuts.push(len);
    Ok(ShardPlan::bytes(root, shard, len, header, cuts))
}

/// What a stream of `path` reads: the whole file, or with a shard, the parts of files
/// its plan gives this rank, and the plan.
pub(crate) fn stream_parts(
    path: &Path,
    shard: Option<Shard>,
    header: bool,
) -> Result<(Vec<Part>, Option<ShardPlan>), ReadError> {
    Ok(match shard {
        None => (vec![Part::file(path)], None),
        Some(shard) => {
            let plan = text(path, shard, header)?;
            (parts(&plan), Some(plan))
        }
    })
}

/// The plan of one text file (a directory is an error) and this rank's part of it.
pub(crate) fn file_part(
    path: &Path,
    shard: Shard,
    header: bool,
) -> Result<(Part, ShardPlan), ReadError> {
    let plan = text(path, shard, header)?;
    match plan.split() {
        Split::Bytes { .. } => Ok((parts(&plan).remove(0), plan)),
        _ => Err(ReadError::io(
            &path.display().to_string().into(),
            std::io::Error::other(
                "a directory, whose files a stream's `_shard` constructor reads \
                 (`stream_shard`, `csv_shard`, `json_lines_shard`)",
            ),
        )),
    }
}

/// The parts of text files `plan` gives its rank, in order.
fn parts(plan: &ShardPlan) -> Vec<Part> {
    let r = plan.shard().rank();
    match plan.split() {
        Split::Bytes { header, cuts, .. } => vec![Part {
            start: cuts[r],
            end: cuts[r + 1],
            header: *header,
            ..Part::whole(plan.root(), 0)
        }],
        Split::Files { files, owner } => mine(files, owner, r)
            .map(|(path, len)| Part::whole(path, *len))
            .collect(),
        Split::RowGroups { .. } => Vec::new(),
    }
}

/// The regular files directly in `dir` (links followed), but for names starting with `_`
/// or `.`, with their sizes, sorted by path.
fn list_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(['_', '.']) {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path)?;
        if meta.is_file() {
            files.push((path, meta.len()));
        }
    }
    files.sort();
    Ok(files)
}
