//! Rows without a derive: CSV, JSON lines and Parquet read with a run-time column spec
//! give exactly the ids, values, labels and weights of a `#[derive(Features)]` struct
//! with the same fields and attributes, train bit-identical weights, key the binary
//! cache by the spec, and every bad spec or bad cell is an error saying where and what.

use std::borrow::Cow;
use std::path::PathBuf;
use vectorflow::features::{group_id, Labeled, SparseGroup};
use vectorflow::io::columns::{
    ColumnReader, ColumnRow, ColumnRows, ColumnSpec, ColumnStream, Columns, Crosses, Format,
};
use vectorflow::io::{CsvReader, JsonLines};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::Stream;

/// The struct the spec of [`spec`] stands for.
#[derive(Features, serde::Deserialize, Debug)]
#[features(cross(origin, dest), cross(carrier, hour, namespace = "ch"))]
struct Flight<'a> {
    #[label]
    y: f32,
    #[weight]
    w: f32,
    #[hash]
    #[serde(borrow)]
    carrier: Option<Cow<'a, str>>,
    #[hash(namespace = "airport")]
    #[serde(borrow)]
    origin: Option<Cow<'a, str>>,
    #[hash]
    #[serde(borrow)]
    dest: Option<Cow<'a, str>>,
    #[hash]
    hour: Option<i64>,
    #[value]
    distance: Option<f32>,
    #[tokens]
    #[serde(borrow)]
    remarks: Option<Cow<'a, str>>,
    #[tokens(mean)]
    #[serde(borrow)]
    tags: Option<Cow<'a, str>>,
}

fn spec() -> ColumnSpec {
    ColumnSpec::builder()
        .label("y")
        .weight("w")
        .hash(
            "carrier,origin(namespace=airport),dest,hour"
                .parse()
                .unwrap(),
        )
        .value("distance".parse().unwrap())
        .tokens("remarks,tags(mean)".parse().unwrap())
        .cross("origin*dest,carrier*hour(namespace=ch)".parse().unwrap())
        .build()
        .unwrap()
}

/// One generated record; `None` is an empty CSV field, a JSON null (or an absent key),
/// a Parquet null.
struct Rec {
    y: bool,
    w: f32,
    carrier: Option<&'static str>,
    origin: &'static str,
    dest: Option<&'static str>,
    hour: Option<i64>,
    distance: Option<f32>,
    remarks: Option<String>,
    tags: Option<String>,
}

const CARRIERS: [&str; 5] = ["UA", "B6", "AA", "DL", "WN"];
const AIRPORTS: [&str; 6] = ["EWR", "IAH", "JFK", "SFO", "ORD", "café"];
const WORDS: [&str; 6] = ["late", "storm", "crew", "ok", "fog", "gate"];

fn records(n: usize) -> Vec<Rec> {
    let mut rng = Rng::new(5);
    (0..n)
        .map(|i| {
            let c = rng.below(CARRIERS.len());
            let o = rng.below(AIRPORTS.len());
            let d = rng.below(AIRPORTS.len());
            let words = |rng: &mut Rng, k: usize| -> String {
                (0..k)
                    .map(|_| WORDS[rng.below(WORDS.len())])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let k = rng.below(4);
            let t = rng.below(3);
            let distance = 0.25 + rng.uniform() * 3.0;
            let logit = distance - 1.5 + c as f32 * 0.3 - (o == d) as u8 as f32;
            Rec {
                y: rng.uniform() < 1.0 / (1.0 + (-logit).exp()),
                w: 0.5 + rng.below(4) as f32 * 0.25,
                carrier: (i % 7 != 3).then_some(CARRIERS[c]),
                origin: AIRPORTS[o],
                dest: (i % 11 != 5).then_some(AIRPORTS[d]),
                hour: (i % 5 != 1).then_some(rng.below(24) as i64),
                distance: (i % 9 != 2).then_some(distance),
                remarks: (i % 4 != 0).then(|| words(&mut rng, k)),
                tags: (i % 6 != 0).then(|| words(&mut rng, t)),
            }
        })
        .collect()
}

fn csv_text(recs: &[Rec]) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut out = String::from("y,w,carrier,origin,dest,hour,distance,remarks,tags,unused\n");
    for r in recs {
        out += &format!(
            "{},{},{},{},{},{},{},{},{},x\n",
            r.y as u8,
            r.w,
            opt(r.carrier.map(String::from)),
            r.origin,
            opt(r.dest.map(String::from)),
            opt(r.hour.map(|h| h.to_string())),
            opt(r.distance.map(|d| d.to_string())),
            opt(r.remarks.clone()),
            opt(r.tags.clone()),
        );
    }
    out
}

