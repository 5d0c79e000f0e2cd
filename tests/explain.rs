//! Audits by feature name: the named visitor gives the training visitors' slots, linear
//! contributions sum to the prediction, gradient × input matches finite differences, and
//! rankings name hash collisions.

use vectorflow::explain::{Audit, Entry};
use vectorflow::features::{group_id, DenseGroup, Named, NamedFeature, Slot, SparseF, SparseGroup};
use vectorflow::prelude::*;
use vectorflow::Category;

const DEFAULT: u64 = group_id("");
const USER: u64 = group_id("user");
const CTX: u64 = group_id("ctx");

#[derive(Category, Clone, Copy)]
enum Cabin {
    Economy,
    Business,
}

/// Every kind of feature: options, namespaces, roots, crosses and tokens.
#[derive(Features)]
#[features(
    cross(origin, dest),
    cross(carrier, gate, namespace = "cg"),
    cross(age, country)
)]
struct Every<'a> {
    #[label]
    delayed: bool,
    #[hash]
    carrier: &'a str,
    #[hash(namespace = "airport")]
    origin: &'a str,
    #[hash(namespace = "airport")]
    dest: String,
    #[hash]
    gate: Option<&'a str>,
    #[hash]
    cabin: Cabin,
    #[hash]
    hour: u8,
    #[hash]
    holiday: bool,
    #[value]
    distance: f32,
    #[value(namespace = "fare")]
    price: Option<f64>,
    #[tokens]
    words: &'a str,
    #[tokens]
    extras: Vec<Cabin>,
    #[sparse]
    ids: Vec<SparseF>,
    #[sparse]
    pairs: Option<Vec<(u32, f32)>>,
    #[hash(root = "user")]
    age: u8,
    #[hash(root = "user")]
    country: Option<&'a str>,
    #[tokens(root = "user")]
    tags: Option<Vec<&'a str>>,
    #[dense(root = "ctx")]
    emb: [f32; 3],
    #[dense(root = "ctx")]
    extra: Option<[f32; 2]>,
}

fn every(full: bool) -> Every<'static> {
    Every {
        delayed: true,
        carrier: "UA",
        origin: "EWR",
        dest: "IAH".to_string(),
        gate: full.then_some("C12"),
        cabin: Cabin::Business,
        hour: 7,
        holiday: false,
        distance: 1.4,
        price: full.then_some(250.0),
        words: "late  storm late",
        extras: vec![Cabin::Economy, Cabin::Business],
        ids: vec![
            SparseF { id: 17, value: 0.5 },
            SparseF {
                id: 3_000_000_000,
                value: -2.0,
            },
        ],
        pairs: full.then(|| vec![(5, 1.5)]),
        age: 42,
        country: full.then_some("FR"),
        tags: full.then(|| vec!["new", "vip"]),
        emb: [0.1, -0.2, 0.3],
        extra: full.then_some([4.0, 5.0]),
    }
}

fn named(row: &impl Named) -> Vec<(&'static str, String, Slot, f32)> {
    let mut out = Vec::new();
    row.visit_named(|f: NamedFeature| out.push((f.group, f.name.to_string(), f.slot, f.value)))
        .unwrap();
    out
}

fn named_sparse(row: &impl Named, group: &str) -> Vec<(u32, f32)> {
    named(row)
        .into_iter()
        .filter_map(|(g, _, slot, v)| match slot {
            Slot::SparseId(id) if g == group => Some((id, v)),
            _ => None,
        })
        .collect()
}

fn named_dense(row: &impl Named, group: &str) -> Vec<(usize, f32)> {
    named(row)
        .into_iter()
        .filter_map(|(g, _, slot, v)| match slot {
            Slot::DenseIndex(i) if g == group => Some((i, v)),
            _ => None,
        })
        .collect()
}

fn visit<const G: u64, R: SparseGroup<G>>(row: &R) -> Vec<(u32, f32)> {
    let mut out = Vec::new();
    row.visit(|id, v| out.push((id, v))).unwrap();
    out
}

