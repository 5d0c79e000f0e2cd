//! Parquet input: files and Hive-partitioned directories written here with arrow-rs, read
//! into a derived row type that borrows its strings, trained with `fit_stream`; and the
//! errors of malformed input, each naming where and what was expected.
#![cfg(feature = "parquet")]

use arrow_array::{ArrayRef, BooleanArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vectorflow::io::parquet::{ParquetData, ParquetStream};
use vectorflow::io::{ReadError, Shard};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::Stream;

/// Records the largest single allocation, so that a test can show a corrupt file did not
/// make the decoder reserve what its headers claim.
struct Largest;

static LARGEST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn note(size: usize) {
    LARGEST.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
}

// SAFETY: forwards every call to the system allocator unchanged; it only records sizes.
unsafe impl std::alloc::GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        note(size);
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

#[derive(Features, serde::Deserialize, Debug, PartialEq)]
struct Review<'a> {
    #[label]
    good: bool,
    #[hash]
    shop: &'a str,
    #[tokens]
    words: &'a str,
    #[value]
    stars: f32,
    /// A partition key in the partitioned dataset, absent from the single file.
    #[hash]
    country: Option<&'a str>,
}

/// One row as generated, owning its strings.
#[derive(Clone)]
struct Owned {
    good: bool,
    shop: String,
    words: String,
    stars: f32,
    n: i64,
}

const WORDS: [&str; 8] = [
    "great", "bad", "slow", "fast", "ok", "broken", "nice", "meh",
];
const EFFECT: [f32; 8] = [1.5, -1.5, -0.7, 0.7, 0.0, -2.0, 1.0, -0.2];

/// Rows of a planted logistic model; `shift` is added to every score (a country's effect).
fn planted(n: usize, seed: u64, shift: f32) -> Vec<Owned> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let shop = rng.below(20);
            let (w1, w2) = (rng.below(8), rng.below(8));
            let stars = rng.uniform() * 5.0;
            let s = EFFECT[w1] + EFFECT[w2] + 0.3 * (stars - 2.5) + (shop % 3) as f32 - 1.0 + shift;
            Owned {
                good: rng.uniform() < 1.0 / (1.0 + (-s).exp()),
                shop: format!("shop{shop}"),
                words: format!("{} {}", WORDS[w1], WORDS[w2]),
                stars,
                n: i as i64 % 100,
            }
        })
        .collect()
}

fn batch(rows: &[Owned]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("good", DataType::Boolean, false),
        Field::new("shop", DataType::Utf8, false),
        Field::new("words", DataType::Utf8, false),
        Field::new("stars", DataType::Float32, true),
        Field::new("n", DataType::Int64, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.good)))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.shop))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.words))),
        Arc::new(Float32Array::from_iter_values(rows.iter().map(|r| r.stars))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.n))),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

/// Writes `batch` to `path` in row groups of `group_rows` rows.
fn write(path: &Path, batch: &RecordBatch, group_rows: usize, compression: Compression) {
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vf-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn borrowed<'a>(r: &'a Owned, country: Option<&'a str>) -> Review<'a> {
    Review {
        good: r.good,
        shop: &r.shop,
        words: &r.words,
        stars: r.stars,
        country,
    }
}

type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];

fn trainer() -> Trainer<AdaGrad> {
    Trainer::new(AdaGrad::new(0.2))
        .threads(1)
        .shuffle(false)
        .chunk_rows(700)
        .progress(Progress::Silent)
}

fn accuracy(net: &Lr, rows: &[Review]) -> f64 {
    let right = rows
        .iter()
        .filter(|r| (net.predict(*r).unwrap()[0] > 0.0) == r.good)
        .count();
    right as f64 / rows.len() as f64
}

#[test]
fn a_file_of_several_row_groups_trains_as_its_rows_from_a_slice() {
    let owned = planted(5000, 1, 0.0);
    let path = temp("reviews.parquet");
    write(&path, &batch(&owned), 600, Compression::SNAPPY);

    let mut stream = ParquetStream::<Review<'static>>::open(&path).unwrap();
    assert_eq!(stream.rows(), 5000);
    let rows: Vec<Review> = owned.iter().map(|r| borrowed(r, None)).collect();
    let t = trainer().passes(3);
    let mut from_slice = Lr::new(Init::zeros());
    t.fit(&mut from_slice, &rows, Logistic).unwrap();
    let mut from_file = Lr::new(Init::zeros());
    let report = t.fit_stream(&mut from_file, &mut stream, Logistic).unwrap();
    assert_eq!(report.passes.len(), 3);
    assert!(report.passes.iter().all(|p| p.rows == 5000));
    assert_eq!(from_file.params(), from_slice.params());

    // The whole-file helper gives the same rows, in order.
    let data = ParquetData::read_all::<Review>(&path).unwrap();
    assert_eq!(data.rows::<Review>().unwrap(), rows);

    let source = stream.source();
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(
        source.starts_with(&format!("{} ({len} bytes, modified ", path.display())),
        "{source}"
    );
}

