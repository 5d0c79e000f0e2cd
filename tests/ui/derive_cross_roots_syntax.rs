use vectorflow::Features;

// A cross already listed field by field, an unknown key, a nested list, and no list.
#[derive(Features)]
#[features(cross(origin, dest), cross_roots(origin, dest))]
#[features(cross_roots(origin, dest, namespace = "od"))]
#[features(cross_roots(origin(x), dest))]
#[features(cross_roots)]
struct Row<'a> {
    #[hash]
    origin: &'a str,
    #[hash]
    dest: &'a str,
}

fn main() {}