#[test]
fn named_slots_are_the_training_slots() {
    for full in [true, false] {
        let row = every(full);
        let default = visit::<DEFAULT, _>(&row);
        assert_eq!(
            named_sparse(&row, ""),
            default,
            "default group, full = {full}"
        );
        let user = visit::<USER, _>(&row);
        assert_eq!(
            named_sparse(&row, "user"),
            user,
            "user group, full = {full}"
        );
        assert!(!user.is_empty());

        let mut ctx = [0.0f32; 5];
        DenseGroup::<CTX, 5>::dense(&row, &mut ctx).unwrap();
        let dense = named_dense(&row, "ctx");
        let width = if full { 5 } else { 3 };
        assert_eq!(dense.len(), width);
        for (i, v) in dense {
            assert_eq!(ctx[i], v, "ctx[{i}]");
        }
        // nothing named outside the row's groups
        assert!(named(&row)
            .iter()
            .all(|(g, ..)| ["", "user", "ctx"].contains(g)));
    }
}

#[test]
fn names_read_as_field_and_value() {
    let names: Vec<(&str, String)> = named(&every(true))
        .into_iter()
        .map(|(g, n, _, _)| (g, n))
        .collect();
    let expected = [
        ("", "carrier=UA"),
        ("", "origin=EWR"),
        ("", "dest=IAH"),
        ("", "gate=C12"),
        ("", "cabin=Business"),
        ("", "hour=7"),
        ("", "holiday=false"),
        ("", "distance"),
        ("", "price"),
        ("", "words=late"),
        ("", "words=storm"),
        ("", "words=late"),
        ("", "extras=Economy"),
        ("", "extras=Business"),
        ("", "ids[17]"),
        ("", "ids[3000000000]"),
        ("", "pairs[5]"),
        ("", "origin×dest=EWR×IAH"),
        ("", "carrier×gate=UA×C12"),
        ("user", "age=42"),
        ("user", "country=FR"),
        ("user", "tags=new"),
        ("user", "tags=vip"),
        ("user", "age×country=42×FR"),
        ("ctx", "emb[0]"),
        ("ctx", "emb[1]"),
        ("ctx", "emb[2]"),
        ("ctx", "extra[0]"),
        ("ctx", "extra[1]"),
    ];
    let expected: Vec<(&str, String)> = expected.iter().map(|(g, n)| (*g, n.to_string())).collect();
    assert_eq!(names, expected);
}

#[derive(Features)]
struct Bad {
    #[value]
    x: f32,
    #[sparse]
    pairs: Vec<(u32, f32)>,
}

#[test]
fn named_visitor_refuses_what_training_refuses() {
    let row = Bad {
        x: f32::NAN,
        pairs: vec![],
    };
    let err = row.visit_named(|_| {}).unwrap_err();
    assert!(err.field == "x" && err.value.is_nan(), "{err}");
    let row = Bad {
        x: 1.0,
        pairs: vec![(1, 1.0), (2, f32::INFINITY)],
    };
    let mut seen = 0;
    let err = row.visit_named(|_| seen += 1).unwrap_err();
    assert_eq!((err.field, err.value), ("pairs", f32::INFINITY));
    assert_eq!(seen, 2, "the finite features are visited, as in training");
}

#[derive(Features, Clone)]
#[features(cross(origin, dest))]
struct Flight<'a> {
    #[label]
    delayed: bool,
    #[hash]
    carrier: &'a str,
    #[hash]
    origin: &'a str,
    #[hash]
    dest: &'a str,
    #[value]
    distance: f32,
    #[dense(root = "ctx")]
    weather: [f32; 2],
}

const CARRIERS: [&str; 4] = ["UA", "AA", "DL", "B6"];
const AIRPORTS: [&str; 5] = ["EWR", "JFK", "LGA", "IAH", "ORD"];

fn flights(n: usize) -> Vec<Flight<'static>> {
    let mut rng = vectorflow::rng::Rng::new(3);
    (0..n)
        .map(|_| {
            let carrier = CARRIERS[rng.below(4)];
            let origin = AIRPORTS[rng.below(3)];
            let dest = AIRPORTS[3 + rng.below(2)];
            let distance = 0.5 + rng.uniform();
            let weather = [rng.uniform(), rng.uniform() - 0.5];
            let delayed = (carrier == "UA") ^ (dest == "ORD") ^ (weather[0] > 0.8);
            Flight {
                delayed,
                carrier,
                origin,
                dest,
                distance,
                weather,
            }
        })
        .collect()
}

