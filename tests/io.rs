//! The readers of `vectorflow::io`: every format feature and every error message.

use std::borrow::Cow;
use vectorflow::hash::{murmur3_32, namespace_seed};
use vectorflow::io::{
    Chunk, Chunker, CsvReader, JsonLines, Labels, LibSvm, OutOfRange, ReadError, SparseFormat,
    SparseRows, Vw, VwHash,
};
use vectorflow::prelude::*;

fn libsvm(text: &str) -> Result<SparseRows, ReadError> {
    LibSvm::new().parse_bytes(text.as_bytes(), "t.svm")
}

fn ids(rows: &SparseRows, i: usize) -> Vec<u32> {
    rows.row(i).ids().to_vec()
}

fn vals(rows: &SparseRows, i: usize) -> Vec<f32> {
    rows.row(i).values().to_vec()
}

// ---- LIBSVM ---------------------------------------------------------------------------

#[test]
fn libsvm_labels_of_every_kind() {
    let rows = libsvm("0 1:1\n1 1:1\n-1 1:1\n+1 1:1\n0.25 1:1\n-3.5e1 1:1\n").unwrap();
    assert_eq!(rows.labels(), [0.0, 1.0, -1.0, 1.0, 0.25, -35.0]);
    let rows = LibSvm::new()
        .labels(Labels::Binary)
        .parse_bytes(b"0 1:1\n1 1:1\n-1 1:1\n+1 1:1\n0.25 1:1\n", "t.svm")
        .unwrap();
    assert_eq!(rows.labels(), [0.0, 1.0, 0.0, 1.0, 1.0]);
    assert_eq!(rows.weights(), [1.0; 5]);
}

#[test]
fn libsvm_qid_comments_crlf_blank_lines_and_unsorted_ids() {
    let text =
        "# header comment\r\n1 qid:7 5:0.5 2:-1e-3 9:2 # trailing\r\n\r\n   \n-1 qid:8 3:1\n1\n";
    let rows = libsvm(text).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(ids(&rows, 0), [4, 1, 8]);
    assert_eq!(vals(&rows, 0), [0.5, -1e-3, 2.0]);
    assert_eq!(ids(&rows, 1), [2]);
    assert!(ids(&rows, 2).is_empty());
    assert_eq!(rows.lines(), [2, 5, 6]);
    assert_eq!(rows.row(1).line(), 5);
}

#[test]
fn libsvm_zero_based_ids_and_dimension() {
    let rows = LibSvm::new()
        .zero_based(true)
        .parse_bytes(b"1 0:1 7:2\n", "t.svm")
        .unwrap();
    assert_eq!(ids(&rows, 0), [0, 7]);
    let rows = LibSvm::new()
        .dim(8)
        .parse_bytes(b"1 8:1 1:2\n", "t.svm")
        .unwrap();
    assert_eq!(ids(&rows, 0), [7, 0]);
    let rows = LibSvm::new()
        .dim(8)
        .out_of_range(OutOfRange::Modulo)
        .parse_bytes(b"1 9:1 20:2\n", "t.svm")
        .unwrap();
    assert_eq!(ids(&rows, 0), [0, 19 % 8]);
    assert_eq!(rows.min_dim(), 4);
}

