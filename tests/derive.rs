//! `#[derive(Features)]` and `#[derive(Category)]`: the exact ids and values they produce.

use std::borrow::Cow;
use vectorflow::features::{
    group_id, Category, DenseGroup, FeatureError, Features, Labeled, SparseF, SparseGroup,
};
use vectorflow::hash::{murmur3_32, namespace_seed, slot_id};

const DEFAULT: u64 = group_id("");

/// The features of group `G`, in visiting order.
fn visit<const G: u64, R: SparseGroup<G>>(row: &R) -> Vec<(u32, f32)> {
    let mut out = Vec::new();
    row.visit(|id, v| out.push((id, v))).unwrap();
    out
}

fn visit_default<R: SparseGroup<DEFAULT>>(row: &R) -> Vec<(u32, f32)> {
    visit::<DEFAULT, R>(row)
}

fn h(text: &str, ns: &str) -> u32 {
    murmur3_32(text.as_bytes(), namespace_seed(ns))
}

#[derive(vectorflow::Features)]
struct Hashed<'a> {
    #[hash]
    carrier: &'a str,
    #[hash]
    origin: String,
    #[hash]
    hour: u8,
    #[hash]
    delta: i32,
    #[hash]
    holiday: bool,
    #[hash]
    class: char,
    #[hash]
    gate: Option<&'a str>,
    #[skip]
    #[allow(dead_code)]
    note: String,
    #[allow(dead_code)]
    unmarked: f64,
}

#[test]
fn hash_fields_give_namespaced_murmur_ids() {
    let row = Hashed {
        carrier: "UA",
        origin: "EWR".to_string(),
        hour: 7,
        delta: -15,
        holiday: true,
        class: 'Y',
        gate: Some("C12"),
        note: "ignored".into(),
        unmarked: 2.5,
    };
    assert_eq!(
        visit_default(&row),
        vec![
            (murmur3_32(b"UA", namespace_seed("carrier")), 1.0),
            (h("EWR", "origin"), 1.0),
            (h("7", "hour"), 1.0),
            (h("-15", "delta"), 1.0),
            (h("true", "holiday"), 1.0),
            (h("Y", "class"), 1.0),
            (h("C12", "gate"), 1.0),
        ]
    );
    // the weight defaults to 1
    assert_eq!(row.weight(), 1.0);
}

#[test]
fn absent_options_contribute_nothing() {
    let row = Hashed {
        carrier: "AA",
        origin: String::new(),
        hour: 0,
        delta: 0,
        holiday: false,
        class: 'F',
        gate: None,
        note: String::new(),
        unmarked: 0.0,
    };
    let ids = visit_default(&row);
    assert_eq!(ids.len(), 6);
    assert!(!ids.iter().any(|&(id, _)| id == h("C12", "gate")));
    assert_eq!(ids[2], (h("0", "hour"), 1.0));
}

#[derive(vectorflow::Features)]
struct Tokened<'a> {
    #[tokens]
    remarks: &'a str,
    #[tokens(namespace = "tags")]
    labels: Vec<&'a str>,
    #[tokens]
    codes: Option<Vec<u16>>,
}

#[test]
fn tokens_are_a_bag_of_words_and_lists_are_multi_hot() {
    let row = Tokened {
        remarks: "late  gate\tchange late",
        labels: vec!["vip", "kids"],
        codes: Some(vec![3, 40]),
    };
    assert_eq!(
        visit_default(&row),
        vec![
            (h("late", "remarks"), 1.0),
            (h("gate", "remarks"), 1.0),
            (h("change", "remarks"), 1.0),
            (h("late", "remarks"), 1.0),
            (h("vip", "tags"), 1.0),
            (h("kids", "tags"), 1.0),
            (h("3", "codes"), 1.0),
            (h("40", "codes"), 1.0),
        ]
    );
    let empty = Tokened {
        remarks: "",
        labels: vec![],
        codes: None,
    };
    assert!(visit_default(&empty).is_empty());
}

