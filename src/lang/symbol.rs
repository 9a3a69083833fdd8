//! Interned symbols: a `Sym` is a small copyable id, so `eq?` on symbols and environment
//! lookups are integer compares. Gensyms are unique ids that no reader input can name.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

/// An interned symbol (or keyword name). Equal names intern to equal ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sym(u32);

#[derive(Default)]
struct Interner {
    names: Vec<std::rc::Rc<str>>,
    ids: HashMap<std::rc::Rc<str>, u32>,
    gensym_counter: u64,
    /// Alias id -> (the identifier it stands for, the scope depth it resolves from).
    aliases: HashMap<u32, (Sym, u32)>,
    /// (identifier, depth) -> its alias, so each pair has one alias.
    alias_ids: HashMap<(u32, u32), u32>,
}

thread_local! {
    static INTERNER: RefCell<Interner> = RefCell::new(Interner::default());
}

impl Sym {
    /// Interns `name`, returning the same id for the same text.
    pub fn new(name: &str) -> Sym {
        INTERNER.with(|i| {
            let mut i = i.borrow_mut();
            if let Some(&id) = i.ids.get(name) {
                return Sym(id);
            }
            let id = i.names.len() as u32;
            let rc: std::rc::Rc<str> = name.into();
            i.names.push(rc.clone());
            i.ids.insert(rc, id);
            Sym(id)
        })
    }

    /// A fresh symbol that prints like `base` but is distinct from every interned symbol;
    /// macro expansion uses it so introduced bindings cannot capture user names.
    pub fn gensym(base: &str) -> Sym {
        INTERNER.with(|i| {
            let mut i = i.borrow_mut();
            i.gensym_counter += 1;
            let id = i.names.len() as u32;
            let name = format!("{base}.{}", i.gensym_counter);
            i.names.push(name.into());
            Sym(id)
        })
    }

    /// A fresh uninterned symbol named exactly `name` (the `gensym` builtin numbers its
    /// names per interpreter, so they are the same on every run).
    pub fn gensym_named(name: &str) -> Sym {
        INTERNER.with(|i| {
            let mut i = i.borrow_mut();
            let id = i.names.len() as u32;
            i.names.push(name.into());
            Sym(id)
        })
    }

    /// The identifier a macro template introduces for `original`: it prints like
    /// `original`, but the compiler resolves it as `original` would be resolved where the
    /// macro was defined (in the outermost `depth` local scopes, else globally), so the
    /// use site's local variables cannot capture it (hygiene for free identifiers).
    pub fn alias(original: Sym, depth: usize) -> Sym {
        let depth = depth as u32;
        INTERNER.with(|i| {
            let mut i = i.borrow_mut();
            if let Some(&id) = i.alias_ids.get(&(original.0, depth)) {
                return Sym(id);
            }
            let id = i.names.len() as u32;
            let name = i.names[original.0 as usize].clone();
            i.names.push(name);
            i.aliases.insert(id, (original, depth));
            i.alias_ids.insert((original.0, depth), id);
            Sym(id)
        })
    }

    /// For an alias: the identifier it stands for and the depth it resolves from.
    pub fn alias_of(self) -> Option<(Sym, usize)> {
        INTERNER.with(|i| {
            i.borrow()
                .aliases
                .get(&self.0)
                .map(|(s, d)| (*s, *d as usize))
        })
    }

    /// The plain identifier behind any chain of aliases (itself if it is none).
    pub fn unalias(self) -> Sym {
        let mut s = self;
        while let Some((orig, _)) = s.alias_of() {
            s = orig;
        }
        s
    }

    /// The symbol's text.
    pub fn name(self) -> std::rc::Rc<str> {
        INTERNER.with(|i| i.borrow().names[self.0 as usize].clone())
    }

    /// True when this symbol was made by `gensym` (it has no entry in the name table).
    pub fn is_gensym(self) -> bool {
        INTERNER.with(|i| {
            let i = i.borrow();
            let name = &i.names[self.0 as usize];
            i.ids.get(name).copied() != Some(self.0)
        })
    }

    /// The raw id, used only for a stable order between equal names (gensyms).
    pub fn id(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}

impl PartialOrd for Sym {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Symbols order by name (so printed maps and sets are deterministic), ties by id.
impl Ord for Sym {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.0 == other.0 {
            return std::cmp::Ordering::Equal;
        }
        self.name().cmp(&other.name()).then(self.0.cmp(&other.0))
    }
}
