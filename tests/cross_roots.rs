//! `#[features(cross_roots(a, b))]`: every sparse feature of one root or namespace crossed
//! with every one of another, with the ids field crosses give for the same pairs.

use vectorflow::features::{group_id, FeatureError, Named, SparseGroup};
use vectorflow::hash::{hash_i128, murmur3_32, namespace_seed};

fn visit<const G: u64, R: SparseGroup<G>>(row: &R) -> Vec<(u32, f32)> {
    let mut out = Vec::new();
    row.visit(|id, v| out.push((id, v))).unwrap();
    out
}

/// `(group, name, id, value)` of each named feature.
fn named<R: Named>(row: &R) -> Vec<(&'static str, String, u32, f32)> {
    let mut out = Vec::new();
    row.visit_named(|f| {
        let vectorflow::features::Slot::SparseId(id) = f.slot else {
            panic!("no dense features here")
        };
        out.push((f.group, f.name.to_string(), id, f.value))
    })
    .unwrap();
    out
}

const DEFAULT: u64 = group_id("");

#[derive(vectorflow::Features)]
#[features(cross_roots(user, item))]
struct Split<'a> {
    #[hash(root = "user")]
    uid: &'a str,
    #[hash(root = "user")]
    country: &'a str,
    #[hash(root = "item")]
    iid: u32,
    #[hash(root = "item")]
    brand: Option<&'a str>,
}

#[allow(clippy::duplicated_attributes)] // rust-clippy#12923: a field in two crosses
#[derive(vectorflow::Features)]
#[features(
    cross(uid, iid),
    cross(uid, brand),
    cross(country, iid),
    cross(country, brand)
)]
struct Pairs<'a> {
    #[hash]
    uid: &'a str,
    #[hash]
    country: &'a str,
    #[hash]
    iid: u32,
    #[hash]
    brand: Option<&'a str>,
}

#[test]
fn crossed_roots_give_the_ids_of_the_field_crosses_of_their_pairs() {
    for brand in [Some("acme"), None] {
        let split = Split {
            uid: "u17",
            country: "fr",
            iid: 9021,
            brand,
        };
        let pairs = Pairs {
            uid: "u17",
            country: "fr",
            iid: 9021,
            brand,
        };
        let crossed = visit::<DEFAULT, _>(&split);
        let all = visit::<DEFAULT, _>(&pairs);
        let fields = if brand.is_some() { 4 } else { 3 };
        assert_eq!(crossed.len(), all.len() - fields);
        assert_eq!(crossed, all[fields..]);
        // Both roots keep their own features; the crosses go to the default group.
        assert_eq!(visit::<{ group_id("user") }, _>(&split), all[..2]);
        assert_eq!(visit::<{ group_id("item") }, _>(&split), all[2..fields]);
        // The names are those of the field crosses too.
        let names: Vec<_> = named(&split)
            .into_iter()
            .filter(|f| f.0.is_empty())
            .collect();
        let field_names: Vec<_> = named(&pairs).into_iter().skip(fields).collect();
        assert_eq!(names, field_names);
    }
    let first = murmur3_32(b"u17", namespace_seed("uid^iid"));
    assert_eq!(
        visit::<DEFAULT, _>(&Split {
            uid: "u17",
            country: "fr",
            iid: 9021,
            brand: None
        })[0],
        (murmur3_32(b"9021", first), 1.0)
    );
}

#[allow(clippy::duplicated_attributes)] // rust-clippy#12923
#[derive(vectorflow::Features)]
#[features(cross_roots(airport, carrier))]
struct Namespaced<'a> {
    #[hash(namespace = "airport")]
    origin: &'a str,
    #[hash(namespace = "airport")]
    dest: &'a str,
    #[hash]
    carrier: &'a str,
}

#[allow(clippy::duplicated_attributes)] // rust-clippy#12923
#[derive(vectorflow::Features)]
#[features(cross(origin, carrier), cross(dest, carrier))]
struct NamespacedByHand<'a> {
    #[hash(namespace = "airport")]
    origin: &'a str,
    #[hash(namespace = "airport")]
    dest: &'a str,
    #[hash]
    carrier: &'a str,
}

#[test]
fn namespaces_of_one_group_cross_into_that_group() {
    let (origin, dest, carrier) = ("EWR", "IAH", "UA");
    assert_eq!(
        visit::<DEFAULT, _>(&Namespaced {
            origin,
            dest,
            carrier
        }),
        visit::<DEFAULT, _>(&NamespacedByHand {
            origin,
            dest,
            carrier
        })
    );
    let names: Vec<String> = named(&Namespaced {
        origin,
        dest,
        carrier,
    })
    .into_iter()
    .map(|f| f.1)
    .collect();
    assert_eq!(
        names,
        [
            "origin=EWR",
            "dest=IAH",
            "carrier=UA",
            "origin×carrier=EWR×UA",
            "dest×carrier=IAH×UA"
        ]
    );
}

#[derive(vectorflow::Features)]
#[features(cross_roots(ad, user, root = "pairs"))]
struct Mixed<'a> {
    #[tokens(root = "ad")]
    title: &'a str,
    #[value(root = "ad")]
    price: f32,
    #[sparse(root = "ad")]
    ids: Vec<(u32, f32)>,
    #[hash(root = "user")]
    uid: u32,
    #[tokens(root = "user", mean)]
    likes: &'a str,
}

fn mixed() -> Mixed<'static> {
    Mixed {
        title: "red shoes",
        price: 2.5,
        ids: vec![(3, 0.5), (70, -1.0)],
        uid: 7,
        likes: "jazz hiking running",
    }
}

