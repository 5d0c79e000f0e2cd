//! Property tests of the text readers on stable: valid inputs round-trip (render, parse,
//! same rows), and mutated inputs never panic, give the same answer whatever the chunk
//! size and thread count, and fail only on a line of the input. Seeded, so a failure
//! repeats; the case counts are printed (`--nocapture`).

use vectorflow::io::columns::{ColumnReader, ColumnSpec};
use vectorflow::io::{CsvReader, JsonLines, LibSvm, ReadError, SparseFormat, SparseRows, Vw};
use vectorflow::rng::Rng;
use vectorflow::SparseF;

/// Bytes that matter to the grammars, to splice into valid text.
const ALPHABET: &[u8] = b" \t\r\n::||##''\"\",,{}[]+-.eE0123456789qidnaxyz\xff\x00";

fn mutate(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut t = text.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(t.len() + 1);
        match rng.below(5) {
            0 if at < t.len() => t[at] = ALPHABET[rng.below(ALPHABET.len())],
            1 => t.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            2 if at < t.len() => {
                let end = (at + rng.below(8)).min(t.len());
                t.drain(at..end);
            }
            3 => {
                let from = rng.below(t.len() + 1);
                let end = (from + rng.below(12)).min(t.len());
                let piece = t[from..end].to_vec();
                t.splice(at..at, piece);
            }
            _ => t.truncate(at),
        }
    }
    t
}

fn lines_of(text: &[u8]) -> u64 {
    text.split(|&b| b == b'\n').count() as u64
}

/// Parses `text` whole and in small chunks, split among threads when `par`; the two
/// must agree (compared as debug text, so that NaN labels compare equal).
fn parse_both<F: SparseFormat>(
    format: &F,
    text: &[u8],
    chunk: usize,
    par: bool,
) -> Result<SparseRows, ReadError> {
    let whole = format.reader(text, "p").threads(1).read_all();
    let reader = format.reader(text, "p").chunk_bytes(chunk);
    let chunked = match par {
        true => reader.threads(3).parallel_min(0).read_all(),
        false => reader.threads(1).read_all(),
    };
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "{:?}",
            String::from_utf8_lossy(text)
        ),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!(
            "whole {whole:?} vs chunked {chunked:?} on {:?}",
            String::from_utf8_lossy(text)
        ),
    }
    if let Err(e) = &whole {
        assert!(e.line() >= 1 && e.line() <= lines_of(text), "{e}");
    }
    whole
}

fn blank(rng: &mut Rng) -> &'static str {
    [" ", "  ", "\t", " \t "][rng.below(4)]
}

fn value(rng: &mut Rng) -> f32 {
    match rng.below(4) {
        0 => rng.below(10) as f32,
        1 => -(rng.below(1000) as f32) / 8.0,
        2 => rng.normal() * 1e-3,
        _ => rng.uniform() * 1e6,
    }
}

/// Value tokens that repeat, spell one value differently or begin with one another
/// (up to and past the 15 bytes the reader compares at once).
const SPELLINGS: [&str; 12] = [
    "1",
    "1.0",
    "1.00",
    "0.5",
    "0.55",
    "0.5e1",
    "0.0944911",
    "0.09449110",
    "-0.0944911",
    "0.0944911000000",
    "0.09449110000000",
    "0.094491100000000001",
];

