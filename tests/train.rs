//! The trainer end to end: it learns planted models to their oracle accuracy, is
//! reproducible, runs Hogwild, continues, applies lazy priors exactly, reports errors
//! where they happen, holds out, stops early, batches, and takes closure losses.

use vectorflow::loss::{sigmoid, softplus};
use vectorflow::optim::Merge;
use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::{Sharing, TrainError, TrainReport};

const CATS: [&str; 8] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];
const EFFECT: [f32; 8] = [1.0, -1.0, 0.5, -0.5, 0.0, 2.0, -2.0, 0.25];

/// A row of the planted logistic model.
#[derive(Features, Clone)]
struct LrRow {
    #[label]
    y: bool,
    #[value]
    x1: f32,
    #[value]
    x2: f32,
    #[value]
    x3: f32,
    #[hash]
    cat: &'static str,
    /// The true probability of `y` (not a feature).
    #[skip]
    p: f32,
}

fn lr_rows(n: usize, seed: u64) -> Vec<LrRow> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let (x1, x2, x3) = (rng.normal(), rng.normal(), rng.normal());
            let c = rng.below(8);
            let p = sigmoid(1.5 * x1 - 1.0 * x2 + 0.5 * x3 + EFFECT[c] - 0.3);
            LrRow {
                y: rng.uniform() < p,
                x1,
                x2,
                x3,
                cat: CATS[c],
                p,
            }
        })
        .collect()
}

/// The accuracy of the true model on `rows` (what no classifier beats on average).
fn oracle(rows: &[LrRow]) -> f64 {
    rows.iter().filter(|r| (r.p > 0.5) == r.y).count() as f64 / rows.len() as f64
}

/// Accuracy and mean logloss of scores (log-odds) against boolean labels.
fn score(scores: impl Iterator<Item = (f32, bool)>) -> (f64, f64) {
    let (mut right, mut loss, mut n) = (0usize, 0f64, 0usize);
    for (s, y) in scores {
        right += ((s > 0.0) == y) as usize;
        loss += (softplus(s) - if y { s } else { 0.0 }) as f64;
        n += 1;
    }
    (right as f64 / n as f64, loss / n as f64)
}

type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];
type Mlp = network![Sparse<{ 1 << 12 }> => Linear<16> => ReLU => Linear<1>];

fn lr_eval(net: &Lr, rows: &[LrRow]) -> (f64, f64) {
    score(rows.iter().map(|r| (net.predict(r).unwrap()[0], r.y)))
}

fn quiet<O: vectorflow::optim::Optimizer>(opt: O) -> Trainer<O> {
    Trainer::new(opt).threads(1).progress(Progress::Silent)
}

/// Trains logistic regression on the planted model; returns test accuracy, test logloss
/// and the oracle accuracy on the test rows.
fn fit_lr<O: vectorflow::optim::Optimizer>(t: &Trainer<O>) -> (f64, f64, f64) {
    let (train, test) = (lr_rows(4000, 1), lr_rows(2000, 2));
    let mut net = Lr::new(Init::zeros());
    t.fit(&mut net, &train, Logistic).unwrap();
    let (acc, loss) = lr_eval(&net, &test);
    (acc, loss, oracle(&test))
}

#[test]
fn logistic_regression_reaches_the_oracle_accuracy() {
    let (acc, loss, best) = fit_lr(&quiet(AdaGrad::new(0.2)).passes(5));
    assert!(best > 0.75, "the planted model is informative: {best}");
    assert!(acc >= best - 0.025, "accuracy {acc} vs oracle {best}");
    assert!(loss < 0.5, "logloss {loss}");
}

#[test]
fn every_optimizer_learns_logistic_regression() {
    let check = |name: &str, (acc, loss, best): (f64, f64, f64)| {
        assert!(
            acc >= best - 0.03 && loss < 0.52,
            "{name}: accuracy {acc} (oracle {best}), logloss {loss}"
        );
    };
    check("sgd", fit_lr(&quiet(Sgd::new(0.05)).passes(5)));
    check(
        "momentum",
        fit_lr(&quiet(Sgd::new(0.005).momentum(0.9)).passes(5)),
    );
    check("adagrad", fit_lr(&quiet(AdaGrad::new(0.2)).passes(5)));
    check("adam", fit_lr(&quiet(Adam::new(0.01)).passes(5)));
    check("ftrl", fit_lr(&quiet(Ftrl::new(0.2)).passes(5)));
}

#[test]
fn plain_sgd_steps_as_momentum_zero_without_its_plane() {
    // Stateless SGD is the momentum-0 rule (v = g): the same weights, through the
    // packed sparse rows and the dense layers, with no state plane kept.
    let train = lr_rows(2000, 1);
    let fit = |momentum: Option<f32>| {
        let mut net = Mlp::new(Init::uniform(0.1).seed(3));
        let report = match momentum {
            None => quiet(Sgd::new(0.05))
                .passes(2)
                .fit(&mut net, &train, Logistic),
            Some(mu) => quiet(Sgd::new(0.05).momentum(mu))
                .passes(2)
                .fit(&mut net, &train, Logistic),
        };
        report.unwrap();
        let planes = net.train_state().unwrap().plane_count();
        (net.params().to_vec(), planes)
    };
    let (plain, planes) = fit(None);
    assert_eq!(planes, 0);
    assert_eq!(fit(Some(0.0)), (plain.clone(), 1));
    assert_ne!(fit(Some(0.5)).0, plain, "momentum changes the steps");
}

