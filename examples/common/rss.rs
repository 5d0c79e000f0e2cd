//! Peak resident memory, for the benchmarks' `RESULT` lines (included with `#[path]`).

/// The peak resident memory of this process in MB (Linux's `VmHWM`; NaN elsewhere).
pub fn max_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
