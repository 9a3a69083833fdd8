//! Renderings of the architecture: a text tree (`xln arch`), Graphviz DOT of the layers,
//! and DOT of a live network (entities as nodes, accounts as edges labelled with capacities).

use std::fmt::Write;

use super::Architecture;

/// One account of a live network, for [`network_dot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkEdge {
    /// The left entity's name.
    pub left: String,
    /// The right entity's name.
    pub right: String,
    /// The label: capacities per token.
    pub label: String,
}

/// The layers with what they own and feed, then the machines with their states, inputs and
/// transaction kinds, as an indented tree.
pub fn tree(arch: &Architecture) -> String {
    let mut out = String::from("xln\n├── layers\n");
    for (i, layer) in arch.layers.iter().enumerate() {
        let last = i + 1 == arch.layers.len();
        let (branch, rail) = if last {
            ("└──", "    ")
        } else {
            ("├──", "│   ")
        };
        let _ = writeln!(
            out,
            "│   {branch} {} [{}] — {}",
            layer.name,
            layer.status.name(),
            layer.owns
        );
        let feeds: Vec<&str> = arch
            .feeds
            .iter()
            .filter(|(a, _)| *a == layer.name)
            .map(|(_, b)| *b)
            .collect();
        if !feeds.is_empty() {
            let _ = writeln!(out, "│   {rail}    feeds: {}", feeds.join(", "));
        }
    }
    out.push_str("└── machines\n");
    for (i, m) in arch.machines.iter().enumerate() {
        let last = i + 1 == arch.machines.len();
        let (branch, rail) = if last {
            ("└──", "    ")
        } else {
            ("├──", "│   ")
        };
        let _ = writeln!(out, "    {branch} {} (layer {})", m.name, m.layer);
        let _ = writeln!(out, "    {rail}    states: {}", m.states.join(", "));
        let _ = writeln!(out, "    {rail}    inputs: {}", m.inputs.join(", "));
        if !m.tx_kinds.is_empty() {
            let _ = writeln!(out, "    {rail}    tx kinds: {}", m.tx_kinds.join(", "));
        }
    }
    out
}

/// A DOT string literal.
fn quoted(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

/// The layers as a DOT digraph: planned layers dashed, machines listed in their layer's label.
pub fn layers_dot(arch: &Architecture) -> String {
    let mut out = String::from(
        "digraph layers {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for layer in &arch.layers {
        let machines: Vec<String> = arch
            .machines
            .iter()
            .filter(|m| m.layer == layer.name)
            .map(|m| format!("machine {}: {}", m.name, m.tx_kinds.join(" ")))
            .collect();
        let mut label = layer.name.to_string();
        for m in &machines {
            label.push('\n');
            label.push_str(m);
        }
        let style = match layer.status {
            super::Status::Built => "solid",
            super::Status::Planned => "dashed",
        };
        let _ = writeln!(
            out,
            "  {} [label={}, style={style}];",
            quoted(layer.name),
            quoted(&label)
        );
    }
    for (a, b) in &arch.feeds {
        let _ = writeln!(out, "  {} -> {};", quoted(a), quoted(b));
    }
    out.push_str("}\n");
    out
}

/// A live network as a DOT graph: entities as nodes, accounts as edges with their labels.
pub fn network_dot(edges: &[NetworkEdge]) -> String {
    let mut out = String::from("graph network {\n  node [shape=ellipse, fontname=\"monospace\"];\n  edge [fontname=\"monospace\", fontsize=10];\n");
    let mut nodes: Vec<&str> = edges
        .iter()
        .flat_map(|e| [e.left.as_str(), e.right.as_str()])
        .collect();
    nodes.sort();
    nodes.dedup();
    for n in nodes {
        let _ = writeln!(out, "  {};", quoted(n));
    }
    for e in edges {
        let _ = writeln!(
            out,
            "  {} -- {} [label={}];",
            quoted(&e.left),
            quoted(&e.right),
            quoted(&e.label)
        );
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::architecture;
    use super::*;

    #[test]
    fn the_tree_and_the_dot_name_every_layer_and_kind() {
        let arch = architecture();
        let text = tree(&arch);
        let dot = layers_dot(&arch);
        for layer in &arch.layers {
            assert!(text.contains(layer.name) && dot.contains(&format!("\"{}\"", layer.name)));
        }
        for kind in crate::account::AccountTx::KINDS {
            assert!(text.contains(kind) && dot.contains(kind), "{kind}");
        }
        assert!(dot.starts_with("digraph") && dot.trim_end().ends_with('}'));
    }

    #[test]
    fn names_are_escaped_in_dot() {
        let dot = network_dot(&[NetworkEdge {
            left: "a\"b".into(),
            right: "c".into(),
            label: "x\ny".into(),
        }]);
        assert!(
            dot.contains("\"a\\\"b\" -- \"c\" [label=\"x\\ny\"]"),
            "{dot}"
        );
    }
}
