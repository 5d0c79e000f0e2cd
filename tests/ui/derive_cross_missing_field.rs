use vectorflow::Features;

#[derive(Features)]
#[features(cross(origin, destination))]
struct Row<'a> {
    #[hash]
    origin: &'a str,
    #[hash]
    dest: &'a str,
}

fn main() {}