fn err(r: Result<SparseRows, ReadError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn libsvm_errors_name_file_line_field_and_expectation() {
    assert_eq!(
        err(libsvm("1 1:1\nyes 2:1\n")),
        "t.svm:2: label: expected a number (0/1, -1/+1 or a real value), found `yes`"
    );
    assert_eq!(
        err(libsvm("1 1:1\n\n1 2:1 abc\n")),
        "t.svm:3: feature 2: expected `id:value`, found `abc`"
    );
    assert_eq!(
        err(libsvm("1 3:x\n")),
        "t.svm:1: value of feature 1: expected a finite number, found `x`"
    );
    assert_eq!(
        err(libsvm("1 3:\n")),
        "t.svm:1: value of feature 1: expected a finite number, found end of line"
    );
    assert_eq!(
        err(libsvm("1 3:nan\n")),
        "t.svm:1: value of feature 1: expected a finite number, found `nan`"
    );
    assert_eq!(
        err(libsvm("1 1:1 0:1\n")),
        "t.svm:1: id of feature 2: expected a feature id of at least 1 (ids are 1-based; read 0-based files with LibSvm::zero_based), found `0`"
    );
    assert_eq!(
        err(libsvm("1 99999999999:1\n")),
        "t.svm:1: id of feature 1: expected a feature id of at most 4294967296, found `99999999999`"
    );
    // 2^64 + 1 wraps a u64 to 1: still out of range.
    assert_eq!(
        err(libsvm("1 18446744073709551617:1\n")),
        "t.svm:1: id of feature 1: expected a feature id of at most 4294967296, found `18446744073709551617`"
    );
    assert_eq!(
        err(libsvm("1 qid:x 1:1\n")),
        "t.svm:1: qid: expected `qid:` followed by an integer, found `qid:x`"
    );
    assert_eq!(
        err(LibSvm::new().dim(4).parse_bytes(b"1 5:1\n", "t.svm")),
        "t.svm:1: id of feature 1: expected a feature id of at most the dimension 4, found `5`"
    );
    assert_eq!(
        err(LibSvm::new()
            .zero_based(true)
            .dim(4)
            .parse_bytes(b"1 4:1\n", "t.svm")),
        "t.svm:1: id of feature 1: expected a feature id below the dimension 4, found `4`"
    );
    let e = libsvm("1 1:1\n-1 2:zz\n").unwrap_err();
    assert_eq!((e.file(), e.line()), ("t.svm", 2));
    assert_eq!(e.field(), Some("value of feature 1"));
    assert_eq!(e.expected(), "a finite number");
    assert_eq!(e.found(), Some("`zz`"));
}

#[test]
fn a_line_longer_than_the_maximum_is_an_error_naming_it() {
    let long = format!("1 1:1\n-1 {}\n", "2:1 ".repeat(100));
    let e = LibSvm::new()
        .reader(long.as_bytes(), "t.svm")
        .chunk_bytes(16)
        .max_line(64)
        .read_all()
        .unwrap_err();
    assert_eq!(e.line(), 2);
    assert!(
        e.to_string()
            .starts_with("t.svm:2: expected a line of at most 64 bytes, found "),
        "{e}"
    );
    // A long line within the maximum grows its chunk and parses.
    let rows = LibSvm::new()
        .reader(long.as_bytes(), "t.svm")
        .chunk_bytes(16)
        .read_all()
        .unwrap();
    assert_eq!(rows.row(1).ids().len(), 100);
}

#[test]
fn files_are_named_in_errors() {
    let dir = std::env::temp_dir().join(format!("vf_io_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.svm");
    std::fs::write(&path, "1 1:1\n1 1:1 2\n").unwrap();
    let e = LibSvm::new().open(&path).unwrap().read_all().unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: feature 2: expected `id:value`, found `2`",
            path.display()
        )
    );
    let e = LibSvm::new().open(dir.join("missing.svm")).unwrap_err();
    assert!(e
        .to_string()
        .starts_with(&format!("{}: ", dir.join("missing.svm").display())));
    assert_eq!(e.line(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every chunk size and thread count gives the same rows, line numbers and errors.
#[test]
fn chunking_and_threads_do_not_change_the_result() {
    let mut text = String::new();
    for i in 0..3000u32 {
        match i % 5 {
            0 => text.push('\n'),
            1 => text.push_str("# comment\r\n"),
            _ => text.push_str(&format!(
                "{} {}:{} {}:0.5\n",
                i % 2,
                i % 97 + 1,
                i,
                i % 13 + 1
            )),
        }
    }
    let whole = libsvm(&text).unwrap();
    assert_eq!(whole.len(), 1800);
    // Large enough pieces to take the parallel path as well.
    let big = text.repeat(40);
    let big_whole = LibSvm::new()
        .reader(big.as_bytes(), "t")
        .threads(1)
        .read_all()
        .unwrap();
    for threads in [1, 2, 3, 8] {
        for chunk in [7, 64, 4096, 1 << 20] {
            let mut reader = LibSvm::new()
                .reader(text.as_bytes(), "t.svm")
                .chunk_bytes(chunk)
                .threads(threads);
            let mut all = SparseRows::new();
            let mut rows = SparseRows::new();
            while reader.read_into(&mut rows).unwrap() {
                all.append(&rows, 0);
            }
            assert_eq!(all, whole, "threads {threads} chunk {chunk}");
        }
        let par = LibSvm::new()
            .reader(big.as_bytes(), "t")
            .threads(threads)
            .read_all()
            .unwrap();
        assert_eq!(par, big_whole, "threads {threads}");
        let bad = format!("{big}1 1:1 oops\n{big}");
        let e = LibSvm::new()
            .reader(bad.as_bytes(), "t")
            .threads(threads)
            .read_all()
            .unwrap_err();
        assert_eq!(e.line(), 3000 * 40 + 1, "threads {threads}");
    }
}

#[test]
fn sparse_rows_train_directly() {
    let mut text = String::new();
    for i in 0..400 {
        let y = i % 2;
        text.push_str(&format!(
            "{} {}:1 {}:0.5\n",
            if y == 1 { "+1" } else { "-1" },
            y + 1,
            i % 7 + 3
        ));
    }
    let rows = libsvm(&text).unwrap();
    type Lr = network![Sparse<64> => Linear<1>];
    let mut net = Lr::new(Init::zeros());
    Trainer::new(AdaGrad::new(0.5))
        .passes(3)
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows.to_rows(), Logistic)
        .unwrap();
    let correct = rows
        .iter()
        .filter(|r| (net.predict(r).unwrap()[0] > 0.0) == (r.label() > 0.0))
        .count();
    assert_eq!(correct, 400);
}

#[test]
fn chunker_ends_chunks_on_line_boundaries() {
    let mut chunker = Chunker::new(&b"ab\ncd\r\nlonger line\nx"[..], "<b>").chunk_bytes(4);
    let mut chunk = Chunk::new();
    let mut seen = Vec::new();
    while chunker.next_chunk(&mut chunk).unwrap() {
        seen.push((
            chunk.first_line(),
            String::from_utf8(chunk.text().to_vec()).unwrap(),
        ));
    }
    assert_eq!(
        seen,
        [
            (1, "ab\n".to_string()),
            (2, "cd\r\n".to_string()),
            (3, "longer line\nx".to_string()),
        ]
    );
}

// ---- Vowpal Wabbit --------------------------------------------------------------------

fn vw(text: &str) -> Result<SparseRows, ReadError> {
    Vw::new().parse_bytes(text.as_bytes(), "t.vw")
}

/// Feature ids and values that `vw --noconstant -b 24` (vowpalwabbit 9.11 for Python,
/// `Workspace.parse` and `Example.feature`) gives for these lines: our ids agree in the
/// low 24 bits, which is all VW keeps.
#[test]
fn vw_ids_match_vowpal_wabbit() {
    let cases: &[(&str, &[(u32, f32)])] = &[
        (
            "1 |ns a b:2 3 007:1.5 |default x",
            &[
                (1753338, 1.0),
                (837096, 2.0),
                (11130395, 1.0),
                (11130399, 1.5),
                (12262778, 1.0),
            ],
        ),
        (
            "-1 2.5 'tag1|carrier UA |origin EWR",
            &[(14331848, 1.0), (11746644, 1.0)],
        ),
        (
            "0.5 | a 5 :3 :4",
            &[(2451890, 1.0), (5, 1.0), (0, 3.0), (1, 4.0)],
        ),
        ("1 |ns:2 a b:0 c:hello", &[(1753338, 2.0), (4527197, 1.0)]),
        ("1 tagx|9 a 12", &[(3507982, 1.0), (21, 1.0)]),
    ];
    for (line, want) in cases {
        let rows = vw(line).unwrap();
        let got: Vec<(u32, f32)> = rows
            .row(0)
            .features()
            .map(|f| (f.id & 0xFF_FFFF, f.value))
            .collect();
        assert_eq!(&got, want, "{line}");
    }
    // `--hash all`.
    let rows = Vw::new()
        .hash(VwHash::All)
        .parse_bytes(b"1 |9 a 12 |ns 007", "t.vw")
        .unwrap();
    let got: Vec<u32> = rows.row(0).ids().iter().map(|id| id & 0xFF_FFFF).collect();
    assert_eq!(got, [5384487, 7637698, 535225]);
    // Named namespaces hash as vectorflow's own `#[hash]` fields do.
    let rows = vw("1 |carrier UA").unwrap();
    assert_eq!(
        rows.row(0).ids(),
        [murmur3_32(b"UA", namespace_seed("carrier"))]
    );
}

/// `-q` interactions: the ids `vw -q ab --noconstant -b 24 --audit` (vowpalwabbit 9.11
/// for Python) prints for these lines, in its order, and its audit names.
#[test]
fn vw_interactions_match_vowpal_wabbit() {
    let crossed = |pairs: &[[u8; 2]], line: &str, own: usize| -> Vec<(u32, f32)> {
        let rows = Vw::new()
            .interactions(pairs)
            .parse_bytes(line.as_bytes(), "t.vw")
            .unwrap();
        let row = rows.row(0);
        row.features()
            .skip(own)
            .map(|f| (f.id & 0xFF_FFFF, f.value))
            .collect()
    };
    assert_eq!(
        crossed(&[*b"ab"], "1 |a x y:2 |b z |c q", 4),
        [(16595223, 1.0), (6987138, 2.0)]
    );
    let aa = [8652432, 15759687, 12081929, 6806994, 3145628, 5897426];
    let want: Vec<(u32, f32)> = aa.iter().map(|&id| (id, 1.0)).collect();
    assert_eq!(crossed(&[*b"aa"], "1 |a x y |ab z", 3), want);
    // Without the pairs' letters nothing is added.
    assert_eq!(crossed(&[*b"ab"], "1 |a x |c q", 2), []);
    let rows = Vw::new()
        .interactions(&[*b"ab"])
        .names(true)
        .parse_bytes(b"1 |a x |b z\n", "t.vw")
        .unwrap();
    let mut names = Vec::new();
    vectorflow::features::Named::visit_named(&rows.row(0), |f| names.push(f.name.to_string()))
        .unwrap();
    assert_eq!(names, ["a^x", "b^z", "a^x*b^z"]);
}

#[test]
fn vw_labels_weights_and_tags() {
    let rows = vw("1 |a x\n-1 2.5 'id7 |a x\n0.5 0 t3|a x\n|a x\n'only |a x\n\n3\n").unwrap();
    assert_eq!(rows.len(), 6);
    let r: Vec<(f32, f32, &str)> = rows
        .iter()
        .map(|r| (r.label(), r.weight(), r.tag()))
        .collect();
    assert_eq!(r[0], (1.0, 1.0, ""));
    assert_eq!(r[1], (-1.0, 2.5, "id7"));
    assert_eq!(r[2], (0.5, 0.0, "t3"));
    assert!(r[3].0.is_nan() && r[3].1 == 1.0 && r[3].2.is_empty());
    assert!(r[4].0.is_nan() && r[4].2 == "only");
    assert_eq!(r[5], (3.0, 1.0, ""));
    assert!(rows.row(5).ids().is_empty());
    assert_eq!(rows.lines(), [1, 2, 3, 4, 5, 7]);
    let rows = Vw::new()
        .labels(Labels::Binary)
        .parse_bytes(b"-1 |a x\n1 |a x\n", "t.vw")
        .unwrap();
    assert_eq!(rows.labels(), [0.0, 1.0]);
}

#[test]
fn vw_namespaces_scales_and_string_values() {
    let rows = vw("1 |u:0.5 age:40 city:paris |v x\r\n").unwrap();
    let u = namespace_seed("u");
    let v = namespace_seed("v");
    let want = vec![
        (murmur3_32(b"age", u), 20.0),
        (murmur3_32(b"paris", murmur3_32(b"city", u)), 1.0),
        (murmur3_32(b"x", v), 1.0),
    ];
    let got: Vec<(u32, f32)> = rows.row(0).features().map(|f| (f.id, f.value)).collect();
    assert_eq!(got, want);
}

#[test]
fn vw_errors_name_file_line_field_and_expectation() {
    assert_eq!(
        err(vw("1 |a x\nyes |a x\n")),
        "t.vw:2: label: expected a number (0/1, -1/+1 or a real value), found `yes`"
    );
    assert_eq!(
        err(vw("1 -2 |a x\n")),
        "t.vw:1: importance weight: expected a non-negative number, found `-2`"
    );
    assert_eq!(
        err(vw("1 2 3 4 |a x\n")),
        "t.vw:1: label: expected at most a label, an importance weight and a tag before the first `|`, found `3`"
    );
    assert_eq!(
        err(vw("1 |a x y:1x\n")),
        "t.vw:1: feature 2 of namespace `a`: expected `name`, `name:value` with a finite number, or `name:text`, found `y:1x`"
    );
    assert_eq!(
        err(vw("1 |a:big x\n")),
        "t.vw:1: namespace `a`: expected `name:scale` with a finite number as scale, found `a:big`"
    );
    assert_eq!(
        err(vw("1 |:2 x\n")),
        "t.vw:1: namespace: expected a namespace name before `:`, found `:2`"
    );
}

// ---- CSV and JSON lines ---------------------------------------------------------------

#[derive(serde::Deserialize, Features, Debug, PartialEq)]
struct Flight<'a> {
    #[label]
    delayed: bool,
    #[hash]
    carrier: &'a str,
    #[hash]
    dest: &'a str,
    #[value]
    distance: f32,
}

#[test]
fn csv_rows_borrow_from_the_reader_chunk_by_chunk() {
    let mut text = String::from("carrier,dest,distance,delayed\n");
    for i in 0..100 {
        text.push_str(&format!("UA,\"I\nAH\",{i},{}\n", i % 3 == 0));
    }
    let mut reader = CsvReader::new(text.as_bytes(), "f.csv")
        .unwrap()
        .chunk_bytes(100);
    let (mut chunks, mut n, mut sum) = (0, 0, 0.0);
    while let Some(rows) = reader.next_rows::<Flight>().unwrap() {
        chunks += 1;
        n += rows.len();
        sum += rows.iter().map(|r| r.distance).sum::<f32>();
        assert!(rows.iter().all(|r| r.carrier == "UA" && r.dest == "I\nAH"));
        let _: &[Flight<'_>] = &rows; // trainable as a slice
    }
    assert!(chunks > 5, "{chunks}");
    assert_eq!((n, sum), (100, 4950.0));
}

/// The quickstart's pattern as a library call: the shipped flights sample, streamed into
/// borrowed rows, then read whole (one chunk) to train on as a slice.
#[derive(serde::Deserialize, Features)]
struct SampleFlight<'a> {
    #[serde(skip)]
    #[label]
    delayed: bool,
    #[skip]
    arr_delay: f32,
    #[hash]
    carrier: &'a str,
    #[hash]
    origin: &'a str,
    #[hash]
    dest: &'a str,
}

#[test]
fn csv_reads_the_flights_sample() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/flights_sample.csv");
    let mut reader = CsvReader::open(path).unwrap().chunk_bytes(64 << 10);
    let (mut chunks, mut n, mut late) = (0, 0, 0);
    while let Some(rows) = reader.next_rows::<SampleFlight>().unwrap() {
        chunks += 1;
        n += rows.len();
        late += rows.iter().filter(|r| r.arr_delay > 15.0).count();
        assert!(rows
            .iter()
            .all(|r| r.origin.len() == 3 && r.dest.len() == 3));
    }
    assert!(chunks > 5, "{chunks}");
    assert_eq!(n, 22098);
    let mut reader = CsvReader::open(path).unwrap().chunk_bytes(usize::MAX);
    let mut rows = reader.next_rows::<SampleFlight>().unwrap().unwrap();
    assert_eq!(rows.len(), 22098);
    for r in &mut rows {
        r.delayed = r.arr_delay > 15.0;
    }
    assert_eq!(rows.iter().filter(|r| r.delayed).count(), late);
    type Lr = network![Sparse<{ 1 << 16 }> => Linear<1>];
    let mut net = Lr::new(Init::zeros());
    Trainer::new(AdaGrad::new(0.05))
        .passes(1)
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows, Logistic)
        .unwrap();
    assert!(reader.next_rows::<SampleFlight>().unwrap().is_none());
}