/// JSON lines: absent keys and nulls both, an escaped string, integers for `hour`.
fn json_text(recs: &[Rec]) -> String {
    let s = |v: &str| serde_json::to_string(v).unwrap();
    let mut out = String::new();
    for (i, r) in recs.iter().enumerate() {
        let mut fields = vec![
            format!("\"y\": {}", r.y as u8),
            format!("\"w\": {}", r.w),
            format!("\"origin\": {}", s(r.origin).replace('é', "\\u00e9")),
            "\"other\": [1, 2]".to_string(),
        ];
        let mut opt = |key: &str, v: Option<String>| match v {
            Some(v) => fields.push(format!("\"{key}\": {v}")),
            None if i % 2 == 0 => fields.push(format!("\"{key}\": null")),
            None => {}
        };
        // An empty string is text, hashed, as in the derive's `Option<Cow<str>>`.
        opt(
            "carrier",
            r.carrier.map(|c| if i % 13 == 0 { s("") } else { s(c) }),
        );
        opt("dest", r.dest.map(s));
        opt("hour", r.hour.map(|h| h.to_string()));
        opt("distance", r.distance.map(|d| d.to_string()));
        opt("remarks", r.remarks.as_deref().map(s));
        opt("tags", r.tags.as_deref().map(s));
        out += &format!("{{{}}}\n", fields.join(", "));
    }
    out
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vf-columns-{}-{name}", std::process::id()))
}

/// The features of group `G` a derived row visits.
fn visited<const G: u64, R: SparseGroup<G>>(row: &R) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    row.visit(|id, v| out.push((id, v.to_bits()))).unwrap();
    out
}

fn spec_features(row: &ColumnRow<'_>, root: &str) -> Vec<(u32, u32)> {
    let features = row.features(root);
    features.iter().map(|f| (f.id, f.value.to_bits())).collect()
}

