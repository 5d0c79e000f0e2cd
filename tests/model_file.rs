//! Model files and training state: exact round trips, bit-identical resume, and an error
//! (never a panic or garbage) for every kind of wrong or damaged file.

use std::path::PathBuf;
use vectorflow::file::{ModelError, ModelErrorKind};
use vectorflow::optim::{Ftrl, Optimizer};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::Schedule;

#[derive(Features, Clone)]
struct Row {
    #[label]
    y: bool,
    #[hash]
    a: u16,
    #[hash]
    b: u16,
    #[value]
    x: f32,
}

fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let (a, b, x) = (rng.below(50) as u16, rng.below(50) as u16, rng.normal());
            let s = (a % 7) as f32 - 3.0 + x - ((b % 3) as f32 - 1.0);
            Row {
                y: rng.uniform() < 1.0 / (1.0 + (-s).exp()),
                a,
                b,
                x,
            }
        })
        .collect()
}

type Lr = network![Sparse<{ 1 << 10 }> => Linear<1>];
type Mlp = network![Sparse<{ 1 << 10 }> => Linear<8> => ReLU => Dropout<0.2> => Linear<1>];

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vf-model-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn bytes_of<I, S>(net: &Net<I, S>) -> Vec<u8>
where
    I: vectorflow::layers::InputLayer,
    S: vectorflow::network::Stack<In = I::Out>,
{
    let mut v = Vec::new();
    net.to_writer(&mut v).unwrap();
    v
}

fn trained_mlp() -> Mlp {
    let mut net = Mlp::new(Init::uniform(0.1).seed(5));
    Trainer::new(Adam::new(0.01))
        .threads(1)
        .passes(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows(500, 1), Logistic)
        .unwrap();
    net
}

#[test]
fn save_and_load_round_trip_exactly() {
    let net = trained_mlp();
    let path = temp("mlp.vf");
    net.save(&path).unwrap();
    let back = Mlp::load(&path).unwrap();
    assert_eq!(back.params(), net.params());
    assert_eq!(back.train_state(), net.train_state());
    assert_eq!(back.state_planes(), net.state_planes());
    let state = back.train_state().unwrap();
    assert_eq!(
        (state.optimizer(), state.passes(), state.rows()),
        ("Adam", 1, 500)
    );
    assert_eq!(state.plane_count(), 3);

    let weights = Mlp::load_weights(&path).unwrap();
    assert_eq!(weights.params(), net.params());
    assert!(weights.train_state().is_none());

    let from_bytes = Mlp::from_reader(&bytes_of(&net)[..]).unwrap();
    assert_eq!(from_bytes.params(), net.params());
    assert_eq!(from_bytes.train_state(), net.train_state());
    assert_eq!(from_bytes.state_planes(), net.state_planes());
    // The same net always writes the same bytes.
    assert_eq!(std::fs::read(&path).unwrap(), bytes_of(&net));
}

#[test]
fn a_net_without_state_saves_only_its_weights() {
    let mut net = trained_mlp();
    net.clear_train_state();
    let back = Mlp::from_reader(&bytes_of(&net)[..]).unwrap();
    assert_eq!(back.params(), net.params());
    assert!(back.train_state().is_none());
    assert!(bytes_of(&net).len() < 4 * 2 * Mlp::PARAMS);
}

/// The header's JSON text, and where the data starts.
fn header_of(bytes: &[u8]) -> (&str, usize) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (std::str::from_utf8(&bytes[8..8 + n]).unwrap(), 8 + n)
}