/// Random valid LIBSVM text and the rows it must give.
fn libsvm_case(rng: &mut Rng) -> (String, SparseRows) {
    let mut text = String::new();
    let mut want = SparseRows::new();
    let mut line = 0;
    for _ in 0..rng.below(12) {
        line += 1;
        match rng.below(8) {
            0 => text.push('\n'),
            1 => text.push_str("# a comment: 1 2:3\r\n"),
            _ => {
                let label = [0.0, 1.0, -1.0, 0.5, 3.25][rng.below(5)];
                text.push_str(if label == 1.0 && rng.below(2) == 0 {
                    "+1"
                } else {
                    ""
                });
                if !(label == 1.0 && text.ends_with("+1")) {
                    text.push_str(&label.to_string());
                }
                if rng.below(4) == 0 {
                    text.push_str(&format!(" qid:{}", rng.below(50)));
                }
                let mut feats = Vec::new();
                for _ in 0..rng.below(6) {
                    let id = rng.below(1 << 20) as u32;
                    // Repeated values, one value in several spellings, and tokens that
                    // begin with another: the reader remembers a line's last value.
                    let token = match rng.below(3) {
                        0 => SPELLINGS[rng.below(SPELLINGS.len())].to_string(),
                        _ => value(rng).to_string(),
                    };
                    let f = SparseF {
                        id,
                        value: token.parse().unwrap(),
                    };
                    text.push_str(blank(rng));
                    text.push_str(&format!("{}:{token}", f.id + 1));
                    feats.push(f);
                }
                if rng.below(5) == 0 {
                    text.push_str(" # trailing");
                }
                text.push_str(if rng.below(3) == 0 { "\r\n" } else { "\n" });
                want.push(label, 1.0, feats, line, "");
            }
        }
    }
    (text, want)
}

/// Found by the `libsvm` fuzz target: a piece whose rows have no features (after a
/// blank line in another piece) kept another count of ids than the whole parse.
#[test]
fn pieces_without_features_count_ids_as_the_file_does() {
    for text in [&b"\n2"[..], b"\n2\n1 3:1\n\n0\n4 5:2"] {
        for chunk in 1..8 {
            parse_both(&LibSvm::new().dim(1000), text, chunk, true).unwrap();
            parse_both(&LibSvm::new().zero_based(true), text, chunk, true).unwrap();
            parse_both(&Vw::new().names(true), text, chunk, true).ok();
        }
    }
}

#[test]
fn libsvm_round_trips_and_survives_mutation() {
    let mut rng = Rng::new(1);
    let (mut valid, mut mutated, mut failed) = (0, 0, 0);
    for case in 0..1500 {
        let (text, want) = libsvm_case(&mut rng);
        let got = parse_both(
            &LibSvm::new(),
            text.as_bytes(),
            1 + case % 37,
            case % 8 == 0,
        )
        .unwrap();
        assert_eq!(got, want, "{text:?}");
        valid += 1;
        for _ in 0..3 {
            let bad = mutate(&mut rng, text.as_bytes());
            let par = rng.below(16) == 0;
            failed += parse_both(&LibSvm::new(), &bad, 1 + rng.below(40), par).is_err() as u32;
            mutated += 1;
        }
    }
    eprintln!("libsvm: {valid} valid round trips, {mutated} mutated inputs ({failed} rejected)");
    assert!(
        failed > 100,
        "the mutations should break many inputs: {failed}"
    );
}

/// Random valid Vowpal Wabbit text and the rows it must give.
fn vw_case(rng: &mut Rng) -> (String, SparseRows) {
    let vw = Vw::new();
    let mut text = String::new();
    let mut want = SparseRows::new();
    for line in 1..=rng.below(10) as u64 {
        let label = [0.0, 1.0, -1.0, 0.5][rng.below(4)];
        let weight = if rng.below(2) == 0 {
            1.0
        } else {
            rng.below(9) as f32 / 4.0
        };
        let tag = if rng.below(3) == 0 {
            format!("t{}", rng.below(99))
        } else {
            String::new()
        };
        text.push_str(&label.to_string());
        if weight != 1.0 {
            text.push_str(&format!(" {weight}"));
        }
        if !tag.is_empty() {
            text.push_str(&format!(" '{tag}"));
        }
        // A token touching the first `|` would be the tag.
        text.push(' ');
        let mut feats = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let ns = ["user", "item", "7", ""][rng.below(4)];
            let seed = if ns.is_empty() {
                0
            } else {
                vw.hash_name(ns.as_bytes(), 0)
            };
            text.push('|');
            text.push_str(ns);
            for _ in 0..rng.below(5) {
                let name = ["a", "bb", "42", "é", "x_y"][rng.below(5)];
                let id = vw.hash_name(name.as_bytes(), seed);
                text.push_str(blank(rng));
                if rng.below(2) == 0 {
                    text.push_str(name);
                    feats.push(SparseF { id, value: 1.0 });
                } else {
                    let v = value(rng);
                    text.push_str(&format!("{name}:{v}"));
                    if v != 0.0 {
                        feats.push(SparseF { id, value: v });
                    }
                }
            }
            text.push(' ');
        }
        text.push('\n');
        want.push(label, weight, feats, line, &tag);
    }
    (text, want)
}

