// What `network!` expands to names its checks through `vectorflow::__private`: they are
// not API, and not reachable where they were public before.
use vectorflow::layers::{check_sparse_dim, RootFeed};
use vectorflow::network::{Checked, SameWidth};

fn main() {}
