//! Weighted exponential-survival regression: the original Vectorflow blog's headline
//! example, on synthetic data with a known hazard.
//!
//! ```text
//! cargo run --release --example survival [-- --rows N] [--dir D]
//! ```
//!
//! Each row is a customer with a few categorical attributes (country, device, plan,
//! tenure bucket, and a high-cardinality segment id), a right-censored duration and a
//! weight. The true log-hazard is a sum of per-attribute effects plus interactions;
//! the duration is drawn from an exponential with that rate and cut at a fixed horizon.
//! The loss is the weighted exponential negative log-likelihood, written as a closure;
//! the network's output is the log of the hazard rate.
//!
//! Three models, as in the blog (rates and passes tuned by hand on this data):
//! - (a) a linear model on a tiny feature set (country and device, 513 parameters);
//! - (b) a linear model on ~1M hashed parameters (every field and a few crosses);
//! - (c) a shallow net with ~10M parameters, trained on twice the data (or `--rows N`),
//!   streamed from a CSV file the example writes first (in `--dir D`, by default the
//!   temporary directory; removed at the end): the first pass reads the file and writes
//!   the binary cache, the second reads the cache. The loss reads each row's duration,
//!   which the file's rows carry as an `#[aux]` field, since a streamed row is hashed
//!   as it is read; memory stays bounded by the chunk size, whatever `N`.
//!
//! Models (a) and (b) train on the first 200,000 rows held in memory. Each model is
//! scored by the weighted mean log-likelihood per row on held-out rows, next to the
//! log-likelihood of the true hazard (the best any model can do).

#[path = "common/rss.rs"]
mod rss;

use std::path::PathBuf;
use std::time::Instant;
use vectorflow::io::SerdeStream;
use vectorflow::prelude::*;
use vectorflow::rng::Rng;
use vectorflow::train::StreamRow;

const COUNTRIES: usize = 50;
const DEVICES: usize = 10;
const PLANS: usize = 5;
const TENURES: usize = 12;
const SEGMENTS: usize = 200_000;
/// Durations are right-censored at this horizon.
const HORIZON: f32 = 1.0;

const TRAIN_SMALL: usize = 200_000;
const TRAIN_LARGE: usize = 2 * TRAIN_SMALL;
const TEST: usize = 100_000;

/// One customer: every attribute hashed, plus crosses for the pairwise interactions; a
/// line of the training file (the true log-hazard is not written).
#[allow(clippy::duplicated_attributes)]
#[derive(Features, Clone, serde::Serialize, serde::Deserialize)]
#[features(
    cross(country, device),
    cross(device, plan),
    cross(country, plan),
    cross(plan, tenure)
)]
struct Customer {
    #[weight]
    w: f32,
    #[hash]
    country: u16,
    #[hash]
    device: u8,
    #[hash]
    plan: u8,
    #[hash]
    tenure: u8,
    #[hash]
    segment: u32,
    /// 1 if the event was seen before the horizon, 0 if censored.
    #[label]
    observed: f32,
    /// The time to the event, or the horizon if censored: kept beside each streamed row
    /// (`CustomerAux`) for the loss.
    #[aux]
    duration: f32,
    /// The true log-hazard (never shown to the models).
    #[skip]
    #[serde(skip)]
    log_hazard: f32,
}

/// The same customer seen through a tiny feature set: country and device only.
#[derive(Features)]
struct Tiny {
    #[weight]
    w: f32,
    #[hash]
    country: u16,
    #[hash]
    device: u8,
    #[skip]
    observed: f32,
    #[skip]
    duration: f32,
}

/// What the survival loss reads from a row.
trait Survival {
    /// (weight, observed, duration)
    fn outcome(&self) -> (f32, f32, f32);
}

impl Survival for Customer {
    fn outcome(&self) -> (f32, f32, f32) {
        (self.w, self.observed, self.duration)
    }
}

impl Survival for Tiny {
    fn outcome(&self) -> (f32, f32, f32) {
        (self.w, self.observed, self.duration)
    }
}

