//! Helpers shared by the xln fuzz targets (`fuzz_targets/*.rs`): a scratch directory
//! per run on a RAM disk when there is one (the WAL target writes and fsyncs files), and
//! a small gossip-map encoder the gossmap target uses to check its round trip.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A directory removed on drop. Why not a temp-file crate: one directory per iteration,
/// named by pid and a counter, is all the WAL target needs.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A fresh, empty directory under /dev/shm (tmpfs: fsync is cheap) or the system temp
    /// directory.
    pub fn new(label: &str) -> ScratchDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("xln-fuzz-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        ScratchDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// BOLT #1 bigsize, minimal.
pub fn bigsize(v: u64, out: &mut Vec<u8>) {
    match v {
        0..=0xfc => out.push(v as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend((v as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend((v as u32).to_be_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend(v.to_be_bytes());
        }
    }
}

/// One channel of a gossip map as the file states it (capacity in satoshi; htlc maximum
/// 0 = the capacity, 1 = 99% of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossmapChannel {
    pub start: u64,
    pub end: u64,
    pub capacity_sat: u64,
    pub disabled: [bool; 2],
    pub htlc_min: [u64; 2],
    pub htlc_max: [u64; 2],
    pub base_fee: [u64; 2],
    pub ppm_fee: [u64; 2],
    pub delay: [u64; 2],
}

/// The channels of a parsed graph, as the file would state them.
pub fn gossmap_channels(graph: &xln::routing::ChannelGraph) -> Vec<GossmapChannel> {
    graph
        .edges()
        .chunks(2)
        .map(|pair| {
            let capacity = pair[0].capacity;
            let max = |e: &xln::routing::Edge| match e.htlc_max {
                Some(m) if m == capacity => 0,
                Some(m) if m == capacity * 99 / 100 => 1,
                Some(m) => m as u64,
                None => 0,
            };
            GossmapChannel {
                start: u64::from(pair[0].from),
                end: u64::from(pair[0].to),
                capacity_sat: (capacity / 1000) as u64,
                disabled: [pair[0].disabled, pair[1].disabled],
                htlc_min: [
                    pair[0].htlc_min.unwrap_or(0) as u64,
                    pair[1].htlc_min.unwrap_or(0) as u64,
                ],
                htlc_max: [max(&pair[0]), max(&pair[1])],
                base_fee: [pair[0].fee_base as u64, pair[1].fee_base as u64],
                ppm_fee: [u64::from(pair[0].fee_ppm), u64::from(pair[1].fee_ppm)],
                delay: [
                    u64::from(pair[0].cltv_expiry_delta),
                    u64::from(pair[1].cltv_expiry_delta),
                ],
            }
        })
        .collect()
}

/// Encodes channels as Core Lightning's decompressed gossip map (one template value per
/// item, which the format allows), for seeds and round-trip checks.
pub fn encode_gossmap(channels: &[GossmapChannel]) -> Vec<u8> {
    let mut out = xln::routing::lightning::GOSSMAP_HEADER.to_vec();
    let n = channels.len() as u64;
    bigsize(n, &mut out);
    for c in channels {
        bigsize(c.start, &mut out);
    }
    for c in channels {
        bigsize(c.end, &mut out);
    }
    for (i, c) in channels.iter().enumerate() {
        for d in 0..2 {
            if c.disabled[d] {
                bigsize((2 * i + d) as u64, &mut out);
            }
        }
    }
    bigsize(2 * n, &mut out); // out of range: ends the disabled list
    let templated = |out: &mut Vec<u8>, values: Vec<u64>| {
        bigsize(values.len() as u64, out);
        for v in &values {
            bigsize(*v, out);
        }
        for i in 0..values.len() {
            bigsize(i as u64, out);
        }
    };
    let per_direction = |f: &dyn Fn(&GossmapChannel, usize) -> u64| -> Vec<u64> {
        channels.iter().flat_map(|c| [f(c, 0), f(c, 1)]).collect()
    };
    templated(&mut out, channels.iter().map(|c| c.capacity_sat).collect());
    templated(&mut out, per_direction(&|c, d| c.htlc_min[d]));
    templated(&mut out, per_direction(&|c, d| c.htlc_max[d]));
    templated(&mut out, per_direction(&|c, d| c.base_fee[d]));
    templated(&mut out, per_direction(&|c, d| c.ppm_fee[d]));
    templated(&mut out, per_direction(&|c, d| c.delay[d]));
    out
}