/// AdaGrad with three more state floats, which it updates but never reads: an optimizer
/// of four states, declared here alone.
#[derive(Clone, Copy)]
struct Wide(AdaGrad);

impl vectorflow::optim::Optimizer for Wide {
    type State = [f32; 4];
    const NAME: &'static str = "Wide";
    fn describe(&self) -> String {
        "Wide".into()
    }
    fn lr(&self) -> f32 {
        self.0.lr
    }
    fn init_state(&self) -> [f32; 4] {
        let acc = self.0.init_state()[0];
        [acc, 0.0, -1.0, acc]
    }
    /// AdaGrad's accumulator; the step count and the copy of the accumulator add up.
    fn merge(j: usize) -> Merge {
        [Merge::Root, Merge::Add, Merge::Average, Merge::Add][j]
    }
    fn update(&self, w: f32, s: &mut [f32; 4], g: f32, scale: f32) -> f32 {
        let mut acc = [s[0]];
        let w = self.0.update(w, &mut acc, g, scale);
        // Plane 1 counts the steps with a gradient (those that change AdaGrad's state,
        // so that replicas merge the same coordinates), plane 3 copies the accumulator.
        let counted = if g == 0.0 { 0.0 } else { 1.0 };
        (s[0], s[1], s[2], s[3]) = (acc[0], s[1] + counted, -1.0, acc[0]);
        w
    }
}

#[test]
fn an_optimizer_of_four_states_trains_as_the_rule_it_wraps() {
    // The trainer keeps and steps any number of state floats: the weights are
    // AdaGrad's, bit for bit, on one thread and with replicas, and its four planes are
    // kept in the net's training state.
    let train = lr_rows(3000, 1);
    let fit = |wide: bool, threads: usize, sharing: Sharing| {
        let mut net = Mlp::new(Init::uniform(0.1).seed(3));
        if wide {
            let t = Trainer::new(Wide(AdaGrad::new(0.1)));
            let t = t.passes(2).threads(threads).sharing(sharing);
            t.progress(Progress::Silent).fit(&mut net, &train, Logistic)
        } else {
            let t = Trainer::new(AdaGrad::new(0.1));
            let t = t.passes(2).threads(threads).sharing(sharing);
            t.progress(Progress::Silent).fit(&mut net, &train, Logistic)
        }
        .unwrap();
        assert!(net.train_state().is_some());
        (net.params().to_vec(), net.state_planes())
    };
    for (threads, sharing) in [
        (1, Sharing::Auto),
        (2, Sharing::Replicas),
        (2, Sharing::Hogwild),
    ] {
        let (w4, planes) = fit(true, threads, sharing);
        assert_eq!(planes.len(), 4, "{threads} threads, {sharing:?}");
        assert!(w4.iter().all(|w| w.is_finite()));
        assert!(planes[2].iter().all(|&s| s == -1.0));
        assert!(planes[1].iter().any(|&s| s > 0.0), "the planes are stepped");
        if sharing != Sharing::Hogwild {
            // Deterministic schemes: AdaGrad's weights and accumulators exactly.
            let (w1, ada) = fit(false, threads, sharing);
            let at = format!("{threads} threads, {sharing:?}");
            assert!(w4 == w1, "{at}: AdaGrad's weights");
            assert!(planes[0] == ada[0], "{at}: AdaGrad's accumulators");
            assert!(planes[3] == planes[0], "{at}: plane 3 copies plane 0");
        }
    }
}

/// Two categorical fields whose label is the parity of their categories: no additive
/// (linear) model does better than chance.
#[derive(Features, Clone)]
struct XorRow {
    #[label]
    y: bool,
    #[hash]
    a: &'static str,
    #[hash]
    b: &'static str,
}

fn xor_rows(n: usize, seed: u64) -> Vec<XorRow> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let (i, j) = (rng.below(8), rng.below(8));
            XorRow {
                y: (i + j) % 2 == 1,
                a: CATS[i],
                b: CATS[j],
            }
        })
        .collect()
}

fn fit_mlp(threads: usize, train: &[XorRow], test: &[XorRow]) -> (f64, f64, TrainReport) {
    fit_mlp_with(threads, Sharing::Auto, train, test)
}

fn fit_mlp_with(
    threads: usize,
    sharing: Sharing,
    train: &[XorRow],
    test: &[XorRow],
) -> (f64, f64, TrainReport) {
    let mut net = Mlp::new(Init::uniform(0.1).seed(3));
    let report = quiet(AdaGrad::new(0.1))
        .passes(6)
        .threads(threads)
        .sharing(sharing)
        .fit(&mut net, train, Logistic)
        .unwrap();
    let (acc, loss) = score(test.iter().map(|r| (net.predict(r).unwrap()[0], r.y)));
    (acc, loss, report)
}