fn entry<'a>(a: &'a Audit, name: &str) -> &'a Entry {
    a.entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entry {name} in\n{a}"))
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn linear_contributions_and_bias_sum_to_the_prediction() {
    type M = network![Sparse<{ 1 << 12 }> => Linear<1>];
    let rows = flights(300);
    let mut net = M::new(Init::zeros());
    Trainer::new(AdaGrad::new(0.2))
        .passes(3)
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows, Logistic)
        .unwrap();
    for row in &rows[..20] {
        let a = audit(&net, row).unwrap();
        assert!(a.exact);
        let [p] = net.predict(row).unwrap();
        assert_eq!(a.output, [p]);
        let sum: f32 = a.entries.iter().map(|e| e.contribution[0]).sum();
        assert!(
            close(a.intercept[0] + sum, p, 1e-5),
            "{} + {sum} vs {p}",
            a.intercept[0]
        );
        // the bias is the last parameter, and each contribution is value × weight
        assert_eq!(a.intercept, [net.params()[net.params().len() - 1]]);
        assert_ne!(a.intercept[0], 0.0);
        for e in &a.entries {
            let Slot::SparseId(slot) = e.slot else {
                panic!("{e:?}")
            };
            assert_eq!(e.weights, [net.params()[slot as usize]]);
            assert_eq!(e.contribution, [e.value * e.weights[0]]);
        }
        // the ctx root is not an input of this net: its features are left out
        let names: Vec<&str> = a.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.len(), 5, "{names:?}");
        for want in [
            format!("carrier={}", row.carrier),
            format!("origin={}", row.origin),
            format!("dest={}", row.dest),
            format!("origin×dest={}×{}", row.origin, row.dest),
            "distance".to_string(),
        ] {
            assert!(names.contains(&want.as_str()), "{want} not in {names:?}");
        }
        // largest first
        let sizes: Vec<f32> = a.entries.iter().map(|e| e.contribution[0].abs()).collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    }
}

#[test]
fn multi_output_multi_root_linear_audits_are_exact_per_output() {
    type M = network![Sparse<64>, ctx: Dense<2> => Linear<3>];
    let net = M::new(Init::uniform(0.5).seed(11));
    let mut net = net;
    // non-zero biases
    let n = net.params().len();
    for (k, b) in [0.25, -0.5, 1.0].into_iter().enumerate() {
        net.params_mut()[n - 3 + k] = b;
    }
    for row in &flights(10) {
        let a = audit(&net, row).unwrap();
        assert!(a.exact);
        let out = net.predict(row).unwrap();
        assert_eq!(a.output, out);
        assert_eq!(a.intercept, [0.25, -0.5, 1.0]);
        for (o, &want) in out.iter().enumerate() {
            let sum: f32 = a.entries.iter().map(|e| e.contribution[o]).sum();
            assert!(close(a.intercept[o] + sum, want, 1e-5), "output {o}");
        }
        let w = entry(&a, "weather[1]");
        assert_eq!(w.slot, Slot::DenseIndex(1));
        assert_eq!(w.value, row.weather[1]);
        // a dense input's weights are a column of the 3 × 2 matrix after the sparse rows
        let off = 64 * 3;
        let column: Vec<f32> = (0..3).map(|o| net.params()[off + o * 2 + 1]).collect();
        assert_eq!(w.weights, column);
        assert_eq!(w.gradient, column);
        assert_eq!(a.entries.len(), 7);
    }
}

