//! A binary cache is reused only for the rows it holds: another row spec, other reader
//! options or another file rebuild it, and a file that changes while training reads it
//! stops training with an error naming it.

use std::path::{Path, PathBuf};
use vectorflow::features::Features;
use vectorflow::io::{Labels, LibSvm, SerdeStream, SparseFormat};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::{Stream, StreamError};

type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vf-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn trainer() -> Trainer<AdaGrad> {
    Trainer::new(AdaGrad::new(0.2))
        .threads(1)
        .shuffle(false)
        .chunk_rows(500)
        .passes(2)
        .progress(Progress::Silent)
}

/// Trains a fresh net on a stream, with the cache at a path if given: its weights.
fn fit<St: Stream>(
    stream: &mut St,
    cache: Option<&Path>,
    loss: impl Loss<vectorflow::train::StreamRow, [f32; 1]>,
) -> Result<Vec<f32>, vectorflow::train::TrainError>
where
    for<'a> St::Row<'a>: vectorflow::features::SparseGroup<{ vectorflow::features::group_id("") }>
        + vectorflow::features::AuxFields<Aux = ()>,
{
    let mut net = Lr::new(Init::zeros());
    let t = match cache {
        Some(path) => trainer().cache(path),
        None => trainer(),
    };
    t.fit_stream(&mut net, stream, loss)?;
    Ok(net.params().to_vec())
}

/// The error of a fit that must fail (without printing the weights of one that did not).
fn error(fit: Result<Vec<f32>, vectorflow::train::TrainError>) -> String {
    match fit {
        Ok(_) => panic!("the fit succeeded"),
        Err(e) => e.to_string(),
    }
}

mod v1 {
    use vectorflow::prelude::*;

    #[derive(Features, serde::Deserialize)]
    pub struct Visit<'a> {
        #[label]
        pub good: u8,
        #[hash]
        pub shop: &'a str,
        // Read from the file, not a feature.
        #[allow(dead_code)]
        pub city: &'a str,
    }
}

mod v2 {
    use vectorflow::prelude::*;

    /// `v1::Visit` with `city` hashed too.
    #[derive(Features, serde::Deserialize)]
    pub struct Visit<'a> {
        #[label]
        pub good: u8,
        #[hash]
        pub shop: &'a str,
        #[hash]
        pub city: &'a str,
    }
}

mod v3 {
    use vectorflow::prelude::*;

    /// `v2::Visit` with the two crossed.
    #[derive(Features, serde::Deserialize)]
    #[features(cross(shop, city))]
    pub struct Visit<'a> {
        #[label]
        pub good: u8,
        #[hash]
        pub shop: &'a str,
        #[hash]
        pub city: &'a str,
    }
}

fn visits(path: &Path) {
    let mut rng = Rng::new(5);
    let mut csv = String::from("good,shop,city\n");
    for _ in 0..3000 {
        let (shop, city) = (rng.below(10), rng.below(6));
        let good = (shop + city) % 3 == 0;
        csv += &format!("{},shop{shop},city{city}\n", good as u8);
    }
    std::fs::write(path, csv).unwrap();
}

/// A field hashed, or a cross added, is another row spec: the cache built for the old
/// one is rebuilt, and the weights are those of a fit without a cache.
#[test]
fn a_new_hashed_field_or_cross_rebuilds_the_cache() {
    let (data, cache) = (temp("visits.csv"), temp("visits.vfcache"));
    visits(&data);
    let mut v1 = SerdeStream::<v1::Visit<'static>>::csv(&data).unwrap();
    let old = fit(&mut v1, Some(&cache), Logistic).unwrap();
    assert!(cache.exists());

    let mut v2 = SerdeStream::<v2::Visit<'static>>::csv(&data).unwrap();
    let fresh = fit(&mut v2, None, Logistic).unwrap();
    v2.rewind().unwrap();
    let cached = fit(&mut v2, Some(&cache), Logistic).unwrap();
    assert_ne!(fresh, old, "hashing `city` changes the weights");
    assert_eq!(cached, fresh, "the cache of v1's rows was used for v2's");

    let mut v3 = SerdeStream::<v3::Visit<'static>>::csv(&data).unwrap();
    let fresh = fit(&mut v3, None, Logistic).unwrap();
    v3.rewind().unwrap();
    let cached = fit(&mut v3, Some(&cache), Logistic).unwrap();
    assert_ne!(fresh, old);
    assert_eq!(cached, fresh, "the cache of v2's rows was used for v3's");
}

mod specs {
    use vectorflow::prelude::*;

