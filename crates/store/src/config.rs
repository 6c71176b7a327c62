//! Which backend holds the state, chosen by a URL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{CodeStore, FsBlobs, SqliteStore, StoreError, Stores};

/// A storage backend and where it lives: `sqlite:<path>` today (a file path, relative to the
/// working directory unless absolute). Without a URL, [`StoreConfig::in_data_dir`] is the default:
/// `sqlite:<data-dir>/nubo.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// One SQLite file in WAL mode.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
}

/// The schemes this build understands, for error messages.
const SCHEMES: &str = "sqlite:<path>";

impl StoreConfig {
    /// The default: SQLite at `<data_dir>/nubo.db`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::Sqlite {
            path: data_dir.join("nubo.db"),
        }
    }

    /// Parses a store URL.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(StoreError::Config(format!(
                "store URL {url:?} has no scheme; expected {SCHEMES}"
            )));
        };
        match scheme {
            "sqlite" => {
                // `sqlite:///abs/path` and `sqlite://rel` are common spellings of the same thing.
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(StoreError::Config(format!(
                        "store URL {url:?} names no file; expected {SCHEMES}"
                    )));
                }
                Ok(Self::Sqlite {
                    path: PathBuf::from(path),
                })
            }
            other => Err(StoreError::Config(format!(
                "unknown store URL scheme {other:?} in {url:?}; this build supports {SCHEMES}"
            ))),
        }
    }

    /// One line for start-up output: what the store is and where.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("SQLite (WAL) at {}", path.display()),
        }
    }

    /// Opens the backend (migrating an older schema once) with blobs under `data_dir`.
    pub async fn open(&self, data_dir: &Path) -> Result<Stores, StoreError> {
        match self {
            Self::Sqlite { path } => {
                let path = path.clone();
                let store = crate::blocking::run(move || SqliteStore::open_file(&path)).await?;
                let store = Arc::new(store);
                let blobs_dir = CodeStore::directory(data_dir);
                let blobs = crate::blocking::run(move || FsBlobs::open(&blobs_dir, ".zip")).await?;
                let objects_dir = data_dir.join("objects");
                let object_blobs =
                    crate::blocking::run(move || FsBlobs::open(&objects_dir, "")).await?;
                Ok(Stores {
                    documents: store.clone(),
                    queues: store.clone(),
                    logs: store.clone(),
                    tables: store,
                    blobs: Arc::new(blobs),
                    object_blobs: Arc::new(object_blobs),
                })
            }
        }
    }
}

impl std::str::FromStr for StoreConfig {
    type Err = StoreError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::from_url(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_backend_or_fail_clearly() {
        assert_eq!(
            StoreConfig::from_url("sqlite:/var/lib/nubo/state.db").unwrap(),
            StoreConfig::Sqlite {
                path: "/var/lib/nubo/state.db".into()
            }
        );
        assert_eq!(
            StoreConfig::from_url("sqlite:///abs.db").unwrap(),
            StoreConfig::Sqlite {
                path: "/abs.db".into()
            }
        );
        assert_eq!(
            StoreConfig::from_url("sqlite:rel/x.db").unwrap(),
            StoreConfig::Sqlite {
                path: "rel/x.db".into()
            }
        );
        for bad in ["postgres://db/nubo", "nubo.db", "sqlite:"] {
            let message = StoreConfig::from_url(bad).unwrap_err().to_string();
            assert!(message.contains("sqlite:<path>"), "{bad}: {message}");
        }
        assert_eq!(
            StoreConfig::in_data_dir(Path::new("/d")).describe(),
            "SQLite (WAL) at /d/nubo.db"
        );
    }
}
