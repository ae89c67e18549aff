//! Placeholder until the identity module lands (replaced by the `identity` branch).

use std::path::{Path, PathBuf};

/// Kind.
#[derive(Debug, Clone, Copy)]
pub enum IdentityKind {
    /// Not git.
    NotGit,
}
impl IdentityKind {
    /// Name.
    pub fn as_str(self) -> &'static str {
        "not-git"
    }
}
/// Identity.
#[derive(Debug, Clone)]
pub struct RepoIdentity {
    /// Path.
    pub canonical_path: PathBuf,
    /// Kind.
    pub kind: IdentityKind,
}
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("identity")]
pub struct IdentityError;
impl RepoIdentity {
    /// Resolve.
    pub fn resolve(cwd: &Path) -> Result<Self, IdentityError> {
        Ok(RepoIdentity { canonical_path: cwd.canonicalize().map_err(|_| IdentityError)?, kind: IdentityKind::NotGit })
    }
    /// Id.
    pub fn project_id(&self) -> String {
        "p_0".into()
    }
    /// Name.
    pub fn display_name(&self) -> String {
        "x".into()
    }
}
