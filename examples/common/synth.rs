//! Seeded synthetic sparse binary-classification data, the Rust counterpart of the
//! team's `gen_svm.py`: the same row model and the same hidden model, not the same bytes.
//!
//! Row model (a hashed bag of words, RCV1-like):
//! * a row draws `T ~ Uniform{tokens.0..=tokens.1}` tokens (40..=90 by default);
//! * each token has a rank `r` in `[0, dim)` with the truncated Zipf law of `gen_svm.py`,
//!   `P(r) ∝ (r+1)^(1-s) − (r+2)^(1-s)` (its continuous power law, binned), `s = 1.05`;
//! * rank → feature id by the same odd multiplicative bijection, so popular features are
//!   scattered over the id space;
//! * duplicate tokens are counted; value = count / ‖counts‖₂ (rows are L2-normalised);
//! * hidden model: weight `w_j = 8·N(0,1)` with probability 0.3, else 0, drawn from a
//!   SplitMix64 stream of `model_seed` exactly as `gen_svm.py` draws it;
//! * label = +1 if `x·w + bias + Logistic(0,1) noise > 0`, else −1; the default bias is
//!   minus the median margin of a 20k-row pilot, which balances the classes.
//!
//! Differences from `gen_svm.py`, all for speed: the 2^14 most frequent ranks come from
//! an alias table of the binned law (one random word and one cached table read per
//! token), the rest (a quarter of the tokens) from the script's inverse CDF; the hidden
//! weights are held as f32 (the margin is summed in f64); and every row has its own
//! random stream keyed by `(seed, row index)`, so any range of rows can be generated on
//! its own, in parallel, with the same result. The file for a seed is therefore the same
//! on every run and thread count, but not the Python script's file; its statistics are
//! (tests/synth.rs). Values are printed like C's `%.6g`.
//!
//! Included by `examples/gen_svm.rs` and `tests/synth.rs` with `#[path]`: it is a tool of
//! the benchmarks, not part of the library's API.

use std::io::{self, Write};
use std::ops::Range;
use std::sync::mpsc;

/// Parameters of the data set; [`Spec::default`] is `gen_svm.py`'s.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Size of the feature space: ids are `0..dim` (written 1-based).
    pub dim: u32,
    /// Inclusive range of tokens per row.
    pub tokens: (u32, u32),
    /// Exponent of the Zipf law.
    pub zipf_s: f64,
    /// Share of features with a non-zero hidden weight.
    pub p_nonzero: f64,
    /// Standard deviation of the non-zero hidden weights.
    pub w_scale: f64,
    /// Seed of the hidden model (shared by a train and a test file).
    pub model_seed: u64,
    /// Bias of the hidden model; `None` balances the classes with a pilot sample.
    pub bias: Option<f64>,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            dim: 1 << 20,
            tokens: (40, 90),
            zipf_s: 1.05,
            p_nonzero: 0.3,
            w_scale: 8.0,
            model_seed: 12345,
            bias: None,
        }
    }
}

