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

use std::error::Error;
use std::path::Path;
use std::process::ExitCode;
use vectorflow::io::CsvReader;
use vectorflow::metrics;
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

/// One flight, its text fields borrowed from the CSV record it was read from.
///
/// Columns of the file are read by serde; `weekday` and the label are computed after
/// reading (serde cannot), and `arr_delay` itself is not a feature: it is the answer.
/// Every feature is known before departure. The `date` cross (month × day) lets the
/// model learn each day's conditions (storms, congestion) from the other flights of that
/// day in the training rows; it is worth about 0.02 of test log loss on this random split.
#[derive(serde::Deserialize, Features)]
#[features(cross(origin, dest), cross(month, day, namespace = "date"))]
struct Flight<'a> {
    /// Arrival delay above 15 minutes (filled from `arr_delay`).
    #[serde(skip)]
    #[label]
    delayed: bool,
    #[skip]
    arr_delay: f32,
    #[skip]
    year: i32,
    #[hash]
    month: u8,
    #[hash]
    day: u8,
    /// 0 = Sunday (filled from the date).
    #[serde(skip)]
    #[hash]
    weekday: u8,
    /// Scheduled departure hour.
    #[hash]
    hour: u8,
    #[hash]
    carrier: &'a str,
    #[hash]
    flight: u16,
    #[hash]
    tailnum: &'a str,
    #[hash]
    origin: &'a str,
    #[hash]
    dest: &'a str,
    /// Miles in the file; thousands of miles once read, so its weight learns at the
    /// scale of the one-hot features.
    #[value]
    distance: f32,
}

/// Day of the week, 0 = Sunday (Sakamoto's method, Gregorian calendar).
fn weekday(year: i32, month: u8, day: u8) -> u8 {
    const T: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let m = month.clamp(1, 12) as usize;
    let y = if m < 3 { year - 1 } else { year };
    (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) + T[m - 1] + day as i32)
        .rem_euclid(7) as u8
}

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
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/flights_sample.csv");
    let shown = path.display();

    // The whole file as one chunk, so that every row can borrow its text from it (and
    // be shuffled before the split). Errors name the file, line and field.
    let mut reader = CsvReader::open(&path)?.chunk_bytes(usize::MAX);
    let mut rows: Vec<Flight> = reader.next_rows()?.unwrap_or_default();
    let records = rows.len();
    for row in &mut rows {
        row.delayed = row.arr_delay > 15.0;
        row.weekday = weekday(row.year, row.month, row.day);
        row.distance /= 1000.0;
    }

    // A seeded 80/20 split.
    Rng::new(42).shuffle(&mut rows);
    let test = rows.split_off(rows.len() * 4 / 5);
    let train = rows;
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

#[cfg(test)]
mod tests {
    #[test]
    fn weekdays() {
        assert_eq!(super::weekday(2013, 1, 1), 2); // a Tuesday
        assert_eq!(super::weekday(2013, 12, 25), 3); // a Wednesday
        assert_eq!(super::weekday(2000, 2, 29), 2); // a Tuesday
    }
}
