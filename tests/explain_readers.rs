//! Audits and readable models of rows from the sparse readers: LIBSVM features named by
//! their ids as written, Vowpal Wabbit features as VW's audit names them, and a dump that
//! lists exactly the features seen with the weights the net holds.

use vectorflow::explain::{readable_model, FeatureNames, ReadableModel};
use vectorflow::features::{Named, Slot};
use vectorflow::hash::{murmur3_32, namespace_seed};
use vectorflow::io::{LibSvm, OutOfRange, SparseFormat, SparseRows, Vw};
use vectorflow::prelude::*;

fn names(row: &impl Named) -> Vec<(String, Slot, f32)> {
    let mut v = Vec::new();
    row.visit_named(|f| v.push((f.name.to_string(), f.slot, f.value)))
        .unwrap();
    v
}

#[test]
fn libsvm_rows_are_named_by_their_ids_as_written() {
    let one = LibSvm::new()
        .parse_bytes(b"1 7:1.5 2:1\n0 qid:3 1:2 # c\n", "<t>")
        .unwrap();
    assert_eq!(
        names(&one.row(0)),
        [
            ("7".into(), Slot::SparseId(6), 1.5),
            ("2".into(), Slot::SparseId(1), 1.0)
        ]
    );
    assert_eq!(names(&one.row(1)), [("1".into(), Slot::SparseId(0), 2.0)]);
    let zero = LibSvm::new()
        .zero_based(true)
        .parse_bytes(b"1 7:1.5 0:2\n", "<t>")
        .unwrap();
    assert_eq!(
        names(&zero.row(0)),
        [
            ("7".into(), Slot::SparseId(7), 1.5),
            ("0".into(), Slot::SparseId(0), 2.0)
        ]
    );
    // The largest id a 1-based file can hold is named as written, past u32::MAX.
    let big = LibSvm::new()
        .parse_bytes(b"1 4294967296:1\n", "<t>")
        .unwrap();
    assert_eq!(names(&big.row(0))[0].0, "4294967296");
}

#[test]
fn libsvm_audits_and_rankings_name_the_file_ids() {
    let rows = LibSvm::new()
        .parse_bytes(b"1 7:1.5 2:1\n0 2:1 5:0.5\n1 7:1\n", "<t>")
        .unwrap();
    type Lr = network![Sparse<16> => Linear<1>];
    let mut net = Lr::new(Init::zeros());
    Trainer::new(Sgd::new(0.5))
        .passes(10)
        .fit(&mut net, &rows.to_rows(), Logistic)
        .unwrap();
    let a = audit(&net, &rows.row(0)).unwrap();
    let mut got: Vec<_> = a
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.slot))
        .collect();
    got.sort();
    assert_eq!(got, [("2", Slot::SparseId(1)), ("7", Slot::SparseId(6))]);
    let seven = a.entries.iter().find(|e| e.name == "7").unwrap();
    assert_eq!(seven.weights, [net.params()[6]]);
    assert_eq!(seven.contribution, [1.5 * net.params()[6]]);
    let total: f32 = a.entries.iter().map(|e| e.contribution[0]).sum();
    assert!((a.intercept[0] + total - a.output[0]).abs() < 1e-5);
    assert!(a.to_string().lines().any(|l| l.ends_with("  7")), "{a}");

    let top = top_features(&net, &rows.to_rows(), 3, Rank::Weights).unwrap();
    let mut top: Vec<_> = top.features.iter().map(|r| r.name.as_str()).collect();
    top.sort();
    assert_eq!(top, ["2", "5", "7"]);
}

const VW_TEXT: &str = "\
1 2 'a|carrier UA |origin:2 EWR dist:0.5 | plain 12 |s color:red :3
0 |carrier AA |origin JFK dist:2 | plain
1 |carrier UA |s color:blue | #hot
";