#[test]
fn csv_errors_name_file_line_column_and_expectation() {
    let text = "carrier,dest,distance,delayed\nUA,IAH,1400,true\n\"B6\",JFK,far,false\n";
    let mut reader = CsvReader::new(text.as_bytes(), "f.csv").unwrap();
    let e = reader.next_rows::<Flight>().unwrap_err();
    assert_eq!(e.line(), 3);
    assert_eq!(e.field(), Some("column `distance`"));
    assert_eq!(
        e.to_string(),
        "f.csv:3: column `distance`: invalid float literal (found `far`)"
    );
    let text = "carrier,dest,distance,delayed\nUA,IAH,1400,true\nUA,IAH\n";
    let mut reader = CsvReader::new(text.as_bytes(), "f.csv").unwrap();
    assert_eq!(
        reader.next_rows::<Flight>().unwrap_err().to_string(),
        "f.csv:3: expected 4 fields, as in the header, found 2"
    );
    let text = format!(
        "carrier,dest,distance,delayed\nUA,IAH,1400,true\nUA,{},1,true\n",
        "x".repeat(100_000)
    );
    let mut reader = CsvReader::new(text.as_bytes(), "f.csv")
        .unwrap()
        .max_record(65536);
    let e = reader.next_rows::<Flight>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "f.csv:3: expected a record of at most 65536 bytes, found a longer one"
    );
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Event<'a> {
    user: &'a str,
    #[serde(borrow)]
    note: Cow<'a, str>,
    clicks: u32,
}

