//! Snapshot documents: the whole runtime state as a readable S-expression document, its
//! state hash, an atomic write, and a strict reader that names the line of any problem.
//!
//! # Format (v1)
//!
//! ```text
//! ;; comments
//! (xln-snapshot (format 1) (inputs N) (sections K) (state-hash "0x…"))
//! (section "runtime" "0x<keccak of the body>"
//!  <body: the runtime's scalar fields, the network, outcomes, ...>)
//! (section "entity 0" "0x…" <body: one entity, its replicas and their state>)
//! ...
//! (section "timeline" "0x…" <body: every timeline event>)
//! (end "0x<state hash>")
//! ```
//!
//! Bodies are serde's S-expression form of the runtime types (structs as association
//! lists; hashes, keys and addresses as hex strings; amounts as decimal strings). A
//! section's hash is keccak-256 of its body printed compactly; the **runtime state hash**
//! is keccak-256 of `"xln/runtime-state/v1"` followed by each section's name, a zero byte
//! and its hash. Every top-level form starts at column 0 and its other lines are indented,
//! so a reader can say which line a form starts on without parsing the rest.
//!
//! A truncated document (a form left open, or no `(end …)`) and an edited one (a body
//! that no longer matches its hash, a header whose hash does not match the sections) are
//! refused with the line and the reason.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use lexpr::Value;

use super::sexpr::pretty;
use super::{io_error, sync_dir, StoreError};
use crate::crypto::keccak256;
use crate::crypto::readable::{from_hex, to_hex};
use crate::runtime::Runtime;

/// The document format this code writes and reads.
pub const SNAPSHOT_FORMAT: u64 = 1;

/// A snapshot read back.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The inputs it covers (the state after inputs `1..=inputs`).
    pub inputs: u64,
    /// The runtime state hash (checked against the sections).
    pub state_hash: [u8; 32],
    /// The restored runtime.
    pub runtime: Runtime,
}

/// The runtime as an S-expression value (serde's form).
///
/// # Errors
/// A serializer error (a bug: every runtime type serializes).
pub fn runtime_to_value(runtime: &Runtime) -> Result<Value, String> {
    serde_lexpr::to_value(runtime).map_err(|e| format!("cannot serialize the runtime: {e}"))
}

/// A runtime from its S-expression value.
///
/// # Errors
/// What serde says is missing or malformed.
pub fn value_to_runtime(value: &Value) -> Result<Runtime, String> {
    serde_lexpr::from_value(value).map_err(|e| e.to_string())
}

/// Splits the runtime's value into named sections: "runtime" (the scalar fields), one
/// "entity i" per entity, and "timeline".
fn split(value: &Value) -> Result<Vec<(String, Value)>, String> {
    let mut head = Vec::new();
    let mut entities = Vec::new();
    let mut timeline = Value::Null;
    for field in value.list_iter().ok_or("the runtime is not a field list")? {
        let (key, rest) = field
            .as_pair()
            .ok_or("a runtime field is not a (name . value) pair")?;
        match key.as_symbol() {
            Some("entities") => entities = rest.list_iter().ok_or("bad entities")?.collect(),
            Some("timeline") => timeline = rest.clone(),
            _ => head.push(field.clone()),
        }
    }
    let mut sections = vec![("runtime".to_string(), Value::list(head))];
    for (i, e) in entities.into_iter().enumerate() {
        sections.push((format!("entity {i}"), e.clone()));
    }
    sections.push(("timeline".to_string(), timeline));
    Ok(sections)
}

/// The inverse of [`split`].
fn join(sections: Vec<(String, Value)>) -> Result<Value, String> {
    let mut fields = Vec::new();
    let mut entities = Vec::new();
    for (name, body) in sections {
        if name == "runtime" {
            fields.extend(
                body.list_iter()
                    .ok_or("the runtime section is not a list")?
                    .cloned(),
            );
        } else if name == "timeline" {
            fields.push(Value::cons(Value::symbol("timeline"), body));
        } else if name
            .strip_prefix("entity ")
            .and_then(|i| i.parse::<usize>().ok())
            == Some(entities.len())
        {
            entities.push(body);
        } else {
            return Err(format!("unexpected section {name:?}"));
        }
    }
    fields.push(Value::cons(
        Value::symbol("entities"),
        Value::list(entities),
    ));
    Ok(Value::list(fields))
}

fn section_hash(body: &Value) -> [u8; 32] {
    keccak256(body.to_string().as_bytes())
}

fn combine(hashes: &[(String, [u8; 32])]) -> [u8; 32] {
    let mut bytes = b"xln/runtime-state/v1".to_vec();
    for (name, h) in hashes {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(h);
    }
    keccak256(&bytes)
}

