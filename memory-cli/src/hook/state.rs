//! What the hooks of one agent session remember between events: the open episode, the evidence of its turn, the
//! project, and the ids already injected. One JSON file per session, read and written under a lock on a file
//! beside it, so hooks of one session that run at once (parallel tool calls) take turns.

use std::{
    fs::{self, File},
    io::Write as _,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use memory_core::{EpisodeId, capture::Evidence};
use serde::{Deserialize, Serialize};

/// Where the project is and what it is written in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Its name: the git root's directory name, else the working directory's.
    pub name: String,
    /// The key session imports use for it: the working directory's last name.
    pub import_key: String,
    pub language: Option<String>,
    pub framework: Option<String>,
}

/// One session's state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Session {
    pub project: Option<Project>,
    /// The episode of the turn in progress.
    pub episode: Option<EpisodeId>,
    /// What its steps showed.
    pub evidence: Evidence,
    /// Ids of the items already given to the agent in this session.
    pub injected: Vec<String>,
    /// Whether the session has been linked to an episode for `import sessions`.
    pub linked: bool,
}

/// A session's state, locked until dropped.
pub struct Locked {
    pub session: Session,
    path: PathBuf,
    _lock: File,
}

impl Locked {
    /// Locks and reads the state of `session_id` in `dir` (a fresh one if there is none or it is unreadable).
    pub fn open(dir: &Path, session_id: &str) -> anyhow::Result<Locked> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let name = file_name(session_id);
        let lock = File::create(dir.join(format!("{name}.lock")))?;
        lock.lock()?;
        let path = dir.join(format!("{name}.json"));
        let session = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!("{}: {err}; starting afresh", path.display());
                Session::default()
            }),
            Err(_) => Session::default(),
        };
        Ok(Locked {
            session,
            path,
            _lock: lock,
        })
    }

    /// Writes the state (whole, through a renamed temporary file, so a kill leaves the old or the new one).
    pub fn save(&self) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(&serde_json::to_vec(&self.session)?)?;
        fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    /// Removes the state (the session ended).
    pub fn remove(self) -> anyhow::Result<()> {
        match fs::remove_file(&self.path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => {
                let _ = fs::remove_file(self.path.with_extension("lock"));
                Ok(())
            }
        }
    }
}

/// A session id as a file name: its safe characters, or its hash when it has others or is long.
fn file_name(session_id: &str) -> String {
    let safe = session_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if safe && !session_id.is_empty() && session_id.len() <= 100 {
        return session_id.to_string();
    }
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(session_id.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