/// Each kind's key hashed with `seed`: what `cross_roots` chains.
#[derive(Clone, Copy)]
enum Key<'a> {
    Text(&'a str),
    Int(u32),
    Empty,
}

impl Key<'_> {
    fn hash(self, seed: u32) -> u32 {
        match self {
            Key::Text(t) => murmur3_32(t.as_bytes(), seed),
            Key::Int(i) => hash_i128(i as i128, seed),
            Key::Empty => murmur3_32(b"", seed),
        }
    }
}

#[test]
fn every_kind_of_sparse_feature_crosses_every_other() {
    let row = mixed();
    type Side = (&'static str, Vec<(Key<'static>, f32)>);
    let ad: Vec<Side> = vec![
        (
            "title",
            vec![(Key::Text("red"), 1.0), (Key::Text("shoes"), 1.0)],
        ),
        ("price", vec![(Key::Empty, 2.5)]),
        ("ids", vec![(Key::Int(3), 0.5), (Key::Int(70), -1.0)]),
    ];
    let third = 1.0 / 3.0;
    let user: Vec<Side> = vec![
        ("uid", vec![(Key::Int(7), 1.0)]),
        (
            "likes",
            vec![
                (Key::Text("jazz"), third),
                (Key::Text("hiking"), third),
                (Key::Text("running"), third),
            ],
        ),
    ];
    let mut want = Vec::new();
    for (a, fa) in &ad {
        for (b, fb) in &user {
            let seed = namespace_seed(&format!("{a}^{b}"));
            for &(ka, va) in fa {
                for &(kb, vb) in fb {
                    want.push((kb.hash(ka.hash(seed)), va * vb));
                }
            }
        }
    }
    // |ad| · |user| = 5 · 4 features.
    assert_eq!(want.len(), 20);
    assert_eq!(visit::<{ group_id("pairs") }, _>(&row), want);

    // The roots themselves are untouched by the cross.
    assert_eq!(visit::<{ group_id("user") }, _>(&row).len(), 4);
    let names: Vec<(String, f32)> = named(&row)
        .into_iter()
        .filter(|f| f.0 == "pairs")
        .map(|f| (f.1, f.3))
        .collect();
    let ids: Vec<u32> = named(&row)
        .into_iter()
        .filter(|f| f.0 == "pairs")
        .map(|f| f.2)
        .collect();
    assert_eq!(ids, want.iter().map(|w| w.0).collect::<Vec<_>>());
    let expected = [
        ("title×uid=red×7", 1.0),
        ("title×uid=shoes×7", 1.0),
        ("title×likes=red×jazz", third),
        ("title×likes=red×hiking", third),
        ("title×likes=red×running", third),
        ("title×likes=shoes×jazz", third),
        ("title×likes=shoes×hiking", third),
        ("title×likes=shoes×running", third),
        ("price×uid=7", 2.5),
        ("price×likes=jazz", 2.5 * third),
        ("price×likes=hiking", 2.5 * third),
        ("price×likes=running", 2.5 * third),
        ("ids[3]×uid=7", 0.5),
        ("ids[70]×uid=7", -1.0),
        ("ids[3]×likes=jazz", 0.5 * third),
        ("ids[3]×likes=hiking", 0.5 * third),
        ("ids[3]×likes=running", 0.5 * third),
        ("ids[70]×likes=jazz", -third),
        ("ids[70]×likes=hiking", -third),
        ("ids[70]×likes=running", -third),
    ];
    let expected: Vec<(String, f32)> = expected.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    assert_eq!(names, expected);
}

#[test]
fn a_crossed_value_is_the_pairs_and_an_absent_one_crosses_nothing() {
    // A value of a `#[value]` field's slot crosses like the empty category, so the
    // value side of the first pair is `slot_id("price")`'s key.
    assert_eq!(
        Key::Empty.hash(namespace_seed("price")),
        vectorflow::hash::slot_id("price")
    );
    let mut row = mixed();
    row.title = "";
    row.ids.clear();
    row.likes = "";
    assert_eq!(
        visit::<{ group_id("pairs") }, _>(&row),
        [(
            Key::Int(7).hash(Key::Empty.hash(namespace_seed("price^uid"))),
            2.5
        )]
    );
}

#[test]
fn a_non_finite_value_in_a_crossed_root_names_its_field() {
    let mut row = mixed();
    row.price = f32::NAN;
    let err = SparseGroup::<{ group_id("pairs") }>::visit(&row, |_, _| {}).unwrap_err();
    assert_eq!(err.field, "price");
    assert!(err.value.is_nan());
    assert!(row.visit_named(|_| {}).is_err());

    let mut row = mixed();
    row.ids.push((5, f32::INFINITY));
    assert_eq!(
        SparseGroup::<{ group_id("pairs") }>::visit(&row, |_, _| {}),
        Err(FeatureError {
            field: "ids",
            value: f32::INFINITY
        })
    );
}

/// A generic row: the cross's bounds cover fields of other groups.
#[derive(vectorflow::Features)]
#[features(cross_roots(a, b))]
struct Generic<T> {
    #[hash(root = "a")]
    x: T,
    #[tokens(root = "b")]
    y: Vec<T>,
}

#[test]
fn generic_rows_cross_too() {
    let row = Generic {
        x: 4u8,
        y: vec![1u8, 2],
    };
    let seed = namespace_seed("x^y");
    assert_eq!(
        visit::<DEFAULT, _>(&row),
        [
            (hash_i128(1, hash_i128(4, seed)), 1.0),
            (hash_i128(2, hash_i128(4, seed)), 1.0)
        ]
    );
}
