use vectorflow::Features;

// `items` is neither a root nor a namespace; `ctx` holds only dense fields; `ids` is a
// #[sparse] field, which has no namespace; `w` is the weight.
#[derive(Features)]
#[features(cross_roots(user, items), cross_roots(user, ctx), cross_roots(ids, user))]
#[features(cross_roots(w, user))]
struct Row<'a> {
    #[weight]
    w: f32,
    #[hash(root = "user")]
    uid: &'a str,
    #[hash(root = "item")]
    iid: &'a str,
    #[sparse]
    ids: Vec<(u32, f32)>,
    #[dense(root = "ctx")]
    emb: [f32; 4],
}

fn main() {}
