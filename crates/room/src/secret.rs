//! The room server's token secret, kept in a file (created once, mode 0600).

use crate::error::RoomError;
use crate::token;
use std::path::Path;

/// Read the secret file, or create it with 32 random bytes (hex) if it does not exist.
pub fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, RoomError> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let s = s.trim().as_bytes().to_vec();
            if s.len() < 16 {
                return Err(token::TokenError::WeakSecret.into());
            }
            Ok(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = random_hex(32)?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            use std::io::Write;
            let mut f = opts.open(path)?;
            f.write_all(secret.as_bytes())?;
            f.write_all(b"\n")?;
            tracing::info!(path = %path.display(), "created a new room secret");
            Ok(secret.into_bytes())
        }
        Err(e) => Err(e.into()),
    }
}

/// `n` random bytes from the OS, as hex.
pub fn random_hex(n: usize) -> Result<String, RoomError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| RoomError::Io(std::io::Error::other(e.to_string())))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_secret_file_is_created_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("mq-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.secret");
        let _ = std::fs::remove_file(&path);
        let first = load_or_create_secret(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(
            load_or_create_secret(&path).is_err(),
            "a weak secret is refused"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
