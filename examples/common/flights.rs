//! The quickstart's flights: `data/flights_sample.csv` (a CC0 sample of nycflights13, see
//! `data/README.md`) as rows, and the seeded 80/20 split. Shared by
//! `examples/quickstart.rs` and `examples/autotune.rs`; included with `#[path]`.

use std::path::PathBuf;
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

/// The flights sample shipped in the repository.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/flights_sample.csv")
}

/// One flight, its text fields borrowed from the CSV record it was read from.
///
/// Columns of the file are read by serde; `weekday` and the label are computed after
/// reading (serde cannot), and `arr_delay` itself is not a feature: it is the answer.
/// Every feature is known before departure. The `date` cross (month × day) lets the
/// model learn each day's conditions (storms, congestion) from the other flights of that
/// day in the training rows; it is worth about 0.02 of test log loss on this random split.
#[derive(serde::Deserialize, Features)]
#[features(cross(origin, dest), cross(month, day, namespace = "date"))]
pub struct Flight<'a> {
    /// Arrival delay above 15 minutes (filled from `arr_delay`).
    #[serde(skip)]
    #[label]
    pub delayed: bool,
    #[skip]
    pub arr_delay: f32,
    #[skip]
    pub year: i32,
    #[hash]
    pub month: u8,
    #[hash]
    pub day: u8,
    /// 0 = Sunday (filled from the date).
    #[serde(skip)]
    #[hash]
    pub weekday: u8,
    /// Scheduled departure hour.
    #[hash]
    pub hour: u8,
    #[hash]
    pub carrier: &'a str,
    #[hash]
    pub flight: u16,
    #[hash]
    pub tailnum: &'a str,
    #[hash]
    pub origin: &'a str,
    #[hash]
    pub dest: &'a str,
    /// Miles in the file; thousands of miles once read, so its weight learns at the
    /// scale of the one-hot features.
    #[value]
    pub distance: f32,
}

/// Day of the week, 0 = Sunday (Sakamoto's method, Gregorian calendar).
pub fn weekday(year: i32, month: u8, day: u8) -> u8 {
    const T: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let m = month.clamp(1, 12) as usize;
    let y = if m < 3 { year - 1 } else { year };
    (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) + T[m - 1] + day as i32)
        .rem_euclid(7) as u8
}

/// Fills the computed fields of the rows as read (the label, the weekday, distance in
/// thousands of miles) and splits them 80/20 after a shuffle with seed 42: the training
/// and the test flights.
pub fn split<'a>(mut rows: Vec<Flight<'a>>) -> (Vec<Flight<'a>>, Vec<Flight<'a>>) {
    for row in &mut rows {
        row.delayed = row.arr_delay > 15.0;
        row.weekday = weekday(row.year, row.month, row.day);
        row.distance /= 1000.0;
    }
    Rng::new(42).shuffle(&mut rows);
    let test = rows.split_off(rows.len() * 4 / 5);
    (rows, test)
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
