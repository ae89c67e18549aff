//! Tests for project identity, against real repositories built with the `git` CLI in tempdirs.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use pretty_assertions::assert_eq;
use rstest::rstest;
use tempfile::TempDir;

use super::*;

/// Runs `git` in `dir` isolated from the user's and system's configuration and from any
/// `GIT_*` variables of an enclosing git process (tests may run inside a git hook).
fn git<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) {
    let output = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_COMMON_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_CEILING_DIRECTORIES")
        .args([
            "-c",
            "user.name=csep test",
            "-c",
            "user.email=csep@example.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .output()
        .expect("git runs");
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    assert!(
        output.status.success(),
        "git {shown:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Creates a repository at `dir` with one commit and a `src/deep` subdirectory.
fn init_repo(dir: &Path) {
    fs::create_dir_all(dir.join("src/deep")).expect("mkdir");
    git(dir, &["init", "-q"]);
    fs::write(dir.join("src/deep/file.txt"), "x\n").expect("write");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "init"]);
}

fn resolve(path: &Path) -> RepoIdentity {
    RepoIdentity::resolve(path).expect("resolves")
}

fn canon(path: &Path) -> PathBuf {
    fs::canonicalize(path).expect("canonicalize")
}

#[rstest]
#[case::root("")]
#[case::subdirectory("src")]
#[case::deep_subdirectory("src/deep")]
fn main_worktree_and_its_subdirectories_share_the_root_key(#[case] sub: &str) {
    let tmp = TempDir::new().expect("tempdir");
    let repo = tmp.path().join("repo");
    init_repo(&repo);

    let id = resolve(&repo.join(sub));

    assert_eq!(id.canonical_path, canon(&repo));
    assert_eq!(id.kind, IdentityKind::Worktree);
    assert_eq!(id.work_dir, canon(&repo.join(sub)));
    assert_eq!(id.warning, None);
    assert_eq!(id.display_name(), "repo");
}

#[test]
fn inside_the_dot_git_directory_resolves_to_the_worktree_root() {
    let tmp = TempDir::new().expect("tempdir");
    let repo = tmp.path().join("repo");
    init_repo(&repo);

    for sub in [".git", ".git/refs/heads", ".git/logs"] {
        let id = resolve(&repo.join(sub));
        assert_eq!(id.canonical_path, canon(&repo), "from {sub}");
        assert_eq!(id.kind, IdentityKind::Worktree, "from {sub}");
    }
}

#[rstest]
#[case::worktree_root("")]
#[case::worktree_subdirectory("src/deep")]
fn linked_worktree_folds_into_the_main_worktree(#[case] sub: &str) {
    let tmp = TempDir::new().expect("tempdir");
    let repo = tmp.path().join("repo");
    init_repo(&repo);
    git(
        &repo,
        &["worktree", "add", "-q", "../linked", "-b", "feature"],
    );

    let id = resolve(&tmp.path().join("linked").join(sub));

    assert_eq!(id.canonical_path, canon(&repo));
    assert_eq!(id.kind, IdentityKind::LinkedWorktree);
    assert_eq!(id.project_id(), resolve(&repo).project_id());
}

#[test]
fn non_git_directory_is_its_own_project() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("plain");
    fs::create_dir(&dir).expect("mkdir");

    let id = resolve(&dir);

    assert_eq!(id.canonical_path, canon(&dir));
    assert_eq!(id.work_dir, canon(&dir));
    assert_eq!(id.kind, IdentityKind::NotGit);
    assert_eq!(id.warning, None);
}

#[cfg(unix)]
#[test]
fn symlink_to_a_repo_subdirectory_resolves_like_the_real_path() {
    let tmp = TempDir::new().expect("tempdir");
    let repo = tmp.path().join("repo");
    init_repo(&repo);
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(repo.join("src/deep"), &link).expect("symlink");

    let via_link = resolve(&link);
    let direct = resolve(&repo.join("src/deep"));

    assert_eq!(via_link, direct);
    assert_eq!(via_link.canonical_path, canon(&repo));
    assert_eq!(via_link.work_dir, canon(&repo.join("src/deep")));
}

#[rstest]
#[case::bare_root("")]
#[case::refs_directory("refs")]
#[case::refs_heads_directory("refs/heads")]
#[case::objects_directory("objects")]
fn bare_repository_resolves_to_the_bare_directory(#[case] sub: &str) {
    let tmp = TempDir::new().expect("tempdir");
    let bare = tmp.path().join("bare.git");
    fs::create_dir(&bare).expect("mkdir");
    git(&bare, &["init", "-q", "--bare"]);

    let id = resolve(&bare.join(sub));

    assert_eq!(id.canonical_path, canon(&bare));
    assert_eq!(id.kind, IdentityKind::Bare);
    assert_eq!(id.display_name(), "bare.git");
}

#[test]
fn worktree_of_a_bare_repository_resolves_to_the_bare_directory() {
    let tmp = TempDir::new().expect("tempdir");
    let repo = tmp.path().join("repo");
    init_repo(&repo);
    git(tmp.path(), &["clone", "-q", "--bare", "repo", "bare.git"]);
    let bare = tmp.path().join("bare.git");
    git(&bare, &["worktree", "add", "-q", "../wt", "-b", "feature"]);

    let id = resolve(&tmp.path().join("wt/src"));

    assert_eq!(id.canonical_path, canon(&bare));
    assert_eq!(id.kind, IdentityKind::LinkedWorktree);
    assert_eq!(id.project_id(), resolve(&bare).project_id());
    // The worktree's administrative directory inside the bare repository folds in too.
    let admin = resolve(&bare.join("worktrees/wt"));
    assert_eq!(admin.canonical_path, canon(&bare));
    assert_eq!(admin.kind, IdentityKind::Bare);
}

#[test]
fn submodule_resolves_to_its_module_git_dir_distinct_from_the_superproject() {
    let tmp = TempDir::new().expect("tempdir");
    let lib = tmp.path().join("lib");
    init_repo(&lib);
    let sup = tmp.path().join("super");
    init_repo(&sup);
    let lib_arg = lib.to_str().expect("tempdir path is UTF-8");
    git(&sup, &["submodule", "add", "-q", lib_arg, "vendor/lib"]);

    let module_git_dir = canon(&sup.join(".git/modules/vendor/lib"));
    for sub in ["vendor/lib", "vendor/lib/src/deep"] {
        let id = resolve(&sup.join(sub));
        assert_eq!(id.canonical_path, module_git_dir, "from {sub}");
        assert_eq!(id.kind, IdentityKind::Submodule, "from {sub}");
    }
    let from_module_dir = resolve(&module_git_dir.join("refs"));
    assert_eq!(from_module_dir.canonical_path, module_git_dir);
    assert_eq!(from_module_dir.kind, IdentityKind::Submodule);

    let superproject = resolve(&sup.join("vendor"));
    assert_eq!(superproject.canonical_path, canon(&sup));
    assert_eq!(superproject.kind, IdentityKind::Worktree);
    assert_ne!(
        superproject.project_id(),
        resolve(&sup.join("vendor/lib")).project_id()
    );
}

#[test]
fn separate_git_dir_resolves_to_the_git_dir() {
    let tmp = TempDir::new().expect("tempdir");
    let work = tmp.path().join("work");
    let store = tmp.path().join("store.git");
    fs::create_dir_all(work.join("sub")).expect("mkdir");
    let store_arg = store.to_str().expect("tempdir path is UTF-8");
    git(&work, &["init", "-q", "--separate-git-dir", store_arg]);

    let id = resolve(&work.join("sub"));

    assert_eq!(id.canonical_path, canon(&store));
    assert_eq!(id.kind, IdentityKind::SeparateGitDir);
}

#[test]
fn relative_gitdir_is_resolved_against_the_gitfile_directory() {
    let tmp = TempDir::new().expect("tempdir");
    let store = tmp.path().join("store.git");
    fs::create_dir(&store).expect("mkdir");
    git(&store, &["init", "-q", "--bare"]);
    let work = tmp.path().join("work");
    fs::create_dir_all(work.join("sub")).expect("mkdir");
    fs::write(work.join(".git"), "gitdir: ../store.git\r\n").expect("write");

    let id = resolve(&work.join("sub"));

    assert_eq!(id.canonical_path, canon(&store));
    assert_eq!(id.kind, IdentityKind::SeparateGitDir);
    assert_eq!(id.warning, None);
}

#[rstest]
#[case::gitfile_without_prefix(Some("not a gitfile\n"))]
#[case::gitfile_with_empty_path(Some("gitdir: \n"))]
#[case::gitfile_to_missing_dir(Some("gitdir: /nonexistent/csep/identity/test\n"))]
#[case::gitfile_to_non_git_dir(Some("gitdir: .\n"))]
#[case::empty_dot_git_directory(None)]
fn malformed_dot_git_stops_the_walk_with_a_warning(#[case] gitfile: Option<&str>) {
    let tmp = TempDir::new().expect("tempdir");
    // An enclosing valid repository must not be picked up past the broken `.git`.
    let outer = tmp.path().join("outer");
    init_repo(&outer);
    let broken = outer.join("broken");
    fs::create_dir_all(broken.join("sub")).expect("mkdir");
    match gitfile {
        Some(content) => fs::write(broken.join(".git"), content).expect("write"),
        None => fs::create_dir(broken.join(".git")).expect("mkdir"),
    }

    let id = resolve(&broken.join("sub"));

    assert_eq!(id.canonical_path, canon(&broken.join("sub")));
    assert_eq!(id.kind, IdentityKind::NotGit);
    let warning = id.warning.expect("a warning is recorded");
    assert!(
        warning.contains("broken"),
        "warning names the path: {warning}"
    );
}

#[cfg(unix)]
#[test]
fn dangling_dot_git_symlink_is_a_warning() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("dir");
    fs::create_dir(&dir).expect("mkdir");
    std::os::unix::fs::symlink(tmp.path().join("missing"), dir.join(".git")).expect("symlink");

    let id = resolve(&dir);

    assert_eq!(id.kind, IdentityKind::NotGit);
    assert!(id.warning.is_some());
}

