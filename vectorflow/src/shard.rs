//! Shards: which part of the data each rank of a job reads, as a plan every rank
//! computes alike (see [`Shard`]; the readers that compute plans are in `io`). Both the
//! readers and the trainer name these types, so they import neither.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which part of the data a rank reads: rank `rank` of a job of `size` ranks, each
/// reading its own part, every row read by exactly one rank.
///
/// Every reader that opens files has a `_shard` twin of its constructors taking a
/// [`Shard`]: [`SparseFormat::stream_shard`](crate::io::SparseFormat::stream_shard) and
/// [`open_shard`](crate::io::SparseFormat::open_shard) (LIBSVM, Vowpal Wabbit),
/// [`SerdeStream::csv_shard`](crate::io::SerdeStream::csv_shard),
/// [`SerdeStream::json_lines_shard`](crate::io::SerdeStream::json_lines_shard),
/// [`CsvReader::open_shard`](crate::io::CsvReader::open_shard),
/// [`JsonLines::open_shard`](crate::io::JsonLines::open_shard), and with the feature
/// `parquet`, `ParquetStream::open_shard` and `ParquetData::read_shard`. The data is
/// split as follows, by a plan every rank computes alike from the same files:
///
/// - **one text file** (LIBSVM, VW, CSV, JSON lines) is cut into `size` byte ranges of
///   about equal length, each moved forward to the next line start: rank `r` reads the
///   lines that *start* in its range. A CSV file's header line is read by every rank
///   and is no rank's data; a sharded CSV file must not have line breaks inside quoted
///   fields (a record cut in two would be misread). With fewer lines than ranks, some
///   ranks read no rows.
/// - **a directory of text part files** (the stream constructors): its files (not its
///   subdirectories; names starting with `_` or `.`, such as `_SUCCESS`, are skipped)
///   sorted by name, each read whole by one rank (a CSV file with its header): taken in order, a file goes to the rank
///   whose share of the total bytes holds the file's middle byte, so ranks read runs of
///   files of about equal bytes. With fewer files than ranks, some ranks read none.
/// - **Parquet** (a file or a directory): the row groups, in order, each to the rank
///   whose share of the total rows holds the group's middle row.
///
/// The rows a rank reads keep their order in the data. A stream's
/// [`Stream::shard`](crate::train::Stream::shard) gives its [`ShardPlan`]: one line
/// ([`ShardPlan::describe`]) and a fingerprint of the whole job's plan
/// ([`ShardPlan::fingerprint`]), the same on every rank that opens the same path and
/// sees the same files there, for a job to check at start that its ranks agree. A stream's
/// [`source`](crate::train::Stream::source) names its shard, so the binary cache of one
/// rank's rows ([`Trainer::cache`](crate::train::Trainer::cache)) is never read by
/// another rank, nor by a job of another size: it is rebuilt.
///
/// Holdout rows ([`Trainer::holdout`](crate::train::Trainer::holdout)) are chosen by
/// each row's index in what the trainer reads: with a shard, the index within the
/// shard, so every rank chooses by the same rule over its own rows.
///
/// Errors name the file and its true line: a shard that starts inside a file counts the
/// lines before its start when it meets a malformed line, not before, so reading pays
/// nothing for it. The row line numbers of [`SparseRows::lines`](crate::io::SparseRows::lines)
/// count from the shard's first line.
///
/// ```no_run
/// use vectorflow::io::{LibSvm, Shard, SparseFormat};
/// use vectorflow::train::Stream;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Rank 2 of 4 reads the lines that start in the third quarter of the file.
/// let rows = LibSvm::new().stream_shard("train.svm", Shard::new(2, 4)?)?;
/// println!("{}", rows.shard().unwrap().describe());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    rank: usize,
    size: usize,
}

impl Shard {
    /// Rank `rank` (from 0) of a job of `size` ranks.
    ///
    /// # Errors
    ///
    /// When `size` is 0 or `rank` is not below it.
    pub fn new(rank: usize, size: usize) -> Result<Shard, ShardError> {
        if rank < size {
            Ok(Shard { rank, size })
        } else {
            Err(ShardError { rank, size })
        }
    }

    /// All the data: rank 0 of 1.
    pub const fn whole() -> Shard {
        Shard { rank: 0, size: 1 }
    }

    /// This rank, from 0.
    pub fn rank(self) -> usize {
        self.rank
    }

    /// How many ranks share the data.
    pub fn size(self) -> usize {
        self.size
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::whole()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rank {} of {}", self.rank, self.size)
    }
}

/// A rank that is not below the job's size, or a job of no ranks.
#[derive(Clone, PartialEq, Eq)]
pub struct ShardError {
    rank: usize,
    size: usize,
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.size {
            0 => write!(f, "shard: expected a job of at least 1 rank, found 0"),
            n => write!(
                f,
                "shard: expected a rank from 0 to {} in a job of {n} ranks, found {}",
                n - 1,
                self.rank
            ),
        }
    }
}

impl std::error::Error for ShardError {}

debug_as_message!(ShardError);

