//! The sparse-table layout and predict-only files: bit-identical round trips, the sizes
//! they save, and an error (with no allocation sized by the file) for every table that
//! is not what the net needs, even when all its checksums are right.

use serde_json::{Map, Value};
use vectorflow::file::ModelErrorKind;
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

#[derive(Features, Clone)]
struct Row {
    #[label]
    y: bool,
    #[hash]
    a: u16,
    #[hash]
    b: u16,
}

fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let (a, b) = (rng.below(40) as u16, rng.below(40) as u16);
            Row {
                y: (a + b) % 3 == 0,
                a,
                b,
            }
        })
        .collect()
}

type Mlp = network![Sparse<{ 1 << 12 }> => Linear<8> => ReLU => Linear<1>];
type Two =
    network![user: Sparse<64>, item: Sparse<32>, ctx: Dense<2> => Linear<4> => ReLU => Linear<1>];

fn trained(opt: impl vectorflow::optim::Optimizer, init: Init) -> Mlp {
    let mut net = Mlp::new(init);
    Trainer::new(opt)
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows(300, 1), Logistic)
        .unwrap();
    net
}

fn full(net: &Mlp) -> Vec<u8> {
    let mut v = Vec::new();
    net.to_writer(&mut v).unwrap();
    v
}

fn predict_only(net: &Mlp) -> Vec<u8> {
    let mut v = Vec::new();
    net.to_writer_for_predict(&mut v).unwrap();
    v
}

fn bits<'a>(p: impl IntoIterator<Item = &'a f32>) -> Vec<u32> {
    p.into_iter().map(|x| x.to_bits()).collect()
}

