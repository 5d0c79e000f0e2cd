use vectorflow::Features;

#[derive(Features)]
#[features(cross(origin, distance), cross(origin, note))]
struct Row<'a> {
    #[hash]
    origin: &'a str,
    #[value]
    distance: f32,
    note: &'a str,
}

fn main() {}
