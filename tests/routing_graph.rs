//! The real Lightning graph (Core Lightning's 2026-02-03 mainnet gossip map): it loads with
//! the published node and channel counts, routes are found between connected nodes, and
//! truncated or corrupted copies of the file are rejected with a byte offset, never a panic.

use std::io::Read;

use xln::routing::{
    find_route, find_routes, load_lightning_graph, parse_gossmap, parse_lightning_graph,
    ChannelGraph, GraphEncoding, Route, RoutingError,
};

const GRAPH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/vectors/lightning/gossip-store-2026-02-03.compressed"
);

fn real_bytes() -> Vec<u8> {
    std::fs::read(GRAPH).expect("the vector file is present (../shared/vectors)")
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("the vector file is valid gzip");
    out
}

fn graph() -> ChannelGraph {
    load_lightning_graph(GRAPH).expect("the real graph loads")
}

#[test]
fn real_graph_has_the_published_counts() {
    let g = graph();
    assert_eq!(g.node_count(), 17_324);
    assert_eq!(g.channel_count(), 50_808);
    assert_eq!(g.edge_count(), 2 * 50_808);
    let disabled = g.edges().iter().filter(|e| e.disabled).count();
    assert_eq!(disabled, 35_806);
    // capacities are whole satoshi, converted to msat
    assert!(g
        .edges()
        .iter()
        .all(|e| e.capacity % 1_000 == 0 && e.capacity > 0));
    // both directions of a channel share ends and capacity
    for pair in g.edges().chunks(2) {
        assert_eq!((pair[0].from, pair[0].to), (pair[1].to, pair[1].from));
        assert_eq!(pair[0].capacity, pair[1].capacity);
    }
    // node 0 is the best-connected node (the file sorts nodes by channel count)
    let degree = |n| g.outbound(n).len();
    assert!((1..100).all(|n| degree(0) >= degree(n)));
}

#[test]
fn routes_between_connected_nodes_check_out() {
    let g = graph();
    let amount = 100_000; // msat
    let mut found = 0;
    for (from, to) in [(5, 0), (0, 5), (10, 200), (300, 40), (1_000, 2_000)] {
        let Ok(route) = find_route(&g, from, to, amount) else {
            continue;
        };
        found += 1;
        assert_eq!(route.nodes().first(), Some(&from));
        assert_eq!(route.nodes().last(), Some(&to));
        assert_eq!(route.amount_sent, amount + route.total_fee);
        assert_eq!(
            Route::from_path(&g, &route.edges(), amount),
            Ok(route.clone())
        );
        assert!(route.hops.len() <= 20);
    }
    assert!(found >= 3, "only {found} of 5 hub pairs routed");
    let routes = find_routes(&g, 10, 200, amount, 4).expect("hubs are connected");
    assert!(routes.len() > 1);
    assert!(routes.windows(2).all(|w| w[0].rank_cmp(&w[1]).is_lt()));
    assert_eq!(find_routes(&g, 10, 200, amount, 4), Ok(routes));
}

#[test]
fn truncated_gzip_files_are_rejected_with_an_offset() {
    let bytes = real_bytes();
    let len = bytes.len();
    for cut in [
        0,
        1,
        9,
        10,
        18,
        100,
        4_096,
        len / 3,
        len / 2,
        len - 9,
        len - 8,
        len - 1,
    ] {
        match parse_lightning_graph(&bytes[..cut]) {
            Err(RoutingError::MalformedGraph {
                encoding: GraphEncoding::Gzip,
                offset,
                ..
            }) => assert!(offset <= cut as u64, "cut {cut}: offset {offset}"),
            other => panic!("cut at {cut}: expected a gzip error, got {other:?}"),
        }
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"junk");
    assert!(matches!(
        parse_lightning_graph(&longer),
        Err(RoutingError::MalformedGraph { offset, .. }) if offset == len as u64
    ));
}

#[test]
fn corrupted_gzip_files_are_rejected_with_an_offset() {
    let bytes = real_bytes();
    // Past the 10-byte gzip header (whose mtime/OS bytes are not checked by gzip itself):
    // every flip breaks the deflate stream or the CRC-32.
    let step = (bytes.len() - 10) / 24;
    for at in (10..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        match parse_lightning_graph(&bad) {
            Err(RoutingError::MalformedGraph { offset, .. }) => {
                assert!(
                    offset <= bytes.len() as u64,
                    "flip at {at}: offset {offset}"
                )
            }
            other => panic!("flip at {at}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn truncated_or_corrupted_maps_never_panic() {
    let raw = gunzip(&real_bytes());
    let len = raw.len();
    for cut in [0, 5, 19, 20, 1_000, len / 4, len / 2, len - 2, len - 1] {
        match parse_gossmap(&raw[..cut]) {
            Err(RoutingError::MalformedGraph {
                encoding: GraphEncoding::Gossmap,
                offset,
                ..
            }) => assert!(offset <= cut as u64, "cut {cut}: offset {offset}"),
            other => panic!("cut at {cut}: expected an error, got {other:?}"),
        }
    }
    // Flips either still parse (a value changed) or fail with an offset inside the stream.
    let step = len / 16;
    for at in (0..len).step_by(step) {
        for mask in [0x01, 0xff] {
            let mut bad = raw.clone();
            bad[at] ^= mask;
            if let Err(e) = parse_gossmap(&bad) {
                assert!(
                    matches!(e, RoutingError::MalformedGraph { offset, .. } if offset < len as u64),
                    "flip at {at}: {e}"
                );
            }
        }
    }
    // A channel count far beyond the input, right after the header.
    let mut huge = raw[..19].to_vec();
    huge.extend([0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        parse_gossmap(&huge),
        Err(RoutingError::MalformedGraph { offset: 19, .. })
    ));
}

#[test]
fn missing_file_is_an_io_error() {
    assert!(matches!(
        load_lightning_graph(concat!(env!("CARGO_MANIFEST_DIR"), "/no-such-graph.gz")),
        Err(RoutingError::Io { .. })
    ));
}
