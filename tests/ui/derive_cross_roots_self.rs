use vectorflow::Features;

// A root crossed with itself, a namespace inside the root it is crossed with, one side,
// three sides, and the same cross twice.
#[derive(Features)]
#[features(cross_roots(user, user), cross_roots(user, country))]
#[features(cross_roots(user), cross_roots(user, item, ad))]
#[features(cross_roots(user, item), cross_roots(user, item))]
struct Row<'a> {
    #[hash(root = "user")]
    uid: &'a str,
    #[hash(root = "user")]
    country: &'a str,
    #[hash(root = "item")]
    iid: &'a str,
    #[hash(root = "ad")]
    ad: &'a str,
}

fn main() {}
