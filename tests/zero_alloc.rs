//! Visiting a derived row's features allocates nothing: the derive reads borrowed fields
//! in place and hashes on the fly. Nor do the forward and backward passes of a network,
//! once a thread's workspace has seen its first row.
//!
//! The allocation counter is per thread, so the test harness's own threads cannot
//! disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use vectorflow::features::{group_id, DenseGroup, SparseF, SparseGroup};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

#[derive(vectorflow::Category)]
enum Cabin {
    Economy,
    #[allow(dead_code)]
    Business,
}

#[allow(clippy::duplicated_attributes)] // rust-clippy#12923: a field in two crosses
#[derive(vectorflow::Features)]
#[features(cross(carrier, origin), cross(carrier, origin, hour))]
struct Flight<'a> {
    #[label]
    delayed: bool,
    #[weight]
    w: f32,
    #[hash]
    carrier: &'a str,
    #[hash]
    origin: Option<&'a str>,
    #[hash]
    hour: u8,
    #[hash]
    cabin: Cabin,
    #[value]
    distance: f32,
    #[tokens]
    remarks: &'a str,
    #[tokens]
    tags: &'a [&'a str],
    #[sparse]
    extra: &'a [SparseF],
    #[dense(root = "ctx")]
    ctx: &'a [f32; 3],
    #[dense(root = "ctx")]
    more: Option<[f32; 2]>,
}

fn with_row(check: impl FnOnce(&Flight<'_>)) {
    let extra = [SparseF { id: 3, value: 0.5 }, SparseF { id: 9, value: 1.5 }];
    let tags = ["vip", "kids", "late"];
    let ctx = [1.0, 2.0, 3.0];
    let row = Flight {
        delayed: true,
        w: 2.0,
        carrier: "UA",
        origin: Some("EWR"),
        hour: 17,
        cabin: Cabin::Economy,
        distance: 1400.0,
        remarks: "weather  delay at hub",
        tags: &tags,
        extra: &extra,
        ctx: &ctx,
        more: Some([4.0, 5.0]),
    };
    check(&row);
}

#[test]
fn visiting_features_does_not_allocate() {
    with_row(visit_without_allocating);
}

fn visit_without_allocating(row: &Flight<'_>) {
    let mut dense = [0.0f32; 5];
    let (mut n, mut sum) = (0usize, 0u64);

    // A control: the counter does see allocations on this thread.
    let before = allocs();
    drop(std::hint::black_box(vec![1u8; 16]));
    assert_eq!(allocs() - before, 1, "the counting allocator is not in use");

    let before = allocs();
    for _ in 0..100 {
        SparseGroup::<{ group_id("") }>::visit(row, |id, v| {
            n += 1;
            sum = sum.wrapping_add(id as u64 ^ v.to_bits() as u64);
        })
        .unwrap();
        DenseGroup::<{ group_id("ctx") }, 5>::dense(row, &mut dense).unwrap();
        std::hint::black_box((&dense, sum));
    }
    let after = allocs();

    assert_eq!(after - before, 0, "visiting a row allocated");
    // 4 hashed + 1 value + 4 words + 3 tags + 2 pairs + 2 crosses, per visit
    assert_eq!(n, 100 * 16);
    assert_eq!(dense, [1.0, 2.0, 3.0, 4.0, 5.0]);
    let _ = (row.delayed, row.w);
}

#[test]
fn forward_and_backward_passes_do_not_allocate() {
    type Net = vectorflow::network![Sparse<{ 1 << 12 }>, ctx: Dense<5> => Linear<8> => ReLU => Dropout<0.2> => Linear<2>];
    let net = Net::new(vectorflow::Init::normal(0.3).seed(3));
    let flat = net.params().to_vec();
    let mut acc = vectorflow::params::Accumulate::new(&flat);
    let mut ws = vectorflow::network::Workspace::train(7);
    with_row(|row| {
        let dy = [0.5f32, -1.0];
        // The first row sizes the workspace's row inputs.
        Net::forward(net.params(), &mut ws, row).unwrap();
        Net::backward(&mut acc, &ws, &dy);
        net.predict(row).unwrap();

        let before = allocs();
        for _ in 0..100 {
            let out = *Net::forward(net.params(), &mut ws, row).unwrap();
            Net::backward(&mut acc, &ws, &dy);
            std::hint::black_box((out, net.predict(row).unwrap()));
        }
        assert_eq!(allocs() - before, 0, "a forward or backward pass allocated");
        assert!(acc.grad.iter().any(|g| *g != 0.0));
    });
}

/// Every kind of sparse feature on both sides of a whole-root cross.
#[derive(vectorflow::Features)]
#[features(cross_roots(ad, user))]
struct Impression<'a> {
    #[tokens(root = "ad", mean)]
    title: &'a str,
    #[value(root = "ad")]
    price: f32,
    #[sparse(root = "ad")]
    ids: &'a [SparseF],
    #[hash(root = "user")]
    uid: u32,
    #[tokens(root = "user")]
    likes: &'a [&'a str],
    #[hash(root = "user")]
    country: Option<&'a str>,
}

#[test]
fn crossing_whole_roots_does_not_allocate() {
    let ids = [SparseF { id: 3, value: 0.5 }, SparseF { id: 9, value: 1.5 }];
    let likes = ["jazz", "hiking"];
    let row = Impression {
        title: "red running shoes",
        price: 2.5,
        ids: &ids,
        uid: 7,
        likes: &likes,
        country: Some("fr"),
    };
    let (mut n, mut sum) = (0usize, 0u64);
    let before = allocs();
    for _ in 0..100 {
        SparseGroup::<{ group_id("") }>::visit(&row, |id, v| {
            n += 1;
            sum = sum.wrapping_add(id as u64 ^ v.to_bits() as u64);
        })
        .unwrap();
        std::hint::black_box(sum);
    }
    assert_eq!(allocs() - before, 0, "visiting a root cross allocated");
    // (3 words + 1 value + 2 pairs) × (1 id + 2 likes + 1 country), per visit
    assert_eq!(n, 100 * 6 * 4);
}