impl Spec {
    /// The same spec with the token range scaled (keeping the default's width relative
    /// to its mean, 65 ± 25) so that rows hold about `nnz` distinct features on average.
    pub fn with_mean_nnz(mut self, nnz: f64) -> Result<Spec, String> {
        if !(nnz >= 1.0 && nnz < self.dim as f64 / 2.0) {
            return Err(format!(
                "--nnz {nnz}: expected a mean number of features per row in [1, {})",
                self.dim / 2
            ));
        }
        // ln(1 - p_r): E[distinct features of T tokens] = Σ_r 1 − (1 − p_r)^T.
        let log_miss: Vec<f64> = rank_probabilities(self.dim, self.zipf_s)
            .iter()
            .map(|&p| (-p).ln_1p())
            .collect();
        let distinct = |t: u32| -> f64 {
            let t = t as f64;
            log_miss.iter().map(|&l| -(t * l).exp_m1()).sum()
        };
        let range = |m: u32| (m - m * 25 / 65, m + m * 25 / 65);
        // Mean over the uniform token count by Simpson's rule: the curve is smooth.
        let mean = |m: u32| {
            let (lo, hi) = range(m);
            (distinct(lo) + 4.0 * distinct(m) + distinct(hi)) / 6.0
        };
        let (mut lo, mut hi) = (1u32, 2u32);
        while mean(hi) < nnz {
            lo = hi;
            hi = hi.saturating_mul(2);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if mean(mid) < nnz {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let m = if nnz - mean(lo) < mean(hi) - nnz {
            lo
        } else {
            hi
        };
        self.tokens = range(m);
        Ok(self)
    }
}

/// `P(rank = r)` for `r in 0..dim`: the continuous power law `x^-s` on `[1, dim+1)`
/// binned to integers, as `gen_svm.py` samples it.
pub fn rank_probabilities(dim: u32, s: f64) -> Vec<f64> {
    // G is an antiderivative of x^-s up to sign; P(r) = (G(r+1) − G(r+2)) / (G(1) − G(dim+1)).
    let g = |x: f64| {
        if (s - 1.0).abs() < 1e-12 {
            -x.ln()
        } else {
            x.powf(1.0 - s) / (1.0 - s)
        }
    };
    let total = g(dim as f64 + 1.0) - g(1.0);
    (0..dim)
        .map(|r| (g(r as f64 + 2.0) - g(r as f64 + 1.0)) / total)
        .collect()
}

/// The multiplier of the rank → id bijection: `gen_svm.py`'s odd constant, nudged to be
/// coprime with `dim` when `dim` is not a power of two.
fn bijection_multiplier(dim: u32) -> u64 {
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut m = 0x9E37_79B1u64;
    while gcd(m, dim as u64) != 1 {
        m += 2;
    }
    m
}

/// SplitMix64, the generator of `gen_svm.py`.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

/// The SplitMix64 output function: a strong 64-bit mixer.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SplitMix64 {
    /// A generator whose state starts at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The stream of row `row` of the file with seed `seed`: a state far from every other
    /// row's, so rows can be generated independently.
    pub fn for_row(seed: u64, row: u64) -> SplitMix64 {
        let key = mix64(seed.wrapping_mul(0x632B_E59B_D9B4_E019).wrapping_add(7));
        SplitMix64(mix64(key ^ mix64(row.wrapping_add(0x9E37_79B9_7F4A_7C15))))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in (0, 1): 53 random bits, never exactly 0 or 1.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 here).
    #[inline]
    fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * n as u64) >> 32) as u32
    }
}

/// One entry of the alias table: outcome `own` when the coin is below `keep`, else
/// `alias`. Outcomes are ranks below [`HEAD`], or [`TAIL`].
#[derive(Clone, Copy, Debug)]
struct Alias {
    keep: u32,
    own: u32,
    alias: u32,
}

/// Ranks sampled from the alias table; the table and their weights stay in cache. The
/// rarer ranks (about a quarter of the tokens at the defaults) come from the inverse CDF.
const HEAD: u32 = 1 << 14;

/// The alias outcome standing for "a rank of at least `HEAD`".
const TAIL: u32 = u32::MAX;

/// Inverse-CDF sampling of the ranks `HEAD..dim`, with `gen_svm.py`'s formula.
#[derive(Clone, Copy, Debug)]
struct Tail {
    /// `y = G(x)` is uniform on `[y0, y0 + dy)` for `x` in `[HEAD + 1, dim + 1)`.
    y0: f64,
    dy: f64,
    /// `x = y^inv` (or `e^y` when `s = 1`); `y^int_inv` by multiplications when `inv`
    /// is an integer up to rounding (−20 at s = 1.05), a fifth of the cost of `powf`.
    inv: f64,
    int_inv: Option<i32>,
    log: bool,
    last: u32,
}