#[test]
fn a_hidden_layer_learns_an_interaction_a_linear_model_cannot() {
    let (train, test) = (xor_rows(4000, 5), xor_rows(1000, 6));
    let mut lr = Lr::new(Init::zeros());
    quiet(AdaGrad::new(0.1))
        .passes(6)
        .fit(&mut lr, &train, Logistic)
        .unwrap();
    let (lr_acc, lr_loss) = score(test.iter().map(|r| (lr.predict(r).unwrap()[0], r.y)));
    assert!(
        lr_acc < 0.65 && lr_loss > 0.65,
        "a linear model cannot learn parity: accuracy {lr_acc}, logloss {lr_loss}"
    );
    let (acc, loss, _) = fit_mlp(1, &train, &test);
    assert!(
        acc > 0.9,
        "the MLP learns parity: accuracy {acc}, logloss {loss}"
    );
}

/// A row with a class label and two numeric features.
#[derive(Features)]
struct ClassRow {
    #[label]
    class: u8,
    #[value]
    x1: f32,
    #[value]
    x2: f32,
    #[skip]
    best: u8,
}

#[test]
fn multinomial_learns_three_classes() {
    let planted = [[2.0f32, 0.0], [-1.0, 1.7], [-1.0, -1.7]];
    let rows = |n: usize, seed: u64| -> Vec<ClassRow> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let (x1, x2) = (rng.normal(), rng.normal());
                let s = planted.map(|w| (w[0] * x1 + w[1] * x2).exp());
                let (total, mut u) = (s.iter().sum::<f32>(), rng.uniform());
                let mut class = 2;
                for (k, v) in s.iter().enumerate() {
                    if u < v / total {
                        class = k;
                        break;
                    }
                    u -= v / total;
                }
                let best = (0..3).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
                ClassRow {
                    class: class as u8,
                    x1,
                    x2,
                    best: best as u8,
                }
            })
            .collect()
    };
    let (train, test) = (rows(4000, 11), rows(2000, 12));
    type M = network![Sparse<{ 1 << 12 }> => Linear<3>];
    let mut net = M::new(Init::zeros());
    quiet(AdaGrad::new(0.2))
        .passes(5)
        .fit(&mut net, &train, Multinomial::<3>)
        .unwrap();
    let n = test.len() as f64;
    let best = test.iter().filter(|r| r.best == r.class).count() as f64 / n;
    let acc = test
        .iter()
        .filter(|r| {
            let o = net.predict(*r).unwrap();
            let k = (0..3).max_by(|&a, &b| o[a].total_cmp(&o[b])).unwrap();
            k as u8 == r.class
        })
        .count() as f64
        / n;
    assert!(best > 0.7, "oracle {best}");
    assert!(acc >= best - 0.03, "accuracy {acc} vs oracle {best}");
}

/// A row with a real-valued label and two numeric features.
#[derive(Features)]
struct RegRow {
    #[label]
    y: f32,
    #[value]
    x1: f32,
    #[value]
    x2: f32,
}

#[test]
fn square_loss_recovers_planted_weights() {
    let mut rng = Rng::new(21);
    let rows: Vec<RegRow> = (0..3000)
        .map(|_| {
            let (x1, x2) = (rng.normal(), rng.normal());
            RegRow {
                y: 2.0 * x1 - 3.0 * x2 + 0.5 + 0.1 * rng.normal(),
                x1,
                x2,
            }
        })
        .collect();
    let mut net = Lr::new(Init::zeros());
    quiet(Sgd::new(0.01))
        .passes(5)
        .fit(&mut net, &rows, Square)
        .unwrap();
    let at = |x1, x2| net.predict(&RegRow { y: 0.0, x1, x2 }).unwrap()[0];
    let (b, w1, w2) = (
        at(0.0, 0.0),
        at(1.0, 0.0) - at(0.0, 0.0),
        at(0.0, 1.0) - at(0.0, 0.0),
    );
    assert!((b - 0.5).abs() < 0.05, "bias {b}");
    assert!((w1 - 2.0).abs() < 0.05, "w1 {w1}");
    assert!((w2 + 3.0).abs() < 0.05, "w2 {w2}");
}

#[test]
fn poisson_loss_recovers_a_planted_rate() {
    let mut rng = Rng::new(31);
    let rows: Vec<RegRow> = (0..4000)
        .map(|_| {
            let x1 = 2.0 * rng.uniform() - 1.0;
            // Knuth's sampler for a Poisson count of rate e^(0.5 + 0.8·x1).
            let limit = (-(0.5 + 0.8 * x1).exp()).exp();
            let (mut k, mut p) = (0u32, 1.0f32);
            loop {
                p *= rng.uniform();
                if p <= limit {
                    break;
                }
                k += 1;
            }
            RegRow {
                y: k as f32,
                x1,
                x2: 0.0,
            }
        })
        .collect();
    let mean = rows.iter().map(|r| r.y).sum::<f32>() / rows.len() as f32;
    assert!(mean > 1.5 && mean < 2.2, "sampler mean {mean}");
    let mut net = Lr::new(Init::zeros());
    quiet(AdaGrad::new(0.1))
        .passes(10)
        .fit(&mut net, &rows, Poisson)
        .unwrap();
    let at = |x1| {
        net.predict(&RegRow {
            y: 0.0,
            x1,
            x2: 0.0,
        })
        .unwrap()[0]
    };
    let (b, w) = (at(0.0), at(1.0) - at(0.0));
    assert!((b - 0.5).abs() < 0.1, "log-rate at 0: {b}");
    assert!((w - 0.8).abs() < 0.1, "slope {w}");
}