#[test]
fn deleted_working_directory_is_an_actionable_error() {
    let tmp = TempDir::new().expect("tempdir");
    let gone = tmp.path().join("gone");
    fs::create_dir(&gone).expect("mkdir");
    fs::remove_dir(&gone).expect("rmdir");

    let err = RepoIdentity::resolve(&gone).expect_err("fails");

    assert!(matches!(&err, IdentityError::NotFound { path } if path == &gone));
    let message = err.to_string();
    assert!(message.contains(&gone.display().to_string()), "{message}");
    assert!(message.contains("was it deleted?"), "{message}");
    assert!(message.contains("--cwd"), "{message}");
}

#[test]
fn file_as_working_directory_is_not_a_directory() {
    let tmp = TempDir::new().expect("tempdir");
    let file = tmp.path().join("file.txt");
    fs::write(&file, "x").expect("write");

    let err = RepoIdentity::resolve(&file).expect_err("fails");
    assert!(matches!(&err, IdentityError::NotADirectory { path } if path == &file));

    let below = file.join("child");
    let err = RepoIdentity::resolve(&below).expect_err("fails");
    assert!(matches!(&err, IdentityError::NotADirectory { path } if path == &below));
}

#[rstest]
#[case::not_found(io::ErrorKind::NotFound, "does not exist")]
#[case::permission_denied(io::ErrorKind::PermissionDenied, "permission denied")]
#[case::other(io::ErrorKind::Other, "cannot resolve")]
fn io_errors_on_the_working_directory_name_the_path(
    #[case] kind: io::ErrorKind,
    #[case] expected: &str,
) {
    let path = Path::new("/some/where");
    let message = cwd_error(path, io::Error::from(kind)).to_string();
    assert!(message.contains("/some/where"), "{message}");
    assert!(message.contains(expected), "{message}");
}