#[derive(vectorflow::Features)]
struct Averaged<'a> {
    #[tokens(mean)]
    words: &'a str,
    #[tokens(namespace = "tags", mean)]
    labels: Vec<Option<&'a str>>,
    #[tokens]
    plain: &'a str,
}

#[test]
fn mean_token_bags_weigh_each_token_by_one_over_their_length() {
    let row = Averaged {
        words: "late gate late  change",
        labels: vec![Some("vip"), None, Some("kids")],
        plain: "a b",
    };
    assert_eq!(
        visit_default(&row),
        vec![
            (h("late", "words"), 0.25),
            (h("gate", "words"), 0.25),
            (h("late", "words"), 0.25),
            (h("change", "words"), 0.25),
            // An absent category is no token, so it does not count.
            (h("vip", "tags"), 0.5),
            (h("kids", "tags"), 0.5),
            (h("a", "plain"), 1.0),
            (h("b", "plain"), 1.0),
        ]
    );
    let mut named = Vec::new();
    vectorflow::features::Named::visit_named(&row, |f| named.push((f.name.to_string(), f.value)))
        .unwrap();
    assert_eq!(named[0], ("words=late".to_string(), 0.25));
    assert_eq!(named[4], ("labels=vip".to_string(), 0.5));
    let empty = Averaged {
        words: " ",
        labels: vec![None],
        plain: "",
    };
    assert!(visit_default(&empty).is_empty());
}

#[derive(vectorflow::Features)]
struct Valued<'a> {
    #[value]
    distance: f32,
    #[value(namespace = "km")]
    km: f64,
    #[value]
    seats: u16,
    #[value]
    stop: bool,
    #[value]
    fare: Option<f32>,
    #[sparse]
    extra: &'a [SparseF],
    #[sparse]
    pairs: Vec<(u32, f32)>,
}

#[test]
fn value_slots_and_sparse_pass_through() {
    let extra = [
        SparseF { id: 42, value: 0.5 },
        SparseF { id: 7, value: -2.0 },
    ];
    let row = Valued {
        distance: 1.5,
        km: 2.0,
        seats: 180,
        stop: true,
        fare: None,
        extra: &extra,
        pairs: vec![(9, 3.0)],
    };
    assert_eq!(
        visit_default(&row),
        vec![
            (slot_id("distance"), 1.5),
            (slot_id("km"), 2.0),
            (slot_id("seats"), 180.0),
            (slot_id("stop"), 1.0),
            (42, 0.5),
            (7, -2.0),
            (9, 3.0),
        ]
    );
    assert_eq!(
        slot_id("distance"),
        murmur3_32(b"", namespace_seed("distance"))
    );
}

#[test]
fn non_finite_values_name_their_field() {
    let extra = [SparseF { id: 1, value: 1.0 }];
    let mut row = Valued {
        distance: 1.0,
        km: f64::NAN,
        seats: 1,
        stop: false,
        fare: Some(2.0),
        extra: &extra,
        pairs: vec![],
    };
    let err = row.visit(|_, _| {}).unwrap_err();
    assert_eq!(err.field, "km");
    assert!(err.value.is_nan());
    assert!(err.to_string().contains("`km`"), "{err}");

    row.km = 1.0;
    row.fare = Some(f32::INFINITY);
    assert_eq!(
        SparseGroup::<DEFAULT>::visit(&row, |_, _| {}),
        Err(FeatureError {
            field: "fare",
            value: f32::INFINITY
        })
    );

    row.fare = None;
    row.pairs = vec![(3, 1.0), (4, f32::NEG_INFINITY)];
    assert_eq!(
        SparseGroup::<DEFAULT>::visit(&row, |_, _| {}),
        Err(FeatureError {
            field: "pairs",
            value: f32::NEG_INFINITY
        })
    );
}

// Clippy's `duplicated_attributes` mistakes a field named in two crosses for a repeated
// attribute (rust-clippy#12923, #13238); the allow silences that false positive.
#[allow(clippy::duplicated_attributes)]
#[derive(vectorflow::Features)]
#[features(
    cross(origin, dest),
    cross(carrier, origin, dest),
    cross(origin, hour, namespace = "oh")
)]
struct Crossed<'a> {
    #[hash]
    carrier: &'a str,
    #[hash]
    origin: &'a str,
    #[hash]
    dest: Option<&'a str>,
    #[hash]
    hour: u8,
}

