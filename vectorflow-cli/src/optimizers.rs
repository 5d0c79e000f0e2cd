//! The optimizers `--optimizer` names, and their default learning rates (measured on
//! /work/vfdata: see docs/cli.md).

use crate::error::{usage, CliError};

/// The names `--optimizer` takes, with the library's kind for each.
pub const OPTIMIZERS: [(&str, &str); 6] = [
    ("adagrad", "AdaGrad"),
    ("rowadagrad", "RowAdaGrad"),
    ("sgd", "Sgd"),
    ("momentum", "Momentum"),
    ("adam", "Adam"),
    ("ftrl", "Ftrl"),
];

/// The learning rate of optimizer `name` without `-l`, for a linear model or a net
/// with a hidden layer. The others' are examples/bench's defaults, picked there on
/// synthetic data.
pub fn default_rate(name: &str, hidden: bool) -> f32 {
    match (name, hidden) {
        ("sgd", _) => 0.2,
        ("momentum", false) => 0.01,
        ("momentum", true) => 0.005,
        ("adam", false) => 0.01,
        ("adam", true) => 0.002,
        ("ftrl", false) => 0.5,
        ("ftrl", true) => 0.05,
        // AdaGrad and RowAdaGrad: the best of 0.1, 0.25, 0.5 and 1.0 (linear) and of
        // 0.01, 0.02, 0.05 and 0.1 (`--nn 16`) for one pass over the first 50k and 200k
        // rows of /work/vfdata/train.svm (docs/cli.md).
        (_, false) => 1.0,
        (_, true) => 0.1,
    }
}

/// The `--optimizer` name of a training state's optimizer kind.
pub fn optimizer_of_state(kind: &str) -> Result<&'static str, CliError> {
    OPTIMIZERS
        .iter()
        .find(|(_, k)| k.eq_ignore_ascii_case(kind))
        .map(|(n, _)| *n)
        .ok_or_else(|| {
            usage(format!(
                "the model was trained with {kind}, which vf cannot resume: give --optimizer"
            ))
        })
}

/// The error for an optimizer name `--optimizer` does not take.
pub fn unknown(name: &str) -> CliError {
    let names: Vec<&str> = OPTIMIZERS.iter().map(|(n, _)| *n).collect();
    usage(format!(
        "--optimizer {name}: unknown optimizer ({})",
        names.join(", ")
    ))
}

/// Runs `$body` with `$opt` bound to the optimizer named `$name` at rate `$lr` (each
/// optimizer is a type of its own); an unknown name is a usage error.
macro_rules! with_optimizer {
    ($name:expr, $lr:expr, $opt:ident => $body:expr) => {{
        use vectorflow::prelude::{AdaGrad, Adam, Ftrl, RowAdaGrad, Sgd};
        let lr: f32 = $lr;
        match $name {
            "adagrad" => {
                let $opt = AdaGrad::new(lr);
                $body
            }
            "rowadagrad" => {
                let $opt = RowAdaGrad::new(lr);
                $body
            }
            "sgd" => {
                let $opt = Sgd::new(lr);
                $body
            }
            "momentum" => {
                let $opt = Sgd::new(lr).momentum(0.9);
                $body
            }
            "adam" => {
                let $opt = Adam::new(lr);
                $body
            }
            "ftrl" => {
                let $opt = Ftrl::new(lr);
                $body
            }
            other => Err($crate::optimizers::unknown(other)),
        }
    }};
}
pub(crate) use with_optimizer;
