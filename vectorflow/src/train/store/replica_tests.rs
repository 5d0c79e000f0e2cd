//! Tests of the replicas: marks, hot units, scans, and merges through them.

use super::super::rule::Rule;
use super::*;
use crate::optim::AdaGrad;
use crate::train::replicas::FULL_EVERY;

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

/// Adds `d` to weight `i` of the rest and `d²` to its state in replica `t`, as a
/// training step would.
fn bump(reps: &mut Replicas, t: usize, i: usize, d: f32) {
    let mut stores = reps.stores();
    let st = &mut stores[t];
    st.touch(0, i / UNIT);
    st.packed.rest.w[i] += d;
    st.packed.rest.s[0][i] += d * d;
}

#[test]
fn merges_combine_every_threads_changes_and_copy_them_back() {
    let n = 5 * UNIT + 3;
    let mut w: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut s = vec![vec![1.0f32; n]];
    let mut tables = Vec::new();
    macro_rules! master {
        () => {
            Master {
                w: &mut w,
                s: &mut s,
                tables: &mut tables,
            }
        };
    }
    let mut reps = Replicas::new(&pool(), 2, &master!());
    reps.found = true;
    bump(&mut reps, 0, 3, 0.5); // only thread 0
    bump(&mut reps, 1, 40, -2.0); // only thread 1
    bump(&mut reps, 0, 81, 1.0); // both, in the last, short unit
    bump(&mut reps, 1, 81, 3.0);
    reps.merge_all(&pool(), &mut master!(), &Rule::new::<AdaGrad>());
    let mut want: Vec<f32> = (0..n).map(|i| i as f32).collect();
    want[3] += 0.5;
    want[40] -= 2.0;
    // Both threads: AdaGrad's rule, each change rescaled from its own accumulator (2,
    // 10) to their sum, 11.
    want[81] += (1.0 * 2f32.sqrt() + 3.0 * 10f32.sqrt()) / 11f32.sqrt();
    assert_eq!(w, want);
    let s0 = &s[0];
    assert_eq!((s0[3], s0[40], s0[81], s0[0]), (1.25, 5.0, 11.0, 1.0));
    for r in &reps.threads {
        assert_eq!(r.w, want, "every replica holds the merged weights");
        assert_eq!(&r.s[0], s0);
        assert!(r.dirty.iter().flatten().all(|&d| d == 0));
    }
    // Nothing touched since: a second merge changes nothing.
    reps.merge_all(&pool(), &mut master!(), &Rule::new::<AdaGrad>());
    assert_eq!(w, want);
}

#[test]
fn hot_units_are_the_ones_many_rows_touch() {
    let n = 4 * UNIT;
    let (mut w, mut s) = (vec![0.0f32; n], vec![vec![0.0f32; n]]);
    let mut tables = Vec::new();
    let mut master = Master {
        w: &mut w,
        s: &mut s,
        tables: &mut tables,
    };
    let mut reps = Replicas::new(&pool(), 2, &master);
    // 640 rows: unit 1 touched by 20 of them (1/32), unit 2 by 5 (under 1/64).
    for k in 0..20 {
        reps.stores()[k % 2].touch(0, 1);
    }
    for k in 0..5 {
        reps.stores()[k % 2].touch(0, 2);
    }
    reps.merge_hot(
        &pool(),
        &mut master,
        640,
        FULL_EVERY,
        &Rule::new::<AdaGrad>(),
    );
    assert_eq!(reps.hot, [vec![1]]);
    assert!(reps.threads.iter().all(|r| r.counts.is_empty()));
}

