//! Training across machines: one process per node, burn-collective's global all-reduce between them.
//!
//! A [`NodeGroup`] says which node this process is (`rank` of `nodes`), where the coordinator (burn-collective's
//! global orchestrator, run by rank 0) listens, the address this node's tensor service answers on, and how long to
//! wait for the others. [`crate::parallel`] uses it to split each batch over every device of every node and to sum
//! the gradients over all of them; the training loop ([`crate::trainer::train_on_nodes`]) splits the dev evaluation
//! the same way and lets only rank 0 write.
//!
//! Three facts about burn-collective 0.21 shape this module (see docs/distributed.md and `tools/collective-repro`):
//! - a registration completes one global all-reduce only (its sync service never forgets the peers that synced),
//!   so every collective operation here registers, all-reduces once and finishes;
//! - `GradientsParams::all_reduce` orders parameters by `ParamId`, which is random per process, so values are
//!   flattened in module order into one tensor instead;
//! - registration and all-reduce have no timeout, so each call here is bounded by [`NodeGroup::peer_timeout`], and a
//!   peer that stopped or never joined becomes a [`TrainError::Peer`] naming it.
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use burn::collective::{
    all_reduce, finish_collective, register, AllReduceStrategy, CollectiveConfig, CollectiveError, PeerId,
    ReduceOperation,
};
use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData, TensorPrimitive};

use crate::error::{Result, TrainError};

/// How long a node waits for the others in one collective operation before it gives up [60 s].
pub const DEFAULT_PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// This process's place among the nodes of a multi-node run.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeGroup {
    nodes: u32,
    rank: u32,
    coordinator: SocketAddr,
    node_address: SocketAddr,
    peer_timeout: Duration,
}

impl NodeGroup {
    /// Node `rank` of `nodes`, with the coordinator at `coordinator`. This node's tensor service defaults to port
    /// `coordinator port + 1 + rank` on the local address that routes to the coordinator (127.0.0.1 for a loopback
    /// coordinator); [`NodeGroup::with_node_address`] sets it.
    pub fn new(nodes: u32, rank: u32, coordinator: SocketAddr) -> Result<Self> {
        if nodes == 0 {
            return Err(TrainError::Config("--nodes must be at least 1".into()));
        }
        if rank >= nodes {
            return Err(TrainError::Config(format!(
                "--node-rank {rank} is out of range for --nodes {nodes} (0..{nodes})"
            )));
        }
        let port = u32::from(coordinator.port()) + 1 + rank;
        let port = u16::try_from(port).map_err(|_| {
            TrainError::Config(format!(
                "the coordinator port {} leaves no port for node {rank}'s tensor service; set --node-address",
                coordinator.port()
            ))
        })?;
        let node_address = SocketAddr::new(local_ip_towards(coordinator), port);
        Ok(NodeGroup { nodes, rank, coordinator, node_address, peer_timeout: DEFAULT_PEER_TIMEOUT })
    }

    /// The address other nodes reach this node's tensor service on (it listens on that port, all interfaces).
    pub fn with_node_address(mut self, address: SocketAddr) -> Self {
        self.node_address = address;
        self
    }

    /// How long one collective operation may wait for the other nodes.
    pub fn with_peer_timeout(mut self, timeout: Duration) -> Self {
        self.peer_timeout = timeout;
        self
    }

    pub fn nodes(&self) -> u32 {
        self.nodes
    }
    pub fn rank(&self) -> u32 {
        self.rank
    }
    pub fn coordinator(&self) -> SocketAddr {
        self.coordinator
    }
    pub fn node_address(&self) -> SocketAddr {
        self.node_address
    }
    pub fn peer_timeout(&self) -> Duration {
        self.peer_timeout
    }
    /// Rank 0: runs the coordinator, the dev scoring that decides `best/`, and every write.
    pub fn is_leader(&self) -> bool {
        self.rank == 0
    }

    /// The ranks of the other nodes, for error messages ("node 1", "nodes 1, 2, 3").
    fn others(&self) -> String {
        let others: Vec<String> = (0..self.nodes).filter(|&r| r != self.rank).map(|r| r.to_string()).collect();
        match others.len() {
            1 => format!("node {}", others[0]),
            _ => format!("one of nodes {}", others.join(", ")),
        }
    }

