//! The fault-injecting proxy of a local node network: one TCP forwarder per directed peer
//! link (from node i to node j), listening where the network file's `#:proxy-base-port`
//! points node i's dials to node j (`P + i × nodes + j`, see [`Network::dial_url`]). A cut
//! link drops its open connections and refuses new ones until healed — to the nodes, a
//! partition: sessions break, dials fail, and their reconnect-with-backoff brings them back
//! once the link heals. Used by `xln chaos` and the partition tests.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::node::net::Network;

/// A directed link: (dialing node, dialed node), by index in the network file.
pub type Link = (usize, usize);

/// The proxies of one network, on their own tokio runtime.
pub struct FaultProxy {
    runtime: tokio::runtime::Runtime,
    cut: Arc<Mutex<BTreeSet<Link>>>,
    epoch: watch::Sender<u64>,
    nodes: usize,
}

fn lock(cut: &Mutex<BTreeSet<Link>>) -> std::sync::MutexGuard<'_, BTreeSet<Link>> {
    // A poisoned set is still a set of links: a panicking forwarder cannot corrupt it.
    cut.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FaultProxy {
    /// Binds every link's proxy port of `net` (which must have `#:proxy-base-port`), all
    /// links open. The proxies must listen before the nodes dial.
    ///
    /// # Errors
    /// No proxy base port, a port that does not fit, a port that cannot be bound.
    pub fn start(net: &Network) -> Result<FaultProxy, String> {
        let base = net.proxy_base_port.ok_or_else(|| {
            "the network file has no #:proxy-base-port: peer links cannot be cut".to_string()
        })?;
        let n = net.nodes.len();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the proxy runtime: {e}"))?;
        let cut = Arc::new(Mutex::new(BTreeSet::new()));
        let (epoch, epoch_rx) = watch::channel(0u64);
        for from in 0..n {
            for to in (0..n).filter(|t| *t != from) {
                let listen = u16::try_from(usize::from(base) + from * n + to)
                    .map_err(|_| format!("proxy port {base} + {} is past 65535", from * n + to))?;
                let listener = runtime
                    .block_on(TcpListener::bind((net.host.as_str(), listen)))
                    .map_err(|e| format!("cannot bind proxy port {listen}: {e}"))?;
                let target = (net.host.clone(), net.peer_port(to));
                runtime.spawn(forward(
                    listener,
                    target,
                    (from, to),
                    cut.clone(),
                    epoch_rx.clone(),
                ));
            }
        }
        Ok(FaultProxy {
            runtime,
            cut,
            epoch,
            nodes: n,
        })
    }

    /// Cuts every link between a node of `a` and a node of `b`, both directions. Returns
    /// how many directed links are cut now.
    pub fn cut_between(&self, a: &[usize], b: &[usize]) -> usize {
        let count = {
            let mut cut = lock(&self.cut);
            for &x in a {
                for &y in b.iter().filter(|y| **y != x) {
                    cut.insert((x, y));
                    cut.insert((y, x));
                }
            }
            cut.len()
        };
        self.epoch.send_modify(|e| *e += 1);
        count
    }

    /// Cuts every link of the network (all nodes isolated).
    pub fn cut_all(&self) -> usize {
        let all: Vec<usize> = (0..self.nodes).collect();
        self.cut_between(&all, &all)
    }

    /// Opens every link again.
    pub fn heal(&self) {
        lock(&self.cut).clear();
        self.epoch.send_modify(|e| *e += 1);
    }

    /// The links cut now.
    pub fn cut_links(&self) -> BTreeSet<Link> {
        lock(&self.cut).clone()
    }

    /// Stops every forwarder (their connections drop).
    pub fn stop(self) {
        self.runtime.shutdown_background();
    }
}

async fn forward(
    listener: TcpListener,
    target: (String, u16),
    link: Link,
    cut: Arc<Mutex<BTreeSet<Link>>>,
    epoch: watch::Receiver<u64>,
) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            // Out of descriptors or the like: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        if lock(&cut).contains(&link) {
            drop(inbound);
            continue;
        }
        let (cut, mut epoch, target) = (cut.clone(), epoch.clone(), target.clone());
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect((target.0.as_str(), target.1)).await else {
                return; // the node is down: the dialer sees the connection close
            };
            let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
            tokio::pin!(copy);
            loop {
                tokio::select! {
                    _ = &mut copy => return,
                    changed = epoch.changed() => {
                        if changed.is_err() || lock(&cut).contains(&link) {
                            return; // dropping both sockets cuts the link
                        }
                    }
                }
            }
        });
    }
}