#[test]
fn readable_models_list_each_group_and_dense_column() {
    type M = network![Sparse<64>, ctx: Dense<2> => Linear<3>];
    let net = M::new(Init::uniform(0.5).seed(11));
    let rows = flights(30);
    let mut names = vectorflow::explain::FeatureNames::new();
    names.extend(&rows).unwrap();
    let model = vectorflow::explain::readable_model(&net, &names);
    // Every distinct name, each once: the sparse input's first, then the dense one's.
    let mut want: Vec<(&str, String)> = Vec::new();
    for r in &rows {
        r.visit_named(|f| want.push((f.group, f.name.to_string())))
            .unwrap();
    }
    want.sort();
    want.dedup();
    let mut got: Vec<(&str, String)> = model
        .features
        .iter()
        .map(|d| (d.group, d.name.clone()))
        .collect();
    let groups: Vec<&str> = got.iter().map(|g| g.0).collect();
    assert!(groups.windows(2).all(|w| w[0] <= w[1]), "{groups:?}");
    got.sort();
    assert_eq!(got, want);
    // A dense value's weights are its column of the first layer.
    let d = model
        .features
        .iter()
        .find(|d| d.name == "weather[1]")
        .unwrap();
    let column: Vec<f32> = (0..3).map(|o| net.params()[64 * 3 + o * 2 + 1]).collect();
    assert_eq!((d.group, d.slot, d.count), ("ctx", Slot::DenseIndex(1), 30));
    assert_eq!(d.weights, column);
    let line = format!(
        "ctx/weather[1]:[1]:{} {} {}",
        column[0], column[1], column[2]
    );
    assert!(model.to_string().lines().any(|l| l == line), "{model}");
    // A sparse feature's weights are the row of its slot.
    let d = model
        .features
        .iter()
        .find(|d| d.name == "carrier=UA")
        .unwrap();
    let Slot::SparseId(at) = d.slot else { panic!() };
    assert!(at < 64);
    assert_eq!(
        d.weights,
        net.params().to_vec()[at as usize * 3..at as usize * 3 + 3]
    );
    assert_eq!(model.bias, net.params().to_vec()[net.params().len() - 3..]);
    assert!(model.layers.is_empty() && model.later_biases.count == 0);
}

/// A row whose every value can be nudged: pre-indexed pairs, a value and dense inputs.
#[derive(Features, Clone)]
struct Nudge {
    #[sparse]
    pairs: Vec<(u32, f32)>,
    #[value]
    x: f32,
    #[dense(root = "ctx")]
    ctx: [f32; 2],
}

impl Nudge {
    /// The row with the value named `name` moved by `h`.
    fn nudged(&self, name: &str, h: f32) -> Nudge {
        let mut r = self.clone();
        if name == "x" {
            r.x += h;
        } else if let Some(i) = name.strip_prefix("ctx[") {
            r.ctx[i.trim_end_matches(']').parse::<usize>().unwrap()] += h;
        } else {
            let id: u32 = name["pairs[".len()..name.len() - 1].parse().unwrap();
            r.pairs.iter_mut().find(|p| p.0 == id).unwrap().1 += h;
        }
        r
    }
}

#[test]
fn attributions_are_gradient_times_input() {
    type M = network![Sparse<32>, ctx: Dense<2> => Linear<6> => TanH => Linear<4> => Sigmoid => Linear<2>];
    let net = M::new(Init::uniform(1.0).seed(5));
    let row = Nudge {
        pairs: vec![(1, 0.7), (9, -1.2), (40, 0.3)],
        x: 0.8,
        ctx: [0.4, -0.9],
    };
    let a = audit(&net, &row).unwrap();
    assert!(!a.exact);
    assert_eq!(a.entries.len(), 6);
    let h = 1e-2f32;
    for e in &a.entries {
        let up = net.predict(&row.nudged(&e.name, h)).unwrap();
        let down = net.predict(&row.nudged(&e.name, -h)).unwrap();
        for o in 0..2 {
            let numeric = (up[o] - down[o]) / (2.0 * h);
            assert!(
                // a central difference in f32 is good to a few 1e-6 here
                (numeric - e.gradient[o]).abs() < 2e-5,
                "{} output {o}: finite difference {numeric}, gradient {}",
                e.name,
                e.gradient[o]
            );
            assert_eq!(e.contribution[o], e.value * e.gradient[o]);
        }
        assert_eq!(e.weights.len(), 6);
    }
    // pairs[40] reads slot 40 mod 32
    assert_eq!(entry(&a, "pairs[40]").slot, Slot::SparseId(8));
    // the unattributed rest closes the sum
    for o in 0..2 {
        let sum: f32 = a.entries.iter().map(|e| e.contribution[o]).sum();
        assert!(close(a.intercept[o] + sum, a.output[o], 1e-5));
    }
}

