//! Storage bindings: a store attached to the interpreter's simulator (every accepted
//! runtime input logged and fsync'd before the binding returns), snapshots, time travel
//! (`replay-to`, `history`), state values and their diff. Also the resume mode behind
//! `xln run FILE --store DIR`: the script's first inputs are checked against the log
//! instead of being logged again.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::runtime::{runtime_error, sim, Entity};
use crate::lang::builtins::{index_arg, str_arg, type_error, value_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::value::{NativeObject, Primitive, Value};
use crate::runtime::{Runtime, RuntimeInput, RuntimeOutput};
use crate::storage::{
    hex32, runtime_state_hash, state_diff, Recovered, Store, StoreError, StoreOptions,
};

type R = Result<Value, LangError>;

const SLOT: &str = "storage";

/// Where the attached store stands.
enum Mode {
    /// Re-running a script over a store that already holds `target` inputs: input `k <=
    /// target` must equal the logged one (when the log still has it) and is not logged
    /// again; after input `target` the state hash must be `target_hash`.
    Resuming {
        logged: BTreeMap<u64, RuntimeInput>,
        applied: u64,
        target: u64,
        target_hash: [u8; 32],
    },
    /// Every accepted input is logged.
    Live,
}

/// The store attached to an interpreter.
pub struct Attached {
    store: Store,
    mode: Mode,
}

fn storage_error(who: &str, e: StoreError) -> LangError {
    value_error(who, e)
}

fn take(interp: &mut Interp) -> Option<Attached> {
    interp
        .extensions
        .remove(SLOT)
        .and_then(|b| b.downcast::<Attached>().ok())
        .map(|b| *b)
}

fn put(interp: &mut Interp, attached: Attached) {
    interp
        .extensions
        .insert(SLOT, Box::new(attached) as Box<dyn Any>);
}

/// Whether a store is attached (every runtime input is being logged).
pub fn store_attached(interp: &Interp) -> bool {
    interp.extensions.contains_key(SLOT)
}

fn attached(interp: &mut Interp) -> Option<&mut Attached> {
    interp
        .extensions
        .get_mut(SLOT)
        .and_then(|b| b.downcast_mut::<Attached>())
}

/// Applies `input` to the interpreter's runtime and, if a store is attached, logs it
/// (fsync'd before this returns) or, while resuming, checks it against the log.
///
/// # Errors
/// The runtime's refusal (nothing logged), a storage failure, or a script that diverges
/// from the log it is resuming.
pub fn apply(
    interp: &mut Interp,
    input: RuntimeInput,
    who: &str,
) -> Result<RuntimeOutput, LangError> {
    let output = sim(interp)
        .runtime
        .apply(&input)
        .map_err(|e| runtime_error(who, e))?;
    let Some(mut at) = take(interp) else {
        return Ok(output);
    };
    let result = accept(&mut at, &input, &sim(interp).runtime, who);
    put(interp, at);
    result.map(|_| output)
}

fn accept(
    at: &mut Attached,
    input: &RuntimeInput,
    runtime: &Runtime,
    who: &str,
) -> Result<(), LangError> {
    match &mut at.mode {
        Mode::Live => {
            at.store.log(input).map_err(|e| storage_error(who, e))?;
            at.store
                .maybe_snapshot(runtime)
                .map_err(|e| storage_error(who, e))?;
        }
        Mode::Resuming {
            logged,
            applied,
            target,
            target_hash,
        } => {
            *applied += 1;
            let n = *applied;
            if let Some(expected) = logged.remove(&n) {
                if &expected != input {
                    return Err(value_error(
                        who,
                        format!("the script diverged from the store at input {n}: the store logged `{expected}`, the script applied `{input}`"),
                    )
                    .with_hint("resume a store only with the script that wrote it"));
                }
            }
            if n == *target {
                let h = runtime_state_hash(runtime).map_err(|e| value_error(who, e))?;
                if h != *target_hash {
                    return Err(value_error(
                        who,
                        format!("after re-applying {n} inputs the state hash is {} but the store recovered {}", hex32(&h), hex32(target_hash)),
                    ));
                }
                at.mode = Mode::Live;
            }
        }
    }
    Ok(())
}

/// A human-readable account of a recovery.
pub fn describe_recovery(dir: &Path, r: &Recovered) -> String {
    let mut s = format!(
        "store {}: {} inputs (snapshot at {}, {} replayed from the WAL), state hash {}",
        dir.display(),
        r.inputs,
        r.snapshot,
        r.replayed,
        hex32(&r.state_hash)
    );
    if let Some(t) = r.tail() {
        s.push_str(&format!(
            "\nstore {}: torn WAL tail truncated: {} bytes at offset {} of {} ({})",
            dir.display(),
            t.bytes,
            t.offset,
            t.segment.display(),
            t.reason
        ));
    }
    s
}

/// For `xln run FILE --store DIR`: opens and recovers the store and attaches it in resume
/// mode to a fresh interpreter (a snapshot every `snapshot_every` inputs, default 1000).
/// Returns the recovery report.
///
/// # Errors
/// Any [`StoreError`] of recovery, or the logged inputs that cannot be read.
pub fn attach_resuming(
    interp: &mut Interp,
    dir: &Path,
    snapshot_every: Option<u64>,
) -> Result<String, StoreError> {
    let mut options = StoreOptions::default();
    if snapshot_every.is_some() {
        options.snapshot_every = snapshot_every;
    }
    let (store, recovered) = Store::open(dir, options)?;
    let (inputs, _) = Store::read_inputs(dir, 1, recovered.inputs)?;
    let report = describe_recovery(dir, &recovered);
    let mode = if recovered.inputs == 0 {
        Mode::Live
    } else {
        Mode::Resuming {
            logged: inputs.into_iter().collect(),
            applied: 0,
            target: recovered.inputs,
            target_hash: recovered.state_hash,
        }
    };
    put(interp, Attached { store, mode });
    Ok(report)
}

/// For `xln run --store` at the end of the script: flushes the store and checks the
/// script reached the inputs it was resuming. Returns a one-line summary.
///
/// # Errors
/// A script that stopped before the inputs the store holds; a flush failure.
pub fn finish(interp: &mut Interp) -> Result<String, String> {
    let Some(mut at) = take(interp) else {
        return Ok(String::new());
    };
    at.store.flush().map_err(|e| e.to_string())?;
    match at.mode {
        Mode::Resuming {
            applied, target, ..
        } => Err(format!(
            "the script applied {applied} inputs but the store holds {target}: not the script that wrote it, or it stopped early"
        )),
        Mode::Live => Ok(format!(
            "store {}: {} inputs logged in all",
            at.store.dir().display(),
            at.store.inputs()
        )),
    }
}

/// A runtime state as a script value (from `replay-to` or `current-state`): read-only.
pub struct StateValue {
    runtime: Runtime,
    label: String,
}

impl NativeObject for StateValue {
    fn type_name(&self) -> &'static str {
        "runtime-state"
    }
    fn describe(&self) -> String {
        format!(
            "#<runtime-state {} tick {}>",
            self.label,
            self.runtime.now()
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equal(&self, other: &dyn NativeObject) -> bool {
        other
            .as_any()
            .downcast_ref::<StateValue>()
            .is_some_and(|o| runtime_state_hash(&o.runtime) == runtime_state_hash(&self.runtime))
    }
}

fn state_arg<'v>(a: &'v [Value], i: usize, who: &str) -> Result<&'v Runtime, LangError> {
    match &a[i] {
        Value::Native(n) => n
            .as_any()
            .downcast_ref::<StateValue>()
            .map(|s| &s.runtime)
            .ok_or_else(|| type_error(who, i, "a runtime-state", &a[i])),
        v => Err(type_error(
            who,
            i,
            "a runtime-state (from replay-to or current-state)",
            v,
        )),
    }
}

