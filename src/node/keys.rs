//! Validator key files: one file per validator, `KEYS/<address>.key`, holding the secret
//! key as `0x`-hex on one line, readable by the owner only (mode 0600). A node refuses to
//! start with a key file (or key directory) that others may read: a leaked validator key
//! signs for the entity. Fresh keys come from the operating system's randomness.
//!
//! Beside them, `KEYS/<entity id hex>.onion` holds the onion secret an entity's validators
//! share (routed payments' onion layers are encrypted to it), in the same format and under
//! the same permission rule; `xln net up` writes the same secret to every node hosting a
//! validator of the entity. A node without it runs the entity without routed payments.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::crypto::onion::OnionSecret;
use crate::crypto::{Address, SecretKey};
use crate::entity::EntityId;
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

/// The file of `entity`'s onion secret in `dir`.
pub fn onion_path(dir: &Path, entity: &EntityId) -> PathBuf {
    dir.join(format!(
        "{}.onion",
        crate::crypto::readable::to_hex(entity).trim_start_matches("0x")
    ))
}

/// A fresh onion secret from the operating system's randomness.
///
/// # Errors
/// [`KeyError::Io`] if `/dev/urandom` cannot be read.
pub fn fresh_onion() -> Result<OnionSecret, KeyError> {
    let path = Path::new("/dev/urandom");
    let mut seed = [0u8; 32];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|e| io(path, e))?;
    Ok(OnionSecret::from_seed(&seed))
}

/// Writes `entity`'s onion secret to `dir` (mode 0600, the directory 0700); an existing
/// file is left as it is if it holds the same secret.
///
/// # Errors
/// [`KeyError::Io`]; [`KeyError::Bad`] if the file holds another secret.
pub fn write_onion(
    dir: &Path,
    entity: &EntityId,
    secret: &OnionSecret,
) -> Result<PathBuf, KeyError> {
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))?;
    let path = onion_path(dir, entity);
    if path.exists() {
        return match read_onion(dir, entity)? {
            Some(held) if held.0 == secret.0 => Ok(path),
            _ => Err(KeyError::Bad {
                path,
                reason: "holds another onion secret; not overwritten".into(),
            }),
        };
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    let text = format!("{}\n", crate::crypto::readable::to_hex(&secret.0));
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io(&path, e))?;
    Ok(path)
}

/// Reads `entity`'s onion secret from `dir`, if the file exists, refusing files others can
/// read.
///
/// # Errors
/// [`KeyError::TooOpen`], [`KeyError::Bad`], [`KeyError::Io`].
pub fn read_onion(dir: &Path, entity: &EntityId) -> Result<Option<OnionSecret>, KeyError> {
    let path = onion_path(dir, entity);
    if !path.exists() {
        return Ok(None);
    }
    check_private(dir)?;
    check_private(&path)?;
    let text = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    let bytes = crate::crypto::readable::from_hex(text.trim()).map_err(|e| KeyError::Bad {
        path: path.clone(),
        reason: format!("not a 0x-hex onion secret: {e}"),
    })?;
    let secret = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::Bad {
        path: path.clone(),
        reason: "an onion secret is 32 bytes".into(),
    })?;
    Ok(Some(OnionSecret(secret)))
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

/// The validator keys a node holds, by address, and the onion secrets of its entities.
#[derive(Default)]
pub struct KeyRing {
    keys: BTreeMap<Address, SecretKey>,
    onions: BTreeMap<EntityId, OnionSecret>,
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
        Ok(KeyRing {
            keys,
            onions: BTreeMap::new(),
        })
    }

    /// Also reads the onion secrets of `entities` that `dir` holds (a missing file means
    /// the entity runs without routed payments).
    ///
    /// # Errors
    /// The first [`KeyError`] of a file that exists.
    pub fn with_onions(
        mut self,
        dir: &Path,
        entities: impl IntoIterator<Item = EntityId>,
    ) -> Result<Self, KeyError> {
        for e in entities {
            if let Some(secret) = read_onion(dir, &e)? {
                self.onions.insert(e, secret);
            }
        }
        Ok(self)
    }

    /// Reads every key file in `dir` (for replaying a node's log).
    ///
    /// # Errors
    /// The first [`KeyError`].
    pub fn read_dir(dir: &Path) -> Result<Self, KeyError> {
        check_private(dir)?;
        let mut validators = Vec::new();
        let mut entities = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(a) = name
                .strip_suffix(".key")
                .and_then(|a| Address::from_hex(a).ok())
            {
                validators.push(a);
            }
            if let Some(e) = name
                .strip_suffix(".onion")
                .and_then(|e| crate::crypto::readable::from_hex(&format!("0x{e}")).ok())
                .and_then(|e| <[u8; 32]>::try_from(e.as_slice()).ok())
            {
                entities.push(e);
            }
        }
        Self::read(dir, validators)?.with_onions(dir, entities)
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
    fn onion_secret(&self, entity: &EntityId) -> Option<&OnionSecret> {
        self.onions.get(entity)
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
        let entity = [7u8; 32];
        let onion = fresh_onion().unwrap();
        assert_eq!(read_onion(&dir, &entity).unwrap(), None);
        write_onion(&dir, &entity, &onion).unwrap();
        write_onion(&dir, &entity, &onion).expect("the same secret again is fine");
        assert!(write_onion(&dir, &entity, &fresh_onion().unwrap()).is_err());
        assert_eq!(
            read_onion(&dir, &entity).unwrap().map(|o| o.0),
            Some(onion.0)
        );
        fs::set_permissions(onion_path(&dir, &entity), fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            read_onion(&dir, &entity),
            Err(KeyError::TooOpen { .. })
        ));
        let _ = fs::remove_dir_all(&dir);
    }
}
