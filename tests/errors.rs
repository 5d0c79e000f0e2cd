//! Bad input stops training with an error that names where it is: the pass, the row and
//! the field for row data, the setting and its value for settings. Nothing is trained on
//! a bad row, and a bad gradient never reaches the weights.

use vectorflow::prelude::*;
use vectorflow::train::TrainError;

#[derive(Features, Clone)]
struct Row {
    #[label]
    y: f32,
    #[weight]
    w: f32,
    #[hash]
    word: &'static str,
}

type Lr = network![Sparse<64> => Linear<1>];
type Two = network![Sparse<64> => Linear<2>];

fn rows(n: usize) -> Vec<Row> {
    const WORDS: [&str; 4] = ["a", "b", "c", "d"];
    (0..n)
        .map(|i| Row {
            y: (i % 2) as f32,
            w: 1.0,
            word: WORDS[i % 4],
        })
        .collect()
}

fn quiet<O: vectorflow::optim::Optimizer>(opt: O) -> Trainer<O> {
    Trainer::new(opt)
        .threads(1)
        .shuffle(false)
        .progress(Progress::Silent)
}

/// The error of a fit of `rows` with `loss`, as text.
fn fit_err<L: Loss<Row, [f32; 1]>>(rows: &[Row], passes: usize, loss: L) -> String {
    let mut net = Lr::new(Init::zeros());
    quiet(Sgd::new(0.1))
        .passes(passes)
        .fit(&mut net, rows, loss)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_binary_label_must_be_0_1_or_plus_minus_1() {
    let mut r = rows(50);
    r[7].y = 0.5;
    assert_eq!(
        fit_err(&r, 1, Logistic),
        "pass 1, row 7: the label `y` is 0.5; expected 0 or 1 (or -1 or +1) for `Logistic`"
    );
    r[7].y = 2.0;
    assert_eq!(
        fit_err(&r, 1, Hinge),
        "pass 1, row 7: the label `y` is 2; expected 0 or 1 (or -1 or +1) for `Hinge`"
    );
    // -1/+1 labels are fine for both.
    for (i, row) in r.iter_mut().enumerate() {
        row.y = if i % 2 == 0 { -1.0 } else { 1.0 };
    }
    let mut net = Lr::new(Init::zeros());
    quiet(Sgd::new(0.1)).fit(&mut net, &r, Logistic).unwrap();
    quiet(Sgd::new(0.1)).fit(&mut net, &r, Hinge).unwrap();
}

#[test]
fn a_poisson_label_is_a_count() {
    let mut r = rows(20);
    r[3].y = -1.0;
    assert_eq!(
        fit_err(&r, 1, Poisson),
        "pass 1, row 3: the label `y` is -1; expected a finite count at least 0 for `Poisson`"
    );
}

#[test]
fn a_multinomial_label_is_a_class_index_below_k() {
    type M = network![Sparse<64> => Linear<3>];
    let mut r = rows(30);
    for (i, row) in r.iter_mut().enumerate() {
        row.y = (i % 3) as f32;
    }
    for (bad, shown) in [(3.0, "3"), (1.5, "1.5"), (-1.0, "-1")] {
        r[11].y = bad;
        let mut net = M::new(Init::zeros());
        let err = quiet(Sgd::new(0.1))
            .fit(&mut net, &r, Multinomial::<3>)
            .unwrap_err();
        match &err {
            TrainError::InvalidLabel { pass, row, source } => {
                assert_eq!((*pass, *row, source.field, source.value), (1, 11, "y", bad));
            }
            e => panic!("expected a label error, got {e:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "pass 1, row 11: the label `y` is {shown}; expected an integer class index \
                 in [0, 3) for `Multinomial<3>`"
            )
        );
    }
}

#[test]
fn a_row_weight_must_be_finite_and_not_negative() {
    for (bad, shown) in [(-0.5, "-0.5"), (f32::NAN, "NaN"), (f32::INFINITY, "inf")] {
        let mut r = rows(40);
        r[23].w = bad;
        // Any loss, a closure included: the trainer averages the loss by weight.
        let sq = |out: &[f32; 1], row: &Row, g: &mut [f32; 1]| {
            g[0] = out[0] - row.y;
            0.5 * g[0] * g[0]
        };
        let want = format!(
            "pass 1, row 23: the weight `w` is {shown}; expected a finite number at least 0"
        );
        assert_eq!(fit_err(&r, 1, Square), want);
        assert_eq!(fit_err(&r, 1, sq), want);
    }
    // A zero weight is fine.
    let mut r = rows(40);
    r[23].w = 0.0;
    let mut net = Lr::new(Init::zeros());
    quiet(Sgd::new(0.1)).fit(&mut net, &r, Logistic).unwrap();
}

#[test]
fn a_bad_holdout_row_is_an_error_too() {
    let mut r = rows(40);
    r[9].y = 7.0; // every 10th row is held out: rows 9, 19, ...
    let mut net = Lr::new(Init::zeros());
    let err = quiet(Sgd::new(0.1))
        .holdout(Holdout::EveryKth(10))
        .fit(&mut net, &r, Logistic)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pass 1, row 9: the label `y` is 7; expected 0 or 1 (or -1 or +1) for `Logistic`"
    );
    assert!(
        net.params().iter().all(|w| *w == 0.0),
        "no row was trained on"
    );
}

