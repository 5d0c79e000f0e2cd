//! Training from a stream: the same weights as from a slice, several passes by
//! rewinding, errors that say where, and resume across calls.

use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::{Stream, StreamError, StreamRow};

/// A row borrowing its words from the text buffer of the chunk being read.
#[derive(Features)]
struct Review<'a> {
    #[label]
    good: bool,
    #[hash]
    shop: &'a str,
    #[tokens]
    words: &'a str,
    #[value]
    stars: f32,
}

const WORDS: [&str; 8] = [
    "great", "bad", "slow", "fast", "ok", "broken", "nice", "meh",
];
const EFFECT: [f32; 8] = [1.5, -1.5, -0.7, 0.7, 0.0, -2.0, 1.0, -0.2];

/// `label<TAB>shop<TAB>words<TAB>stars` lines of a planted logistic model.
fn text(n: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for _ in 0..n {
        let shop = rng.below(20);
        let (w1, w2) = (rng.below(8), rng.below(8));
        let stars = rng.uniform() * 5.0;
        let s = EFFECT[w1] + EFFECT[w2] + 0.3 * (stars - 2.5) + (shop % 3) as f32 - 1.0;
        let y = rng.uniform() < 1.0 / (1.0 + (-s).exp());
        out += &format!(
            "{}\tshop{shop}\t{} {}\t{stars}\n",
            y as u8, WORDS[w1], WORDS[w2]
        );
    }
    out
}

fn parse(line: &str) -> Review<'_> {
    let mut f = line.split('\t');
    let (y, shop, words, stars) = (f.next(), f.next(), f.next(), f.next());
    Review {
        good: y == Some("1"),
        shop: shop.unwrap(),
        words: words.unwrap(),
        stars: stars.unwrap().parse().unwrap(),
    }
}

/// Reads a text a chunk of lines at a time into its own buffer, as a file reader does:
/// rows borrow the buffer, which the next chunk overwrites.
struct Lines {
    text: String,
    at: usize,
    buf: String,
    /// Whether `rewind` works (a pipe's stream cannot).
    rewindable: bool,
    /// A line number at which reading fails, to test errors.
    fail_at: Option<usize>,
    /// A line number at which reading panics, as a user's code might.
    panic_at: Option<usize>,
    lines_read: usize,
    /// Rows handed out over the stream's life, to see whether a cache was used.
    total_read: usize,
    /// What `source` reports (empty: unknown).
    source: String,
}

impl Lines {
    fn new(text: String) -> Lines {
        Lines {
            text,
            at: 0,
            buf: String::new(),
            rewindable: true,
            fail_at: None,
            panic_at: None,
            lines_read: 0,
            total_read: 0,
            source: String::new(),
        }
    }
}

impl Stream for Lines {
    type Row<'a> = Review<'a>;

    fn read<F: FnMut(&Review<'_>)>(&mut self, max: usize, mut f: F) -> Result<usize, StreamError> {
        self.buf.clear();
        let mut n = 0;
        while n < max && self.at < self.text.len() {
            let end = self.text[self.at..]
                .find('\n')
                .map_or(self.text.len(), |e| self.at + e + 1);
            self.buf.push_str(&self.text[self.at..end]);
            self.at = end;
            n += 1;
        }
        for line in self.buf.lines() {
            if Some(self.lines_read + 1) == self.fail_at {
                return Err(format!(
                    "reviews.tsv, line {}: expected 4 fields",
                    self.lines_read + 1
                )
                .into());
            }
            assert!(
                Some(self.lines_read + 1) != self.panic_at,
                "a bug in the stream"
            );
            self.lines_read += 1;
            self.total_read += 1;
            f(&parse(line));
        }
        Ok(n)
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        if !self.rewindable {
            return Err(
                "standard input can be read only once; write it to a file or a cache".into(),
            );
        }
        self.at = 0;
        self.lines_read = 0;
        Ok(())
    }

    fn source(&self) -> String {
        self.source.clone()
    }
}