/// Row by row: the same label, weight, ids and values, in the same order.
fn assert_same(derived: &[Flight<'_>], rows: &ColumnRows) {
    assert_eq!(derived.len(), rows.len());
    for (i, (d, r)) in derived.iter().zip(rows.iter()).enumerate() {
        assert_eq!(Labeled::label(d).to_bits(), r.label().to_bits(), "row {i}");
        assert_eq!(
            Features::weight(d).to_bits(),
            r.weight().to_bits(),
            "row {i}"
        );
        let want = visited::<{ group_id("") }, _>(d);
        assert!(!want.is_empty());
        assert_eq!(want, spec_features(&r, ""), "row {i}: {d:?}");
        assert_eq!(want, visited::<{ group_id("") }, _>(&r), "row {i}");
    }
}

#[test]
fn csv_rows_have_the_derived_ids_and_values() {
    let text = csv_text(&records(500));
    let mut reader = CsvReader::new(text.as_bytes(), "<csv>").unwrap();
    let derived: Vec<Flight> = reader.read_all().unwrap();
    let rows = ColumnReader::csv(
        std::io::Cursor::new(text.clone().into_bytes()),
        "<csv>",
        &spec(),
    )
    .unwrap()
    .read_all()
    .unwrap();
    assert_same(&derived, &rows);
    // Chunk by chunk, the same rows.
    let mut reader =
        ColumnReader::csv(std::io::Cursor::new(text.into_bytes()), "<csv>", &spec()).unwrap();
    let (mut chunk, mut n) = (ColumnRows::new(&spec()), 0);
    while reader.read_into(&mut chunk).unwrap() {
        n += chunk.len();
    }
    assert_eq!(n, 500);
}

#[test]
fn json_rows_have_the_derived_ids_and_values() {
    let text = json_text(&records(500));
    let mut reader = JsonLines::new(text.as_bytes(), "<json>");
    let derived: Vec<Flight> = reader.read_all().unwrap();
    let rows = ColumnReader::json_lines(
        std::io::Cursor::new(text.clone().into_bytes()),
        "<json>",
        &spec(),
    )
    .read_all()
    .unwrap();
    assert_same(&derived, &rows);
}

#[test]
fn a_root_is_the_derived_root() {
    #[derive(Features, serde::Deserialize)]
    struct Split<'a> {
        #[label]
        y: f32,
        #[hash(root = "user")]
        #[serde(borrow)]
        user: Option<Cow<'a, str>>,
        #[value(root = "user")]
        age: Option<f32>,
        #[hash]
        #[serde(borrow)]
        item: Option<Cow<'a, str>>,
    }
    let spec = ColumnSpec::builder()
        .label("y")
        .hash("user(root=user),item".parse().unwrap())
        .value("age(root=user)".parse().unwrap())
        .build()
        .unwrap();
    assert_eq!(spec.roots(), ["user", ""]);
    let text = "y,user,age,item\n1,ann,31,book\n0,bob,,pen\n";
    let mut csv = CsvReader::new(text.as_bytes(), "t").unwrap();
    let derived: Vec<Split> = csv.read_all().unwrap();
    let rows = ColumnReader::csv(text.as_bytes(), "t", &spec)
        .unwrap()
        .read_all()
        .unwrap();
    for (d, r) in derived.iter().zip(rows.iter()) {
        assert_eq!(
            visited::<{ group_id("user") }, _>(d),
            spec_features(&r, "user")
        );
        assert_eq!(
            visited::<{ group_id("user") }, _>(d),
            visited::<{ group_id("user") }, _>(&r)
        );
        assert_eq!(visited::<{ group_id("") }, _>(d), spec_features(&r, ""));
    }
    assert_eq!(spec_features(&rows.row(1), "user").len(), 1);
    let (ids, values) = rows.row(0).root("user");
    assert_eq!((ids.len(), values), (2, &[1.0, 31.0][..]));
    assert_eq!(rows.row(0).root("nowhere"), (&[][..], &[][..]));
}

#[test]
fn formats_are_told_by_the_name_and_headers_checked_by_name() {
    let of = |p: &str| Format::of_path(std::path::Path::new(p));
    assert_eq!(of("a/train.CSV"), Some(Format::Csv));
    assert_eq!(of("t.jsonl"), Some(Format::JsonLines));
    assert_eq!(of("t.ndjson"), Some(Format::JsonLines));
    assert_eq!(of("t.svm"), None);
    assert_eq!(Format::JsonLines.to_string(), "JSON lines");
    let spec = spec();
    assert!(spec.check_columns("f", &spec.columns()).is_ok());
    let err = spec.check_columns("f", &["y"]).unwrap_err();
    assert_eq!(err.field(), Some("column `w`"));
    assert_eq!(err.line(), 1);
}

type Mlp = network![Sparse<{ 1 << 14 }> => Linear<8> => ReLU => Linear<1>];

fn trainer() -> Trainer<AdaGrad> {
    Trainer::new(AdaGrad::new(0.1))
        .threads(1)
        .passes(2)
        .chunk_rows(300)
        .progress(Progress::Silent)
}

/// A network input reading a root the spec does not have is refused, row by row and
/// in training, rather than reading no features.
#[test]
fn a_root_the_spec_lacks_is_an_error_not_an_empty_group() {
    let spec = ColumnSpec::builder()
        .label("y")
        .hash("user(root=user)".parse().unwrap())
        .build()
        .unwrap();
    let text = "y,user\n1,ann\n0,bob\n";
    let rows = ColumnReader::csv(text.as_bytes(), "t", &spec)
        .unwrap()
        .read_all()
        .unwrap();
    let row = rows.row(0);
    let err = SparseGroup::<{ group_id("") }>::visit(&row, |_, _| {}).unwrap_err();
    assert_eq!(err.field, vectorflow::features::FeatureError::NO_GROUP);
    assert!(err.to_string().contains("root=..."), "{err}");
    assert!(SparseGroup::<{ group_id("user") }>::visit(&row, |_, _| {}).is_ok());
    // `Mlp` reads the default root, which this spec does not have.
    let mut net = Mlp::new(Init::uniform(0.1).seed(3));
    let err = trainer()
        .fit(&mut net, &rows.to_rows(), Logistic)
        .unwrap_err();
    assert!(err.to_string().contains("feature group"), "{err}");
}