#[test]
fn crosses_chain_the_hash_of_each_field_into_the_next() {
    let row = Crossed {
        carrier: "UA",
        origin: "EWR",
        dest: Some("IAH"),
        hour: 7,
    };
    let ids = visit_default(&row);
    assert_eq!(ids.len(), 4 + 3);
    let od = murmur3_32(b"IAH", murmur3_32(b"EWR", namespace_seed("origin^dest")));
    let cod = murmur3_32(
        b"IAH",
        murmur3_32(
            b"EWR",
            murmur3_32(b"UA", namespace_seed("carrier^origin^dest")),
        ),
    );
    let oh = murmur3_32(b"7", murmur3_32(b"EWR", namespace_seed("oh")));
    assert_eq!(&ids[4..], &[(od, 1.0), (cod, 1.0), (oh, 1.0)]);
    // the same pair through `Category` directly
    let first = "EWR".category(namespace_seed("origin^dest")).unwrap();
    assert_eq!("IAH".category(first), Some(od));
}

#[test]
fn a_cross_with_an_absent_field_contributes_nothing() {
    let row = Crossed {
        carrier: "UA",
        origin: "EWR",
        dest: None,
        hour: 7,
    };
    let ids = visit_default(&row);
    let oh = murmur3_32(b"7", murmur3_32(b"EWR", namespace_seed("oh")));
    assert_eq!(
        ids,
        vec![
            (h("UA", "carrier"), 1.0),
            (h("EWR", "origin"), 1.0),
            (h("7", "hour"), 1.0),
            (oh, 1.0),
        ]
    );
}

#[derive(vectorflow::Features)]
struct Shared<'a> {
    #[hash(namespace = "airport")]
    origin: &'a str,
    #[hash(namespace = "airport")]
    dest: &'a str,
    #[tokens(namespace = "airport")]
    via: &'a str,
}

#[test]
fn fields_sharing_a_namespace_share_ids() {
    let row = Shared {
        origin: "SFO",
        dest: "SFO",
        via: "SFO JFK",
    };
    let ids = visit_default(&row);
    let sfo = h("SFO", "airport");
    assert_eq!(
        ids,
        vec![
            (sfo, 1.0),
            (sfo, 1.0),
            (sfo, 1.0),
            (h("JFK", "airport"), 1.0)
        ]
    );
    assert_ne!(sfo, h("SFO", "origin"));
}

#[derive(vectorflow::Features)]
#[features(cross(user, country))]
struct Grouped<'a> {
    #[label]
    clicked: bool,
    #[hash(root = "user")]
    user: &'a str,
    #[hash(root = "user")]
    country: &'a str,
    #[value(root = "user", namespace = "age")]
    user_age: f32,
    #[hash(root = "ad")]
    ad: u32,
    #[tokens(root = "ad")]
    title: &'a str,
    #[hash]
    site: &'a str,
    #[dense(root = "ad")]
    embedding: [f32; 3],
    #[dense]
    ctx: [f32; 2],
    #[dense(root = "ad")]
    image: Option<[f32; 2]>,
    #[dense]
    time: &'a [f32; 1],
}

