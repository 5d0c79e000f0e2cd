//! One model trained across in-process ranks (`Trainer::ranks`): every rank ends with
//! the same weights and the job's report, whatever its share of the rows; settings that
//! differ and errors on one rank stop every rank, naming it.

use vectorflow::cluster::{local, Collective};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::{PassReport, Stream, StreamError, TrainError};

/// A row: a popular category, a rare word, a value.
#[derive(Features, Clone)]
struct Row {
    #[label]
    y: bool,
    #[hash]
    cat: String,
    #[hash]
    word: String,
    #[value]
    x: f32,
}

fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let c = rng.below(6);
            let w = rng.below(400);
            let x = rng.normal();
            let logit = (c as f32 - 2.5) * 0.6 + if w.is_multiple_of(3) { 1.0 } else { -0.5 } + x;
            Row {
                y: rng.uniform() < 1.0 / (1.0 + (-logit).exp()),
                cat: format!("c{c}"),
                word: format!("w{w}"),
                x,
            }
        })
        .collect()
}

type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];
type Mlp = network![Sparse<{ 1 << 12 }> => Linear<16> => ReLU => Linear<1>];

/// Rank `r`'s share of `rows` when rank `k` gets `parts[k]` parts of them.
fn shard<T: Clone>(rows: &[T], parts: &[usize], r: usize) -> Vec<T> {
    let total: usize = parts.iter().sum();
    let at = |k: usize| rows.len() * parts[..k].iter().sum::<usize>() / total;
    rows[at(r)..at(r + 1)].to_vec()
}

fn trainer(lr: f32) -> Trainer<AdaGrad> {
    Trainer::new(AdaGrad::new(lr))
        .passes(2)
        .holdout(Holdout::EveryKth(10))
        .progress(Progress::Silent)
}

/// The figures every rank must agree on (not times).
fn figures(p: &PassReport) -> (usize, u64, u64, u64, Option<u64>) {
    (
        p.pass,
        p.rows,
        p.nnz,
        p.train_loss.to_bits(),
        p.holdout_loss.map(f64::to_bits),
    )
}

fn bits(w: &vectorflow::weights::Weights) -> Vec<u32> {
    w.iter().map(|x| x.to_bits()).collect()
}

/// Every rank of a job ends with the same weights, training state and report, the
/// job's (its rows summed), at 2, 3 and 4 ranks with uneven shards (one of none), for
/// logistic regression and a hidden layer, one thread or two replicas per rank.
#[test]
fn every_rank_ends_with_the_same_weights_and_report() {
    let data = rows(3000, 1);
    let cases: [(&[usize], usize); 4] = [
        (&[3, 1], 1),
        (&[2, 0, 1], 1),
        (&[1, 3, 0, 2], 1),
        (&[1, 2], 2),
    ];
    for (parts, threads) in cases {
        for mlp in [false, true] {
            let n = parts.len();
            let results = local::run(n, |comm| {
                let mine = shard(&data, parts, comm.rank());
                let t = trainer(0.3).threads(threads).ranks(comm).sync_rows(200);
                if mlp {
                    let mut net = Mlp::new(Init::uniform(0.1).seed(3));
                    let report = t.fit(&mut net, &mine, Logistic).unwrap();
                    (bits(net.params()), net.train_state().cloned(), report)
                } else {
                    let mut net = Lr::new(Init::zeros());
                    let report = t.fit(&mut net, &mine, Logistic).unwrap();
                    (bits(net.params()), net.train_state().cloned(), report)
                }
            });
            let at = format!("{parts:?}, {threads} threads, mlp {mlp}");
            let (w0, s0, r0) = &results[0];
            // Each shard holds out its own every 10th row.
            let held: usize = (0..n).map(|r| shard(&data, parts, r).len() / 10).sum();
            assert_eq!(r0.rows() as usize, 2 * (data.len() - held), "{at}");
            assert!(r0.sync_bytes > 0, "{at}");
            for (r, (w, s, report)) in results.iter().enumerate() {
                assert!(w == w0, "{at}: rank {r}'s weights");
                assert!(s == s0, "{at}: rank {r}'s training state");
                let f: Vec<_> = report.passes.iter().map(figures).collect();
                let f0: Vec<_> = r0.passes.iter().map(figures).collect();
                assert_eq!(f, f0, "{at}: rank {r}'s report");
            }
            assert_eq!(s0.as_ref().unwrap().passes(), 2, "{at}");
            // The weights moved: the job learned.
            assert!(w0.iter().any(|&b| f32::from_bits(b) != 0.0), "{at}");
        }
    }
}