#[test]
fn the_file_is_safetensors_with_our_metadata() {
    // Weights of unknown initialisation (from_params) are stored dense, as version 1.
    let trained = trained_mlp();
    let net = Mlp::from_params(trained.params().to_vec()).unwrap();
    let bytes = bytes_of(&net);
    let (header, data) = header_of(&bytes);
    assert_eq!(data % 8, 0, "data is 8-byte aligned");
    for needle in [
        r#""format":"vectorflow""#,
        r#""format_version":"1""#,
        r#""topology":"Sparse(1024) => Linear(1024->8) => ReLU => Dropout(0.2) => Linear(8->1)""#,
        r#""inputs":"Sparse(1024)""#,
        r#""hashing":"murmur3_x86_32/namespace-seeded/1""#,
        r#""params":{"data_offsets":[0,"#,
        r#""dtype":"F32""#,
    ] {
        assert!(header.contains(needle), "{needle} not in {header}");
    }
    assert_eq!(bytes.len(), data + 4 * Mlp::PARAMS);
    // The parameters follow the header as little-endian f32s.
    let first = f32::from_le_bytes(bytes[data..data + 4].try_into().unwrap());
    assert_eq!(first, trained.params()[0]);
}

#[test]
fn a_sparse_table_is_stored_as_the_rows_training_changed() {
    let net = trained_mlp();
    let bytes = bytes_of(&net);
    let (header, data) = header_of(&bytes);
    for needle in [
        r#""format_version":"2""#,
        r#""optimizer":"Adam""#,
        r#""init":"uniform:0.1 seed:5 sparse_scale:0.05""#,
        r#""table.0":"0,1024,8""#,
        r#""table.0.ids":{"data_offsets":["#,
        r#""dtype":"U32""#,
        r#""table.0.state.2.fill":{"data_offsets":["#,
    ] {
        assert!(header.contains(needle), "{needle} not in {header}");
    }
    // The ids are the rows whose weights or Adam state left their start, ascending.
    let fresh = Mlp::new(Init::uniform(0.1).seed(5));
    let changed: Vec<u32> = (0..1024u32)
        .filter(|&r| {
            let row = 8 * r as usize..8 * r as usize + 8;
            row.clone().any(|i| net.params()[i] != fresh.params()[i])
        })
        .collect();
    let k = changed.len();
    assert!((20..200).contains(&k), "{k}");
    let rest = Mlp::PARAMS - 1024 * 8;
    // params: the weights outside the table; then the ids, after the rest's floats.
    let ids_at = data + 4 * rest;
    let ids: Vec<u32> = bytes[ids_at..ids_at + 4 * k]
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(ids, changed);
    // Weights and three Adam planes, each: the rest, k rows of 8, and a fill row of 8
    // per plane; and the ids.
    assert_eq!(bytes.len(), data + 4 * (4 * (rest + 8 * k) + 3 * 8 + k));
    assert!(bytes.len() < 4 * Mlp::PARAMS);
}

/// Two passes, saved, loaded and one more pass: the weights of three passes, exactly,
/// with shuffling, dropout, a prior and a decaying schedule all in play.
#[test]
fn resuming_from_a_file_equals_training_without_a_break() {
    resumes_exactly(AdaGrad::new(0.1));
    resumes_exactly(RowAdaGrad::new(0.1));
    // The initial accumulator lives on in the saved state planes: a resumed fit
    // continues from them, whatever it starts fresh rows at.
    resumes_exactly(AdaGrad::new(0.1).init_acc(0.5));
    resumes_exactly(RowAdaGrad::new(0.1).init_acc(3.0));
}

fn resumes_exactly<O: Optimizer>(opt: O) {
    let data = rows(3000, 2);
    let trainer = |passes| {
        Trainer::new(opt)
            .threads(1)
            .passes(passes)
            .seed(9)
            .prior(Prior::l2(1e-4).and_l1(1e-5))
            .schedule(Schedule::PowerT {
                t0: 10.0,
                power: 0.5,
            })
            .progress(Progress::Silent)
    };
    let mut straight = Mlp::new(Init::uniform(0.1).seed(1));
    trainer(3).fit(&mut straight, &data, Logistic).unwrap();

    let mut first = Mlp::new(Init::uniform(0.1).seed(1));
    trainer(2).fit(&mut first, &data, Logistic).unwrap();
    let path = temp("resume.vf");
    first.save(&path).unwrap();
    drop(first);
    let mut resumed = Mlp::load(&path).unwrap();
    trainer(1).fit(&mut resumed, &data, Logistic).unwrap();

    assert_eq!(resumed.params(), straight.params());
    assert_eq!(resumed.train_state(), straight.train_state());
    assert_eq!(resumed.state_planes(), straight.state_planes());
    assert_eq!(resumed.train_state().unwrap().passes(), 3);
}