#[test]
fn roots_split_features_into_groups() {
    let row = Grouped {
        clicked: true,
        user: "u1",
        country: "fr",
        user_age: 31.0,
        ad: 99,
        title: "cheap flights",
        site: "news.com",
        embedding: [0.1, 0.2, 0.3],
        ctx: [4.0, 5.0],
        image: None,
        time: &[9.0],
    };
    assert_eq!(
        visit::<{ group_id("user") }, _>(&row),
        vec![
            (h("u1", "user"), 1.0),
            (h("fr", "country"), 1.0),
            (slot_id("age"), 31.0),
            (
                murmur3_32(b"fr", murmur3_32(b"u1", namespace_seed("user^country"))),
                1.0
            ),
        ]
    );
    assert_eq!(
        visit::<{ group_id("ad") }, _>(&row),
        vec![
            (h("99", "ad"), 1.0),
            (h("cheap", "title"), 1.0),
            (h("flights", "title"), 1.0)
        ]
    );
    assert_eq!(visit_default(&row), vec![(h("news.com", "site"), 1.0)]);
    // the same through the trait path the network uses
    let mut n = 0;
    SparseGroup::<{ group_id("user") }>::visit(&row, |_, _| n += 1).unwrap();
    assert_eq!(n, 4);

    // dense groups: field values concatenated in field order, absent = zeros
    let mut ad = [f32::NAN; 5];
    DenseGroup::<{ group_id("ad") }, 5>::dense(&row, &mut ad).unwrap();
    assert_eq!(ad, [0.1, 0.2, 0.3, 0.0, 0.0]);
    let mut ctx = [0.0; 3];
    DenseGroup::<DEFAULT, 3>::dense(&row, &mut ctx).unwrap();
    assert_eq!(ctx, [4.0, 5.0, 9.0]);

    let row = Grouped {
        image: Some([7.0, f32::NAN]),
        ..row
    };
    let err = DenseGroup::<{ group_id("ad") }, 5>::dense(&row, &mut ad).unwrap_err();
    assert_eq!(err.field, "image");
    assert!(err.value.is_nan());

    assert_eq!(Grouped::LABEL_FIELD, "clicked");
    assert_eq!(row.label(), 1.0);
}

const EMB: usize = 4;

#[derive(vectorflow::Features)]
struct DenseOnly {
    #[dense]
    a: [f32; EMB],
    #[dense]
    b: [f32; 2 * 2],
}

#[test]
fn dense_widths_may_be_constant_expressions() {
    let row = DenseOnly {
        a: [1.0, 2.0, 3.0, 4.0],
        b: [5.0, 6.0, 7.0, 8.0],
    };
    let mut out = [0.0; 8];
    DenseGroup::<DEFAULT, 8>::dense(&row, &mut out).unwrap();
    assert_eq!(out, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
}

#[derive(vectorflow::Features)]
struct IntLabel {
    #[label]
    class: u8,
    #[weight]
    w: f32,
    #[hash]
    x: u8,
}

#[derive(vectorflow::Features)]
struct FloatLabel {
    #[label]
    target: f64,
    #[weight]
    count: u32,
}

#[test]
fn labels_and_weights() {
    let r = IntLabel {
        class: 3,
        w: 0.25,
        x: 1,
    };
    assert_eq!(
        (r.label(), r.weight(), IntLabel::LABEL_FIELD),
        (3.0, 0.25, "class")
    );
    let r = FloatLabel {
        target: -1.5,
        count: 4,
    };
    assert_eq!(
        (r.label(), r.weight(), FloatLabel::LABEL_FIELD),
        (-1.5, 4.0, "target")
    );
    let r = Grouped {
        clicked: false,
        user: "",
        country: "",
        user_age: 0.0,
        ad: 0,
        title: "",
        site: "",
        embedding: [0.0; 3],
        ctx: [0.0; 2],
        image: None,
        time: &[0.0],
    };
    assert_eq!(r.label(), 0.0);
}

#[derive(vectorflow::Category, Clone, Copy)]
enum Cabin {
    Economy,
    Business,
    r#First,
}

#[derive(vectorflow::Features)]
struct WithEnum {
    #[hash]
    cabin: Cabin,
    #[hash]
    prev: Option<Cabin>,
    #[tokens]
    upgrades: Vec<Cabin>,
}

#[test]
fn category_enums_hash_like_their_variant_names() {
    let s = namespace_seed("x");
    assert_eq!(Cabin::Economy.category(s), Some(murmur3_32(b"Economy", s)));
    assert_eq!(
        Cabin::Business.category(s),
        Some(murmur3_32(b"Business", s))
    );
    assert_eq!(Cabin::First.category(s), Some(murmur3_32(b"First", s)));
    let row = WithEnum {
        cabin: Cabin::Business,
        prev: None,
        upgrades: vec![Cabin::First, Cabin::Economy],
    };
    assert_eq!(
        visit_default(&row),
        vec![
            (h("Business", "cabin"), 1.0),
            (h("First", "upgrades"), 1.0),
            (h("Economy", "upgrades"), 1.0),
        ]
    );
}

/// A generic row: the derive bounds each type parameter by the trait its field needs.
#[derive(vectorflow::Features)]
#[features(cross(key, other))]
struct Generic<'a, K, V: Copy, const N: usize>
where
    K: Clone,
{
    #[label]
    y: V,
    #[hash]
    key: K,
    #[hash]
    other: &'a str,
    #[value]
    amount: V,
    #[dense]
    emb: [f32; N],
}

#[test]
fn generic_rows() {
    let row = Generic::<'_, u64, f32, 2> {
        y: 1.0,
        key: 12,
        other: "z",
        amount: 0.5,
        emb: [1.0, 2.0],
    };
    assert_eq!(
        visit_default(&row),
        vec![
            (h("12", "key"), 1.0),
            (h("z", "other"), 1.0),
            (slot_id("amount"), 0.5),
            (
                murmur3_32(b"z", murmur3_32(b"12", namespace_seed("key^other"))),
                1.0
            ),
        ]
    );
    let mut out = [0.0; 2];
    DenseGroup::<DEFAULT, 2>::dense(&row, &mut out).unwrap();
    assert_eq!(out, [1.0, 2.0]);
    assert_eq!(row.label(), 1.0);

    let row = Generic::<'_, String, u8, 1> {
        y: 2,
        key: "k".into(),
        other: "z",
        amount: 3,
        emb: [0.0],
    };
    assert_eq!(visit_default(&row)[0], (h("k", "key"), 1.0));
    assert_eq!(row.label(), 2.0);
}