type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];
type Mlp = network![Sparse<{ 1 << 12 }> => Linear<8> => ReLU => Dropout<0.1> => Linear<1>];

#[test]
fn a_stream_that_panics_fails_the_fit() {
    // The reading thread's end would otherwise look like the end of the rows.
    let mut bad = Lines::new(text(3000, 6));
    bad.panic_at = Some(1234);
    let mut net = Lr::new(Init::zeros());
    let err = trainer()
        .fit_stream(&mut net, &mut bad, Logistic)
        .unwrap_err();
    assert!(matches!(err, TrainError::Read(_)), "{err:?}");
    assert!(err.to_string().contains("panicked"), "{err}");
}

fn trainer() -> Trainer<AdaGrad> {
    Trainer::new(AdaGrad::new(0.2))
        .threads(1)
        .shuffle(false)
        .chunk_rows(700)
        .progress(Progress::Silent)
}

#[test]
fn a_stream_trains_the_same_weights_as_a_slice() {
    let data = text(5000, 1);
    let rows: Vec<Review> = data.lines().map(parse).collect();
    let t = trainer().passes(3);

    let mut from_slice = Lr::new(Init::zeros());
    t.fit(&mut from_slice, &rows, Logistic).unwrap();
    let mut from_stream = Lr::new(Init::zeros());
    let report = t
        .fit_stream(&mut from_stream, &mut Lines::new(data.clone()), Logistic)
        .unwrap();
    assert_eq!(from_stream.params(), from_slice.params());
    assert_eq!(report.passes.len(), 3);
    assert!(report.passes.iter().all(|p| p.rows == 5000));

    let mut mlp_slice = Mlp::new(Init::uniform(0.1).seed(2));
    let mut mlp_stream = mlp_slice.clone();
    let t = trainer().passes(2).prior(Prior::l2(1e-4));
    t.fit(&mut mlp_slice, &rows, Logistic).unwrap();
    t.fit_stream(&mut mlp_stream, &mut Lines::new(data), Logistic)
        .unwrap();
    assert_eq!(mlp_stream.params(), mlp_slice.params());
}

#[test]
fn a_shuffled_stream_learns_the_planted_model() {
    let (train, test) = (text(20000, 2), text(4000, 3));
    let mut net = Lr::new(Init::zeros());
    let report = Trainer::new(AdaGrad::new(0.2))
        .passes(3)
        .threads(2)
        .chunk_rows(4096)
        .holdout(Holdout::EveryKth(10))
        .progress(Progress::Silent)
        .fit_stream(&mut net, &mut Lines::new(train), Logistic)
        .unwrap();
    let h: Vec<f64> = report
        .passes
        .iter()
        .map(|p| p.holdout_loss.unwrap())
        .collect();
    assert!(h[2] < 0.6, "holdout losses {h:?}");
    assert_eq!(report.passes[0].rows, 18000);
    let test: Vec<Review> = test.lines().map(parse).collect();
    let right = test
        .iter()
        .filter(|r| (net.predict(*r).unwrap()[0] > 0.0) == r.good)
        .count();
    let acc = right as f64 / test.len() as f64;
    assert!(acc > 0.68, "accuracy {acc}");
}

#[test]
fn resuming_a_stream_equals_an_unbroken_run() {
    let data = text(3000, 4);
    let t = |passes| trainer().passes(passes).shuffle(true).seed(5);
    let mut straight = Mlp::new(Init::uniform(0.1).seed(3));
    t(3).fit_stream(&mut straight, &mut Lines::new(data.clone()), Logistic)
        .unwrap();
    let mut resumed = Mlp::new(Init::uniform(0.1).seed(3));
    t(2).fit_stream(&mut resumed, &mut Lines::new(data.clone()), Logistic)
        .unwrap();
    let mut file = Vec::new();
    resumed.to_writer(&mut file).unwrap();
    let mut resumed = Mlp::from_reader(&file[..]).unwrap();
    t(1).fit_stream(&mut resumed, &mut Lines::new(data), Logistic)
        .unwrap();
    assert_eq!(resumed.params(), straight.params());
}