/// `country=../day=../part-*.parquet`, as Spark writes, with a `_SUCCESS` marker; the
/// rows of each directory, in the order they are read back.
fn partitioned(dir: &Path) -> Vec<(Owned, &'static str)> {
    let _ = std::fs::remove_dir_all(dir);
    let mut all = Vec::new();
    let mut seed = 10;
    for (country, shift) in [("FR", 1.5), ("US", -1.5)] {
        for day in [1, 2] {
            let leaf = dir.join(format!("country={country}/day={day}"));
            std::fs::create_dir_all(&leaf).unwrap();
            for part in 0..3 {
                seed += 1;
                let rows = planted(1000, seed, shift);
                let path = leaf.join(format!("part-{part:05}-c000.zstd.parquet"));
                write(
                    &path,
                    &batch(&rows),
                    400,
                    Compression::ZSTD(ZstdLevel::default()),
                );
                all.extend(rows.into_iter().map(|r| (r, country)));
            }
        }
    }
    std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    all
}

#[test]
fn a_partitioned_directory_is_one_dataset_with_its_keys_as_columns() {
    let dir = temp("partitioned");
    let all = partitioned(&dir);
    let mut stream = ParquetStream::<Review<'static>>::open(&dir).unwrap();
    assert_eq!(stream.files().count(), 12);
    assert_eq!(stream.rows(), 12000);
    let rows: Vec<Review> = all.iter().map(|(r, c)| borrowed(r, Some(c))).collect();

    let t = trainer().passes(2);
    let mut from_slice = Lr::new(Init::zeros());
    t.fit(&mut from_slice, &rows, Logistic).unwrap();
    let mut from_dir = Lr::new(Init::zeros());
    t.fit_stream(&mut from_dir, &mut stream, Logistic).unwrap();
    assert_eq!(from_dir.params(), from_slice.params());

    // The partition key is a feature: the planted model is learned, country included.
    let owned_test: Vec<(Owned, &str)> = (planted(3000, 90, 1.5).into_iter().map(|r| (r, "FR")))
        .chain(planted(3000, 91, -1.5).into_iter().map(|r| (r, "US")))
        .collect();
    let test: Vec<Review> = (owned_test.iter())
        .map(|(r, c)| borrowed(r, Some(c)))
        .collect();
    let acc = accuracy(&from_dir, &test);
    assert!(acc > 0.72, "accuracy {acc}");
    let fr = from_dir
        .predict(&borrowed(&owned_test[0].0, Some("FR")))
        .unwrap()[0];
    let us = from_dir
        .predict(&borrowed(&owned_test[0].0, Some("US")))
        .unwrap()[0];
    assert!(fr - us > 1.5, "FR {fr}, US {us}");

    // Keys parse into the field's type; the whole-dataset helper reads them too.
    #[derive(serde::Deserialize)]
    struct Day<'a> {
        day: u8,
        country: &'a str,
    }
    let data = ParquetData::read_all::<Day>(&dir).unwrap();
    let days: Vec<Day> = data.rows().unwrap();
    assert_eq!(days.len(), 12000);
    assert_eq!((days[0].day, days[0].country), (1, "FR"));
    assert_eq!((days[3000].day, days[3000].country), (2, "FR"));
    assert_eq!((days[11999].day, days[11999].country), (2, "US"));
}