#[test]
fn vw_round_trips_and_survives_mutation() {
    let mut rng = Rng::new(2);
    let (mut valid, mut mutated, mut failed) = (0, 0, 0);
    for case in 0..1500 {
        let (text, want) = vw_case(&mut rng);
        let got = parse_both(&Vw::new(), text.as_bytes(), 1 + case % 41, case % 8 == 0).unwrap();
        assert_eq!(got, want, "{text:?}");
        valid += 1;
        for _ in 0..3 {
            let bad = mutate(&mut rng, text.as_bytes());
            let par = rng.below(16) == 0;
            failed += parse_both(&Vw::new(), &bad, 1 + rng.below(40), par).is_err() as u32;
            mutated += 1;
        }
    }
    eprintln!("vw: {valid} valid round trips, {mutated} mutated inputs ({failed} rejected)");
    assert!(
        failed > 100,
        "the mutations should break many inputs: {failed}"
    );
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Row<'a> {
    name: &'a str,
    x: f32,
    n: Option<u32>,
}

fn serde_case(rng: &mut Rng) -> Vec<(String, f32, Option<u32>)> {
    (0..rng.below(8))
        .map(|_| {
            let name = ["ann", "bob", "c d", "ü"][rng.below(4)].to_string();
            let n = (rng.below(2) == 0).then(|| rng.below(1000) as u32);
            (name, value(rng), n)
        })
        .collect()
}

#[test]
fn csv_and_json_lines_round_trip_and_survive_mutation() {
    let mut rng = Rng::new(3);
    let (mut valid, mut mutated) = (0, 0);
    for case in 0..1000 {
        let rows = serde_case(&mut rng);
        let mut csv = String::from("name,x,n\n");
        let mut json = String::new();
        for (name, x, n) in &rows {
            let n_csv = n.map_or(String::new(), |n| n.to_string());
            csv.push_str(&format!("\"{name}\",{x},{n_csv}\n"));
            let n_json = n.map_or("null".to_string(), |n| n.to_string());
            json.push_str(&format!(
                "{{\"name\":\"{name}\",\"x\":{x},\"n\":{n_json}}}\n"
            ));
        }
        let chunk = 1 + case % 50;
        let mut got = Vec::new();
        let mut reader = CsvReader::new(csv.as_bytes(), "p.csv")
            .unwrap()
            .chunk_bytes(chunk);
        while let Some(r) = reader.next_rows::<Row>().unwrap() {
            got.extend(r.into_iter().map(|r| (r.name.to_string(), r.x, r.n)));
        }
        assert_eq!(got, rows, "{csv}");
        got.clear();
        let mut reader = JsonLines::new(json.as_bytes(), "p.jsonl").chunk_bytes(chunk);
        while let Some(r) = reader.next_rows::<Row>().unwrap() {
            got.extend(r.into_iter().map(|r| (r.name.to_string(), r.x, r.n)));
        }
        assert_eq!(got, rows, "{json}");
        valid += 2;
        for _ in 0..3 {
            let bad = mutate(&mut rng, csv.as_bytes());
            if let Ok(reader) = CsvReader::new(&bad[..], "p.csv") {
                let mut reader = reader.chunk_bytes(chunk).max_record(256);
                while let Ok(Some(r)) = reader.next_rows::<Row>() {
                    std::hint::black_box(r);
                }
            }
            let bad = mutate(&mut rng, json.as_bytes());
            let serial = read_json(&bad, chunk, false);
            if let Err(e) = &serial {
                assert!(e.line() >= 1 && e.line() <= lines_of(&bad), "{e}");
            }
            if case % 8 == 0 {
                let parallel = read_json(&bad, chunk, true);
                assert_eq!(
                    serial.map_err(|e| e.to_string()),
                    parallel.map_err(|e| e.to_string())
                );
            }
            mutated += 2;
        }
    }
    eprintln!("csv + json lines: {valid} valid round trips, {mutated} mutated inputs");
}