#[test]
fn a_one_pass_stream_says_it_cannot_rewind() {
    let mut once = Lines::new(text(1000, 5));
    once.rewindable = false;
    let mut net = Lr::new(Init::zeros());
    trainer()
        .fit_stream(&mut net, &mut once, Logistic)
        .expect("one pass reads it once");
    let mut once = Lines::new(text(1000, 5));
    once.rewindable = false;
    let err = trainer()
        .passes(2)
        .fit_stream(&mut net, &mut once, Logistic)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "reading the rows: standard input can be read only once; write it to a file or a cache"
    );
}

#[test]
fn stream_errors_name_the_place() {
    let mut bad = Lines::new(text(3000, 6));
    bad.fail_at = Some(1234);
    let mut net = Lr::new(Init::zeros());
    let err = trainer()
        .fit_stream(&mut net, &mut bad, Logistic)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "reading the rows: reviews.tsv, line 1234: expected 4 fields"
    );
    // A non-finite feature names the stream's row (counted from 0) and the field.
    let mut data = text(2000, 7);
    let line = data.lines().nth(1500).unwrap().to_string();
    let broken = format!("{}\tNaN\n", line.rsplit_once('\t').unwrap().0);
    data = data.replacen(&format!("{line}\n"), &broken, 1);
    let err = trainer()
        .fit_stream(&mut net, &mut Lines::new(data), Logistic)
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("pass 1, row 1500: "), "{msg}");
    assert!(msg.contains("stars"), "{msg}");
}

#[test]
fn a_closure_loss_sees_the_label_and_weight() {
    let data = text(2000, 8);
    let mut net = Lr::new(Init::zeros());
    let logistic = |out: &[f32; 1], r: &StreamRow, g: &mut [f32; 1]| {
        let p = 1.0 / (1.0 + (-out[0]).exp());
        g[0] = r.weight * (p - r.label);
        r.weight * -(if r.label > 0.5 { p } else { 1.0 - p }).ln()
    };
    let a = trainer()
        .fit_stream(&mut net, &mut Lines::new(data.clone()), logistic)
        .unwrap();
    let mut builtin = Lr::new(Init::zeros());
    let b = trainer()
        .fit_stream(&mut builtin, &mut Lines::new(data), Logistic)
        .unwrap();
    let (la, lb) = (a.passes[0].train_loss, b.passes[0].train_loss);
    assert!((la - lb).abs() < 1e-4, "{la} vs {lb}");
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vf-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_cache_gives_the_weights_of_the_stream_and_is_reused() {
    let data = text(5000, 9);
    let t = trainer().passes(3).shuffle(true).seed(2);
    let mut plain = Mlp::new(Init::uniform(0.1).seed(4));
    let mut cached = plain.clone();
    t.fit_stream(&mut plain, &mut Lines::new(data.clone()), Logistic)
        .unwrap();
    let path = temp("reviews.cache");
    let mut lines = Lines::new(data.clone());
    lines.source = "reviews.tsv 5000 rows".into();
    t.clone()
        .cache(&path)
        .fit_stream(&mut cached, &mut lines, Logistic)
        .unwrap();
    assert_eq!(cached.params(), plain.params());
    assert_eq!(lines.total_read, 5000, "passes 2 and 3 read the cache");
    assert!(path.exists());

    // The next fit on the same source reads only the cache.
    lines.rewind().unwrap();
    let mut again = Mlp::new(Init::uniform(0.1).seed(4));
    t.clone()
        .cache(&path)
        .fit_stream(&mut again, &mut lines, Logistic)
        .unwrap();
    assert_eq!(lines.total_read, 5000, "the stream was not read again");
    assert_eq!(again.params(), plain.params());

    // Another net's inputs, or another source, rebuild it.
    type Wider = network![Sparse<{ 1 << 13 }> => Linear<1>];
    let mut wider = Wider::new(Init::zeros());
    lines.rewind().unwrap();
    t.clone()
        .cache(&path)
        .fit_stream(&mut wider, &mut lines, Logistic)
        .unwrap();
    assert_eq!(lines.total_read, 10000);
    lines.source = "reviews.tsv, edited".into();
    lines.rewind().unwrap();
    t.cache(&path)
        .fit_stream(&mut wider, &mut lines, Logistic)
        .unwrap();
    assert_eq!(lines.total_read, 15000);
}

#[test]
fn a_cache_trains_a_one_pass_stream_for_several_passes() {
    let mut once = Lines::new(text(3000, 10));
    once.rewindable = false;
    let path = temp("once.cache");
    let mut net = Lr::new(Init::zeros());
    let report = trainer()
        .passes(4)
        .cache(&path)
        .fit_stream(&mut net, &mut once, Logistic)
        .unwrap();
    assert_eq!(report.passes.len(), 4);
    assert_eq!(once.total_read, 3000);
    let mut reference = Lr::new(Init::zeros());
    trainer()
        .passes(4)
        .fit_stream(&mut reference, &mut Lines::new(text(3000, 10)), Logistic)
        .unwrap();
    assert_eq!(net.params(), reference.params());
}

/// Builds a cache of `text(2000, 11)` and returns its bytes.
fn cache_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut lines = Lines::new(text(2000, 11));
    lines.source = "damage".into();
    trainer()
        .cache(path)
        .fit_stream(&mut Lr::new(Init::zeros()), &mut lines, Logistic)
        .unwrap();
    std::fs::read(path).unwrap()
}