#[test]
fn a_net_trained_on_spec_rows_equals_one_trained_on_derived_rows() {
    let text = csv_text(&records(2000));
    let mut csv = CsvReader::new(text.as_bytes(), "t").unwrap();
    let derived: Vec<Flight> = csv.read_all().unwrap();
    let rows = ColumnReader::csv(
        std::io::Cursor::new(text.clone().into_bytes()),
        "t",
        &spec(),
    )
    .unwrap()
    .read_all()
    .unwrap();
    let mut a = Mlp::new(Init::uniform(0.1).seed(3));
    let mut b = Mlp::new(Init::uniform(0.1).seed(3));
    trainer().fit(&mut a, &derived, Logistic).unwrap();
    trainer().fit(&mut b, &rows.to_rows(), Logistic).unwrap();
    let bits = |n: &Mlp| {
        n.params()
            .to_vec()
            .iter()
            .map(|w| w.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&a), bits(&b));
    assert!(a.params().to_vec().iter().any(|&w| w != 0.0));

    // From a stream (the file read a chunk at a time, through a cache), the same weights.
    let path = temp("train.csv");
    std::fs::write(&path, &text).unwrap();
    let cache = temp("train.vfcache");
    for _ in 0..2 {
        let mut c = Mlp::new(Init::uniform(0.1).seed(3));
        let mut stream =
            ColumnStream::new(ColumnReader::open(&path, Format::Csv, &spec()).unwrap());
        trainer()
            .shuffle(false)
            .cache(&cache)
            .fit_stream(&mut c, &mut stream, Logistic)
            .unwrap();
        let mut d = Mlp::new(Init::uniform(0.1).seed(3));
        trainer()
            .shuffle(false)
            .fit(&mut d, &rows.to_rows(), Logistic)
            .unwrap();
        assert_eq!(bits(&c), bits(&d));
    }
    assert!(cache.exists());
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&cache).unwrap();
}

#[test]
fn a_changed_spec_never_reads_a_stale_cache() {
    let path = temp("stale.csv");
    std::fs::write(&path, csv_text(&records(1500))).unwrap();
    let cache = temp("stale.vfcache");
    let other = ColumnSpec::builder()
        .label("y")
        .hash("carrier,origin,dest".parse().unwrap())
        .build()
        .unwrap();
    let fit = |spec: &ColumnSpec, cache: Option<&PathBuf>| {
        let mut net = Mlp::new(Init::uniform(0.1).seed(1));
        let mut stream = ColumnStream::new(ColumnReader::open(&path, Format::Csv, spec).unwrap());
        let t = trainer().shuffle(false);
        let t = match cache {
            Some(c) => t.cache(c),
            None => t,
        };
        t.fit_stream(&mut net, &mut stream, Logistic).unwrap();
        net.params().to_vec()
    };
    let with_spec = fit(&spec(), Some(&cache));
    // The cache now holds rows of `spec()`; a fit with `other` must rebuild it.
    let with_other = fit(&other, Some(&cache));
    assert_eq!(with_other, fit(&other, None));
    assert_ne!(with_other, with_spec);
    let source = |s: &ColumnSpec| {
        ColumnStream::new(ColumnReader::open(&path, Format::Csv, s).unwrap()).source()
    };
    assert_ne!(source(&spec()), source(&other));
    assert!(source(&other).ends_with(&format!("read as CSV with columns {other}")));
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&cache).unwrap();
}