#[test]
fn json_lines_rows_borrow_from_the_chunk() {
    let text = "{\"user\":\"ann\",\"note\":\"plain\",\"clicks\":3}\n\n{\"user\":\"bob\",\"note\":\"say \\\"hi\\\"\",\"clicks\":0}\r\n";
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl").chunk_bytes(8);
    let mut all = Vec::new();
    while let Some(rows) = reader.next_rows::<Event>().unwrap() {
        for r in rows {
            assert!(matches!(r.note, Cow::Borrowed(_)) == (r.user == "ann"));
            all.push((r.user.to_string(), r.note.into_owned(), r.clicks));
        }
    }
    assert_eq!(
        all,
        [
            ("ann".to_string(), "plain".to_string(), 3),
            ("bob".to_string(), "say \"hi\"".to_string(), 0)
        ]
    );
}

#[test]
fn json_lines_parallel_keeps_order_and_reports_the_first_error() {
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!(
            "{{\"user\":\"u{i}\",\"note\":\"\",\"clicks\":{i}}}\n"
        ));
        if i % 10 == 0 {
            text.push('\n');
        }
    }
    let mut serial = Vec::new();
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl").chunk_bytes(20_000);
    while let Some(rows) = reader.next_rows::<Event>().unwrap() {
        serial.extend(rows.into_iter().map(|r| r.clicks));
    }
    let mut parallel = Vec::new();
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl").chunk_bytes(20_000);
    while let Some(rows) = reader.next_rows_parallel::<Event>().unwrap() {
        parallel.extend(rows.into_iter().map(|r| r.clicks));
    }
    assert_eq!(serial, (0..5000).collect::<Vec<u32>>());
    assert_eq!(parallel, serial);
    // Two bad lines in one chunk: the first is reported, with its line number.
    let bad = text
        .replacen("\"clicks\":120}", "\"clicks\":-1}", 1)
        .replacen("\"clicks\":4000}", "\"clicks\":x}", 1);
    let mut reader = JsonLines::new(bad.as_bytes(), "e.jsonl");
    let e = loop {
        match reader.next_rows_parallel::<Event>() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("bad lines accepted"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.line(), 120 + 12 + 1);
    assert_eq!(e.field(), Some("field `clicks`"));
    // A bad line in a later piece: its line number counts the earlier pieces' lines.
    let bad = text.replacen("\"clicks\":4000}", "\"clicks\":x}", 1);
    let mut reader = JsonLines::new(bad.as_bytes(), "e.jsonl");
    let e = reader.next_rows_parallel::<Event>().unwrap_err();
    assert_eq!(e.line(), 4000 + 400 + 1);
    let mut reader = JsonLines::new(bad.as_bytes(), "e.jsonl");
    assert_eq!(
        reader.next_rows::<Event>().unwrap_err().to_string(),
        e.to_string()
    );
}