/// The error of reading `path` (a file or a directory) to the end as rows of `R`.
fn error_of<R>(path: &Path) -> ReadError
where
    R: vectorflow::features::RowType,
    for<'a> R::Row<'a>: serde::Deserialize<'a> + vectorflow::features::Labeled,
{
    let mut stream = match ParquetStream::<R>::open(path) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let data = ParquetData::read_all::<R::Row<'_>>(path);
    let data = data.and_then(|d| d.rows::<R::Row<'_>>().map(|_| ()));
    let e = data.expect_err("reading should fail");
    // The stream fails the same way.
    let mut read = 0;
    let msg = loop {
        match stream.read(1000, |_| read += 1) {
            Ok(0) => panic!("the stream read {read} rows without an error"),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
    };
    assert_eq!(msg, e.to_string());
    e
}

#[test]
fn a_missing_column_is_named_with_the_columns_there_are() {
    #[derive(Features, serde::Deserialize)]
    struct Priced<'a> {
        #[label]
        good: bool,
        #[hash]
        shop: &'a str,
        #[value]
        price: f32,
    }
    let path = temp("no-price.parquet");
    write(&path, &batch(&planted(50, 2, 0.0)), 20, Compression::SNAPPY);
    let e = error_of::<Priced<'static>>(&path);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: row group 0, row 0: field `price`: expected a column `price`; \
             the file has columns good, shop, words, stars, n",
            path.display()
        )
    );
    assert_eq!(
        (e.row_group(), e.line(), e.field()),
        (Some(0), 1, Some("field `price`"))
    );
}

#[test]
fn a_value_that_does_not_fit_names_its_row_group_row_and_column() {
    #[derive(Features, serde::Deserialize)]
    struct Small {
        #[label]
        good: bool,
        #[value]
        n: u8,
    }
    let path = temp("too-big.parquet");
    let mut rows = planted(100, 3, 0.0);
    rows[47].n = 300; // row group 2 (of 20 rows each), row 7
    write(&path, &batch(&rows), 20, Compression::SNAPPY);
    let e = error_of::<Small>(&path);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: row group 2, row 7: column `n`: invalid value: integer `300`, expected u8 \
             (the column is Int64)",
            path.display()
        )
    );
    assert_eq!(e.row_group(), Some(2));
    assert_eq!(e.line(), 8);

    // A column of another type.
    #[derive(Features, serde::Deserialize)]
    struct Wrong<'a> {
        #[label]
        good: bool,
        #[hash]
        stars: &'a str,
    }
    let e = error_of::<Wrong<'static>>(&path);
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: row group 0, row 0: column `stars`: invalid type: floating point `",
            path.display()
        )) && msg.ends_with("`, expected a borrowed string (the column is Float32)"),
        "{msg}"
    );

    // A null where the field is not an Option.
    let nulls = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("good", DataType::Boolean, false),
            Field::new("n", DataType::Int64, true),
        ])),
        vec![
            Arc::new(BooleanArray::from(vec![true; 5])),
            Arc::new(Int64Array::from(vec![
                Some(1),
                Some(2),
                None,
                Some(4),
                Some(5),
            ])),
        ],
    )
    .unwrap();
    let path = temp("nulls.parquet");
    write(&path, &nulls, 2, Compression::UNCOMPRESSED);
    let msg = error_of::<Small>(&path).to_string();
    assert_eq!(
        msg,
        format!(
            "{}: row group 1, row 0: column `n`: expected a value, found null \
             (an `Option` field reads nulls as `None`) (the column is Int64)",
            path.display()
        )
    );
    #[derive(serde::Deserialize, PartialEq, Debug)]
    struct MaybeN {
        n: Option<u8>,
    }
    let data = ParquetData::read_all::<MaybeN>(&path).unwrap();
    let ns: Vec<Option<u8>> = data.rows::<MaybeN>().unwrap().iter().map(|r| r.n).collect();
    assert_eq!(ns, [Some(1), Some(2), None, Some(4), Some(5)]);
}

#[test]
fn a_partition_key_that_does_not_parse_is_named() {
    #[derive(Features, serde::Deserialize)]
    struct Day {
        #[label]
        good: bool,
        #[value]
        day: u8,
    }
    let dir = temp("bad-key");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("day=monday")).unwrap();
    let file = dir.join("day=monday/part-0.parquet");
    write(&file, &batch(&planted(10, 4, 0.0)), 10, Compression::SNAPPY);
    let msg = error_of::<Day>(&dir).to_string();
    assert_eq!(
        msg,
        format!(
            "{}: row group 0, row 0: partition key `day`: expected u8, found `monday`",
            file.display()
        )
    );
}