/// A zero-copy row read from CSV: the `&str` fields borrow from the record.
#[derive(serde::Deserialize, vectorflow::Features)]
#[features(cross(origin, dest))]
struct Flight<'a> {
    #[label]
    delayed: u8,
    #[hash]
    carrier: &'a str,
    #[hash]
    origin: &'a str,
    #[hash]
    dest: &'a str,
    #[hash]
    hour: u8,
    #[value]
    distance: f32,
    #[tokens]
    remarks: &'a str,
}

#[test]
fn rows_deserialised_from_csv_borrow_their_text() {
    let data = "delayed,carrier,origin,dest,hour,distance,remarks\n1,UA,EWR,IAH,7,1400.5,wx late\n";
    let mut reader = csv::Reader::from_reader(data.as_bytes());
    let mut record = csv::StringRecord::new();
    assert!(reader.read_record(&mut record).unwrap());
    let row: Flight = record.deserialize(Some(reader.headers().unwrap())).unwrap();
    assert_eq!(
        row.carrier.as_ptr(),
        record.get(1).unwrap().as_ptr(),
        "zero-copy"
    );
    assert_eq!(row.label(), 1.0);
    assert_eq!(
        visit_default(&row),
        vec![
            (h("UA", "carrier"), 1.0),
            (h("EWR", "origin"), 1.0),
            (h("IAH", "dest"), 1.0),
            (h("7", "hour"), 1.0),
            (slot_id("distance"), 1400.5),
            (h("wx", "remarks"), 1.0),
            (h("late", "remarks"), 1.0),
            (
                murmur3_32(b"IAH", murmur3_32(b"EWR", namespace_seed("origin^dest"))),
                1.0
            ),
        ]
    );
}

/// Raw identifiers name their namespace without `r#`.
#[derive(vectorflow::Features)]
struct Raw {
    #[hash]
    r#type: u8,
}

