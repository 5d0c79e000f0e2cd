//! `vf predict`: reads rows as the model's recipe says, chunk by chunk, writes one line
//! of predictions per row and, when the rows have labels, prints the metrics that fit
//! the loss.

use crate::args::PredictArgs;
use crate::data::{is_stdin, Reading, Rows};
use crate::error::{data, model, usage, CliError};
use crate::metrics::Metrics;
use std::io::{BufWriter, Write};
use vectorflow::dynnet::{DynLoss, DynNet};
use vectorflow::predict::PredictError;

/// Runs `vf predict`.
pub fn run(a: &PredictArgs) -> Result<(), CliError> {
    let net = DynNet::load_weights(&a.model).map_err(model)?;
    let (reading, loss) = match net.recipe() {
        Some(r) => {
            let flag = a.data.any_read_flag().or(a.loss.as_ref().map(|_| "--loss"));
            if let Some(flag) = flag {
                return Err(usage(format!(
                    "{flag}: the model {} records how its rows are read ({r}); drop the flag",
                    a.model.display()
                )));
            }
            (Reading::from_recipe(r), r.loss)
        }
        None => {
            let name = a.loss.as_deref().unwrap_or("logistic");
            let loss =
                DynLoss::parse(name, net.outputs()).map_err(|e| usage(format!("--loss: {e}")))?;
            (Reading::from_flags(&a.data)?, loss)
        }
    };
    let mut out = open_output(a)?;
    let mut chunks = reading.open(&a.data.data, false)?;
    let mut rows = chunks.buffer();
    let mut metrics = Metrics::new(loss);
    let k = net.outputs();
    let mut done = 0usize;
    let mut line = String::new();
    while chunks.next(&mut rows)? {
        let scores = predict(&net, &rows).map_err(|e| {
            data(format!(
                "{}: row {}: {}",
                a.data.data.display(),
                done + e.row + 1,
                e.source
            ))
        })?;
        let labels = rows.labels();
        for (i, s) in scores.chunks_exact(k).enumerate() {
            metrics.add(s, labels[i]).map_err(|m| {
                data(format!(
                    "{}: row {}: {m}",
                    a.data.data.display(),
                    done + i + 1
                ))
            })?;
            if let Some(w) = &mut out {
                line.clear();
                shown(loss, s, a.raw, &mut line);
                writeln!(w, "{line}").map_err(|e| data(format!("writing predictions: {e}")))?;
            }
        }
        done += rows.len();
    }
    if let Some(w) = &mut out {
        w.flush()
            .map_err(|e| data(format!("writing predictions: {e}")))?;
    }
    if !a.quiet {
        eprintln!("predicted {done} rows");
        if let Some(m) = metrics.summary() {
            eprintln!("{m}");
        }
    }
    Ok(())
}

/// The predictions file (`-`: stdout), if asked for.
fn open_output(a: &PredictArgs) -> Result<Option<Box<dyn Write>>, CliError> {
    Ok(match &a.predictions {
        None => None,
        Some(p) if is_stdin(p) => Some(Box::new(BufWriter::new(std::io::stdout()))),
        Some(p) => {
            let f = std::fs::File::create(p)
                .map_err(|e| data(format!("cannot create {}: {e}", p.display())))?;
            Some(Box::new(BufWriter::new(f)))
        }
    })
}

/// The net's outputs for every row of the chunk, flat.
fn predict(net: &DynNet, rows: &Rows) -> Result<Vec<f32>, PredictError> {
    net.predict_batch(&rows.to_any())
}

/// A row's line: the probability (logistic), the class probabilities (multinomial) or
/// the scores.
fn shown(loss: DynLoss, scores: &[f32], raw: bool, line: &mut String) {
    use std::fmt::Write as _;
    let values: Vec<f32> = match (loss, raw) {
        (DynLoss::Logistic, false) => vec![vectorflow::predict::probability([scores[0]])],
        (DynLoss::Multinomial(_), false) => crate::metrics::softmax(scores),
        _ => scores.to_vec(),
    };
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        // Shortest text that reads back as the same f32.
        let _ = write!(line, "{v}");
    }
}
