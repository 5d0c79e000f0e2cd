use vectorflow::Features;

#[derive(Features)]
struct Row {
    #[dense]
    embedding: Vec<f32>,
    #[dense(root = "ctx")]
    ctx: &'static [f32],
}

fn main() {}