    #[derive(Features)]
    pub struct Base<'a> {
        #[label]
        pub y: f32,
        #[hash]
        pub shop: &'a str,
        #[value]
        pub price: f32,
    }

    /// `Base` under another name, with comments and unmarked fields: the same spec.
    #[derive(Features)]
    pub struct Same<'a> {
        #[label]
        pub y: f32,
        // The shop's name.
        #[hash]
        pub shop: &'a str,
        #[allow(dead_code)]
        pub note: u32,
        #[value]
        pub price: f32,
    }

    #[derive(Features)]
    pub struct Namespace<'a> {
        #[label]
        pub y: f32,
        #[hash(namespace = "store")]
        pub shop: &'a str,
        #[value]
        pub price: f32,
    }

    #[derive(Features)]
    pub struct Renamed<'a> {
        #[label]
        pub y: f32,
        #[hash]
        pub store: &'a str,
        #[value]
        pub price: f32,
    }

    #[derive(Features)]
    pub struct Kind<'a> {
        #[label]
        pub y: f32,
        #[hash]
        pub shop: &'a str,
        #[hash]
        pub price: u32,
    }

    #[derive(Features)]
    pub struct Type<'a> {
        #[label]
        pub y: f32,
        #[hash]
        pub shop: &'a str,
        #[value]
        pub price: u8,
    }

    #[derive(Features)]
    pub struct Root<'a> {
        #[label]
        pub y: f32,
        #[hash(root = "shops")]
        pub shop: &'a str,
        #[value]
        pub price: f32,
    }

    #[derive(Features)]
    pub struct Weighted<'a> {
        #[label]
        pub y: f32,
        #[hash]
        pub shop: &'a str,
        #[value]
        pub price: f32,
        #[weight]
        pub w: f32,
    }

    /// `Base` reading its hashed field from another column.
    #[derive(Features, serde::Deserialize)]
    pub struct Column<'a> {
        #[label]
        pub y: f32,
        #[hash]
        #[serde(rename = "store")]
        pub shop: &'a str,
        #[value]
        pub price: f32,
    }

    /// `Base` with a default for a missing price.
    #[derive(Features, serde::Deserialize)]
    #[serde(default)]
    pub struct Defaulted<'a> {
        #[label]
        pub y: f32,
        #[hash]
        pub shop: &'a str,
        #[value]
        pub price: f32,
    }

    impl Default for Defaulted<'_> {
        fn default() -> Self {
            Defaulted {
                y: 0.0,
                shop: "",
                price: 1.0,
            }
        }
    }
}