impl Tail {
    fn new(dim: u32, s: f64) -> Tail {
        let log = (s - 1.0).abs() < 1e-12;
        let g = |x: f64| if log { x.ln() } else { x.powf(1.0 - s) };
        let y0 = g(HEAD.min(dim) as f64 + 1.0);
        Tail {
            y0,
            dy: g(dim as f64 + 1.0) - y0,
            inv: 1.0 / (1.0 - s),
            int_inv: Some((1.0 / (1.0 - s)).round())
                .filter(|r| (r - 1.0 / (1.0 - s)).abs() < 1e-9 && r.abs() < 64.0)
                .map(|r| r as i32),
            log,
            last: dim - 1,
        }
    }

    #[inline]
    fn sample(&self, u: f64) -> u32 {
        let y = self.y0 + u * self.dy;
        let x = match (self.log, self.int_inv) {
            (true, _) => y.exp(),
            (false, Some(k)) => y.powi(k),
            (false, None) => y.powf(self.inv),
        };
        // Rounding can put x a hair outside [HEAD + 1, dim + 1).
        ((x as u64).saturating_sub(1) as u32).clamp(HEAD, self.last)
    }
}

/// One generated row: sorted distinct 0-based ids, their token counts, and the label.
#[derive(Clone, Debug, Default)]
pub struct Row {
    /// Distinct feature ids, 0-based, ascending.
    pub ids: Vec<u32>,
    /// How many tokens fell on each id.
    pub counts: Vec<u32>,
    /// `1 / ‖counts‖₂`: value `k` is `counts[k] as f64 * norm`.
    pub norm: f64,
    /// +1 or −1.
    pub label: i8,
    /// The hidden model's log-odds for this row (bias included, noise excluded).
    pub margin: f64,
    ranks: Vec<u32>,
    tokens: Vec<u32>,
}

impl Row {
    /// The L2-normalised values, parallel to `ids`.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.counts.iter().map(|&c| c as f64 * self.norm)
    }
}

/// Totals over generated rows, as `gen_svm.py` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Rows generated.
    pub rows: u64,
    /// Non-zeros generated.
    pub nnz: u64,
    /// Positive rows.
    pub positives: u64,
    /// Rows whose label the hidden model (margin > 0) gets right.
    pub oracle_correct: u64,
    /// Sum of the hidden model's log loss.
    pub oracle_logloss: f64,
}

impl Stats {
    fn add(&mut self, r: &Row) {
        self.rows += 1;
        self.nnz += r.ids.len() as u64;
        self.positives += (r.label > 0) as u64;
        self.oracle_correct += ((r.margin > 0.0) == (r.label > 0)) as u64;
        let z = r.label as f64 * r.margin;
        self.oracle_logloss += if z > -30.0 { (-z).exp().ln_1p() } else { -z };
    }

    fn merge(&mut self, o: &Stats) {
        self.rows += o.rows;
        self.nnz += o.nnz;
        self.positives += o.positives;
        self.oracle_correct += o.oracle_correct;
        self.oracle_logloss += o.oracle_logloss;
    }

    /// One line in `gen_svm.py`'s words.
    pub fn summary(&self) -> String {
        let n = self.rows.max(1) as f64;
        format!(
            "rows={} avg_nnz={:.2} pos_frac={:.4} oracle_acc={:.4} oracle_logloss={:.4}",
            self.rows,
            self.nnz as f64 / n,
            self.positives as f64 / n,
            self.oracle_correct as f64 / n,
            self.oracle_logloss / n
        )
    }
}

/// Output text format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `label id:value ...` with 1-based ids.
    Svm,
    /// Vowpal Wabbit: `label |f id:value ...`, the same ids and values.
    Vw,
}

/// A data set: the sampling tables and the hidden model of a [`Spec`].
pub struct Generator {
    spec: Spec,
    table: Vec<Alias>,
    tail: Tail,
    /// Hidden weights by rank (not by id), so the frequent ones share cache lines; f32
    /// halves the footprint of the rare ones (the margin is still summed in f64).
    weights: Vec<f32>,
    bias: f64,
    multiplier: u64,
    /// `dim − 1` when `dim` is a power of two: the bijection is then a mask, not a `%`.
    mask: Option<u64>,
}