/// The runtime state hash (see the module documentation). Equal runtimes have equal
/// hashes; any difference in any field changes it.
///
/// # Errors
/// As [`runtime_to_value`].
pub fn runtime_state_hash(runtime: &Runtime) -> Result<[u8; 32], String> {
    let sections = split(&runtime_to_value(runtime)?)?;
    let hashes: Vec<(String, [u8; 32])> = sections
        .iter()
        .map(|(n, b)| (n.clone(), section_hash(b)))
        .collect();
    Ok(combine(&hashes))
}

/// The snapshot document of `runtime` after `inputs` inputs, and its state hash.
///
/// # Errors
/// As [`runtime_to_value`].
pub fn snapshot_document(runtime: &Runtime, inputs: u64) -> Result<(String, [u8; 32]), String> {
    let sections = split(&runtime_to_value(runtime)?)?;
    let hashes: Vec<(String, [u8; 32])> = sections
        .iter()
        .map(|(n, b)| (n.clone(), section_hash(b)))
        .collect();
    let state = combine(&hashes);
    let mut doc = format!(
        ";; xln runtime snapshot (format {SNAPSHOT_FORMAT}): the state after {inputs} accepted inputs.\n\
         ;; Each section records the keccak-256 of its body: an edited body is refused.\n\
         (xln-snapshot (format {SNAPSHOT_FORMAT}) (inputs {inputs}) (sections {}) (state-hash \"{}\"))\n",
        sections.len(),
        to_hex(&state)
    );
    for ((name, body), (_, h)) in sections.iter().zip(&hashes) {
        doc.push_str(&format!("(section {name:?} \"{}\"\n ", to_hex(h)));
        doc.push_str(&pretty(body, 1));
        doc.push_str(")\n");
    }
    doc.push_str(&format!("(end \"{}\")\n", to_hex(&state)));
    Ok((doc, state))
}

/// Writes `text` to `path` atomically: a temporary file beside it, fsync, rename, fsync
/// of the directory. A crash leaves either the old file or the new one, never a mix (and
/// perhaps a `.tmp` file, which [`super::Store::open`] removes).
///
/// # Errors
/// I/O errors.
pub fn write_snapshot_atomically(path: &Path, text: &str) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("snapshot");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| io_error(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    sync_dir(dir)
}

/// One top-level form of a document and the line it starts on.
struct Form {
    line: usize,
    text: String,
}

/// Splits a document into its top-level forms (see the module documentation).
fn forms(text: &str, path: &Path) -> Result<Vec<Form>, StoreError> {
    let mut out: Vec<Form> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        if l.starts_with('(') {
            out.push(Form {
                line,
                text: format!("{l}\n"),
            });
        } else if l.starts_with(';') || l.trim().is_empty() {
            continue;
        } else if l.starts_with(' ') && !out.is_empty() {
            if let Some(f) = out.last_mut() {
                f.text.push_str(l);
                f.text.push('\n');
            }
        } else {
            return Err(snapshot_error(
                path,
                line,
                "unexpected text at column 0 (a top-level form starts with `(`; its other lines are indented)",
            ));
        }
    }
    Ok(out)
}

fn snapshot_error(path: &Path, line: usize, reason: impl Into<String>) -> StoreError {
    StoreError::Snapshot {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

fn parse_form(form: &Form, path: &Path) -> Result<Value, StoreError> {
    lexpr::from_str(&form.text).map_err(|e| {
        if e.is_eof() {
            let last = form.line + form.text.lines().count().saturating_sub(1);
            let reason = format!(
                "truncated: the form that starts at line {} is never closed",
                form.line
            );
            return snapshot_error(path, last, reason);
        }
        let line = form.line + e.location().map_or(0, |l| l.line().saturating_sub(1));
        snapshot_error(path, line, format!("not an S-expression: {e}"))
    })
}

/// `(tag a b ...)` as its items after the tag, if the head is the symbol `tag`.
fn tagged<'a>(v: &'a Value, tag: &str) -> Option<Vec<&'a Value>> {
    let items: Vec<&Value> = v.list_iter()?.collect();
    (items.first()?.as_symbol()? == tag).then(|| items[1..].to_vec())
}

/// `(key value)` inside the header.
fn header_field<'a>(items: &[&'a Value], key: &str) -> Option<&'a Value> {
    items
        .iter()
        .find_map(|i| tagged(i, key).and_then(|v| v.first().copied()))
}

