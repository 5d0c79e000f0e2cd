//! Scores another system's test predictions the way `examples/bench` scores vectorflow's:
//! `vectorflow::metrics::binary` (log loss clamped to [1e-7, 1 − 1e-7], accuracy at 0.5,
//! AUC with ties counted half). Used by `bench/peers.sh`.
//!
//! ```text
//! cargo run --release --example peers_score -- --test test.svm --pred FILE \
//!     --format prob|liblinear|fasttext
//! ```
//!
//! Formats: `prob`, one probability of the positive class per line, optionally followed
//! by more fields (Vowpal Wabbit's `-p` with `--link logistic`); `liblinear`, the output
//! of `liblinear-predict -b 1` (a `labels ...` header, then `label p p`); `fasttext`, the
//! output of `fasttext predict-prob MODEL FILE 2` (`__label__1 p __label__-1 q`). The
//! labels are the first field of each line of the LIBSVM test file, positive when > 0.
//! Prints `SCORE rows=N logloss=X accuracy=X auc=X`.

use std::process::ExitCode;

fn labels(text: &str, path: &str) -> Result<Vec<f32>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let first = l.split_ascii_whitespace().next().unwrap_or("");
            first
                .parse::<f32>()
                .map(|y| (y > 0.0) as u8 as f32)
                .map_err(|_| {
                    format!(
                        "{path}:{}: expected a numeric label, found {first:?}",
                        i + 1
                    )
                })
        })
        .collect()
}

fn probability(s: &str, path: &str, line: usize) -> Result<f32, String> {
    s.parse::<f32>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("{path}:{line}: expected a probability in [0, 1], found {s:?}"))
}

fn predictions(text: &str, format: &str, path: &str) -> Result<Vec<f32>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match format {
        "prob" => lines
            .map(|(i, l)| probability(l.split_ascii_whitespace().next().unwrap_or(""), path, i + 1))
            .collect(),
        "liblinear" => {
            let header = lines
                .next()
                .ok_or(format!("{path}: empty prediction file"))?
                .1;
            let mut fields = header.split_ascii_whitespace();
            if fields.next() != Some("labels") {
                return Err(format!(
                    "{path}:1: expected the `labels ...` header of -b 1"
                ));
            }
            let col = fields
                .position(|f| f.parse::<f32>().is_ok_and(|y| y > 0.0))
                .ok_or(format!("{path}:1: no positive label in {header:?}"))?;
            lines
                .map(|(i, l)| {
                    let p = l.split_ascii_whitespace().nth(1 + col).unwrap_or("");
                    probability(p, path, i + 1)
                })
                .collect()
        }
        "fasttext" => lines
            .map(|(i, l)| {
                let f: Vec<&str> = l.split_ascii_whitespace().collect();
                for pair in f.chunks(2) {
                    if let [label, p] = pair {
                        let p = probability(p, path, i + 1)?;
                        let positive = label
                            .strip_prefix("__label__")
                            .and_then(|y| y.parse::<f32>().ok())
                            .is_some_and(|y| y > 0.0);
                        // fastText floors probabilities at 1e-5; the other label's is 1 − p.
                        return Ok(if positive { p } else { 1.0 - p });
                    }
                }
                Err(format!("{path}:{}: expected `__label__Y P ...`", i + 1))
            })
            .collect(),
        other => Err(format!(
            "unknown --format {other}; expected prob, liblinear or fasttext"
        )),
    }
}

fn run() -> Result<(), String> {
    let (mut test, mut pred, mut format) = (None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--test" => test = Some(value),
            "--pred" => pred = Some(value),
            "--format" => format = Some(value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let (test, pred, format) = match (test, pred, format) {
        (Some(t), Some(p), Some(f)) => (t, p, f),
        _ => return Err("--test, --pred and --format are required".into()),
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let y = labels(&read(&test)?, &test)?;
    let p = predictions(&read(&pred)?, &format, &pred)?;
    if p.len() != y.len() {
        return Err(format!(
            "{pred}: {} predictions for the {} rows of {test}",
            p.len(),
            y.len()
        ));
    }
    let m = vectorflow::metrics::binary(&p, &y);
    println!(
        "SCORE rows={} logloss={:.4} accuracy={:.4} auc={:.4}",
        y.len(),
        m.logloss,
        m.accuracy,
        m.auc
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peers_score: {e}");
            ExitCode::FAILURE
        }
    }
}