/// The error of a fit with optimizer `opt` on good rows, as text; the net must be
/// untouched.
fn config_err<O: vectorflow::optim::Optimizer>(t: Trainer<O>) -> String {
    let mut net = Lr::new(Init::zeros());
    let err = t.fit(&mut net, &rows(10), Logistic).unwrap_err();
    assert!(matches!(err, TrainError::Config(_)), "{err:?}");
    assert!(net.params().iter().all(|w| *w == 0.0));
    err.to_string()
}

#[test]
fn optimizer_settings_are_checked_before_training() {
    let cases: Vec<(String, &str)> = vec![
        (
            config_err(quiet(Sgd::new(0.0))),
            "SGD's learning rate must be finite and above 0, not 0",
        ),
        (
            config_err(quiet(Sgd::new(f32::NAN))),
            "SGD's learning rate must be finite and above 0, not NaN",
        ),
        (
            config_err(quiet(Sgd::new(0.1).momentum(1.0))),
            "SGD's momentum must be in [0, 1), not 1",
        ),
        (
            config_err(quiet(AdaGrad::new(-1.0))),
            "AdaGrad's learning rate must be finite and above 0, not -1",
        ),
        (
            config_err(quiet(AdaGrad::new(0.1).init_acc(0.0))),
            "AdaGrad's initial accumulator must be finite and above 0, not 0",
        ),
        (
            config_err(quiet(Adam::new(f32::INFINITY))),
            "Adam's learning rate must be finite and above 0, not inf",
        ),
        (
            config_err(quiet(Adam::new(0.01).betas(-0.1, 0.999))),
            "Adam's beta1 must be in [0, 1), not -0.1",
        ),
        (
            config_err(quiet(Adam::new(0.01).betas(0.9, f32::NAN))),
            "Adam's beta2 must be in [0, 1), not NaN",
        ),
        (
            config_err(quiet(Ftrl::new(0.0))),
            "FTRL's alpha must be finite and above 0, not 0",
        ),
        (
            config_err(quiet(Ftrl::new(0.1).beta(-1.0))),
            "FTRL's beta must be finite and at least 0, not -1",
        ),
        (
            config_err(quiet(Ftrl::new(0.1).l1(f32::NAN))),
            "FTRL's l1 must be finite and at least 0, not NaN",
        ),
        (
            config_err(quiet(Ftrl::new(0.1).l2(-0.5))),
            "FTRL's l2 must be finite and at least 0, not -0.5",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, format!("invalid training setting: {want}"));
    }
}

#[test]
fn prior_strengths_are_checked_before_training() {
    assert_eq!(
        config_err(quiet(Sgd::new(0.1)).prior(Prior::l2(f32::NAN))),
        "invalid training setting: the l2 strength of the prior must be finite and at least 0, not NaN"
    );
    assert_eq!(
        config_err(quiet(Sgd::new(0.1)).layer_prior(1, Prior::l1(-1e-3))),
        "invalid training setting: the l1 strength of the prior of layer 1 must be finite and at least 0, not -0.001"
    );
    // A zero prior is no prior.
    let mut net = Lr::new(Init::zeros());
    quiet(Sgd::new(0.1))
        .prior(Prior::l2(0.0))
        .fit(&mut net, &rows(10), Logistic)
        .unwrap();
}