/// How the data of a job is split among its ranks, and which part is this rank's.
///
/// Computed by each rank alike from the files (their names, sizes and, for one text file,
/// where its lines start near each cut), so that ranks reading the same files have the
/// same plan: compare [`fingerprint`](Self::fingerprint)s across ranks at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardPlan {
    shard: Shard,
    /// The file or directory opened.
    root: PathBuf,
    split: Split,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// One text file of `len` bytes cut at line starts: rank `r` reads bytes
    /// `cuts[r]..cuts[r + 1]`; every rank reads its first `header` bytes (a CSV header)
    /// before its own, and `cuts[0] == header`.
    Bytes {
        len: u64,
        header: u64,
        cuts: Vec<u64>,
    },
    /// Whole files with their sizes, in order: rank `owner[i]` reads `files[i]`.
    Files {
        files: Vec<(PathBuf, u64)>,
        owner: Vec<usize>,
    },
    /// Row groups (file, group, rows), in order: rank `owner[i]` reads `groups[i]`.
    RowGroups {
        files: Vec<PathBuf>,
        groups: Vec<(usize, usize, u64)>,
        owner: Vec<usize>,
    },
}

impl ShardPlan {
    /// The plan of one text file of `len` bytes cut at `cuts` (see [`Split::Bytes`]).
    pub(crate) fn bytes(root: &Path, shard: Shard, len: u64, header: u64, cuts: Vec<u64>) -> Self {
        ShardPlan {
            shard,
            root: root.to_path_buf(),
            split: Split::Bytes { len, header, cuts },
        }
    }

    /// The plan of whole files (with their sizes, in order), balanced by bytes.
    pub(crate) fn files(root: &Path, shard: Shard, files: Vec<(PathBuf, u64)>) -> Self {
        let sizes: Vec<u64> = files.iter().map(|f| f.1).collect();
        let owner = assign(&sizes, shard.size);
        ShardPlan {
            shard,
            root: root.to_path_buf(),
            split: Split::Files { files, owner },
        }
    }

    /// The plan of row groups (file index, group, rows) of `files`, balanced by rows.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub(crate) fn row_groups(
        root: &Path,
        shard: Shard,
        files: Vec<PathBuf>,
        groups: Vec<(usize, usize, u64)>,
    ) -> ShardPlan {
        let rows: Vec<u64> = groups.iter().map(|g| g.2).collect();
        let owner = assign(&rows, shard.size);
        ShardPlan {
            shard,
            root: root.to_path_buf(),
            split: Split::RowGroups {
                files,
                groups,
                owner,
            },
        }
    }

    /// This rank and the job's size.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// This rank's part in one line, with the plan's fingerprint: `rank 2 of 4:
    /// train.svm bytes 1000..2000 of 4000 (plan 5f0c2a9d81e4b736)`.
    pub fn describe(&self) -> String {
        let root = self.root.display();
        let r = self.shard.rank;
        let what = match &self.split {
            Split::Bytes { len, header, cuts } => {
                let head = match header {
                    0 => String::new(),
                    h => format!(" after its header 0..{h}"),
                };
                format!("{root} bytes {}..{} of {len}{head}", cuts[r], cuts[r + 1])
            }
            Split::Files { files, owner } => {
                let mine: Vec<&(PathBuf, u64)> = mine(files, owner, r).collect();
                let total: u64 = files.iter().map(|f| f.1).sum();
                let bytes: u64 = mine.iter().map(|f| f.1).sum();
                let names = match (mine.first(), mine.last()) {
                    (Some(a), Some(b)) if mine.len() > 1 => {
                        format!("{} to {}, ", file_name(&a.0), file_name(&b.0))
                    }
                    (Some(a), _) => format!("{}, ", file_name(&a.0)),
                    _ => String::new(),
                };
                format!(
                    "{} of the {} files of {root} ({names}{bytes} of {total} bytes)",
                    mine.len(),
                    files.len()
                )
            }
            Split::RowGroups { groups, owner, .. } => {
                let mine: Vec<_> = mine(groups, owner, r).collect();
                let total: u64 = groups.iter().map(|g| g.2).sum();
                let rows: u64 = mine.iter().map(|g| g.2).sum();
                format!(
                    "{} of the {} row groups of {root} ({rows} of {total} rows)",
                    mine.len(),
                    groups.len()
                )
            }
        };
        format!("{}: {what} (plan {:016x})", self.shard, self.fingerprint())
    }

    /// A fingerprint of the whole job's plan (not of the rank): the path opened, the
    /// job's size and every rank's part (byte ranges; file names and sizes; row groups
    /// and their rows). Ranks that read the same files get the same number, whatever
    /// the platform or the build.
    pub fn fingerprint(&self) -> u64 {
        // Canonical text, each name preceded by its length so that none runs into the
        // next, hashed as feature groups are (FNV-1a).
        use std::fmt::Write;
        let name = |p: &Path| {
            let p = p.display().to_string();
            format!("{}:{p}", p.len())
        };
        let mut text = format!("{} {}", name(&self.root), self.shard.size);
        // Writing to a String cannot fail.
        let _ = match &self.split {
            Split::Bytes { len, header, cuts } => write!(text, " bytes {len} {header} {cuts:?}"),
            Split::Files { files, owner } => {
                let files: Vec<String> = files
                    .iter()
                    .map(|(p, n)| format!("{} {n}", name(p)))
                    .collect();
                write!(text, " files {} {owner:?}", files.join(" "))
            }
            Split::RowGroups {
                files,
                groups,
                owner,
            } => {
                let files: Vec<String> = files.iter().map(|p| name(p)).collect();
                write!(text, " row groups {} {groups:?} {owner:?}", files.join(" "))
            }
        };
        crate::features::group_id(&text)
    }

    /// The row groups this rank reads, as (file, 0-based row group); empty for text.
    pub fn row_groups_read(&self) -> Vec<(PathBuf, usize)> {
        match &self.split {
            Split::RowGroups {
                files,
                groups,
                owner,
            } => mine(groups, owner, self.shard.rank)
                .map(|&(f, g, _)| (files[f].clone(), g))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether this rank reads the row group `group` of the `file`-th file.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub(crate) fn reads_group(&self, file: usize, group: usize) -> bool {
        match &self.split {
            Split::RowGroups { groups, owner, .. } => groups
                .iter()
                .zip(owner)
                .any(|(g, &o)| o == self.shard.rank && g.0 == file && g.1 == group),
            _ => true,
        }
    }

    /// The file or directory opened.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// How the data is split.
    pub(crate) fn split(&self) -> &Split {
        &self.split
    }

    /// The files this rank reads and the bytes of each (`0..len` for a whole file; a
    /// CSV file's range leaves out its header line); empty for Parquet.
    pub fn ranges(&self) -> Vec<(PathBuf, std::ops::Range<u64>)> {
        let r = self.shard.rank;
        match &self.split {
            Split::Bytes { cuts, .. } => vec![(self.root.clone(), cuts[r]..cuts[r + 1])],
            Split::Files { files, owner } => mine(files, owner, r)
                .map(|(path, len)| (path.clone(), 0..*len))
                .collect(),
            Split::RowGroups { .. } => Vec::new(),
        }
    }

    /// Whether this is one rank's part of the data rather than all of it.
    pub(crate) fn is_part(&self) -> bool {
        self.shard.size > 1
    }
}

impl fmt::Display for ShardPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The items of `all` that rank `rank` owns.
pub(crate) fn mine<'a, T>(
    all: &'a [T],
    owner: &'a [usize],
    rank: usize,
) -> impl Iterator<Item = &'a T> {
    all.iter()
        .zip(owner)
        .filter(move |(_, &o)| o == rank)
        .map(|(t, _)| t)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The owner of each of `weights` (in order) among `size` ranks: the rank whose share of
