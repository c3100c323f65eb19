//! Cluster mode: two `signalbox serve --cluster` nodes over a three-node
//! JetStream cluster (`replicas = 3`), all on loopback ports with their own
//! folders. Publishers here behave like real clients: a request that fails
//! is sent again, to the next node; the bus's dedup window makes that safe.
//! Every event that got a 200 must reach the target; duplicates are
//! counted and reported (at-least-once allows them).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signalbox_test_plugins as artifacts;

use crate::brokers::NatsCluster;
use crate::receiver::Receiver;
use crate::support::*;

fn node_config(nats: &NatsCluster, name: &str) -> String {
    let servers: Vec<String> = nats.urls().split(',').map(|u| format!("\"{u}\"")).collect();
    format!(
        "[cluster]\nservers = [{}]\nnode = \"{name}\"\nreplicas = 3\n",
        servers.join(", ")
    )
}

struct Cluster {
    nats: NatsCluster,
    nodes: Vec<Server>,
}

impl Cluster {
    fn start(nodes: usize) -> Cluster {
        let nats = NatsCluster::start(3);
        let nodes = (0..nodes)
            .map(|i| Server::start_with_config(&node_config(&nats, &format!("sb{i}"))))
            .collect();
        Cluster { nats, nodes }
    }

    /// The event URLs of the running nodes.
    fn event_urls(&self, bus: &str) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| n.url(&format!("/v1/buses/{bus}/events")))
            .collect()
    }

    /// Which node runs a rule: the one whose status lists its targets.
    async fn owner(&self, bus: &str, rule: &str) -> usize {
        let path = format!("/v1/buses/{bus}/rules/{rule}");
        for _ in 0..200 {
            for (i, n) in self.nodes.iter().enumerate() {
                let (st, v) = get(n, &path).await;
                if st == 200 && !v["status"]["targets"].as_array().unwrap().is_empty() {
                    return i;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no node runs {bus}/{rule}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A failing test shows what each node said.
        if std::thread::panicking() {
            for (i, n) in self.nodes.iter().enumerate() {
                let log = n.log();
                let tail: Vec<&str> = log.lines().rev().take(80).collect();
                eprintln!("--- node sb{i}, last lines ---");
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// Publishers: `workers` tasks, each sending batches of 10 new events to
/// the nodes in turn, a failed batch again to the next node, until `stop`.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<String>>>,
    retries: Arc<Mutex<u64>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(urls: Arc<RwLock<Vec<String>>>, workers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Arc<Mutex<HashSet<String>>> = Default::default();
        let retries = Arc::new(Mutex::new(0));
        let tasks = (0..workers)
            .map(|w| {
                let (stop, acked, retries, urls) =
                    (stop.clone(), acked.clone(), retries.clone(), urls.clone());
                tokio::spawn(async move {
                    let c = reqwest::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .unwrap();
                    let mut turn = w;
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let batch: Vec<Value> =
                            (0..10).map(|j| event(&format!("w{w}-{i}-{j}"))).collect();
                        let body = Value::from(batch.clone()).to_string();
                        loop {
                            let url = {
                                let u = urls.read().unwrap();
                                turn += 1;
                                u[turn % u.len()].clone()
                            };
                            let r = c
                                .post(&url)
                                .header("content-type", "application/cloudevents-batch+json")
                                .body(body.clone())
                                .send()
                                .await;
                            if matches!(&r, Ok(r) if r.status() == 200) {
                                let mut a = acked.lock().unwrap();
                                for e in &batch {
                                    a.insert(e["id"].as_str().unwrap().to_owned());
                                }
                                break;
                            }
                            *retries.lock().unwrap() += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            acked,
            retries,
            tasks,
        }
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Stops publishing; returns the acknowledged ids and the retries.
    async fn finish(self) -> (HashSet<String>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let retries = *self.retries.lock().unwrap();
        (self.acked.lock().unwrap().clone(), retries)
    }
}

/// Waits until the receiver has every acknowledged id; returns how many
/// deliveries were duplicates. A backlog may take its time on a busy
/// machine: this fails when deliveries stop arriving for `stall_secs`
/// while some are missing (lost), not because draining is slow.
async fn all_delivered(r: &Receiver, acked: &HashSet<String>, stall_secs: u64) -> usize {
    let mut last_count = 0;
    let mut last_progress = Instant::now();
    loop {
        let got = r.received();
        let mut count: HashMap<String, usize> = HashMap::new();
        for g in &got {
            *count
                .entry(g.header("ce-id").unwrap_or_default())
                .or_default() += 1;
        }
        let missing: Vec<&String> = acked.iter().filter(|id| !count.contains_key(*id)).collect();
        if missing.is_empty() {
            return count.values().map(|n| n - 1).sum();
        }
        if got.len() != last_count {
            last_count = got.len();
            last_progress = Instant::now();
        }
        assert!(
            last_progress.elapsed() < Duration::from_secs(stall_secs),
            "{} of {} acknowledged events never arrived ({} deliveries in all, none for {stall_secs}s), e.g. {:?}",
            missing.len(),
            acked.len(),
            got.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A bus with a dedup window, so a batch sent again after a failure is not
/// stored twice, and a rule sending everything to `r`.
async fn route_all(s: &Server, r: &Receiver) {
    let (st, _) = put_json(s, "/v1/buses/default", &json!({"dedup_window": "10m"})).await;
    assert!(st == 200 || st == 201, "{st}");
    let (st, v) = put_json(
        s,
        "/v1/buses/default/rules/all",
        &json!({"pattern": {"source": ["/tests"]},
                "targets": [{"id": "r", "type": "http", "url": r.url, "concurrency": 16}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
}

fn order(id: &str, total: f64) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/shop", "type": "order.created",
           "datacontenttype": "application/json", "data": {"order": id, "total": total}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_takes_events_and_a_change_on_one_node_acts_on_the_others() {
    let c = Cluster::start(2);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    // b, just started, sees a alive from the first moment: a new node whose
    // view lacked the others would run their rules for a moment (its
    // heartbeat watch had not delivered them yet, half a second).
    for _ in 0..10 {
        let (st, v) = get(b, "/v1/cluster").await;
        assert_eq!(st, 200, "{v}");
        let a_alive = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "sb0" && n["alive"] == true);
        assert!(a_alive, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = Receiver::start().await;

    // A plugin uploaded through b, a rule using it created through a.
    let (st, v) = upload_plugin(b, "high-value", "1", artifacts::FILTER_HIGH_VALUE).await;
    assert_eq!(st, 201, "{v}");
    wait_until(5, async || {
        get(a, "/v1/plugins/high-value/versions/1").await.0 == 200
    })
    .await;
    let (st, v) = put_json(
        a,
        "/v1/buses/default/rules/big-orders",
        &json!({"pattern": {"source": ["/shop"]}, "filters": [{"plugin": "high-value@1"}],
                "targets": [{"id": "r", "type": "http", "url": r.url}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    // Within a second every node knows the rule and it acts on events
    // published to either node.
    wait_until(5, async || {
        get(b, "/v1/buses/default/rules/big-orders").await.0 == 200
    })
    .await;
    // Both nodes name the same node as the one running it; only that node
    // reports a position (once it has started it: a node that learns it
    // owns a rule waits a moment for any previous owner to stop).
    c.owner("default", "big-orders").await;
    let (_, v) = get(b, "/v1/buses/default/rules/big-orders").await;
    let (_, va) = get(a, "/v1/buses/default/rules/big-orders").await;
    let runner = v["status"]["node"].as_str().unwrap().to_owned();
    assert_eq!(va["status"]["node"], runner.as_str(), "{va}");
    assert!(va["filters"].is_array(), "{va}");
    assert!(runner == "sb0" || runner == "sb1", "{runner}");
    let (here, there) = if runner == "sb0" {
        (&va, &v)
    } else {
        (&v, &va)
    };
    assert!(here["status"]["cursor"].is_u64(), "{here}");
    assert!(there["status"]["cursor"].is_null(), "{there}");
    assert_eq!(
        post_structured(b, "default", &order("on-b", 5000.0))
            .await
            .0,
        200
    );
    assert_eq!(
        post_structured(a, "default", &order("on-a", 9000.0))
            .await
            .0,
        200
    );
    assert_eq!(
        post_structured(b, "default", &order("small", 5.0)).await.0,
        200
    );
    let got = r.wait_for(2, 30).await;
    let mut ids: Vec<String> = got.iter().filter_map(|g| g.header("ce-id")).collect();
    ids.sort();
    assert_eq!(ids, ["on-a", "on-b"]);

    // Every node reads the same log and traces.
    for n in [a, b] {
        let (_, v) = get(n, "/v1/buses/default/events?limit=10").await;
        assert_eq!(v["events"].as_array().unwrap().len(), 3, "{v}");
    }
    // Read-your-writes across nodes, with no wait: the last event of a
    // batch acknowledged by b is listed and found by id on a at once (a's
    // follower is still taking in the batch). No rule matches these.
    let pad = "x".repeat(2000);
    for round in 0..5 {
        let batch: Vec<Value> = (0..200)
            .map(|i| {
                json!({"specversion": "1.0", "id": format!("ryw-{round}-{i}"), "source": "/ryw",
                       "type": "t", "data": {"pad": pad}})
            })
            .collect();
        let (st, v) = post_batch(b, "default", &Value::Array(batch)).await;
        assert_eq!(st, 200, "{v}");
        let seq = v["entries"][199]["seq"].as_u64().unwrap();
        // Each read syncs a's head; which goes first alternates, so each is
        // checked while a's follower may still be behind.
        // The whole batch in one page, ending with its last event.
        let listed = async || {
            let (_, v) = get(
                a,
                &format!("/v1/buses/default/events?after={}&limit=200", seq - 200),
            )
            .await;
            let events = v["events"].as_array().unwrap();
            assert_eq!(events.len(), 200, "{}", v["next"]);
            assert_eq!(events[199]["seq"], seq);
        };
        let counted = async || {
            let (_, v) = get(a, "/v1/buses/default").await;
            assert!(v["last_seq"].as_u64() >= Some(seq), "{v}");
        };
        if round % 2 == 0 {
            listed().await;
            counted().await;
        } else {
            counted().await;
            listed().await;
        }
        let id = format!("ryw-{round}-199");
        let (st, v) = get(a, &format!("/v1/buses/default/events/{id}")).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["seq"], seq, "{v}");
    }
    wait_until(10, async || {
        let (_, v) = get(a, "/v1/buses/default/events/on-b/trace").await;
        v["steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["step"] == "delivered"))
    })
    .await;

    // A bus made through b takes events through a; a rule changed through
    // b applies on the node running it.
    let (st, _) = put_json(b, "/v1/buses/orders", &json!({"description": "x"})).await;
    assert_eq!(st, 201);
    // a takes events for it and shows it at once, before its catalogue
    // watch may have brought it; so do buses made one after another.
    let (st, v) = post_structured(a, "orders", &order("first", 1.0)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(get(a, "/v1/buses/orders").await.0, 200);
    // Twenty at once keep a's watch busy opening them one by one.
    let names: Vec<String> = (0..20).map(|i| format!("made-on-b-{i}")).collect();
    let body = json!({});
    let paths: Vec<String> = names.iter().map(|n| format!("/v1/buses/{n}")).collect();
    let made = futures_util::future::join_all(paths.iter().map(|p| put_json(b, p, &body))).await;
    assert!(made.iter().all(|(st, _)| *st == 201), "{made:?}");
    for name in names.iter().rev() {
        let (st, v) = post_structured(a, name, &order("first", 1.0)).await;
        assert_eq!(st, 200, "{v}");
        let (st, v) = get(a, &format!("/v1/buses/{name}/events")).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["events"][0]["id"], "first", "{v}");
    }
    let (st, v) = put_json(
        b,
        "/v1/buses/default/rules/big-orders",
        &json!({"pattern": {"source": ["/shop"]},
                "targets": [{"id": "r", "type": "http", "url": r.url}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    // Both nodes know the new version, then the runner has a moment to
    // restart the rule with it.
    for n in [a, b] {
        wait_until(5, async || {
            let (_, v) = get(n, "/v1/buses/default/rules/big-orders").await;
            v["filters"].is_null()
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        post_structured(a, "default", &order("small-now-too", 5.0))
            .await
            .0,
        200
    );
    let got = r.wait_for(3, 30).await;
    assert!(
        got.iter()
            .any(|g| g.header("ce-id").as_deref() == Some("small-now-too"))
    );

    // A token created through a is required by b at once: authentication
    // switched on cluster-wide.
    let (st, v) = post_json(
        a,
        "/v1/tokens",
        &json!({"name": "ops", "scopes": ["admin"]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let secret = v["secret"].as_str().unwrap().to_owned();
    wait_until(5, async || get(b, "/v1/buses").await.0 == 401).await;
    let st = client()
        .get(b.url("/v1/buses"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 200);

    // `signalbox cluster status` sees both nodes and the streams.
    let out = std::process::Command::new(&*BIN)
        .args(["--server", &a.base, "--token", &secret, "--output", "json"])
        .args(["cluster", "status"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mode"], "cluster", "{v}");
    let alive = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["alive"] == true)
        .count();
    assert_eq!(alive, 2, "{v}");
    assert!(
        v["streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"].as_str().unwrap().starts_with("SB_BUS_")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_of_a_signalbox_node_under_load_loses_no_acknowledged_event() {
    let mut c = Cluster::start(2);
    let r = Receiver::start().await;
    route_all(&c.nodes[0], &r).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let urls = Arc::new(RwLock::new(c.event_urls("default")));
    let load = Load::start(urls.clone(), 4);
    wait_until(30, async || load.acked() > 500).await;
    // Kill the node that runs the rule: the other takes it over.
    let victim = c.owner("default", "all").await;
    c.nodes[victim].kill9();
    urls.write().unwrap().remove(victim);
    let before = load.acked();
    wait_until(60, async || load.acked() > before + 500).await;
    let (acked, retries) = load.finish().await;
    let dups = all_delivered(&r, &acked, 60).await;
    eprintln!(
        "kill -9 of node {victim}: {} events acknowledged, all delivered; {dups} duplicate deliveries; {retries} retried requests",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_of_a_nats_node_under_load_loses_no_acknowledged_event() {
    let mut c = Cluster::start(2);
    let r = Receiver::start().await;
    route_all(&c.nodes[0], &r).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let urls = Arc::new(RwLock::new(c.event_urls("default")));
    let load = Load::start(urls.clone(), 4);
    wait_until(30, async || load.acked() > 500).await;
    c.nats.kill9(0);
    // Publishing resumes (clients that retry lose nothing) and delivery
    // goes on.
    let before = load.acked();
    wait_until(90, async || load.acked() > before + 1000).await;
    let (acked, retries) = load.finish().await;
    let dups = all_delivered(&r, &acked, 60).await;
    eprintln!(
        "kill -9 of a NATS node: {} events acknowledged, all delivered; {dups} duplicate deliveries; {retries} retried requests",
        acked.len()
    );
    // The node comes back and catches up.
    c.nats.restart(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_no_acknowledged_event() {
    let mut c = Cluster::start(2);
    let r = Receiver::start().await;
    route_all(&c.nodes[0], &r).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let urls = Arc::new(RwLock::new(c.event_urls("default")));
    let load = Load::start(urls.clone(), 4);
    wait_until(30, async || load.acked() > 300).await;
    for i in 0..c.nodes.len() {
        // Take the node out of the publishers' list, stop it cleanly,
        // start it again, put it back.
        let url = c.nodes[i].url("/v1/buses/default/events");
        urls.write().unwrap().retain(|u| *u != url);
        let status = c.nodes[i].terminate();
        assert!(status.success(), "{}", c.nodes[i].log());
        let before = load.acked();
        wait_until(60, async || load.acked() > before + 200).await;
        c.nodes[i].restart();
        urls.write()
            .unwrap()
            .push(c.nodes[i].url("/v1/buses/default/events"));
        let before = load.acked();
        wait_until(60, async || load.acked() > before + 200).await;
    }
    let (acked, retries) = load.finish().await;
    let dups = all_delivered(&r, &acked, 60).await;
    eprintln!(
        "rolling restart: {} events acknowledged, all delivered; {dups} duplicate deliveries; {retries} retried requests",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_import_moves_an_embedded_deployment_into_a_cluster() {
    // An embedded deployment: a plugin, a bus, a rule using both, a token.
    let mut embedded = Server::start();
    let r = Receiver::start().await;
    let (st, v) = upload_plugin(&embedded, "high-value", "1", artifacts::FILTER_HIGH_VALUE).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        put_json(&embedded, "/v1/buses/orders", &json!({})).await.0,
        201
    );
    let (st, v) = put_json(
        &embedded,
        "/v1/buses/orders/rules/big",
        &json!({"pattern": {"source": ["/shop"]}, "filters": [{"plugin": "high-value@1"}],
                "targets": [{"id": "r", "type": "http", "url": r.url}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = post_json(
        &embedded,
        "/v1/tokens",
        &json!({"name": "ops", "scopes": ["admin"]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let secret = v["secret"].as_str().unwrap().to_owned();
    assert!(embedded.terminate().success());

    let nats = NatsCluster::start(3);
    let out = std::process::Command::new(&*BIN)
        .args(["--output", "json", "cluster", "import", "--replicas", "3"])
        .arg("--data-dir")
        .arg(embedded.data_dir())
        .args(["--cluster", &nats.urls()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["buses"], 2, "{report}");
    assert_eq!(report["rules"], 1, "{report}");
    assert_eq!(report["plugins"], 1, "{report}");
    assert_eq!(report["tokens"], 1, "{report}");

    let c = Cluster {
        nodes: vec![Server::start_with_config(&node_config(&nats, "sb0"))],
        nats,
    };
    let node = &c.nodes[0];
    // The token came along, and with it authentication.
    assert_eq!(get(node, "/v1/buses").await.0, 401);
    let authed = |path: &str| client().get(node.url(path)).bearer_auth(&secret);
    let rule: Value = authed("/v1/buses/orders/rules/big")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rule["filters"][0]["plugin"], "high-value@1", "{rule}");
    for (id, total) in [("big-one", 5000.0), ("small-one", 3.0)] {
        let st = client()
            .post(node.url("/v1/buses/orders/events"))
            .bearer_auth(&secret)
            .header("content-type", "application/cloudevents+json")
            .body(order(id, total).to_string())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(st, 200);
    }
    let got = r.wait_for(1, 30).await;
    assert_eq!(got[0].header("ce-id").as_deref(), Some("big-one"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.received().len(), 1);
}
