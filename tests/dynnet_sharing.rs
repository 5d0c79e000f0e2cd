//! Run-time nets ([`DynNet`]) under every way of sharing the weights: replicas and
//! Hogwild threads, and ranks (`Trainer::ranks(..).fit_dyn`), with checkpoints.

use vectorflow::cluster::{local, Collective};
use vectorflow::dynnet::{DynLoss, DynNet};
use vectorflow::io::{SparseRow, SparseRows};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

type Mlp = network![Sparse<{ 1 << 12 }> => Linear<16> => ReLU => Linear<1>];
const MLP: &str = "sparse:2^12 > 16 > relu > 1";

/// Rows of a planted logistic model over ids below 2^12.
fn data(n: usize) -> SparseRows {
    let mut rng = Rng::new(11);
    let mut rows = SparseRows::new();
    for line in 0..n {
        let ids: Vec<u32> = (0..6)
            .map(|_| (rng.below(64) * rng.below(64)) as u32)
            .collect();
        let score: u32 = ids.iter().map(|i| i % 7).sum();
        let f = ids.iter().map(|&id| SparseF { id, value: 1.0 });
        rows.push((score % 2) as f32, 1.0, f, line as u64 + 1, "");
    }
    rows
}

fn bits(w: &vectorflow::weights::Weights) -> Vec<u32> {
    w.iter().map(|x| x.to_bits()).collect()
}

fn trainer() -> Trainer<AdaGrad> {
    Trainer::new(AdaGrad::new(0.1))
        .passes(2)
        .seed(3)
        .holdout(Holdout::EveryKth(10))
        .progress(Progress::Silent)
}

/// Replicas are deterministic for a thread count: two threads train the typed net's
/// weights bit for bit. Hogwild threads race, so they only have to learn.
#[test]
fn replicas_and_hogwild_threads_train_a_run_time_net() {
    let rows = data(4000);
    let rows = rows.to_rows();
    let init = Init::uniform(0.1).seed(7);
    let t = trainer().threads(2).chunk_rows(500);
    let replicas = t.clone().sharing(Sharing::Replicas);
    let mut typed = Mlp::new(init);
    let mut dynamic = DynNet::new(MLP, init).unwrap();
    replicas.fit(&mut typed, &rows, Logistic).unwrap();
    replicas
        .fit_dyn(&mut dynamic, &rows, DynLoss::Logistic)
        .unwrap();
    assert_eq!(bits(dynamic.params()), bits(typed.params()));

    let mut dynamic = DynNet::new(MLP, init).unwrap();
    let report = t
        .sharing(Sharing::Hogwild)
        .fit_dyn(&mut dynamic, &rows, DynLoss::Logistic)
        .unwrap();
    let (first, last) = (&report.passes[0], &report.passes[1]);
    assert!(last.train_loss < first.train_loss, "{report:?}");
    assert_eq!(last.rows as usize, rows.len() - rows.len() / 10);
    assert!(dynamic.params().iter().all(|w| w.is_finite()));
}

/// Rank `r`'s share of `rows` when `n` ranks split them evenly.
fn shard<'a>(rows: &'a [SparseRow<'a>], n: usize, r: usize) -> &'a [SparseRow<'a>] {
    &rows[rows.len() * r / n..rows.len() * (r + 1) / n]
}

/// A run-time net trained across ranks ends, on every rank, with the weights the typed
/// net of its topology ends with across the same ranks.
#[test]
fn ranks_train_a_run_time_net_as_the_typed_net() {
    let rows = data(3000);
    let rows = rows.to_rows();
    let init = Init::uniform(0.1).seed(5);
    let results = local::run(2, |comm| {
        let mine = shard(&rows, 2, comm.rank());
        let t = trainer().ranks(comm).sync_rows(200);
        let mut typed = Mlp::new(init);
        let a = t.fit(&mut typed, mine, Logistic).unwrap();
        let mut dynamic = DynNet::new(MLP, init).unwrap();
        let b = t.fit_dyn(&mut dynamic, mine, DynLoss::Logistic).unwrap();
        assert_eq!(a.rows(), b.rows());
        (bits(typed.params()), bits(dynamic.params()))
    });
    for (r, (typed, dynamic)) in results.iter().enumerate() {
        assert!(typed == dynamic, "rank {r}");
        assert!(dynamic == &results[0].1, "rank {r}");
    }
    // A loss of another width is refused on every rank, before training.
    let errs = local::run(2, |comm| {
        let mut net = DynNet::new(MLP, init).unwrap();
        let t = trainer().ranks(comm);
        t.fit_dyn(
            &mut net,
            shard(&rows, 2, comm.rank()),
            DynLoss::Multinomial(3),
        )
        .unwrap_err()
        .to_string()
    });
    for e in errs {
        assert!(e.contains("the loss reads 3 outputs"), "{e}");
    }
}

/// A checkpointed job of a run-time net across ranks, stopped after its first
/// pass and restarted, ends with the weights of the job never stopped.
#[test]
fn a_run_time_nets_checkpoint_resumes_as_an_unbroken_job() {
    let dir = std::env::temp_dir().join(format!("vf-dynnet-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rows = data(2000);
    let rows = rows.to_rows();
    let init = Init::uniform(0.1).seed(2);
    let unbroken = local::run(2, |comm| {
        let mut net = DynNet::new(MLP, init).unwrap();
        let mine = shard(&rows, 2, comm.rank());
        trainer()
            .ranks(comm)
            .fit_dyn(&mut net, mine, DynLoss::Logistic)
            .unwrap();
        bits(net.params())
    });
    let path = dir.join("job.vf");
    let job = |passes: usize| {
        local::run(2, |comm| {
            let mut net = DynNet::new(MLP, init).unwrap();
            let mine = shard(&rows, 2, comm.rank());
            let report = trainer()
                .passes(passes)
                .ranks(comm)
                .checkpoint(&path)
                .fit_dyn(&mut net, mine, DynLoss::Logistic)
                .unwrap();
            (bits(net.params()), report.passes.len())
        })
    };
    let first = job(1);
    assert_eq!(first[0].1, 1);
    assert_ne!(first[0].0, unbroken[0]);
    let resumed = job(2);
    for (r, (w, passes)) in resumed.iter().enumerate() {
        assert_eq!(*passes, 1, "rank {r} trains the pass left");
        assert!(w == &unbroken[0], "rank {r}");
    }
    assert_eq!(
        DynNet::load(&path).unwrap().train_state().unwrap().passes(),
        2
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