    /// Wait until this node's tensor-service port is free. burn-collective binds it anew at every registration, in a
    /// task that gives up silently when the port is still held by the previous operation's server (which it only
    /// signals to stop); the other nodes then fail to connect. Binding it here first closes that race.
    fn wait_for_free_port(&self, what: &str) -> Result<()> {
        let port = self.node_address.port();
        let started = std::time::Instant::now();
        loop {
            match std::net::TcpListener::bind(("0.0.0.0", port)) {
                Ok(probe) => {
                    drop(probe);
                    return Ok(());
                }
                Err(e) if started.elapsed() >= self.peer_timeout => {
                    return Err(TrainError::Peer(format!(
                        "node {} of {}: {what}: this node's tensor-service port {port} stayed busy for {:.0?} ({e}); \
                         another program may hold it (--node-address sets it)",
                        self.rank, self.nodes, self.peer_timeout
                    )))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    }

    fn timed_out(&self, what: &str) -> TrainError {
        TrainError::Peer(format!(
            "node {} of {}: {what} did not complete within {:.0?}: {} stopped or never joined (coordinator {}; \
             --peer-timeout sets the wait)",
            self.rank,
            self.nodes,
            self.peer_timeout,
            self.others(),
            self.coordinator
        ))
    }
}

/// The local IP address a packet to `target` would leave from (no packet is sent: connecting a UDP socket only
/// picks the route). Falls back to 127.0.0.1.
fn local_ip_towards(target: SocketAddr) -> std::net::IpAddr {
    let unspecified: SocketAddr = if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { "[::]:0".parse().unwrap() };
    UdpSocket::bind(unspecified)
        .and_then(|s| s.connect(target).and_then(|_| s.local_addr()))
        .map(|a| a.ip())
        .unwrap_or_else(|_| [127, 0, 0, 1].into())
}

/// The peers of one collective operation: this process's `local` devices, on every node of `nodes` (or on this
/// process alone).
#[derive(Clone, Copy)]
pub(crate) struct Peers<'a> {
    pub nodes: Option<&'a NodeGroup>,
    pub local: usize,
}

impl Peers<'_> {
    /// Local peers per operation: the devices, plus across nodes the gate peer of [`Peers::sum`].
    fn slots(&self) -> usize {
        self.local + usize::from(self.nodes.is_some())
    }

    /// Peer ids are unique over all nodes: node `r`'s slot `i` is `r × slots + i`.
    pub fn id(&self, device: usize) -> PeerId {
        let rank = self.nodes.map_or(0, |n| n.rank as usize);
        PeerId::from(rank * self.slots() + device)
    }

    fn config(&self) -> CollectiveConfig {
        let config = CollectiveConfig::default().with_num_devices(self.slots());
        let Some(n) = self.nodes else {
            return config;
        };
        let ws = |a: SocketAddr| format!("ws://{a}").parse().expect("burn's Address parses any string");
        config
            .with_num_nodes(n.nodes)
            .with_global_address(ws(n.coordinator))
            .with_node_address(ws(n.node_address))
            .with_data_service_port(n.node_address.port())
            // The strategy tools/collective-repro checked.
            .with_global_all_reduce_strategy(AllReduceStrategy::Centralized)
    }

    /// Call once before the local peers of one operation start (`sum` does it itself for a single local peer):
    /// across nodes, waits until burn-collective can bind this node's tensor service again.
    pub fn ready(&self, what: &str) -> Result<()> {
        self.nodes.map_or(Ok(()), |n| n.wait_for_free_port(what))
    }

    /// Sum `values` over every peer, this thread being the peer of local device `device`: register, all-reduce
    /// once, finish (one registration per operation, see the module documentation). Each call waits at most the
    /// node group's peer timeout; `what` names the operation in errors.
    pub fn sum<B: Backend>(
        &self,
        device: usize,
        on: &B::Device,
        values: Tensor<B, 1>,
        what: &str,
    ) -> Result<Tensor<B, 1>> {
        let peer = self.id(device);
        let started = std::time::Instant::now();
        let count = values.shape().num_elements();
        let (config, on) = (self.config(), on.clone());
        if self.local == 1 {
            self.ready(what)?;
        }
        if device == 0 {
            self.open_gate::<B>(&on, count);
        }
        self.bounded(what, move || register::<B>(peer, on, config))?.map_err(|e| self.failed(peer, what, e))?;
        let primitive = values.into_primitive().tensor();
        let reduced = self.bounded(what, move || all_reduce::<B>(peer, primitive, ReduceOperation::Sum));
        // Leave the collective whatever the all-reduce did, so the next operation starts afresh.
        let finished = match &reduced {
            Err(_) => Ok(Ok(())),
            Ok(_) => self.bounded(what, move || finish_collective::<B>(peer)),
        };
        let reduced = reduced?.map_err(|e| self.failed(peer, what, e))?;
        finished?.map_err(|e| self.failed(peer, what, e))?;
        // The per-step cost of the collective (docs/distributed.md measures it from these lines).
        tracing::debug!(peer = peer.0, values = count, seconds = started.elapsed().as_secs_f64(), "{what}");
        Ok(Tensor::from_primitive(TensorPrimitive::Float(reduced)))
    }

    /// Across nodes: one more local peer, which registers only once this node's tensor service accepts
    /// connections, then adds zeros. burn-collective starts that service in a task at the first local registration
    /// and tells the coordinator as soon as every local peer has registered; under load the other nodes could hear
    /// back from the coordinator and connect before the service listened (burn does not retry that connection,
    /// and the collective is lost). With the gate last, no node learns the others' addresses before they listen.
    fn open_gate<B: Backend>(&self, on: &B::Device, count: usize) {
        let Some(nodes) = self.nodes else {
            return;
        };
        let gate = self.id(self.local);
        let (config, on) = (self.config(), on.clone());
        let (port, timeout) = (nodes.node_address.port(), nodes.peer_timeout);
        let spawned = std::thread::Builder::new().name("kre-collective-gate".into()).spawn(move || {
            if !wait_until_listening(port, timeout) || register::<B>(gate, on.clone(), config).is_err() {
                return; // the device peers then wait out their timeout and report it
            }
            let zeros = Tensor::<B, 1>::zeros([count], &on).into_primitive().tensor();
            if all_reduce::<B>(gate, zeros, ReduceOperation::Sum).is_ok() {
                let _ = finish_collective::<B>(gate);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the collective gate thread: {e}");
        }
    }

    /// Run a blocking collective call; across nodes, on a helper thread and for at most the peer timeout (a call
    /// that never returns is left behind, and the process is expected to stop on the error).
    fn bounded<T: Send + 'static>(&self, what: &str, call: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let Some(nodes) = self.nodes else {
            return Ok(call());
        };
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("kre-collective".into())
            .spawn(move || {
                let _ = tx.send(call());
            })
            .map_err(|e| TrainError::Other(format!("starting a collective call: {e}")))?;
        rx.recv_timeout(nodes.peer_timeout).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => nodes.timed_out(what),
            // burn's client panicked inside the call (a peer's connection dropped, most likely).
            mpsc::RecvTimeoutError::Disconnected => TrainError::Peer(format!(
                "node {} of {}: {what} failed inside burn-collective; {} may have stopped (coordinator {})",
                nodes.rank,
                nodes.nodes,
                nodes.others(),
                nodes.coordinator
            )),
        })
    }

    fn failed(&self, peer: PeerId, what: &str, e: CollectiveError) -> TrainError {
        match self.nodes {
            None => TrainError::Other(format!("{what} failed on device {}: {e:?}", peer.0)),
            Some(n) => TrainError::Peer(format!(
                "node {} of {}: {what} failed: {e:?} ({} may have stopped; coordinator {})",
                n.rank,
                n.nodes,
                n.others(),
                n.coordinator
            )),
        }
    }
}

