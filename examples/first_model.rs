//! A first program: read flights from a CSV file, train a hashed logistic regression,
//! print its test AUC, save it, load it back and check the copy predicts the same.
//! The README's "A first program" section is this file.
//!
//! ```text
//! cargo run --release --example first_model                  # data/flights_sample.csv
//! cargo run --release --example first_model -- my_flights.csv
//! ```

use std::error::Error;
use vectorflow::io::CsvReader;
use vectorflow::metrics;
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

/// One row of the CSV file; text fields borrow from the file as read. Columns the struct
/// does not name (`year`, `tailnum`, ...) are skipped.
#[derive(serde::Deserialize, Features)]
#[features(cross(origin, dest), cross(month, day))] // hashed interactions
struct Flight<'a> {
    #[serde(skip)] // not a column: filled from arr_delay below
    #[label]
    delayed: bool,
    #[skip] // read, but not a feature: it is the answer
    arr_delay: f32,
    #[hash]
    month: u8,
    #[hash]
    day: u8,
    #[hash]
    hour: u8,
    #[hash]
    carrier: &'a str,
    #[hash]
    origin: &'a str,
    #[hash]
    dest: &'a str,
    #[value]
    distance: f32,
}

type Model = network![Sparse<{ 1 << 20 }> => Linear<1>];

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1);
    let path = path.as_deref().unwrap_or("data/flights_sample.csv");

    // Every row of the file; an error names the file, line and field.
    let mut reader = CsvReader::open(path)?;
    let mut rows: Vec<Flight> = reader.read_all()?;
    for r in &mut rows {
        r.delayed = r.arr_delay > 15.0;
        r.distance /= 1000.0; // thousands of miles: the scale of the one-hot features
    }
    Rng::new(42).shuffle(&mut rows);
    let test = rows.split_off(rows.len() * 4 / 5);
    let train = rows;

    let mut net = Model::new(Init::zeros());
    let report = Trainer::new(AdaGrad::new(0.05))
        .passes(5)
        .holdout(Holdout::EveryKth(10))
        .early_stopping(1)
        .progress(Progress::Silent)
        .fit(&mut net, &train, Logistic)?;

    let labels: Vec<f32> = test
        .iter()
        .map(|r| f32::from(u8::from(r.delayed)))
        .collect();
    let scores = test
        .iter()
        .map(|r| Ok(net.predict(r)?[0]))
        .collect::<Result<Vec<f32>, FeatureError>>()?;
    let auc = metrics::auc(&scores, &labels);
    println!(
        "{} training rows, {} passes; test AUC {auc:.4} on {} rows",
        train.len(),
        report.passes.len(),
        test.len()
    );

    let file = std::env::temp_dir().join("first_model.vf");
    net.save(&file)?;
    let again = Model::load(&file)?;
    assert_eq!(again.predict(&test[0])?, net.predict(&test[0])?);
    println!("saved to {} and loaded back", file.display());
    Ok(())
}