#[test]
fn json_lines_errors_name_file_line_field_and_expectation() {
    let text = "{\"user\":\"ann\",\"note\":\"\",\"clicks\":3}\n{\"user\":\"bob\",\"note\":\"\",\"clicks\":\"many\"}\n";
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl");
    let e = reader.next_rows::<Event>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "e.jsonl:2: field `clicks`: invalid type: string \"many\", expected u32 (column 39)"
    );
    assert_eq!(e.field(), Some("field `clicks`"));
    let mut reader = JsonLines::new(&b"{\"user\":\"ann\",\"note\":\"\"}\n"[..], "e.jsonl");
    assert_eq!(
        reader.next_rows::<Event>().unwrap_err().to_string(),
        "e.jsonl:1: missing field `clicks` (column 24)"
    );
    let mut reader = JsonLines::new(
        &b"{\"user\":\"ann\",\"note\":\"\",\"clicks\":1} x\n"[..],
        "e.jsonl",
    );
    assert_eq!(
        reader.next_rows::<Event>().unwrap_err().to_string(),
        "e.jsonl:1: trailing characters (column 37)"
    );
}

#[test]
fn json_lines_longer_than_the_maximum_are_errors() {
    let text = format!(
        "{{\"user\":\"ann\",\"note\":\"\",\"clicks\":3}}\n{{\"user\":\"{}\"}}\n",
        "x".repeat(500)
    );
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl")
        .chunk_bytes(16)
        .max_line(128);
    let e = loop {
        match reader.next_rows::<Event>() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the long line was accepted"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.line(), 2);
    assert!(
        e.to_string()
            .starts_with("e.jsonl:2: expected a line of at most 128 bytes, found "),
        "{e}"
    );
}

#[test]
fn read_ahead_gives_the_readers_chunks_and_errors() {
    let text: String = (0..5000)
        .map(|i| format!("{} {}:0.{i}\n", i % 2, i % 50 + 1))
        .collect();
    let reader = |t: &str| {
        LibSvm::new()
            .reader(std::io::Cursor::new(t.to_string()), "t.svm")
            .chunk_bytes(4096)
    };
    let (mut direct, mut ahead) = (reader(&text), reader(&text).ahead().unwrap());
    let (mut a, mut b) = (SparseRows::new(), SparseRows::new());
    let mut chunks = 0;
    loop {
        let more = direct.read_into(&mut a).unwrap();
        assert_eq!(ahead.read_into(&mut b).unwrap(), more);
        assert_eq!(a, b, "chunk {chunks}");
        if !more {
            break;
        }
        chunks += 1;
    }
    assert!(chunks > 10, "{chunks} chunks");
    // After the end, every call gives the end.
    assert!(!ahead.read_into(&mut b).unwrap());
    assert!(b.is_empty());

    // An error comes after the chunks before it, naming its line, and ends the reader.
    let bad = format!("{text}1 7:x\n{text}");
    let mut ahead = reader(&bad).ahead().unwrap();
    let mut rows = 0;
    let e = loop {
        match ahead.read_into(&mut b) {
            Ok(true) => rows += b.len(),
            Ok(false) => panic!("no error after {rows} rows"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        e.to_string(),
        "t.svm:5001: value of feature 1: expected a finite number, found `x`"
    );
    assert!(rows <= 5000, "{rows} rows before the error");
    assert!(!ahead.read_into(&mut b).unwrap());

    // Dropped half way: the reading thread ends rather than blocking.
    let mut ahead = reader(&bad).ahead().unwrap();
    assert!(ahead.read_into(&mut b).unwrap());
    drop(ahead);
}

#[test]
fn a_str_field_refusing_an_escape_says_to_use_cow() {
    let text = "{\"user\":\"ann\",\"note\":\"\",\"clicks\":3}\n{\"user\":\"caf\\u00e9\",\"note\":\"\",\"clicks\":1}\n";
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl");
    let e = reader.next_rows::<Event>().unwrap_err();
    assert_eq!((e.line(), e.field()), (2, Some("field `user`")));
    assert!(
        e.to_string().ends_with(
            "expected a borrowed string (column 19); a `&str` field cannot hold text with escapes: make it a `Cow<'a, str>` marked #[serde(borrow)]"
        ),
        "{e}"
    );
}

/// A row that refuses fields it does not have.
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Strict<'a> {
    #[allow(dead_code)]
    user: &'a str,
    opt: Option<u32>,
}

/// The same row with serde's default: unknown fields are ignored.
#[derive(serde::Deserialize, Debug)]
struct Lenient<'a> {
    #[allow(dead_code)]
    user: &'a str,
    opt: Option<u32>,
}

#[test]
fn unknown_fields_are_ignored_by_default_and_refused_by_deny_unknown_fields() {
    let text = "{\"user\":\"ann\",\"opt\":1}\n{\"user\":\"bob\",\"opts\":2}\n";
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl");
    let rows = reader.next_rows::<Lenient>().unwrap().unwrap();
    assert_eq!((rows[0].opt, rows[1].opt), (Some(1), None));
    let known = text.lines().next().unwrap();
    let mut reader = JsonLines::new(known.as_bytes(), "e.jsonl");
    assert_eq!(
        reader.next_rows::<Strict>().unwrap().unwrap()[0].opt,
        Some(1)
    );
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl");
    let e = reader.next_rows::<Strict>().unwrap_err();
    assert_eq!(e.line(), 2);
    assert_eq!(
        e.to_string(),
        "e.jsonl:2: field `opts`: unknown field `opts`, expected `user` or `opt` (column 20)"
    );

    let text = "user,opts\nann,1\n";
    let mut reader = CsvReader::new(text.as_bytes(), "f.csv").unwrap();
    let rows = reader.next_rows::<Lenient>().unwrap().unwrap();
    assert_eq!(rows[0].opt, None);
    let mut reader = CsvReader::new(text.as_bytes(), "f.csv").unwrap();
    let e = reader.next_rows::<Strict>().unwrap_err();
    assert_eq!(e.line(), 2);
    assert_eq!(e.field(), Some("column `opts`"));
    assert_eq!(
        e.to_string(),
        "f.csv:2: column `opts`: unknown field `opts`, expected `user` or `opt`"
    );
}

// ---- Every row at once (`read_all`) ---------------------------------------------------

/// Writes `text` to a file of this test process, named `name`.
fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vf_io_all_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `n` lines made by `line`, more than one default chunk in all.
fn lines_over_a_chunk(n: usize, line: impl Fn(usize) -> String) -> String {
    let text: String = (0..n).map(line).collect();
    assert!(
        text.len() > vectorflow::io::DEFAULT_CHUNK_BYTES,
        "{}",
        text.len()
    );
    text
}

#[derive(serde::Deserialize)]
struct Numbered<'a> {
    id: u32,
    name: &'a str,
}

