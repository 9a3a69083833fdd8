//! Loader of Core Lightning's compressed gossip map (gzip of `GOSSMAP_COMPRESSv1\0` followed by
//! BOLT #1 bigsize integers) into a [`ChannelGraph`]: the real Lightning graph, for tests and
//! benchmarks. The file is external input: every malformation is an error with a byte offset.
//!
//! Mapping: channel `i` becomes edges `2i` (direction 0, first node → second node, as Core
//! Lightning's decompressor reads it) and `2i + 1` (second → first). Amounts are msat:
//! capacities (satoshi in the file) are multiplied by 1,000; htlc minimums/maximums and base
//! fees are msat in the file already. An htlc maximum of 0 means the capacity, 1 means 99% of
//! it (exact: capacity × 990 msat per sat). Node ids are the file's indexes (most channels
//! first); no node keys are attached (the node map is xz, which no dependency reads).

use std::io::Read;
use std::path::Path;

use flate2::bufread::GzDecoder;

use super::graph::{ChannelGraph, Edge};
use super::{GraphEncoding, RoutingError};

/// The 19-byte header of the decompressed stream.
pub const GOSSMAP_HEADER: &[u8; 19] = b"GOSSMAP_COMPRESSv1\0";
/// Largest decompressed stream accepted (a gzip bomb stops here). The 2026 mainnet graph is
/// about 1.2 MiB.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 << 20;
/// Millisatoshi per satoshi: the file's capacities are in satoshi, the graph is in msat.
pub const MSAT_PER_SAT: u128 = 1_000;

/// Reads and parses a gzipped gossip map file. Fails with `Io` if the file cannot be read,
/// else as [`parse_lightning_graph`].
pub fn load_lightning_graph(path: impl AsRef<Path>) -> Result<ChannelGraph, RoutingError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| RoutingError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse_lightning_graph(&bytes)
}

/// Parses the gzipped bytes of a gossip map. Fails with `MalformedGraph` (offset in the
/// gzip file) if the gzip stream is truncated, corrupt (checksum), followed by extra bytes or
/// larger than [`MAX_DECOMPRESSED_BYTES`]; otherwise as [`parse_gossmap`].
pub fn parse_lightning_graph(gzipped: &[u8]) -> Result<ChannelGraph, RoutingError> {
    parse_gossmap(&gunzip(gzipped)?)
}

fn gunzip(gzipped: &[u8]) -> Result<Vec<u8>, RoutingError> {
    let mut decoder = GzDecoder::new(gzipped);
    let mut out = Vec::new();
    let result = (&mut decoder)
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out);
    let consumed = (gzipped.len() - decoder.get_ref().len()) as u64;
    let malformed = |reason: String| RoutingError::MalformedGraph {
        encoding: GraphEncoding::Gzip,
        offset: consumed,
        reason,
    };
    match result {
        Err(e) => Err(malformed(format!("gzip stream: {e}"))),
        Ok(_) if out.len() as u64 > MAX_DECOMPRESSED_BYTES => Err(malformed(format!(
            "decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"
        ))),
        Ok(_) if consumed < gzipped.len() as u64 => Err(malformed(format!(
            "{} unexpected bytes after the gzip stream",
            gzipped.len() as u64 - consumed
        ))),
        Ok(_) => Ok(out),
    }
}