/// Whether something accepts connections on this machine's `port` within `timeout` (polled every 2 ms).
fn wait_until_listening(port: u16, timeout: Duration) -> bool {
    let started = std::time::Instant::now();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while started.elapsed() < timeout {
        if std::net::TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// Make every node's copy of `model` equal rank 0's (a sum in which the other nodes contribute zeros), before
/// the first step: the nodes then never depend on initialising identically.
pub fn broadcast_parameters<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: M,
    nodes: &NodeGroup,
    device: &B::Device,
) -> Result<M> {
    /// Every float parameter's values in module order (the same on every process, unlike parameter ids).
    struct Flatten<B: AutodiffBackend> {
        zeros: bool,
        parts: Vec<Tensor<B::InnerBackend, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let inner = param.val().inner();
            let n = inner.shape().num_elements();
            let flat = inner.reshape([n]);
            self.parts.push(if self.zeros { flat.zeros_like() } else { flat });
        }
    }
    crate::parallel::materialize(&model);
    let mut flatten = Flatten::<B> { zeros: !nodes.is_leader(), parts: Vec::new() };
    model.visit(&mut flatten);
    if flatten.parts.is_empty() {
        return Ok(model);
    }
    let peers = Peers { nodes: Some(nodes), local: 1 };
    let _lock = crate::parallel::collective_lock();
    let flat = Tensor::cat(flatten.parts, 0);
    let summed = peers.sum::<B::InnerBackend>(0, device, flat, "sharing rank 0's initial weights")?;
    Ok(model.map(&mut Unflatten::<B> { flat: summed, offset: 0 }))
}

