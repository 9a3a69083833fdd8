//! Architecture bindings: `(arch)` and its queries as ordinary persistent data, validation
//! of the transaction kinds against the dispatch and the scripts, and the text tree and
//! Graphviz DOT renderings (of the layers, and of the interpreter's live account network).

use super::accounts::{all_accounts, id_of, map_of, state_of};
use super::runtime::entity_name_of;
use crate::account::{view, Side};
use crate::arch::{self, Architecture, Layer, Machine, NetworkEdge};
use crate::lang::builtins::{proc_arg, str_arg, value_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

fn symbols(names: &[&str]) -> Value {
    Value::list(names.iter().map(|n| Value::sym(n)).collect::<Vec<_>>())
}

fn layer_value(arch: &Architecture, l: &Layer) -> Value {
    let feeds: Vec<&str> = arch
        .feeds
        .iter()
        .filter(|(a, _)| *a == l.name)
        .map(|(_, b)| *b)
        .collect();
    map_of(vec![
        ("type", Value::sym("layer")),
        ("name", Value::sym(l.name)),
        ("status", Value::sym(l.status.name())),
        ("owns", Value::string(l.owns)),
        ("feeds", symbols(&feeds)),
    ])
}

fn machine_value(m: &Machine) -> Value {
    map_of(vec![
        ("type", Value::sym("machine")),
        ("name", Value::sym(m.name)),
        ("layer", Value::sym(m.layer)),
        ("states", symbols(&m.states)),
        ("inputs", symbols(&m.inputs)),
        ("tx-kinds", symbols(&m.tx_kinds)),
    ])
}

fn tx_kind_values(m: &Machine) -> impl Iterator<Item = Value> + '_ {
    m.tx_kinds.iter().map(|k| {
        map_of(vec![
            ("type", Value::sym("tx-kind")),
            ("name", Value::sym(k)),
            ("machine", Value::sym(m.name)),
        ])
    })
}

fn arch_value(_: &mut Interp, _: &[Value], _: Span) -> R {
    let arch = arch::architecture();
    let feeds = arch
        .feeds
        .iter()
        .map(|(a, b)| symbols(&[a, b]))
        .collect::<Vec<_>>();
    Ok(map_of(vec![
        (
            "layers",
            Value::vector(arch.layers.iter().map(|l| layer_value(&arch, l))),
        ),
        (
            "machines",
            Value::vector(arch.machines.iter().map(machine_value)),
        ),
        ("feeds", Value::list(feeds)),
    ]))
}

fn arch_machines(_: &mut Interp, _: &[Value], _: Span) -> R {
    let arch = arch::architecture();
    Ok(Value::list(
        arch.machines.iter().map(machine_value).collect::<Vec<_>>(),
    ))
}

/// Every layer, machine and transaction kind for which `pred` is true.
fn arch_find(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let pred = proc_arg(a, 0, "arch-find")?;
    let arch = arch::architecture();
    let items: Vec<Value> = arch
        .layers
        .iter()
        .map(|l| layer_value(&arch, l))
        .chain(arch.machines.iter().map(machine_value))
        .chain(arch.machines.iter().flat_map(tx_kind_values))
        .collect();
    let mut found = Vec::new();
    for item in items {
        if interp.apply(&pred, vec![item.clone()], span)?.is_true() {
            found.push(item);
        }
    }
    Ok(Value::list(found))
}

fn name_arg(a: &[Value], i: usize, who: &str) -> Result<String, LangError> {
    match &a[i] {
        Value::Symbol(s) => Ok(s.name().to_string()),
        _ => Ok(str_arg(a, i, who)?.to_string()),
    }
}

fn arch_path(_: &mut Interp, a: &[Value], _: Span) -> R {
    let from = name_arg(a, 0, "arch-path")?;
    let to = name_arg(a, 1, "arch-path")?;
    Ok(match arch::architecture().path(&from, &to) {
        Some(path) => symbols(&path),
        None => Value::Bool(false),
    })
}