fn state_value(runtime: Runtime, label: String) -> Value {
    Value::Native(Rc::new(StateValue { runtime, label }))
}

fn store_dir(interp: &mut Interp, who: &str) -> Result<PathBuf, LangError> {
    attached(interp)
        .map(|a| a.store.dir().to_path_buf())
        .ok_or_else(|| {
            value_error(who, "no store is open").with_hint("(open-store! \"dir\") first")
        })
}

/// `(open-store! "dir")`: recover the store and adopt its state as the simulator's.
fn open_store(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "open-store!";
    let dir = PathBuf::from(str_arg(a, 0, who)?.to_string());
    if attached(interp).is_some() {
        return Err(value_error(who, "a store is already open").with_hint("(close-store!) first"));
    }
    let (store, recovered) =
        Store::open(&dir, StoreOptions::default()).map_err(|e| storage_error(who, e))?;
    let inputs = recovered.inputs;
    let torn = recovered.tail().is_some();
    let s = sim(interp);
    s.runtime = recovered.runtime;
    s.names = (0..s.runtime.entity_count())
        .map(|i| s.runtime.entity_name(i).unwrap_or_default().to_string())
        .collect();
    put(
        interp,
        Attached {
            store,
            mode: Mode::Live,
        },
    );
    Ok(Value::list(vec![
        Value::list(vec![Value::sym("inputs"), Value::Int(inputs as i64)]),
        Value::list(vec![Value::sym("torn-tail"), Value::Bool(torn)]),
    ]))
}

