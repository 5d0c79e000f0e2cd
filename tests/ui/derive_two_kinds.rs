use vectorflow::Features;

#[derive(Features)]
struct Row {
    #[hash]
    #[tokens]
    site: String,
    #[label]
    #[value]
    y: f32,
}

fn main() {}