#[test]
fn hinge_loss_separates_separable_data() {
    let mut rng = Rng::new(41);
    let mut rows = Vec::new();
    while rows.len() < 2000 {
        let (x1, x2) = (rng.normal(), rng.normal());
        let m = x1 - 2.0 * x2 + 0.3;
        if m.abs() > 0.3 {
            rows.push(RegRow {
                y: if m > 0.0 { 1.0 } else { 0.0 },
                x1,
                x2,
            });
        }
    }
    let mut net = Lr::new(Init::zeros());
    quiet(Sgd::new(0.05))
        .passes(10)
        .fit(&mut net, &rows, Hinge)
        .unwrap();
    let wrong = rows
        .iter()
        .filter(|r| (net.predict(*r).unwrap()[0] > 0.0) != (r.y > 0.5))
        .count();
    assert!(wrong <= 4, "{wrong} of {} rows misclassified", rows.len());
}

#[test]
fn a_seed_reproduces_training_bit_for_bit() {
    let rows = xor_rows(2000, 7);
    let run = |seed: u64| {
        let mut net = Mlp::new(Init::uniform(0.1).seed(1));
        quiet(Adam::new(0.01))
            .passes(2)
            .seed(seed)
            .fit(&mut net, &rows, Logistic)
            .unwrap();
        net.params().iter().map(|w| w.to_bits()).collect::<Vec<_>>()
    };
    let a = run(9);
    assert!(a == run(9), "the same seed gives the same weights");
    assert!(a != run(10), "another seed shuffles differently");
}

#[test]
fn several_threads_match_one_thread() {
    let (train, test) = (lr_rows(4000, 1), lr_rows(2000, 2));
    let fit = |threads: usize, sharing: Sharing| {
        let mut net = Lr::new(Init::zeros());
        quiet(AdaGrad::new(0.2))
            .passes(5)
            .threads(threads)
            .sharing(sharing)
            .fit(&mut net, &train, Logistic)
            .unwrap();
        lr_eval(&net, &test)
    };
    let (acc1, loss1) = fit(1, Sharing::Auto);
    for sharing in [Sharing::Replicas, Sharing::Hogwild] {
        for threads in [2, 4] {
            let (acc, loss) = fit(threads, sharing);
            assert!(
                (acc - acc1).abs() <= 0.015 && (loss - loss1).abs() <= 0.01,
                "{threads} threads, {sharing:?}: accuracy {acc} vs {acc1}, logloss {loss} vs {loss1}"
            );
        }
    }

    let (train, test) = (xor_rows(4000, 5), xor_rows(1000, 6));
    let (acc1, loss1, _) = fit_mlp(1, &train, &test);
    for sharing in [Sharing::Replicas, Sharing::Hogwild] {
        for threads in [2, 4] {
            let (acc, loss, report) = fit_mlp_with(threads, sharing, &train, &test);
            assert_eq!(report.rows(), 6 * 4000);
            assert!(
                (acc - acc1).abs() <= 0.02 && (loss - loss1).abs() <= 0.01,
                "MLP, {threads} threads, {sharing:?}: accuracy {acc} vs {acc1}, logloss {loss} vs {loss1}"
            );
        }
    }
}

/// Replicas share nothing while threads train, so several threads are as reproducible
/// as one: the same seed and thread count give the same weights, bit for bit, over
/// chunks and rounds of several merges.
#[test]
fn replicas_reproduce_training_bit_for_bit() {
    let rows = xor_rows(40_000, 11);
    let run = |threads: usize| {
        let mut net = Mlp::new(Init::uniform(0.1).seed(1));
        quiet(AdaGrad::new(0.05))
            .passes(2)
            .threads(threads)
            .sharing(Sharing::Replicas)
            .chunk_rows(10_000)
            .fit(&mut net, &rows, Logistic)
            .unwrap();
        net.params().iter().map(|w| w.to_bits()).collect::<Vec<_>>()
    };
    let a = run(2);
    assert!(
        a == run(2),
        "two threads give the same weights on every run"
    );
    assert!(run(3) == run(3), "so do three");
    assert!(a != run(1), "each thread count has its own result");
}