#[test]
fn merges_cut_among_threads_keep_every_change() {
    use crate::layers::Block;
    use crate::rng::Rng;
    // The rest and a table (1024 rows of 2, packed with AdaGrad's state to 4
    // floats a row) are each several words of marks long, so each thread's piece
    // holds some of both.
    let n = 6000;
    let blocks = [Block {
        layer: 0,
        offset: 1000,
        len: 2048,
        row: Some(2),
    }];
    let mut rng = Rng::new(3);
    // Each coordinate is changed by one thread a round, whose change the merge keeps
    // exactly; multiples of 1/4 add exactly in any order.
    let quarter = |rng: &mut Rng, k: usize| (rng.below(k) as f32 - (k / 2) as f32) * 0.25;
    // Tables are marked or scanned; either way the same units merge.
    for (threads, scan) in [(2, false), (3, false), (2, true), (3, true)] {
        let mut w: Vec<f32> = (0..n).map(|_| quarter(&mut rng, 64)).collect();
        let s0: Vec<f32> = (0..n).map(|_| quarter(&mut rng, 64)).collect();
        let mut planes = vec![s0];
        let mut tables = crate::weights::laid_out(&AdaGrad::new(0.1), &blocks, &w, &planes);
        let mut master = Master {
            w: &mut w,
            s: &mut planes,
            tables: &mut tables,
        };
        let mut reps = Replicas::new(&pool(), threads, &master);
        reps.found = true;
        reps.scan = vec![false, scan];
        let (mut want_w, mut want_s0) = (master.w.to_vec(), master.s[0].to_vec());
        let mut want_t = master.tables[0].data.clone();
        let (mut all_w, mut all_t) = (want_w.clone(), want_t.clone());
        for round in 0..2 {
            for t in 0..threads {
                for _ in 0..300 {
                    let d = quarter(&mut rng, 16);
                    let st = &mut reps.stores()[t];
                    if quarter(&mut rng, 4) < 0.0 {
                        // A float of the rest outside the table's range.
                        let k = [rng.below(1000 / threads), rng.below((n - 3048) / threads)];
                        let i = [0, 3048][rng.below(2)];
                        let i = i + k[(i > 0) as usize] * threads + t;
                        st.touch(0, i / UNIT);
                        st.packed.rest.w[i] += d;
                        st.packed.rest.s[0][i] -= d;
                        if round == 0 || hot_unit(0, i / UNIT) {
                            want_w[i] += d;
                            want_s0[i] -= d;
                        }
                        all_w[i] += d;
                    } else {
                        // A float of one of the thread's rows.
                        let r = rng.below(1024 / threads) * threads + t;
                        let p = r * 4 + rng.below(4);
                        if !scan {
                            st.touch(1, p / UNIT);
                        }
                        st.packed.tables[0].data[p] += d;
                        if round == 0 || hot_unit(1, p / UNIT) {
                            want_t[p] += d;
                        }
                        all_t[p] += d;
                    }
                }
            }
            if round == 0 {
                reps.merge_all(&pool(), &mut master, &Rule::new::<AdaGrad>());
            } else {
                // Only the hot units: a few of the rest's, in every piece, and one
                // of the table's.
                reps.hot = vec![hot_units(0), hot_units(1)];
                reps.merge_hot(&pool(), &mut master, 0, FULL_EVERY, &Rule::new::<AdaGrad>());
            }
            let at = format!("{threads} threads, scan {scan}, round {round}");
            // The rest's floats in the table's range are stale while it is packed
            // (a unit that straddles its edge merges them too): they are not
            // compared.
            let rest = |v: &[f32]| [&v[..1000], &v[3048..]].concat();
            same(&rest(master.w), &rest(&want_w), &at);
            same(&rest(&master.s[0]), &rest(&want_s0), &at);
            same(&master.tables[0].data, &want_t, &at);
        }
        // What the hot merge left behind is merged by the next full one.
        reps.merge_all(&pool(), &mut master, &Rule::new::<AdaGrad>());
        let rest = |v: &[f32]| [&v[..1000], &v[3048..]].concat();
        same(&rest(master.w), &rest(&all_w), "the last full merge");
        same(&master.tables[0].data, &all_t, "the last full merge");
        for r in &reps.threads {
            same(&rest(&r.w), &rest(master.w), "a replica");
            same(&r.tables[0].data, &master.tables[0].data, "a replica");
        }
    }
}