#[test]
fn two_fits_equal_one_fit_of_their_passes() {
    let data = rows(2000, 3);
    let t = Trainer::new(Adam::new(0.01))
        .threads(1)
        .seed(4)
        .progress(Progress::Silent);
    let mut once = Lr::new(Init::zeros());
    t.clone().passes(4).fit(&mut once, &data, Logistic).unwrap();
    let mut twice = Lr::new(Init::zeros());
    t.clone()
        .passes(2)
        .fit(&mut twice, &data, Logistic)
        .unwrap();
    t.clone()
        .passes(2)
        .fit(&mut twice, &data, Logistic)
        .unwrap();
    assert_eq!(twice.params(), once.params());
    // Without the state the second fit restarts Adam and differs.
    let mut restarted = Lr::new(Init::zeros());
    t.clone()
        .passes(2)
        .fit(&mut restarted, &data, Logistic)
        .unwrap();
    restarted.clear_train_state();
    t.passes(2).fit(&mut restarted, &data, Logistic).unwrap();
    assert_ne!(restarted.params(), once.params());
}

#[test]
fn another_optimizer_starts_a_fresh_state() {
    let data = rows(500, 4);
    let mut net = Lr::new(Init::zeros());
    let quiet = |net: &mut Lr| {
        Trainer::new(Sgd::new(0.1))
            .threads(1)
            .progress(Progress::Silent)
            .fit(net, &data, Logistic)
            .unwrap()
    };
    Trainer::new(Adam::new(0.01))
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &data, Logistic)
        .unwrap();
    quiet(&mut net);
    let state = net.train_state().unwrap();
    assert_eq!((state.optimizer(), state.passes()), ("Sgd", 1));
}

#[test]
fn ftrl_starts_from_the_existing_weights() {
    let ftrl = Ftrl::new(0.1).l1(0.5).l2(0.1);
    for w in [0.7f32, -1.3, 0.0, 1e-3] {
        let mut s = ftrl.start(w);
        // A step without gradient keeps the weight; a tiny one barely moves it.
        let kept = ftrl.update(w, &mut s, 0.0, 1.0);
        assert!((kept - w).abs() <= 1e-6 * (1.0 + w.abs()), "{w} -> {kept}");
        let mut s = ftrl.start(w);
        let moved = ftrl.update(w, &mut s, 1e-4, 1.0);
        assert!((moved - w).abs() < 1e-3, "{w} -> {moved}");
    }
    // A net trained elsewhere keeps its quality when FTRL continues it: the first FTRL
    // pass starts at the trained loss, not at the loss of zero weights (log 2).
    let data = rows(4000, 5);
    let mut net = Lr::new(Init::zeros());
    let pre = quiet(AdaGrad::new(0.2))
        .passes(3)
        .fit(&mut net, &data, Logistic)
        .unwrap();
    let trained = pre.last().unwrap().train_loss;
    assert!(trained < 0.5, "{trained}");
    let cont = quiet(Ftrl::new(0.05))
        .fit(&mut net, &data, Logistic)
        .unwrap();
    let first = cont.passes[0].train_loss;
    assert!(
        first < trained + 0.02,
        "FTRL resumed at {first}, trained {trained}"
    );
}

/// A trainer of `opt` whose passes depend on the state's clock: shuffled rows (seeded by
/// the passes so far) and a power-t rate (by the rows so far).
fn clocked<O: Optimizer>(opt: O, passes: usize) -> Trainer<O> {
    quiet(opt)
        .seed(4)
        .passes(passes)
        .schedule(Schedule::PowerT {
            t0: 10.0,
            power: 0.5,
        })
}

