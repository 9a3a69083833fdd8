//! [`state_diff`]: a readable structural diff of two runtime states, computed on their
//! S-expression forms: struct fields are matched by name, lists by position, and each
//! difference is reported at its path (`entities[0].replicas[2].replica.state.height`).

use lexpr::Value;

use super::snapshot::runtime_to_value;
use crate::runtime::Runtime;

/// Most differences reported; the rest are summarised as a count.
pub const DIFF_ENTRIES_MAX: usize = 200;

/// Longest rendering of one side of a difference.
const SIDE_CHARS_MAX: usize = 160;

/// One difference: where, and the value on each side (`None`: absent on that side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffEntry {
    /// The path, e.g. `tick` or `entities[1].replicas[0].behaviour`.
    pub path: String,
    /// The left value, compactly printed (shortened if long).
    pub left: Option<String>,
    /// The right value.
    pub right: Option<String>,
}

/// The differences between two runtimes (empty when they are equal), at most
/// [`DIFF_ENTRIES_MAX`] entries plus a final `…` entry counting the rest.
///
/// # Errors
/// A serializer error (a bug).
pub fn state_diff(a: &Runtime, b: &Runtime) -> Result<Vec<DiffEntry>, String> {
    let mut out = Vec::new();
    let mut more = 0usize;
    walk(
        "",
        &runtime_to_value(a)?,
        &runtime_to_value(b)?,
        &mut out,
        &mut more,
    );
    if more > 0 {
        out.push(DiffEntry {
            path: format!("… and {more} more differences"),
            left: None,
            right: None,
        });
    }
    Ok(out)
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= SIDE_CHARS_MAX {
        return s;
    }
    let mut cut = SIDE_CHARS_MAX;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} chars)", &s[..cut], s.len())
}

fn push(out: &mut Vec<DiffEntry>, more: &mut usize, entry: DiffEntry) {
    if out.len() < DIFF_ENTRIES_MAX {
        out.push(entry);
    } else {
        *more += 1;
    }
}

/// The fields of a serde struct (an alist whose keys are symbols), if `v` is one.
fn fields(v: &Value) -> Option<Vec<(&str, &Value)>> {
    v.list_iter()?
        .map(|f| {
            let (k, rest) = f.as_pair()?;
            Some((k.as_symbol()?, rest))
        })
        .collect::<Option<Vec<_>>>()
        .filter(|f| !f.is_empty())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<DiffEntry>, more: &mut usize) {
    if a == b {
        return;
    }
    if let (Some(fa), Some(fb)) = (fields(a), fields(b)) {
        for (k, va) in &fa {
            match fb.iter().find(|(kb, _)| kb == k) {
                Some((_, vb)) => walk(&join(path, k), va, vb, out, more),
                None => push(out, more, entry(join(path, k), Some(va), None)),
            }
        }
        for (k, vb) in fb.iter().filter(|(k, _)| !fa.iter().any(|(ka, _)| ka == k)) {
            push(out, more, entry(join(path, k), None, Some(vb)));
        }
        return;
    }
    let la: Option<Vec<&Value>> = list_items(a);
    let lb: Option<Vec<&Value>> = list_items(b);
    if let (Some(la), Some(lb)) = (la, lb) {
        for i in 0..la.len().max(lb.len()) {
            let p = format!("{path}[{i}]");
            match (la.get(i), lb.get(i)) {
                (Some(x), Some(y)) => walk(&p, x, y, out, more),
                (x, y) => push(out, more, entry(p, x.copied(), y.copied())),
            }
        }
        return;
    }
    push(out, more, entry(path.to_string(), Some(a), Some(b)));
}

fn list_items(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Vector(items) => Some(items.iter().collect()),
        Value::Null => Some(Vec::new()),
        _ => v.list_iter().map(|i| i.collect()),
    }
}

fn entry(path: String, a: Option<&Value>, b: Option<&Value>) -> DiffEntry {
    DiffEntry {
        path,
        left: a.map(show),
        right: b.map(show),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_states_have_no_diff_and_a_tick_shows_up() {
        let a = Runtime::new(1);
        let mut b = a.clone();
        assert!(state_diff(&a, &b).unwrap().is_empty());
        b.run_ticks(3);
        let d = state_diff(&a, &b).unwrap();
        assert!(d.iter().any(|e| e.path == "tick"
            && e.left.as_deref() == Some("0")
            && e.right.as_deref() == Some("3")));
    }
}
