//! Shards: every rank of a job reads its own part of the data, and every line (file, row
//! group) is read by exactly one rank, in order, whatever the job's size; CSV headers are
//! every rank's and no rank's data; errors name the true line; a rank's binary cache is
//! never read by another rank or by a job of another size. Seeded, so a failure repeats.

use std::path::{Path, PathBuf};
use vectorflow::io::{
    CsvReader, JsonLines, LibSvm, ReadError, SerdeStream, Shard, SparseFormat, SparseRows, Vw,
};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::Stream;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vf-shard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn shard(rank: usize, size: usize) -> Shard {
    Shard::new(rank, size).unwrap()
}

/// A LIBSVM file of `n` lines whose labels number them from 1 (blank lines have none):
/// blank lines, lines longer than a whole shard, CRLF endings, and sometimes no final
/// newline. Gives the text and the label of each line (0 for a blank one).
fn random_file(rng: &mut Rng, n: usize) -> (Vec<u8>, Vec<u32>) {
    let (mut text, mut labels) = (Vec::new(), Vec::new());
    for i in 1..=n as u32 {
        let line = match rng.below(6) {
            0 => String::new(),
            1 => format!("{i} 1:1 # {}", "x".repeat(100 + rng.below(400))),
            _ => format!("{i} {}:0.5", 1 + rng.below(9)),
        };
        labels.push(if line.is_empty() { 0 } else { i });
        text.extend_from_slice(line.as_bytes());
        let last = i as usize == n;
        match rng.below(3) {
            _ if last && rng.below(2) == 0 => {}
            0 => text.extend_from_slice(b"\r\n"),
            _ => text.push(b'\n'),
        }
    }
    (text, labels)
}

/// The lines of `text` (without their `\n`), as a file has them.
fn lines(text: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if text.is_empty() || text.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

fn labels(rows: &SparseRows) -> Vec<u32> {
    rows.labels().iter().map(|&l| l as u32).collect()
}

/// For many files and every job size from 1 to 17: the byte ranges of the ranks are
/// consecutive and start at line starts, so the shards' lines are the file's lines,
/// each once, in order; and the rows the ranks read are the file's rows, with line
/// numbers that are the file's once the lines before each shard are added.
#[test]
fn every_line_is_read_by_exactly_one_rank_in_order() {
    let mut rng = Rng::new(21);
    let path = temp("lines.svm");
    let mut cases = 0;
    for case in 0..40 {
        let n = [0, 1, 2, 3, 5, 16, 40][case % 7] + rng.below(3) * case;
        let (text, want) = random_file(&mut rng, n);
        std::fs::write(&path, &text).unwrap();
        let whole = LibSvm::new().open(&path).unwrap().read_all().unwrap();
        let want: Vec<u32> = want.into_iter().filter(|&l| l > 0).collect();
        assert_eq!(labels(&whole), want);
        for size in 1..=17 {
            let (mut got_lines, mut got_rows, mut got_line_nos) =
                (Vec::new(), Vec::new(), Vec::new());
            let mut next = 0;
            for rank in 0..size {
                let reader = LibSvm::new().open_shard(&path, shard(rank, size)).unwrap();
                let ranges = reader.shard().unwrap().ranges();
                assert_eq!(ranges.len(), 1);
                let range = ranges[0].1.clone();
                assert_eq!(range.start, next, "size {size}: ranges follow each other");
                let start = range.start as usize;
                let line_start = start == 0 || start == text.len() || text[start - 1] == b'\n';
                assert!(
                    line_start,
                    "a range starts a line (or is empty, at the end)"
                );
                next = range.end;
                got_lines.extend(lines(&text[start..range.end as usize]));
                // Small chunks: lines straddle chunks as well as shards.
                let rows = reader.chunk_bytes(1 + rng.below(64)).read_all().unwrap();
                let before = text[..start].iter().filter(|&&b| b == b'\n').count() as u64;
                got_line_nos.extend(rows.lines().iter().map(|l| l + before));
                got_rows.extend(labels(&rows));
                cases += 1;
            }
            assert_eq!(
                next,
                text.len() as u64,
                "size {size}: the ranges end at the end"
            );
            assert_eq!(got_lines, lines(&text), "size {size}");
            assert_eq!(got_rows, want, "size {size}");
            assert_eq!(got_line_nos, whole.lines(), "size {size}");
        }
    }
    println!("{cases} shards read");
    std::fs::remove_file(&path).unwrap();
}

/// A stream of a shard hands out its rows, again after a rewind; with fewer lines than
/// ranks, some ranks read none, and that is no error here.
#[test]
fn streams_of_shards_read_their_rows_each_pass() {
    let path = temp("few.svm");
    std::fs::write(&path, "1 1:1\n2 2:1\r\n3 3:1").unwrap();
    for size in 1..=5 {
        let mut all = Vec::new();
        for rank in 0..size {
            let mut stream = LibSvm::new()
                .stream_shard(&path, shard(rank, size))
                .unwrap();
            for pass in 0..2 {
                let mut got = Vec::new();
                while stream.read(2, |row| got.push(row.label() as u32)).unwrap() > 0 {}
                if pass == 0 {
                    all.extend(got.iter().copied());
                } else {
                    assert_eq!(
                        all[all.len() - got.len()..],
                        got,
                        "pass 2 reads the same rows"
                    );
                }
                stream.rewind().unwrap();
            }
            assert_eq!(stream.shard().unwrap().shard(), shard(rank, size));
        }
        assert_eq!(all, [1, 2, 3], "size {size}");
    }
    std::fs::write(&path, "").unwrap();
    for rank in 0..3 {
        let rows = LibSvm::new()
            .open_shard(&path, shard(rank, 3))
            .unwrap()
            .read_all();
        assert!(rows.unwrap().is_empty(), "an empty file: no rows, no error");
    }
    std::fs::remove_file(&path).unwrap();
}

#[derive(serde::Deserialize, Features)]
struct Row<'a> {
    #[label]
    y: f32,
    #[hash]
    word: &'a str,
}