#[test]
fn the_description_reads_back_into_the_same_spec() {
    let s = spec();
    assert_eq!(
        s.to_string(),
        "--label y --weight w --hash carrier,origin(namespace=airport),dest,hour --value distance \
         --tokens remarks,tags(mean) --cross origin*dest,carrier*hour(namespace=ch)"
    );
    assert_eq!(s.to_string().parse::<ColumnSpec>().unwrap(), s);
    // Names with spaces and special characters are quoted, and read back.
    let odd = ColumnSpec::builder()
        .label("is late")
        .hash(Columns(vec![
            vectorflow::io::columns::Column::new("dep time"),
            vectorflow::io::columns::Column::new("a,b\"c"),
        ]))
        .cross("\"dep time\"*\"a,b\\\"c\"".parse().unwrap())
        .build()
        .unwrap();
    let text = odd.to_string();
    assert_eq!(
        text,
        r#"--label "is late" --hash "dep time","a,b\"c" --cross "dep time"*"a,b\"c""#
    );
    assert_eq!(text.parse::<ColumnSpec>().unwrap(), odd);
    assert_eq!(odd.columns(), ["is late", "dep time", "a,b\"c"]);
}

fn spec_err(b: vectorflow::io::columns::ColumnSpecBuilder) -> String {
    b.build().unwrap_err().to_string()
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let cols = |s: &str| s.parse::<Columns>().unwrap();
    let b = ColumnSpec::builder;
    assert_eq!(
        "".parse::<Columns>().unwrap_err().to_string(),
        "an empty list of columns; expected names separated by `,`, as `carrier,origin`"
    );
    assert!(" "
        .parse::<Crosses>()
        .unwrap_err()
        .to_string()
        .starts_with("an empty list of crosses"));
    assert_eq!(
        "a,,b".parse::<Columns>().unwrap_err().to_string(),
        "expected a column name, found `,`"
    );
    assert_eq!(
        "a(nmespace=x)".parse::<Columns>().unwrap_err().to_string(),
        "in `a(nmespace=x)`: unknown argument `nmespace` of column `a`; expected `namespace=...`, `root=...` or (for --tokens) `mean`"
    );
    assert!("a(namespace=)"
        .parse::<Columns>()
        .unwrap_err()
        .to_string()
        .contains("`namespace` needs a name"));
    assert_eq!(
        "origin".parse::<Crosses>().unwrap_err().to_string(),
        "in `origin`: a cross needs at least two columns, as `origin*dest`, found `origin` alone"
    );
    assert_eq!(
        spec_err(b().hash(cols("a,b")).value(cols("b"))),
        "column `b` is named twice (in --hash and in --value); a column is read as one thing"
    );
    assert_eq!(
        spec_err(b().label("a").hash(cols("a"))),
        "column `a` is named twice (in --label and in --hash); a column is read as one thing"
    );
    assert_eq!(
        spec_err(b().hash(cols("a,a"))),
        "column `a` is named twice (twice in --hash); a column is read as one thing"
    );
    assert_eq!(
        spec_err(b().label("y")),
        "the spec has no feature column; give at least one of --hash, --value or --tokens"
    );
    assert_eq!(
        spec_err(b().label("y").label("z").hash(cols("a"))),
        "--label is given twice (`y` and `z`); a row has one"
    );
    assert_eq!(
        spec_err(
            b().hash(cols("a"))
                .value(cols("d"))
                .cross("a*d".parse().unwrap())
        ),
        "--cross a*d: `d` is a --value column; a cross takes --hash columns, so add it to --hash"
    );
    assert_eq!(
        spec_err(b().hash(cols("a")).cross("a*e".parse().unwrap())),
        "--cross a*e: `e` is not a column of the spec; a cross takes --hash columns, so add it to --hash"
    );
    assert_eq!(
        spec_err(b().hash(cols("a(root=u),b")).cross("a*b".parse().unwrap())),
        "--cross a*b: the columns of a cross must be in one root, but `a` is in root `u` and `b` in the default root"
    );
    assert_eq!(
        spec_err(b().hash(cols("a,b")).cross("a*b,a*b".parse().unwrap())),
        "--cross a*b is given twice"
    );
    assert_eq!(
        spec_err(b().hash(cols("a(mean)"))),
        "--hash a(mean): `mean` applies to --tokens only: it scales each token of a bag by 1/len"
    );
    assert_eq!(
        "--label y --hsh a".parse::<ColumnSpec>().unwrap_err().to_string(),
        "in the column spec `--label y --hsh a`: unknown flag `--hsh`; expected --label, --weight, --hash, --value, --tokens or --cross"
    );
}

