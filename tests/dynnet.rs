//! Networks chosen at run time ([`DynNet`]): specs, the same weights as the typed net of
//! the same topology and seed, interchangeable model files, run-time losses, and bad
//! specs named where they fail.

use vectorflow::dynnet::{DynLoss, DynNet, DynRow, Spec};
use vectorflow::features::{group_id, DenseGroup, FeatureError, Labeled, SparseGroup};
use vectorflow::file::ModelErrorKind;
use vectorflow::io::{Labels, LibSvm, SparseFormat, SparseRow, SparseRows};
use vectorflow::layers::{InputFeed, InputLayer};
use vectorflow::network::Stack;
use vectorflow::optim::{Adam, Optimizer, RowAdaGrad};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];
type Mlp = network![Sparse<{ 1 << 12 }> => Linear<16> => ReLU => Linear<1>];
type Two = network![Sparse<{ 1 << 12 }> => Linear<16> => TanH => Linear<8> => ReLU => Linear<1>];
type Drop = network![Sparse<{ 1 << 12 }> => Linear<32> => ReLU => Dropout<0.25> => Linear<4> => Sigmoid => Linear<1>];
type Odd = network![Sparse<{ 1 << 12 }> => Linear<5> => SeLU => Linear<3>];

const LR: &str = "sparse:2^12 > 1";
const MLP: &str = "sparse:2^12 > 16 > relu > 1";
const TWO: &str = "sparse:2^12 > 16 > tanh > 8 > relu > 1";
const DROP: &str = "sparse:2^12 > 32 > relu > dropout:0.25 > 4 > sigmoid > 1";
const ODD: &str = "sparse:2^12 > 5 > selu > 3";

/// Rows of a planted logistic model over ids below 2^12 (labels `0..classes`).
fn data(n: usize, classes: u32) -> SparseRows {
    let mut rng = Rng::new(5);
    let mut rows = SparseRows::new();
    for line in 0..n {
        let ids: Vec<u32> = (0..6)
            .map(|_| (rng.below(64) * rng.below(64)) as u32)
            .collect();
        let score: u32 = ids.iter().map(|i| i % 7).sum();
        let y = (score % classes) as f32;
        let f = ids.iter().map(|&id| SparseF {
            id,
            value: 1.0 + (id % 3) as f32 * 0.5,
        });
        rows.push(y, 1.0, f, line as u64 + 1, "");
    }
    rows
}

fn bits(w: &[f32]) -> Vec<u32> {
    w.iter().map(|x| x.to_bits()).collect()
}

fn trainer<O: Optimizer>(opt: O) -> Trainer<O> {
    Trainer::new(opt)
        .passes(2)
        .threads(1)
        .seed(9)
        .progress(Progress::Silent)
}