#[test]
fn read_all_gives_every_row_of_a_file_larger_than_a_chunk() {
    const N: usize = 200_000;
    let check = |rows: &[Numbered]| {
        assert_eq!(rows.len(), N);
        assert!(rows.iter().enumerate().all(|(i, r)| r.id as usize == i));
        assert_eq!(rows[N - 1].name, format!("row number {}", N - 1));
    };
    let csv = lines_over_a_chunk(N, |i| format!("{i},row number {i}\n"));
    let path = temp_file("all.csv", &format!("id,name\n{csv}"));
    // One chunk is not the file (what a single `next_rows` call gives).
    let mut reader = CsvReader::open(&path).unwrap();
    assert!(reader.next_rows::<Numbered>().unwrap().unwrap().len() < N);
    let mut reader = CsvReader::open(&path).unwrap();
    check(&reader.read_all::<Numbered>().unwrap());

    let json = lines_over_a_chunk(N, |i| {
        format!("{{\"id\": {i}, \"name\": \"row number {i}\"}}\n")
    });
    let path = temp_file("all.jsonl", &json);
    let mut reader = JsonLines::open(&path).unwrap();
    assert!(reader.next_rows::<Numbered>().unwrap().unwrap().len() < N);
    let mut reader = JsonLines::open(&path).unwrap();
    check(&reader.read_all::<Numbered>().unwrap());
    // After the end, nothing more.
    assert!(reader.read_all::<Numbered>().unwrap().is_empty());

    let svm = lines_over_a_chunk(N, |i| {
        format!("{} {}:1 7:0.25 9:0.125 11:3\n", i % 2, i % 5 + 1)
    });
    let path = temp_file("all.svm", &svm);
    let rows = LibSvm::new().open(&path).unwrap().read_all().unwrap();
    assert_eq!(rows.len(), N);
    assert_eq!(rows.lines()[N - 1], N as u64);
    assert_eq!(
        rows,
        LibSvm::new().parse_bytes(svm.as_bytes(), "x").unwrap()
    );

    let vw_text = lines_over_a_chunk(N, |i| {
        format!("{} |a x{} y:0.5 z:0.25 |b w:2\n", i % 2, i % 5)
    });
    let path = temp_file("all.vw", &vw_text);
    let rows = Vw::new().open(&path).unwrap().read_all().unwrap();
    assert_eq!(rows.len(), N);
    assert_eq!(rows.lines()[N - 1], N as u64);
}