/// The rows of JSON lines text (serially or split among threads), or the first error.
fn read_json(text: &[u8], chunk: usize, parallel: bool) -> Result<Vec<String>, ReadError> {
    let mut reader = JsonLines::new(text, "p.jsonl")
        .chunk_bytes(chunk)
        .max_line(256);
    let mut out = Vec::new();
    loop {
        let rows = match parallel {
            true => reader.next_rows_parallel::<Row>()?,
            false => reader.next_rows::<Row>()?,
        };
        match rows {
            Some(rows) => out.extend(rows.iter().map(|r| format!("{r:?}"))),
            None => return Ok(out),
        }
    }
}

/// A random valid column spec's text over the columns `y w a b "c d" x t`, with random
/// namespaces, roots, `mean` and crosses.
fn column_spec_case(rng: &mut Rng) -> String {
    let mut spec = String::from("--label y");
    if rng.below(2) == 0 {
        spec.push_str(" --weight w");
    }
    let arg = |rng: &mut Rng, name: &str| -> String {
        match rng.below(4) {
            0 => format!("{name}(namespace=n{})", rng.below(3)),
            1 => format!("{name}(root=u)"),
            _ => name.to_string(),
        }
    };
    let hashed: Vec<&str> = ["a", "b", "\"c d\""]
        .into_iter()
        .filter(|_| rng.below(3) > 0)
        .collect();
    let list: Vec<String> = hashed.iter().map(|c| arg(rng, c)).collect();
    if !list.is_empty() {
        spec.push_str(&format!(" --hash {}", list.join(",")));
    }
    if rng.below(2) == 0 {
        spec.push_str(&format!(" --value {}", arg(rng, "x")));
    }
    // At least one feature column.
    if list.is_empty() || rng.below(2) == 0 {
        let mean = if rng.below(2) == 0 { "(mean)" } else { "" };
        spec.push_str(&format!(" --tokens t{mean}"));
    }
    // A cross's columns share a root.
    if list.len() >= 2 && list[0].contains("root=") == list[1].contains("root=") {
        spec.push_str(&format!(" --cross {}*{}", hashed[0], hashed[1]));
    }
    spec
}

/// Every row's label, weight and features of both roots, to compare readings.
type Hashed = Vec<(f32, f32, Vec<u32>, Vec<f32>, Vec<u32>, Vec<f32>)>;

fn hashed(rows: &vectorflow::io::columns::ColumnRows) -> Hashed {
    rows.iter()
        .map(|r| {
            let ((a, b), (c, d)) = (r.root(""), r.root("u"));
            (
                r.label(),
                r.weight(),
                a.into(),
                b.into(),
                c.into(),
                d.into(),
            )
        })
        .collect()
}