/// Parses a decompressed gossip map (see the module doc for the mapping). Strict: fails with
/// `MalformedGraph` (offset in this stream) on a wrong header, a truncated or non-minimal
/// bigsize, a count larger than the remaining bytes could hold, a node or template index out
/// of range, a fee or delay beyond 32 bits, or bytes after the last section.
pub fn parse_gossmap(raw: &[u8]) -> Result<ChannelGraph, RoutingError> {
    let mut c = Cursor { bytes: raw, pos: 0 };
    c.header()?;
    // Each channel needs at least its two node indexes, so the count is bounded by the input.
    let channel_count = c.count("channel_count", 2)?;
    let node_bound = channel_count * 2; // every node has a channel
    let starts = c.indexes("start node index", channel_count, node_bound)?;
    let ends = c.indexes("end node index", channel_count, node_bound)?;
    let directions = channel_count * 2;
    let mut disabled = vec![false; directions];
    // Ended by the first out-of-range entry; each entry consumes input, so this terminates.
    loop {
        match usize::try_from(c.bigsize("disabled direction")?) {
            Ok(i) if i < directions => disabled[i] = true,
            _ => break,
        }
    }
    let capacities = c.templated("capacities", channel_count, u64::MAX)?;
    let htlc_mins = c.templated("htlc minimums", directions, u64::MAX)?;
    let htlc_maxes = c.templated("htlc maximums", directions, u64::MAX)?;
    let base_fees = c.templated("base fees", directions, u64::MAX)?;
    let ppm_fees = c.templated("proportional fees", directions, u64::from(u32::MAX))?;
    let delays = c.templated("cltv delays", directions, u64::from(u32::MAX))?;
    if c.pos != raw.len() {
        return Err(c.error(
            c.pos,
            format!("{} bytes after the last section", raw.len() - c.pos),
        ));
    }
    let node_count = starts.iter().chain(&ends).max().map_or(0, |&m| m + 1);
    let mut edges = Vec::with_capacity(directions);
    for (i, (&a, &b)) in starts.iter().zip(&ends).enumerate() {
        let capacity = u128::from(capacities[i]) * MSAT_PER_SAT;
        for (dir, (from, to)) in [(a, b), (b, a)].into_iter().enumerate() {
            let d = 2 * i + dir;
            let htlc_max = match htlc_maxes[d] {
                0 => capacity,
                1 => capacity * 99 / 100,
                v => u128::from(v),
            };
            edges.push(Edge {
                fee_base: u128::from(base_fees[d]),
                fee_ppm: ppm_fees[d] as u32, // bounded by u32::MAX when read
                htlc_min: Some(u128::from(htlc_mins[d])),
                htlc_max: Some(htlc_max),
                cltv_expiry_delta: delays[d] as u32, // bounded likewise
                disabled: disabled[d],
                ..Edge::new(i as u32, from as u32, to as u32, capacity)
            });
        }
    }
    ChannelGraph::new(node_count, edges)
}