fn fit_cached(path: &std::path::Path) -> Result<usize, TrainError> {
    let mut lines = Lines::new(text(2000, 11));
    lines.source = "damage".into();
    trainer()
        .cache(path)
        .fit_stream(&mut Lr::new(Init::zeros()), &mut lines, Logistic)
        .map(|_| lines.total_read)
}

use vectorflow::train::TrainError;

#[test]
fn a_damaged_cache_is_an_error_naming_the_block() {
    let path = temp("damaged.cache");
    let good = cache_bytes(&path);
    assert_eq!(fit_cached(&path).unwrap(), 0, "a good cache is used");
    let mut bad = good.clone();
    let at = bad.len() - 40;
    bad[at] ^= 0x04;
    std::fs::write(&path, &bad).unwrap();
    let msg = fit_cached(&path).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "reading the rows: cache {}: block 2: checksum mismatch",
            path.display()
        )),
        "{msg}"
    );
    std::fs::write(&path, &good[..good.len() - 100]).unwrap();
    let msg = fit_cached(&path).unwrap_err().to_string();
    assert!(
        msg.contains("block 2: the file ends inside the block"),
        "{msg}"
    );
    std::fs::write(&path, b"label\tshop\twords\n").unwrap();
    let msg = fit_cached(&path).unwrap_err().to_string();
    assert!(msg.contains("it is not a vectorflow cache"), "{msg}");
}

/// Random damage to a real cache: every case is an error, a rebuild (damage to the
/// metadata's text that its checksum catches is an error too), or, when the damage
/// leaves the file valid, a normal fit; never a panic or a misread.
#[test]
fn random_cache_damage_never_panics() {
    let path = temp("random.cache");
    let good = cache_bytes(&path);
    let mut rng = Rng::new(12);
    let (mut errors, mut cases) = (0, 0);
    for _ in 0..300 {
        let mut b = good.clone();
        match rng.below(3) {
            0 => {
                let i = rng.below(b.len());
                b[i] = rng.below(256) as u8;
            }
            1 => b.truncate(rng.below(b.len())),
            _ => {
                let i = rng.below(b.len());
                b.insert(i, rng.below(256) as u8);
            }
        }
        if b == good {
            continue;
        }
        cases += 1;
        std::fs::write(&path, &b).unwrap();
        match fit_cached(&path) {
            Err(_) => errors += 1,
            // A rebuild reads the stream; a fit that read nothing used damaged bytes.
            Ok(read) => assert_eq!(read, 2000, "a damaged cache was used"),
        }
    }
    assert!(errors > cases / 2, "{errors} of {cases}");
}