#[test]
fn rows_mark_every_unit_they_span() {
    let n = 4096;
    let (mut w, mut s) = (vec![0.0f32; n], vec![vec![0.0f32; n]]);
    let mut tables = Vec::new();
    let master = Master {
        w: &mut w,
        s: &mut s,
        tables: &mut tables,
    };
    let pairs: Vec<(u32, f32)> = [0u32, 5, 7, 8, 63, 100].map(|i| (i, 1.0)).to_vec();
    // Rows within one unit (the fast path) and rows across two (the general one).
    for (base, stride, len) in [
        (0, 2, 2),
        (32, 4, 4),
        (16, 16, 16),
        (2, 4, 4),
        (8, 16, 16),
        (3, 3, 3),
        (0, 24, 20),
    ] {
        let mut reps = Replicas::new(&pool(), 1, &master);
        reps.stores()[0].touch_rows(0, base, stride, len, &pairs);
        let mut want = vec![0u64; reps.threads[0].dirty[0].len()];
        for &(i, _) in &pairs {
            for f in base + i as usize * stride..base + i as usize * stride + len {
                want[f / UNIT / 64] |= 1 << (f / UNIT % 64);
            }
        }
        assert_eq!(
            reps.threads[0].dirty[0], want,
            "rows of {len} every {stride} from {base}"
        );
        let counted: usize = reps.threads[0].counts[0].iter().map(|&c| c as usize).sum();
        assert!(counted >= pairs.len(), "the first round counts the touches");
    }
}

/// Asserts `a == b`, naming the first float that differs.
fn same(a: &[f32], b: &[f32], at: &str) {
    assert_eq!(a.len(), b.len(), "{at}");
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!("{at}: float {i} is {}, expected {}", a[i], b[i]);
    }
}

/// The test's hot units of `group`: some everywhere, and those either side of every
/// cut into 2 or 3 pieces (units 128, 192 and 256 of the rest, 64 and 128 of the
/// table).
fn hot_units(group: usize) -> Vec<u32> {
    let mut hot: Vec<u32> = if group == 0 {
        (0..375)
            .step_by(37)
            .chain([127, 128, 191, 192, 255, 256])
            .collect()
    } else {
        vec![63, 64, 100, 127, 128]
    };
    hot.sort_unstable();
    hot.dedup();
    hot
}

/// Whether unit `u` of `group` is one of the test's hot units.
fn hot_unit(group: usize, u: usize) -> bool {
    hot_units(group).contains(&(u as u32))
}

#[test]
fn a_small_table_is_scanned_after_the_first_round() {
    use super::super::Store;
    use crate::layers::Block;
    // 64 rows of 1 (2 floats with AdaGrad's state: 8 units), then a dense weight.
    let blocks = [Block {
        layer: 0,
        offset: 0,
        len: 64,
        row: Some(1),
    }];
    let mut w = vec![0.0f32; 65];
    let mut planes = vec![vec![0.0f32; 65]];
    let mut tables = crate::weights::laid_out(&AdaGrad::new(0.1), &blocks, &w, &planes);
    let mut master = Master {
        w: &mut w,
        s: &mut planes,
        tables: &mut tables,
    };
    let mut reps = Replicas::new(&pool(), 2, &master);
    let opt = AdaGrad::new(0.1);
    let pairs: Vec<(u32, f32)> = (0..64).map(|i| (i, 1.0)).collect();
    let step = |reps: &mut Replicas, t: usize| {
        reps.stores()[t].update_rows::<AdaGrad, 1>(&opt, 0, &pairs, &[1.0], 1.0)
    };
    // The first round marks and counts: 128 touches of 8 units, read 3 times at a
    // merge, is a table to scan.
    step(&mut reps, 0);
    step(&mut reps, 1);
    reps.merge_hot(&pool(), &mut master, 2, FULL_EVERY, &Rule::new::<AdaGrad>());
    assert_eq!(reps.scan, [false, true]);
    reps.merge_all(&pool(), &mut master, &Rule::new::<AdaGrad>());
    assert!(reps
        .threads
        .iter()
        .all(|r| r.dirty[1].iter().all(|&d| d == 0)));
    // Later steps of the table are not marked, and merge all the same.
    let before = master.tables[0].data.clone();
    step(&mut reps, 1);
    assert!(reps.threads[1].dirty[1].iter().all(|&d| d == 0));
    reps.merge_all(&pool(), &mut master, &Rule::new::<AdaGrad>());
    assert_ne!(master.tables[0].data, before, "the step is merged");
    assert_eq!(reps.threads[0].tables[0].data, master.tables[0].data);
    assert_eq!(reps.threads[1].tables[0].data, master.tables[0].data);
}

