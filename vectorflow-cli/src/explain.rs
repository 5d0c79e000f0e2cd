//! `vf explain`: a model's features by name, from rows that name them: the top features
//! by first-layer weights, the readable model (VW's `--invert_hash`) and row audits.

use crate::args::ExplainArgs;
use crate::data::{Reading, Rows};
use crate::error::{data, model, usage, CliError};
use vectorflow::dynnet::DynNet;
use vectorflow::explain::{audit_dyn, readable_model_dyn, FeatureNames};
use vectorflow::features::Slot;

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
    if reading.format.has_columns() {
        return Err(usage(format!(
            "vf explain names the features of libsvm and vw rows; {} rows are not named yet",
            reading.format
        )));
    }
    let Rows::Sparse(rows) = reading.read_all(&a.data.data, true)? else {
        return Err(usage("vf explain names the features of libsvm and vw rows"));
    };
    let mut names = FeatureNames::new();
    names
        .extend(&rows.to_rows())
        .map_err(|e| data(format!("{}: {e}", a.data.data.display())))?;
    let dump = readable_model_dyn(&net, &names);
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
            println!("{:<32}  {slot:>10}  {}", f.name, weights.join(" "));
        }
    }
    for i in 0..a.audit.unwrap_or(0).min(rows.len()) {
        let audit = audit_dyn(&net, &rows.row(i))
            .map_err(|e| data(format!("{}: row {}: {e}", a.data.data.display(), i + 1)))?;
        println!("\nrow {}: {audit}", i + 1);
    }
    Ok(())
}