#[test]
fn plain_sgd_keeps_no_state_planes_and_resumes_exactly() {
    let data = rows(2000, 3);
    let mut straight = Lr::new(Init::zeros());
    clocked(Sgd::new(0.1), 3)
        .fit(&mut straight, &data, Logistic)
        .unwrap();
    let state = straight.train_state().unwrap();
    assert_eq!((state.optimizer(), state.plane_count()), ("Sgd", 0));

    let mut first = Lr::new(Init::zeros());
    clocked(Sgd::new(0.1), 2)
        .fit(&mut first, &data, Logistic)
        .unwrap();
    let bytes = bytes_of(&first);
    // The file holds the weights and the clock, no state tensor.
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("\"params\"") && !text.contains("state.0"));
    let mut resumed = Lr::from_reader(&bytes[..]).unwrap();
    clocked(Sgd::new(0.1), 1)
        .fit(&mut resumed, &data, Logistic)
        .unwrap();
    assert_eq!(resumed.params(), straight.params());
    assert_eq!(resumed.train_state(), straight.train_state());
    assert_eq!(resumed.state_planes(), straight.state_planes());
}

#[test]
fn a_velocity_plane_continues_with_plain_sgd_as_before() {
    // Plain SGD used to keep a velocity plane (the momentum-0 velocity, the last
    // gradient) and save it as `state.0` under `Sgd`: the file momentum writes now.
    // Momentum 0 steps exactly as plain SGD, so continuing such a file with plain SGD
    // gives the weights and clock of one run, its plane dropped.
    let data = rows(2000, 3);
    let mut straight = Lr::new(Init::zeros());
    clocked(Sgd::new(0.1), 3)
        .fit(&mut straight, &data, Logistic)
        .unwrap();
    let mut old = Lr::new(Init::zeros());
    clocked(Sgd::new(0.1).momentum(0.0), 2)
        .fit(&mut old, &data, Logistic)
        .unwrap();
    let bytes = bytes_of(&old);
    assert!(String::from_utf8_lossy(&bytes).contains("state.0"));
    let mut resumed = Lr::from_reader(&bytes[..]).unwrap();
    assert_eq!(resumed.train_state().unwrap().plane_count(), 1);
    clocked(Sgd::new(0.1), 1)
        .fit(&mut resumed, &data, Logistic)
        .unwrap();
    assert_eq!(resumed.params(), straight.params());
    assert_eq!(resumed.train_state(), straight.train_state());
    assert_eq!(resumed.state_planes(), straight.state_planes());

    // The other way, momentum continues plain SGD's clock with a zero velocity.
    let mut more = Lr::from_reader(&bytes_of(&straight)[..]).unwrap();
    clocked(Sgd::new(0.01).momentum(0.9), 1)
        .fit(&mut more, &data, Logistic)
        .unwrap();
    let state = more.train_state().unwrap();
    assert_eq!((state.passes(), state.plane_count()), (4, 1));
    assert!(more.state_planes()[0].iter().any(|&v| v != 0.0));
}

fn quiet<O: Optimizer>(opt: O) -> Trainer<O> {
    Trainer::new(opt).threads(1).progress(Progress::Silent)
}

fn kind(e: ModelError) -> ModelErrorKind {
    e.kind
}

#[test]
fn loading_into_another_net_names_both_topologies() {
    let bytes = bytes_of(&trained_mlp());
    type Tanh = network![Sparse<{ 1 << 10 }> => Linear<8> => TanH => Dropout<0.2> => Linear<1>];
    let msg = Tanh::from_reader(&bytes[..]).err().unwrap().to_string();
    assert_eq!(
        msg,
        "the file holds a model of another topology:\n  \
         file: Sparse(1024) => Linear(1024->8) => ReLU => Dropout(0.2) => Linear(8->1)\n  \
         net:  Sparse(1024) => Linear(1024->8) => TanH => Dropout(0.2) => Linear(8->1)"
    );
    type Wider = network![Sparse<{ 1 << 11 }> => Linear<8> => ReLU => Dropout<0.2> => Linear<1>];
    let msg = Wider::from_reader(&bytes[..]).err().unwrap().to_string();
    assert_eq!(
        msg,
        "the file holds a model of another input (kind or DIM):\n  \
         file: Sparse(1024)\n  net:  Sparse(2048)"
    );
}

