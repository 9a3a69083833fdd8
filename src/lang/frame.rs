//! Runtime environment frames: the slots of one procedure call, `let` or match clause, and
//! the frame they close over. A frame of up to `INLINE_SLOTS` slots is one allocation (the
//! slots live inside it), which most calls are.

use std::cell::RefCell;
use std::rc::Rc;

use super::value::Value;

/// Frames this small keep their slots inline.
pub const INLINE_SLOTS: usize = 4;

/// A frame's slots: inline for small frames, on the heap otherwise. Derefs to a slice.
pub enum Slots {
    Inline(u8, [Value; INLINE_SLOTS]),
    Heap(Vec<Value>),
}

impl Slots {
    /// `size` slots, each `Value::Undefined` (not yet given a value).
    pub fn new(size: usize) -> Slots {
        if size <= INLINE_SLOTS {
            Slots::Inline(
                size as u8,
                [
                    Value::Undefined,
                    Value::Undefined,
                    Value::Undefined,
                    Value::Undefined,
                ],
            )
        } else {
            Slots::Heap(vec![Value::Undefined; size])
        }
    }
}

impl std::ops::Deref for Slots {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        match self {
            Slots::Inline(n, a) => &a[..*n as usize],
            Slots::Heap(v) => v,
        }
    }
}

impl std::ops::DerefMut for Slots {
    fn deref_mut(&mut self) -> &mut [Value] {
        match self {
            Slots::Inline(n, a) => &mut a[..*n as usize],
            Slots::Heap(v) => v,
        }
    }
}

/// A runtime environment frame: slots for one lambda call, `let`, or match clause.
pub struct Frame {
    pub slots: RefCell<Slots>,
    pub parent: Option<Rc<Frame>>,
}

impl Frame {
    pub fn root() -> Rc<Frame> {
        Rc::new(Frame {
            slots: RefCell::new(Slots::new(0)),
            parent: None,
        })
    }
    pub fn new(size: usize, parent: &Rc<Frame>) -> Rc<Frame> {
        Rc::new(Frame {
            slots: RefCell::new(Slots::new(size)),
            parent: Some(parent.clone()),
        })
    }
    /// Makes this frame a fresh frame of `size` slots under `parent` holding `values`
    /// (reusing its allocation for a tail call when nothing else holds it). False when the
    /// size does not fit the allocation.
    #[inline]
    pub fn reuse(&mut self, size: usize, parent: &Rc<Frame>, values: &mut [Value]) -> bool {
        let slots = self.slots.get_mut();
        match slots {
            Slots::Inline(n, a) if size <= INLINE_SLOTS => {
                *n = size as u8;
                for (i, slot) in a.iter_mut().enumerate() {
                    *slot = match values.get_mut(i) {
                        Some(v) => std::mem::replace(v, Value::Nil),
                        None => Value::Undefined,
                    };
                }
            }
            Slots::Heap(v) if v.len() == size => {
                for (i, slot) in v.iter_mut().enumerate() {
                    *slot = match values.get_mut(i) {
                        Some(x) => std::mem::replace(x, Value::Nil),
                        None => Value::Undefined,
                    };
                }
            }
            _ => return false,
        }
        if !self.parent.as_ref().is_some_and(|p| Rc::ptr_eq(p, parent)) {
            self.parent = Some(parent.clone());
        }
        true
    }

    /// The frame `depth` levels out (0 is this one).
    #[inline]
    pub fn ancestor(self: &Rc<Frame>, depth: usize) -> &Rc<Frame> {
        let mut f = self;
        for _ in 0..depth {
            match &f.parent {
                Some(p) => f = p,
                None => break,
            }
        }
        f
    }
}

/// A long chain of frames (closures capturing closures) is freed without deep recursion:
/// when the stack runs low the parent and slots are postponed (`memory::defer_drop`).
impl Drop for Frame {
    fn drop(&mut self) {
        if super::memory::should_defer_drop() {
            if let Some(p) = self.parent.take() {
                super::memory::defer_drop(p);
            }
            let slots = std::mem::replace(&mut *self.slots.borrow_mut(), Slots::new(0));
            super::memory::defer_drop(slots);
        }
    }
}