#[derive(Features, serde::Deserialize)]
struct CsvReview<'a> {
    #[label]
    good: u8,
    #[hash]
    shop: &'a str,
    #[tokens]
    words: &'a str,
    #[value]
    stars: f32,
}

#[test]
fn csv_rows_borrowing_the_reader_train_as_a_slice_does() {
    use vectorflow::io::SerdeStream;
    let data = text(6000, 13);
    let mut csv = String::from("good,shop,words,stars\n");
    for line in data.lines() {
        csv += &line.replace('\t', ",");
        csv.push('\n');
    }
    let path = temp("reviews.csv");
    std::fs::write(&path, &csv).unwrap();
    let rows: Vec<CsvReview> = data
        .lines()
        .map(|l| {
            let r = parse(l);
            CsvReview {
                good: r.good as u8,
                shop: r.shop,
                words: r.words,
                stars: r.stars,
            }
        })
        .collect();
    let t = trainer().passes(2);
    let mut from_slice = Lr::new(Init::zeros());
    t.fit(&mut from_slice, &rows, Logistic).unwrap();
    let mut from_csv = Lr::new(Init::zeros());
    let mut stream = SerdeStream::<CsvReview<'static>>::csv(&path).unwrap();
    let report = t.fit_stream(&mut from_csv, &mut stream, Logistic).unwrap();
    assert_eq!(report.passes[1].rows, 6000);
    assert_eq!(from_csv.params(), from_slice.params());
    // A bad field names the file, line and field.
    std::fs::write(&path, csv.replacen(",shop3,", ",shop3,great,oops\n", 1)).unwrap();
    let mut stream = SerdeStream::<CsvReview<'static>>::csv(&path).unwrap();
    let msg = t
        .fit_stream(&mut Lr::new(Init::zeros()), &mut stream, Logistic)
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("reading the rows: "), "{msg}");
    assert!(msg.contains("reviews.csv"), "{msg}");
}

#[test]
fn a_libsvm_file_streams_the_weights_of_its_rows_in_memory() {
    use vectorflow::io::{Labels, LibSvm, SparseFormat};
    type Sparse = network![Sparse<{ 1 << 10 }> => Linear<1>];
    let mut rng = Rng::new(21);
    let mut text = String::new();
    for _ in 0..5000 {
        let a = 1 + rng.below(1000);
        let b = 1 + rng.below(1000);
        let label = if (a + b).is_multiple_of(3) { 1 } else { -1 };
        text += &format!("{label} {}:1 {}:0.5\n", a.min(b), a.max(b) + 1);
    }
    let path = temp("rows.svm");
    std::fs::write(&path, &text).unwrap();
    let format = LibSvm::new().labels(Labels::Binary);
    let t = trainer().passes(2);
    let rows = format.open(&path).unwrap().read_all().unwrap();
    let mut in_memory = Sparse::new(Init::zeros());
    t.fit(&mut in_memory, &rows.to_rows(), Logistic).unwrap();
    let cache = temp("rows.vfcache");
    let _ = std::fs::remove_file(&cache);
    // Built by the first fit, the cache serves both passes of the second.
    for _ in 0..2 {
        let mut streamed = Sparse::new(Init::zeros());
        let mut stream = format.stream(&path).unwrap();
        let report = t
            .clone()
            .cache(&cache)
            .fit_stream(&mut streamed, &mut stream, Logistic)
            .unwrap();
        assert_eq!(report.passes[1].rows, 5000);
        assert_eq!(streamed.params(), in_memory.params());
    }
    let _ = std::fs::remove_file(&cache);
}

