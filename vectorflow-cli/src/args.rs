//! The command line's flags, parsed by `clap`'s derive: every subcommand, with examples
//! in its `--help`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use vectorflow::dynnet::DataFormat;
use vectorflow::io::columns::{Columns, Crosses};

/// `vf`: sparse shallow nets and linear models from the shell.
#[derive(Parser, Debug)]
#[command(
    name = "vf",
    version,
    about = "Train, predict with, inspect and explain sparse shallow nets (vectorflow)",
    after_help = "Examples:\n  \
        vf train -d train.svm --nn 16 -f model.vf\n  \
        vf predict -i model.vf -d test.svm -p predictions.txt\n  \
        vf inspect model.vf\n  \
        vf explain -i model.vf -d train.vw --readable_model model.txt\n  \
    vf explain -i model.vf -d test.vw --audit 3\n\n\
        Each subcommand's --help has more. Vowpal Wabbit's -d -f -i -p -t -c -b --passes \
        --loss_function -l -q --nn --holdout_off --readable_model --invert_hash are understood \
        (docs/cli.md)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model on a data file and save it.
    Train(Box<TrainArgs>),
    /// Predict with a model: one line per row, and metrics when the rows have labels.
    Predict(PredictArgs),
    /// Show what a model file holds: topology, inputs, optimizer state, how its rows are read.
    Inspect(InspectArgs),
    /// Name a model's features: the top features, or every one in a readable model file.
    Explain(ExplainArgs),
    /// Search optimizers, learning rates, passes and priors; print the best as a vf train line.
    Tune(Box<TuneArgs>),
}

/// How rows are read: the file, its format and, for tables, the column spec.
#[derive(Args, Debug, Default)]
pub struct DataArgs {
    /// The data file (`-` for stdin, text formats only).
    #[arg(short = 'd', long = "data", value_name = "FILE")]
    pub data: PathBuf,
    /// The format; by default from the file's extension (.svm .libsvm .txt, .vw, .csv,
    /// .jsonl .ndjson .json, .parquet or a directory).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub format: Option<DataFormat>,
    /// CSV/JSON/Parquet: the label column.
    #[arg(long, value_name = "COLUMN")]
    pub label: Option<String>,
    /// CSV/JSON/Parquet: the row weight column.
    #[arg(long, value_name = "COLUMN")]
    pub weight: Option<String>,
    /// CSV/JSON/Parquet: categorical columns, each value hashed (`a,b`, `a(namespace=n,root=r)`).
    #[arg(long, value_name = "COLUMNS")]
    pub hash: Vec<Columns>,
    /// CSV/JSON/Parquet: numeric columns, each one feature of its value.
    #[arg(long, value_name = "COLUMNS")]
    pub value: Vec<Columns>,
    /// CSV/JSON/Parquet: text columns, each a bag of whitespace-separated tokens (`c(mean)`).
    #[arg(long, value_name = "COLUMNS")]
    pub tokens: Vec<Columns>,
    /// CSV/JSON/Parquet: crosses of hashed columns (`origin*dest`).
    #[arg(long, value_name = "CROSSES")]
    pub cross: Vec<Crosses>,
    /// VW: cross the namespaces starting with letters `a` and `b` (VW's -q ab).
    #[arg(short = 'q', long = "quadratic", value_name = "AB")]
    pub quadratic: Vec<String>,
}

