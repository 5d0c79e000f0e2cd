use vectorflow::Features;

#[derive(Features)]
struct Row {
    #[hash]
    price: f32,
    #[hash]
    score: Option<f64>,
}

fn main() {}