/// the total holds the item's middle, so that ranks own runs of items of about equal
/// weight. Items of no weight at all are shared out by count.
fn assign(weights: &[u64], size: usize) -> Vec<usize> {
    let total: u128 = weights.iter().map(|&w| w as u128).sum();
    let size = size.max(1) as u128;
    let mut before = 0u128;
    let mut owner = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let rank = match total {
            0 => i as u128 * size / weights.len() as u128,
            _ => (2 * before + w as u128) * size / (2 * total),
        };
        owner.push(rank.min(size - 1) as usize);
        before += w as u128;
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_runs_of_about_equal_weight() {
        assert_eq!(assign(&[10; 10], 4), [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]);
        assert_eq!(assign(&[5, 5], 4), [1, 3]);
        assert_eq!(assign(&[0, 0, 0], 2), [0, 0, 1]);
        assert_eq!(assign(&[1, 100, 1], 2), [0, 1, 1]);
        assert_eq!(assign(&[u64::MAX, u64::MAX], 2), [0, 1]);
        assert!(assign(&[], 3).is_empty());
    }

    /// Ranks of a job may run different builds: the fingerprint is pinned.
    #[test]
    fn fingerprints_are_pinned() {
        let plan = |rank| {
            let shard = Shard::new(rank, 2).unwrap();
            ShardPlan::bytes(Path::new("train.svm"), shard, 10, 0, vec![0, 4, 10])
        };
        assert_eq!(plan(0).fingerprint(), plan(1).fingerprint());
        assert_eq!(
            format!("{:016x}", plan(1).fingerprint()),
            "482826b4bf6e9a53"
        );
        let files = vec![(PathBuf::from("d/a"), 3), (PathBuf::from("d/b"), 5)];
        let plan = ShardPlan::files(Path::new("d"), Shard::whole(), files);
        assert_eq!(format!("{:016x}", plan.fingerprint()), "e543f639cdec08db");
    }

    #[test]
    fn a_rank_must_be_below_the_size() {
        assert!(Shard::new(3, 4).is_ok());
        let e = Shard::new(4, 4).unwrap_err().to_string();
        assert!(e.contains("from 0 to 3") && e.contains("found 4"), "{e}");
        assert!(Shard::new(0, 0)
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
    }
}