#[test]
fn vw_rows_are_named_as_vw_audits_them() {
    let rows = Vw::new()
        .names(true)
        .parse_bytes(VW_TEXT.as_bytes(), "<t>")
        .unwrap();
    let carrier = namespace_seed("carrier");
    let origin = namespace_seed("origin");
    let s = namespace_seed("s");
    let got = names(&rows.row(0));
    let want = [
        ("carrier^UA", murmur3_32(b"UA", carrier), 1.0),
        ("origin^EWR", murmur3_32(b"EWR", origin), 2.0),
        ("origin^dist", murmur3_32(b"dist", origin), 1.0),
        ("plain", murmur3_32(b"plain", 0), 1.0),
        // An all-digit name hashes to its number, and keeps its text.
        ("12", 12, 1.0),
        (
            "s^color^red",
            murmur3_32(b"red", murmur3_32(b"color", s)),
            1.0,
        ),
        // An anonymous feature: VW names it by its namespace alone.
        ("s^", s, 3.0),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|&(n, id, v)| (n.to_string(), Slot::SparseId(id), v))
        .collect();
    assert_eq!(got, want);
    assert_eq!(names(&rows.row(2))[2].0, "#hot");

    // Without names a feature is named by its hash; the ids are the same.
    let plain = Vw::new().parse_bytes(VW_TEXT.as_bytes(), "<t>").unwrap();
    let got = names(&plain.row(0));
    assert_eq!(got[0].0, murmur3_32(b"UA", carrier).to_string());
    assert_eq!(plain.row(0).ids(), rows.row(0).ids());
    assert_ne!(plain.row(0), rows.row(0), "rows differ by their names");
}

#[test]
fn vw_names_stay_with_their_rows_across_chunks_and_threads() {
    let mut text = String::new();
    for i in 0..400 {
        text.push_str(&format!("{} |a x{} y{} |b z{}\n", i % 2, i, i % 7, i % 3));
        if i % 9 == 0 {
            text.push_str("\n0 | only\n");
        }
    }
    let whole = Vw::new()
        .names(true)
        .parse_bytes(text.as_bytes(), "<t>")
        .unwrap();
    let chunked = Vw::new()
        .names(true)
        .reader(text.as_bytes(), "<t>")
        .chunk_bytes(300)
        .threads(3)
        .parallel_min(0)
        .read_all()
        .unwrap();
    assert_eq!(whole, chunked);
    for (i, row) in chunked.iter().enumerate() {
        let n = names(&row);
        if row.ids().len() == 1 {
            assert_eq!(n[0].0, "only");
        } else {
            let k = whole.lines()[i];
            assert!(n[0].0.starts_with("a^x"), "row {i} line {k}: {n:?}");
            assert_eq!(n[2].0.chars().next(), Some('b'));
        }
    }
    let mut streamed = SparseRows::new();
    let mut reader = Vw::new()
        .names(true)
        .reader(text.as_bytes(), "<t>")
        .chunk_bytes(500);
    let mut all = SparseRows::new();
    while reader.read_into(&mut streamed).unwrap() {
        all.append(&streamed, 0);
    }
    assert_eq!(all, whole);
}

#[test]
fn appending_rows_of_other_readers_keeps_each_name() {
    let svm = LibSvm::new().parse_bytes(b"1 7:1\n", "<t>").unwrap();
    let vw = Vw::new()
        .names(true)
        .parse_bytes(b"1 |a x\n", "<t>")
        .unwrap();
    let hashed = Vw::new().parse_bytes(b"1 |a y\n", "<t>").unwrap();
    let mut all = SparseRows::new();
    all.append(&svm, 0);
    all.append(&hashed, 1);
    all.append(&vw, 2);
    all.push(0.0, 1.0, [SparseF { id: 4, value: 1.0 }], 4, "");
    let got: Vec<String> = all.iter().map(|r| names(&r)[0].0.clone()).collect();
    let y = murmur3_32(b"y", namespace_seed("a")).to_string();
    // The pushed row counts ids from 0, as the rows before it were appended last.
    assert_eq!(got, ["7", y.as_str(), "a^x", "4"]);
}

/// A readable model's feature lines: name, slot and weights, unescaped.
fn read_back(text: &str) -> Vec<(String, String, Vec<f32>)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.rsplitn(3, ':');
            let weights = parts.next().unwrap();
            let slot = parts.next().unwrap().to_string();
            let name = unescape(parts.next().unwrap());
            let weights = weights.split(' ').map(|w| w.parse().unwrap()).collect();
            (name, slot, weights)
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(c) => out.push(c),
                None => panic!("a lone backslash in {s:?}"),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

type Mlp = network![Sparse<{ 1 << 10 }> => Linear<16> => ReLU => Linear<1>];

fn trained_mlp(rows: &SparseRows) -> Mlp {
    let mut net = Mlp::new(Init::uniform(0.1).seed(3));
    Trainer::new(AdaGrad::new(0.1))
        .passes(3)
        .fit(&mut net, &rows.to_rows(), Logistic)
        .unwrap();
    net
}