fn read_columns(text: &[u8], csv: bool, spec: &ColumnSpec) -> Result<Hashed, ReadError> {
    let file = std::io::Cursor::new(text.to_vec());
    // With the features' names kept: the ids are the same, one name a feature.
    let read = match csv {
        true => ColumnReader::csv(file, "p.csv", spec).and_then(|r| r.names(true).read_all()),
        false => ColumnReader::json_lines(file, "p.jsonl", spec)
            .names(true)
            .read_all(),
    };
    let rows = read?;
    for row in rows.iter() {
        let features: usize = spec.roots().iter().map(|r| row.root(r).0.len()).sum();
        let mut named = 0;
        vectorflow::features::Named::visit_named(&row, |f| {
            assert!(!f.name.to_string().is_empty());
            named += 1;
        })
        .unwrap();
        assert_eq!(named, features);
    }
    let got = hashed(&rows);
    for (label, weight, _, a, _, b) in &got {
        assert!(label.is_finite() && weight.is_finite());
        assert!(a.iter().chain(b).all(|v| v.is_finite()));
    }
    Ok(got)
}

#[test]
fn column_specs_and_rows_round_trip_and_survive_mutation() {
    const WORDS: [&str; 5] = ["EWR", "late storm", "café", "a,b", "x\"y"];
    let mut rng = Rng::new(5);
    let (mut valid, mut mutated) = (0, 0);
    for _ in 0..400 {
        let text = column_spec_case(&mut rng);
        let spec: ColumnSpec = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(spec.to_string().parse::<ColumnSpec>(), Ok(spec.clone()));
        let (mut csv, mut json) = (String::from("y,w,a,b,c d,x,t\n"), String::new());
        let rows = 1 + rng.below(6);
        for _ in 0..rows {
            let y = rng.below(2);
            let w = 1 + rng.below(3);
            let cell = |rng: &mut Rng| match rng.below(4) {
                0 => None,
                _ => Some(WORDS[rng.below(WORDS.len())]),
            };
            let (a, b, c, t) = (
                cell(&mut rng),
                cell(&mut rng),
                cell(&mut rng),
                cell(&mut rng),
            );
            let x = (rng.below(3) > 0).then(|| value(&mut rng));
            let q = |s: Option<&str>| {
                s.map_or(String::new(), |s| format!("\"{}\"", s.replace('"', "\"\"")))
            };
            let j = |s: Option<&str>| {
                s.map_or("null".into(), |s| format!("\"{}\"", s.replace('"', "\\\"")))
            };
            let xs = x.map_or(String::new(), |x| x.to_string());
            csv.push_str(&format!(
                "{y},{w},{},{},{},{xs},{}\n",
                q(a),
                q(b),
                q(c),
                q(t)
            ));
            json.push_str(&format!(
                "{{\"y\":{y},\"w\":{w},\"a\":{},\"b\":{},\"c d\":{},\"x\":{},\"t\":{}}}\n",
                j(a),
                j(b),
                j(c),
                x.map_or("null".into(), |x| x.to_string()),
                j(t)
            ));
        }
        let from_csv =
            read_columns(csv.as_bytes(), true, &spec).unwrap_or_else(|e| panic!("{e}\n{csv}"));
        let from_json =
            read_columns(json.as_bytes(), false, &spec).unwrap_or_else(|e| panic!("{e}\n{json}"));
        assert_eq!(from_csv.len(), rows);
        assert_eq!(from_csv, from_json, "{text}\n{csv}\n{json}");
        valid += 2;
        for _ in 0..3 {
            for (csv, text) in [(true, csv.as_bytes()), (false, json.as_bytes())] {
                let bad = mutate(&mut rng, text);
                if let Err(e) = read_columns(&bad, csv, &spec) {
                    assert!(e.line() <= lines_of(&bad), "{e}");
                }
                mutated += 1;
            }
            let bad = mutate(&mut rng, text.as_bytes());
            if let Ok(spec) = String::from_utf8_lossy(&bad).parse::<ColumnSpec>() {
                assert_eq!(spec.to_string().parse::<ColumnSpec>(), Ok(spec));
            }
            mutated += 1;
        }
    }
    eprintln!("column specs: {valid} valid readings, {mutated} mutated inputs");
}