fn arch_validate(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let dir = match a.first() {
        Some(_) => interp.module.dir().join(&**str_arg(a, 0, "arch-validate")?),
        None => interp.module.dir(),
    };
    let validation = arch::validate(&dir).map_err(|e| value_error("arch-validate", e))?;
    let problems = validation.problems();
    let kinds = validation.kinds.iter().map(|k| {
        map_of(vec![
            ("machine", Value::sym(k.machine)),
            ("kind", Value::sym(k.kind)),
            (
                "handler",
                match &k.handler {
                    Ok(()) => Value::sym("ok"),
                    Err(why) => Value::string(why),
                },
            ),
            (
                "scripts",
                Value::list(
                    k.scripts
                        .iter()
                        .map(|s| Value::string(s))
                        .collect::<Vec<_>>(),
                ),
            ),
        ])
    });
    Ok(map_of(vec![
        ("ok", Value::Bool(problems.is_empty())),
        (
            "problems",
            Value::list(
                problems
                    .iter()
                    .map(|p| Value::string(p))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("kinds", Value::list(kinds.collect::<Vec<_>>())),
    ]))
}

fn arch_tree(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::string(&arch::tree(&arch::architecture())))
}

fn arch_dot(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::string(&arch::layers_dot(&arch::architecture())))
}

/// The simulator's accounts as edges labelled, per token, with what each side can send
/// and the collateral (per the left entity's copy).
pub fn network_edges(interp: &mut Interp) -> Vec<NetworkEdge> {
    let who = "network-dot";
    let mut edges = Vec::new();
    let Ok(pairs) = all_accounts(interp, who) else {
        return edges;
    };
    for (l, r) in pairs {
        let (left, right) = (entity_name_of(interp, l), entity_name_of(interp, r));
        let Ok(rid) = id_of(interp, r, who) else {
            continue;
        };
        let Some(deltas) = state_of(interp, l, who)
            .ok()
            .and_then(|s| s.accounts.get(&rid))
            .map(|a| a.machine.state.deltas.clone())
        else {
            continue;
        };
        let label = deltas
            .iter()
            .map(|(t, d)| {
                format!(
                    "token {t}: {left} out {} / {right} out {} (collateral {})",
                    view(d, Side::Left).out_capacity,
                    view(d, Side::Right).out_capacity,
                    d.collateral
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        edges.push(NetworkEdge { left, right, label });
    }
    edges
}

fn network_dot(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::string(&arch::network_dot(&network_edges(interp))))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "arch", 0, Some(0), arch_value, "The architecture as data, built from the code's own tables: {#:layers [...] #:machines [...] #:feeds ((from to) ...)}.", "(vector-length (hash-ref (arch) #:layers)) => 14";
    "arch-machines", 0, Some(0), arch_machines, "The state machines: ({#:name #:layer #:states #:inputs #:tx-kinds} ...).", "(map (lambda (m) (hash-ref m #:name)) (arch-machines))";
    "arch-find", 1, Some(1), arch_find, "Every layer, machine and tx kind (maps with #:type) for which pred is true.", "(arch-find (lambda (x) (eq? (hash-ref x #:type) 'tx-kind)))";
    "arch-path", 2, Some(2), arch_path, "The layers from one to another along 'feeds' edges (shortest), or #f.", "(arch-path 'repl 'crypto) => (repl lang bindings account crypto)";
    "arch-validate", 0, Some(1), arch_validate, "Checks every tx kind: its handler applies a sample through the real dispatch, and some script in the directory (default: the running script's) uses it. {#:ok #:problems #:kinds}.", "(hash-ref (arch-validate) #:problems)";
    "arch-tree", 0, Some(0), arch_tree, "The architecture as an indented text tree (what `xln arch` prints).", "(display (arch-tree))";
    "arch-dot", 0, Some(0), arch_dot, "Graphviz DOT of the layers (what `xln arch --dot` writes).", "(string-prefix? (arch-dot) \"digraph\") => #t";
    "network-dot", 0, Some(0), network_dot, "Graphviz DOT of the live account network: entities as nodes, accounts as edges labelled with capacities.", "(network-dot)";
];