/// Rows per unit of parallel work when writing (about 15 MB of text).
const CHUNK: u64 = 16_384;

impl Generator {
    /// Builds the tables of `spec` (about 0.1 s for 2^20 features).
    pub fn new(spec: Spec) -> Result<Generator, String> {
        if spec.dim == 0 || spec.tokens.0 == 0 || spec.tokens.0 > spec.tokens.1 {
            return Err(format!(
                "need dim ≥ 1 and 1 ≤ tokens_min ≤ tokens_max, got dim {} tokens {:?}",
                spec.dim, spec.tokens
            ));
        }
        let multiplier = bijection_multiplier(spec.dim);
        let mut p = rank_probabilities(spec.dim, spec.zipf_s);
        if p.len() > HEAD as usize {
            let tail: f64 = p[HEAD as usize..].iter().sum();
            p.truncate(HEAD as usize);
            p.push(tail);
        }
        let table = alias_table(&p);
        let by_id = hidden_weights(spec.dim, spec.model_seed, spec.p_nonzero, spec.w_scale);
        let mut g = Generator {
            tail: Tail::new(spec.dim, spec.zipf_s),
            table,
            weights: Vec::new(),
            bias: 0.0,
            multiplier,
            mask: spec.dim.is_power_of_two().then(|| spec.dim as u64 - 1),
            spec,
        };
        g.weights = (0..g.spec.dim)
            .map(|r| by_id[g.id_of_rank(r) as usize] as f32)
            .collect();
        g.bias = match g.spec.bias {
            Some(b) => b,
            None => {
                let mut pilot = SplitMix64::new(g.spec.model_seed ^ 0x5_DEEC_E66D);
                let mut row = Row::default();
                let mut margins: Vec<f64> = (0..20_000)
                    .map(|_| {
                        g.draw(&mut pilot, &mut row);
                        row.margin
                    })
                    .collect();
                margins.sort_by(f64::total_cmp);
                -margins[margins.len() / 2]
            }
        };
        Ok(g)
    }

    /// The spec this generator was built from.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The hidden model's bias.
    pub fn bias(&self) -> f64 {
        self.bias
    }

    /// The 0-based id of the feature of Zipf rank `rank` (0 is the most frequent).
    #[inline]
    pub fn id_of_rank(&self, rank: u32) -> u32 {
        let x = rank as u64 * self.multiplier;
        (match self.mask {
            Some(m) => x & m,
            None => x % self.spec.dim as u64,
        }) as u32
    }

    /// Draws one row from `rng` into `row`, reusing its buffers.
    pub fn draw(&self, rng: &mut SplitMix64, row: &mut Row) {
        let (lo, hi) = self.spec.tokens;
        let t = lo + rng.below(hi - lo + 1);
        let n = self.table.len() as u64;
        row.ranks.clear();
        for _ in 0..t {
            let u = rng.next_u64();
            let e = self.table[(((u >> 32) * n) >> 32) as usize];
            let rank = if (u as u32) < e.keep { e.own } else { e.alias };
            row.ranks.push(if rank == TAIL {
                self.tail.sample(rng.uniform())
            } else {
                rank
            });
        }
        // The margin is norm · Σ_tokens w. A loop of its own keeps many of the rare
        // ranks' cache misses in flight at once.
        let wsum: f64 = row
            .ranks
            .iter()
            .map(|&r| self.weights[r as usize] as f64)
            .sum();
        row.tokens.clear();
        row.tokens
            .extend(row.ranks.iter().map(|&r| self.id_of_rank(r)));
        row.tokens.sort_unstable();
        row.ids.clear();
        row.counts.clear();
        for &id in &row.tokens {
            if row.ids.last() == Some(&id) {
                *row.counts.last_mut().expect("ids and counts grow together") += 1;
            } else {
                row.ids.push(id);
                row.counts.push(1);
            }
        }
        let sq: u64 = row.counts.iter().map(|&c| c as u64 * c as u64).sum();
        row.norm = 1.0 / (sq as f64).sqrt();
        let margin = self.bias + row.norm * wsum;
        row.margin = margin;
        let u = rng.uniform();
        row.label = if margin + (u / (1.0 - u)).ln() > 0.0 {
            1
        } else {
            -1
        };
    }