fn csv_err(text: &str) -> String {
    let reader = ColumnReader::csv(
        std::io::Cursor::new(text.as_bytes().to_vec()),
        "f.csv",
        &spec(),
    );
    match reader {
        Err(e) => e.to_string(),
        Ok(r) => r.read_all().unwrap_err().to_string(),
    }
}

const HEADER: &str = "y,w,carrier,origin,dest,hour,distance,remarks,tags";

#[test]
fn bad_csv_says_file_line_and_column() {
    assert_eq!(
        csv_err("y,w,carrier,origin,dest,hour,distanc,remarks,tags\n"),
        "f.csv:1: column `distance`: the column spec reads `distance`, which the file does not have; \
         its columns are y, w, carrier, origin, dest, hour, distanc, remarks, tags"
    );
    let row = |y: &str, w: &str, hour: &str, dist: &str| {
        format!("{HEADER}\n1,1,UA,EWR,IAH,3,1.5,a,b\n{y},{w},UA,EWR,IAH,{hour},{dist},a,b\n")
    };
    assert_eq!(
        csv_err(&row("yes", "1", "3", "1")),
        "f.csv:3: column `y`: expected a label (a number, or true/false), found `yes`"
    );
    assert_eq!(
        csv_err(&row("", "1", "3", "1")),
        "f.csv:3: column `y`: expected a label (a number, or true/false), found nothing"
    );
    assert_eq!(
        csv_err(&row("1", "heavy", "3", "1")),
        "f.csv:3: column `w`: expected a row weight (a number), found `heavy`"
    );
    assert_eq!(
        csv_err(&row("1", "1", "3", "far")),
        "f.csv:3: column `distance`: expected a number, found `far`"
    );
    assert_eq!(
        csv_err(&row("1", "1", "3", "inf")),
        "f.csv:3: column `distance`: expected a finite number, found inf"
    );
    // `true`/`false` labels read as 1 and 0, as a `bool` label.
    let rows = ColumnReader::csv(
        std::io::Cursor::new(row("true", "1", "3", "1").into_bytes()),
        "f",
        &spec(),
    )
    .unwrap()
    .read_all()
    .unwrap();
    assert_eq!(rows.row(1).label(), 1.0);
}

#[test]
fn bad_json_says_file_line_and_field() {
    let err = |text: &str| {
        let r = ColumnReader::json_lines(
            std::io::Cursor::new(text.as_bytes().to_vec()),
            "f.jsonl",
            &spec(),
        );
        r.read_all().unwrap_err().to_string()
    };
    let ok = r#"{"y": 1, "w": 1, "carrier": "UA", "origin": "EWR", "dest": "IAH", "hour": 3, "distance": 1, "remarks": "a", "tags": "b"}"#;
    assert_eq!(
        err(&format!("{ok}\n{}\n", ok.replace("\"carrier\": \"UA\"", "\"carrier\": 1.5"))),
        "f.jsonl:2: column `carrier`: expected text, an integer or a bool to hash, found the number 1.5; \
         use --value for a number whose size matters"
    );
    assert_eq!(
        err(&format!("{ok}\n\n{}\n", ok.replace("\"y\": 1, ", ""))),
        "f.jsonl:3: column `y`: expected a label (a number, or true/false), found nothing"
    );
    assert!(err(&format!("{}\n", ok.replace("\"hour\": 3", "\"hour\": [3]"))).starts_with("f.jsonl:1: field `hour`: invalid type: sequence, expected text, a number, a bool or null"));
    // No line of the first chunk has `tags`: the spec names a column the file lacks.
    let without = ok.replace(", \"tags\": \"b\"", ", \"tag\": \"b\"");
    assert_eq!(
        err(&format!("{without}\n{without}\n")),
        "f.jsonl:0: column `tags`: the column spec reads `tags`, which the file does not have; \
         its columns are y, w, carrier, origin, dest, hour, distance, remarks, tag"
    );
}

#[cfg(feature = "parquet")]
mod pq {
    use super::*;
    use ::parquet::arrow::ArrowWriter;
    use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;
    use vectorflow::io::parquet::ParquetData;