#[test]
fn read_all_of_a_large_file_in_ranges_keeps_the_readers_settings() {
    // 17 MiB: read in one range per thread; each range keeps the longest line set.
    let line = format!("1 {}\n", "3:1 ".repeat(40));
    let mut text = line.repeat((17 << 20) / line.len());
    let long = format!("1 {}\n", "2:1 ".repeat(300));
    text.push_str(&long);
    let path = temp_file("ranges.svm", &text);
    let rows = LibSvm::new().open(&path).unwrap().threads(2).read_all();
    assert_eq!(rows.unwrap().len(), text.lines().count());
    let e = LibSvm::new()
        .open(&path)
        .unwrap()
        .threads(2)
        .max_line(1000)
        .chunk_bytes(1000)
        .read_all()
        .unwrap_err();
    assert_eq!(e.line(), text.lines().count() as u64, "{e}");
}

// ---- Untrusted bytes in messages ------------------------------------------------------

#[test]
fn vw_non_finite_values_are_errors_not_categories() {
    for value in ["nan", "NaN", "inf", "-inf", "+Infinity", "1e39"] {
        assert_eq!(
            err(vw(&format!("1 |a x:{value}\n"))),
            format!("t.vw:1: feature 1 of namespace `a`: expected `name`, `name:value` with a finite number, or `name:text`, found `x:{value}`")
        );
    }
    // Finite, but not once scaled by the namespace.
    assert_eq!(
        err(vw("1 |a:10 x:3e38\n")),
        "t.vw:1: feature 1 of namespace `a`: expected a value that stays finite times the namespace's scale, found `x:3e38`"
    );
    // Text that only starts like a number is still a category.
    let rows = vw("1 |a x:infant y:nanny\n").unwrap();
    let seed = namespace_seed("a");
    let cat =
        |name: &str, text: &str| murmur3_32(text.as_bytes(), murmur3_32(name.as_bytes(), seed));
    assert_eq!(ids(&rows, 0), [cat("x", "infant"), cat("y", "nanny")]);
}