/// A row-wise optimizer (one state float per sparse row) and a momentum (its state
/// averaged, not summed) train across ranks too, to the same weights on every rank.
#[test]
fn other_optimizers_end_alike_on_every_rank() {
    let data = rows(2000, 8);
    let row_wise = local::run(3, |comm| {
        let mut net = Mlp::new(Init::uniform(0.1).seed(3));
        let mine = shard(&data, &[1, 2, 1], comm.rank());
        let t = Trainer::new(RowAdaGrad::new(0.1))
            .passes(2)
            .progress(Progress::Silent);
        let report = t
            .ranks(comm)
            .sync_rows(150)
            .fit(&mut net, &mine, Logistic)
            .unwrap();
        (bits(net.params()), report.passes[1].train_loss)
    });
    let momentum = local::run(2, |comm| {
        let mut net = Lr::new(Init::zeros());
        let mine = shard(&data, &[1, 1], comm.rank());
        let t = Trainer::new(Sgd::new(0.05).momentum(0.9))
            .passes(2)
            .progress(Progress::Silent);
        let report = t
            .ranks(comm)
            .sync_rows(150)
            .fit(&mut net, &mine, Logistic)
            .unwrap();
        (bits(net.params()), report.passes[1].train_loss)
    });
    for (name, out) in [("RowAdaGrad", row_wise), ("Momentum", momentum)] {
        assert!(out.iter().all(|o| o.0 == out[0].0), "{name}");
        // It learned: below a coin's loss.
        assert!(out[0].1 < 0.65, "{name}: {}", out[0].1);
    }
}

/// One rank trains exactly as one process does.
#[test]
fn one_rank_trains_as_one_process() {
    let data = rows(2000, 2);
    let mut alone = Mlp::new(Init::uniform(0.1).seed(3));
    let want = trainer(0.3).fit(&mut alone, &data, Logistic).unwrap();
    let got = local::run(1, |comm| {
        let mut net = Mlp::new(Init::uniform(0.1).seed(3));
        let report = trainer(0.3)
            .ranks(comm)
            .sync_rows(100)
            .fit(&mut net, &data, Logistic);
        (bits(net.params()), report.unwrap())
    });
    assert!(got[0].0 == bits(alone.params()));
    let f: Vec<_> = got[0].1.passes.iter().map(figures).collect();
    let f0: Vec<_> = want.passes.iter().map(figures).collect();
    assert_eq!(f, f0);
}

/// The mean logistic loss of `net` on `test`.
fn logloss(net: &Lr, test: &[Row]) -> f64 {
    let mut l = 0.0f64;
    for r in test {
        let s = net.predict(r).unwrap()[0];
        let p = 1.0 / (1.0 + (-s).exp());
        l -= (if r.y { p } else { 1.0 - p }).max(1e-7).ln() as f64;
    }
    l / test.len() as f64
}

/// The ranks' model learns about as well as one process on all the rows: averaging
/// every rank's changes loses little (summing them would multiply the hot steps).
#[test]
fn four_ranks_learn_about_as_well_as_one_process() {
    let (data, test) = (rows(8000, 3), rows(3000, 4));
    let logloss = |net: &Lr| logloss(net, &test);
    let t = Trainer::new(AdaGrad::new(0.3))
        .passes(2)
        .progress(Progress::Silent);
    let mut one = Lr::new(Init::zeros());
    t.fit(&mut one, &data, Logistic).unwrap();
    let nets = local::run(4, |comm| {
        let mut net = Lr::new(Init::zeros());
        let mine = shard(&data, &[1, 1, 1, 1], comm.rank());
        t.clone()
            .ranks(comm)
            .sync_rows(500)
            .fit(&mut net, &mine, Logistic)
            .unwrap();
        net
    });
    let (a, b) = (logloss(&one), logloss(&nets[0]));
    assert!((b - a).abs() < 0.01, "one process {a}, four ranks {b}");
}

/// Hot weights stay stable at a high rate and long rounds: each rank's steps on the
/// bias and the popular categories nearly reach its own optimum between two syncs, so
/// the rescaled sum of the ranks' changes there overshoots by about the rank count and
/// diverges (4 ranks: test logloss 2.9), while averaging the weights beside summed
/// accumulators learns them too slowly (2 ranks: 0.011 from one process). The ranks'
/// model stays finite and close to one process's.
#[test]
fn hot_weights_stay_stable_at_a_high_rate_and_long_rounds() {
    let (data, test) = (rows(8000, 5), rows(3000, 6));
    let logloss = |net: &Lr| logloss(net, &test);
    let t = Trainer::new(AdaGrad::new(1.0))
        .passes(3)
        .progress(Progress::Silent);
    let mut one = Lr::new(Init::zeros());
    t.fit(&mut one, &data, Logistic).unwrap();
    for ranks in [2, 4] {
        let nets = local::run(ranks, |comm| {
            let mut net = Lr::new(Init::zeros());
            let mine = shard(&data, &vec![1; ranks], comm.rank());
            t.clone()
                .ranks(comm)
                .sync_rows(1000)
                .fit(&mut net, &mine, Logistic)
                .unwrap();
            net
        });
        assert!(nets[0].params().iter().all(|w| w.is_finite()));
        let (a, b) = (logloss(&one), logloss(&nets[0]));
        assert!((b - a).abs() < 0.006, "one process {a}, {ranks} ranks {b}");
    }
}