/// Trains the typed net `fresh` makes and the DynNet of `spec` alike, on one thread, and
/// compares their weights bit for bit.
fn same_weights<I, S, O>(fresh: fn(Init) -> Net<I, S>, spec: &str, opt: O, rows: &[SparseRow<'_>])
where
    I: InputLayer + for<'a> InputFeed<SparseRow<'a>>,
    S: Stack<In = I::Out, Out = [f32; 1]>,
    O: Optimizer,
{
    let init = Init::uniform(0.1).seed(42);
    let mut typed = fresh(init);
    let mut dynamic = DynNet::new(spec, init).unwrap();
    assert_eq!(dynamic.topology(), Net::<I, S>::topology());
    assert_eq!(
        bits(&dynamic.params().to_vec()),
        bits(&typed.params().to_vec()),
        "{spec}: initial weights"
    );
    let t = trainer(opt).holdout(Holdout::EveryKth(10));
    let a = t.fit(&mut typed, rows, Logistic).unwrap();
    let b = t.fit_dyn(&mut dynamic, rows, DynLoss::Logistic).unwrap();
    assert_eq!(
        bits(&dynamic.params().to_vec()),
        bits(&typed.params().to_vec()),
        "{spec}: trained weights"
    );
    assert_eq!(a.passes.len(), b.passes.len());
    for (p, q) in a.passes.iter().zip(&b.passes) {
        assert_eq!(p.train_loss.to_bits(), q.train_loss.to_bits(), "{spec}");
        assert_eq!(
            p.holdout_loss.map(f64::to_bits),
            q.holdout_loss.map(f64::to_bits)
        );
    }
}

#[test]
fn one_thread_trains_the_typed_nets_weights_bit_for_bit() {
    let rows = data(3000, 2);
    let rows = rows.to_rows();
    same_weights(Lr::new, LR, AdaGrad::new(0.1), &rows);
    same_weights(Mlp::new, MLP, AdaGrad::new(0.1), &rows);
    same_weights(Two::new, TWO, AdaGrad::new(0.1), &rows);
    same_weights(Drop::new, DROP, AdaGrad::new(0.1), &rows);
    same_weights(Mlp::new, MLP, Sgd::new(0.05), &rows);
    same_weights(Two::new, TWO, Adam::new(0.01), &rows);
    same_weights(Mlp::new, MLP, RowAdaGrad::new(0.1), &rows);
}

#[test]
fn long_and_short_specs_are_the_typed_topologies() {
    for (spec, typed) in [
        (LR, Lr::topology()),
        (MLP, Mlp::topology()),
        (TWO, Two::topology()),
        (DROP, Drop::topology()),
        (ODD, Odd::topology()),
    ] {
        let short = Spec::parse(spec).unwrap();
        assert_eq!(short.topology(), typed, "{spec}");
        // The topology line parses back to the same spec.
        assert_eq!(Spec::parse(&typed).unwrap(), short, "{typed}");
    }
    type Mixed =
        network![Sparse<1024>, ctx: Dense<3> => Linear<4, bias = false> => TanH => Linear<7>];
    let s = Spec::parse("sparse:1<<10 + ctx:dense:3 > 4 nobias > TanH > 7").unwrap();
    assert_eq!(s.topology(), Mixed::topology());
    assert_eq!(s.roots[1].name, "ctx");
    assert_eq!(s.outputs(), 7);
    let net = DynNet::from_spec(s, Init::uniform(0.1).seed(3));
    let typed = Mixed::new(Init::uniform(0.1).seed(3));
    assert_eq!(net.param_count(), Mixed::PARAMS);
    assert_eq!(bits(&net.params().to_vec()), bits(&typed.params().to_vec()));
    assert_eq!(net.blocks(), Mixed::blocks());
}

#[test]
fn bad_specs_say_where_and_what() {
    let cases = [
        (
            "sparse:2^20 > 16 > rleu > 1",
            r#"at "16 > rleu": unknown layer rleu; did you mean relu?"#,
        ),
        (
            "Sparse(1048576) => Linear(1048576->16) => ReLU => Linear(17->1)",
            r#"at "ReLU => Linear(17->1)": Linear(17->1) takes 17 inputs, but the layer before gives 16"#,
        ),
        (
            "Sparse(1024) => Linear(1000->16)",
            r#"at "Sparse(1024) => Linear(1000->16)": Linear(1000->16) takes 1000 inputs, but the inputs have 1024"#,
        ),
        (
            "sparse:2^20 > 0 > relu > 1",
            r#"at "sparse:2^20 > 0": a width of 0; every width is at least 1"#,
        ),
        (
            "sparse:0 > 1",
            r#"at "sparse:0": a width of 0; every width is at least 1"#,
        ),
        (
            "16 > relu > 1",
            r#"at "16": a network starts with its input (sparse:DIM or dense:N), e.g. sparse:2^20 > 16 > relu > 1"#,
        ),
        (
            "sparse:2^20",
            r#"at "sparse:2^20": the inputs need a first layer after them, e.g. sparse:2^20 > 1"#,
        ),
        (
            "sparse:2^20 > relu > 1",
            r#"at "sparse:2^20 > relu": the layer after the inputs is a Linear (a width, e.g. 16), not relu"#,
        ),
        (
            "sprase:2^20 > 1",
            r#"at "sprase:2^20": unknown input sprase; did you mean sparse?; an input is sparse:DIM or dense:N"#,
        ),
        (
            "sparse:2^20 > 16 > dropout:1.5 > 1",
            r#"at "16 > dropout:1.5": a dropout rate is in [0, 1), not 1.5"#,
        ),
        (
            "sparse:2^20 + sparse:2^10 > 1",
            r#"at "sparse:2^20 + sparse:2^10": two inputs read the default group; name them apart (user:sparse:N + item:sparse:N)"#,
        ),
        (
            "sparse:2^40 > 1",
            r#"at "sparse:2^40": a sparse input has at most 2^32 slots (ids are u32), not 1099511627776"#,
        ),
        ("sparse:2^20 > 16 >> 1", r#"at "16 > ": an empty layer"#),
        (
            "",
            "an empty spec; a network starts with its input, e.g. sparse:2^20 > 16 > relu > 1",
        ),
    ];
    for (spec, want) in cases {
        let got = Spec::parse(spec).map(|s| s.topology());
        assert_eq!(got.unwrap_err().to_string(), want, "{spec}");
        assert!(DynNet::new(spec, Init::zeros()).is_err());
    }
}

/// Saves the typed net and the DynNet of `spec`, trained, and loads each file into the
/// other kind of net: the same predictions, and training resumes alike.
fn files_swap<I, S>(
    fresh: fn(Init) -> Net<I, S>,
    spec: &str,
    rows: &[SparseRow<'_>],
    dir: &std::path::Path,
) where
    I: InputLayer + for<'a> InputFeed<SparseRow<'a>>,
    S: Stack<In = I::Out, Out = [f32; 1]>,
{
    let t = trainer(AdaGrad::new(0.1));
    // Typed → dynamic.
    let mut typed = fresh(Init::uniform(0.1).seed(1));
    t.fit(&mut typed, rows, Logistic).unwrap();
    let path = dir.join("typed.vf");
    typed.save(&path).unwrap();
    let loaded = DynNet::load(&path).unwrap();
    assert_eq!(loaded.topology(), Net::<I, S>::topology());
    for r in rows.iter().take(200) {
        let (a, b) = (typed.predict(r).unwrap(), loaded.predict(r).unwrap());
        assert_eq!(
            a[0].to_bits(),
            b[0].to_bits(),
            "{spec}: typed file, dynamic net"
        );
    }
    // Dynamic → typed, with the training state: both resume alike.
    let mut dynamic = DynNet::new(spec, Init::uniform(0.1).seed(2)).unwrap();
    t.fit_dyn(&mut dynamic, rows, DynLoss::Logistic).unwrap();
    let path = dir.join("dyn.vf");
    dynamic.save(&path).unwrap();
    let mut back = Net::<I, S>::load(&path).unwrap();
    for r in rows.iter().take(200) {
        let (a, b) = (dynamic.predict(r).unwrap(), back.predict(r).unwrap());
        assert_eq!(
            a[0].to_bits(),
            b[0].to_bits(),
            "{spec}: dynamic file, typed net"
        );
    }
    let mut again = DynNet::load(&path).unwrap();
    t.fit(&mut back, rows, Logistic).unwrap();
    t.fit_dyn(&mut again, rows, DynLoss::Logistic).unwrap();
    assert_eq!(
        bits(&again.params().to_vec()),
        bits(&back.params().to_vec())
    );
    // Saved for prediction: the weights load, a resume is refused, as for a typed net.
    dynamic.save_for_predict(&path).unwrap();
    assert!(DynNet::load(&path).is_err());
    let w = DynNet::load_weights(&path).unwrap();
    assert_eq!(bits(&w.params().to_vec()), bits(&dynamic.params().to_vec()));
}

#[test]
fn model_files_load_into_the_other_kind_of_net() {
    let rows = data(2000, 2);
    let rows = rows.to_rows();
    let dir = std::env::temp_dir().join(format!("vf-dynnet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    files_swap(Lr::new, LR, &rows, &dir);
    files_swap(Mlp::new, MLP, &rows, &dir);
    files_swap(Two::new, TWO, &rows, &dir);
    // Another topology is refused by name, either way.
    let mut file = Vec::new();
    DynNet::new(MLP, Init::zeros())
        .unwrap()
        .to_writer(&mut file)
        .unwrap();
    let err = Lr::from_reader(&file[..]).err().unwrap().to_string();
    assert!(err.contains("topology"), "{err}");
    let spec = Spec::parse(LR).unwrap();
    let err = DynNet::load_as(&spec, dir.join("typed.vf"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("topology"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn widths_without_a_kernel_run_the_same_sums() {
    // Widths 5 and 3 have no const kernel in a DynNet: its loops agree with the typed
    // kernels to rounding, on the same weights, forward and trained.
    let rows = data(2000, 3);
    let rows = rows.to_rows();
    let init = Init::uniform(0.2).seed(4);
    let mut typed = Odd::new(init);
    let mut dynamic = DynNet::new(ODD, init).unwrap();
    let t = trainer(AdaGrad::new(0.05));
    t.fit(&mut typed, &rows, Multinomial::<3>).unwrap();
    let loss = DynLoss::parse("multinomial", dynamic.outputs()).unwrap();
    t.fit_dyn(&mut dynamic, &rows, loss).unwrap();
    for (a, b) in dynamic
        .params()
        .to_vec()
        .iter()
        .zip(typed.params().to_vec())
    {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    let r = &rows[7];
    let (a, b) = (typed.predict(r).unwrap(), dynamic.predict(r).unwrap());
    for (a, b) in a.iter().zip(&b) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

#[test]
fn losses_chosen_at_run_time_check_labels_and_widths() {
    let rows = data(500, 4);
    let rows = rows.to_rows();
    let mut net = DynNet::new("sparse:2^12 > 8 > relu > 3", Init::uniform(0.1).seed(1)).unwrap();
    let t = trainer(AdaGrad::new(0.1));
    // Labels 0..4 against K = 3: the first label 3 is named.
    let err = t
        .fit_dyn(&mut net, &rows, DynLoss::Multinomial(3))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected an integer class index in [0, 3)"),
        "{err}"
    );
    // A loss of another width is refused before training.
    let err = t
        .fit_dyn(&mut net, &rows, DynLoss::Logistic)
        .unwrap_err()
        .to_string();
    assert!(err.contains("the loss reads 1 outputs"), "{err}");
    assert_eq!(
        DynLoss::parse("multinomial:4", 3).unwrap_err().to_string(),
        r#"at "multinomial:4": multinomial:4 needs 4 outputs, but the net has 3"#
    );
    assert_eq!(
        DynLoss::parse("logistci", 1).unwrap_err().to_string(),
        r#"at "logistci": unknown loss logistci; did you mean logistic? (logistic, square, hinge, poisson or multinomial)"#
    );
    // Each run-time loss trains the weights its typed loss trains.
    let init = Init::uniform(0.1).seed(1);
    type K4 = network![Sparse<{ 1 << 12 }> => Linear<8> => ReLU => Linear<4>];
    let mut typed = K4::new(init);
    let mut dynamic = DynNet::new("sparse:2^12 > 8 > relu > 4", init).unwrap();
    t.fit(&mut typed, &rows, Multinomial::<4>).unwrap();
    t.fit_dyn(
        &mut dynamic,
        &rows,
        DynLoss::parse("multinomial", 4).unwrap(),
    )
    .unwrap();
    assert_eq!(
        bits(&dynamic.params().to_vec()),
        bits(&typed.params().to_vec())
    );
    let binary = data(500, 2);
    let binary = binary.to_rows();
    for name in ["square", "Poisson", "hinge"] {
        let mut a = Lr::new(init);
        let mut b = DynNet::new(LR, init).unwrap();
        match name {
            "square" => t.fit(&mut a, &rows, Square),
            "Poisson" => t.fit(&mut a, &rows, Poisson),
            _ => t.fit(&mut a, &binary, Hinge),
        }
        .unwrap();
        let loss = DynLoss::parse(name, 1).unwrap();
        let rows = if name == "hinge" { &binary } else { &rows };
        t.fit_dyn(&mut b, rows, loss).unwrap();
        assert_eq!(
            bits(&a.params().to_vec()),
            bits(&b.params().to_vec()),
            "{name}"
        );
    }
}

#[test]
fn rows_that_cannot_feed_an_input_are_refused_before_training() {
    let rows = data(100, 2);
    let rows = rows.to_rows();
    let mut net = DynNet::new("sparse:2^12 + ctx:dense:2 > 4 > 1", Init::zeros()).unwrap();
    let err = trainer(AdaGrad::new(0.1))
        .fit_dyn(&mut net, &rows, DynLoss::Logistic)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the rows have no dense features in group ctx for the input dense:2"),
        "{err}"
    );
    let err = net.predict(&rows[0]).unwrap_err().to_string();
    assert!(
        err.starts_with("the row has no features for one of the network's inputs"),
        "{err}"
    );
}

#[test]
fn streams_and_caches_train_the_typed_nets_weights() {
    let dir = std::env::temp_dir().join(format!("vf-dynnet-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rows = data(3000, 2);
    let text: String = rows
        .iter()
        .map(|r| {
            let f: Vec<String> = r
                .features()
                .map(|f| format!("{}:{}", f.id + 1, f.value))
                .collect();
            format!("{} {}\n", r.label(), f.join(" "))
        })
        .collect();
    let path = dir.join("train.svm");
    std::fs::write(&path, text).unwrap();
    let format = LibSvm::new().labels(Labels::Binary).dim(1 << 12);
    let init = Init::uniform(0.1).seed(42);
    let t = trainer(AdaGrad::new(0.1)).passes(3).chunk_rows(500);
    let mut typed = Mlp::new(init);
    let mut dynamic = DynNet::new(MLP, init).unwrap();
    let mut s = format.stream(&path).unwrap();
    t.clone()
        .cache(dir.join("typed.cache"))
        .fit_stream(&mut typed, &mut s, Logistic)
        .unwrap();
    let mut s = format.stream(&path).unwrap();
    let tc = t.clone().cache(dir.join("dyn.cache"));
    tc.fit_stream_dyn(&mut dynamic, &mut s, DynLoss::Logistic)
        .unwrap();
    assert!(dir.join("dyn.cache").exists());
    assert_eq!(
        bits(&dynamic.params().to_vec()),
        bits(&typed.params().to_vec())
    );
    // A batch predicts what each row predicts alone.
    let rows = rows.to_rows();
    let batch = dynamic.predict_batch(&rows).unwrap();
    for (r, p) in rows.iter().zip(&batch) {
        assert_eq!(dynamic.predict(r).unwrap()[0].to_bits(), p.to_bits());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Trains the typed net `fresh` makes and the DynNet of `spec` alike on `rows`, and
/// checks their weights and a prediction agree to `tol`.
fn close_weights<I, S, R>(fresh: fn(Init) -> Net<I, S>, spec: &str, rows: &[R], tol: f32)
where
    I: InputLayer + InputFeed<R>,
    S: Stack<In = I::Out, Out = [f32; 1]>,
    R: DynRow + Labeled + Sync,
{
    let init = Init::uniform(0.1).seed(8);
    let mut typed = fresh(init);
    let mut dynamic = DynNet::new(spec, init).unwrap();
    assert_eq!(dynamic.topology(), Net::<I, S>::topology());
    let t = trainer(Adam::new(0.01));
    t.fit(&mut typed, rows, Logistic).unwrap();
    t.fit_dyn(&mut dynamic, rows, DynLoss::Logistic).unwrap();
    let (a, b) = (typed.params().to_vec(), dynamic.params().to_vec());
    assert!(a != fresh(init).params().to_vec(), "{spec}: trained");
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert!((a - b).abs() <= tol, "{spec}: weight {i}: {a} vs {b}");
    }
    for r in rows.iter().take(50) {
        let (a, b) = (typed.predict(r).unwrap()[0], dynamic.predict(r).unwrap()[0]);
        assert!((a - b).abs() <= tol, "{spec}: {a} vs {b}");
    }
}

#[test]
fn widths_off_the_dispatch_list_train_the_typed_nets_weights_to_rounding() {
    // A hidden width of 24, and Linear(16->4), are not on the list of widths a DynNet
    // runs the const layers at: it runs the run-time loops, whose sums are ordered as
    // plain loops (the typed kernels' lanes and fused multiply-adds round differently),
    // so the weights agree to rounding, not bit for bit.
    type Wide = network![Sparse<{ 1 << 12 }> => Linear<24> => ReLU => Linear<1>];
    type Taper =
        network![Sparse<{ 1 << 12 }> => Linear<16> => TanH => Linear<4> => ReLU => Linear<1>];
    type Three = network![Sparse<{ 1 << 12 }> => Linear<3> => SeLU => Linear<1>];
    let rows = data(2000, 2);
    let rows = rows.to_rows();
    close_weights(Wide::new, "sparse:2^12 > 24 > relu > 1", &rows, 1e-4);
    close_weights(
        Taper::new,
        "sparse:2^12 > 16 > tanh > 4 > relu > 1",
        &rows,
        1e-4,
    );
    close_weights(Three::new, "sparse:2^12 > 3 > selu > 1", &rows, 1e-4);
}

/// A row with two sparse inputs (the default group and `user`) and a dense one (`ctx`),
/// read by name for a DynNet as the derive reads it for a typed net.
#[derive(Features)]
struct Visit {
    #[label]
    clicked: bool,
    #[hash]
    page: String,
    #[hash(root = "user")]
    user: String,
    #[dense(root = "ctx")]
    ctx: [f32; 3],
}

const DEFAULT: u64 = group_id("");
const USER: u64 = group_id("user");
const CTX: u64 = group_id("ctx");

impl DynRow for Visit {
    fn feeds(group: &str, sparse: bool) -> bool {
        matches!(
            (group, sparse),
            ("", true) | ("user", true) | ("ctx", false)
        )
    }

    fn sparse(
        &self,
        group: &str,
        dim: usize,
        out: &mut Vec<(u32, f32)>,
    ) -> Result<(), FeatureError> {
        match group {
            "" => SparseGroup::<DEFAULT>::extend_pairs(self, dim, out),
            "user" => SparseGroup::<USER>::extend_pairs(self, dim, out),
            _ => Err(FeatureError {
                field: FeatureError::NO_GROUP,
                value: f32::NAN,
            }),
        }
    }

    fn dense(&self, group: &str, out: &mut [f32]) -> Result<(), FeatureError> {
        let mut x = [0.0; 3];
        match group {
            "ctx" => DenseGroup::<CTX, 3>::dense(self, &mut x)?,
            _ => {
                return Err(FeatureError {
                    field: FeatureError::NO_GROUP,
                    value: f32::NAN,
                })
            }
        }
        out.copy_from_slice(&x);
        Ok(())
    }
}

#[test]
fn named_and_dense_inputs_train_the_typed_nets_weights() {
    let mut rng = Rng::new(3);
    let rows: Vec<Visit> = (0..2000)
        .map(|_| {
            let (p, u) = (rng.below(40), rng.below(300));
            let ctx = [rng.normal(), rng.normal(), rng.uniform()];
            let score = (p % 5) as f32 - 2.0 + ctx[0] + if u % 3 == 0 { 1.0 } else { -0.5 };
            Visit {
                clicked: rng.uniform() < 1.0 / (1.0 + (-score).exp()),
                page: format!("p{p}"),
                user: format!("u{u}"),
                ctx,
            }
        })
        .collect();
    type Named = network![Sparse<{ 1 << 12 }>, user: Sparse<{ 1 << 10 }>, ctx: Dense<3> => Linear<16> => ReLU => Linear<1>];
    type NamedLr =
        network![Sparse<{ 1 << 12 }>, user: Sparse<{ 1 << 10 }>, ctx: Dense<3> => Linear<1>];
    let spec = "sparse:2^12 + user:sparse:2^10 + ctx:dense:3 > 16 > relu > 1";
    // Dense inputs run the run-time loops at every width (see the test above).
    close_weights(Named::new, spec, &rows, 1e-4);
    close_weights(
        NamedLr::new,
        "sparse:2^12 + user:sparse:2^10 + ctx:dense:3 > 1",
        &rows,
        1e-4,
    );
    // A model file of the typed net loads into the DynNet of the same spec, names kept.
    let mut typed = Named::new(Init::uniform(0.1).seed(1));
    trainer(AdaGrad::new(0.1))
        .fit(&mut typed, &rows, Logistic)
        .unwrap();
    let mut file = Vec::new();
    typed.to_writer(&mut file).unwrap();
    let loaded = DynNet::from_reader_as(&Spec::parse(spec).unwrap(), &file[..]).unwrap();
    assert_eq!(
        bits(&loaded.params().to_vec()),
        bits(&typed.params().to_vec())
    );
    for r in rows.iter().take(100) {
        let (a, b) = (typed.predict(r).unwrap(), loaded.predict(r).unwrap());
        assert!((a[0] - b[0]).abs() <= 1e-6, "{} vs {}", a[0], b[0]);
    }
    // A file does not name the inputs: without a spec, several inputs are refused.
    let err = DynNet::from_reader(&file[..]).unwrap_err();
    assert!(
        matches!(err.kind, ModelErrorKind::UnnamedInputs(_)),
        "{err}"
    );
    assert!(
        err.to_string().contains("load it with DynNet::load_as"),
        "{err}"
    );
}
