//! The benchmark models, shared by `examples/bench` and `examples/autotune.rs`: a hashed
//! logistic regression and a net with 16 hidden ReLU units, over 2^20 features, and the
//! same net over 2^16 slots (`Mlp16Small`).
//!
//! Included with `#[path]`; not every includer uses every item.
#![allow(dead_code)]

use vectorflow::prelude::*;

/// Size of the feature space.
pub const DIM: usize = 1 << 20;

/// Logistic regression.
pub type Lr = network![Sparse<DIM> => Linear<1>];

/// 16 hidden ReLU units.
pub type Mlp16 = network![Sparse<DIM> => Linear<16> => ReLU => Linear<1>];

/// Slots of [`Mlp16Small`]'s input: ids reduce modulo it.
pub const SMALL_DIM: usize = 1 << 16;

/// 16 hidden ReLU units over 2^16 slots: 2^16 × 16 = 2^20 input weights, as many as
/// Vowpal Wabbit's `--nn 16 -b 20` keeps (it hashes every hidden unit's weights into one
/// table of 2^20), where `Mlp16` keeps 2^20 × 16.
pub type Mlp16Small = network![Sparse<SMALL_DIM> => Linear<16> => ReLU => Linear<1>];

/// A fresh logistic regression: zero weights.
pub fn lr() -> Lr {
    Lr::new(Init::zeros())
}

/// A fresh `Mlp16`: uniform weights in ±0.1, seed 42.
pub fn mlp16() -> Mlp16 {
    Mlp16::new(Init::uniform(0.1).seed(42))
}

/// A fresh `Mlp16Small`: uniform weights in ±0.1, seed 42.
pub fn mlp16_small() -> Mlp16Small {
    Mlp16Small::new(Init::uniform(0.1).seed(42))
}

/// The spec and initialisation of the run-time twin of `model` (`lr`, `mlp16` or
/// `mlp16-small`), if it has one.
pub fn spec(model: &str) -> Option<(&'static str, Init)> {
    let mlp = Init::uniform(0.1).seed(42);
    match model {
        "lr" => Some(("sparse:2^20 > 1", Init::zeros())),
        "mlp16" => Some(("sparse:2^20 > 16 > relu > 1", mlp)),
        "mlp16-small" => Some(("sparse:2^16 > 16 > relu > 1", mlp)),
        _ => None,
    }
}

/// `model` as a network built at run time: the same topology and initial weights as
/// its typed net.
pub fn dyn_net(model: &str) -> vectorflow::dynnet::DynNet {
    let (spec, init) = spec(model).expect("a model with a run-time twin");
    vectorflow::dynnet::DynNet::new(spec, init).expect("the models' specs parse")
}