fn close_store(interp: &mut Interp, _: &[Value], _: Span) -> R {
    match take(interp) {
        Some(mut at) => {
            at.store
                .flush()
                .map_err(|e| storage_error("close-store!", e))?;
            Ok(Value::Int(at.store.inputs() as i64))
        }
        None => Err(value_error("close-store!", "no store is open")),
    }
}

fn snapshot(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let who = "snapshot!";
    let Some(mut at) = take(interp) else {
        return Err(value_error(who, "no store is open").with_hint("(open-store! \"dir\") first"));
    };
    let result = at.store.snapshot(&sim(interp).runtime);
    put(interp, at);
    let (path, _) = result.map_err(|e| storage_error(who, e))?;
    Ok(Value::string(&path.display().to_string()))
}

fn store_inputs(interp: &mut Interp, _: &[Value], _: Span) -> R {
    store_dir(interp, "store-inputs")?;
    let n = attached(interp).map_or(0, |a| a.store.inputs());
    Ok(Value::Int(n as i64))
}

fn replay_to(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "replay-to";
    let n = index_arg(a, 0, who)? as u64;
    let dir = store_dir(interp, who)?;
    if let Some(at) = attached(interp) {
        at.store.flush().map_err(|e| storage_error(who, e))?;
    }
    let runtime = Store::replay_to(&dir, n).map_err(|e| storage_error(who, e))?;
    Ok(state_value(runtime, format!("after input {n}")))
}

fn current_state(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(state_value(sim(interp).runtime.clone(), "now".into()))
}

fn state_hash_of(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "runtime-state-hash";
    let h = match a.first() {
        Some(_) => runtime_state_hash(state_arg(a, 0, who)?),
        None => runtime_state_hash(&sim(interp).runtime),
    };
    Ok(Value::bytes(&h.map_err(|e| value_error(who, e))?))
}

fn state_tick(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(state_arg(a, 0, "state-tick")?.now() as i64))
}

fn entity_index(a: &[Value], i: usize, who: &str) -> Result<usize, LangError> {
    match &a[i] {
        Value::Int(n) if *n >= 0 => Ok(*n as usize),
        Value::Native(n) => n
            .as_any()
            .downcast_ref::<Entity>()
            .map(|e| e.index)
            .ok_or_else(|| type_error(who, i, "an entity or an entity index", &a[i])),
        v => Err(type_error(who, i, "an entity or an entity index", v)),
    }
}

/// `(state-height s e)`: the committed height of an honest replica of `e` in state `s`.
fn state_height(_: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "state-height";
    let rt = state_arg(a, 0, who)?;
    let e = entity_index(a, 1, who)?;
    let i = *rt.honest(e).first().ok_or_else(|| {
        value_error(
            who,
            format!("entity {e} has no honest replica in this state"),
        )
    })?;
    let r = rt.replica(e, i).map_err(|x| runtime_error(who, x))?;
    Ok(Value::Int(r.height() as i64))
}

fn state_diff_prim(_: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "state-diff";
    let d = state_diff(state_arg(a, 0, who)?, state_arg(a, 1, who)?)
        .map_err(|e| value_error(who, e))?;
    let side = |s: &Option<String>| s.as_deref().map_or(Value::sym("absent"), Value::string);
    Ok(Value::list(
        d.iter()
            .map(|e| Value::list(vec![Value::string(&e.path), side(&e.left), side(&e.right)]))
            .collect::<Vec<_>>(),
    ))
}