    fn write(path: &std::path::Path, recs: &[Rec], label: ArrayRef) {
        let strs = |f: &dyn Fn(&Rec) -> Option<String>| -> ArrayRef {
            Arc::new(recs.iter().map(f).collect::<StringArray>())
        };
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("y", label),
            (
                "w",
                Arc::new(recs.iter().map(|r| r.w).collect::<Float32Array>()),
            ),
            ("carrier", strs(&|r| r.carrier.map(String::from))),
            ("origin", strs(&|r| Some(r.origin.to_string()))),
            ("dest", strs(&|r| r.dest.map(String::from))),
            (
                "hour",
                Arc::new(recs.iter().map(|r| r.hour).collect::<Int64Array>()),
            ),
            (
                "distance",
                Arc::new(recs.iter().map(|r| r.distance).collect::<Float32Array>()),
            ),
            ("remarks", strs(&|r| r.remarks.clone())),
            ("tags", strs(&|r| r.tags.clone())),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batch =
            RecordBatch::try_new(schema.clone(), columns.into_iter().map(|c| c.1).collect())
                .unwrap();
        let file = std::fs::File::create(path).unwrap();
        let props = ::parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(300))
            .build();
        let mut w = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn labels(recs: &[Rec]) -> ArrayRef {
        Arc::new(
            recs.iter()
                .map(|r| r.y as u8 as f32)
                .collect::<Float32Array>(),
        )
    }

    #[test]
    fn parquet_rows_have_the_derived_ids_and_values() {
        let recs = records(1000);
        let path = temp("flights.parquet");
        write(&path, &recs, labels(&recs));
        let data = ParquetData::read_all::<Flight>(&path).unwrap();
        let derived: Vec<Flight> = data.rows().unwrap();
        let rows = ColumnReader::open(&path, Format::Parquet, &spec())
            .unwrap()
            .read_all()
            .unwrap();
        assert_same(&derived, &rows);
        assert_eq!(Format::of_path(&path), Some(Format::Parquet));
        // As a stream, through a cache, the same weights as in memory.
        let cache = temp("flights.vfcache");
        let mut a = Mlp::new(Init::uniform(0.1).seed(2));
        let mut stream =
            ColumnStream::new(ColumnReader::open(&path, Format::Parquet, &spec()).unwrap());
        trainer()
            .shuffle(false)
            .cache(&cache)
            .fit_stream(&mut a, &mut stream, Logistic)
            .unwrap();
        let mut b = Mlp::new(Init::uniform(0.1).seed(2));
        trainer()
            .shuffle(false)
            .fit(&mut b, &rows.to_rows(), Logistic)
            .unwrap();
        assert_eq!(a.params().to_vec(), b.params().to_vec());
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&cache).unwrap();
    }

    #[test]
    fn bad_parquet_says_file_row_and_column() {
        let recs = records(10);
        let path = temp("bad.parquet");
        let yes: ArrayRef = Arc::new(
            (0..10)
                .map(|i| Some(if i == 7 { "yes" } else { "1" }))
                .collect::<StringArray>(),
        );
        write(&path, &recs, yes);
        let err = ColumnReader::open(&path, Format::Parquet, &spec())
            .unwrap()
            .read_all()
            .unwrap_err();
        let file = path.display();
        assert_eq!(
            err.to_string(),
            format!("{file}: row group 0, row 7: column `y`: expected a label (a number, or true/false), found `yes`")
        );
        let other = ColumnSpec::builder()
            .label("y")
            .hash("carrier,orign".parse().unwrap())
            .build()
            .unwrap();
        let err = ColumnReader::open(&path, Format::Parquet, &other).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{file}:0: column `orign`: the column spec reads `orign`, which the file does not have; \
                 its columns are y, w, carrier, origin, dest, hour, distance, remarks, tags"
            )
        );
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn json_numbers_and_bools_hash_as_the_derived_types_do() {
    #[derive(Features, serde::Deserialize)]
    struct Typed {
        #[label]
        y: bool,
        #[hash]
        hour: i64,
        #[hash]
        member: bool,
        #[value]
        fast: bool,
    }
    let spec = ColumnSpec::builder()
        .label("y")
        .hash("hour,member".parse().unwrap())
        .value("fast".parse().unwrap())
        .build()
        .unwrap();
    let text = "{\"y\": true, \"hour\": -7, \"member\": false, \"fast\": true}\n\
                {\"y\": false, \"hour\": 9223372036854775807, \"member\": true, \"fast\": false}\n";
    let mut json = JsonLines::new(text.as_bytes(), "t");
    let derived: Vec<Typed> = json.read_all().unwrap();
    let rows = ColumnReader::json_lines(std::io::Cursor::new(text.as_bytes().to_vec()), "t", &spec)
        .read_all()
        .unwrap();
    for (d, r) in derived.iter().zip(rows.iter()) {
        assert_eq!(Labeled::label(d), r.label());
        assert_eq!(visited::<{ group_id("") }, _>(d), spec_features(&r, ""));
    }
}

