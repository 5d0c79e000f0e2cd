//! `vf` as a user runs it: the binary spawned on small generated data in a temporary
//! directory. Its models predict exactly as the library's API trained with the same
//! settings; a resumed run equals an unbroken one; bad input is one line and an exit
//! code, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vectorflow::dynnet::{DynLoss, DynNet};
use vectorflow::io::columns::{ColumnReader, ColumnSpec, ColumnStream, Format};
use vectorflow::io::{LibSvm, OutOfRange, SparseFormat, Vw};
use vectorflow::prelude::*;
use vectorflow::train::Stream;

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vf-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `vf` with `args` in `cwd`.
fn vf(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vf"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Runs `vf`, asserting success.
fn ok(cwd: &Path, args: &[&str]) -> Output {
    let out = vf(cwd, args);
    assert!(
        out.status.success(),
        "vf {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `vf`, asserting exit code `code` and one error line on stderr containing `want`.
fn fails(cwd: &Path, args: &[&str], code: i32, want: &str) {
    let out = vf(cwd, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "vf {args:?}: {err}");
    assert!(err.contains(want), "vf {args:?}: {err}\nwants {want}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("vf: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "vf {args:?}: {err}");
    assert!(
        !err.contains("Kind") && !err.contains(" {"),
        "a Debug text: {err}"
    );
}

/// A pseudo-random generator for the data (no dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `n` LIBSVM rows: features 1..300, the label mostly set by features below 150.
fn libsvm_text(n: usize, seed: u64) -> String {
    let mut g = Lcg(seed);
    let mut s = String::new();
    for _ in 0..n {
        let mut ids: Vec<u64> = (0..6).map(|_| 1 + g.next(300)).collect();
        ids.sort();
        ids.dedup();
        let low = ids.iter().filter(|&&i| i < 150).count();
        let y = if (low >= 3) != (g.next(10) == 0) {
            1
        } else {
            0
        };
        s.push_str(&y.to_string());
        for i in ids {
            s.push_str(&format!(" {i}:{}", 0.5 + g.next(4) as f32 / 4.0));
        }
        s.push('\n');
    }
    s
}

/// `n` CSV rows with a header: label, two categorical columns and a number.
fn csv_text(n: usize, seed: u64) -> String {
    let mut g = Lcg(seed);
    let mut s = String::from("delayed,carrier,origin,distance\n");
    for _ in 0..n {
        let (c, o, d) = (g.next(5), g.next(8), g.next(20));
        let y = u64::from((c + o) % 3 == 0 || g.next(8) == 0);
        s.push_str(&format!("{y},c{c},o{o},{d}\n"));
    }
    s
}

/// `n` VW rows in namespaces a and b.
fn vw_text(n: usize, seed: u64) -> String {
    let mut g = Lcg(seed);
    let mut s = String::new();
    for _ in 0..n {
        let (x, z) = (g.next(6), g.next(6));
        let y = if (x + z) % 2 == 0 { 1 } else { -1 };
        s.push_str(&format!("{y} |a x{x} |b z{z}\n"));
    }
    s
}

/// The predictions file's values, row by row.
fn read_predictions(path: &Path) -> Vec<Vec<f32>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect()
}

/// Trains `net` on the stream as `vf train --holdout_off --quiet` would (AdaGrad's
/// default rate is 1.0 for a linear model).
fn library_fit<St>(net: &mut DynNet, stream: &mut St, lr: f32, passes: usize, seed: u64)
where
    St: Stream,
    for<'a> St::Row<'a>: vectorflow::features::AuxFields<Aux = ()> + vectorflow::dynnet::DynRow,
{
    Trainer::new(AdaGrad::new(lr))
        .passes(passes)
        .seed(seed)
        .progress(Progress::Silent)
        .fit_stream_dyn(net, stream, DynLoss::Logistic)
        .unwrap();
}

#[test]
fn a_trained_model_predicts_as_the_library_trained_with_the_same_settings() {
    let d = dir("libsvm");
    std::fs::write(d.join("train.svm"), libsvm_text(600, 1)).unwrap();
    std::fs::write(d.join("test.svm"), libsvm_text(200, 2)).unwrap();
    ok(
        &d,
        &[
            "train",
            "-d",
            "train.svm",
            "--nn",
            "4",
            "-b",
            "10",
            "--passes",
            "2",
            "--holdout_off",
            "--seed",
            "3",
            "-l",
            "0.05",
            "-f",
            "m.vf",
            "--quiet",
        ],
    );
    let out = ok(
        &d,
        &["predict", "-i", "m.vf", "-d", "test.svm", "-p", "p.txt"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("200 labelled rows: logloss"), "{err}");
    assert!(err.contains("AUC"), "{err}");
    let got = read_predictions(&d.join("p.txt"));

    let mut net = DynNet::new("sparse:2^10 > 4 > relu > 1", Init::uniform(0.1).seed(3)).unwrap();
    let format = LibSvm::new().out_of_range(OutOfRange::Modulo);
    library_fit(
        &mut net,
        &mut format.stream(d.join("train.svm")).unwrap(),
        0.05,
        2,
        3,
    );
    let test = format.open(d.join("test.svm")).unwrap().read_all().unwrap();
    let want = net.predict_batch(&test.to_rows()).unwrap();
    assert_eq!(got.len(), 200);
    for (g, w) in got.iter().zip(&want) {
        let p = vectorflow::predict::probability([*w]);
        assert_eq!(g[0].to_bits(), p.to_bits());
    }
    // --raw: the scores themselves.
    ok(
        &d,
        &[
            "predict", "-i", "m.vf", "-d", "test.svm", "--raw", "-p", "raw.txt", "-t",
        ],
    );
    let raw = read_predictions(&d.join("raw.txt"));
    assert!(raw
        .iter()
        .zip(&want)
        .all(|(g, w)| g[0].to_bits() == w.to_bits()));
    // The model records the net and how rows are read.
    let out = ok(&d, &["inspect", "m.vf"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Sparse(1024) => Linear(1024->4) => ReLU => Linear(4->1)",
        "AdaGrad state; trained 2 passes, 1200 rows",
        "reads       libsvm rows",
        "net spec    sparse:2^10 > 4 > relu > 1",
    ] {
        assert!(text.contains(want), "{text}\nwants {want}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn resuming_a_model_equals_an_unbroken_run() {
    let d = dir("resume");
    std::fs::write(d.join("train.svm"), libsvm_text(500, 4)).unwrap();
    let base = [
        "-d",
        "train.svm",
        "--nn",
        "4",
        "-b",
        "10",
        "--holdout_off",
        "-l",
        "0.05",
        "--quiet",
    ];
    let run = |extra: &[&str]| ok(&d, &[&["train"][..], &base[..], extra].concat());
    run(&["--passes", "3", "-f", "whole.vf"]);
    run(&["--passes", "2", "-f", "half.vf"]);
    // -i takes the net and recipe from the model: no -b, no --nn.
    let resumed = [
        "train",
        "-d",
        "train.svm",
        "-i",
        "half.vf",
        "--passes",
        "1",
        "--holdout_off",
        "-l",
        "0.05",
        "--quiet",
        "-f",
        "again.vf",
        "--save-weights",
        "w.vf",
    ];
    ok(&d, &resumed);
    let whole = DynNet::load(d.join("whole.vf")).unwrap();
    let again = DynNet::load(d.join("again.vf")).unwrap();
    assert_eq!(whole.params(), again.params());
    assert_eq!(whole.train_state(), again.train_state());
    // The predict-only file predicts the same and cannot be resumed.
    let weights = DynNet::load_weights(d.join("w.vf")).unwrap();
    assert_eq!(weights.params(), whole.params());
    let again_args = ["train", "-d", "train.svm", "-i", "w.vf", "--quiet"];
    fails(&d, &again_args, 2, "saved with --save-weights");
    fails(
        &d,
        &["train", "-d", "train.svm", "-i", "half.vf", "--nn", "8"],
        2,
        "--nn: the net of -i half.vf is resumed as it is",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_csv_model_reads_new_rows_with_no_flags_as_the_library_does() {
    let d = dir("csv");
    std::fs::write(d.join("train.csv"), csv_text(800, 5)).unwrap();
    std::fs::write(d.join("new.csv"), csv_text(100, 6)).unwrap();
    let cols = [
        "--label",
        "delayed",
        "--hash",
        "carrier,origin",
        "--value",
        "distance",
        "--cross",
        "carrier*origin",
    ];
    let train = [
        &[
            "train",
            "-d",
            "train.csv",
            "-b",
            "12",
            "--passes",
            "2",
            "--holdout_off",
            "-l",
            "1",
        ][..],
        &cols[..],
        &["--quiet", "-f", "m.vf"][..],
    ]
    .concat();
    ok(&d, &train);
    ok(
        &d,
        &["predict", "-i", "m.vf", "-d", "new.csv", "-p", "p.txt"],
    );
    let got = read_predictions(&d.join("p.txt"));

    let spec = ColumnSpec::builder()
        .label("delayed")
        .hash("carrier,origin".parse().unwrap())
        .value("distance".parse().unwrap())
        .cross("carrier*origin".parse().unwrap())
        .build()
        .unwrap();
    let mut net = DynNet::new("sparse:2^12 > 1", Init::zeros()).unwrap();
    let reader = ColumnReader::open(d.join("train.csv"), Format::Csv, &spec).unwrap();
    library_fit(&mut net, &mut ColumnStream::new(reader), 1.0, 2, 0);
    let rows = ColumnReader::open(d.join("new.csv"), Format::Csv, &spec)
        .unwrap()
        .read_all()
        .unwrap();
    let want = net.predict_batch(&rows.to_rows()).unwrap();
    assert_eq!(got.len(), 100);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            g[0].to_bits(),
            vectorflow::predict::probability([*w]).to_bits()
        );
    }
    // Reading flags are refused: the model says how to read.
    fails(
        &d,
        &[
            "predict", "-i", "m.vf", "-d", "new.csv", "--hash", "carrier",
        ],
        2,
        "--hash: the model m.vf records how its rows are read",
    );
    // A CSV without a column of the spec names the file and the column.
    std::fs::write(d.join("bad.csv"), "delayed,carrier\n1,c1\n").unwrap();
    fails(
        &d,
        &["predict", "-i", "m.vf", "-d", "bad.csv"],
        1,
        "bad.csv",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn vw_crosses_are_recorded_and_read_back_from_stdin() {
    let d = dir("vw");
    std::fs::write(d.join("train.vw"), vw_text(400, 7)).unwrap();
    let test = vw_text(50, 8);
    std::fs::write(d.join("test.vw"), &test).unwrap();
    ok(
        &d,
        &[
            "train", "-d", "train.vw", "-q", "ab", "-b", "12", "-l", "1", "--quiet", "-f", "m.vf",
        ],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_vf"))
        .args(["predict", "-i", "m.vf", "-d", "-", "-p", "-", "--quiet"])
        .current_dir(&d)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(test.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let got: Vec<f32> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();

    let format = Vw::new().interactions(&[*b"ab"]);
    let mut net = DynNet::new("sparse:2^12 > 1", Init::zeros()).unwrap();
    library_fit(
        &mut net,
        &mut format.stream(d.join("train.vw")).unwrap(),
        1.0,
        1,
        0,
    );
    let rows = format.open(d.join("test.vw")).unwrap().read_all().unwrap();
    let want = net.predict_batch(&rows.to_rows()).unwrap();
    assert_eq!(got.len(), 50);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            g.to_bits(),
            vectorflow::predict::probability([*w]).to_bits()
        );
    }
    let out = ok(&d, &["inspect", "m.vf"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("crosses     -q ab"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_input_is_one_line_and_an_exit_code() {
    let d = dir("errors");
    std::fs::write(d.join("t.svm"), "1 3:1\n0 2:x\n").unwrap();
    std::fs::write(d.join("ok.svm"), libsvm_text(50, 9)).unwrap();
    std::fs::write(d.join("junk.vf"), b"this is not a model at all").unwrap();
    // Usage and specs: 2.
    fails(
        &d,
        &[
            "train",
            "-d",
            "ok.svm",
            "--net",
            "sparse:2^10 > 16 > rleu > 1",
        ],
        2,
        "did you mean relu?",
    );
    fails(
        &d,
        &["train", "-d", "ok.svm", "--loss", "logit"],
        2,
        "--loss: ",
    );
    fails(
        &d,
        &["train", "-d", "ok.svm", "--optimizer", "adamw"],
        2,
        "unknown optimizer",
    );
    fails(
        &d,
        &["train", "-d", "ok.svm", "-q", "ab"],
        2,
        "-q crosses VW namespaces",
    );
    fails(
        &d,
        &["train", "-d", "ok.svm", "--label", "y"],
        2,
        "are for csv, jsonl",
    );
    fails(
        &d,
        &["train", "-d", "ok.data"],
        2,
        "cannot tell the format of ok.data",
    );
    fails(
        &d,
        &[
            "train",
            "-d",
            "ok.svm",
            "--holdout_off",
            "--early-stop",
            "2",
        ],
        2,
        "--early-stop needs a holdout",
    );
    fails(
        &d,
        &["train", "-d", "ok.svm", "--passes", "two"],
        2,
        "invalid value",
    );
    fails(&d, &["predict", "-d", "ok.svm"], 2, "required");
    fails(&d, &["inspect"], 2, "required");
    // Data: 1.
    fails(&d, &["train", "-d", "t.svm", "--quiet"], 1, "t.svm:2");
    fails(
        &d,
        &["train", "-d", "missing.svm", "--quiet"],
        1,
        "missing.svm",
    );
    fails(
        &d,
        &["predict", "-i", "junk.vf", "-d", "ok.svm"],
        1,
        "not a vectorflow model",
    );
    fails(
        &d,
        &["predict", "-i", "missing.vf", "-d", "ok.svm"],
        1,
        "missing.vf",
    );
    fails(&d, &["inspect", "junk.vf"], 1, "not a vectorflow model");
    fails(&d, &["inspect", "missing.vf"], 1, "missing.vf");
    ok(
        &d,
        &["train", "-d", "ok.svm", "-b", "8", "--quiet", "-f", "m.vf"],
    );
    fails(&d, &["predict", "-i", "m.vf", "-d", "t.svm"], 1, "t.svm:2");
    // --help has examples on every subcommand.
    for sub in ["train", "predict", "inspect", "explain", "tune"] {
        let out = ok(&d, &[sub, "--help"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Example"),
            "{sub}"
        );
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// The readable model of a small VW fit, as committed in tests/golden (rewrite it with
/// `VF_BLESS=1` after a deliberate change).
#[test]
fn explain_writes_the_golden_readable_model() {
    let d = dir("golden");
    std::fs::write(d.join("train.vw"), vw_text(40, 11)).unwrap();
    ok(
        &d,
        &[
            "train",
            "-d",
            "train.vw",
            "-q",
            "ab",
            "-b",
            "8",
            "--passes",
            "2",
            "--holdout_off",
            "--quiet",
            "-f",
            "m.vf",
        ],
    );
    ok(
        &d,
        &[
            "explain",
            "-i",
            "m.vf",
            "-d",
            "train.vw",
            "--readable_model",
            "model.txt",
        ],
    );
    let got = std::fs::read_to_string(d.join("model.txt")).unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/readable_model.txt");
    if std::env::var_os("VF_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    assert_eq!(got, std::fs::read_to_string(&golden).unwrap());
    assert!(got.contains("a^x1*b^z3:"), "{got}");
    let out = ok(
        &d,
        &["explain", "-i", "m.vf", "-d", "train.vw", "--top", "3"],
    );
    let top = String::from_utf8_lossy(&out.stdout);
    assert_eq!(top.lines().count(), 4, "{top}");
    // Audits: each row's output split into its features' contributions, the cross's too.
    let out = ok(
        &d,
        &["explain", "-i", "m.vf", "-d", "train.vw", "--audit", "2"],
    );
    let audits = String::from_utf8_lossy(&out.stdout);
    assert!(
        audits.contains("row 1: output ") && audits.contains("row 2: output "),
        "{audits}"
    );
    assert!(
        audits.contains("contributions (value × weight) of 3 features"),
        "{audits}"
    );
    assert!(audits.contains("*b^z"), "{audits}");
    assert!(!audits.contains("row 3:"), "{audits}");
    // A CSV model's features are named as the derive names a struct's fields, roots
    // included.
    std::fs::write(
        d.join("t.csv"),
        "y,a,b,c,n\n1,x,p,7,2\n0,z,q,8,3\n1,x,q,7,1\n",
    )
    .unwrap();
    ok(
        &d,
        &[
            "train",
            "-d",
            "t.csv",
            "--label",
            "y",
            "--hash",
            "a,c,b(root=u)",
            "--value",
            "n",
            "--cross",
            "a*c",
            "-b",
            "6",
            "--quiet",
            "-f",
            "c.vf",
        ],
    );
    let out = ok(
        &d,
        &["explain", "-i", "c.vf", "-d", "t.csv", "--audit", "1"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["a=x", "u/b=p", "a×c=x×7", "c=7", "n "] {
        assert!(text.contains(want), "{want} in {text}");
    }
    // Bad input.
    fails(
        &d,
        &["explain", "-i", "m.vf", "-d", "missing.vw"],
        1,
        "missing.vw",
    );
    fails(&d, &["explain", "-i", "m.vf"], 2, "required");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Multinomial from stdin: K probabilities a line, log loss and accuracy, and a label
/// that is not a class named by its row.
#[test]
fn a_multinomial_model_trained_from_stdin_predicts_class_probabilities() {
    let d = dir("multinomial");
    let mut g = Lcg(12);
    let mut text = String::new();
    for _ in 0..300 {
        let c = g.next(3);
        text.push_str(&format!(
            "{c} {}:1 {}:1\n",
            1 + c * 10 + g.next(3),
            40 + g.next(9)
        ));
    }
    let test: Vec<&str> = text.lines().take(100).collect();
    std::fs::write(d.join("test.svm"), test.join("\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vf"))
        .args([
            "train",
            "-d",
            "-",
            "--format",
            "libsvm",
            "--loss",
            "multinomial:3",
        ])
        .args([
            "--nn", "4", "-b", "8", "--passes", "3", "--quiet", "-f", "m.vf",
        ])
        .current_dir(&d)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = ok(
        &d,
        &["predict", "-i", "m.vf", "-d", "test.svm", "-p", "p.txt"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("labelled rows: logloss") && err.contains("accuracy"),
        "{err}"
    );
    for p in read_predictions(&d.join("p.txt")) {
        assert_eq!(p.len(), 3);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
    }
    std::fs::write(d.join("bad.svm"), "1 3:1\n5 4:1\n").unwrap();
    fails(
        &d,
        &["predict", "-i", "m.vf", "-d", "bad.svm"],
        1,
        "bad.svm: row 2: label 5 is not a class of 0 to 2",
    );
    fails(
        &d,
        &["train", "-d", "-"],
        2,
        "reading stdin (-d -) needs --format",
    );
    fails(
        &d,
        &["train", "-d", "test.svm", "--loss", "multinomial"],
        2,
        "multinomial:K",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// `-c`: the rows stream from the file through a binary cache (written by the first
/// pass), and train the model that rows held in memory train.
#[test]
fn a_cache_trains_what_rows_in_memory_train() {
    let d = dir("cache");
    std::fs::write(d.join("train.svm"), libsvm_text(400, 13)).unwrap();
    let base = [
        "train",
        "-d",
        "train.svm",
        "-b",
        "10",
        "--passes",
        "3",
        "--holdout_off",
    ];
    ok(&d, &[&base[..], &["--quiet", "-f", "memory.vf"]].concat());
    ok(
        &d,
        &[&base[..], &["--quiet", "-c", "-f", "cached.vf"]].concat(),
    );
    assert!(d.join("train.svm.cache").exists());
    let memory = DynNet::load(d.join("memory.vf")).unwrap();
    let cached = DynNet::load(d.join("cached.vf")).unwrap();
    assert_eq!(memory.params(), cached.params());
    fails(
        &d,
        &["train", "-d", "-", "--format", "libsvm", "-c"],
        2,
        "give a file, not stdin",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// The words of a command line as `vf tune` prints it: plain words and single-quoted ones.
fn shell_split(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => (word, any) = (word + &c.to_string(), true),
        }
    }
    if any {
        words.push(word);
    }
    words
}

/// The test logloss `vf predict` prints for model `model` on `data`.
fn test_logloss(d: &Path, model: &str, data: &str) -> f64 {
    let out = ok(d, &["predict", "-i", model, "-d", data]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let at = err.find("logloss ").expect("metrics") + "logloss ".len();
    err[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn tune_prints_a_train_command_that_reads_the_rows_and_beats_a_poor_rate() {
    let d = dir("tune");
    std::fs::write(d.join("train.csv"), csv_text(1500, 11)).unwrap();
    std::fs::write(d.join("test.csv"), csv_text(500, 12)).unwrap();
    let cols = [
        "--label",
        "delayed",
        "--hash",
        "carrier,origin",
        "--value",
        "distance",
        "--cross",
        "carrier*origin",
        "-b",
        "12",
    ];
    let tune = [
        &["tune", "-d", "train.csv"][..],
        &cols[..],
        &[
            "--trials",
            "6",
            "--max-passes",
            "3",
            "--threads",
            "1",
            "--quiet",
        ][..],
    ]
    .concat();
    let out = ok(&d, &tune);
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with(
            "vf train -d train.csv --label delayed --hash carrier,origin --value distance \
             --cross 'carrier*origin' -b 12 --optimizer "
        ),
        "{line}"
    );
    assert!(line.contains(" --passes ") && line.trim_end().ends_with("-f model.vf --holdout_off"));
    // The same search twice prints the same line: trials are seeded.
    assert_eq!(String::from_utf8(ok(&d, &tune).stdout).unwrap(), line);

    // The printed command runs as it is, and its model beats a rate 100 times too low.
    let words = shell_split(line.trim());
    assert_eq!(&words[..2], ["vf", "train"]);
    let mut train: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    train.push("--quiet");
    ok(&d, &train);
    let tuned = test_logloss(&d, "model.vf", "test.csv");
    let poor = [
        &["train", "-d", "train.csv"][..],
        &cols[..],
        &["-l", "0.01", "--quiet", "-f", "poor.vf"][..],
    ]
    .concat();
    ok(&d, &poor);
    let poor = test_logloss(&d, "poor.vf", "test.csv");
    assert!(tuned < poor - 0.02, "tuned {tuned} against {poor}");

    fails(
        &d,
        &[
            &["tune", "-d", "train.csv", "--optimizers", "momentum"][..],
            &cols[..],
        ]
        .concat(),
        2,
        "the tuner searches adagrad",
    );
    fails(
        &d,
        &[
            &["tune", "-d", "train.csv", "--max-passes", "0"][..],
            &cols[..],
        ]
        .concat(),
        2,
        "--max-passes 0",
    );
    fails(
        &d,
        &[
            &["tune", "-d", "train.csv", "--validation", "1.5"][..],
            &cols[..],
        ]
        .concat(),
        2,
        "--validation 1.5",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn without_a_rate_train_measures_one_on_the_first_rows() {
    let d = dir("rate");
    std::fs::write(d.join("train.csv"), csv_text(3000, 21)).unwrap();
    std::fs::write(d.join("test.csv"), csv_text(1000, 22)).unwrap();
    let cols = [
        "--label",
        "delayed",
        "--hash",
        "carrier,origin",
        "--value",
        "distance",
        "-b",
        "12",
    ];
    let train = [&["train", "-d", "train.csv"][..], &cols[..]].concat();
    let out = ok(&d, &[&train[..], &["-f", "measured.vf"]].concat());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    // "learning rate 1.000e-1: the best of one pass over 2400 rows, scored on the next 600 (...): 3.333e-3 0.6931, ..."
    let line = err
        .lines()
        .find(|l| l.starts_with("learning rate "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("over 2400 rows, scored on the next 600"),
        "{line}"
    );
    let chosen: f32 = line["learning rate ".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let tried: Vec<(f32, f32)> = line
        .rsplit("): ")
        .next()
        .unwrap()
        .split(", ")
        .map(|t| {
            let (r, s) = t.split_once(' ').unwrap();
            (r.parse().unwrap(), s.parse().unwrap())
        })
        .collect();
    assert_eq!(tried.len(), 7, "{line}");
    let best = tried.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert_eq!(chosen, best.0, "{line}");
    // On these few frequent, noisy features AdaGrad's usual 1.0 overshoots.
    assert!(chosen < 1.0, "{line}");
    ok(
        &d,
        &[&train[..], &["-l", "1", "--quiet", "-f", "fixed.vf"]].concat(),
    );
    let measured = test_logloss(&d, "measured.vf", "test.csv");
    let fixed = test_logloss(&d, "fixed.vf", "test.csv");
    assert!(
        measured < fixed,
        "measured {measured} against 1.0's {fixed}"
    );
    // -l skips the probe.
    let out = ok(&d, &[&train[..], &["-l", "0.1", "-f", "given.vf"]].concat());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("learning rate "));
    std::fs::remove_dir_all(&d).unwrap();
}