fn hash_of(v: &Value) -> Option<[u8; 32]> {
    let bytes = from_hex(v.as_str()?).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

struct Header {
    inputs: u64,
    sections: usize,
    state_hash: [u8; 32],
}

fn read_header(form: &Form, path: &Path) -> Result<Header, StoreError> {
    let line = form.line;
    let v = parse_form(form, path)?;
    let items = tagged(&v, "xln-snapshot").ok_or_else(|| {
        snapshot_error(path, line, "not an xln snapshot (no xln-snapshot header)")
    })?;
    let num = |key: &str| {
        header_field(&items, key)
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                snapshot_error(path, line, format!("the header has no ({key} <integer>)"))
            })
    };
    let format = num("format")?;
    if format != SNAPSHOT_FORMAT {
        return Err(snapshot_error(
            path,
            line,
            format!("format {format}, but this xln reads format {SNAPSHOT_FORMAT}"),
        ));
    }
    Ok(Header {
        inputs: num("inputs")?,
        sections: usize::try_from(num("sections")?).unwrap_or(usize::MAX),
        state_hash: header_field(&items, "state-hash")
            .and_then(hash_of)
            .ok_or_else(|| snapshot_error(path, line, "the header has no (state-hash \"0x…\")"))?,
    })
}

fn read_section(form: &Form, path: &Path) -> Result<(String, [u8; 32], Value), StoreError> {
    let line = form.line;
    let v = parse_form(form, path)?;
    let items = tagged(&v, "section")
        .filter(|i| i.len() == 3)
        .ok_or_else(|| snapshot_error(path, line, "expected (section \"name\" \"0xhash\" body)"))?;
    let name = items[0]
        .as_str()
        .ok_or_else(|| snapshot_error(path, line, "a section name is a string"))?;
    let recorded = hash_of(items[1])
        .ok_or_else(|| snapshot_error(path, line, "a section hash is 0x and 64 hex digits"))?;
    let actual = section_hash(items[2]);
    if actual != recorded {
        return Err(snapshot_error(
            path,
            line,
            format!(
                "section {name:?} was edited or damaged: its body hashes to {} but the document records {}",
                to_hex(&actual),
                to_hex(&recorded)
            ),
        ));
    }
    Ok((name.to_string(), recorded, items[2].clone()))
}

/// Parses and checks a snapshot document (`path` is only for messages).
///
/// # Errors
/// [`StoreError::Snapshot`] with the line and reason: unparsable or truncated text, a
/// missing header or end, a section whose body does not match its hash, a state hash that
/// does not match the sections, or a body that is not a runtime.
pub fn parse_snapshot(text: &str, path: &Path) -> Result<Snapshot, StoreError> {
    let forms = forms(text, path)?;
    let last_line = text.lines().count().max(1);
    let head = forms
        .first()
        .ok_or_else(|| snapshot_error(path, last_line, "empty: no xln-snapshot header"))?;
    let header = read_header(head, path)?;
    let mut sections = Vec::new();
    let mut end = None;
    for form in &forms[1..] {
        if sections.len() == header.sections {
            let v = parse_form(form, path)?;
            let hash = tagged(&v, "end").and_then(|i| i.first().and_then(|h| hash_of(h)));
            end = Some((form.line, hash));
            break;
        }
        sections.push((form.line, read_section(form, path)?));
    }
    let Some((end_line, end_hash)) = end else {
        return Err(snapshot_error(
            path,
            last_line,
            format!(
                "truncated: {} of {} sections and no (end …) form",
                sections.len(),
                header.sections
            ),
        ));
    };
    if end_hash != Some(header.state_hash) {
        return Err(snapshot_error(
            path,
            end_line,
            "expected (end \"<the header's state hash>\")",
        ));
    }
    let hashes: Vec<(String, [u8; 32])> = sections
        .iter()
        .map(|(_, (n, h, _))| (n.clone(), *h))
        .collect();
    if combine(&hashes) != header.state_hash {
        return Err(snapshot_error(
            path,
            head.line,
            format!(
                "the header's state hash {} does not match the sections ({})",
                to_hex(&header.state_hash),
                to_hex(&combine(&hashes))
            ),
        ));
    }
    let first_line = sections.first().map_or(head.line, |(l, _)| *l);
    let value = join(sections.into_iter().map(|(_, (n, _, b))| (n, b)).collect())
        .map_err(|e| snapshot_error(path, first_line, e))?;
    let runtime = value_to_runtime(&value)
        .map_err(|e| snapshot_error(path, first_line, format!("not a runtime state: {e}")))?;
    Ok(Snapshot {
        inputs: header.inputs,
        state_hash: header.state_hash,
        runtime,
    })
}

/// Reads and checks the snapshot file at `path`; see [`parse_snapshot`].
///
/// # Errors
/// I/O errors, a file that is not UTF-8, and everything [`parse_snapshot`] refuses.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, StoreError> {
    let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        snapshot_error(path, line, "not UTF-8 text")
    })?;
    parse_snapshot(&text, path)
}

/// The file name of the snapshot covering `inputs` inputs.
pub(crate) fn snapshot_path(dir: &Path, inputs: u64) -> PathBuf {
    dir.join(format!("{inputs:020}.sexp"))
}