    /// Calls `f` on rows `rows` of the file with seed `seed`, in order.
    pub fn for_each_row(&self, seed: u64, rows: Range<u64>, mut f: impl FnMut(u64, &Row)) {
        let mut row = Row::default();
        for i in rows {
            self.draw(&mut SplitMix64::for_row(seed, i), &mut row);
            f(i, &row);
        }
    }

    /// Appends rows `rows` of seed `seed` to `out` as text; returns their totals.
    pub fn format_rows(
        &self,
        seed: u64,
        rows: Range<u64>,
        format: Format,
        out: &mut Vec<u8>,
    ) -> Stats {
        let mut stats = Stats::default();
        let mut values = ValueCache::default();
        self.for_each_row(seed, rows, |_, row| {
            stats.add(row);
            out.extend_from_slice(match (row.label > 0, format) {
                (true, Format::Svm) => b"1",
                (false, Format::Svm) => b"-1",
                (true, Format::Vw) => b"1 |f",
                (false, Format::Vw) => b"-1 |f",
            });
            values.clear();
            out.reserve(row.ids.len() * PIECE);
            for (&id, &c) in row.ids.iter().zip(&row.counts) {
                // Written in place at a fixed size, then trimmed: a few moves, no memcpy.
                let start = out.len();
                out.extend_from_slice(&[0u8; PIECE]);
                let piece = &mut out[start..];
                piece[0] = b' ';
                let n = write_u32(&mut piece[1..11], id + 1);
                piece[1 + n] = b':';
                let (text, len) = values.get(c, row.norm);
                piece[2 + n..2 + n + VALUE].copy_from_slice(text);
                out.truncate(start + 2 + n + len);
            }
            out.push(b'\n');
        });
        stats
    }

    /// Writes `rows` rows of seed `seed` to `out`, formatting on `threads` threads while
    /// the calling thread writes; the bytes do not depend on `threads`.
    pub fn write(
        &self,
        seed: u64,
        rows: u64,
        format: Format,
        threads: usize,
        out: &mut impl Write,
    ) -> io::Result<Stats> {
        let threads = threads.max(1);
        let chunks = rows.div_ceil(CHUNK);
        let mut stats = Stats::default();
        std::thread::scope(|s| {
            // Worker w formats chunks w, w + threads, ...; two buffers each circulate
            // between it and the writer, so formatting overlaps writing. When the writer
            // stops (an I/O error), the channels close and the workers return.
            let workers: Vec<_> = (0..threads)
                .map(|w| {
                    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, Stats)>(1);
                    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
                    for _ in 0..2 {
                        empty_tx.send(Vec::new()).expect("the receiver is alive");
                    }
                    s.spawn(move || {
                        for c in (w as u64..chunks).step_by(threads) {
                            let Ok(mut buf) = empty_rx.recv() else { return };
                            buf.clear();
                            let lo = c * CHUNK;
                            let st = self.format_rows(
                                seed,
                                lo..(lo + CHUNK).min(rows),
                                format,
                                &mut buf,
                            );
                            if full_tx.send((buf, st)).is_err() {
                                return;
                            }
                        }
                    });
                    (full_rx, empty_tx)
                })
                .collect();
            for c in 0..chunks {
                let (full, empty) = &workers[(c % threads as u64) as usize];
                let (buf, st) = full.recv().expect("a formatting thread panicked");
                out.write_all(&buf)?;
                stats.merge(&st);
                // The worker may be done with its chunks and gone: then the buffer drops.
                let _ = empty.send(buf);
            }
            Ok(stats)
        })
    }
}