impl DataArgs {
    /// Whether any flag of how rows are read (besides the file) is given.
    pub fn any_read_flag(&self) -> Option<&'static str> {
        [
            (self.format.is_some(), "--format"),
            (self.label.is_some(), "--label"),
            (self.weight.is_some(), "--weight"),
            (!self.hash.is_empty(), "--hash"),
            (!self.value.is_empty(), "--value"),
            (!self.tokens.is_empty(), "--tokens"),
            (!self.cross.is_empty(), "--cross"),
            (!self.quadratic.is_empty(), "-q"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

impl DataArgs {
    /// The flags that read the rows as these do.
    pub fn to_flags(&self) -> Vec<String> {
        let mut out = vec!["-d".to_string(), self.data.display().to_string()];
        let mut flag = |name: &str, value: String| out.extend([name.to_string(), value]);
        if let Some(f) = self.format {
            flag("--format", f.to_string());
        }
        if let Some(c) = &self.label {
            flag("--label", c.clone());
        }
        if let Some(c) = &self.weight {
            flag("--weight", c.clone());
        }
        for (name, lists) in [
            ("--hash", &self.hash),
            ("--value", &self.value),
            ("--tokens", &self.tokens),
        ] {
            for l in lists {
                flag(name, l.to_string());
            }
        }
        for c in &self.cross {
            flag("--cross", c.to_string());
        }
        for q in &self.quadratic {
            flag("-q", q.clone());
        }
        out
    }
}

fn parse_format(s: &str) -> Result<DataFormat, String> {
    s.parse()
}

/// What is trained: the net, the hashed table's size and the loss.
#[derive(Args, Debug, Default)]
pub struct NetArgs {
    /// The network spec, e.g. `sparse:2^20 > 16 > relu > 1` or a model file's topology line.
    #[arg(long, value_name = "SPEC", conflicts_with = "nn")]
    pub net: Option<String>,
    /// A hidden layer of N ReLU units (VW's --nn).
    #[arg(long, value_name = "N")]
    pub nn: Option<usize>,
    /// Bits of the hashed feature table: 2^b rows [default: 20] (not with --net).
    #[arg(short = 'b', long = "bits", value_name = "B", conflicts_with = "net")]
    pub bits: Option<u32>,
    /// logistic, square, hinge, poisson or multinomial:K [default: logistic].
    #[arg(long, alias = "loss_function", value_name = "LOSS")]
    pub loss: Option<String>,
}

impl NetArgs {
    /// The flags that give the same net and loss.
    pub fn to_flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(n) = &self.net {
            out.extend(["--net".to_string(), n.clone()]);
        }
        if let Some(n) = self.nn {
            out.extend(["--nn".to_string(), n.to_string()]);
        }
        if let Some(b) = self.bits {
            out.extend(["-b".to_string(), b.to_string()]);
        }
        if let Some(l) = &self.loss {
            out.extend(["--loss".to_string(), l.clone()]);
        }
        out
    }
}

/// `vf train`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    vf train -d train.svm --nn 16 -f model.vf\n  \
    vf train -d train.vw -q ab --passes 3 -c -f model.vf\n  \
    vf train -d flights.csv --label delayed --hash carrier,origin,dest --value distance \\\n      \
    --cross origin*dest -b 20 -f flights.vf\n  \
    vf train -d more.csv -i flights.vf -f flights2.vf      (resume: the model says how to read)\n  \
    vf train -d digits.svm --loss multinomial:10 --net 'sparse:2^18 > 32 > relu > 10' -f d.vf\n\n\
    Without --net or --nn the model is a linear model (logistic regression by default). \
    With more than one pass, every 10th row is held out and training stops when its loss \
    has not improved for 3 passes (as VW does): --holdout_off, --holdout and --early-stop \
    change that.")]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: NetArgs,
    /// adagrad, rowadagrad, sgd, momentum, adam or ftrl [default: adagrad, or the resumed model's].
    #[arg(long, value_name = "NAME")]
    pub optimizer: Option<String>,
    /// The learning rate (by default one measured for the optimizer and net: see docs/cli.md).
    #[arg(
        short = 'l',
        long = "learning-rate",
        alias = "learning_rate",
        value_name = "RATE"
    )]
    pub learning_rate: Option<f32>,
    /// Passes over the data.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub passes: usize,
    /// A cache of the hashed rows for passes after the first (default file: the data's name + .cache).
    #[arg(short = 'c', long = "cache", value_name = "FILE", num_args = 0..=1)]
    pub cache: Option<Option<PathBuf>>,
    /// Hold out this fraction of the rows (pseudo-random) to measure the loss after each pass.
    #[arg(long, value_name = "FRACTION", conflicts_with = "holdout_off")]
    pub holdout: Option<f64>,
    /// No holdout, even with several passes.
    #[arg(long = "holdout_off", alias = "holdout-off")]
    pub holdout_off: bool,
    /// Stop when the holdout loss has not improved for N passes, keeping the best pass.
    #[arg(long = "early-stop", alias = "early_terminate", value_name = "N")]
    pub early_stop: Option<usize>,
    /// L1 penalty on every layer's weights.
    #[arg(long, value_name = "L1")]
    pub l1: Option<f32>,
    /// L2 penalty on every layer's weights.
    #[arg(long, value_name = "L2")]
    pub l2: Option<f32>,
    /// Training threads.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// The seed of the initial weights, shuffles and holdout.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// No progress or summary.
    #[arg(long)]
    pub quiet: bool,
    /// Save the model here (with its optimizer state, to resume from).
    #[arg(
        short = 'f',
        long = "final_regressor",
        alias = "final-model",
        value_name = "FILE"
    )]
    pub final_model: Option<PathBuf>,
    /// Resume training from this model (its state, net and read recipe).
    #[arg(
        short = 'i',
        long = "initial_regressor",
        alias = "initial-model",
        value_name = "FILE"
    )]
    pub initial_model: Option<PathBuf>,
    /// Save the weights alone here, for prediction only (smaller; cannot be resumed).
    #[arg(long = "save-weights", value_name = "FILE")]
    pub save_weights: Option<PathBuf>,
}