#[test]
fn sparse_files_round_trip_bit_for_bit_under_every_initialisation() {
    let inits = [
        Init::default().seed(4),
        Init::he().seed(1),
        Init::uniform(0.3).seed(2),
        Init::zeros(),
        // Normal draws are not regenerated: their tables are stored dense.
        Init::normal(0.1).seed(3),
    ];
    for init in inits {
        let net = trained(RowAdaGrad::new(0.1), init);
        let bytes = full(&net);
        let sparse = String::from_utf8_lossy(&bytes).contains(r#""table.0":"0,4096,8""#);
        assert_eq!(sparse, init.scheme != Init::normal(0.1).scheme, "{init:?}");
        let back = Mlp::from_reader(&bytes[..]).unwrap();
        assert_eq!(bits(back.params()), bits(net.params()), "{init:?}");
        assert_eq!(back.train_state(), net.train_state());
        assert_eq!(back.state_planes(), net.state_planes());
        // A loaded net keeps its initialisation, so it saves the same bytes again.
        assert_eq!(full(&back), bytes, "{init:?}");
        let weights = Mlp::weights_from_reader(&predict_only(&net)[..]).unwrap();
        assert_eq!(bits(weights.params()), bits(net.params()));
        assert!(weights.train_state().is_none());
    }
}

#[test]
fn every_table_of_a_net_with_several_is_stored_and_read_back() {
    let mut net = Two::new(Init::default().seed(9));
    // Change rows 3 and 60 of the 64-row table, row 7 of the 32-row one, a dense weight
    // and a bias; -0.0 over a +0.0 bias is a change too.
    let p = net.params_mut();
    p[3 * 4] += 1.0;
    p[60 * 4 + 3] = -2.5;
    p[64 * 4 + 7 * 4 + 1] = 0.125;
    p[96 * 4] += 0.5;
    p[98 * 4 + 2] = -0.0;
    let mut bytes = Vec::new();
    net.to_writer(&mut bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    assert!(text.contains(r#""table.0":"0,64,4""#), "{text:.600}");
    assert!(text.contains(r#""table.1":"256,32,4""#), "{text:.600}");
    let back = Two::from_reader(&bytes[..]).unwrap();
    assert_eq!(bits(back.params()), bits(net.params()));
    let (header, _) = parse(&bytes);
    let shape = |name: &str| header[name]["shape"].clone();
    assert_eq!(shape("table.0.ids"), serde_json::json!([2]));
    assert_eq!(shape("table.1.rows"), serde_json::json!([1, 4]));
    // The dense root's 2 × 4 weights and the 4 biases, then the hidden layer's 4 + 1.
    assert_eq!(shape("params"), serde_json::json!([8 + 4 + 5]));
}

#[test]
fn a_predict_only_file_predicts_the_same_and_refuses_to_resume() {
    let net = trained(Adam::new(0.01), Init::default().seed(6));
    let path = std::env::temp_dir().join(format!("vf-layout-{}.vf", std::process::id()));
    net.save_for_predict(&path).unwrap();
    let back = Mlp::load_weights(&path).unwrap();
    assert_eq!(bits(back.params()), bits(net.params()));
    for row in rows(50, 9) {
        let (a, b) = (net.predict(&row).unwrap(), back.predict(&row).unwrap());
        assert_eq!(a[0].to_bits(), b[0].to_bits());
    }
    let err = Mlp::load(&path).err().unwrap();
    assert!(matches!(err.kind, ModelErrorKind::PredictOnly), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "model file {}: it was saved for prediction only (Net::save_for_predict), without \
             the optimizer state training resumes from: load it with Net::load_weights, and \
             training it then starts a fresh optimizer state",
            path.display()
        )
    );
    assert!(Mlp::from_reader(&predict_only(&net)[..]).is_err());
    // No optimizer planes: a third of the full file's Adam state and weights.
    let (small, big) = (std::fs::metadata(&path).unwrap().len(), full(&net).len());
    assert!(small * 3 < big as u64, "{small} vs {big}");
    std::fs::remove_file(&path).unwrap();
    // Training the loaded weights starts a fresh optimizer, as from a cleared state.
    let mut cleared = net.clone();
    cleared.clear_train_state();
    let mut loaded = back;
    for n in [&mut cleared, &mut loaded] {
        Trainer::new(Adam::new(0.01))
            .threads(1)
            .progress(Progress::Silent)
            .fit(n, &rows(100, 2), Logistic)
            .unwrap();
    }
    assert_eq!(bits(cleared.params()), bits(loaded.params()));
}

#[test]
fn a_two_row_fit_of_a_wide_net_saves_a_few_kilobytes() {
    // 2^16 rows keep the debug build quick; `examples/serving` measures 2^20.
    type Wide = network![Sparse<{ 1 << 16 }> => Linear<16> => ReLU => Linear<1>];
    let mut net = Wide::new(Init::default());
    Trainer::new(RowAdaGrad::new(0.1))
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows(2, 3), Logistic)
        .unwrap();
    let (mut full, mut weights) = (Vec::new(), Vec::new());
    net.to_writer(&mut full).unwrap();
    net.to_writer_for_predict(&mut weights).unwrap();
    let dense = 2 * 4 * Wide::PARAMS;
    assert!(full.len() < 16 << 10, "{} of {dense}", full.len());
    assert!(weights.len() < full.len());
    let back = Wide::from_reader(&full[..]).unwrap();
    assert_eq!(bits(back.params()), bits(net.params()));
    assert_eq!(back.train_state(), net.train_state());
    assert_eq!(back.state_planes(), net.state_planes());
    let back = Wide::weights_from_reader(&weights[..]).unwrap();
    assert_eq!(bits(back.params()), bits(net.params()));
}

/// A file's header as JSON, and its data.
fn parse(bytes: &[u8]) -> (Map<String, Value>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let Value::Object(h) = serde_json::from_slice(&bytes[8..8 + n]).unwrap() else {
        panic!("not an object")
    };
    (h, bytes[8 + n..].to_vec())
}

/// Rewrites a file: `edit` changes the metadata and the tensors (name, entry, bytes, in
/// data order); offsets, every CRC and the header checksum are then recomputed, so only
/// the loader's structural checks stand between the result and a net.
fn rewrite(bytes: &[u8], edit: impl FnOnce(&mut Map<String, Value>, &mut Vec<Tensor>)) -> Vec<u8> {
    let (mut h, data) = parse(bytes);
    let Some(Value::Object(mut meta)) = h.remove("__metadata__") else {
        panic!("no metadata")
    };
    let mut tensors: Vec<Tensor> = h
        .into_iter()
        .map(|(name, entry)| {
            let off = &entry["data_offsets"];
            let (a, b) = (off[0].as_u64().unwrap(), off[1].as_u64().unwrap());
            (name, entry, data[a as usize..b as usize].to_vec())
        })
        .collect();
    tensors.sort_by_key(|t| t.1["data_offsets"][0].as_u64());
    edit(&mut meta, &mut tensors);
    let mut root = Map::new();
    let mut off = 0u64;
    let mut out_data = Vec::new();
    for (name, mut entry, b) in tensors {
        let end = off + b.len() as u64;
        entry["data_offsets"] = serde_json::json!([off, end]);
        off = end;
        meta.insert(format!("crc32.{name}"), format!("{:08x}", crc32(&b)).into());
        out_data.extend_from_slice(&b);
        root.insert(name, entry);
    }
    meta.insert("checksum".into(), "00000000".into());
    root.insert("__metadata__".into(), Value::Object(meta));
    let mut text = Value::Object(root).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    let crc = format!("{:08x}", crc32(&out));
    let at = text.find(r#""checksum":""#).unwrap() + 12;
    out[8 + at..16 + at].copy_from_slice(crc.as_bytes());
    out.extend_from_slice(&out_data);
    out
}

type Tensor = (String, Value, Vec<u8>);

/// CRC-32 (IEEE), written out here so the test does not trust the library's.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn tensor<'t>(ts: &'t mut [Tensor], name: &str) -> &'t mut Tensor {
    ts.iter_mut().find(|t| t.0 == name).unwrap()
}

fn ids(t: &Tensor) -> Vec<u32> {
    t.2.chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn set_ids(t: &mut Tensor, ids: &[u32]) {
    t.2 = ids.iter().flat_map(|i| i.to_le_bytes()).collect();
}

fn corrupt_message(bytes: &[u8]) -> String {
    let e = Mlp::from_reader(bytes).err().expect("an error");
    assert!(matches!(e.kind, ModelErrorKind::Corrupt(_)), "{e}");
    e.to_string()
}

#[test]
fn tables_that_are_not_what_the_net_needs_are_errors_despite_right_checksums() {
    let net = trained(AdaGrad::new(0.1), Init::default().seed(2));
    let bytes = full(&net);
    // The rewrite itself keeps a loadable file.
    let same = rewrite(&bytes, |_, _| {});
    assert_eq!(
        bits(Mlp::from_reader(&same[..]).unwrap().params()),
        bits(net.params())
    );
    let with_ids = |f: &dyn Fn(&mut Vec<u32>)| {
        rewrite(&bytes, |_, ts| {
            let t = tensor(ts, "table.0.ids");
            let mut v = ids(t);
            f(&mut v);
            set_ids(t, &v);
        })
    };
    let msg = corrupt_message(&with_ids(&|v| v[0] = 4096));
    assert!(
        msg.contains("lists row 4096 at position 0, but the table has 4096 rows"),
        "{msg}"
    );
    let msg = corrupt_message(&with_ids(&|v| v[1] = v[0]));
    assert!(msg.contains("ids must be strictly increasing"), "{msg}");
    let msg = corrupt_message(&with_ids(&|v| v.swap(0, 1)));
    assert!(
        msg.contains(&"at position 1 after row".to_string()),
        "{msg}"
    );
    // A row moved to a free id: every tensor is sound, but the weights are not the net's.
    let msg = corrupt_message(&with_ids(&|v| {
        let free = (0..4096).find(|i| !v.contains(i) && *i > v[0] && *i < v[1]);
        v[0] = free.unwrap_or(v[0] + 1);
    }));
    assert!(msg.contains("rebuilt over the initial draws"), "{msg}");
    // Another seed regenerates other untouched rows.
    let reseeded = rewrite(&bytes, |m, _| {
        let init = m["init"].as_str().unwrap().replace("seed:2", "seed:3");
        m.insert("init".into(), init.into());
    });
    let msg = corrupt_message(&reseeded);
    assert!(
        msg.contains("rebuilt over the initial draws (xavier seed:3"),
        "{msg}"
    );
}

#[test]
fn a_table_listing_more_rows_than_it_has_is_refused_before_any_allocation() {
    let net = trained(Sgd::new(0.1), Init::default().seed(2));
    let bytes = predict_only(&net);
    // 4097 ids over a 4096-row table, every row given.
    let more = rewrite(&bytes, |_, ts| {
        set_ids(tensor(ts, "table.0.ids"), &(0..4097).collect::<Vec<u32>>());
        let rows = tensor(ts, "table.0.rows");
        rows.1["shape"] = serde_json::json!([4097, 8]);
        rows.2 = vec![0; 4 * 4097 * 8];
        tensor(ts, "table.0.ids").1["shape"] = serde_json::json!([4097]);
    });
    let msg = Mlp::weights_from_reader(&more[..])
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("table 0 lists 4097 rows, but it has 4096"),
        "{msg}"
    );
    // A header claiming 2^40 ids (and no data for them) is refused from the header alone.
    let huge = rewrite(&bytes, |_, ts| {
        tensor(ts, "table.0.ids").1["shape"] = serde_json::json!([1u64 << 40]);
    });
    let e = Mlp::weights_from_reader(&huge[..]).err().unwrap();
    assert!(matches!(e.kind, ModelErrorKind::Corrupt(_)), "{e}");
    // Shapes, table places and metadata the net does not have.
    let wide_rows = rewrite(&bytes, |_, ts| {
        let rows = tensor(ts, "table.0.rows");
        let k = rows.1["shape"][0].as_u64().unwrap();
        rows.1["shape"] = serde_json::json!([k * 2, 4]);
    });
    let msg = Mlp::weights_from_reader(&wide_rows[..])
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("tensor table.0.rows has shape"), "{msg}");
    let moved = rewrite(&bytes, |m, _| {
        m.insert("table.0".into(), "8,4095,8".into());
    });
    let msg = Mlp::weights_from_reader(&moved[..])
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("not a sparse table of this net"), "{msg}");
    let renamed = rewrite(&bytes, |m, _| {
        let v = m.remove("table.0").unwrap();
        m.insert("table.00".into(), v);
    });
    let msg = Mlp::weights_from_reader(&renamed[..])
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains(r#"an entry "table.00""#), "{msg}");
    let resumable = rewrite(&bytes, |m, _| {
        m.insert("optimizer".into(), "Sgd".into());
        m.insert("passes".into(), "1".into());
        m.insert("rows".into(), "1".into());
    });
    let msg = Mlp::weights_from_reader(&resumable[..])
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("saved for prediction but names an optimizer"),
        "{msg}"
    );
}

/// Bit flips, truncations and random damage on the sparse layout, weights-only and
/// full: every case is an error.
#[test]
fn damage_to_sparse_and_predict_only_files_is_always_an_error() {
    type Small = network![Sparse<256> => Linear<4> => ReLU => Linear<1>];
    let mut net = Small::new(Init::default().seed(8));
    Trainer::new(Adam::new(0.01))
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows(60, 1), Logistic)
        .unwrap();
    let (mut full, mut predict_only) = (Vec::new(), Vec::new());
    net.to_writer(&mut full).unwrap();
    net.to_writer_for_predict(&mut predict_only).unwrap();
    assert!(String::from_utf8_lossy(&full).contains(r#""table.0":"0,256,4""#));
    // The full file read whole, the predict-only one read for its weights.
    let files = [(full, true), (predict_only, false)];
    let load = |b: &[u8], state: bool| {
        if state {
            Small::from_reader(b).map(drop)
        } else {
            Small::weights_from_reader(b).map(drop)
        }
    };
    for (file, state) in &files {
        for len in (0..file.len()).step_by(7) {
            assert!(load(&file[..len], *state).is_err(), "{len}");
        }
        let header = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize + 8;
        let at = (0..header)
            .step_by(3)
            .chain((header..file.len()).step_by(5));
        for i in at {
            let mut b = file.clone();
            b[i] ^= 1 << (i % 8);
            assert!(load(&b, *state).is_err(), "byte {i}");
        }
    }
    let mut rng = Rng::new(5);
    for _ in 0..2000 {
        let (file, state) = &files[rng.below(2)];
        let mut b = file.clone();
        let i = rng.below(b.len());
        match rng.below(3) {
            0 => b[i] = rng.below(256) as u8,
            1 => b.insert(i, rng.below(256) as u8),
            _ => {
                b.remove(i);
            }
        }
        if b != *file {
            assert!(load(&b, *state).is_err());
        }
    }
}

/// FTRL starts each weight's state from the weight itself, so over random draws no row
/// of its table matches a fill row: the file stays dense, format version 1, as every
/// file before sparse tables was, and round trips exactly.
#[test]
fn a_table_whose_every_row_differs_is_stored_dense_as_version_1() {
    let net = trained(
        vectorflow::optim::Ftrl::new(0.1),
        Init::uniform(0.1).seed(3),
    );
    let bytes = full(&net);
    let (header, data) = parse(&bytes);
    let meta = &header["__metadata__"];
    assert_eq!(meta["format_version"], "1");
    assert_eq!(meta["optimizer"], "Ftrl");
    assert!(
        header.keys().all(|k| !k.starts_with("table.")),
        "{header:?}"
    );
    assert_eq!(data.len(), 4 * 3 * Mlp::PARAMS);
    let back = Mlp::from_reader(&bytes[..]).unwrap();
    assert_eq!(bits(back.params()), bits(net.params()));
    assert_eq!(back.train_state(), net.train_state());
    assert_eq!(back.state_planes(), net.state_planes());
    // Saved for prediction, the same weights list only the rows training changed.
    let weights = predict_only(&net);
    assert!(String::from_utf8_lossy(&weights).contains(r#""table.0":"0,4096,8""#));
    let back = Mlp::weights_from_reader(&weights[..]).unwrap();
    assert_eq!(bits(back.params()), bits(net.params()));
}

/// A model file written before the net kept its sparse tables in the training layout
/// (the pinned fit's, with its AdaGrad state) is written again byte for byte: the
/// format did not change, so what this code writes loads in the code before it.
#[test]
fn a_file_written_before_the_layout_change_is_written_again_byte_for_byte() {
    type Pinned = network![Sparse<{ 1 << 12 }> => Linear<16> => ReLU => Linear<1>];
    let before = std::fs::read("tests/data/pinned_mlp16.vfm").unwrap();
    let net = Pinned::from_reader(&before[..]).unwrap();
    let mut again = Vec::new();
    net.to_writer(&mut again).unwrap();
    assert!(again == before, "the bytes differ");
}

/// A run-time net's read recipe ([`Recipe`]) is saved and read back, names its inputs'
/// groups on load, and is refused by name when newer, unknown or not readable, even
/// with every checksum right; a file without one loads with none.
#[test]
fn a_read_recipe_round_trips_and_a_newer_unknown_or_wrong_one_is_refused() {
    use vectorflow::dynnet::{DataFormat, Recipe};
    use vectorflow::dynnet::{DynLoss, DynNet};
    use vectorflow::io::columns::ColumnSpec;
    let spec = "user:sparse:2^10 > 4 > relu > 1";
    let mut net = DynNet::new(spec, Init::uniform(0.1).seed(1)).unwrap();
    let mut plain = Vec::new();
    net.to_writer(&mut plain).unwrap();
    assert_eq!(DynNet::from_reader(&plain[..]).unwrap().recipe(), None);
    let columns = ColumnSpec::builder()
        .label("y")
        .hash("a(root=user)".parse().unwrap())
        .build()
        .unwrap();
    let recipe = Recipe::new(DataFormat::Csv, spec, DynLoss::Logistic).with_columns(columns);
    net.set_recipe(Some(recipe.clone()));
    let mut file = Vec::new();
    net.to_writer(&mut file).unwrap();
    let back = DynNet::from_reader(&file[..]).unwrap();
    assert_eq!(back.recipe(), Some(&recipe));
    assert_eq!(back.spec().roots[0].name, "user");
    // A typed net of the topology reads the file too.
    type Typed = network![Sparse<1024> => Linear<4> => ReLU => Linear<1>];
    assert!(Typed::from_reader(&file[..]).is_ok());
    let refused = |edit: &dyn Fn(&mut Map<String, Value>)| -> String {
        let bytes = rewrite(&file, |m, _| edit(m));
        let e = DynNet::from_reader(&bytes[..]).expect_err("a bad recipe");
        assert!(matches!(e.kind, ModelErrorKind::Recipe(_)), "{e}");
        e.to_string()
    };
    let set = |k: &'static str, v: &'static str| {
        move |m: &mut Map<String, Value>| {
            m.insert(k.into(), v.into());
        }
    };
    type Edit<'e> = &'e dyn Fn(&mut Map<String, Value>);
    let cases: [(Edit, &str); 6] = [
        (
            &set("recipe.version", "2"),
            "version 2, but this build reads versions up to 1",
        ),
        (&set("recipe.bits", "20"), "unknown field recipe.bits"),
        (
            &set("recipe.loss", "multinomial:3"),
            "recipe.loss: at \"multinomial:3\": multinomial:3 needs 3 outputs",
        ),
        (
            &set("recipe.net", "sparse:2^11 > 1"),
            "but the file holds Sparse(1024)",
        ),
        (
            &|m| {
                m.remove("recipe.columns");
            },
            "csv rows need recipe.columns",
        ),
        (
            &|m| {
                m.remove("recipe.version");
            },
            "it has no recipe.version",
        ),
    ];
    for (edit, want) in cases {
        let msg = refused(edit);
        assert!(msg.contains("its read recipe cannot be used"), "{msg}");
        assert!(msg.contains(want), "{msg}\nwants {want}");
    }
}