#[test]
fn audit_reports_the_field_of_a_bad_value() {
    type M = network![Sparse<32> => Linear<1>];
    let net = M::new(Init::zeros());
    let row = Nudge {
        pairs: vec![],
        x: f32::INFINITY,
        ctx: [0.0; 2],
    };
    let err = audit(&net, &row).unwrap_err();
    assert_eq!((err.field, err.value), ("x", f32::INFINITY));
    let err = top_features(&net, [&row], 3, Rank::Weights).unwrap_err();
    assert_eq!(err.field, "x");
}

#[test]
fn audit_displays_a_table() {
    type M = network![Sparse<{ 1 << 12 }> => Linear<1>];
    let mut net = M::new(Init::zeros());
    net.params_mut()
        .iter_mut()
        .take(4096)
        .enumerate()
        .for_each(|(i, w)| *w = (i % 7) as f32 * 0.1 - 0.3);
    let n = net.params().len();
    net.params_mut()[n - 1] = -0.5;
    let row = &flights(1)[0];
    let a = audit(&net, row).unwrap();
    let text = a.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "output {:.4} = bias -0.5000 + the contributions (value × weight) of 5 features",
            a.output[0]
        )),
        "{text}"
    );
    assert_eq!(lines.len(), 2 + 5, "{text}");
    for (line, e) in lines[2..].iter().zip(&a.entries) {
        assert!(line.ends_with(&format!("  {}", e.name)), "{line}");
        assert!(
            line.contains(&format!("{:+.4}", e.contribution[0])),
            "{line}"
        );
    }
}

/// Two hashed fields in a tiny input, so that names share slots.
#[derive(Features)]
struct Word {
    #[hash]
    w: u32,
    #[value]
    scale: f32,
}

#[test]
fn top_features_rank_and_report_collisions() {
    type M = network![Sparse<8> => Linear<2>];
    let mut net = M::new(Init::zeros());
    for (i, w) in net.params_mut().iter_mut().enumerate() {
        *w = (i as f32 * 0.37).sin();
    }
    let rows: Vec<Word> = (0..40)
        .map(|i| Word {
            w: i % 13,
            scale: 0.5 + (i % 3) as f32,
        })
        .collect();

    // every name seen, with its slot and weights
    let mut all: Vec<(String, Slot, Vec<f32>)> = Vec::new();
    for r in &rows {
        let a = audit(&net, r).unwrap();
        for e in a.entries {
            if !all.iter().any(|(n, ..)| *n == e.name) {
                all.push((e.name, e.slot, e.weights));
            }
        }
    }
    assert_eq!(all.len(), 14);

    let top = top_features(&net, &rows, 5, Rank::Weights).unwrap();
    assert_eq!(top.rows, 40);
    assert_eq!(top.features.len(), 5);
    let norm = |w: &[f32]| w.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut best: Vec<f32> = all.iter().map(|(_, _, w)| norm(w)).collect();
    best.sort_by(|a, b| b.total_cmp(a));
    for (r, want) in top.features.iter().zip(&best) {
        assert!(
            close(r.score, *want, 1e-6),
            "{} {} vs {want}",
            r.name,
            r.score
        );
        let mut others: Vec<String> = all
            .iter()
            .filter(|(n, s, _)| *s == r.slot && *n != r.name)
            .map(|(n, ..)| n.clone())
            .collect();
        others.sort();
        assert_eq!(r.collisions, others, "{}", r.name);
        let count = rows
            .iter()
            .filter(|w| format!("w={}", w.w) == r.name)
            .count();
        assert_eq!(r.count, if r.name == "scale" { 40 } else { count });
    }
    // 14 names in 8 slots: some collide
    let full = top_features(&net, &rows, 100, Rank::Weights).unwrap();
    assert_eq!(full.features.len(), 14);
    assert!(full.features.iter().any(|r| !r.collisions.is_empty()));

    // by contribution: the sum over rows of |value| × the norm of the gradient
    let top = top_features(&net, &rows, 3, Rank::Contributions).unwrap();
    for r in &top.features {
        let (_, _, w) = all.iter().find(|(n, ..)| *n == r.name).unwrap();
        let total: f32 = rows
            .iter()
            .map(|row| match r.name.as_str() {
                "scale" => row.scale,
                name if format!("w={}", row.w) == name => 1.0,
                _ => 0.0,
            })
            .map(|v| v * norm(w))
            .sum();
        assert!(
            close(r.score, total, 1e-5),
            "{}: {} vs {total}",
            r.name,
            r.score
        );
    }
    assert_eq!(top.features[0].name, "scale", "{top}");
    let scores: Vec<f32> = full.features.iter().map(|r| r.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));

    let text = full.to_string();
    for (line, r) in text.lines().skip(2).zip(&full.features) {
        assert!(line.contains(&format!("  {}", r.name)), "{line}");
        match r.collisions.first() {
            Some(c) => assert!(
                line.contains(&format!("(shares its slot with {c}")),
                "{line}"
            ),
            None => assert!(!line.contains("shares"), "{line}"),
        }
    }
    let text = top.to_string();
    assert!(
        text.starts_with("top 3 features by total |contribution| over 40 rows:\n"),
        "{text}"
    );
}

