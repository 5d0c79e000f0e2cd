//! Trained weights pinned bit for bit: a change to how the trainer is built (its stores,
//! its sharing schemes, its layout in memory) must not change one bit of what it trains.
//!
//! Each fit below runs on generated data at every CPU level this machine has (the levels
//! round differently, so each has its own checksums), and a model file written before
//! the trainer was rebuilt must still load to the same weights.
//!
//! To re-pin after a change that is *meant* to change training, run
//! `PIN_PRINT=1 cargo test --test pinned -- --nocapture` and copy the printed table.

use vectorflow::kernels::{self, Level};
use vectorflow::layers::InputLayer;
use vectorflow::network::Stack;
use vectorflow::optim::{Adam, Ftrl, Optimizer, RowAdaGrad};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

const CATS: [&str; 12] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"];

#[derive(Features, Clone)]
#[features(cross(site, cat))]
struct Row {
    #[label]
    y: bool,
    #[value]
    x: f32,
    #[hash]
    site: String,
    #[hash]
    cat: &'static str,
}

/// Rows of a planted logistic model over a Zipf-ish site, a category and a value.
fn rows(n: usize) -> Vec<Row> {
    let mut rng = Rng::new(11);
    (0..n)
        .map(|_| {
            let site = (rng.below(40) * rng.below(40)) % 500;
            let c = rng.below(CATS.len());
            let x = rng.normal();
            let logit = 0.8 * x + (site % 7) as f32 * 0.3 - 0.9 + (c as f32 - 5.5) * 0.2;
            let p = 1.0 / (1.0 + (-logit).exp());
            Row {
                y: rng.uniform() < p,
                x,
                site: format!("s{site}"),
                cat: CATS[c],
            }
        })
        .collect()
}

type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];
type Mlp = network![Sparse<{ 1 << 12 }> => Linear<16> => ReLU => Linear<1>];