#[test]
fn a_file_that_is_not_parquet_or_is_cut_or_corrupt_is_an_error() {
    let good = temp("whole.parquet");
    write(
        &good,
        &batch(&planted(3000, 5, 0.0)),
        1000,
        Compression::SNAPPY,
    );
    let bytes = std::fs::read(&good).unwrap();

    let text = temp("text.parquet");
    std::fs::write(&text, "good,shop\n1,shop3\n").unwrap();
    let msg = error_of::<Review<'static>>(&text).to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: not a readable Parquet file: ",
            text.display()
        )),
        "{msg}"
    );

    let cut = temp("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let msg = error_of::<Review<'static>>(&cut).to_string();
    assert!(
        msg.starts_with(&format!("{}: not a readable Parquet file: ", cut.display())),
        "{msg}"
    );

    // A footer claiming 4 GiB of metadata: an error, not an allocation of that size.
    let mut huge = bytes.clone();
    let at = huge.len() - 8;
    huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let path = temp("huge-footer.parquet");
    std::fs::write(&path, &huge).unwrap();
    let msg = error_of::<Review<'static>>(&path).to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: not a readable Parquet file: ",
            path.display()
        )),
        "{msg}"
    );

    // Garbage over the first column chunk's pages, the footer intact: opening the file
    // checks the page headers, and names the row group and column that hold them.
    let mut garbled = bytes.clone();
    for b in &mut garbled[4..200] {
        *b = 0xee;
    }
    let path = temp("garbled.parquet");
    std::fs::write(&path, &garbled).unwrap();
    let msg = error_of::<Review<'static>>(&path).to_string();
    assert_eq!(
        msg,
        format!(
            "{}: row group 0: column `good`: expected a page header, found an unknown \
             Thrift type 14 (page 0, at byte 4)",
            path.display()
        )
    );

    // Garbage inside the values of a page, its header intact: the row group fails when
    // decoded, naming the column and the rows.
    let meta = parquet::file::reader::FileReader::metadata(
        &parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&good).unwrap())
            .unwrap(),
    )
    .clone();
    let shop = meta.row_group(0).column(1);
    let (start, len) = shop.byte_range();
    let mut garbled = bytes.clone();
    let (from, to) = (start as usize + len as usize - 40, (start + len) as usize);
    for b in &mut garbled[from..to] {
        *b = 0xee;
    }
    std::fs::write(&path, &garbled).unwrap();
    let msg = error_of::<Review<'static>>(&path).to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: row group 0, row 0: column `shop`: corrupt or unreadable \
             (in the rows from this one on): ",
            path.display()
        )),
        "{msg}"
    );

    // Every single-byte corruption of the file is an error or reads rows, never a panic.
    let path = temp("flipped.parquet");
    let mut failed = 0;
    for at in (0..bytes.len()).step_by(97) {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x5a;
        std::fs::write(&path, &flipped).unwrap();
        let read = ParquetData::read_all::<Review>(&path);
        if read
            .and_then(|data| data.rows::<Review>().map(|_| ()))
            .is_err()
        {
            failed += 1;
        }
    }
    assert!(failed > 10, "only {failed} corruptions were errors");

    let empty = temp("empty-dir");
    std::fs::create_dir_all(&empty).unwrap();
    let msg = error_of::<Review<'static>>(&empty).to_string();
    assert_eq!(
        msg,
        format!("{}: no .parquet files in this directory", empty.display())
    );
}

#[test]
fn a_column_chunk_past_the_end_of_the_file_is_an_error_before_any_read() {
    let good = temp("for-cutting.parquet");
    write(
        &good,
        &batch(&planted(3000, 6, 0.0)),
        1000,
        Compression::SNAPPY,
    );
    let bytes = std::fs::read(&good).unwrap();
    // Cut 8000 bytes (of 27000) out of the data, keeping the footer: the footer's offsets
    // and lengths now reach past the end of the file (past the page indexes and the
    // footer that follow the data).
    assert!(bytes.len() > 20000);
    let mut cut = bytes[..4000].to_vec();
    cut.extend_from_slice(&bytes[12000..]);
    let path = temp("cut-middle.parquet");
    std::fs::write(&path, &cut).unwrap();
    let e = ParquetStream::<Review<'static>>::open(&path)
        .err()
        .expect("the footer's extents do not fit the file");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("{}: row group ", path.display()))
            && msg.contains(&format!(
                ": expected a column chunk within the file's {} bytes, found ",
                cut.len()
            )),
        "{msg}"
    );
}