/// `vf predict`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    vf predict -i model.vf -d test.svm -p predictions.txt\n  \
    cat new.csv | vf predict -i flights.vf -d - -p -\n  \
    vf predict -i model.vf -d test.svm --raw -p scores.txt\n\n\
    The model says how its rows are read (format, columns, hashing, crosses, loss): no \
    reading flags are needed, and they are refused when the model records them. Each line \
    of -p is a row's probability (logistic), its K class probabilities (multinomial) or \
    its score (the other losses, or --raw). With labels in the data, metrics are printed \
    on stderr.")]
pub struct PredictArgs {
    /// The model file.
    #[arg(
        short = 'i',
        long = "initial_regressor",
        alias = "model",
        value_name = "FILE"
    )]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Write one prediction per row here (`-` for stdout).
    #[arg(short = 'p', long = "predictions", value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    /// Raw scores (the net's outputs) rather than probabilities.
    #[arg(long)]
    pub raw: bool,
    /// Test only (VW's -t): always so for vf predict.
    #[arg(short = 't', long = "testonly")]
    pub test_only: bool,
    /// The loss, for a model file that does not record one.
    #[arg(long, alias = "loss_function", value_name = "LOSS")]
    pub loss: Option<String>,
    /// No metrics.
    #[arg(long)]
    pub quiet: bool,
}

/// `vf inspect`.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  vf inspect model.vf")]
pub struct InspectArgs {
    /// The model file.
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
}

/// `vf explain`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    vf explain -i model.vf -d train.vw --top 20\n  \
    vf explain -i model.vf -d train.vw --readable_model model.txt\n  \
    vf explain -i model.vf -d test.vw --audit 3\n\n\
    The features are named as the rows name them: a LIBSVM feature by its id, a VW \
    feature as VW's audit does (ns^name, a^x*b^y for a -q cross). Rows are read as the \
    model records. The readable model lists every named feature with its slot and \
    first-layer weights (VW's --invert_hash), the rest of the net summed up. An audit \
    splits a row's output into its features' contributions: value × weight for a linear \
    model, value × gradient (a first-order account) for a net.")]
pub struct ExplainArgs {
    /// The model file.
    #[arg(
        short = 'i',
        long = "initial_regressor",
        alias = "model",
        value_name = "FILE"
    )]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Print the N features of largest first-layer weights [default: 20 without
    /// --readable_model or --audit].
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Audit the first N rows: each feature's value, weight and contribution to the output.
    #[arg(long, value_name = "N")]
    pub audit: Option<usize>,
    /// Write the readable model here (VW's --readable_model, --invert_hash).
    #[arg(
        long = "readable_model",
        alias = "invert_hash",
        alias = "readable-model",
        value_name = "FILE"
    )]
    pub readable_model: Option<PathBuf>,
}

/// `vf tune`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    vf tune -d train.vw --nn 16\n  \
    vf tune -d train.svm --optimizers adagrad,adam,ftrl --l2 0,1e-6 --budget 120\n\n\
    Trials train on the first rows and are scored by their loss on the last 20% (so data \
    ordered in time is scored as a later test split would be), by successive halving: \
    every setting trains 1 pass, the \
    best third go on to 3, the best third of those to 9, each stopping early when the \
    validation loss stops improving (docs/tuning.md). Each optimizer's learning rates \
    range from 1/1000 to 3 times its default. The best setting is printed on stdout as a \
    vf train command line that trains on every row for the best number of passes.")]
pub struct TuneArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: NetArgs,
    /// The optimizers searched, with a comma between names.
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        default_value = "adagrad,adam"
    )]
    pub optimizers: Vec<String>,
    /// Settings drawn at the start (the last rung adds two).
    #[arg(long, value_name = "N", default_value_t = 27)]
    pub trials: usize,
    /// The most passes a setting may train.
    #[arg(long = "max-passes", value_name = "N", default_value_t = 9)]
    pub max_passes: usize,
    /// The share of the rows, the last ones, held out to score the settings.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.2)]
    pub validation: f64,
    /// L1 strengths searched, with a comma between them.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "0")]
    pub l1: Vec<f32>,
    /// L2 strengths searched, with a comma between them.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "0")]
    pub l2: Vec<f32>,
    /// Stop starting passes after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub budget: Option<f64>,
    /// Trials trained at once, one thread each [default: the cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The seed of the settings drawn, the validation split and the initial weights.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}