/// Replaces every float parameter with its slice of `flat` (module order), keeping ids and whether each one
/// requires a gradient.
struct Unflatten<B: AutodiffBackend> {
    flat: Tensor<B::InnerBackend, 1>,
    offset: usize,
}

impl<B: AutodiffBackend> ModuleMapper<B> for Unflatten<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let shape = param.val().shape();
        let (start, n) = (self.offset, shape.num_elements());
        self.offset += n;
        let slice = self.flat.clone().slice(start..start + n);
        param.map(|old| {
            let new = Tensor::<B, D>::from_inner(slice.reshape(shape).cast(old.dtype()));
            if old.is_require_grad() {
                new.require_grad()
            } else {
                new
            }
        })
    }
}

/// Fails on every node unless every node trains on `local` devices: the batch split assumes it, and a mismatch would
/// otherwise leave some examples out of (or twice in) every step without any error.
pub fn check_device_counts<B: Backend>(nodes: &NodeGroup, local: usize, device: &B::Device) -> Result<()> {
    let n = nodes.nodes as usize;
    let mut counts = vec![0.0f32; n];
    counts[nodes.rank as usize] = local as f32;
    let peers = Peers { nodes: Some(nodes), local: 1 };
    let counts = Tensor::from_data(TensorData::new(counts, [n]), (device, burn::tensor::DType::F32));
    let _lock = crate::parallel::collective_lock();
    let counts = read_vector(peers.sum::<B>(0, device, counts, "comparing the nodes' device counts")?)?;
    if counts.iter().any(|&c| c.round() as usize != local) {
        let list: Vec<String> = counts.iter().enumerate().map(|(r, c)| format!("node {r}: {c}")).collect();
        return Err(TrainError::Config(format!(
            "every node must train on as many devices (--device); they list {}",
            list.join(", ")
        )));
    }
    Ok(())
}

/// Rank 0's `bytes` on every node (`bytes` is `Some` on rank 0 only). The bytes travel through the same all-reduce
/// as the gradients, three to an f32 value (integers below 2^24 are exact), the other nodes adding zeros.
pub fn broadcast_bytes<B: Backend>(
    nodes: &NodeGroup,
    device: &B::Device,
    bytes: Option<Vec<u8>>,
    what: &str,
) -> Result<Vec<u8>> {
    let peers = Peers { nodes: Some(nodes), local: 1 };
    let f32_on = (device, burn::tensor::DType::F32);
    let bytes = bytes.unwrap_or_default();
    // The length first, as three 24-bit pieces (rank 0 alone knows it).
    let len = bytes.len() as u64;
    let pieces: Vec<f32> = (0..3).map(|i| ((len >> (24 * i)) & 0xFF_FFFF) as f32).collect();
    let _lock = crate::parallel::collective_lock();
    let len = peers.sum::<B>(0, device, Tensor::from_data(TensorData::new(pieces, [3]), f32_on), what)?;
    let len = read_vector(len)?.iter().enumerate().fold(0u64, |acc, (i, &v)| acc | ((v as u64) << (24 * i)));
    let len = usize::try_from(len).map_err(|_| TrainError::Other(format!("{what}: {len} bytes do not fit")))?;
    if len == 0 {
        return Ok(Vec::new());
    }
    let packed: Vec<f32> = if bytes.len() == len {
        bytes.chunks(3).map(|c| c.iter().rev().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) as f32).collect()
    } else {
        vec![0.0; len.div_ceil(3)]
    };
    let n = packed.len();
    let summed = peers.sum::<B>(0, device, Tensor::from_data(TensorData::new(packed, [n]), f32_on), what)?;
    let values = summed
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| TrainError::Other(format!("{what}: {e:?}")))?;
    let mut out = Vec::with_capacity(len);
    for v in values {
        let v = v as u32;
        out.extend_from_slice(&v.to_le_bytes()[..3]);
    }
    out.truncate(len);
    Ok(out)
}

