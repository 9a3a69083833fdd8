//! Validator key files: one file per validator, `KEYS/<address>.key`, holding the secret
//! key as `0x`-hex on one line, readable by the owner only (mode 0600). A node refuses to
//! start with a key file (or key directory) that others may read: a leaked validator key
//! signs for the entity. Fresh keys come from the operating system's randomness.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::crypto::{Address, SecretKey};
use crate::host::Signer;

/// Why keys cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The file or directory could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// Group or others may access the file: refused.
    #[error("{path}: mode {mode:o} lets others read it; a key file must be readable by its owner only (chmod 600, and 700 for its directory)")]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold a key, or holds another validator's.
    #[error("{path}: {reason}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io(path: &Path, e: std::io::Error) -> KeyError {
    KeyError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The file of `validator`'s key in `dir`.
pub fn key_path(dir: &Path, validator: &Address) -> PathBuf {
    dir.join(format!("{}.key", validator.to_checksum()))
}

fn check_private(path: &Path) -> Result<(), KeyError> {
    let mode = fs::metadata(path)
        .map_err(|e| io(path, e))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// A secret key from the operating system's randomness.
///
/// # Errors
/// [`KeyError::Io`] if `/dev/urandom` cannot be read.
pub fn fresh_key() -> Result<SecretKey, KeyError> {
    let path = Path::new("/dev/urandom");
    loop {
        let mut bytes = [0u8; 32];
        fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| io(path, e))?;
        // Out-of-range scalars (probability 2^-128) are drawn again.
        if let Ok(key) = SecretKey::from_bytes(&bytes) {
            return Ok(key);
        }
    }
}

/// Writes `key` to its file in `dir` (created with mode 0700), with mode 0600.
///
/// # Errors
/// [`KeyError::Io`]; an existing file is not overwritten.
pub fn write_key(dir: &Path, key: &SecretKey) -> Result<PathBuf, KeyError> {
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))?;
    let path = key_path(dir, &key.address());
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    let text = format!("{}\n", crate::crypto::readable::to_hex(&key.to_bytes()));
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io(&path, e))?;
    Ok(path)
}

/// Reads `validator`'s key from `dir`, refusing files others can read.
///
/// # Errors
/// [`KeyError::TooOpen`], [`KeyError::Bad`] (not a key, or another address's), [`KeyError::Io`].
pub fn read_key(dir: &Path, validator: &Address) -> Result<SecretKey, KeyError> {
    check_private(dir)?;
    let path = key_path(dir, validator);
    check_private(&path)?;
    let text = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    let bad = |reason: String| KeyError::Bad {
        path: path.clone(),
        reason,
    };
    let bytes = crate::crypto::readable::from_hex(text.trim())
        .map_err(|e| bad(format!("not a 0x-hex secret key: {e}")))?;
    let key = SecretKey::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
    if key.address() != *validator {
        return Err(bad(format!(
            "holds the key of {}, not of {validator}",
            key.address()
        )));
    }
    Ok(key)
}

/// The validator keys a node holds, by address.
#[derive(Default)]
pub struct KeyRing {
    keys: BTreeMap<Address, SecretKey>,
}

impl KeyRing {
    /// Reads the keys of `validators` from `dir`.
    ///
    /// # Errors
    /// The first [`KeyError`].
    pub fn read(
        dir: &Path,
        validators: impl IntoIterator<Item = Address>,
    ) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        for v in validators {
            keys.insert(v, read_key(dir, &v)?);
        }
        Ok(KeyRing { keys })
    }

    /// Reads every key file in `dir` (for replaying a node's log).
    ///
    /// # Errors
    /// The first [`KeyError`].
    pub fn read_dir(dir: &Path) -> Result<Self, KeyError> {
        check_private(dir)?;
        let mut validators = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(a) = name
                .strip_suffix(".key")
                .and_then(|a| Address::from_hex(a).ok())
            {
                validators.push(a);
            }
        }
        Self::read(dir, validators)
    }

    /// The addresses held.
    pub fn addresses(&self) -> Vec<Address> {
        self.keys.keys().copied().collect()
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &SecretKey> {
        self.keys.values()
    }
}

impl Signer for KeyRing {
    fn key(&self, validator: &Address) -> Option<&SecretKey> {
        self.keys.get(validator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_open_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("xln-keys-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let key = fresh_key().unwrap();
        let path = write_key(&dir, &key).unwrap();
        assert_eq!(
            read_key(&dir, &key.address()).unwrap().address(),
            key.address()
        );
        assert!(write_key(&dir, &key).is_err(), "never overwrites a key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read_key(&dir, &key.address()),
            Err(KeyError::TooOpen { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let other = fresh_key().unwrap();
        fs::copy(&path, key_path(&dir, &other.address())).unwrap();
        fs::set_permissions(
            key_path(&dir, &other.address()),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert!(matches!(
            read_key(&dir, &other.address()),
            Err(KeyError::Bad { .. })
        ));
        let _ = fs::remove_dir_all(&dir);
    }
}