#[test]
fn an_input_that_is_not_a_file_is_read_once_or_through_a_cache() {
    let text = csv_text(&records(1200));
    let path = temp("once.csv");
    std::fs::write(&path, &text).unwrap();
    let piped = || {
        let reader = ColumnReader::csv(
            std::io::Cursor::new(text.clone().into_bytes()),
            "<stdin>",
            &spec(),
        );
        ColumnStream::new(reader.unwrap())
    };
    let mut net = Mlp::new(Init::uniform(0.1).seed(4));
    let err = trainer()
        .shuffle(false)
        .fit_stream(&mut net, &mut piped(), Logistic)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("<stdin> can be read only once (it is not a file)"),
        "{err}"
    );
    assert_eq!(piped().source(), "");
    // A cache holds the first pass for the second.
    let cache = temp("once.vfcache");
    let mut a = Mlp::new(Init::uniform(0.1).seed(4));
    let t = trainer().shuffle(false);
    trainer()
        .shuffle(false)
        .cache(&cache)
        .fit_stream(&mut a, &mut piped(), Logistic)
        .unwrap();
    let mut b = Mlp::new(Init::uniform(0.1).seed(4));
    let mut file = ColumnStream::new(ColumnReader::open(&path, Format::Csv, &spec()).unwrap());
    t.fit_stream(&mut b, &mut file, Logistic).unwrap();
    assert_eq!(a.params().to_vec(), b.params().to_vec());
    std::fs::remove_file(&path).unwrap();
    let _ = std::fs::remove_file(&cache);
}

/// A row's features by name: (group, field, name, slot, value).
fn names(row: &impl vectorflow::features::Named) -> Vec<(String, String, String, String, u32)> {
    let mut out = Vec::new();
    row.visit_named(|f| {
        out.push((
            f.group.to_string(),
            f.field.to_string(),
            f.name.to_string(),
            format!("{:?}", f.slot),
            f.value.to_bits(),
        ))
    })
    .unwrap();
    out
}

#[test]
fn named_rows_name_their_features_as_the_derive_does() {
    let text = csv_text(&records(300));
    let mut reader = CsvReader::new(text.as_bytes(), "<csv>").unwrap();
    let derived: Vec<Flight> = reader.read_all().unwrap();
    let read = |names| {
        ColumnReader::csv(
            std::io::Cursor::new(text.clone().into_bytes()),
            "<csv>",
            &spec(),
        )
        .unwrap()
        .names(names)
        .read_all()
        .unwrap()
    };
    let rows = read(true);
    assert!(rows.has_names());
    let mut crosses = 0;
    for (i, (d, r)) in derived.iter().zip(rows.iter()).enumerate() {
        let want = names(d);
        assert_eq!(want, names(&r), "row {i}: {d:?}");
        crosses += want.iter().filter(|f| f.2.contains('×')).count();
    }
    assert!(crosses > 0);
    // Without names, each feature is named by its id, with the same slots and values.
    let plain = read(false);
    assert!(!plain.has_names());
    for (r, p) in rows.iter().zip(plain.iter()) {
        let (named, unnamed) = (names(&r), names(&p));
        assert_eq!(named.len(), unnamed.len());
        for (a, b) in named.iter().zip(&unnamed) {
            assert_eq!((&a.3, a.4), (&b.3, b.4));
            assert_eq!(
                b.2,
                b.3.trim_start_matches("SparseId(").trim_end_matches(')')
            );
        }
    }
}