#[test]
fn replicas_refuse_priors() {
    let rows = lr_rows(100, 3);
    let mut net = Lr::new(Init::zeros());
    let err = quiet(AdaGrad::new(0.1))
        .threads(2)
        .sharing(Sharing::Replicas)
        .prior(Prior::l2(1e-3))
        .fit(&mut net, &rows, Logistic)
        .unwrap_err();
    assert!(matches!(err, TrainError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("Sharing::Hogwild"), "{err}");
    // The default shares by Hogwild when priors are on.
    quiet(AdaGrad::new(0.1))
        .threads(2)
        .prior(Prior::l2(1e-3))
        .fit(&mut net, &rows, Logistic)
        .unwrap();
}

#[test]
fn fit_continues_from_the_current_weights() {
    let rows = xor_rows(4000, 8);
    let mut net = Mlp::new(Init::uniform(0.1).seed(3));
    let t = quiet(AdaGrad::new(0.1));
    let first = t.clone().passes(4).fit(&mut net, &rows, Logistic).unwrap();
    let (start, end) = (first.passes[0].train_loss, first.last().unwrap().train_loss);
    assert!(start > 10.0 * end, "first fit: {start} → {end}");
    let again = t.passes(1).fit(&mut net, &rows, Logistic).unwrap();
    let resumed = again.passes[0].train_loss;
    assert!(
        resumed < 2.0 * end + 1e-3,
        "the second fit resumes near {end}, not at {start}: {resumed}"
    );
}

/// A row of hand-picked sparse ids, for the prior test.
#[derive(Features)]
struct IdRow {
    #[label]
    y: bool,
    #[sparse]
    ids: Vec<(u32, f32)>,
}

const DIM: usize = 64;

#[test]
fn lazy_priors_equal_eager_priors() {
    let mut rng = Rng::new(51);
    // Zipf-ish ids so that some rows of weights wait many rows between touches.
    let rows: Vec<IdRow> = (0..1500)
        .map(|_| {
            let n = 1 + rng.below(4);
            let ids: Vec<(u32, f32)> = (0..n)
                .map(|_| {
                    let id = (rng.uniform() * rng.uniform() * DIM as f32) as u32;
                    (id, 0.5 + rng.uniform())
                })
                .collect();
            let s: f32 = ids.iter().map(|&(i, v)| v * (i as f32 / 16.0 - 1.0)).sum();
            IdRow {
                y: rng.uniform() < sigmoid(s),
                ids,
            }
        })
        .collect();
    let (lr, l1, l2) = (0.1f32, 1e-3f32, 1e-2f32);
    let passes = 2;
    type Small = network![Sparse<DIM> => Linear<1>];
    let init = Init::uniform(0.5).seed(4);
    let mut net = Small::new(init);
    let start = net.params().to_vec();
    quiet(Sgd::new(lr))
        .prior(Prior::l2(l2).and_l1(l1))
        .shuffle(false)
        .passes(passes)
        .fit(&mut net, &rows, Logistic)
        .unwrap();

    // The eager reference: per row, SGD on the touched weights and the bias, then the
    // prior step on every weight (not the bias).
    let (a, b) = (lr * l2, lr * l1);
    let mut w = start[..DIM].to_vec();
    let mut bias = start[DIM];
    for _ in 0..passes {
        for r in &rows {
            let out = bias + r.ids.iter().map(|&(i, v)| w[i as usize] * v).sum::<f32>();
            let g = sigmoid(out) - if r.y { 1.0 } else { 0.0 };
            for &(i, v) in &r.ids {
                w[i as usize] -= lr * g * v;
            }
            bias -= lr * g;
            for x in w.iter_mut() {
                // in f64, as the library's closed form is: `1 − a` rounded to f32 and
                // raised to the 3000th power would drift by 1e-4
                let m = (x.abs() as f64 * (1.0 - a as f64) - b as f64).max(0.0);
                *x = (m as f32).copysign(*x);
            }
        }
    }
    let got = net.params();
    for i in 0..DIM {
        assert!(
            (got[i] - w[i]).abs() < 1e-5,
            "weight {i}: lazy {} vs eager {}",
            got[i],
            w[i]
        );
    }
    assert!(
        (got[DIM] - bias).abs() < 1e-5,
        "bias {} vs {bias}",
        got[DIM]
    );
}

#[test]
fn l1_makes_weights_exactly_zero() {
    let rows = lr_rows(3000, 61);
    let fit = |prior: Prior| {
        let mut net = Lr::new(Init::uniform(0.01).seed(2));
        quiet(Sgd::new(0.05))
            .prior(prior)
            .passes(3)
            .fit(&mut net, &rows, Logistic)
            .unwrap();
        net.params()
            .iter()
            .take(1 << 12)
            .filter(|w| **w == 0.0)
            .count()
    };
    let (plain, l1) = (fit(Prior::default()), fit(Prior::l1(1e-3)));
    assert!(plain < 10, "without L1, {plain} weights are zero");
    assert!(
        l1 > (1 << 12) - 20,
        "with L1, the unused and weak weights are zero: only {l1}"
    );
}

#[test]
fn a_non_finite_value_names_the_row_and_the_field() {
    let mut rows = lr_rows(200, 71);
    rows[137].x2 = f32::NAN;
    let mut net = Lr::new(Init::zeros());
    let err = quiet(Sgd::new(0.1))
        .passes(2)
        .fit(&mut net, &rows, Logistic)
        .unwrap_err();
    match &err {
        TrainError::Feature { pass, row, source } => {
            assert_eq!((*pass, *row, source.field), (1, 137, "x2"));
            assert!(source.value.is_nan());
        }
        e => panic!("expected a feature error, got {e:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("row 137") && text.contains("`x2`"), "{text}");
}

#[test]
fn a_non_finite_loss_names_the_pass_and_the_row() {
    let mut rows: Vec<RegRow> = (0..100)
        .map(|i| RegRow {
            y: i as f32 / 100.0,
            x1: 1.0,
            x2: 0.0,
        })
        .collect();
    rows[42].y = f32::NAN;
    let mut net = Lr::new(Init::zeros());
    let err = quiet(Sgd::new(0.1))
        .fit(&mut net, &rows, Square)
        .unwrap_err();
    // The label is checked before the loss is taken.
    assert!(
        matches!(&err, TrainError::InvalidLabel { pass: 1, row: 42, source } if source.field == "y" && source.value.is_nan()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "pass 1, row 42: the label `y` is NaN; expected a finite number for `Square`"
    );

    // A closure that goes wrong on the third pass.
    rows[42].y = 0.5;
    let passes = std::sync::atomic::AtomicUsize::new(0);
    let bad = |out: &[f32; 1], row: &RegRow, grad: &mut [f32; 1]| -> f32 {
        if row.y == 0.07 && passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 2 {
            return f32::INFINITY;
        }
        grad[0] = out[0] - row.y;
        0.5 * grad[0] * grad[0]
    };
    let err = quiet(Sgd::new(0.1))
        .passes(4)
        .fit(&mut net, &rows, bad)
        .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::NonFiniteLoss {
                pass: 3,
                row: 7,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("pass 3, row 7"), "{text}");
}

/// A training run of the logistic regression, by what it shares the weights with.
type LrFit<'a> = dyn Fn(&mut Lr) -> Result<TrainReport, TrainError> + 'a;

/// A huge feature value (its square past `f32::MAX`) overflows AdaGrad's accumulator of
/// squared gradients while the loss stays finite: the weights would stop moving without
/// a word. Every store (one thread, Hogwild, replicas), the row-wise optimizer and
/// mini-batches stop with an error naming the row instead.
#[test]
fn an_overflowing_optimizer_state_names_the_pass_and_the_row() {
    let mut rows = lr_rows(300, 73);
    // A wrong label keeps the gradient away from 0 however far the margin goes.
    (rows[137].x1, rows[137].y) = (1e25, false);
    let fits: [(&str, Box<LrFit>); 5] = [
        (
            "one thread",
            Box::new(|net| {
                quiet(AdaGrad::new(0.1))
                    .shuffle(false)
                    .fit(net, &rows, Logistic)
            }),
        ),
        (
            "row-wise",
            Box::new(|net| {
                quiet(RowAdaGrad::new(0.1))
                    .shuffle(false)
                    .fit(net, &rows, Logistic)
            }),
        ),
        (
            "hogwild",
            Box::new(|net| {
                quiet(AdaGrad::new(0.1))
                    .shuffle(false)
                    .threads(2)
                    .sharing(Sharing::Hogwild)
                    .fit(net, &rows, Logistic)
            }),
        ),
        (
            "row-wise hogwild",
            Box::new(|net| {
                quiet(RowAdaGrad::new(0.1))
                    .shuffle(false)
                    .threads(2)
                    .sharing(Sharing::Hogwild)
                    .fit(net, &rows, Logistic)
            }),
        ),
        (
            "replicas",
            Box::new(|net| {
                quiet(AdaGrad::new(0.1))
                    .shuffle(false)
                    .threads(2)
                    .sharing(Sharing::Replicas)
                    .fit(net, &rows, Logistic)
            }),
        ),
    ];
    for (name, fit) in &fits {
        let mut net = Lr::new(Init::zeros());
        let err = fit(&mut net).unwrap_err();
        assert!(
            matches!(err, TrainError::NonFiniteState { pass: 1, row: 137 }),
            "{name}: {err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("pass 1, row 137: the optimizer's state"),
            "{err}"
        );
    }
    // A mini-batch's step comes after its last row: that is the row named.
    let mut net = Lr::new(Init::zeros());
    let err = quiet(AdaGrad::new(0.1))
        .shuffle(false)
        .batch(8)
        .fit(&mut net, &rows, Logistic)
        .unwrap_err();
    assert!(
        matches!(err, TrainError::NonFiniteState { pass: 1, row: 143 }),
        "{err:?}"
    );
}

#[test]
fn bad_settings_are_config_errors() {
    let rows = lr_rows(50, 81);
    let mut net = Lr::new(Init::zeros());
    let err = quiet(Sgd::new(0.1))
        .passes(0)
        .fit(&mut net, &rows, Logistic)
        .unwrap_err();
    assert!(matches!(err, TrainError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("passes"), "{err}");
    let err = quiet(Sgd::new(0.1))
        .early_stopping(2)
        .fit(&mut net, &rows, Logistic)
        .unwrap_err();
    assert!(matches!(err, TrainError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("holdout"), "{err}");
}

/// The mean logloss of the net on every fifth row (the `EveryKth(5)` holdout).
fn holdout_logloss(net: &Lr, rows: &[LrRow]) -> f64 {
    let held: Vec<LrRow> = rows.iter().skip(4).step_by(5).cloned().collect();
    lr_eval(net, &held).1
}

#[test]
fn holdout_loss_is_reported_and_decreases() {
    let rows = lr_rows(4000, 91);
    let mut net = Lr::new(Init::zeros());
    let report = quiet(Sgd::new(0.002))
        .holdout(Holdout::EveryKth(5))
        .passes(4)
        .fit(&mut net, &rows, Logistic)
        .unwrap();
    assert_eq!(report.passes.len(), 4);
    let h: Vec<f64> = report
        .passes
        .iter()
        .map(|p| p.holdout_loss.unwrap())
        .collect();
    assert!(h.windows(2).all(|w| w[1] < w[0]), "holdout losses {h:?}");
    assert_eq!(
        report.passes[0].rows, 3200,
        "a fifth of the rows is held out"
    );
    assert!((h[3] - holdout_logloss(&net, &rows)).abs() < 1e-4);
    assert_eq!((report.best_pass, report.stopped_early), (4, false));
}

#[test]
fn early_stopping_keeps_the_best_pass() {
    let rows = lr_rows(2000, 92);
    let mut net = Lr::new(Init::zeros());
    let report = quiet(Sgd::new(5.0))
        .holdout(Holdout::EveryKth(5))
        .early_stopping(1)
        .passes(30)
        .fit(&mut net, &rows, Logistic)
        .unwrap();
    assert!(report.stopped_early, "{report:?}");
    assert!(report.passes.len() < 30);
    let h: Vec<f64> = report
        .passes
        .iter()
        .map(|p| p.holdout_loss.unwrap())
        .collect();
    let best = h[report.best_pass - 1];
    assert!(
        h.iter().all(|&x| x >= best),
        "best pass {}: {h:?}",
        report.best_pass
    );
    assert!(report.best_pass < report.passes.len());
    // the net holds the best pass's weights
    let now = holdout_logloss(&net, &rows);
    assert!((now - best).abs() < 1e-4, "{now} vs best {best}");
}

#[test]
fn mini_batches_learn_logistic_regression() {
    let (acc, loss, best) = fit_lr(&quiet(Sgd::new(1.0)).batch(32).passes(15));
    assert!(
        acc >= best - 0.03 && loss < 0.52,
        "accuracy {acc} (oracle {best}), logloss {loss}"
    );
}

#[test]
fn a_closure_loss_trains() {
    let logistic = |out: &[f32; 1], row: &LrRow, grad: &mut [f32; 1]| -> f32 {
        let y = if row.y { 1.0 } else { 0.0 };
        grad[0] = sigmoid(out[0]) - y;
        softplus(out[0]) - y * out[0]
    };
    let (train, test) = (lr_rows(4000, 1), lr_rows(2000, 2));
    let mut net = Lr::new(Init::zeros());
    quiet(AdaGrad::new(0.2))
        .passes(5)
        .fit(&mut net, &train, logistic)
        .unwrap();
    let (acc, _) = lr_eval(&net, &test);
    assert!(acc >= oracle(&test) - 0.025, "accuracy {acc}");
}

/// A row whose label picks one of eight outputs.
#[derive(Features)]
struct PickRow {
    #[label]
    k: u8,
    #[hash]
    word: &'static str,
}

#[test]
fn a_sparse_loss_leaves_unset_outputs_untouched() {
    type Wide = network![Sparse<{ 1 << 12 }> => Linear<8>];
    let mut rng = Rng::new(101);
    // only outputs 0..4 are ever labelled
    let rows: Vec<PickRow> = (0..2000)
        .map(|_| {
            let c = rng.below(8);
            PickRow {
                k: (c % 4) as u8,
                word: CATS[c],
            }
        })
        .collect();
    let mut net = Wide::new(Init::uniform(0.1).seed(5));
    let start = net.params().to_vec();
    // Sets the gradient of the row's own output only; the others stay zero.
    let loss = |out: &[f32; 8], row: &PickRow, grad: &mut [f32; 8]| -> f32 {
        let k = row.k as usize;
        grad[k] = out[k] - 1.0;
        0.5 * grad[k] * grad[k]
    };
    // Adam's momentum would carry any stray update of an unset output along.
    let report = quiet(Adam::new(0.05))
        .passes(3)
        .fit(&mut net, &rows, loss)
        .unwrap();
    assert!(report.last().unwrap().train_loss < 0.01, "{report:?}");
    let end = net.params();
    for (i, (a, b)) in start.iter().zip(end).enumerate() {
        if i % 8 >= 4 {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "param {i} (output {}) moved",
                i % 8
            );
        }
    }
    for (c, word) in CATS.iter().enumerate() {
        let out = net.predict(&PickRow { k: 0, word }).unwrap();
        assert!((out[c % 4] - 1.0).abs() < 0.1, "{word}: {out:?}");
    }
}

/// A row with one hashed word and no label: for closure losses that set the gradient.
#[derive(Features)]
struct Word {
    #[hash]
    word: &'static str,
}

/// Several Hogwild threads apply an L2 prior at most once per training row: a weight that
/// never gets a gradient decays to `w₀·(1 − lr·λ)^rows` exactly with one thread. With
/// several, a catch-up may be lost when two threads touch one row at once (Hogwild's
/// race: the weight then decays less), but none is ever applied twice.
#[test]
fn hogwild_threads_apply_a_prior_once_per_row() {
    type M = network![Sparse<{ 1 << 16 }> => Linear<1, bias = false>];
    let words: Vec<&'static str> = (0..2000)
        .map(|i| &*Box::leak(format!("w{i}").into_boxed_str()))
        .collect();
    let rows: Vec<Word> = (0..20_000)
        .map(|i| Word {
            word: words[i % words.len()],
        })
        .collect();
    let no_gradient = |_: &[f32; 1], _: &Word, _: &mut [f32; 1]| -> f32 { 0.0 };
    let want = (1.0f64 - 1e-4).powi(20_000);
    for threads in [1, 2, 4] {
        let mut net = M::new(Init::zeros());
        net.params_mut().fill(1.0);
        Trainer::new(Sgd::new(1.0))
            .prior(Prior::l2(1e-4))
            .threads(threads)
            .sharing(Sharing::Hogwild)
            .progress(Progress::Silent)
            .fit(&mut net, &rows, no_gradient)
            .unwrap();
        for &w in net.params() {
            let w = w as f64;
            if threads == 1 {
                assert!((w - want).abs() < 1e-4 * want, "{w} vs {want}");
            } else {
                assert!(
                    w > 0.99 * want,
                    "{threads} threads: {w} decayed past {want}"
                );
            }
        }
    }
}

/// A mini-batch takes one averaged step per weight, however the rows of the batch
/// recorded their gradients (a whole row for one, a single output for the other).
#[test]
fn a_mini_batch_takes_one_averaged_step() {
    type M = network![Sparse<16> => Linear<8, bias = false>];
    let rows = [Word { word: "x" }, Word { word: "y" }, Word { word: "x" }];
    let mut net = M::new(Init::zeros());
    let mut seen = 0;
    let grads = std::sync::Mutex::new(&mut seen);
    let loss = |_: &[f32; 8], r: &Word, g: &mut [f32; 8]| -> f32 {
        let mut n = grads.lock().unwrap();
        // the first "x" has a gradient on every output, the second on output 0 only
        if r.word == "x" {
            if **n == 0 {
                *g = [1.0; 8];
            } else {
                g[0] = 1.0;
            }
            **n += 1;
        }
        0.0
    };
    // A vanishing initial accumulator makes every first step exactly lr long.
    Trainer::new(AdaGrad::new(0.1).init_acc(1e-8))
        .batch(3)
        .shuffle(false)
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows, loss)
        .unwrap();
    // AdaGrad's first step (from a vanishing accumulator) has length lr whatever the
    // gradient: one step per weight.
    let touched: Vec<f32> = net.params().iter().copied().filter(|w| *w != 0.0).collect();
    assert_eq!(touched.len(), 8, "{touched:?}");
    for w in touched {
        assert!((w + 0.1).abs() < 1e-6, "{w}: more than one step");
    }
}

/// A mini-batch's steps are applied in runs of consecutive weights: a run from the
/// last row of a sparse table into the bias after it steps both.
#[test]
fn a_mini_batch_steps_the_bias_after_a_tables_last_row() {
    type M = network![Sparse<16> => Linear<2>];
    let rows: Vec<IdRow> = (0..2)
        .map(|_| IdRow {
            y: true,
            ids: vec![(15, 1.0)],
        })
        .collect();
    let mut net = M::new(Init::zeros());
    let loss = |_: &[f32; 2], _: &IdRow, g: &mut [f32; 2]| -> f32 {
        *g = [1.0, 1.0];
        0.0
    };
    Trainer::new(AdaGrad::new(0.1).init_acc(1e-8))
        .batch(2)
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows, loss)
        .unwrap();
    // Row 15's two weights, then the two biases: one step of length lr each.
    assert_eq!(net.params().len(), 34);
    for (i, w) in net.params().iter().skip(30).enumerate() {
        assert!((w + 0.1).abs() < 1e-6, "weight {}: {w}", 30 + i);
    }
}

/// A loss that panics ends `fit` with that panic, not a hang, with progress on.
#[test]
fn a_panicking_loss_does_not_hang_training() {
    type M = network![Sparse<16> => Linear<1>];
    let rows = [Word { word: "a" }, Word { word: "b" }];
    let boom = |_: &[f32; 1], r: &Word, _: &mut [f32; 1]| -> f32 {
        assert_ne!(r.word, "b", "the loss gave up");
        0.0
    };
    let result = std::panic::catch_unwind(|| {
        let mut net = M::new(Init::zeros());
        Trainer::new(Sgd::new(0.1))
            .threads(1)
            .progress(Progress::Lines)
            .fit(&mut net, &rows, boom)
    });
    assert!(result.is_err());
}

/// A NaN label stops training with the logistic loss too (it compares the label with 0.5,
/// which a NaN would silently fail), naming the pass, the row and the field.
#[test]
fn a_nan_label_stops_logistic_training() {
    type M = network![Sparse<16> => Linear<1>];
    #[derive(Features)]
    struct Row {
        #[label]
        y: f32,
        #[hash]
        word: &'static str,
    }
    let rows = [
        Row { y: 1.0, word: "a" },
        Row {
            y: f32::NAN,
            word: "b",
        },
    ];
    let mut net = M::new(Init::zeros());
    let err = Trainer::new(Sgd::new(0.1))
        .threads(1)
        .shuffle(false)
        .progress(Progress::Silent)
        .fit(&mut net, &rows, Logistic)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pass 1, row 1: the label `y` is NaN; expected 0 or 1 (or -1 or +1) for `Logistic`"
    );
}
