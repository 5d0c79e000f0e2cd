use vectorflow::Features;

#[derive(Features)]
#[features(cross(origin, dest, namespace = ""))]
struct Row<'a> {
    #[hash(namespace = "")]
    origin: &'a str,
    #[hash]
    dest: &'a str,
}

fn main() {}
