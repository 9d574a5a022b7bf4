//! Benchmark: one pod in a namespace of 2,000 pods, 1,000 Services and 500
//! NetworkPolicies on the fixture API server. Prints wall time and the number
//! of API requests; targets < 1 s and < 30 requests.
//!
//! Run with `tests/bench/cluster.sh` (release build), or
//! `cargo test --test it bench_cluster:: -- --ignored --nocapture`.

use crate::support;

use meshdoc::collect::cluster::{self, MeshChoice, Needs, Request, Target, client::ClientOptions};
use std::time::{Duration, Instant};
use support::apiserver::ApiServer;

#[test]
#[ignore = "benchmark: run tests/bench/cluster.sh"]
fn one_pod_in_a_namespace_of_two_thousand() {
    let server = ApiServer::start(support::scenarios::big_namespace());
    let d = tempfile::tempdir().unwrap();
    let kc = server.write_kubeconfig(d.path(), "big");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut best = Duration::MAX;
    let mut requests = 0;
    for round in 0..3 {
        server.clear_requests();
        let t = Instant::now();
        let c = rt.block_on(async {
            let (client, ns, url) = cluster::client::connect(&ClientOptions {
                kubeconfig: Some(kc.clone()),
                ..ClientOptions::default()
            })
            .await
            .unwrap();
            cluster::collect(
                client,
                Request {
                    target: Target::parse("pod/app-7-5f7b9c-00014").unwrap(),
                    namespace: ns,
                    since: Duration::from_secs(3600),
                    tail: 2000,
                    timeout: Duration::from_secs(30),
                    mesh: MeshChoice::Auto,
                    needs: Needs::everything(),
                },
                url,
            )
            .await
            .unwrap()
        });
        let wall = t.elapsed();
        let reqs = server.requests();
        assert!(reqs.iter().all(|r| r.method == "GET"));
        assert!(c.failures.is_empty(), "{:#?}", c.failures);
        requests = reqs.len();
        println!(
            "round {round}: wall {:.3}s, {} API requests ({} counted by meshdoc), {} objects, {} NetworkPolicies",
            wall.as_secs_f64(),
            reqs.len(),
            c.requests,
            c.objects.len(),
            c.objects
                .iter()
                .filter(|o| o["kind"] == "NetworkPolicy")
                .count()
        );
        if round == 0 {
            for r in &reqs {
                println!(
                    "  GET {}{}{}",
                    r.path,
                    if r.query.is_empty() { "" } else { "?" },
                    r.query
                );
            }
        }
        best = best.min(wall);
    }
    println!(
        "cluster benchmark: best wall {:.3}s (target < 1s), {requests} API requests (target < 30)",
        best.as_secs_f64()
    );
    assert!(requests < 30, "{requests} requests");
}