/// The hidden weights, drawn exactly as `gen_svm.py` draws them.
fn hidden_weights(dim: u32, model_seed: u64, p_nonzero: f64, w_scale: f64) -> Vec<f64> {
    let mut g = SplitMix64::new(model_seed);
    (0..dim)
        .map(|_| {
            if g.uniform() < p_nonzero {
                let (u1, u2) = (g.uniform(), g.uniform());
                w_scale * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            } else {
                0.0
            }
        })
        .collect()
}

/// Vose's alias table of the distribution `p`: outcome `i` is rank `i`, except that a
/// last outcome beyond [`HEAD`] ranks is [`TAIL`].
fn alias_table(p: &[f64]) -> Vec<Alias> {
    let n = p.len();
    let outcome = |i: usize| if i == HEAD as usize { TAIL } else { i as u32 };
    let mut scaled: Vec<f64> = p.iter().map(|&q| q * n as f64).collect();
    let mut alias: Vec<usize> = (0..n).collect();
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
    while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
        alias[s] = l;
        scaled[l] -= 1.0 - scaled[s];
        if scaled[l] < 1.0 {
            large.pop();
            small.push(l);
        }
    }
    // Leftovers on either list are 1 up to rounding.
    for i in small.into_iter().chain(large) {
        scaled[i] = 1.0;
    }
    (0..n)
        .map(|i| Alias {
            keep: (scaled[i] * 4_294_967_296.0).min(u32::MAX as f64) as u32,
            own: outcome(i),
            alias: outcome(alias[i]),
        })
        .collect()
}

/// Bytes of one ` id:value` piece: a space, up to 10 digits, a colon and the value.
const PIECE: usize = 12 + VALUE;

/// Bytes reserved for a value's text (`%.6g` of a value in (0, 1] needs at most 12).
const VALUE: usize = 16;

/// The text of `count * norm` for the counts of one row (most rows have two or three
/// distinct counts, so each is formatted once).
#[derive(Default)]
struct ValueCache {
    entries: Vec<(u32, [u8; VALUE], usize)>,
}

impl ValueCache {
    fn clear(&mut self) {
        self.entries.clear();
    }

    /// The text, padded to [`VALUE`] bytes, and its length.
    fn get(&mut self, count: u32, norm: f64) -> (&[u8; VALUE], usize) {
        let k = match self.entries.iter().position(|e| e.0 == count) {
            Some(k) => k,
            None => {
                let mut buf = [0u8; VALUE];
                let len = format_g6(count as f64 * norm, &mut buf);
                self.entries.push((count, buf, len));
                self.entries.len() - 1
            }
        };
        let (_, buf, len) = &self.entries[k];
        (buf, *len)
    }
}

/// Writes `v` (positive) like C's `%.6g` into `buf`; returns the length.
fn format_g6(v: f64, buf: &mut [u8; VALUE]) -> usize {
    let mut e = v.log10().floor() as i32;
    if 10f64.powi(e) > v {
        e -= 1;
    } else if 10f64.powi(e + 1) <= v {
        e += 1;
    }
    let mut cur = io::Cursor::new(&mut buf[..]);
    if (-4..6).contains(&e) {
        let prec = (5 - e).max(0) as usize;
        write!(cur, "{v:.prec$}").expect("a 6-digit value fits");
        let mut len = cur.position() as usize;
        if prec > 0 {
            while buf[len - 1] == b'0' {
                len -= 1;
            }
            if buf[len - 1] == b'.' {
                len -= 1;
            }
        }
        len
    } else {
        // Only for values below 1e-4, i.e. rows of more than 10^8 tokens.
        write!(cur, "{v:.5e}").expect("a 6-digit value fits");
        cur.position() as usize
    }
}

/// Writes the decimal digits of `n` at the start of `out`; returns how many.
fn write_u32(out: &mut [u8], n: u32) -> usize {
    let len = n.checked_ilog10().unwrap_or(0) as usize + 1;
    let mut n = n;
    for d in out[..len].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    len
}
