//! Quickstart: will a flight from New York arrive more than 15 minutes late?
//!
//! Reads `data/flights_sample.csv` (a CC0 sample of nycflights13, see `data/README.md`)
//! with `vectorflow::io::CsvReader` into zero-copy rows, splits them 80/20, trains a hashed logistic
//! regression and a small neural net, and compares both with the constant prediction.
//! It also lists, by name, the features the logistic regression leans on most, and takes
//! one test flight's prediction apart feature by feature.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

#[path = "common/flights.rs"]
mod flights;

use flights::Flight;
use std::error::Error;
use std::process::ExitCode;
use vectorflow::io::CsvReader;
use vectorflow::metrics;
use vectorflow::prelude::*;

type LogReg = network![Sparse<{ 1 << 20 }> => Linear<1>];
type Mlp = network![Sparse<{ 1 << 20 }> => Linear<16> => ReLU => Linear<1>];

/// One line about a finished training run.
fn summary(report: &TrainReport) {
    println!(
        "trained in {:.2} s; kept the weights of pass {} of {}{}",
        report.seconds(),
        report.best_pass,
        report.passes.len(),
        if report.stopped_early {
            " (early stopping)"
        } else {
            ""
        },
    );
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let path = flights::path();
    let shown = path.display();

    // Every row, in memory: the rows borrow their text from the reader (and are
    // shuffled before the split). Errors name the file, line and field.
    let mut reader = CsvReader::open(&path)?;
    let rows: Vec<Flight> = reader.read_all()?;
    let records = rows.len();
    // A seeded 80/20 split.
    let (train, test) = flights::split(rows);
    let pos_rate = train.iter().filter(|r| r.delayed).count() as f32 / train.len().max(1) as f32;
    println!(
        "{} flights from {shown}: {} to train, {} to test; {:.1}% of training flights delayed",
        records,
        train.len(),
        test.len(),
        100.0 * pos_rate,
    );

    let labels: Vec<f32> = test.iter().map(|r| r.delayed as u8 as f32).collect();
    let constant = metrics::binary(&vec![pos_rate; test.len()], &labels);

    println!("\nlogistic regression");
    let mut lr = LogReg::new(Init::zeros());
    let report = Trainer::new(AdaGrad::new(0.05))
        .passes(8)
        .early_stopping(1)
        .threads(1)
        .holdout(Holdout::EveryKth(10))
        .progress(Progress::Auto)
        .seed(7)
        .fit(&mut lr, &train, Logistic)?;
    let lr_probs = test
        .iter()
        .map(|r| Ok(vectorflow::loss::sigmoid(lr.predict(r)?[0])))
        .collect::<Result<Vec<f32>, FeatureError>>()?;
    let lr_test = metrics::binary(&lr_probs, &labels);
    summary(&report);

    // What the model learnt, by name: the features that moved the test flights' log-odds
    // most, and one flight's prediction taken apart.
    println!("\n{}", top_features(&lr, &test, 10, Rank::Contributions)?);
    let (flight, audit) = (&test[0], audit(&lr, &test[0])?);
    print!(
        "why the model gives {} {} from {} to {} a {:.0}% chance of delay (log-odds):\n{audit}",
        flight.carrier,
        flight.flight,
        flight.origin,
        flight.dest,
        100.0 * vectorflow::loss::sigmoid(audit.output[0]),
    );

    println!("\nneural net: 16 hidden ReLU units");
    let mut mlp = Mlp::new(Init::uniform(0.05).seed(7));
    let report = Trainer::new(AdaGrad::new(0.02))
        .passes(8)
        .early_stopping(1)
        .threads(1)
        .holdout(Holdout::EveryKth(10))
        .progress(Progress::Auto)
        .seed(7)
        .fit(&mut mlp, &train, Logistic)?;
    let mlp_probs = test
        .iter()
        .map(|r| Ok(vectorflow::loss::sigmoid(mlp.predict(r)?[0])))
        .collect::<Result<Vec<f32>, FeatureError>>()?;
    let mlp_test = metrics::binary(&mlp_probs, &labels);
    summary(&report);

    println!("\non the {} test flights:", test.len());
    println!("{:<28} {:>8} {:>9} {:>6}", "", "logloss", "accuracy", "AUC");
    for (name, m) in [
        ("constant (training rate)", constant),
        ("logistic regression", lr_test),
        ("neural net", mlp_test),
    ] {
        println!(
            "{name:<28} {:>8.4} {:>9.4} {:>6.4}",
            m.logloss, m.accuracy, m.auc
        );
    }
    Ok(())
}
