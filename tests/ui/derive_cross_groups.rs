use vectorflow::Features;

#[derive(Features)]
#[features(cross(user, ad))]
struct Row<'a> {
    #[hash(root = "user")]
    user: &'a str,
    #[hash(root = "ad")]
    ad: &'a str,
}

fn main() {}
