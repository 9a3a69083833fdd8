//! Where `display`, `write` and the console port write: the process's stdout, a capture
//! buffer (tests, `with-output-to-string`), or nowhere (the sandbox).

/// Where `display` and friends write: the process's stdout or a capture buffer.
pub struct Output {
    stack: Vec<Vec<u8>>,
    capture_all: bool,
    /// Drops everything written (the sandbox's output).
    discard: bool,
}

impl Output {
    pub fn stdout() -> Output {
        Output {
            stack: Vec::new(),
            capture_all: false,
            discard: false,
        }
    }
    /// Drops everything written, so output costs no memory (sandboxed interpreters).
    pub fn discarded() -> Output {
        Output {
            stack: Vec::new(),
            capture_all: false,
            discard: true,
        }
    }
    /// True for `Output::discarded`.
    pub fn is_discarded(&self) -> bool {
        self.discard
    }
    /// Captures everything (for tests), readable with `take_captured`.
    pub fn captured() -> Output {
        Output {
            stack: vec![Vec::new()],
            capture_all: true,
            discard: false,
        }
    }
    pub fn write_str(&mut self, s: &str) {
        if self.discard && self.stack.is_empty() {
            return;
        }
        match self.stack.last_mut() {
            Some(buf) => buf.extend_from_slice(s.as_bytes()),
            None => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(s.as_bytes());
                if s.contains('\n') {
                    let _ = out.flush();
                }
            }
        }
    }
    pub fn push_capture(&mut self) {
        self.stack.push(Vec::new());
    }
    pub fn pop_capture(&mut self) -> String {
        let min = usize::from(self.capture_all);
        if self.stack.len() > min {
            String::from_utf8_lossy(&self.stack.pop().unwrap_or_default()).into_owned()
        } else {
            String::new()
        }
    }
    pub fn take_captured(&mut self) -> String {
        match self.stack.first_mut() {
            Some(buf) if self.capture_all => {
                String::from_utf8_lossy(&std::mem::take(buf)).into_owned()
            }
            _ => String::new(),
        }
    }
    /// Bytes captured and not yet taken (counted against the memory limit by the caller).
    pub fn captured_len(&self) -> usize {
        self.stack.iter().map(Vec::len).sum()
    }
    pub fn flush(&mut self) {
        if self.discard {
            return;
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
}