#[test]
fn a_truncated_file_is_an_error_at_every_length() {
    let bytes = bytes_of(&trained_mlp());
    // Every length through the header, then a spread over the tensors.
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize + 8;
    let lens = (0..header + 16).chain((header + 16..bytes.len()).step_by(997));
    for len in lens.chain([bytes.len() - 1]) {
        let e = Mlp::from_reader(&bytes[..len]).err().unwrap();
        assert!(
            matches!(
                e.kind,
                ModelErrorKind::Truncated { .. } | ModelErrorKind::NotAModel(_)
            ),
            "{len}: {e}"
        );
    }
    let path = temp("truncated.vf");
    std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
    let msg = Mlp::load(&path).err().unwrap().to_string();
    assert!(
        msg.starts_with(&format!("model file {}: ", path.display())),
        "{msg}"
    );
    assert!(
        msg.contains("truncated: tensor table.0.state.2 needs"),
        "{msg}"
    );
    // A predict-only load reads no state, and still notices the file is short.
    let msg = Mlp::load_weights(&path).err().unwrap().to_string();
    assert!(msg.contains("truncated: the file needs"), "{msg}");
}

#[test]
fn every_flipped_bit_is_caught() {
    let mut net = Lr::new(Init::uniform(0.5).seed(2));
    Trainer::new(AdaGrad::new(0.1))
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows(50, 6), Logistic)
        .unwrap();
    let bytes = bytes_of(&net);
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize + 8;
    // Every bit of the header, and of every 13th byte of the tensors.
    let at: Vec<usize> = (0..header)
        .chain((header..bytes.len()).step_by(13))
        .collect();
    let mut cases = 0;
    for &i in &at {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            let r = Lr::from_reader(&b[..]);
            assert!(r.is_err(), "a flip of bit {bit} of byte {i} went unnoticed");
            cases += 1;
        }
    }
    assert_eq!(cases, at.len() * 8);
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 0x10;
    let msg = Lr::from_reader(&b[..]).err().unwrap().to_string();
    assert!(
        msg.starts_with("the file is corrupt: tensor table.0.state.0 has checksum"),
        "{msg}"
    );
}