/// A setting that differs on one rank stops every rank at the start, naming both
/// values; so does a shard plan that differs.
#[test]
fn a_setting_that_differs_stops_every_rank() {
    let data = rows(600, 5);
    let out = local::run(3, |comm| {
        let lr = if comm.rank() == 2 { 0.1 } else { 0.5 };
        let mut net = Lr::new(Init::zeros());
        trainer(lr).ranks(comm).fit(&mut net, &data, Logistic)
    });
    let want = "rank 2's optimizer AdaGrad(lr=0.1, init_acc=1e-2) differs from rank 0's \
                AdaGrad(lr=0.5, init_acc=1e-2)";
    for (r, e) in out.into_iter().enumerate() {
        let e = e.unwrap_err();
        assert!(e.to_string().contains(want), "rank {r}: {e}");
        match (r, e) {
            (2, TrainError::Config(_)) => {}
            (0 | 1, TrainError::Rank { rank: 2, .. }) => {}
            (r, e) => panic!("rank {r}: {e:?}"),
        }
    }
    let out = local::run(2, |comm| {
        let mut net = Lr::new(Init::zeros());
        let plan = format!(
            "2 shards of data.svm, cut {}",
            if comm.rank() == 0 { 100 } else { 101 }
        );
        trainer(0.5)
            .ranks(comm)
            .plan(plan)
            .fit(&mut net, &data, Logistic)
    });
    for e in out {
        let e = e.unwrap_err().to_string();
        assert!(e.contains("rank 1's shard plan 2 shards of data.svm, cut 101 differs from rank 0's 2 shards of data.svm, cut 100"), "{e}");
    }
}

/// A bad row on one rank, in its second pass, stops every rank with its error: its
/// own error there, the others naming it. No rank hangs.
#[test]
fn a_bad_row_on_one_rank_stops_every_rank() {
    let data = rows(3000, 6);
    for bad_rank in [0, 2] {
        let out = local::run(3, |comm| {
            let mut mine = shard(&data, &[1, 1, 1], comm.rank());
            if comm.rank() == bad_rank {
                mine[700].x = f32::NAN;
            }
            let mut net = Lr::new(Init::zeros());
            trainer(0.5)
                .shuffle(false)
                .ranks(comm)
                .sync_rows(100)
                .fit(&mut net, &mine, Logistic)
        });
        for (r, e) in out.into_iter().enumerate() {
            let e = e.unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("pass 1, row 700") && text.contains("`x`"),
                "rank {r}: {text}"
            );
            match e {
                TrainError::Feature {
                    pass: 1, row: 700, ..
                } if r == bad_rank => {}
                TrainError::Rank { rank, .. } if rank == bad_rank && r != bad_rank => {}
                e => panic!("rank {r}: {e:?}"),
            }
        }
    }
}

/// Lines of `label word` text; a line without a word is malformed. After its
/// `fail_after`-th rewind, reading past line 1000 fails (a disk gone mid-pass).
struct Lines {
    lines: Vec<String>,
    at: usize,
    rewinds: usize,
    fail_after: Option<usize>,
}

#[derive(Features)]
struct Word<'a> {
    #[label]
    y: bool,
    #[hash]
    word: &'a str,
}

impl Stream for Lines {
    type Row<'a> = Word<'a>;
    fn read<F: FnMut(&Word<'_>)>(&mut self, max: usize, mut f: F) -> Result<usize, StreamError> {
        let mut n = 0;
        while n < max && self.at < self.lines.len() {
            if Some(self.rewinds) == self.fail_after && self.at > 1000 {
                return Err("shard.txt: the disk went away".into());
            }
            let line = &self.lines[self.at];
            let (y, word) = line
                .split_once(' ')
                .ok_or_else(|| format!("shard.txt:{}: expected `label word`", self.at + 1))?;
            f(&Word { y: y == "1", word });
            self.at += 1;
            n += 1;
        }
        Ok(n)
    }
    fn rewind(&mut self) -> Result<(), StreamError> {
        self.at = 0;
        self.rewinds += 1;
        Ok(())
    }
}