#[cfg(unix)]
#[test]
fn unsearchable_working_directory_is_permission_denied() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = TempDir::new().expect("tempdir");
    let locked = tmp.path().join("locked");
    fs::create_dir_all(locked.join("inner")).expect("mkdir");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod");
    let result = RepoIdentity::resolve(&locked.join("inner"));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).expect("chmod back");

    // Root bypasses permission checks; the error mapping is covered by the table above.
    if fs::metadata(tmp.path()).is_ok() && result.is_ok() {
        return;
    }
    assert!(matches!(
        result,
        Err(IdentityError::PermissionDenied { .. })
    ));
}

#[test]
fn project_id_is_stable_opaque_and_distinct() {
    let tmp = TempDir::new().expect("tempdir");
    let a = tmp.path().join("a-b");
    let b = tmp.path().join("a/b");
    fs::create_dir_all(&a).expect("mkdir");
    fs::create_dir_all(&b).expect("mkdir");

    let id_a = resolve(&a).project_id();
    let id_b = resolve(&b).project_id();

    // `/a-b` and `/a/b` collided under the reference's `replace("/", "-")`.
    assert_ne!(id_a, id_b);
    assert_eq!(id_a, resolve(&a).project_id());
    assert_eq!(id_a.len(), PROJECT_ID_PREFIX.len() + PROJECT_ID_HEX_CHARS);
    assert!(id_a.starts_with("p_"));
    assert!(
        id_a[2..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

#[test]
fn project_id_is_pinned_for_a_known_path() {
    // sha256("/home/alice/code/repo") starts with these 16 hex characters; a change here would
    // orphan every existing project.
    let id = RepoIdentity {
        canonical_path: PathBuf::from("/home/alice/code/repo"),
        kind: IdentityKind::Worktree,
        work_dir: PathBuf::from("/home/alice/code/repo"),
        warning: None,
    };
    assert_eq!(id.project_id(), PINNED_PROJECT_ID);
}

const PINNED_PROJECT_ID: &str = "p_7e2723f2f0162ab3";

#[rstest]
#[case::spaces("my repo with spaces")]
#[case::non_ascii("répö-日本語")]
fn unusual_directory_names_resolve_losslessly(#[case] name: &str) {
    assert_resolves_losslessly(name.as_ref());
}

#[cfg(unix)]
#[test]
fn non_utf8_directory_name_resolves_losslessly() {
    use std::os::unix::ffi::OsStringExt;
    assert_resolves_losslessly(&OsString::from_vec(b"repo-\xff\xfe".to_vec()));
}

fn assert_resolves_losslessly(name: &std::ffi::OsStr) {
    let tmp = TempDir::new().expect("tempdir");
    let repo = tmp.path().join(name);
    init_repo(&repo);
    let mut worktree_name = name.to_owned();
    worktree_name.push(" wt");
    let worktree = tmp.path().join(&worktree_name);
    git(
        &repo,
        &[
            OsString::from("worktree"),
            "add".into(),
            "-q".into(),
            "--detach".into(),
            worktree.clone().into_os_string(),
        ],
    );

    let id = resolve(&repo.join("src/deep"));
    let linked = resolve(&worktree.join("src"));

    assert_eq!(id.canonical_path, canon(&repo));
    assert_eq!(id.canonical_path.file_name(), Some(name));
    assert_eq!(id.kind, IdentityKind::Worktree);
    assert_eq!(linked.canonical_path, id.canonical_path);
    assert_eq!(linked.kind, IdentityKind::LinkedWorktree);
    assert_eq!(id.display_name(), name.to_string_lossy());
    let plain = tmp.path().join("plain");
    fs::create_dir(&plain).expect("mkdir");
    assert_ne!(id.project_id(), resolve(&plain).project_id());
}

#[test]
fn kind_names_are_kebab_case() {
    assert_eq!(IdentityKind::LinkedWorktree.to_string(), "linked-worktree");
    assert_eq!(IdentityKind::SeparateGitDir.as_str(), "separate-git-dir");
    assert_eq!(IdentityKind::NotGit.as_str(), "not-git");
}
