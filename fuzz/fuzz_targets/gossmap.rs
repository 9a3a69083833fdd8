//! The Lightning gossip-map parser (Core Lightning's compressed gossmap). Bytes that parse
//! give a graph with two directions per channel and node ids in range; written back as a
//! gossmap (one template value per item) it parses to the same edges; and the gzip layer
//! agrees: the gzipped bytes parse to the same graph as the raw ones.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use xln::routing::{parse_gossmap, parse_lightning_graph};
use xln_fuzz::{encode_gossmap, gossmap_channels};

fuzz_target!(|data: &[u8]| {
    let Ok(graph) = parse_gossmap(data) else {
        return;
    };
    assert_eq!(graph.edge_count(), 2 * graph.channel_count());
    for e in graph.edges() {
        assert!((e.from as usize) < graph.node_count() && (e.to as usize) < graph.node_count());
    }
    let again = parse_gossmap(&encode_gossmap(&gossmap_channels(&graph)))
        .expect("a re-encoded graph parses");
    assert_eq!(again.edges(), graph.edges(), "re-encoded graph differs");
    assert_eq!(again.node_count(), graph.node_count());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    let gzipped = gz.finish().expect("gzip");
    let via_gzip = parse_lightning_graph(&gzipped).expect("the gzipped map parses");
    assert_eq!(via_gzip.edges(), graph.edges());
});
