//! Whole-root crosses of every sparse kind, and mean token bags, feed a network; the
//! generated code is warning-free under `#![deny(warnings)]`.
#![deny(warnings)]

use vectorflow::features::Named;
use vectorflow::prelude::*;

#[derive(Features)]
#[features(cross_roots(ad, user), cross_roots(user, ad, root = "pairs"))]
struct Impression<'a> {
    #[label]
    clicked: bool,
    #[tokens(root = "ad", mean)]
    title: &'a str,
    #[value(root = "ad")]
    price: Option<f32>,
    #[sparse(root = "ad")]
    ids: Vec<(u32, f32)>,
    #[hash(root = "user")]
    uid: u32,
    #[tokens(root = "user")]
    likes: Vec<&'a str>,
}

type Model = network![
    Sparse<{ 1 << 10 }>, ad: Sparse<{ 1 << 10 }>, pairs: Sparse<{ 1 << 10 }>
        => Linear<4> => ReLU => Linear<1> => Sigmoid
];

fn main() {
    let row = Impression {
        clicked: true,
        title: "red shoes",
        price: Some(2.5),
        ids: vec![(3, 0.5)],
        uid: 7,
        likes: vec!["jazz"],
    };
    let net = Model::new(Init::default());
    let [p] = net.predict(&row).unwrap();
    assert!(p > 0.0 && p < 1.0);
    let mut n = 0;
    row.visit_named(|_| n += 1).unwrap();
    // ad: 2 words, price, 1 pair; user: uid, 1 like; 4 × 2 crosses, twice.
    assert_eq!(n, 4 + 2 + 8 + 8);
    let _ = row.clicked;
}