/// Rewrites a file's metadata value `key` and recomputes the header checksum, as a
/// future writer might.
fn with_meta(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    let mut header = header.replace(from, to);
    let at = header.find(r#""checksum":""#).unwrap() + 12;
    header.replace_range(at..at + 8, "00000000");
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    let crc = format!("{:08x}", crc32fast_hash(&out));
    out[8 + at..16 + at].copy_from_slice(crc.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// CRC-32 (IEEE), written out here so the test does not trust the library's.
fn crc32fast_hash(data: &[u8]) -> u32 {
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

#[test]
fn a_future_version_is_refused_by_name() {
    let bytes = bytes_of(&trained_mlp());
    let future = with_meta(&bytes, r#""format_version":"2""#, r#""format_version":"3""#);
    let e = Mlp::from_reader(&future[..]).err().unwrap();
    assert_eq!(
        e.to_string(),
        "written in model format version 3, but this build reads versions up to 2: load it \
         with a newer vectorflow"
    );
    // The same rewrite at version 2 loads: the test's checksum matches the library's.
    let same = with_meta(&bytes, r#""format_version":"2""#, r#""format_version":"2""#);
    assert!(Mlp::from_reader(&same[..]).is_ok());
    let hashing = with_meta(&bytes, "namespace-seeded/1", "namespace-seeded/2");
    let msg = Mlp::from_reader(&hashing[..]).err().unwrap().to_string();
    assert!(msg.contains("another hashing scheme"), "{msg}");
}

#[test]
fn other_files_are_not_models() {
    let json =
        br#"{"__metadata__":{"a":"b"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut safetensors = (json.len() as u64).to_le_bytes().to_vec();
    safetensors.extend_from_slice(json);
    safetensors.extend_from_slice(&1.0f32.to_le_bytes());
    let cases: [(&str, &[u8]); 4] = [
        ("empty", b""),
        ("text", b"label,carrier,origin\n1,UA,EWR\n0,AA,JFK\n"),
        ("zeros", &[0u8; 64]),
        ("another safetensors", &safetensors),
    ];
    for (what, bytes) in cases {
        let e = Lr::from_reader(bytes).err().unwrap();
        assert!(matches!(kind(e), ModelErrorKind::NotAModel(_)), "{what}");
    }
    let msg = Lr::from_reader(&b"label,carrier,origin\n"[..])
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        msg,
        "not a vectorflow model: its first 8 bytes give a header length of \
         7017501488442401132, and a vectorflow header has 2 to 1048576 bytes"
    );
}

#[test]
fn a_missing_file_names_its_path() {
    let path = temp("does-not-exist.vf");
    let msg = Lr::load(&path).err().unwrap().to_string();
    assert!(
        msg.starts_with(&format!("model file {}: ", path.display())),
        "{msg}"
    );
}

#[test]
fn saving_replaces_the_file_atomically() {
    // A directory of its own: other tests' saves would leave their temporaries in a
    // shared one while this test looks for strays.
    let dir = temp("atomic");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("atomic.vf");
    let a = Lr::new(Init::uniform(0.1).seed(1));
    let b = Lr::new(Init::uniform(0.1).seed(2));
    a.save(&path).unwrap();
    b.save(&path).unwrap();
    assert_eq!(Lr::load(&path).unwrap().params(), b.params());
    // A save that cannot be written leaves the old file whole, and no temporary.
    let dir = path.parent().unwrap();
    let into_dir = a.save(dir).err().unwrap().to_string();
    assert!(into_dir.starts_with("model file"), "{into_dir}");
    let stray: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert_eq!(Lr::load(&path).unwrap().params(), b.params());
}

/// Random damage to real model files, as CI's stand-in for the fuzzer: overwritten,
/// inserted and deleted bytes, truncations and splices. Every case is an error.
#[test]
fn random_damage_is_always_an_error() {
    let files = [bytes_of(&trained_mlp()), {
        let mut lr = Lr::new(Init::uniform(0.1).seed(8));
        lr.clear_train_state();
        bytes_of(&lr)
    }];
    let mut rng = Rng::new(77);
    let mut cases = 0;
    for _ in 0..3000 {
        let file = &files[rng.below(2)];
        let mut b = file.clone();
        // Damage the header more often: it is where parsing happens.
        let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize + 8;
        let pos = |rng: &mut Rng, len: usize| {
            if rng.below(4) > 0 {
                rng.below(n.min(len))
            } else {
                rng.below(len)
            }
        };
        match rng.below(4) {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let i = pos(&mut rng, b.len());
                    b[i] = rng.below(256) as u8;
                }
            }
            1 => {
                let i = pos(&mut rng, b.len());
                b.insert(i, rng.below(256) as u8);
            }
            2 => {
                let i = pos(&mut rng, b.len());
                b.remove(i);
            }
            _ => {
                let i = pos(&mut rng, b.len());
                b.truncate(i);
            }
        }
        if b == *file {
            continue;
        }
        cases += 1;
        assert!(Mlp::from_reader(&b[..]).is_err());
        assert!(Lr::from_reader(&b[..]).is_err());
        // A predict-only read stops after the parameters: damage past them is unseen.
        let end = n + 4 * Lr::PARAMS;
        let past_params = b.len() >= end && b[..end] == file[..end];
        assert!(Lr::weights_from_reader(&b[..]).is_err() || past_params);
    }
    assert!(cases > 2500, "{cases}");
}
