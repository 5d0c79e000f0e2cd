use vectorflow::Features;

struct Point {
    x: f32,
}

#[derive(Features)]
struct Row {
    #[hash]
    at: Point,
    #[value]
    name: String,
    #[tokens]
    count: f32,
    #[sparse]
    pairs: Vec<f32>,
    #[dense]
    emb: [f64; 4],
}

fn main() {}