#[derive(Features)]
struct Generic<T, const N: usize> {
    #[hash]
    r#type: T,
    #[tokens]
    tags: Vec<T>,
    #[dense]
    emb: [f32; N],
}

#[test]
fn generic_rows_and_raw_names_are_named() {
    let row = Generic {
        r#type: 'x',
        tags: vec!['a', 'b'],
        emb: [1.0, 2.0],
    };
    let names: Vec<String> = named(&row).into_iter().map(|(_, n, _, _)| n).collect();
    assert_eq!(names, ["type=x", "tags=a", "tags=b", "emb[0]", "emb[1]"]);
    assert_eq!(named_sparse(&row, ""), visit::<DEFAULT, _>(&row));
}

/// Only crosses of two roots feed the default group.
#[derive(Features)]
#[features(cross_roots(route, time))]
struct Timed<'a> {
    #[label]
    delayed: bool,
    #[hash(root = "route")]
    carrier: &'a str,
    #[value(root = "route")]
    distance: f32,
    #[hash(root = "time")]
    hour: u8,
}

#[test]
fn audits_name_the_features_of_crossed_roots() {
    type M = network![Sparse<{ 1 << 12 }> => Linear<1>];
    let rows: Vec<Timed> = flights(200)
        .iter()
        .enumerate()
        .map(|(i, f)| Timed {
            delayed: f.delayed,
            carrier: f.carrier,
            distance: f.distance,
            hour: (i % 3) as u8,
        })
        .collect();
    let mut net = M::new(Init::zeros());
    Trainer::new(AdaGrad::new(0.2))
        .passes(2)
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows, Logistic)
        .unwrap();
    let row = &rows[0];
    let a = audit(&net, row).unwrap();
    let mut names: Vec<&str> = a.entries.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    let want = [
        format!("carrier×hour={}×{}", row.carrier, row.hour),
        format!("distance×hour={}", row.hour),
    ];
    assert_eq!(names, want);
    assert_eq!(entry(&a, &want[1]).value, row.distance);
    let [p] = net.predict(row).unwrap();
    let sum: f32 = a.entries.iter().map(|e| e.contribution[0]).sum();
    assert!(close(a.intercept[0] + sum, p, 1e-5), "{sum} vs {p}");
    let top = top_features(&net, &rows, 4, Rank::Weights).unwrap();
    assert!(top.features.iter().all(|f| f.name.contains('×')), "{top}");
}

/// A run-time net's readable model is the typed net's of the same topology and weights.
#[test]
fn a_run_time_net_dumps_as_the_typed_net_of_its_topology() {
    use vectorflow::dynnet::DynNet;
    use vectorflow::explain::{readable_model, readable_model_dyn, FeatureNames};
    use vectorflow::io::{LibSvm, SparseFormat};
    type Typed = network![Sparse<256> => Linear<2> => ReLU => Linear<1>];
    let rows = LibSvm::new()
        .parse_bytes(b"1 3:0.5 7:1\n0 2:1 7:2\n1 3:1 9:1\n", "t.svm")
        .unwrap();
    let mut net = Typed::new(Init::uniform(0.1).seed(1));
    Trainer::new(AdaGrad::new(0.1))
        .passes(3)
        .progress(Progress::Silent)
        .fit(&mut net, &rows.to_rows(), Logistic)
        .unwrap();
    let mut file = Vec::new();
    net.to_writer(&mut file).unwrap();
    let dynamic = DynNet::from_reader(&file[..]).unwrap();
    let mut names = FeatureNames::new();
    names.extend(&rows.to_rows()).unwrap();
    let typed = readable_model(&net, &names).to_string();
    assert_eq!(readable_model_dyn(&dynamic, &names).to_string(), typed);
    assert!(typed.contains("# layer 1 weights: 2"), "{typed}");
}

