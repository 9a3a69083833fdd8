//! Modules: each file (and the REPL) has its own global namespace; builtins live in a root
//! module every other module falls back to. `require` loads a module once (cached by path),
//! detects cycles, and imports what it `provide`s (everything it defines if it provides nothing).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::expander::Macro;
use super::symbol::Sym;
use super::value::Value;

/// A global variable cell. Compiled code holds the cell, so lookups are a pointer read.
pub struct Global {
    pub name: Sym,
    pub value: RefCell<Value>,
}

/// One namespace: globals, macros, and the names it exports.
pub struct Module {
    pub name: String,
    pub path: Option<PathBuf>,
    pub globals: RefCell<HashMap<Sym, Rc<Global>>>,
    pub macros: RefCell<HashMap<Sym, Rc<Macro>>>,
    /// `None` until the module says `provide`; then only these names are exported.
    pub exports: RefCell<Option<Vec<Sym>>>,
    /// Names this module defined itself (as opposed to imported or builtin).
    pub defined: RefCell<Vec<Sym>>,
    /// Names whose cell was imported from another module (shared with it).
    pub imported: RefCell<HashSet<Sym>>,
    builtins: Option<Rc<Module>>,
}

impl Module {
    /// The cell for `name`, created on first mention; a builtin of the same name seeds it.
    pub fn cell(&self, name: Sym) -> Rc<Global> {
        if let Some(c) = self.globals.borrow().get(&name) {
            return c.clone();
        }
        let initial = self
            .builtins
            .as_ref()
            .and_then(|b| {
                b.globals
                    .borrow()
                    .get(&name)
                    .map(|c| c.value.borrow().clone())
            })
            .unwrap_or(Value::Undefined);
        let cell = Rc::new(Global {
            name,
            value: RefCell::new(initial),
        });
        self.globals.borrow_mut().insert(name, cell.clone());
        cell
    }

    /// The cell a top-level `define` of `name` assigns. Defining an imported name shadows
    /// the import with a cell of this module's own (as a Racket module-level definition
    /// does), instead of overwriting the exporting module's variable.
    pub fn definition_cell(&self, name: Sym) -> Rc<Global> {
        if self.imported.borrow_mut().remove(&name) {
            let cell = Rc::new(Global {
                name,
                value: RefCell::new(Value::Undefined),
            });
            self.globals.borrow_mut().insert(name, cell.clone());
            return cell;
        }
        self.cell(name)
    }

    /// Defines `name` (for builtins and imports).
    pub fn define(&self, name: Sym, value: Value) {
        *self.cell(name).value.borrow_mut() = value;
    }

    pub fn lookup(&self, name: Sym) -> Option<Value> {
        let own = self
            .globals
            .borrow()
            .get(&name)
            .map(|c| c.value.borrow().clone());
        match own {
            Some(Value::Undefined) | None => self.builtins.as_ref().and_then(|b| b.lookup(name)),
            v => v,
        }
    }

    pub fn macro_named(&self, name: Sym) -> Option<Rc<Macro>> {
        if let Some(m) = self.macros.borrow().get(&name) {
            return Some(m.clone());
        }
        self.builtins.as_ref().and_then(|b| b.macro_named(name))
    }

    /// Every name with a value here or in builtins (for completion and "did you mean").
    pub fn bound_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .globals
            .borrow()
            .values()
            .filter(|c| !matches!(*c.value.borrow(), Value::Undefined))
            .map(|c| c.name.name().to_string())
            .collect();
        names.extend(self.macros.borrow().keys().map(|k| k.name().to_string()));
        if let Some(b) = &self.builtins {
            names.extend(b.bound_names());
        }
        names.extend(super::compiler::SPECIAL_FORMS.iter().map(|s| s.to_string()));
        names.sort();
        names.dedup();
        names
    }

    /// The names another module gets from `require`.
    pub fn exported(&self) -> Vec<Sym> {
        match &*self.exports.borrow() {
            Some(list) => list.clone(),
            None => {
                let mut all = self.defined.borrow().clone();
                all.extend(self.macros.borrow().keys().copied());
                all
            }
        }
    }

    /// Directory relative requires resolve against.
    pub fn dir(&self) -> PathBuf {
        self.path
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default())
    }
}