/// `(history e)`: `((height state-hash frame-hash input tick) ...)` for every height an
/// honest replica of `e` committed, replayed from the open store.
fn history(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "history";
    let e = entity_index(a, 0, who)?;
    let dir = store_dir(interp, who)?;
    if let Some(at) = attached(interp) {
        at.store.flush().map_err(|e| storage_error(who, e))?;
    }
    let entries = crate::storage::entity_history(&dir, e).map_err(|x| storage_error(who, x))?;
    Ok(Value::list(
        entries
            .iter()
            .map(|h| {
                Value::list(vec![
                    Value::Int(h.height as i64),
                    Value::bytes(&h.state_hash),
                    Value::bytes(&h.frame_hash),
                    Value::Int(h.input as i64),
                    Value::Int(h.tick as i64),
                ])
            })
            .collect::<Vec<_>>(),
    ))
}

/// `(fresh-store-dir "name")`: an empty directory path under the OS temp directory, unique
/// to this process and call (for scripts and tests that must not see an older store).
fn fresh_store_dir(_: &mut Interp, a: &[Value], _: Span) -> R {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let who = "fresh-store-dir";
    let name = str_arg(a, 0, who)?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(value_error(who, "the name must be letters, digits, - or _"));
    }
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("xln-store-{name}-{}-{n}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| value_error(who, format!("{}: {e}", dir.display())))?;
    }
    Ok(Value::string(&dir.display().to_string()))
}

/// `(remove-store! "dir")`: deletes a store directory (only one that holds nothing but a
/// store: `wal/` and `snapshots/`), so a mistyped path cannot delete anything else.
fn remove_store(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "remove-store!";
    let dir = PathBuf::from(str_arg(a, 0, who)?.to_string());
    if attached(interp).is_some_and(|at| at.store.dir() == dir) {
        return Err(value_error(who, "the store is open").with_hint("(close-store!) first"));
    }
    let entries =
        std::fs::read_dir(&dir).map_err(|e| value_error(who, format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let name = entry.map_err(|e| value_error(who, e))?.file_name();
        if name != "wal" && name != "snapshots" {
            return Err(value_error(
                who,
                format!(
                    "{} holds {name:?}: not just a store, nothing deleted",
                    dir.display()
                ),
            ));
        }
    }
    std::fs::remove_dir_all(&dir)
        .map_err(|e| value_error(who, format!("{}: {e}", dir.display())))?;
    Ok(Value::Void)
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "open-store!", 1, Some(1), open_store, "Opens (or creates) a store directory, recovers its state (snapshot + WAL) into the simulator and logs every accepted input from now on, fsync'd before each call returns.", "(open-store! \"run.store\") => ((inputs 120) (torn-tail #f))";
    "close-store!", 0, Some(0), close_store, "Flushes and detaches the store (the simulator keeps its state). Returns the inputs logged.", "(close-store!) => 120";
    "snapshot!", 0, Some(0), snapshot, "Writes a readable snapshot of the runtime into the open store (atomically) and returns its path.", "(snapshot!) => \"run.store/snapshots/00000000000000000120.sexp\"";
    "store-inputs", 0, Some(0), store_inputs, "Inputs the open store has logged.", "(store-inputs) => 120";
    "replay-to", 1, Some(1), replay_to, "The runtime state after input n of the open store (a read-only runtime-state value).", "(replay-to 40)";
    "current-state", 0, Some(0), current_state, "The simulator's current state as a read-only runtime-state value.", "(current-state)";
    "runtime-state-hash", 0, Some(1), state_hash_of, "The whole-runtime state hash (keccak over the snapshot sections) of the simulator, or of a runtime-state.", "(runtime-state-hash (replay-to 40))";
    "state-tick", 1, Some(1), state_tick, "The tick of a runtime-state.", "(state-tick (replay-to 40)) => 12";
    "state-height", 2, Some(2), state_height, "(state-height s e): committed height of an honest replica of entity e (handle or index) in runtime-state s.", "(state-height (replay-to 40) hub) => 3";
    "state-diff", 2, Some(2), state_diff_prim, "(state-diff a b): differences between two runtime-states as ((path left right) ...); 'absent marks a missing side.", "(state-diff (replay-to 10) (current-state))";
    "fresh-store-dir", 1, Some(1), fresh_store_dir, "A new, unused directory path under the OS temp directory for a store (name: letters, digits, - or _).", "(fresh-store-dir \"demo\")";
    "remove-store!", 1, Some(1), remove_store, "Deletes a closed store directory (refuses a directory holding anything but wal/ and snapshots/).", "(remove-store! dir)";
    "history", 1, Some(1), history, "(history e): ((height frame-state-hash frame-hash input tick) ...) for each height entity e committed, with the input that committed it, replayed from the open store.", "(history hub)";
];