/// A customer streamed from the file: hashed as it was read, its weight, label
/// (`observed`) and `#[aux]` duration are what the loss sees.
impl Survival for StreamRow<CustomerAux> {
    fn outcome(&self) -> (f32, f32, f32) {
        (self.weight, self.label, self.aux.duration)
    }
}

/// The weighted exponential-survival negative log-likelihood as a closure loss:
/// `out[0]` is the log of the hazard rate; the log-likelihood of one row is
/// `observed · log_rate − rate · duration`.
fn survival<R: Survival>() -> impl Fn(&[f32; 1], &R, &mut [f32; 1]) -> f32 + Sync + Copy {
    |out: &[f32; 1], r: &R, grad: &mut [f32; 1]| -> f32 {
        let (w, observed, duration) = r.outcome();
        let log_rate = out[0];
        grad[0] = w * (log_rate.exp() * duration - observed);
        w * (log_rate.exp() * duration - observed * log_rate)
    }
}

/// The true effects of the synthetic world.
struct World {
    country: Vec<f32>,
    device: Vec<f32>,
    plan: Vec<f32>,
    tenure: Vec<f32>,
    segment: Vec<f32>,
    device_plan: Vec<f32>,
    country_plan: Vec<f32>,
}

impl World {
    fn new(rng: &mut Rng) -> World {
        fn effects(rng: &mut Rng, n: usize, sd: f32) -> Vec<f32> {
            (0..n).map(|_| sd * rng.normal()).collect()
        }
        World {
            country: effects(rng, COUNTRIES, 0.5),
            device: effects(rng, DEVICES, 0.3),
            plan: effects(rng, PLANS, 0.4),
            // Hazard falls with tenure, with noise.
            tenure: (0..TENURES)
                .map(|t| 0.6 - 0.1 * t as f32 + 0.1 * rng.normal())
                .collect(),
            segment: effects(rng, SEGMENTS, 0.6),
            device_plan: effects(rng, DEVICES * PLANS, 0.5),
            country_plan: effects(rng, COUNTRIES * PLANS, 0.4),
        }
    }

    fn customer(&self, rng: &mut Rng) -> Customer {
        let country = rng.below(COUNTRIES);
        let device = rng.below(DEVICES);
        let plan = rng.below(PLANS);
        let tenure = rng.below(TENURES);
        // Segments are skewed: a few are large, most are rare.
        let segment = ((SEGMENTS as f64) * rng.uniform_open().powi(3)) as usize;
        let log_hazard = (-0.5
            + self.country[country]
            + self.device[device]
            + self.plan[plan]
            + self.tenure[tenure]
            + self.segment[segment]
            + self.device_plan[device * PLANS + plan]
            + self.country_plan[country * PLANS + plan]
            // A non-additive term no cross of the linear model holds: the segment's
            // effect is amplified in high-risk countries.
            + (self.country[country] + self.segment[segment]).max(0.0))
        .clamp(-4.0, 3.0);
        let t = -(rng.uniform_open().ln() as f32) / log_hazard.exp();
        let (observed, duration) = if t < HORIZON {
            (1.0, t)
        } else {
            (0.0, HORIZON)
        };
        Customer {
            // Importance weights: a quarter of the rows stand for two customers.
            w: if rng.below(4) == 0 { 2.0 } else { 1.0 },
            country: country as u16,
            device: device as u8,
            plan: plan as u8,
            tenure: tenure as u8,
            segment: segment as u32,
            observed,
            duration,
            log_hazard,
        }
    }
}

fn tiny(c: &Customer) -> Tiny {
    Tiny {
        w: c.w,
        country: c.country,
        device: c.device,
        observed: c.observed,
        duration: c.duration,
    }
}

/// Weighted mean log-likelihood per row of the log-rates `log_rates` on `rows`.
fn log_likelihood(rows: &[Customer], log_rates: impl Iterator<Item = f32>) -> f64 {
    let loss = survival::<Customer>();
    let (mut ll, mut w) = (0.0f64, 0.0f64);
    for (r, lr) in rows.iter().zip(log_rates) {
        ll -= loss(&[lr], r, &mut [0.0]) as f64;
        w += r.w as f64;
    }
    ll / w
}