#[test]
fn each_weight_merges_with_its_own_state_in_every_table_layout() {
    use crate::layers::Block;
    use crate::optim::RowAdaGrad;
    // 64 rows of 16: with AdaGrad a row is its weights then their accumulators, two
    // units; with RowAdaGrad its weights, and one accumulator per row far after them.
    let blocks = [Block {
        layer: 0,
        offset: 0,
        len: 64 * 16,
        row: Some(16),
    }];
    let w: Vec<f32> = (0..1024).map(|i| (i % 13) as f32 * 0.1).collect();
    for row_wise in [false, true] {
        let (mut w, mut planes) = (w.clone(), vec![vec![0.5f32; 1024]]);
        let mut tables = if row_wise {
            crate::weights::laid_out(&RowAdaGrad::new(0.1), &blocks, &w, &planes)
        } else {
            crate::weights::laid_out(&AdaGrad::new(0.1), &blocks, &w, &planes)
        };
        let mut master = Master {
            w: &mut w,
            s: &mut planes,
            tables: &mut tables,
        };
        let mut reps = Replicas::new(&pool(), 2, &master);
        reps.found = true;
        // Where weight `c` of row `r` and its accumulator lie.
        let states = master.tables[0].row_state(0);
        let at = move |r: usize, c: usize| match states {
            Some(a) => (r * 16 + c, a + r),
            None => (r * 32 + c, r * 32 + 16 + c),
        };
        let coord = |data: &[f32], r: usize, c: usize| [data[at(r, c).0], data[at(r, c).1]];
        let before = master.tables[0].data.to_vec();
        // Row 3: both threads step it, by different amounts; row 40: thread 1 alone.
        for (t, r, d, g) in [
            (0, 3, -0.25f32, 1.0f32),
            (1, 3, 0.5, 4.0),
            (1, 40, 0.125, 2.0),
        ] {
            let st = &mut reps.stores()[t];
            for c in 0..16 {
                let (p, a) = at(r, c);
                let data = &mut st.packed.tables[0].data;
                data[p] += d * (c + 1) as f32 / 16.0;
                if !row_wise || c == 0 {
                    data[a] += g;
                }
                st.touch(1, p / UNIT);
                st.touch(1, a / UNIT);
            }
        }
        let copies: Vec<Vec<f32>> = reps
            .threads
            .iter()
            .map(|r| r.tables[0].data.to_vec())
            .collect();
        let rule = if row_wise {
            Rule::new::<RowAdaGrad>()
        } else {
            Rule::new::<AdaGrad>()
        };
        reps.merge_all(&pool(), &mut master, &rule);
        let data = &master.tables[0].data;
        for (r, c) in (0..16).flat_map(|c| [(3, c), (40, c), (7, c)]) {
            let mut want = [0.0f32; 2];
            let xs = copies.iter().map(|x| coord(x, r, c));
            if !rule.merge(&coord(&before, r, c), xs, &mut want) {
                want = coord(&before, r, c);
            }
            assert_eq!(
                coord(data, r, c),
                want,
                "row-wise {row_wise}: row {r}, weight {c}"
            );
        }
        // Row 40 keeps thread 1's step exactly; row 3 is neither thread's nor their sum.
        assert_eq!(coord(data, 40, 9), coord(&copies[1], 40, 9));
        let (w0, w1) = (coord(&copies[0], 3, 15)[0], coord(&copies[1], 3, 15)[0]);
        let (m, got) = (coord(&before, 3, 15)[0], coord(data, 3, 15)[0]);
        assert!(
            got != w0 && got != w1 && got != w0 + w1 - m,
            "row-wise {row_wise}: {got}"
        );
        for r in &reps.threads {
            assert!(
                r.tables[0].data[..] == data[..],
                "every replica holds the merge"
            );
        }
    }
}