/// A read position in the decompressed stream.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn error(&self, offset: usize, reason: String) -> RoutingError {
        RoutingError::MalformedGraph {
            encoding: GraphEncoding::Gossmap,
            offset: offset as u64,
            reason,
        }
    }

    fn header(&mut self) -> Result<(), RoutingError> {
        let got = self.bytes.get(..GOSSMAP_HEADER.len());
        if got != Some(GOSSMAP_HEADER.as_slice()) {
            let at = self
                .bytes
                .iter()
                .zip(GOSSMAP_HEADER)
                .position(|(a, b)| a != b)
                .unwrap_or(self.bytes.len().min(GOSSMAP_HEADER.len()));
            return Err(self.error(at, "expected the header \"GOSSMAP_COMPRESSv1\\0\"".into()));
        }
        self.pos = GOSSMAP_HEADER.len();
        Ok(())
    }

    /// One bigsize (BOLT #1): minimal encodings only, as Core Lightning requires.
    fn bigsize(&mut self, what: &str) -> Result<u64, RoutingError> {
        let start = self.pos;
        let Some(&first) = self.bytes.get(start) else {
            return Err(self.error(start, format!("truncated: expected {what}")));
        };
        let (width, min) = match first {
            0xfd => (2, 0xfd),
            0xfe => (4, 0x1_0000),
            0xff => (8, 0x1_0000_0000),
            small => {
                self.pos += 1;
                return Ok(u64::from(small));
            }
        };
        let Some(body) = self.bytes.get(start + 1..start + 1 + width) else {
            return Err(self.error(start, format!("truncated bigsize: expected {what}")));
        };
        let value = body.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
        if value < min {
            return Err(self.error(start, format!("non-minimal bigsize encoding of {what}")));
        }
        self.pos = start + 1 + width;
        Ok(value)
    }

    /// A count of items that each take at least `min_bytes` of what remains.
    fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize, RoutingError> {
        let at = self.pos;
        let value = self.bigsize(what)?;
        let room = (self.bytes.len() - self.pos) / min_bytes.max(1);
        match usize::try_from(value) {
            Ok(n) if n <= room && n < (u32::MAX / 2) as usize => Ok(n),
            _ => Err(self.error(
                at,
                format!(
                    "{what} {value} exceeds what the remaining {} bytes can hold",
                    self.bytes.len() - self.pos
                ),
            )),
        }
    }

    /// `n` indexes, each below `bound`.
    fn indexes(&mut self, what: &str, n: usize, bound: usize) -> Result<Vec<usize>, RoutingError> {
        (0..n)
            .map(|_| {
                let at = self.pos;
                let value = self.bigsize(what)?;
                match usize::try_from(value) {
                    Ok(i) if i < bound => Ok(i),
                    _ => Err(self.error(
                        at,
                        format!("{what} {value} is out of range (must be below {bound})"),
                    )),
                }
            })
            .collect()
    }

    /// A template section: distinct values (each at most `max`), then one template index
    /// per item; returns the value of every item.
    fn templated(&mut self, what: &str, items: usize, max: u64) -> Result<Vec<u64>, RoutingError> {
        let count = self.count(what, 1)?;
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            let at = self.pos;
            let value = self.bigsize(what)?;
            if value > max {
                return Err(self.error(at, format!("{what} value {value} exceeds {max}")));
            }
            values.push(value);
        }
        let chosen = self.indexes(&format!("{what} template index"), items, count)?;
        Ok(chosen.into_iter().map(|i| values[i]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::CarryBound;

    fn bigsize(v: u64, out: &mut Vec<u8>) {
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

    /// Two channels, 0–1 and 0–2; direction 1 of channel 1 disabled.
    fn tiny() -> Vec<u8> {
        let mut out = GOSSMAP_HEADER.to_vec();
        let nums: &[u64] = &[
            2, 0, 0, 1, 2, // channel ends
            3, 4, // disabled: chan 1 dir 1, terminator
            2, 1000, 300_000, 0, 1, // capacities (sat)
            1, 0, 0, 0, 0, 0, // htlc_min
            3, 0, 1, 5000, 0, 1, 2, 0, // htlc_max
            1, 1000, 0, 0, 0, 0, // base fees
            2, 1, 1_000_000, 0, 1, 0, 0, // ppm
            1, 40, 0, 0, 0, 0, // delays
        ];
        for &n in nums {
            bigsize(n, &mut out);
        }
        out
    }

    #[test]
    fn tiny_map_becomes_four_edges() {
        let g = parse_gossmap(&tiny()).unwrap();
        assert_eq!(
            (g.node_count(), g.channel_count(), g.edge_count()),
            (3, 2, 4)
        );
        let e = g.edges();
        assert_eq!((e[0].from, e[0].to, e[1].from, e[1].to), (0, 1, 1, 0));
        assert_eq!(e[0].capacity, 1_000_000);
        assert_eq!(e[0].htlc_max, Some(1_000_000)); // 0 = capacity
        assert_eq!(e[1].htlc_max, Some(990_000)); // 1 = 99%
        assert_eq!(e[2].htlc_max, Some(5000));
        assert_eq!(
            (e[0].fee_base, e[0].fee_ppm, e[1].fee_ppm),
            (1000, 1, 1_000_000)
        );
        assert_eq!(e[0].cltv_expiry_delta, 40);
        assert!(e[3].disabled && !e[2].disabled);
        assert_eq!(e[3].refusal(1), Some(CarryBound::Disabled));
    }

    #[test]
    fn every_truncation_and_bad_header_is_an_error_with_offset() {
        let bytes = tiny();
        for cut in 0..bytes.len() {
            match parse_gossmap(&bytes[..cut]) {
                Err(RoutingError::MalformedGraph { offset, .. }) => assert!(offset <= cut as u64),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        let mut bad = bytes.clone();
        bad[3] ^= 1;
        assert!(matches!(
            parse_gossmap(&bad),
            Err(RoutingError::MalformedGraph { offset: 3, .. })
        ));
        let mut long = bytes;
        long.push(0);
        assert!(matches!(
            parse_gossmap(&long),
            Err(RoutingError::MalformedGraph { .. })
        ));
    }

    #[test]
    fn non_minimal_bigsize_is_rejected() {
        let mut raw = GOSSMAP_HEADER.to_vec();
        raw.extend([0xfd, 0x00, 0x01]);
        assert!(matches!(
            parse_gossmap(&raw),
            Err(RoutingError::MalformedGraph { offset: 19, ref reason, .. }) if reason.contains("non-minimal")
        ));
    }

    #[test]
    fn gzip_errors_point_into_the_compressed_file() {
        assert!(matches!(
            parse_lightning_graph(b"not gzip at all"),
            Err(RoutingError::MalformedGraph {
                encoding: GraphEncoding::Gzip,
                ..
            })
        ));
        assert!(matches!(
            load_lightning_graph("/nonexistent/graph.gz"),
            Err(RoutingError::Io { .. })
        ));
    }
}