/// The blocks of a cache (each from its `VFBL` tag to the next), the bytes before them
/// and the end marker.
fn blocks(cache: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>, Vec<u8>) {
    let meta = u32::from_le_bytes(cache[12..16].try_into().unwrap()) as usize;
    let mut at = 16 + meta + 4;
    let head = cache[..at].to_vec();
    let mut blocks = Vec::new();
    while &cache[at..at + 4] == b"VFBL" {
        let stored = u32::from_le_bytes(cache[at + 9..at + 13].try_into().unwrap()) as usize;
        let end = at + 4 + 17 + stored;
        blocks.push(cache[at..end].to_vec());
        at = end;
    }
    (head, blocks, cache[at..].to_vec())
}

/// Blocks put together in another order, with the end marker's counts fixed to match.
fn reassembled(head: &[u8], blocks: &[&Vec<u8>], end: &[u8]) -> Vec<u8> {
    let mut out = head.to_vec();
    let mut rows = 0u64;
    for b in blocks {
        rows += u32::from_le_bytes(b[4..8].try_into().unwrap()) as u64;
        out.extend_from_slice(b);
    }
    let mut end = end.to_vec();
    end[4..12].copy_from_slice(&rows.to_le_bytes());
    end[12..16].copy_from_slice(&(blocks.len() as u32).to_le_bytes());
    out.extend_from_slice(&end);
    out
}

/// Every block is whole, but in another order, repeated or missing: an error, never
/// rows trained in another order or twice.
#[test]
fn blocks_moved_repeated_or_dropped_are_an_error() {
    let path = temp("edited.cache");
    let good = cache_bytes(&path);
    let (head, b, end) = blocks(&good);
    assert_eq!(b.len(), 3, "2000 rows in chunks of 700");
    let edits: [(&str, Vec<&Vec<u8>>); 4] = [
        ("swapped", vec![&b[1], &b[0], &b[2]]),
        ("repeated", vec![&b[0], &b[0], &b[1], &b[2]]),
        ("dropped", vec![&b[0], &b[2]]),
        ("last dropped", vec![&b[0], &b[1]]),
    ];
    for (what, order) in edits {
        std::fs::write(&path, reassembled(&head, &order, &end)).unwrap();
        match fit_cached(&path) {
            Ok(read) => panic!("{what}: trained, {read} rows read from the stream"),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("out of order") || msg.contains("removed or reordered"),
                    "{what}: {msg}"
                );
            }
        }
    }
}

/// A customer seen at a shop: whether they came back (the label), after how long, and
/// how many visits they made; the two last ride beside the hashed row as `#[aux]`.
#[derive(Features, serde::Deserialize)]
struct Visit<'a> {
    #[label]
    returned: bool,
    #[weight]
    w: f32,
    #[hash]
    shop: &'a str,
    #[aux]
    days: f32,
    #[aux]
    visits: u16,
}

/// The same rows without `#[aux]` fields.
#[derive(Features, serde::Deserialize)]
struct PlainVisit<'a> {
    #[label]
    returned: bool,
    #[weight]
    w: f32,
    #[hash]
    shop: &'a str,
}

/// The exponential-survival loss of `log_rate` for one row's outcome.
fn survival_loss(
    log_rate: f32,
    w: f32,
    seen: bool,
    days: f32,
    visits: u16,
    g: &mut [f32; 1],
) -> f32 {
    // `visits` scales the exposure: a check that every aux field reaches the loss.
    let exposure = days * visits as f32;
    let seen = seen as u8 as f32;
    g[0] = w * (log_rate.exp() * exposure - seen);
    w * (log_rate.exp() * exposure - seen * log_rate)
}

