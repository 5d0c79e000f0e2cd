//! `vf inspect`: what a model file holds.

use crate::args::InspectArgs;
use crate::error::{data, model, CliError};
use vectorflow::dynnet::DynNet;
use vectorflow::file::ModelErrorKind;

/// Runs `vf inspect`, printing to stdout.
pub fn run(a: &InspectArgs) -> Result<(), CliError> {
    let path = &a.model;
    let size = std::fs::metadata(path)
        .map_err(|e| data(format!("cannot read {}: {e}", path.display())))?
        .len();
    // With its state when it has one; a file saved for prediction has none.
    let (net, predict_only) = match DynNet::load(path) {
        Ok(net) => (net, false),
        Err(e) if matches!(e.kind, ModelErrorKind::PredictOnly) => {
            (DynNet::load_weights(path).map_err(model)?, true)
        }
        Err(e) => return Err(model(e)),
    };
    println!("file        {} ({size} bytes)", path.display());
    println!("topology    {}", net.topology());
    println!("parameters  {}", net.param_count());
    for (i, r) in net.spec().roots.iter().enumerate() {
        let group = if r.name.is_empty() {
            "the default group".to_string()
        } else {
            format!("group {}", r.name)
        };
        let kind = if r.sparse {
            format!("sparse, {} slots", r.width)
        } else {
            format!("dense, {} values", r.width)
        };
        println!("input {}     {group}: {kind}", i + 1);
    }
    match (net.train_state(), predict_only) {
        (Some(s), _) => println!(
            "optimizer   {} state; trained {} passes, {} rows",
            s.optimizer(),
            s.passes(),
            s.rows()
        ),
        (None, true) => println!("optimizer   none: saved for prediction only (--save-weights)"),
        (None, false) => println!("optimizer   none: never trained"),
    }
    match net.recipe() {
        Some(r) => {
            println!("reads       {} rows", r.format);
            if let Some(c) = &r.columns {
                println!("columns     {c}");
            }
            for p in &r.interactions {
                println!("crosses     -q {}", String::from_utf8_lossy(p));
            }
            println!("net spec    {}", r.net);
            println!("loss        {}", vectorflow::dynnet::loss_name(r.loss));
        }
        None => println!(
            "reads       no read recipe (not saved by vf train): give vf predict the reading flags"
        ),
    }
    Ok(())
}