#[test]
fn dictionary_encoded_strings_are_read_as_borrowed_str() {
    use arrow_array::types::Int32Type;
    use arrow_array::DictionaryArray;
    let shops: DictionaryArray<Int32Type> = vec![Some("a"), Some("b"), None, Some("a")]
        .into_iter()
        .collect();
    let rows = RecordBatch::try_from_iter([
        (
            "good",
            Arc::new(BooleanArray::from(vec![true, false, true, false])) as ArrayRef,
        ),
        ("shop", Arc::new(shops) as ArrayRef),
    ])
    .unwrap();
    let path = temp("dictionary.parquet");
    write(&path, &rows, 3, Compression::SNAPPY);
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Shop<'a> {
        good: bool,
        shop: Option<&'a str>,
    }
    let data = ParquetData::read_all::<Shop>(&path).unwrap();
    let shops: Vec<Option<&str>> = data
        .rows::<Shop>()
        .unwrap()
        .iter()
        .map(|r| r.shop)
        .collect();
    assert_eq!(shops, [Some("a"), Some("b"), None, Some("a")]);
}

#[test]
fn partition_values_are_unescaped_and_hive_nulls_are_none() {
    let dir = temp("escaped");
    let _ = std::fs::remove_dir_all(&dir);
    for city in ["New%20York", "__HIVE_DEFAULT_PARTITION__"] {
        std::fs::create_dir_all(dir.join(format!("city={city}"))).unwrap();
        let file = dir.join(format!("city={city}/part-0.parquet"));
        write(&file, &batch(&planted(3, 7, 0.0)), 10, Compression::SNAPPY);
    }
    #[derive(serde::Deserialize)]
    struct City<'a> {
        city: Option<&'a str>,
        n: i64,
    }
    let data = ParquetData::read_all::<City>(&dir).unwrap();
    let rows: Vec<(Option<&str>, i64)> = (data.rows::<City>().unwrap().iter())
        .map(|r| (r.city, r.n))
        .collect();
    // Sorted by path: `New%20York` before `__HIVE...` (`N` < `_`).
    assert_eq!(
        rows,
        [
            (Some("New York"), 0),
            (Some("New York"), 1),
            (Some("New York"), 2),
            (None, 0),
            (None, 1),
            (None, 2)
        ]
    );
}

/// A file of one column `id` in one row group and one data page, without statistics:
/// the page headers are then just their sizes.
fn one_page_file(
    path: &Path,
    ids: ArrayRef,
    dictionary: bool,
    compression: Compression,
) -> Vec<u8> {
    let field = Field::new("id", ids.data_type().clone(), false);
    let schema = Arc::new(Schema::new(vec![field]));
    let batch = RecordBatch::try_new(schema, vec![ids]).unwrap();
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(dictionary)
        .set_dictionary_page_size_limit(64 << 20)
        .set_data_page_size_limit(64 << 20)
        .set_data_page_row_count_limit(usize::MAX)
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    std::fs::read(path).unwrap()
}

#[derive(Features, serde::Deserialize)]
struct Id {
    #[label]
    id: i64,
}

/// The offset of the first page of the only column chunk of `path`.
fn first_page(path: &Path) -> usize {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader.metadata().row_group(0).column(0).byte_range().0 as usize
}

/// Overwrites the 4-byte varint at `at` with the largest 4-byte zigzag value, 2^27 − 1,
/// keeping the header's length (and so the file's layout) unchanged.
fn max_varint(bytes: &mut [u8], at: usize) {
    let v = &bytes[at..at + 4];
    assert!(
        v[..3].iter().all(|b| b & 0x80 != 0) && v[3] & 0x80 == 0,
        "expected a 4-byte varint at {at}: {v:x?}"
    );
    bytes[at..at + 4].copy_from_slice(&[0xfe, 0xff, 0xff, 0x7f]);
}

/// Reading `path` fails with `want` (after the file name) without any allocation of
/// `limit` bytes or more.
fn fails_small(path: &Path, want: &str, limit: usize) {
    LARGEST.store(0, std::sync::atomic::Ordering::Relaxed);
    let e = ParquetStream::<Id>::open(path)
        .err()
        .expect("a corrupt header");
    let largest = LARGEST.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(e.to_string(), format!("{}: {want}", path.display()));
    assert_eq!((e.row_group(), e.field()), (Some(0), Some("column `id`")));
    assert!(largest < limit, "allocated {largest} bytes at once");
    let e = ParquetData::read_all::<Id>(path)
        .err()
        .expect("a corrupt header");
    assert_eq!(e.to_string(), format!("{}: {want}", path.display()));
}