#[test]
fn a_streamed_closure_loss_reads_the_rows_aux_fields_through_the_cache() {
    let mut rng = Rng::new(31);
    let mut json = String::new();
    for _ in 0..4000 {
        let shop = rng.below(30);
        let rate = 0.2 + (shop % 5) as f32 * 0.3;
        let t = -rng.uniform_open().ln() as f32 / rate;
        let (returned, days) = if t < 2.0 { (true, t) } else { (false, 2.0) };
        let (w, visits) = (1 + rng.below(2), 1 + rng.below(3));
        json += &format!(
            "{{\"returned\":{returned},\"w\":{w},\"shop\":\"s{shop}\",\"days\":{days},\"visits\":{visits}}}\n"
        );
    }
    let path = temp("visits.jsonl");
    std::fs::write(&path, &json).unwrap();
    let mut reader = vectorflow::io::JsonLines::open(&path).unwrap();
    let rows = reader.next_rows::<Visit>().unwrap().unwrap();
    assert_eq!(rows.len(), 4000);
    let t = trainer().passes(3);

    let mut in_memory = Lr::new(Init::zeros());
    let on_rows = |out: &[f32; 1], r: &Visit, g: &mut [f32; 1]| {
        survival_loss(out[0], r.w, r.returned, r.days, r.visits, g)
    };
    t.fit(&mut in_memory, &rows, on_rows).unwrap();

    let on_stream = |out: &[f32; 1], r: &StreamRow<VisitAux>, g: &mut [f32; 1]| {
        survival_loss(out[0], r.weight, r.label > 0.5, r.aux.days, r.aux.visits, g)
    };
    let stream = || vectorflow::io::SerdeStream::<Visit<'static>>::json_lines(&path).unwrap();
    let mut streamed = Lr::new(Init::zeros());
    t.fit_stream(&mut streamed, &mut stream(), on_stream)
        .unwrap();
    assert_eq!(streamed.params(), in_memory.params());

    // A cache of the same file and net, built for rows without `#[aux]` fields, is
    // rebuilt rather than misread; the rebuilt one serves a later fit whole.
    let cache = temp("visits.vfcache");
    let mut plain = vectorflow::io::SerdeStream::<PlainVisit<'static>>::json_lines(&path).unwrap();
    trainer()
        .cache(&cache)
        .fit_stream(&mut Lr::new(Init::zeros()), &mut plain, Logistic)
        .unwrap();
    let mut built = None;
    for _ in 0..2 {
        let mut cached = Lr::new(Init::zeros());
        t.clone()
            .cache(&cache)
            .fit_stream(&mut cached, &mut stream(), on_stream)
            .unwrap();
        assert_eq!(cached.params(), in_memory.params());
        let modified = std::fs::metadata(&cache).unwrap().modified().unwrap();
        assert_eq!(
            *built.get_or_insert(modified),
            modified,
            "the cache was rebuilt twice"
        );
    }
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn an_empty_file_is_an_error_naming_it() {
    use vectorflow::io::{LibSvm, SerdeStream, SparseFormat};
    type Sparse = network![Sparse<{ 1 << 10 }> => Linear<1>];
    // Blank lines and comments only: no rows.
    let path = temp("empty.svm");
    std::fs::write(&path, "\n# nothing here\n\n").unwrap();
    let mut stream = LibSvm::new().stream(&path).unwrap();
    let e = trainer()
        .fit_stream(&mut Sparse::new(Init::zeros()), &mut stream, Logistic)
        .unwrap_err();
    assert_eq!(
        e,
        TrainError::NoRows {
            input: path.display().to_string()
        }
    );
    assert_eq!(
        e.to_string(),
        format!("{}: no rows to train on", path.display())
    );
    // A CSV file with its header alone.
    #[derive(Features, serde::Deserialize)]
    struct Shop<'a> {
        #[label]
        good: bool,
        #[hash]
        shop: &'a str,
    }
    let path = temp("empty.csv");
    std::fs::write(&path, "good,shop\n").unwrap();
    let mut stream = SerdeStream::<Shop<'static>>::csv(&path).unwrap();
    let e = trainer()
        .fit_stream(&mut Sparse::new(Init::zeros()), &mut stream, Logistic)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: no rows to train on", path.display())
    );
    // A slice names nothing.
    let e = trainer()
        .fit(
            &mut Sparse::new(Init::zeros()),
            &Vec::<Shop>::new(),
            Logistic,
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "no rows to train on");
}