/// FNV-1a over the bits of every weight, then every state float, then the clock.
fn checksum<I: InputLayer, S: Stack<In = I::Out>>(net: &vectorflow::Net<I, S>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bits: u64| {
        for b in bits.to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    net_weights(net)
        .iter()
        .for_each(|w| eat(w.to_bits() as u64));
    for plane in state_planes(net) {
        plane.iter().for_each(|s| eat(s.to_bits() as u64));
    }
    if let Some(state) = net.train_state() {
        eat(state.passes());
        eat(state.rows());
    }
    h
}

/// Every weight of the net, flat (input layer first).
fn net_weights<I: InputLayer, S: Stack<In = I::Out>>(net: &vectorflow::Net<I, S>) -> Vec<f32> {
    net.params().to_vec()
}

/// The optimizer's state planes, flat like the weights (`[j][i]`: state `j` of weight `i`).
fn state_planes<I: InputLayer, S: Stack<In = I::Out>>(
    net: &vectorflow::Net<I, S>,
) -> Vec<Vec<f32>> {
    net.state_planes()
}

fn trainer<O: Optimizer>(opt: O, threads: usize) -> Trainer<O> {
    Trainer::new(opt)
        .passes(2)
        .threads(threads)
        .seed(5)
        .progress(Progress::Silent)
}

/// Every pinned fit, by name, with its checksum.
fn fits(data: &[Row]) -> Vec<(&'static str, u64)> {
    let init = Init::uniform(0.05).seed(3);
    let mut out = Vec::new();
    let mut lr = |name, f: &dyn Fn(&mut Lr)| {
        let mut net = Lr::new(init);
        f(&mut net);
        out.push((name, checksum(&net)));
    };
    lr("lr adagrad 1t", &|n| {
        trainer(AdaGrad::new(0.1), 1)
            .fit(n, data, Logistic)
            .unwrap();
    });
    lr("lr sgd 1t", &|n| {
        trainer(Sgd::new(0.05), 1).fit(n, data, Logistic).unwrap();
    });
    lr("lr ftrl 1t", &|n| {
        trainer(Ftrl::new(0.1), 1).fit(n, data, Logistic).unwrap();
    });
    lr("lr adam 1t", &|n| {
        trainer(Adam::new(0.01), 1).fit(n, data, Logistic).unwrap();
    });
    lr("lr adagrad priors 1t", &|n| {
        trainer(AdaGrad::new(0.1), 1)
            .prior(Prior::l1(1e-4).and_l2(1e-3))
            .fit(n, data, Logistic)
            .unwrap();
    });
    lr("lr adagrad batch 1t", &|n| {
        trainer(AdaGrad::new(0.1), 1)
            .batch(8)
            .fit(n, data, Logistic)
            .unwrap();
    });
    lr("lr adagrad replicas 2t", &|n| {
        trainer(AdaGrad::new(0.1), 2)
            .sharing(Sharing::Replicas)
            .fit(n, data, Logistic)
            .unwrap();
    });
    let mut mlp = |name, f: &dyn Fn(&mut Mlp)| {
        let mut net = Mlp::new(init);
        f(&mut net);
        out.push((name, checksum(&net)));
    };
    mlp("mlp16 adagrad 1t", &|n| {
        trainer(AdaGrad::new(0.05), 1)
            .fit(n, data, Logistic)
            .unwrap();
    });
    mlp("mlp16 row-adagrad 1t", &|n| {
        trainer(RowAdaGrad::new(0.05), 1)
            .fit(n, data, Logistic)
            .unwrap();
    });
    mlp("mlp16 momentum holdout 1t", &|n| {
        trainer(Sgd::new(0.02).momentum(0.9), 1)
            .holdout(Holdout::EveryKth(10))
            .fit(n, data, Logistic)
            .unwrap();
    });
    mlp("mlp16 adagrad replicas 2t", &|n| {
        trainer(AdaGrad::new(0.05), 2)
            .sharing(Sharing::Replicas)
            .fit(n, data, Logistic)
            .unwrap();
    });
    mlp("mlp16 row-adagrad replicas 2t", &|n| {
        trainer(RowAdaGrad::new(0.05), 2)
            .sharing(Sharing::Replicas)
            .fit(n, data, Logistic)
            .unwrap();
    });
    out
}

/// The checksums of [`fits`], per CPU level.
const PINNED: &[(&str, &[(&str, u64)])] = &[
    (
        "baseline",
        &[
            ("lr adagrad 1t", 0x89799a21af354bbb),
            ("lr sgd 1t", 0x7ed16b14cef9cd65),
            ("lr ftrl 1t", 0x43a45725641737b4),
            ("lr adam 1t", 0x075116cd8feb1b11),
            ("lr adagrad priors 1t", 0x76bdd2bf1dbdc02d),
            ("lr adagrad batch 1t", 0x87f51ded24d43b93),
            ("lr adagrad replicas 2t", 0xb2c1fbb48fea1d50),
            ("mlp16 adagrad 1t", 0xfd5d332d2fa15f8d),
            ("mlp16 row-adagrad 1t", 0x0eb41aa6d68555a1),
            ("mlp16 momentum holdout 1t", 0xb9d561b82b70cc8c),
            ("mlp16 adagrad replicas 2t", 0xb6f5c492101322df),
            ("mlp16 row-adagrad replicas 2t", 0x8fd9bc6cc39622f8),
        ],
    ),
    (
        "avx2+fma",
        &[
            ("lr adagrad 1t", 0xb0955a046df52a2d),
            ("lr sgd 1t", 0x648ae795966b3c3c),
            ("lr ftrl 1t", 0xbdd5432c8662c79c),
            ("lr adam 1t", 0x158aef6eec2b15f9),
            ("lr adagrad priors 1t", 0x95a1aa8f1f44251c),
            ("lr adagrad batch 1t", 0xa37586194843f9ec),
            ("lr adagrad replicas 2t", 0x02b5c7e3434b4f19),
            ("mlp16 adagrad 1t", 0x4bfa19ee03293621),
            ("mlp16 row-adagrad 1t", 0xcdffa3f08f2e949f),
            ("mlp16 momentum holdout 1t", 0xfb4aab8522feaa13),
            ("mlp16 adagrad replicas 2t", 0x60e004e2bc159afb),
            ("mlp16 row-adagrad replicas 2t", 0xc50283c854e9d522),
        ],
    ),
    (
        "avx512",
        &[
            ("lr adagrad 1t", 0xb0955a046df52a2d),
            ("lr sgd 1t", 0x648ae795966b3c3c),
            ("lr ftrl 1t", 0xbdd5432c8662c79c),
            ("lr adam 1t", 0x158aef6eec2b15f9),
            ("lr adagrad priors 1t", 0x95a1aa8f1f44251c),
            ("lr adagrad batch 1t", 0xa37586194843f9ec),
            ("lr adagrad replicas 2t", 0x02b5c7e3434b4f19),
            ("mlp16 adagrad 1t", 0x4bfa19ee03293621),
            ("mlp16 row-adagrad 1t", 0xcdffa3f08f2e949f),
            ("mlp16 momentum holdout 1t", 0xfb4aab8522feaa13),
            ("mlp16 adagrad replicas 2t", 0x60e004e2bc159afb),
            ("mlp16 row-adagrad replicas 2t", 0xc50283c854e9d522),
        ],
    ),
];

/// The model file (format v2, with its training state) that the "mlp16 adagrad 1t" fit
/// wrote at the AVX-512 level before the trainer was rebuilt, and the checksum of the net
/// it holds: the pinned checksum of that fit.
const FIXTURE: &str = "tests/data/pinned_mlp16.vfm";
const FIXTURE_SUM: u64 = 0x4bfa19ee03293621;

#[test]
fn trained_weights_are_pinned_at_every_level() {
    let data = rows(6000);
    let print = std::env::var_os("PIN_PRINT").is_some();
    let mut failures = Vec::new();
    for level in Level::available() {
        kernels::set_level(level).unwrap();
        let got = fits(&data);
        if print {
            println!("    (\"{}\", &[", level.name());
            for (name, sum) in &got {
                println!("        (\"{name}\", {sum:#018x}),");
            }
            println!("    ]),");
            continue;
        }
        let want = PINNED
            .iter()
            .find(|(l, _)| *l == level.name())
            .unwrap_or_else(|| panic!("no checksums pinned for the {} level", level.name()))
            .1;
        assert_eq!(want.len(), got.len(), "the pinned fits at {}", level.name());
        for ((name, sum), (wname, wsum)) in got.iter().zip(want) {
            assert_eq!(name, wname);
            if sum != wsum {
                failures.push(format!(
                    "{} at {}: {sum:#018x}, pinned {wsum:#018x}",
                    name,
                    level.name()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "trained weights changed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_model_file_written_before_loads_to_the_same_weights() {
    let net = Mlp::load(FIXTURE).unwrap();
    assert_eq!(checksum(&net), FIXTURE_SUM, "{FIXTURE}");
    assert_eq!(net.train_state().unwrap().passes(), 2);
}