#[test]
fn a_page_header_claiming_a_huge_uncompressed_size_is_an_error_not_an_allocation() {
    // 600k zeros, snappy: 4.8 MB of page in ~230 kB, so the uncompressed size is a
    // 4-byte varint in the header, which then claims 128 MiB.
    let good = temp("zeros.parquet");
    let zeros = Arc::new(Int64Array::from(vec![0; 600_000]));
    let mut bytes = one_page_file(&good, zeros, false, Compression::SNAPPY);
    let rows = ParquetData::read_all::<Id>(&good).unwrap();
    assert_eq!(rows.rows::<Id>().unwrap().len(), 600_000);

    let at = first_page(&good);
    // field 1 (type) = 0 (a data page), then field 2 (uncompressed size)
    assert_eq!(bytes[at..at + 3], [0x15, 0x00, 0x15]);
    max_varint(&mut bytes, at + 3);
    let path = temp("huge-page.parquet");
    std::fs::write(&path, &bytes).unwrap();
    // The bound is the smallest of the chunk's total uncompressed size (4.8 MB and the
    // header), 256 MiB, and 32 times the compressed page.
    let e = ParquetStream::<Id>::open(&path).err().unwrap().to_string();
    let limit = (e.split("at most ").nth(1))
        .and_then(|rest| rest.split(' ').next()?.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{e}"));
    assert!((4_800_000..8 << 20).contains(&limit), "{e}");
    let want = format!(
        "row group 0: column `id`: expected a page that decompresses to at most {limit} \
         bytes, found one claiming 134217727 (page 0, at byte {at})"
    );
    fails_small(&path, &want, 64 << 20);
    let _ = (std::fs::remove_file(&good), std::fs::remove_file(&path));
}

#[test]
fn a_dictionary_page_claiming_more_values_than_it_holds_is_an_error_not_an_allocation() {
    // 1.1M distinct ids, uncompressed: the writer fills a 4 MiB dictionary page (2^20
    // ids, then plain pages), whose value count is a 4-byte varint, which then claims
    // 2^27 − 1 values (512 MiB of i32).
    let good = temp("many-ids.parquet");
    let n = 1_100_000;
    let ids = Arc::new(arrow_array::Int32Array::from_iter_values(0..n));
    let mut bytes = one_page_file(&good, ids, true, Compression::UNCOMPRESSED);
    let rows = ParquetData::read_all::<Id>(&good).unwrap();
    let ids: Vec<Id> = rows.rows().unwrap();
    assert_eq!((ids.len(), ids[1_099_999].id), (1_100_000, 1_099_999));

    let at = first_page(&good);
    // type = 2 (dictionary), the two sizes (4-byte varints: 4 MiB), field 7 (the
    // dictionary header, a struct) and its field 1: the number of values.
    assert_eq!(bytes[at..at + 3], [0x15, 0x04, 0x15]);
    assert_eq!(
        (bytes[at + 7], bytes[at + 12], bytes[at + 13]),
        (0x15, 0x4c, 0x15)
    );
    max_varint(&mut bytes, at + 14);
    let path = temp("huge-dictionary.parquet");
    std::fs::write(&path, &bytes).unwrap();
    let want = format!(
        "row group 0: column `id`: expected a dictionary page with at most as many values \
         as its 4194304 bytes hold, found one claiming 134217727 (page 0, at byte {at})"
    );
    fails_small(&path, &want, 64 << 20);
    let _ = (std::fs::remove_file(&good), std::fs::remove_file(&path));
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Checked<'a> {
    id: i64,
    score: f64,
    site: &'a str,
}

#[test]
fn a_bit_flipped_in_a_checksummed_page_is_an_error() {
    // Written by pyarrow with page checksums (tests/data/make_checksummed.py): arrow-rs
    // 60 writes none. Uncompressed, one data page per column.
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/checksummed.parquet");
    let data = ParquetData::read_all::<Checked>(&good).unwrap();
    let rows: Vec<Checked> = data.rows().unwrap();
    assert_eq!(rows.len(), 200);
    assert_eq!(
        rows[199],
        Checked {
            id: 199,
            score: 49.75,
            site: "site3"
        }
    );
    let bytes = std::fs::read(&good).unwrap();
    let file = std::fs::File::open(&good).unwrap();
    let meta =
        parquet::arrow::arrow_reader::ArrowReaderMetadata::load(&file, Default::default()).unwrap();
    let path = temp("flipped.parquet");
    let mut flips = 0;
    for col in meta.metadata().row_group(0).columns() {
        let end = (col.data_page_offset() + col.compressed_size()) as usize;
        let name = col.column_path().string();
        // The last 1,000 bytes of the chunk are its data page's values.
        for k in 0..100 {
            let (at, bit) = (end - 1 - k * 10, k % 8);
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            std::fs::write(&path, &flipped).unwrap();
            let e = match ParquetData::read_all::<Checked>(&path) {
                Ok(data) => panic!(
                    "byte {at} bit {bit} of column `{name}` flipped, read as {:?}",
                    data.rows::<Checked>().map(|r| r.len())
                ),
                Err(e) => e.to_string(),
            };
            assert!(
                e.contains(&format!("column `{name}`")) && e.contains("checksum"),
                "{e}"
            );
            flips += 1;
        }
    }
    assert_eq!(flips, 300);
    let _ = std::fs::remove_file(&path);
}

#[derive(Features, serde::Deserialize)]
struct Numbered {
    #[label]
    good: bool,
    /// The row's number in the dataset.
    #[allow(dead_code)]
    n: i64,
}

/// A dataset split among the ranks of a job by row group: every row group is read by
/// exactly one rank, whole, in order, whatever the job's size; the ranks' shares of the
/// rows are about equal; every rank computes the same plan.
#[test]
fn a_dataset_is_split_among_ranks_by_row_group() {
    let dir = temp("sharded");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Row groups of 100, 100, 100, 50 rows, then 37, 37, 6.
    for (name, first, rows, group) in [("a.parquet", 0, 350, 100), ("b.parquet", 350, 80, 37)] {
        let mut data = planted(rows, first as u64, 0.0);
        for (i, r) in data.iter_mut().enumerate() {
            r.n = (first + i) as i64;
        }
        write(&dir.join(name), &batch(&data), group, Compression::SNAPPY);
    }
    let mut sizes = groups_of(&dir, "a.parquet");
    sizes.extend(groups_of(&dir, "b.parquet"));
    assert_eq!(sizes, [100, 100, 100, 50, 37, 37, 6]);
    for size in 1..=9 {
        let (mut streamed, mut read, mut prints) = (Vec::new(), Vec::new(), Vec::new());
        for rank in 0..size {
            let shard = Shard::new(rank, size).unwrap();
            let mut stream = ParquetStream::<Numbered>::open_shard(&dir, shard).unwrap();
            let mut mine = Vec::new();
            while stream.read(64, |r| mine.push(r.n)).unwrap() > 0 {}
            let plan = stream.shard().unwrap();
            prints.push(plan.fingerprint());
            // A cache of this rank's rows is keyed on its shard.
            if size > 1 {
                let source = stream.source();
                assert!(
                    source.contains(&format!("rank {rank} of {size}")),
                    "{source}"
                );
            }
            let groups = plan.row_groups_read();
            let rows: usize = groups
                .iter()
                .map(|(p, g)| {
                    let name = p.file_name().unwrap().to_str().unwrap();
                    groups_of(&dir, name)[*g]
                })
                .sum();
            assert_eq!(mine.len(), rows, "whole row groups");
            assert_eq!(stream.rows(), rows as u64);
            // About equal shares: within one row group of the mean.
            let mean = 430.0 / size as f64;
            assert!(
                (rows as f64 - mean).abs() <= 100.0,
                "rank {rank} of {size}: {rows} rows"
            );
            let data = ParquetData::read_shard::<Numbered>(&dir, shard).unwrap();
            assert_eq!(data.shard(), Some(plan));
            read.extend(data.rows::<Numbered>().unwrap().iter().map(|r| r.n));
            streamed.extend(mine);
        }
        let want: Vec<i64> = (0..430).collect();
        assert_eq!(streamed, want, "size {size}");
        assert_eq!(read, want, "size {size}");
        assert!(
            prints.windows(2).all(|w| w[0] == w[1]),
            "one plan for the job"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The rows of each row group of `dir/name`.
fn groups_of(dir: &Path, name: &str) -> Vec<usize> {
    use parquet::file::reader::FileReader;
    let file = std::fs::File::open(dir.join(name)).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    let meta = reader.metadata();
    (0..meta.num_row_groups())
        .map(|g| meta.row_group(g).num_rows() as usize)
        .collect()
}
