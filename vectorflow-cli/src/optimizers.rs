//! The optimizers `--optimizer` names, and their usual learning rates.

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

/// The usual learning rate of optimizer `name`, for a linear model or a net with a
/// hidden layer: the reference of the rates `vf train` measures without `-l` (rate.rs)
/// and of the range `vf tune` searches, and the rate used on data too small to measure
/// one. AdaGrad's were the best one-pass rates on /work/vfdata's synthetic rows
/// (docs/cli.md); the others' are examples/bench's, picked there on the same data.
pub fn default_rate(name: &str, hidden: bool) -> f32 {
    match (name, hidden) {
        ("sgd", _) => 0.2,
        ("momentum", false) => 0.01,
        ("momentum", true) => 0.005,
        ("adam", false) => 0.01,
        ("adam", true) => 0.002,
        ("ftrl", false) => 0.5,
        ("ftrl", true) => 0.05,
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