/// All loaded modules plus the builtins root.
pub struct ModuleRegistry {
    pub builtins: Rc<Module>,
    /// Set once the prelude has been evaluated into `builtins` (a registry sharing an
    /// already prepared builtins module skips it).
    pub prelude_loaded: std::cell::Cell<bool>,
    pub loaded: RefCell<HashMap<PathBuf, Rc<Module>>>,
    pub loading: RefCell<Vec<PathBuf>>,
}

impl Default for ModuleRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl ModuleRegistry {
    /// A registry whose builtins are every table (the language's and the native layers').
    pub fn new() -> ModuleRegistry {
        ModuleRegistry::with_tables(&super::builtins::tables())
    }

    /// A registry whose builtins are only `tables`.
    pub fn with_tables(
        tables: &[(&'static str, &'static [super::value::Primitive])],
    ) -> ModuleRegistry {
        let builtins = Rc::new(Module {
            name: "builtins".into(),
            path: None,
            globals: RefCell::new(HashMap::new()),
            macros: RefCell::new(HashMap::new()),
            exports: RefCell::new(None),
            defined: RefCell::new(Vec::new()),
            imported: RefCell::new(HashSet::new()),
            builtins: None,
        });
        super::builtins::install(&builtins, tables);
        ModuleRegistry {
            builtins,
            prelude_loaded: std::cell::Cell::new(false),
            loaded: RefCell::new(HashMap::new()),
            loading: RefCell::new(Vec::new()),
        }
    }

    /// A registry over an existing builtins module (prelude already in it), with no
    /// modules loaded yet.
    pub fn sharing(builtins: Rc<Module>) -> ModuleRegistry {
        ModuleRegistry {
            builtins,
            prelude_loaded: std::cell::Cell::new(true),
            loaded: RefCell::new(HashMap::new()),
            loading: RefCell::new(Vec::new()),
        }
    }

    pub fn new_module(&self, name: &str, path: Option<PathBuf>) -> Rc<Module> {
        Rc::new(Module {
            name: name.to_string(),
            path,
            globals: RefCell::new(HashMap::new()),
            macros: RefCell::new(HashMap::new()),
            exports: RefCell::new(None),
            defined: RefCell::new(Vec::new()),
            imported: RefCell::new(HashSet::new()),
            builtins: Some(self.builtins.clone()),
        })
    }
}

/// Standard library modules compiled into the binary, so `xln` works from any directory.
pub const STDLIB: &[(&str, &str)] = &[
    ("prelude", include_str!("../../stdlib/prelude.xln")),
    ("test", include_str!("../../stdlib/test.xln")),
    ("subcontract", include_str!("../../stdlib/subcontract.xln")),
    ("htlc", include_str!("../../stdlib/htlc.xln")),
    ("limit-order", include_str!("../../stdlib/limit-order.xln")),
    ("network", include_str!("../../stdlib/network.xln")),
    ("scenario", include_str!("../../stdlib/scenario.xln")),
];

/// Finds a stdlib module's source: `XLN_STDLIB` dir first (for development, unless
/// `embedded_only`, as in the sandbox), then embedded.
pub fn stdlib_source(name: &str, embedded_only: bool) -> Option<(String, String)> {
    if let Some(dir) = std::env::var_os("XLN_STDLIB").filter(|_| !embedded_only) {
        let path = Path::new(&dir).join(format!("{name}.xln"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Some((path.display().to_string(), text));
        }
    }
    STDLIB
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| (format!("stdlib/{n}.xln"), text.to_string()))
}