#[test]
fn a_readable_model_lists_the_features_seen_with_the_weights_the_net_holds() {
    let rows = Vw::new()
        .names(true)
        .parse_bytes(VW_TEXT.as_bytes(), "<t>")
        .unwrap();
    let net = trained_mlp(&rows);
    let mut seen = FeatureNames::new();
    seen.extend(&rows.to_rows()).unwrap();
    let model = readable_model(&net, &seen);
    let path = std::env::temp_dir().join(format!("vf_readable_{}.txt", std::process::id()));
    model.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text, model.to_string());

    // Exactly the distinct names of the rows, each once.
    let mut want: Vec<String> = rows
        .iter()
        .flat_map(|r| names(&r).into_iter().map(|(n, _, _)| n))
        .collect();
    want.sort();
    want.dedup();
    let lines = read_back(&text);
    let mut got: Vec<String> = lines.iter().map(|(n, _, _)| n.clone()).collect();
    got.sort();
    assert_eq!(got, want, "{text}");
    assert!(want.contains(&"#hot".to_string()) && text.contains("\n\\#hot:"));

    // Each line's slot is the id modulo the input's dimension, and its 16 weights are
    // the net's row of that slot, read back exactly.
    let params = net.params().to_vec();
    for (name, slot, weights) in &lines {
        let id = rows
            .iter()
            .flat_map(|r| names(&r))
            .find(|(n, _, _)| n == name)
            .map(|(_, s, _)| s)
            .unwrap();
        let Slot::SparseId(id) = id else { panic!() };
        let at = id as usize % (1 << 10);
        assert_eq!(slot, &at.to_string());
        assert_eq!(weights[..], params[at * 16..at * 16 + 16], "{name}");
    }
    // Largest weights first.
    let norms: Vec<f32> = model
        .features
        .iter()
        .map(|d| d.weights.iter().map(|w| w * w).sum())
        .collect();
    assert!(norms.windows(2).all(|w| w[0] >= w[1]), "{norms:?}");

    // The header: the bias of the first layer in full, the later layers summed up.
    let bias = &params[(1 << 10) * 16..(1 << 10) * 16 + 16];
    assert_eq!(model.bias, bias);
    let head = |key: &str| {
        let l = text.lines().find(|l| l.starts_with(key)).unwrap();
        l[key.len()..].to_string()
    };
    let bias_back: Vec<f32> = head("# bias: ")
        .split(' ')
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(bias_back, bias);
    assert_eq!(head("# rows: "), "3 (names not kept: 0)");
    assert_eq!(model.layers.len(), 1);
    let (layer, out) = model.layers[0];
    let w2 = &params[(1 << 10) * 16 + 16..(1 << 10) * 16 + 32];
    assert_eq!((layer, out.count), (1, 16));
    assert_eq!(out.max, w2.iter().copied().fold(f32::MIN, f32::max));
    assert_eq!(model.later_biases.count, 1);
    assert_eq!(model.later_biases.max, params[params.len() - 1]);
}

#[test]
fn a_readable_model_names_libsvm_ids_as_written() {
    let rows = LibSvm::new()
        .out_of_range(OutOfRange::Modulo)
        .parse_bytes(b"1 7:1.5 2:1\n0 2:1 1025:0.5\n", "<t>")
        .unwrap();
    let net = trained_mlp(&rows);
    let mut seen = FeatureNames::new();
    seen.extend(&rows.to_rows()).unwrap();
    let model: ReadableModel = readable_model(&net, &seen);
    let mut got: Vec<_> = model
        .features
        .iter()
        .map(|d| (d.name.as_str(), d.slot, d.count))
        .collect();
    got.sort();
    // 1025 is stored as 1024, which folds to slot 0 (asked for): the name says what the
    // file said.
    assert_eq!(
        got,
        [
            ("1025", Slot::SparseId(0), 1),
            ("2", Slot::SparseId(1), 2),
            ("7", Slot::SparseId(6), 1)
        ]
    );
}

#[test]
fn feature_names_keep_at_most_their_limit() {
    let rows = LibSvm::new()
        .parse_bytes(b"1 1:1 2:1\n0 3:1 1:1 4:1\n", "<t>")
        .unwrap();
    let mut seen = FeatureNames::new().limit(2);
    seen.extend(&rows.to_rows()).unwrap();
    assert_eq!((seen.len(), seen.rows(), seen.unkept()), (2, 2, 2));
    let model = readable_model(&Mlp::new(Init::zeros()), &seen);
    let mut got: Vec<_> = model
        .features
        .iter()
        .map(|d| (d.name.as_str(), d.count))
        .collect();
    got.sort();
    assert_eq!(got, [("1", 2), ("2", 1)]);
    assert!(model.to_string().contains("# rows: 2 (names not kept: 2)"));
}