#[test]
fn raw_field_names_drop_the_prefix() {
    assert_eq!(
        visit_default(&Raw { r#type: 1 }),
        vec![(h("1", "type"), 1.0)]
    );
}

/// Text that may hold JSON escapes: borrowed when it has none, decoded when it has.
#[derive(serde::Deserialize, vectorflow::Features)]
#[features(cross(city, shop))]
struct Escaped<'a> {
    #[label]
    bought: bool,
    #[hash]
    #[serde(borrow)]
    city: Cow<'a, str>,
    #[hash]
    #[serde(borrow)]
    shop: Option<Cow<'a, str>>,
    #[tokens]
    #[serde(borrow)]
    review: Cow<'a, str>,
}

/// The same row with `&str` fields, for the ids `Escaped` must equal.
#[derive(vectorflow::Features)]
#[features(cross(city, shop))]
struct Plain<'a> {
    #[label]
    bought: bool,
    #[hash]
    city: &'a str,
    #[hash]
    shop: Option<&'a str>,
    #[tokens]
    review: &'a str,
}

#[test]
fn cow_text_borrows_without_escapes_decodes_them_and_hashes_as_str() {
    // What Python's `json.dumps` writes: non-ASCII as `\u00e9`, quotes as `\"`.
    let text = concat!(
        r#"{"bought": true, "city": "Lyon", "shop": "Bio", "review": "good value"}"#,
        "\n",
        r#"{"bought": false, "city": "caf\u00e9", "shop": "a\"b", "review": "tr\u00e8s \"bon\""}"#,
        "\n",
    );
    let mut reader = vectorflow::io::JsonLines::new(text.as_bytes(), "e.jsonl");
    let rows = reader.next_rows::<Escaped>().unwrap().unwrap();
    assert!(matches!(rows[0].city, Cow::Borrowed(_)));
    // serde borrows into a `Cow` field only, not into one inside an `Option`.
    assert!(matches!(rows[0].shop, Some(Cow::Owned(_))));
    assert!(matches!(rows[0].review, Cow::Borrowed(_)));
    assert!(matches!(rows[1].city, Cow::Owned(_)));
    assert_eq!(rows[1].city, "café");
    assert_eq!(rows[1].shop.as_deref(), Some("a\"b"));
    assert_eq!(rows[1].review, "très \"bon\"");
    let plain = [
        Plain {
            bought: true,
            city: "Lyon",
            shop: Some("Bio"),
            review: "good value",
        },
        Plain {
            bought: false,
            city: "café",
            shop: Some("a\"b"),
            review: "très \"bon\"",
        },
    ];
    for (row, plain) in rows.iter().zip(&plain) {
        assert_eq!(visit_default(row), visit_default(plain));
        assert_eq!(row.label(), plain.label());
    }
    assert_eq!(visit_default(&rows[1])[0], (h("café", "city"), 1.0));
}

/// A survival row: the duration, censoring and a per-row array ride beside the hashed
/// features as `#[aux]`.
#[derive(vectorflow::Features)]
struct Promo<'a> {
    #[weight]
    w: f32,
    #[hash]
    country: &'a str,
    #[aux]
    duration: f32,
    #[aux]
    observed: bool,
    #[aux]
    r#type: u8,
    #[aux]
    spend: [f64; 2],
}

#[test]
fn aux_fields_become_a_copy_struct_that_round_trips_through_bytes() {
    use vectorflow::features::{AuxFields, AuxValue};
    let row = Promo {
        w: 2.0,
        country: "FR",
        duration: 0.75,
        observed: true,
        r#type: 3,
        spend: [1.5, -2.0],
    };
    let aux: PromoAux = row.aux();
    let copy = aux;
    assert_eq!(
        copy,
        PromoAux {
            duration: 0.75,
            observed: true,
            r#type: 3,
            spend: [1.5, -2.0]
        }
    );
    assert_eq!(PromoAux::BYTES, 4 + 1 + 1 + 16);
    assert_eq!(
        PromoAux::layout(),
        "PromoAux { duration: f32, observed: bool, type: u8, spend: [f64; 2] }"
    );
    let mut bytes = Vec::new();
    aux.put(&mut bytes);
    assert_eq!(bytes.len(), PromoAux::BYTES);
    assert_eq!(PromoAux::get(&bytes), aux);
    // Aux fields are not features, and a row without them carries `()`.
    assert_eq!(visit_default(&row), vec![(h("FR", "country"), 1.0)]);
    let () = Raw { r#type: 1 }.aux();
}
