// The example in the rustdoc of `derive_features`, compiled.
#![allow(dead_code)]

use vectorflow::prelude::*;

#[derive(Category, serde::Deserialize)]
enum Cabin {
    Economy,
    Business,
}

#[derive(Features, serde::Deserialize)]
#[features(cross(origin, dest), cross(carrier, hour, namespace = "carrier_hour"))]
struct Flight<'a> {
    #[label]
    delayed: bool,
    #[weight]
    w: f32,
    #[hash]
    carrier: &'a str, // one id: murmur3("UA", seed("carrier"))
    #[hash(namespace = "airport")]
    origin: &'a str,
    #[hash(namespace = "airport")]
    dest: &'a str,
    #[hash]
    hour: Option<u8>, // integers hash like their text; None: nothing
    #[hash(root = "user")]
    cabin: Cabin, // feature group "user"
    #[value]
    distance: f32, // slot_id("distance") with value = distance
    #[tokens]
    remarks: &'a str, // one id per whitespace-separated word
    #[sparse]
    extra: Vec<(u32, f32)>, // pre-indexed pairs, passed through
    #[dense(root = "ctx")]
    ctx: [f32; 3], // DenseGroup<group_id("ctx"), 3>
    #[skip]
    note: String, // unmarked fields are ignored too
}

fn main() {}