/// The files of a flat directory (a `last/` checkpoint) as one byte string: for each, its name's length (u32 LE), the
/// name, its length (u64 LE), its bytes.
pub fn pack_dir(dir: &Path) -> Result<Vec<u8>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| TrainError::io(dir, e))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| TrainError::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.path();
        if !path.is_file() {
            return Err(TrainError::checkpoint(&path, "expected only files in a checkpoint directory"));
        }
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| TrainError::checkpoint(&path, "a file name that is not UTF-8"))?;
        let data = std::fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// Writes the files of [`pack_dir`]'s byte string into `dir`.
pub fn unpack_dir(mut bytes: &[u8], dir: &Path) -> Result<()> {
    let bad = || TrainError::checkpoint(dir, "a truncated or corrupt checkpoint from rank 0");
    let take = |n: usize, bytes: &mut &[u8]| -> Result<Vec<u8>> {
        if bytes.len() < n {
            return Err(bad());
        }
        let (head, tail) = bytes.split_at(n);
        *bytes = tail;
        Ok(head.to_vec())
    };
    while !bytes.is_empty() {
        let name_len = u32::from_le_bytes(take(4, &mut bytes)?.try_into().map_err(|_| bad())?) as usize;
        let name = String::from_utf8(take(name_len, &mut bytes)?).map_err(|_| bad())?;
        if name.contains('/') || name.contains('\\') || name == ".." {
            return Err(bad());
        }
        let data_len = u64::from_le_bytes(take(8, &mut bytes)?.try_into().map_err(|_| bad())?) as usize;
        let data = take(data_len, &mut bytes)?;
        let path = dir.join(&name);
        std::fs::write(&path, data).map_err(|e| TrainError::io(&path, e))?;
    }
    Ok(())
}

/// `values` as a 1-D f32-valued tensor on `device`, cast to `like`'s float type.
pub(crate) fn small_vector<B: Backend>(values: &[f32], like: &Tensor<B, 1>, device: &B::Device) -> Tensor<B, 1> {
    Tensor::<B, 1>::from_data(TensorData::new(values.to_vec(), [values.len()]), device).cast(like.dtype())
}

/// Read a few leading numbers back as f64.
pub(crate) fn read_vector<B: Backend>(t: Tensor<B, 1>) -> Result<Vec<f64>> {
    t.into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .map_err(|e| TrainError::Other(format!("reading a reduced vector: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_groups_check_the_rank_and_default_the_node_port() {
        let coordinator: SocketAddr = "127.0.0.1:29500".parse().unwrap();
        let g = NodeGroup::new(2, 1, coordinator).unwrap();
        assert_eq!(g.node_address(), "127.0.0.1:29502".parse().unwrap());
        assert!(!g.is_leader());
        assert_eq!(g.others(), "node 0");
        assert_eq!(NodeGroup::new(4, 2, coordinator).unwrap().others(), "one of nodes 0, 1, 3");
        let e = NodeGroup::new(2, 2, coordinator).unwrap_err().to_string();
        assert!(e.contains("--node-rank 2") && e.contains("--nodes 2"), "{e}");
        assert!(NodeGroup::new(0, 0, coordinator).is_err());
        assert!(NodeGroup::new(2, 1, "127.0.0.1:65534".parse().unwrap()).is_err());
        let timeout = g.with_peer_timeout(Duration::from_secs(3)).timed_out("the gradient all-reduce").to_string();
        assert!(timeout.contains("node 1 of 2") && timeout.contains("node 0 stopped or never joined"), "{timeout}");
    }

    #[test]
    fn a_checkpoint_directory_packs_and_unpacks() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("state.json"), b"{\"step\": 3}").unwrap();
        std::fs::write(src.join("model.mpk"), (0..=255u8).cycle().take(1001).collect::<Vec<_>>()).unwrap();
        std::fs::write(src.join("empty"), b"").unwrap();
        let packed = pack_dir(&src).unwrap();
        unpack_dir(&packed, &dst).unwrap();
        for name in ["state.json", "model.mpk", "empty"] {
            assert_eq!(std::fs::read(src.join(name)).unwrap(), std::fs::read(dst.join(name)).unwrap(), "{name}");
        }
        assert!(unpack_dir(&packed[..packed.len() - 1], &dst).is_err());
        std::fs::create_dir_all(src.join("sub")).unwrap();
        assert!(pack_dir(&src).is_err());
    }
}
