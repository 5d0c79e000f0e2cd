// Rows the derive accepts, used the way a network uses them.
use vectorflow::features::{group_id, DenseGroup, Labeled, SparseGroup};
use vectorflow::prelude::*;

#[derive(Category)]
enum Cabin {
    Economy,
    Business,
}

#[derive(Features)]
#[features(cross(carrier, cabin), cross(carrier, hour, cabin, namespace = "chc"))]
struct Flight<'a> {
    #[label]
    delayed: bool,
    #[weight]
    w: f32,
    #[hash]
    carrier: &'a str,
    #[hash]
    hour: Option<u8>,
    #[hash]
    cabin: Cabin,
    #[value(root = "num")]
    distance: f64,
    #[tokens]
    remarks: String,
    #[sparse]
    extra: &'a [SparseF],
    #[dense(root = "ctx")]
    ctx: [f32; 3],
    #[dense(root = "ctx")]
    more: Option<[f32; 1]>,
    #[skip]
    note: String,
}

fn rows<
    R: Labeled
        + SparseGroup<{ group_id("") }>
        + SparseGroup<{ group_id("num") }>
        + DenseGroup<{ group_id("ctx") }, 4>,
>(
    _: &[R],
) {
}

fn main() {
    let row = Flight {
        delayed: false,
        w: 1.0,
        carrier: "UA",
        hour: None,
        cabin: Cabin::Business,
        distance: 2.0,
        remarks: String::new(),
        extra: &[],
        ctx: [0.0; 3],
        more: None,
        note: String::new(),
    };
    let _ = (&row.note, Cabin::Economy);
    rows(&[row]);
}