struct Scored {
    name: &'static str,
    params: usize,
    rows: usize,
    seconds: f64,
    ll: f64,
    log_rates: Vec<f32>,
}

/// The command line: how many rows (c) streams, and where its file and cache go.
struct Args {
    rows: usize,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rows: TRAIN_LARGE,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rows" => {
                args.rows = value
                    .parse()
                    .ok()
                    .filter(|&n| n >= TRAIN_SMALL)
                    .ok_or(format!(
                        "--rows takes a number of rows of at least {TRAIN_SMALL}, not `{value}`"
                    ))?
            }
            "--dir" => args.dir = PathBuf::from(value),
            _ => {
                return Err(format!(
                    "unknown option {flag}; expected --rows N or --dir D"
                ))
            }
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().map_err(|e| format!("{e}\nusage: survival [--rows N] [--dir D]"))?;
    let total = Instant::now();
    let mut rng = Rng::new(2017);
    let world = World::new(&mut rng);

    // The training rows go to a file as they are drawn; the first TRAIN_SMALL stay in
    // memory for (a) and (b), and the best constant hazard is summed on the way.
    let file = args
        .dir
        .join(format!("vectorflow-survival-{}.csv", std::process::id()));
    let cache = file.with_extension("vfcache");
    let mut writer = csv::Writer::from_path(&file)?;
    let mut train = Vec::with_capacity(TRAIN_SMALL);
    let (mut observed, mut events, mut exposure) = (0usize, 0.0f64, 0.0f64);
    for _ in 0..args.rows {
        let c = world.customer(&mut rng);
        writer.serialize(&c)?;
        observed += (c.observed > 0.0) as usize;
        events += (c.w * c.observed) as f64;
        exposure += (c.w * c.duration) as f64;
        if train.len() < TRAIN_SMALL {
            train.push(c);
        }
    }
    writer.flush()?;
    drop(writer);
    let test: Vec<Customer> = (0..TEST).map(|_| world.customer(&mut rng)).collect();
    let file_mb = std::fs::metadata(&file)?.len() as f64 / 1e6;
    println!(
        "synthetic survival data: {} training rows ({file_mb:.0} MB of CSV in {}), {} test rows, {:.0}% events observed before the horizon",
        args.rows,
        file.display(),
        TEST,
        100.0 * observed as f64 / args.rows as f64
    );

    let mut scored = Vec::new();

    // (c) A shallow net with ~10M parameters on all the rows, streamed from the file:
    // pass 1 parses the CSV and writes the cache, pass 2 reads the cache.
    let streamed = {
        type Model = network![Sparse<{ 1 << 19 }> => Linear<20> => ReLU => Linear<1>];
        let mut net = Model::new(Init::uniform(0.05).seed(7));
        let mut rows = SerdeStream::<Customer>::csv(&file)?;
        let t = Instant::now();
        let report = Trainer::new(AdaGrad::new(0.02))
            .passes(2)
            .seed(1)
            .cache(&cache)
            .progress(Progress::Silent)
            .fit_stream(&mut net, &mut rows, survival::<StreamRow<CustomerAux>>());
        let seconds = t.elapsed().as_secs_f64();
        let cache_mb = std::fs::metadata(&cache).map_or(0.0, |m| m.len() as f64 / 1e6);
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_file(&cache);
        let report = report?;
        let log_rates = test
            .iter()
            .map(|r| net.predict(r).map(|[o]| o))
            .collect::<Result<Vec<_>, _>>()?;
        scored.push(Scored {
            name: "(c) net 20 ReLU, streamed",
            params: Model::PARAMS,
            rows: args.rows,
            seconds,
            ll: log_likelihood(&test, log_rates.iter().copied()),
            log_rates,
        });
        let passes: Vec<String> = report
            .passes
            .iter()
            .map(|p| format!("{:.2} s", p.seconds))
            .collect();
        (
            passes.join(" (CSV, writing the cache), then ") + " (cache)",
            cache_mb,
        )
    };
    // Peak memory so far: the streamed fit, plus the rows (a) and (b) hold and the test rows.
    let streamed_rss = rss::max_rss_mb();

    // (a) A linear model on a tiny feature set.
    {
        type Model = network![Sparse<512> => Linear<1>];
        let rows: Vec<Tiny> = train.iter().map(tiny).collect();
        let mut net = Model::new(Init::zeros());
        let t = Instant::now();
        Trainer::new(AdaGrad::new(0.1))
            .passes(3)
            .seed(1)
            .progress(Progress::Silent)
            .fit(&mut net, &rows, survival::<Tiny>())?;
        let seconds = t.elapsed().as_secs_f64();
        let log_rates = test
            .iter()
            .map(|r| net.predict(&tiny(r)).map(|[o]| o))
            .collect::<Result<Vec<_>, _>>()?;
        scored.insert(
            0,
            Scored {
                name: "(a) linear, tiny features",
                params: Model::PARAMS,
                rows: TRAIN_SMALL,
                seconds,
                ll: log_likelihood(&test, log_rates.iter().copied()),
                log_rates,
            },
        );
    }

    // (b) A linear model on ~1M hashed parameters: every field and the crosses.
    {
        type Model = network![Sparse<{ 1 << 20 }> => Linear<1>];
        let mut net = Model::new(Init::zeros());
        let t = Instant::now();
        Trainer::new(AdaGrad::new(0.1))
            .passes(3)
            .seed(1)
            .progress(Progress::Silent)
            .fit(&mut net, &train, survival::<Customer>())?;
        let seconds = t.elapsed().as_secs_f64();
        let log_rates = test
            .iter()
            .map(|r| net.predict(r).map(|[o]| o))
            .collect::<Result<Vec<_>, _>>()?;
        scored.insert(
            1,
            Scored {
                name: "(b) linear, 1M hashed",
                params: Model::PARAMS,
                rows: TRAIN_SMALL,
                seconds,
                ll: log_likelihood(&test, log_rates.iter().copied()),
                log_rates,
            },
        );
    }

    let oracle = log_likelihood(&test, test.iter().map(|r| r.log_hazard));
    // The best constant hazard: events / exposure (weighted).
    let mean_rate = (events / exposure).ln() as f32;
    let constant = log_likelihood(&test, std::iter::repeat(mean_rate));

    println!();
    println!(
        "{:<28} {:>12} {:>10} {:>9} {:>16}",
        "model", "parameters", "train rows", "train s", "test LL per row"
    );
    println!(
        "{:<28} {:>12} {:>10} {:>9} {:>16.5}",
        "constant hazard", 1, args.rows, "-", constant
    );
    for s in &scored {
        println!(
            "{:<28} {:>12} {:>10} {:>9.2} {:>16.5}",
            s.name, s.params, s.rows, s.seconds, s.ll
        );
    }
    println!(
        "{:<28} {:>12} {:>10} {:>9} {:>16.5}",
        "true hazard (oracle)", "-", "-", "-", oracle
    );
    let (passes, cache_mb) = streamed;
    println!();
    println!(
        "(c) streamed {} rows: {passes}; cache {cache_mb:.0} MB; peak RSS {streamed_rss:.0} MB \
         (with the {} in-memory rows of (a), (b) and the test)",
        args.rows,
        TRAIN_SMALL + TEST
    );

    println!();
    println!("hazard exp(out) on a few test rows:");
    println!(
        "{:>7} {:>6} {:>4} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "country", "device", "plan", "tenure", "segment", "true", "(a)", "(b)", "(c)"
    );
    for (i, r) in test.iter().enumerate().take(8) {
        println!(
            "{:>7} {:>6} {:>4} {:>6} {:>7} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            r.country,
            r.device,
            r.plan,
            r.tenure,
            r.segment,
            r.log_hazard.exp(),
            scored[0].log_rates[i].exp(),
            scored[1].log_rates[i].exp(),
            scored[2].log_rates[i].exp()
        );
    }
    println!();
    println!("total {:.1} s", total.elapsed().as_secs_f64());
    Ok(())
}
