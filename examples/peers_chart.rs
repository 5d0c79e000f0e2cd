//! The side-by-side table and chart of `bench/peers.sh`: reads its runs (TSV), prints a
//! markdown table of medians and draws test log loss against wall time as SVG.
//!
//! ```text
//! cargo run --release --example peers_chart -- --tsv bench/peers.tsv --svg bench/peers.svg
//! ```

use plotters::prelude::*;
use std::process::ExitCode;

/// One (system, setting) with the runs' figures.
struct Setting {
    system: String,
    setting: String,
    /// wall_s, rss_mb, logloss, accuracy, auc of each run.
    runs: Vec<[f64; 5]>,
}

impl Setting {
    fn median(&self, k: usize) -> f64 {
        let mut v: Vec<f64> = self.runs.iter().map(|r| r[k]).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
}

fn read(path: &str) -> Result<Vec<Setting>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out: Vec<Setting> = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 8 {
            return Err(format!(
                "{path}:{}: expected 8 tab-separated fields, found {}",
                i + 1,
                f.len()
            ));
        }
        let mut run = [0.0; 5];
        for (k, (v, name)) in f[3..]
            .iter()
            .zip(["wall_s", "rss_mb", "logloss", "accuracy", "auc"])
            .enumerate()
        {
            run[k] = v
                .parse()
                .map_err(|_| format!("{path}:{}: {name}: expected a number, found {v:?}", i + 1))?;
        }
        match out
            .iter_mut()
            .find(|s| s.system == f[0] && s.setting == f[1])
        {
            Some(s) => s.runs.push(run),
            None => out.push(Setting {
                system: f[0].into(),
                setting: f[1].into(),
                runs: vec![run],
            }),
        }
    }
    if out.is_empty() {
        return Err(format!("{path}: no runs"));
    }
    Ok(out)
}

fn table(settings: &[Setting]) -> String {
    let mut t = String::from(
        "| system | setting | runs | wall s (parse + train + predict) | peak RSS MB | test logloss | accuracy | AUC |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for s in settings {
        t += &format!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.4} | {:.4} | {:.4} |\n",
            s.system,
            s.setting,
            s.runs.len(),
            s.median(0),
            s.median(1),
            s.median(2),
            s.median(3),
            s.median(4)
        );
    }
    t
}

fn chart(settings: &[Setting], path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let points: Vec<(f64, f64)> = settings
        .iter()
        .map(|s| (s.median(0), s.median(2)))
        .collect();
    let (tmin, tmax) = points
        .iter()
        .fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (lmin, lmax) = points
        .iter()
        .fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let pad = ((lmax - lmin) * 0.1).max(0.005);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Test log loss against wall time (parse + train + predict)",
            ("sans-serif", 22),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(
            (tmin / 1.6..tmax * 1.6).log_scale(),
            (lmin - pad)..(lmax + pad),
        )?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_labels(12)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("wall time, seconds (log scale)")
        .y_desc("test log loss (lower is better)")
        .y_label_formatter(&|v| format!("{v:.3}"))
        .draw()?;
    let systems: Vec<&str> = settings.iter().fold(Vec::new(), |mut v, s| {
        if !v.contains(&s.system.as_str()) {
            v.push(&s.system);
        }
        v
    });
    // Labels alternate above and below in order of time, so neighbours do not collide.
    let mut by_time: Vec<usize> = (0..points.len()).collect();
    by_time.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
    let mut above = vec![false; points.len()];
    for (k, &i) in by_time.iter().enumerate() {
        above[i] = k % 2 == 0;
    }
    for (k, system) in systems.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let mine: Vec<(&Setting, (f64, f64), bool)> = settings
            .iter()
            .zip(points.iter().copied())
            .zip(above.iter().copied())
            .map(|((s, p), a)| (s, p, a))
            .filter(|(s, _, _)| s.system == *system)
            .collect();
        chart
            .draw_series(mine.iter().map(|&(s, p, above)| {
                let label = s.setting.clone();
                EmptyElement::at(p)
                    + Circle::new((0, 0), 5, color.filled())
                    + Text::new(label, (7, if above { -17 } else { 4 }), ("sans-serif", 13))
            }))?
            .label(*system)
            .legend(move |(x, y)| Circle::new((x, y), 5, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn run() -> Result<(), String> {
    let (mut tsv, mut svg) = ("bench/peers.tsv".to_string(), "bench/peers.svg".to_string());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--tsv" => tsv = value,
            "--svg" => svg = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let settings = read(&tsv)?;
    chart(&settings, &svg).map_err(|e| format!("{svg}: {e}"))?;
    print!("{}", table(&settings));
    println!(
        "\n![test log loss against wall time]({})",
        svg.trim_start_matches("bench/")
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peers_chart: {e}");
            ExitCode::FAILURE
        }
    }
}