/// Every rank reads the CSV header (columns are matched by name in every shard) and it
/// is no rank's row; the shards' records are the file's, each once, in order.
#[test]
fn every_rank_reads_the_csv_header_and_no_rank_counts_it() {
    let path = temp("rows.csv");
    for n in [0, 1, 2, 7, 50] {
        // The columns in another order than the fields: a shard without the header
        // would misread them.
        let mut text = String::from("word,y\r\n");
        for i in 1..=n {
            text += &format!("w{i},{i}\n");
        }
        std::fs::write(&path, &text).unwrap();
        for size in 1..=9 {
            let (mut read, mut streamed) = (Vec::new(), Vec::new());
            for rank in 0..size {
                let mut reader = CsvReader::open_shard(&path, shard(rank, size)).unwrap();
                assert!(reader.headers().eq([&b"word"[..], b"y"]));
                let rows: Vec<Row> = reader.read_all().unwrap();
                for r in &rows {
                    assert_eq!(r.word, format!("w{}", r.y), "columns matched by name");
                }
                read.extend(rows.iter().map(|r| r.y as u32));
                let mut stream = SerdeStream::<Row<'static>>::csv_shard(&path, shard(rank, size));
                let stream = stream.as_mut().unwrap();
                while stream.read(100, |r| streamed.push(r.y as u32)).unwrap() > 0 {}
            }
            let want: Vec<u32> = (1..=n).collect();
            assert_eq!(read, want, "{n} records, size {size}");
            assert_eq!(streamed, want, "{n} records, size {size}");
        }
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn json_lines_shards_read_every_line_once() {
    let path = temp("rows.jsonl");
    let mut text = String::new();
    for i in 1..=30 {
        text += &format!("{{\"y\": {i}, \"word\": \"{}\"}}\n", "w".repeat(i * 7 % 40));
        if i % 4 == 0 {
            text += "\n";
        }
    }
    std::fs::write(&path, &text).unwrap();
    for size in 1..=12 {
        let (mut read, mut streamed) = (Vec::new(), Vec::new());
        for rank in 0..size {
            let mut reader = JsonLines::open_shard(&path, shard(rank, size)).unwrap();
            let rows: Vec<Row> = reader.read_all().unwrap();
            read.extend(rows.iter().map(|r| r.y as u32));
            let mut stream =
                SerdeStream::<Row<'static>>::json_lines_shard(&path, shard(rank, size)).unwrap();
            while stream.read(100, |r| streamed.push(r.y as u32)).unwrap() > 0 {}
        }
        let want: Vec<u32> = (1..=30).collect();
        assert_eq!(read, want, "size {size}");
        assert_eq!(streamed, want, "size {size}");
    }
    std::fs::remove_file(&path).unwrap();
}

/// A malformed line in a shard that starts mid-file is named by its line in the file,
/// by every reader; the other ranks read their rows.
#[test]
fn an_error_in_a_shard_names_the_true_line() {
    let (svm, csv, json) = (temp("bad.svm"), temp("bad.csv"), temp("bad.jsonl"));
    let bad = 37;
    let mut text = (String::new(), String::from("y,word\n"), String::new());
    for i in 1..=60u32 {
        let (s, c, j) = match i {
            _ if i == bad => ("1 x:1".into(), "oops,w".into(), "{\"y\": oops}".into()),
            _ => (
                format!("{i} 1:1"),
                format!("{i},w"),
                format!("{{\"y\": {i}, \"word\": \"w\"}}"),
            ),
        };
        text.0 += &format!("{s}\n");
        text.1 += &format!("{c}\n");
        text.2 += &format!("{j}\r\n");
    }
    std::fs::write(&svm, &text.0).unwrap();
    std::fs::write(&csv, &text.1).unwrap();
    std::fs::write(&json, &text.2).unwrap();
    let check = |e: Result<(), String>, file: &Path, line: u32, errors: &mut usize| {
        if let Err(e) = e {
            let at = format!("{}:{line}:", file.display());
            assert!(e.starts_with(&at), "{e} does not name {at}");
            *errors += 1;
        }
    };
    let text_err = |e: ReadError| e.to_string();
    for size in 1..=8 {
        let mut errors = 0;
        for rank in 0..size {
            let s = shard(rank, size);
            let r = LibSvm::new().open_shard(&svm, s).unwrap().read_all();
            check(r.map(drop).map_err(text_err), &svm, bad, &mut errors);
            let mut stream = LibSvm::new().stream_shard(&svm, s).unwrap();
            let r = (|| {
                while stream.read(7, |_| {})? > 0 {}
                Ok::<_, vectorflow::train::StreamError>(())
            })();
            check(r.map_err(|e| e.to_string()), &svm, bad, &mut errors);
            // The CSV header is line 1: the bad record is on line `bad + 1`.
            let mut reader = CsvReader::open_shard(&csv, s).unwrap();
            let r = reader.read_all::<Row>();
            check(r.map(drop).map_err(text_err), &csv, bad + 1, &mut errors);
            let mut reader = JsonLines::open_shard(&json, s).unwrap().chunk_bytes(50);
            let r = reader.read_all::<Row>();
            check(r.map(drop).map_err(text_err), &json, bad, &mut errors);
            let mut reader = JsonLines::open_shard(&json, s).unwrap().chunk_bytes(100);
            let r = (|| {
                while reader.next_rows_parallel::<Row>()?.is_some() {}
                Ok(())
            })();
            check(r.map_err(text_err), &json, bad, &mut errors);
        }
        assert_eq!(errors, 5, "one rank of {size} fails, in each reader");
    }
    for path in [svm, csv, json] {
        std::fs::remove_file(path).unwrap();
    }
}

/// A directory of part files is split by file: each file is read whole by one rank, in
/// the order of their names; files named `_*` or `.*` and subdirectories are not data;
/// the ranks' shares of the bytes are runs of files of about equal size.
#[test]
fn a_directory_is_split_by_file() {
    let dir = temp("parts");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    std::fs::write(dir.join(".part-9.crc"), "junk").unwrap();
    std::fs::write(dir.join("sub/part-x"), "junk").unwrap();
    let mut want = Vec::new();
    let mut rng = Rng::new(3);
    // Written out of order: the order read is the names'.
    for f in [3, 0, 5, 1, 4, 2, 6] {
        let mut text = String::new();
        for i in 0..1 + rng.below(30) {
            text += &format!("{} 1:1\n", f * 100 + i);
        }
        std::fs::write(dir.join(format!("part-{f}.svm")), &text).unwrap();
    }
    for f in 0..7 {
        let text = std::fs::read_to_string(dir.join(format!("part-{f}.svm"))).unwrap();
        want.extend(
            text.lines()
                .map(|l| l.split(' ').next().unwrap().parse::<u32>().unwrap()),
        );
    }
    for size in 1..=9 {
        let (mut got, mut files) = (Vec::new(), Vec::new());
        let mut prints = Vec::new();
        for rank in 0..size {
            let mut stream = LibSvm::new().stream_shard(&dir, shard(rank, size)).unwrap();
            while stream.read(5, |row| got.push(row.label() as u32)).unwrap() > 0 {}
            let plan = stream.shard().unwrap();
            prints.push(plan.fingerprint());
            for (path, range) in plan.ranges() {
                assert_eq!(
                    range,
                    0..std::fs::metadata(&path).unwrap().len(),
                    "whole files"
                );
                files.push(path);
            }
        }
        assert_eq!(got, want, "size {size}");
        let names: Vec<String> = (0..7).map(|f| format!("part-{f}.svm")).collect();
        let read: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into())
            .collect();
        assert_eq!(read, names, "size {size}: each file once, in order");
        assert!(
            prints.windows(2).all(|w| w[0] == w[1]),
            "one plan for the job"
        );
    }
    // The whole directory (rank 0 of 1) is every file's rows too.
    let mut stream = LibSvm::new().stream_shard(&dir, Shard::whole()).unwrap();
    let mut got = Vec::new();
    while stream.read(5, |row| got.push(row.label() as u32)).unwrap() > 0 {}
    assert_eq!(got, want);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The plan is described in one line naming the rank, the file and the bytes, and its
/// fingerprint is the job's: the same on every rank, another for another job size.
#[test]
fn a_plan_is_one_line_and_one_fingerprint_per_job() {
    let path = temp("plan.svm");
    std::fs::write(&path, "1 1:1\n".repeat(1000)).unwrap();
    let plan = |rank, size| {
        let reader = LibSvm::new().open_shard(&path, shard(rank, size)).unwrap();
        reader.shard().unwrap().clone()
    };
    let p = plan(2, 4);
    let line = p.describe();
    assert!(
        line.starts_with(&format!(
            "rank 2 of 4: {} bytes 3000..4500 of 6000",
            path.display()
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!("{:016x}", p.fingerprint())),
        "{line}"
    );
    assert!(!line.contains('\n'));
    assert_eq!(p.fingerprint(), plan(0, 4).fingerprint());
    assert_eq!(p.fingerprint(), plan(3, 4).fingerprint());
    assert_ne!(p.fingerprint(), plan(0, 3).fingerprint());
    // Computed again, from the same file: the same plan.
    assert_eq!(p, plan(2, 4));
    std::fs::remove_file(&path).unwrap();
}

type Lr = network![Sparse<{ 1 << 10 }> => Linear<1>];

/// Trains a fresh net on rank `rank` of `size`, with the cache at `cache` if given.
fn fit_shard(path: &Path, rank: usize, size: usize, cache: Option<&Path>) -> (Vec<f32>, u64) {
    let mut net = Lr::new(Init::zeros());
    let trainer = Trainer::new(AdaGrad::new(0.2))
        .threads(1)
        .shuffle(false)
        .passes(2)
        .progress(Progress::Silent);
    let trainer = match cache {
        Some(c) => trainer.cache(c),
        None => trainer,
    };
    let mut stream = LibSvm::new().stream_shard(path, shard(rank, size)).unwrap();
    let report = trainer.fit_stream(&mut net, &mut stream, Logistic).unwrap();
    (net.params().to_vec(), report.last().unwrap().rows)
}

/// The binary cache of one rank's rows is keyed on its shard: a cache written by rank 1
/// of 4 is rebuilt, never read, by rank 0 of 4 or by rank 1 of a job of 2; the same
/// shard reuses it.
#[test]
fn a_cache_is_never_read_by_another_shard() {
    let (path, cache) = (temp("cached.svm"), temp("cached.vfcache"));
    let mut text = String::new();
    for i in 0..400 {
        text += &format!("{} {}:1 {}:0.5\n", i % 2, 1 + i % 17, 20 + i % 5);
    }
    std::fs::write(&path, text).unwrap();
    let _ = std::fs::remove_file(&cache);
    let stream = LibSvm::new().stream_shard(&path, shard(1, 4)).unwrap();
    assert!(
        stream.source().contains("rank 1 of 4"),
        "{}",
        stream.source()
    );
    assert!(stream.source().contains("bytes "), "{}", stream.source());

    let r1 = fit_shard(&path, 1, 4, Some(&cache));
    assert_eq!(r1, fit_shard(&path, 1, 4, None), "a cache of its own rows");
    let written = std::fs::read(&cache).unwrap();
    assert_eq!(fit_shard(&path, 1, 4, Some(&cache)), r1);
    assert_eq!(
        std::fs::read(&cache).unwrap(),
        written,
        "the same shard reads it"
    );

    for (rank, size) in [(0, 4), (1, 2), (0, 1)] {
        let own = fit_shard(&path, rank, size, None);
        assert_ne!(own, r1);
        assert_eq!(
            fit_shard(&path, rank, size, Some(&cache)),
            own,
            "rank {rank} of {size}"
        );
        assert_ne!(std::fs::read(&cache).unwrap(), written, "rebuilt");
    }
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&cache).unwrap();
}

/// The other readers split a directory the same way: a CSV part file is read whole with
/// its own header, and Vowpal Wabbit files go through the same sparse stream.
#[test]
fn csv_and_vw_directories_are_split_by_file() {
    let (csv_dir, vw_dir) = (temp("csv-parts"), temp("vw-parts"));
    for dir in [&csv_dir, &vw_dir] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
    }
    for f in 0..4 {
        // Each file's columns in its own order: each is read with its own header.
        let mut csv = String::from(if f % 2 == 0 { "y,word\n" } else { "word,y\n" });
        let mut vw = String::new();
        for i in 0..5 + f {
            let y = f * 10 + i;
            csv += &match f % 2 {
                0 => format!("{y},w{y}\n"),
                _ => format!("w{y},{y}\n"),
            };
            vw += &format!("{y} |a w{y}\n");
        }
        std::fs::write(csv_dir.join(format!("{f}.csv")), csv).unwrap();
        std::fs::write(vw_dir.join(format!("{f}.vw")), vw).unwrap();
    }
    let want: Vec<u32> = (0..4)
        .flat_map(|f| (0..5 + f).map(move |i| f * 10 + i))
        .collect();
    for size in 1..=6 {
        let (mut csv, mut vw) = (Vec::new(), Vec::new());
        for rank in 0..size {
            let mut stream = SerdeStream::<Row<'static>>::csv_shard(&csv_dir, shard(rank, size));
            let stream = stream.as_mut().unwrap();
            while stream.read(3, |r| csv.push(r.y as u32)).unwrap() > 0 {}
            let mut stream = Vw::new().stream_shard(&vw_dir, shard(rank, size)).unwrap();
            while stream.read(3, |r| vw.push(r.label() as u32)).unwrap() > 0 {}
        }
        assert_eq!(csv, want, "size {size}");
        assert_eq!(vw, want, "size {size}");
    }
    for dir in [csv_dir, vw_dir] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Holdout rows are chosen by their index within the shard: a rank trains and holds out
/// exactly what one process does on a file of the shard's lines alone.
#[test]
fn holdout_rows_are_chosen_by_their_index_in_the_shard() {
    let (path, alone) = (temp("holdout.svm"), temp("holdout-alone.svm"));
    let mut text = String::new();
    for i in 0..300 {
        text += &format!("{} {}:1 {}:1\n", i % 3 % 2, 1 + i % 7, 10 + i % 4);
    }
    std::fs::write(&path, &text).unwrap();
    let fit = |stream: &mut vectorflow::io::SparseStream<LibSvm>| {
        let mut net = Lr::new(Init::zeros());
        let report = Trainer::new(AdaGrad::new(0.2))
            .threads(1)
            .shuffle(false)
            .passes(2)
            .holdout(Holdout::EveryKth(4))
            .progress(Progress::Silent)
            .fit_stream(&mut net, stream, Logistic)
            .unwrap();
        let losses: Vec<_> = report.passes.iter().map(|p| p.holdout_loss).collect();
        (net.params().to_vec(), losses)
    };
    for rank in 0..3 {
        let mut stream = LibSvm::new().stream_shard(&path, shard(rank, 3)).unwrap();
        let (file, range) = stream.shard().unwrap().ranges().remove(0);
        assert_eq!(file, path);
        std::fs::write(&alone, &text[range.start as usize..range.end as usize]).unwrap();
        let mut one = LibSvm::new().stream(&alone).unwrap();
        let (a, b) = (fit(&mut stream), fit(&mut one));
        assert!(a.1.iter().all(Option::is_some));
        assert_eq!(a, b, "rank {rank} of 3");
    }
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&alone).unwrap();
}

/// What cannot be sharded is an error naming it, never a panic: a pipe, an empty
/// directory, a directory given to a reader of one file, a missing path.
#[test]
fn what_cannot_be_sharded_is_an_error() {
    let dir = temp("empty-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let s = shard(0, 2);
    let e = LibSvm::new()
        .stream_shard(&dir, s)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no files"), "{e}");
    std::fs::write(dir.join("a.svm"), "1 1:1\n").unwrap();
    let e = LibSvm::new().open_shard(&dir, s).err().unwrap().to_string();
    assert!(
        e.starts_with(&dir.display().to_string()) && e.contains("a directory"),
        "{e}"
    );
    let e = JsonLines::open_shard(&dir, s).err().unwrap().to_string();
    assert!(e.contains("a directory"), "{e}");
    let e = LibSvm::new()
        .open_shard(dir.join("missing.svm"), s)
        .err()
        .unwrap();
    assert!(e.to_string().contains("missing.svm"), "{e}");
    #[cfg(unix)]
    {
        let e = LibSvm::new()
            .stream_shard("/dev/null", s)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
