//! Message brokers the tests run themselves, on free loopback ports with
//! their own folders: `nats-server` (with JetStream) and Mosquitto. They
//! stop when dropped.
//!
//! `nats-server` is the one `scripts/ensure-deps` installs in
//! `tests/.venv` (or `SIGNALBOX_NATS_SERVER`); Mosquitto is Debian's
//! (`/usr/sbin/mosquitto`, or `SIGNALBOX_MOSQUITTO`).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tool(env: &str, default: PathBuf, hint: &str) -> PathBuf {
    let p = std::env::var_os(env).map_or(default, PathBuf::from);
    assert!(
        p.exists(),
        "{} is missing: {hint} (or set {env})",
        p.display()
    );
    p
}

/// A `nats-server` with JetStream.
pub struct Nats {
    child: Child,
    /// Its client port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nats {
    /// Starts one on a free port with a fresh store folder.
    pub fn start() -> Nats {
        let bin = tool(
            "SIGNALBOX_NATS_SERVER",
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/.venv/bin/nats-server"
            )),
            "run scripts/ensure-deps",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        wait_for_port(port, &mut child, "nats-server");
        Nats {
            child,
            port,
            _dir: dir,
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Mosquitto MQTT broker.
pub struct Mosquitto {
    child: Child,
    /// Its port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts one on a free port.
    pub fn start() -> Mosquitto {
        let bin = tool(
            "SIGNALBOX_MOSQUITTO",
            PathBuf::from("/usr/sbin/mosquitto"),
            "install mosquitto (scripts/ensure-deps does)",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nmax_inflight_messages 100\n"
            ),
        )
        .expect("write mosquitto.conf");
        let mut child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        wait_for_port(port, &mut child, "mosquitto");
        Mosquitto {
            child,
            port,
            _dir: dir,
        }
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JetStream cluster of `nats-server` processes on loopback: each with its
/// own client and route ports and store folder, all routed to each other.
/// Nodes can be killed (`kill -9`) and started again on the same ports and
/// folders.
pub struct NatsCluster {
    nodes: Vec<Option<Child>>,
    /// Client ports, by node.
    pub ports: Vec<u16>,
    routes: Vec<u16>,
    dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `n` nodes and waits until JetStream has a meta leader.
    pub fn start(n: usize) -> NatsCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        // All ports chosen while all are held, so none is handed out twice.
        let held: Vec<TcpListener> = (0..2 * n)
            .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind"))
            .collect();
        let mut all: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().expect("addr").port())
            .collect();
        drop(held);
        let routes = all.split_off(n);
        let ports = all;
        let mut c = NatsCluster {
            nodes: (0..n).map(|_| None).collect(),
            ports,
            routes,
            dir,
        };
        for i in 0..n {
            c.start_node(i);
        }
        c
    }

    fn start_node(&mut self, i: usize) {
        let bin = tool(
            "SIGNALBOX_NATS_SERVER",
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/.venv/bin/nats-server"
            )),
            "run scripts/ensure-deps",
        );
        let routes: Vec<String> = self
            .routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect();
        let store = self.dir.path().join(format!("n{i}"));
        let mut child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &self.ports[i].to_string()])
            .args(["-n", &format!("n{i}"), "-js", "-sd"])
            .arg(&store)
            .args(["--cluster_name", "signalbox-test"])
            .args(["--cluster", &format!("nats://127.0.0.1:{}", self.routes[i])])
            .args(["--routes", &routes.join(",")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        wait_for_port(self.ports[i], &mut child, "nats-server");
        self.nodes[i] = Some(child);
    }

    /// Every node's URL, comma-separated (what `--cluster` takes).
    pub fn urls(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts node `i` again on its ports and store folder.
    pub fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "kill the node first");
        self.start_node(i);
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill9(i);
        }
    }
}
