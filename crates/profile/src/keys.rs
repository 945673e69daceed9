//! Stream keys in the OS keychain (Secret Service, macOS Keychain, Windows Credential
//! Manager). There is no fallback to a file: without a keychain, key commands fail and say
//! how to get one.

use keyring::Entry;

/// Keychain failures, worded for a streamer. Never contains a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no stream key named '{0}' in the OS keychain; add it with `marquee key set {0}`")]
    Missing(String),
    #[error(
        "the OS keychain is not reachable ({0}). On Linux start a Secret Service (gnome-keyring or KWallet) in a desktop session, or run under `dbus-run-session` with `gnome-keyring-daemon --unlock`; Marquee never stores keys in a file"
    )]
    Unavailable(String),
    #[error("the OS keychain is locked ({0}); unlock it and try again")]
    Locked(String),
    #[error("invalid key name '{0}': use letters, digits, '-', '_' or '.' (at most 64)")]
    BadName(String),
    #[error(
        "the stream key is empty; pipe it in, e.g. `printf %s \"$KEY\" | marquee key set NAME`"
    )]
    Empty,
    #[error("keychain error: {0}")]
    Other(String),
}

fn classify(e: keyring::Error, name: &str) -> KeyError {
    match e {
        keyring::Error::NoEntry => KeyError::Missing(name.to_string()),
        keyring::Error::NoDefaultStore => {
            KeyError::Unavailable("no default credential store".into())
        }
        keyring::Error::NoStorageAccess(p) => KeyError::Locked(p.to_string()),
        keyring::Error::PlatformFailure(p) => KeyError::Unavailable(p.to_string()),
        other => KeyError::Other(other.to_string()),
    }
}

/// Stream keys under one keychain service name.
#[derive(Debug, Clone)]
pub struct Keychain {
    service: String,
}

impl Default for Keychain {
    fn default() -> Self {
        Self::new("marquee")
    }
}

/// The entry holding the list of key names (names are not secret; values are).
const INDEX: &str = "__index__";

impl Keychain {
    pub fn new(service: &str) -> Self {
        Self {
            service: service.to_string(),
        }
    }

    fn entry(&self, name: &str) -> Result<Entry, KeyError> {
        Entry::new(&self.service, name).map_err(|e| classify(e, name))
    }

    fn check_name(name: &str) -> Result<(), KeyError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name != INDEX
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok {
            Ok(())
        } else {
            Err(KeyError::BadName(name.to_string()))
        }
    }

    /// Stores (or replaces) a key. Surrounding whitespace (a trailing newline) is trimmed.
    pub fn set(&self, name: &str, key: &str) -> Result<(), KeyError> {
        Self::check_name(name)?;
        let key = key.trim();
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        self.entry(name)?
            .set_password(key)
            .map_err(|e| classify(e, name))?;
        let mut names = self.list()?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
            names.sort();
            self.write_index(&names)?;
        }
        Ok(())
    }

    /// Reads a key (only to connect; never print it).
    pub fn get(&self, name: &str) -> Result<String, KeyError> {
        Self::check_name(name)?;
        self.entry(name)?
            .get_password()
            .map_err(|e| classify(e, name))
    }

    /// Deletes a key.
    pub fn delete(&self, name: &str) -> Result<(), KeyError> {
        Self::check_name(name)?;
        self.entry(name)?
            .delete_credential()
            .map_err(|e| classify(e, name))?;
        let names: Vec<String> = self.list()?.into_iter().filter(|n| n != name).collect();
        self.write_index(&names)
    }

    /// Names of stored keys.
    pub fn list(&self) -> Result<Vec<String>, KeyError> {
        match self.entry(INDEX)?.get_password() {
            Ok(s) => Ok(serde_json::from_str(&s).unwrap_or_default()),
            Err(keyring::Error::NoEntry) => Ok(Vec::new()),
            Err(e) => Err(classify(e, INDEX)),
        }
    }

    fn write_index(&self, names: &[String]) -> Result<(), KeyError> {
        let json = serde_json::to_string(names).map_err(|e| KeyError::Other(e.to_string()))?;
        self.entry(INDEX)?
            .set_password(&json)
            .map_err(|e| classify(e, INDEX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_validated_before_touching_the_keychain() {
        assert!(matches!(Keychain::check_name("main"), Ok(())));
        assert!(matches!(
            Keychain::check_name("a/b"),
            Err(KeyError::BadName(_))
        ));
        assert!(matches!(
            Keychain::check_name(INDEX),
            Err(KeyError::BadName(_))
        ));
        assert!(matches!(
            Keychain::check_name(""),
            Err(KeyError::BadName(_))
        ));
    }
}
