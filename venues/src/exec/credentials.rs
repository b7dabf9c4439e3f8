//! Venue credentials: only from environment variables or from a file that only its owner can read.
//! Never logged, never printed (`Debug` redacts them), never read from a configuration file.

use std::path::{Path, PathBuf};

/// An API key and its secret. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    key: String,
    secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// Why credentials could not be loaded. Messages name the variable or file, never the values.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// An environment variable is not set (or empty, or not UTF-8).
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file can be read or written by group or others.
    #[error("{path}: readable by others (mode {mode:o}); refused — chmod 600 it")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file lacks `key=` or `secret=`.
    #[error("{path}: line `{field}=` missing")]
    MissingField {
        /// The file.
        path: PathBuf,
        /// `key` or `secret`.
        field: &'static str,
    },
}

impl Credentials {
    /// Credentials held in memory (tests, the simulator).
    #[must_use]
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            secret: secret.into(),
        }
    }

    /// From `{prefix}_API_KEY` and `{prefix}_API_SECRET` (e.g. `BALLAST_BINANCE`).
    ///
    /// # Errors
    /// A variable missing or empty, named.
    pub fn from_env(prefix: &str) -> Result<Self, CredentialsError> {
        let get = |suffix: &str| {
            let name = format!("{prefix}_{suffix}");
            match std::env::var(&name) {
                Ok(v) if !v.is_empty() => Ok(v),
                _ => Err(CredentialsError::MissingEnv(name)),
            }
        };
        Ok(Self {
            key: get("API_KEY")?,
            secret: get("API_SECRET")?,
        })
    }

    /// From a file of `key=...` and `secret=...` lines (blank lines and `#` comments allowed) that
    /// neither group nor others may read or write.
    ///
    /// # Errors
    /// The file unreadable, too open (mode & 0o077 ≠ 0), or a line missing.
    pub fn from_file(path: &Path) -> Result<Self, CredentialsError> {
        let io = |source| CredentialsError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CredentialsError::Permissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(io)?;
        let mut key = None;
        let mut secret = None;
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("key=") {
                key = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("secret=") {
                secret = Some(v.trim().to_owned());
            }
        }
        let missing = |field| CredentialsError::MissingField {
            path: path.to_owned(),
            field,
        };
        Ok(Self {
            key: key
                .filter(|k| !k.is_empty())
                .ok_or_else(|| missing("key"))?,
            secret: secret
                .filter(|k| !k.is_empty())
                .ok_or_else(|| missing("secret"))?,
        })
    }

    /// The API key (or Deribit client id).
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The secret. Hand it to a signer; never print it.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_modes() {
        let dir = std::env::temp_dir().join(format!("ballast-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("creds");
        std::fs::write(&p, "# test\nkey=abc\nsecret=s3cr3t\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = Credentials::from_file(&p).unwrap_err();
            assert!(
                matches!(e, CredentialsError::Permissions { mode: 0o644, .. }),
                "{e}"
            );
            assert!(!e.to_string().contains("s3cr3t"));
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let c = Credentials::from_file(&p).unwrap();
        assert_eq!((c.key(), c.secret()), ("abc", "s3cr3t"));
        assert_eq!(format!("{c:?}"), "Credentials(<redacted>)");
        std::fs::write(&p, "key=abc\n").unwrap();
        assert!(matches!(
            Credentials::from_file(&p),
            Err(CredentialsError::MissingField {
                field: "secret",
                ..
            })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_missing_named() {
        let e = Credentials::from_env("BALLAST_TEST_NO_SUCH_PREFIX").unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable BALLAST_TEST_NO_SUCH_PREFIX_API_KEY is not set"
        );
    }
}
