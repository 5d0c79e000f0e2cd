use vectorflow::Features;

#[derive(Features)]
#[features(cross(origin), cross(origin, origin))]
struct Row<'a> {
    #[hash]
    origin: &'a str,
}

fn main() {}