/// A closure loss that writes a NaN gradient for one row stops training before that
/// row's update: the net holds exactly the weights of a fit on the rows before it.
#[test]
fn a_non_finite_gradient_stops_training_before_the_update() {
    let r = rows(12);
    // Squared error on both outputs; row 8 gets a NaN gradient on output 1 in pass 2.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let bad = |out: &[f32; 2], row: &Row, g: &mut [f32; 2]| -> f32 {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        g[0] = out[0] - row.y;
        g[1] = if n == 12 + 8 {
            f32::NAN
        } else {
            out[1] + row.y
        };
        0.5 * (g[0] * g[0] + (out[1] + row.y).powi(2))
    };
    let mut net = Two::new(Init::zeros());
    let err = quiet(AdaGrad::new(0.1))
        .passes(2)
        .fit(&mut net, &r, bad)
        .unwrap_err();
    assert!(
        matches!(err, TrainError::NonFiniteGradient { pass: 2, row: 8, output: 1, value } if value.is_nan()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "pass 2, row 8: the loss wrote a non-finite gradient (NaN) at output 1; training \
         stopped before updating any weight with it"
    );
    assert!(net.params().iter().all(|w| w.is_finite()));

    // The same training without row 8 of pass 2: pass 1 on all rows, then rows 0..8.
    let good = |out: &[f32; 2], row: &Row, g: &mut [f32; 2]| -> f32 {
        g[0] = out[0] - row.y;
        g[1] = out[1] + row.y;
        0.5 * (g[0] * g[0] + g[1] * g[1])
    };
    let mut twice: Vec<Row> = r.clone();
    twice.extend(r[..8].iter().cloned());
    let mut want = Two::new(Init::zeros());
    quiet(AdaGrad::new(0.1))
        .fit(&mut want, &twice, good)
        .unwrap();
    assert_eq!(net.params(), want.params());
}

#[test]
fn an_infinite_gradient_from_a_closure_is_caught_too() {
    let r = rows(10);
    let inf = |_: &[f32; 1], row: &Row, g: &mut [f32; 1]| -> f32 {
        g[0] = if row.word == "c" { f32::INFINITY } else { 0.5 };
        1.0
    };
    let mut net = Lr::new(Init::zeros());
    let err = quiet(Sgd::new(0.1)).fit(&mut net, &r, inf).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pass 1, row 2: the loss wrote a non-finite gradient (inf) at output 0; training \
         stopped before updating any weight with it"
    );
    assert!(net.params().iter().all(|w| w.is_finite()));
}

/// A closure loss reads the label as it likes: no label check applies to it.
#[test]
fn a_closure_loss_accepts_any_label() {
    let mut r = rows(10);
    r[4].y = 0.25;
    let sq = |out: &[f32; 1], row: &Row, g: &mut [f32; 1]| {
        g[0] = out[0] - row.y;
        0.5 * g[0] * g[0]
    };
    let mut net = Lr::new(Init::zeros());
    quiet(Sgd::new(0.1)).fit(&mut net, &r, sq).unwrap();
}

#[test]
fn a_power_t_schedule_needs_finite_settings() {
    for (t0, power) in [(f64::INFINITY, 0.5), (10.0, f64::NAN), (0.5, 0.5)] {
        assert_eq!(
            config_err(quiet(Sgd::new(0.1)).schedule(Schedule::PowerT { t0, power })),
            "invalid training setting: power-t decay needs a finite t0 ≥ 1 and a finite power ≥ 0"
        );
    }
}

/// With several Hogwild threads the error names the same row.
#[test]
fn hogwild_threads_name_the_bad_row_too() {
    let mut r = rows(2000);
    r[1500].w = -2.0;
    let mut net = Lr::new(Init::zeros());
    let err = quiet(Sgd::new(0.1))
        .threads(2)
        .shuffle(true)
        .fit(&mut net, &r, Logistic)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pass 1, row 1500: the weight `w` is -2; expected a finite number at least 0"
    );
    assert!(net.params().iter().all(|w| w.is_finite()));
}