#[test]
fn messages_escape_control_and_invisible_bytes() {
    assert_eq!(
        err(libsvm("1 1:1\x1b[2J\n")),
        "t.svm:1: value of feature 1: expected a finite number, found `1\\x1b[2J`"
    );
    assert_eq!(
        err(libsvm("\u{feff}1 1:1\n")),
        "t.svm:1: label: expected a number (0/1, -1/+1 or a real value), found `\\u{feff}1`"
    );
    assert_eq!(
        err(LibSvm::new().parse_bytes(b"1 1:\x00\xff\n", "t.svm")),
        "t.svm:1: value of feature 1: expected a finite number, found `\\0\\xff`"
    );
    assert_eq!(
        err(vw("1 |a\u{202e} x:1e99\n")),
        "t.vw:1: feature 1 of namespace `a\\u{202e}`: expected `name`, `name:value` with a finite number, or `name:text`, found `x:1e99`"
    );
    // CSV: a value that does not deserialize, and a column name.
    let text = "carrier,dest,distance,delayed\nUA,IAH,\x1b]0;x\x07,true\n";
    let mut reader = CsvReader::new(text.as_bytes(), "f.csv").unwrap();
    let e = reader.next_rows::<Flight>().unwrap_err().to_string();
    assert!(e.contains("(found `\\x1b]0;x\\x07`)"), "{e}");
    // JSON lines: serde's message holds the decoded input.
    #[derive(serde::Deserialize, Debug)]
    enum Color {
        Red,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Paint {
        color: Color,
    }
    let text = "{\"color\":\"\\u001b[2J\"}\n";
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl\u{7}");
    let e = reader.next_rows::<Paint>().unwrap_err().to_string();
    assert_eq!(
        e,
        "e.jsonl\\x07:1: field `color`: unknown variant `\\x1b[2J`, expected `Red` (column 20)"
    );
    assert!(!e.chars().any(char::is_control), "{e:?}");
}

#[test]
fn json_lines_skip_a_byte_order_mark_at_the_start() {
    let text = "\u{feff}{\"user\":\"ann\",\"note\":\"\",\"clicks\":3}\n";
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl");
    let rows = reader.read_all::<Event>().unwrap();
    assert_eq!((rows.len(), rows[0].user), (1, "ann"));
    let mut reader = JsonLines::new(text.as_bytes(), "e.jsonl");
    assert_eq!(
        reader.next_rows_parallel::<Event>().unwrap().unwrap().len(),
        1
    );
    // Only at the start of the input: elsewhere it is an error, shown escaped.
    let twice = format!("{text}{text}");
    let mut reader = JsonLines::new(twice.as_bytes(), "e.jsonl");
    let e = reader.read_all::<Event>().unwrap_err().to_string();
    assert_eq!(e, "e.jsonl:2: expected value (column 1)");
}

// ---- Ids beyond a network's input ------------------------------------------------------

#[test]
fn ids_beyond_the_inputs_dimension_are_refused_unless_folding_is_asked_for() {
    use vectorflow::io::SparseStream;
    type Lr = network![Sparse<16> => Linear<1>];
    let trainer = || {
        Trainer::new(AdaGrad::new(0.5))
            .threads(1)
            .shuffle(false)
            .progress(Progress::Silent)
    };
    // Line 3 has id 17 (1-based): stored 16, beyond Sparse<16>.
    let text = "1 1:1 16:1\n\n0 2:1 17:0.5\n";
    let path = temp_file("beyond.svm", text);
    let shown = path.display();
    let want = format!(
        "pass 1, row 1: {shown}:3: feature id 17: expected an id from 1 to 16 (the network's \
         input has 16); read the file with `OutOfRange::Modulo` to fold ids modulo 16"
    );
    let rows = LibSvm::new().open(&path).unwrap().read_all().unwrap();
    assert!(!rows.folding());
    let e = trainer()
        .fit(&mut Lr::new(Init::zeros()), &rows.to_rows(), Logistic)
        .unwrap_err();
    assert_eq!(e.to_string(), want);
    assert!(matches!(
        e,
        vectorflow::train::TrainError::IdBeyondInput {
            pass: 1,
            row: 1,
            ..
        }
    ));
    // Streamed: the same message.
    let mut stream = LibSvm::new().stream(&path).unwrap();
    let e = trainer()
        .fit_stream::<_, _, SparseStream<LibSvm>, _, _>(
            &mut Lr::new(Init::zeros()),
            &mut stream,
            Logistic,
        )
        .unwrap_err();
    assert_eq!(e.to_string(), want);
    // Held out: checked before training.
    let e = trainer()
        .holdout(vectorflow::train::Holdout::EveryKth(2))
        .fit(&mut Lr::new(Init::zeros()), &rows.to_rows(), Logistic)
        .unwrap_err();
    assert!(
        e.to_string().ends_with(&want["pass 1, row 1: ".len()..]),
        "{e}"
    );
    // Predicting.
    let net = Lr::new(Init::zeros());
    assert_eq!(
        net.predict(&rows.row(1)).unwrap_err().field,
        FeatureError::ID_BEYOND_INPUT
    );
    // 0-based files are named with their own ids.
    let zero = LibSvm::new()
        .zero_based(true)
        .parse_bytes(b"1 16:1\n", "z.svm")
        .unwrap();
    let e = trainer()
        .fit(&mut Lr::new(Init::zeros()), &zero.to_rows(), Logistic)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("z.svm:1: feature id 16: expected an id from 0 to 15"),
        "{e}"
    );

    // Asked for: ids fold modulo 16, as the same rows with the ids folded by hand.
    let folded = LibSvm::new()
        .out_of_range(OutOfRange::Modulo)
        .open(&path)
        .unwrap()
        .read_all()
        .unwrap();
    assert!(folded.folding());
    let by_hand = LibSvm::new()
        .parse_bytes(b"1 1:1 16:1\n0 2:1 1:0.5\n", "h.svm")
        .unwrap();
    let (mut a, mut b) = (Lr::new(Init::zeros()), Lr::new(Init::zeros()));
    trainer().fit(&mut a, &folded.to_rows(), Logistic).unwrap();
    trainer().fit(&mut b, &by_hand.to_rows(), Logistic).unwrap();
    assert_eq!(a.params(), b.params());
    let mut rows = rows;
    rows.set_folding(true);
    let mut c = Lr::new(Init::zeros());
    trainer().fit(&mut c, &rows.to_rows(), Logistic).unwrap();
    assert_eq!(c.params(), b.params());
    // Vowpal Wabbit ids are hashes: always folded.
    let vw_rows = vw("1 |a x y z\n").unwrap();
    assert!(vw_rows.folding() && vw_rows.row(0).ids().iter().any(|&id| id >= 16));
    trainer()
        .fit(&mut Lr::new(Init::zeros()), &vw_rows.to_rows(), Logistic)
        .unwrap();
}

/// Rows that refuse ids beyond the input keep refusing them once appended to rows that
/// fold (Vowpal Wabbit's hashes), never folded silently.
#[test]
fn appended_rows_that_refuse_ids_beyond_the_input_still_refuse_them() {
    type Lr = network![Sparse<16> => Linear<1>];
    let mut rows = vw("1 |a x\n").unwrap();
    assert!(rows.folding());
    rows.append(&libsvm("0 17:1\n").unwrap(), 1);
    assert!(!rows.folding());
    let e = Trainer::new(AdaGrad::new(0.5))
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut Lr::new(Init::zeros()), &rows.to_rows(), Logistic)
        .unwrap_err();
    assert!(e.to_string().contains("fold ids modulo 16"), "{e}");
}