/// A malformed line in one rank's shard, read in the second pass's... first, stops
/// every rank with the reader's message.
#[test]
fn a_malformed_line_in_one_shard_stops_every_rank() {
    let out = local::run(2, |comm| {
        let mut lines: Vec<String> = (0..2000)
            .map(|i| format!("{} w{}", i % 2, i % 37))
            .collect();
        if comm.rank() == 1 {
            lines[1500] = "1".into();
        }
        let mut stream = Lines {
            lines,
            at: 0,
            rewinds: 0,
            fail_after: None,
        };
        let mut net = Lr::new(Init::zeros());
        Trainer::new(AdaGrad::new(0.5))
            .passes(2)
            .progress(Progress::Silent)
            .chunk_rows(256)
            .ranks(comm)
            .sync_rows(128)
            .fit_stream(&mut net, &mut stream, Logistic)
    });
    for (r, e) in out.into_iter().enumerate() {
        let e = e.unwrap_err();
        assert!(
            e.to_string()
                .contains("shard.txt:1501: expected `label word`"),
            "rank {r}: {e}"
        );
        match (r, e) {
            (1, TrainError::Read(_)) | (0, TrainError::Rank { rank: 1, .. }) => {}
            (r, e) => panic!("rank {r}: {e:?}"),
        }
    }
}

/// A job without rows fails on every rank; early stopping decides alike everywhere.
#[test]
fn no_rows_fail_and_early_stopping_agree_on_every_rank() {
    let out = local::run(2, |comm| {
        let mut net = Lr::new(Init::zeros());
        trainer(0.5)
            .ranks(comm)
            .fit(&mut net, &Vec::<Row>::new(), Logistic)
    });
    for e in out {
        assert!(matches!(e, Err(TrainError::NoRows { .. })), "{e:?}");
    }
    let data = rows(2000, 7);
    let out = local::run(3, |comm| {
        let mut net = Lr::new(Init::zeros());
        let mine = shard(&data, &[2, 1, 1], comm.rank());
        let report = Trainer::new(AdaGrad::new(4.0))
            .passes(6)
            .holdout(Holdout::EveryKth(3))
            .early_stopping(1)
            .progress(Progress::Silent)
            .ranks(comm)
            .sync_rows(150)
            .fit(&mut net, &mine, Logistic)
            .unwrap();
        (
            bits(net.params()),
            report.best_pass,
            report.stopped_early,
            report.passes.len(),
        )
    });
    assert!(
        out.iter().all(|o| *o == out[0]),
        "{:?}",
        out.iter().map(|o| (o.1, o.2, o.3)).collect::<Vec<_>>()
    );
}

/// A job that fails in its second pass, restarted with the same command, resumes from
/// the checkpoint of its first pass and ends with the weights of a job never stopped.
#[test]
fn a_restarted_job_resumes_from_its_checkpoint_and_ends_as_an_unbroken_one() {
    let dir = std::env::temp_dir().join(format!("vf-ranks-checkpoint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let job = |name: &str, crash: bool| {
        let path = dir.join(name);
        local::run(2, |comm| {
            let r = comm.rank();
            let lines = (0..1500 + 700 * r)
                .map(|i| format!("{} w{}", (i * (r + 1)) % 3 % 2, i % 53))
                .collect();
            // Rank 1's shard fails in pass 2 (after its second rewind).
            let fail_after = (crash && r == 1).then_some(2);
            let mut stream = Lines {
                lines,
                at: 0,
                rewinds: 0,
                fail_after,
            };
            let mut net = Mlp::new(Init::uniform(0.1).seed(3));
            let report = Trainer::new(AdaGrad::new(0.3))
                .passes(3)
                .progress(Progress::Silent)
                .chunk_rows(256)
                .ranks(comm)
                .sync_rows(300)
                .checkpoint(&path)
                .fit_stream(&mut net, &mut stream, Logistic);
            report.map(|rep| {
                (
                    bits(net.params()),
                    rep.passes.iter().map(|p| p.pass).collect::<Vec<_>>(),
                )
            })
        })
    };
    let unbroken = job("a.vf", false);
    let broken = job("b.vf", true);
    for (r, e) in broken.into_iter().enumerate() {
        let e = e.unwrap_err();
        assert!(
            e.to_string().contains("the disk went away"),
            "rank {r}: {e}"
        );
    }
    let resumed = job("b.vf", false);
    for r in 0..2 {
        let (w, passes) = unbroken[r].as_ref().unwrap();
        assert_eq!(passes, &[1, 2, 3]);
        let (w2, passes2) = resumed[r].as_ref().unwrap();
        assert_eq!(
            passes2,
            &[2, 3],
            "rank {r}: the restart trains the passes left"
        );
        assert!(w == w2, "rank {r}: the resumed job's weights");
    }
    // A finished job's restart trains nothing and keeps its weights.
    let again = job("b.vf", false);
    assert_eq!(again[0].as_ref().unwrap().1, Vec::<usize>::new());
    assert!(again[1].as_ref().unwrap().0 == unbroken[1].as_ref().unwrap().0);
    std::fs::remove_dir_all(&dir).unwrap();
}