#[test]
fn the_spec_changes_with_every_field_attribute_and_nothing_else() {
    use specs::*;
    let base = <Base<'static> as Features>::SPEC;
    assert_eq!(<Same<'static> as Features>::SPEC, base);
    let others = [
        <Namespace<'static> as Features>::SPEC,
        <Renamed<'static> as Features>::SPEC,
        <Kind<'static> as Features>::SPEC,
        <Type<'static> as Features>::SPEC,
        <Root<'static> as Features>::SPEC,
        <Weighted<'static> as Features>::SPEC,
        <Column<'static> as Features>::SPEC,
        <Defaulted<'static> as Features>::SPEC,
        <crate::v1::Visit<'static> as Features>::SPEC,
        <crate::v2::Visit<'static> as Features>::SPEC,
        <crate::v3::Visit<'static> as Features>::SPEC,
    ];
    for (i, a) in others.iter().enumerate() {
        assert_ne!(*a, base, "{i}");
        for b in &others[i + 1..] {
            assert_ne!(a, b, "{i}");
        }
    }
    // A hash of the spec's canonical text alone: the same on every build and platform.
    let text = "label(namespace=None,root=None,mean=false) \"y\": f32\n\
                hash(namespace=None,root=None,mean=false) \"shop\": & 'a str\n\
                value(namespace=None,root=None,mean=false) \"price\": f32\n";
    assert_eq!(base, vectorflow::features::group_id(text));
    assert_eq!(base, 0xe3c6_edd4_226e_f3aa);
}

/// LIBSVM lines of a planted model, ids 1 to 600.
fn libsvm(path: &Path, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    for _ in 0..3000 {
        let (a, b) = (1 + rng.below(600), 1 + rng.below(600));
        let label = if (a + b) % 3 == 0 { 1 } else { -1 };
        text += &format!("{label} {}:1 {}:0.5\n", a.min(b), a.max(b));
    }
    std::fs::write(path, text).unwrap();
}

/// Another reader option is another set of rows: the cache built with the defaults is
/// rebuilt, and a smaller `dim` refuses the ids beyond it as a fresh read does.
#[test]
fn other_reader_options_rebuild_the_cache() {
    let (data, cache) = (temp("rows.svm"), temp("rows.vfcache"));
    libsvm(&data, 3);
    let old = fit(
        &mut LibSvm::new().stream(&data).unwrap(),
        Some(&cache),
        Square,
    )
    .unwrap();
    for format in [
        LibSvm::new().zero_based(true),
        LibSvm::new().labels(Labels::Binary),
    ] {
        let fresh = fit(&mut format.stream(&data).unwrap(), None, Square).unwrap();
        assert_ne!(fresh, old, "{format:?}");
        let cached = fit(&mut format.stream(&data).unwrap(), Some(&cache), Square).unwrap();
        assert_eq!(cached, fresh, "{format:?} trained on the defaults' cache");
    }
    // Rebuilt by the last fit: the defaults' cache again.
    fit(
        &mut LibSvm::new().stream(&data).unwrap(),
        Some(&cache),
        Square,
    )
    .unwrap();
    let small = LibSvm::new().dim(300);
    let fresh = error(fit(&mut small.stream(&data).unwrap(), None, Square));
    let cached = error(fit(&mut small.stream(&data).unwrap(), Some(&cache), Square));
    assert_eq!(cached, fresh);
    assert!(fresh.contains("rows.svm"), "{fresh}");
}

/// Other content of the same size, given the old modification time (as `cp -p`,
/// `rsync -t`, `tar` or `touch -r` can leave it), is another source.
#[test]
fn other_content_with_the_same_size_and_time_rebuilds_the_cache() {
    let (data, cache) = (temp("same.svm"), temp("same.vfcache"));
    libsvm(&data, 3);
    let when = std::fs::metadata(&data).unwrap().modified().unwrap();
    let len = std::fs::metadata(&data).unwrap().len();
    let old = fit(
        &mut LibSvm::new().stream(&data).unwrap(),
        Some(&cache),
        Square,
    )
    .unwrap();
    // The same lines but the first two swapped: same size, other rows.
    let text = std::fs::read_to_string(&data).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(0, 1);
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let file = std::fs::File::options().write(true).open(&data).unwrap();
    file.set_modified(when).unwrap();
    drop(file);
    assert_eq!(std::fs::metadata(&data).unwrap().len(), len);
    let fresh = fit(&mut LibSvm::new().stream(&data).unwrap(), None, Square).unwrap();
    assert_ne!(fresh, old);
    let cached = fit(
        &mut LibSvm::new().stream(&data).unwrap(),
        Some(&cache),
        Square,
    )
    .unwrap();
    assert_eq!(cached, fresh, "the old file's cache was used");
}

/// A file stream that rewrites its file after its `after`-th read call or on its
/// `rewinds`-th rewind, as another program might while training reads it.
struct Rewritten<S> {
    inner: S,
    path: PathBuf,
    text: String,
    reads: usize,
    after: Option<usize>,
    rewinds: Option<usize>,
}

impl<S: Stream> Stream for Rewritten<S> {
    type Row<'a> = S::Row<'a>;

    fn read<F: FnMut(&S::Row<'_>)>(&mut self, max: usize, f: F) -> Result<usize, StreamError> {
        let n = self.inner.read(max, f)?;
        self.reads += 1;
        if Some(self.reads) == self.after {
            std::fs::write(&self.path, &self.text).unwrap();
        }
        Ok(n)
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        self.rewinds = self.rewinds.map(|n| n - 1);
        if self.rewinds == Some(0) {
            std::fs::write(&self.path, &self.text).unwrap();
        }
        self.inner.rewind()
    }

    fn source(&self) -> String {
        self.inner.source()
    }
}

/// The text of `libsvm(_, 4)`, another file of the same size or near it.
fn other_text() -> String {
    let other = temp("other.svm");
    libsvm(&other, 4);
    std::fs::read_to_string(&other).unwrap()
}

#[test]
fn a_file_rewritten_during_the_first_pass_is_an_error_and_no_cache() {
    let (data, cache) = (temp("torn.svm"), temp("torn.vfcache"));
    libsvm(&data, 3);
    let mut stream = Rewritten {
        inner: LibSvm::new().stream(&data).unwrap(),
        path: data.clone(),
        text: other_text(),
        reads: 0,
        after: Some(2),
        rewinds: None,
    };
    let msg = error(fit(&mut stream, Some(&cache), Square));
    assert!(
        msg.starts_with(&format!("reading the rows: {} (", data.display())),
        "{msg}"
    );
    assert!(msg.contains("changed while pass 1 read it"), "{msg}");
    assert!(!cache.exists(), "a cache of torn rows was written");
}

#[test]
fn a_file_rewritten_between_passes_is_an_error() {
    let data = temp("between.svm");
    libsvm(&data, 3);
    let mut stream = Rewritten {
        inner: LibSvm::new().stream(&data).unwrap(),
        path: data.clone(),
        text: other_text(),
        reads: 0,
        after: None,
        rewinds: Some(1),
    };
    let msg = error(fit(&mut stream, None, Square));
    assert!(msg.contains(&data.display().to_string()), "{msg}");
    assert!(msg.contains("changed while pass 2 read it"), "{msg}");
}

/// A pipe is read once, whole, by the stream alone: its source is unknown (nothing to
/// reuse a cache by, nothing opened again to hash), and its cache serves the later
/// passes of the fit that wrote it.
#[cfg(target_os = "linux")]
#[test]
fn a_pipe_trains_through_its_cache_as_its_rows_in_memory() {
    let (file, fifo, cache) = (temp("piped.svm"), temp("rows.fifo"), temp("piped.vfcache"));
    libsvm(&file, 6);
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read(&file).unwrap();
    let (to, writer_fifo) = (text.clone(), fifo.clone());
    let writer = std::thread::spawn(move || std::fs::write(&writer_fifo, to).unwrap());
    let mut stream = LibSvm::new().stream(&fifo).unwrap();
    assert_eq!(stream.source(), "");
    let piped = fit(&mut stream, Some(&cache), Square).unwrap();
    writer.join().unwrap();
    let in_file = fit(&mut LibSvm::new().stream(&file).unwrap(), None, Square).unwrap();
    assert_eq!(piped, in_file);
}

/// A cache holds every row of the file it is keyed on: a stream that was read from
/// before the fit, or whose file was replaced after it was opened, still caches the
/// whole file as it is now, and a later fit from that cache trains those rows.
#[test]
fn a_cache_holds_the_whole_current_file_whatever_the_stream_read_before() {
    let (data, cache) = (temp("moved.svm"), temp("moved.vfcache"));
    let old = "1 1:1\n1 1:1\n1 1:1\n1 1:1\n";
    let new = "0 2:1\n0 2:1\n0 2:1\n0 2:1\n";
    let fresh = |text: &str| {
        std::fs::write(&data, text).unwrap();
        let _ = std::fs::remove_file(&cache);
        fit(&mut LibSvm::new().stream(&data).unwrap(), None, Logistic).unwrap()
    };
    let (want_old, want_new) = (fresh(old), fresh(new));

    // One row read before the fit: the cache still holds all four.
    std::fs::write(&data, old).unwrap();
    let _ = std::fs::remove_file(&cache);
    let mut s = LibSvm::new().stream(&data).unwrap();
    assert_eq!(s.read(1, |_| {}).unwrap(), 1);
    assert_eq!(fit(&mut s, Some(&cache), Logistic).unwrap(), want_old);
    let mut again = LibSvm::new().stream(&data).unwrap();
    assert_eq!(fit(&mut again, Some(&cache), Logistic).unwrap(), want_old);

    // The file replaced between opening the stream and the fit: the new rows train
    // and are cached, never the old ones under the new file's name.
    std::fs::write(&data, old).unwrap();
    let _ = std::fs::remove_file(&cache);
    let mut s = LibSvm::new().stream(&data).unwrap();
    let other = temp("moved.svm.new");
    std::fs::write(&other, new).unwrap();
    std::fs::rename(&other, &data).unwrap();
    assert_eq!(fit(&mut s, Some(&cache), Logistic).unwrap(), want_new);
    let mut again = LibSvm::new().stream(&data).unwrap();
    assert_eq!(fit(&mut again, Some(&cache), Logistic).unwrap(), want_new);
}

/// A file with no rows is an error, and leaves no cache behind that would make every
/// later fit fail.
#[test]
fn no_cache_of_no_rows() {
    let (data, cache) = (temp("empty.svm"), temp("empty.vfcache"));
    std::fs::write(&data, "").unwrap();
    let e = error(fit(
        &mut LibSvm::new().stream(&data).unwrap(),
        Some(&cache),
        Logistic,
    ));
    assert!(e.contains("no rows to train on"), "{e}");
    assert!(!cache.exists(), "an empty cache was written");
}
