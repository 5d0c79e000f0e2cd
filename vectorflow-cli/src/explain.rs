//! `vf explain`: a model's features by name, from rows that name them: the top features
//! by first-layer weights, the readable model (VW's `--invert_hash`) and row audits.

use crate::args::ExplainArgs;
use crate::data::{Reading, Rows};
use crate::error::{data, model, usage, CliError};
use vectorflow::dynnet::DynNet;
use vectorflow::dynnet::DynRow;
use vectorflow::explain::{audit_dyn, readable_model_dyn, FeatureNames};
use vectorflow::features::{Named, Slot};

/// Features printed without `--top` or `--readable_model`.
const DEFAULT_TOP: usize = 20;

/// Runs `vf explain`: the top features on stdout, the readable model to its file.
pub fn run(a: &ExplainArgs) -> Result<(), CliError> {
    let net = DynNet::load_weights(&a.model).map_err(model)?;
    let reading = match net.recipe() {
        Some(r) => {
            if let Some(flag) = a.data.any_read_flag() {
                return Err(usage(format!(
                    "{flag}: the model {} records how its rows are read ({r}); drop the flag",
                    a.model.display()
                )));
            }
            Reading::from_recipe(r)
        }
        None => Reading::from_flags(&a.data)?,
    };
    match reading.read_all(&a.data.data, true)? {
        Rows::Sparse(rows) => explain(a, &net, &rows.to_rows()),
        Rows::Columns(rows) => explain(a, &net, &rows.to_rows()),
    }
}

/// The top features, the readable model and the audits `a` asks for, named by `rows`.
fn explain<R: Named + DynRow>(a: &ExplainArgs, net: &DynNet, rows: &[R]) -> Result<(), CliError> {
    let mut names = FeatureNames::new();
    names
        .extend(rows)
        .map_err(|e| data(format!("{}: {e}", a.data.data.display())))?;
    let dump = readable_model_dyn(net, &names);
    if let Some(path) = &a.readable_model {
        dump.save(path).map_err(model)?;
        eprintln!(
            "wrote {} named features of {} rows to {}",
            dump.features.len(),
            names.rows(),
            path.display()
        );
    }
    let top = match (a.top, &a.readable_model, a.audit) {
        (Some(n), _, _) => n,
        (None, None, None) => DEFAULT_TOP,
        _ => 0,
    };
    if top > 0 {
        let mut features: Vec<_> = dump.features.iter().collect();
        let norm = |w: &[f32]| w.iter().map(|x| x * x).sum::<f32>();
        features.sort_by(|x, y| norm(&y.weights).total_cmp(&norm(&x.weights)));
        println!("{:<32}  {:>10}  weights", "feature", "slot");
        for f in features.into_iter().take(top) {
            let slot = match f.slot {
                Slot::SparseId(i) => i.to_string(),
                Slot::DenseIndex(j) => format!("[{j}]"),
            };
            let weights: Vec<String> = f.weights.iter().map(f32::to_string).collect();
            println!(
                "{:<32}  {slot:>10}  {}",
                label(f.group, &f.name),
                weights.join(" ")
            );
        }
    }
    for (i, row) in rows.iter().take(a.audit.unwrap_or(0)).enumerate() {
        let audit = audit_dyn(net, row)
            .map_err(|e| data(format!("{}: row {}: {e}", a.data.data.display(), i + 1)))?;
        println!("\nrow {}: {audit}", i + 1);
    }
    Ok(())
}

/// `group/name`, or `name` in the default group.
fn label(group: &str, name: &str) -> String {
    match group {
        "" => name.to_string(),
        g => format!("{g}/{name}"),
    }
}