/// Two audits of one row agree: the same features, slots, values and weights, and
/// outputs, gradients and contributions equal to rounding (the typed and run-time
/// forward passes may sum in another order).
fn same_audit(a: &Audit, b: &Audit) {
    let near = |x: &[f32], y: &[f32]| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + p.abs()))
    };
    assert_eq!(a.exact, b.exact);
    assert!(near(&a.output, &b.output), "{a:?}\n{b:?}");
    assert!(near(&a.intercept, &b.intercept), "{a:?}\n{b:?}");
    assert_eq!(a.entries.len(), b.entries.len(), "{a:?}\n{b:?}");
    for (x, y) in a.entries.iter().zip(&b.entries) {
        assert_eq!(
            (&x.name, x.group, x.slot, x.value),
            (&y.name, y.group, y.slot, y.value)
        );
        assert_eq!(x.weights, y.weights);
        assert!(near(&x.gradient, &y.gradient), "{x:?}\n{y:?}");
        assert!(near(&x.contribution, &y.contribution), "{x:?}\n{y:?}");
    }
}

/// A run-time net audits a row as the typed net of the same topology and weights does.
#[test]
fn run_time_nets_audit_as_the_typed_net_of_their_weights() {
    use vectorflow::dynnet::{DynLoss, DynNet, Spec};
    use vectorflow::explain::audit_dyn;
    use vectorflow::io::{SparseFormat, Vw};
    let text: String = (0..400)
        .map(|i| {
            let y = if i % 3 == 0 { 1 } else { -1 };
            format!("{y} |a x{} |b y{}:{}\n", i % 7, i % 5, 1 + i % 3)
        })
        .collect();
    let rows = Vw::new()
        .names(true)
        .parse_bytes(text.as_bytes(), "rows")
        .unwrap();
    let rows = rows.to_rows();
    let t = Trainer::new(AdaGrad::new(0.1))
        .passes(2)
        .progress(Progress::Silent);

    type Lr = network![Sparse<{ 1 << 10 }> => Linear<1>];
    let mut lr = Lr::new(Init::zeros());
    t.fit(&mut lr, &rows, Logistic).unwrap();
    let spec = Spec::parse("sparse:2^10 > 1").unwrap();
    let dyn_lr = DynNet::from_params(spec, lr.params().to_vec()).unwrap();
    for row in &rows[..12] {
        let a = audit_dyn(&dyn_lr, row).unwrap();
        assert!(a.exact);
        same_audit(&a, &audit(&lr, row).unwrap());
        let names: Vec<&str> = a.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("a^x")), "{names:?}");
    }

    type Mlp = network![Sparse<{ 1 << 10 }> => Linear<16> => ReLU => Linear<1>];
    let mut mlp = Mlp::new(Init::uniform(0.1).seed(3));
    t.fit(&mut mlp, &rows, Logistic).unwrap();
    let spec = Spec::parse("sparse:2^10 > 16 > relu > 1").unwrap();
    let dyn_mlp = DynNet::from_params(spec, mlp.params().to_vec()).unwrap();
    for row in &rows[..12] {
        let a = audit_dyn(&dyn_mlp, row).unwrap();
        assert!(!a.exact);
        same_audit(&a, &audit(&mlp, row).unwrap());
        assert_eq!(a.output, dyn_mlp.predict(row).unwrap());
    }
    // The same training through the run-time net's own front door gives the same audit.
    let mut trained =
        DynNet::new("sparse:2^10 > 16 > relu > 1", Init::uniform(0.1).seed(3)).unwrap();
    t.fit_dyn(&mut trained, &rows, DynLoss::Logistic).unwrap();
    same_audit(
        &audit_dyn(&trained, &rows[0]).unwrap(),
        &audit(&mlp, &rows[0]).unwrap(),
    );
}
