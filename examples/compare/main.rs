//! Side-by-side benchmark of csep against the Python reference (codex-self-evolution-plugin
//! 0.7.7), whole process, on one generated corpus. Run through `bench/compare.sh`, which builds
//! the release binaries, installs the reference into a virtualenv and calls:
//!
//! `target/release/examples/compare --csep target/release/csep --ref-bin .cache/ref-venv/bin`
//!
//! Rows: session-start hook (200 memory entries), Stop hook foreground (50 MiB and empty
//! transcript), recall at 1k / 10k / 100k entries (csep's 100k store also holds 1M archived
//! messages), deterministic compile of 10k suggestions on a 10k-entry store, ingest of a
//! 100 MiB rollout (csep only: the reference archives nothing). Each row: warm-up, then runs
//! alternating csep and the reference; median wall time and largest peak RSS.
//!
//! A benchmark, not a test: it asserts nothing about timings, it only checks that each
//! command did its job (exit 0 and the expected output) so a broken run is not timed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark aborts loudly"
)]

mod corpus;
mod measure;
mod text;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;

use corpus::Layout;
use measure::{Plan, Spec, Summary};

/// Command line of the comparison.
#[derive(Debug, Parser)]
#[command(about = "csep vs the Python reference, whole process, one generated corpus")]
struct Args {
    /// Corpus directory (outside any git repository); reused when its parameters match.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The csep release binary.
    #[arg(long, default_value = "target/release/csep")]
    csep: PathBuf,
    /// The reference virtualenv's `bin` directory (`codex-self-evolution`, `csep`).
    #[arg(long, default_value = ".cache/ref-venv/bin")]
    ref_bin: PathBuf,
    /// Archived messages in csep's 100k recall store.
    #[arg(long, default_value_t = 1_000_000)]
    archive_messages: usize,
    /// Timed runs per side for the fast rows (hooks, recall at 1k and 10k).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Timed runs per side for the slow rows (Stop with 50 MiB, recall at 100k).
    #[arg(long, default_value_t = 10)]
    runs_slow: usize,
    /// Timed runs per side for compile and ingest (each needs a fresh copy of a home; two
    /// keep the whole comparison under 10 minutes on 2 cores).
    #[arg(long, default_value_t = 2)]
    runs_heavy: usize,
    /// Divide every corpus size by this (a smoke test of the harness uses 100).
    #[arg(long, default_value_t = 1)]
    quick: usize,
    /// Only generate the corpus.
    #[arg(long)]
    corpus_only: bool,
    /// Measure only these rows (repeatable): session-start, stop, recall, compile, ingest.
    #[arg(long, value_parser = ["session-start", "stop", "recall", "compile", "ingest"])]
    only: Vec<String>,
    /// Also write the Markdown table here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One row of the table.
struct Row {
    name: String,
    csep: Summary,
    reference: Option<Summary>,
    note: String,
}

/// Runs of a row of milliseconds: timed runs direct, then 3 runs per side for the RSS.
fn fast(warmup: usize, runs: usize) -> Plan {
    Plan {
        warmup,
        runs,
        rss_runs: 3,
    }
}

/// Runs of a row of seconds: one warm-up, timed runs under `/usr/bin/time`.
fn heavy(runs: usize) -> Plan {
    Plan {
        warmup: 1,
        runs,
        rss_runs: 0,
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Leaves a csep home as the last worker run leaves it: `csep worker` files the hook journal,
/// rebuilds the start index and checkpoints the WAL when it closes; then its spool is emptied.
fn settle_home(csep: &Path, home: &Path) -> Result<()> {
    let status = std::process::Command::new(csep)
        .args(["worker", "--home"])
        .arg(home)
        .stdout(std::process::Stdio::null())
        .status()
        .context("run csep worker")?;
    anyhow::ensure!(status.success(), "csep worker failed in {}", home.display());
    let db = home.join("csep.db");
    if db.exists() {
        let conn = rusqlite::Connection::open(&db)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    let spool = home.join("spool");
    if spool.exists() {
        fs::remove_dir_all(&spool)?;
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Everything both sides share: a minimal environment.
struct Env {
    base: Vec<(String, String)>,
}

impl Env {
    fn new(layout: &Layout) -> Result<Env> {
        let user_home = layout.dir.join("user-home");
        let tmp = layout.dir.join("tmp");
        fs::create_dir_all(&user_home)?;
        fs::create_dir_all(&tmp)?;
        Ok(Env {
            base: vec![
                ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                ("HOME".into(), user_home.to_string_lossy().into_owned()),
                ("LANG".into(), "C.UTF-8".into()),
                ("TMPDIR".into(), tmp.to_string_lossy().into_owned()),
            ],
        })
    }

    fn with(&self, home: &Path, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let mut env = self.base.clone();
        env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        env.push((
            "CODEX_SELF_EVOLUTION_HOME".into(),
            home.to_string_lossy().into_owned(),
        ));
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        env
    }
}

fn spec(program: &Path, args: &[&str], env: Vec<(String, String)>) -> Spec {
    Spec {
        program: program.to_path_buf(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env,
        stdin: None,
        before: None,
        after: None,
    }
}

fn expect(output: &str, needle: &str, what: &str) -> Result<()> {
    if !output.contains(needle) {
        bail!(
            "{what}: expected `{needle}` in its output, got: {}",
            output.chars().take(600).collect::<String>()
        );
    }
    Ok(())
}

/// Waits until the reference's detached Stop child has finished: it deletes its payload file
/// (`$TMPDIR/codex-self-evolution-stop-*.json`) in a `finally` when done.
fn wait_for_ref_stop_child(tmp: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = fs::read_dir(tmp)?.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("codex-self-evolution-stop-") && name.ends_with(".json")
        });
        if !pending {
            // Let the child exit after its cleanup.
            std::thread::sleep(Duration::from_millis(20));
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the reference's Stop child did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_owned(), |s| s.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    format!("{model}, {cores} cores (load average at the end: {load})")
}

fn run(args: &Args) -> Result<()> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("csep-bench-corpus"));
    fs::create_dir_all(&dir)?;
    let dir = fs::canonicalize(&dir)?;
    let layout = Layout::new(&dir);
    let sizes = corpus::Sizes {
        quick: args.quick.max(1),
        archive_messages: args.archive_messages / args.quick.max(1),
    };
    corpus::ensure(&layout, sizes)?;
    if args.corpus_only {
        return Ok(());
    }
    let csep = fs::canonicalize(&args.csep).context("the csep binary (build it first)")?;
    let ref_bin = fs::canonicalize(&args.ref_bin).context("the reference virtualenv")?;
    let ref_cli = ref_bin.join("codex-self-evolution");
    let ref_csep = ref_bin.join("csep");
    let env = Env::new(&layout)?;
    let repo = layout.repo.to_string_lossy().into_owned();
    let mut rows = Vec::new();
    let started = Instant::now();

    let wanted = |row: &str| args.only.is_empty() || args.only.iter().any(|o| o == row);

    // session-start
    if wanted("session-start") {
        let case = layout.case("start");
        let mut a = spec(
            &csep,
            &["hook", "session-start", "--host", "codex"],
            env.with(&layout.csep_home("start"), &[]),
        );
        a.stdin = Some(case.join("payload.json"));
        // The state a session starts in: the last worker filed the hook journal, rebuilt the
        // start index and checkpointed the WAL on close. SessionStart only reads the database
        // (its notes go to the journal, which it never reads), so every run then sees that
        // same state.
        settle_home(&csep, &layout.csep_home("start"))?;
        let mut b = spec(
            &ref_cli,
            &["session-start", "--from-stdin"],
            env.with(&layout.ref_home("start"), &[]),
        );
        b.stdin = Some(case.join("payload.json"));
        let (sa, sb, oa, ob) = measure::compare(&mut a, &mut b, fast(3, args.runs))?;
        expect(&oa, "csep-context", "csep session-start")?;
        expect(&ob, "Stable Background", "reference session-start")?;
        rows.push(Row {
            name: "session-start hook, 200 memory entries".into(),
            csep: sa,
            reference: Some(sb),
            note: format!("{} runs", args.runs),
        });
        eprintln!(
            "bench: session-start done ({:.0}s)",
            started.elapsed().as_secs_f64()
        );
    }

    // Stop, foreground only
    let stop_rows = [
        (
            "big",
            "Stop hook foreground, 50 MiB transcript",
            args.runs_slow,
        ),
        ("small", "Stop hook foreground, empty transcript", args.runs),
    ];
    for (name, label, runs) in stop_rows.into_iter().filter(|_| wanted("stop")) {
        let case = layout.case("stop");
        let tmp = case.join("ref-tmp");
        fs::create_dir_all(&tmp)?;
        let payload = case.join(format!("payload-{name}.json"));
        let mut a = spec(
            &csep,
            &["hook", "stop", "--host", "codex"],
            env.with(
                &layout.csep_home("stop"),
                &[("CSEP_NO_SPAWN_WORKER", "1".into())],
            ),
        );
        a.stdin = Some(payload.clone());
        let mut b = spec(
            &ref_cli,
            &["stop-review", "--from-stdin"],
            env.with(
                &layout.ref_home("stop"),
                &[
                    ("TMPDIR", tmp.to_string_lossy().into_owned()),
                    ("CODEX_SELF_EVOLUTION_REVIEWER_PROVIDER", "dummy".into()),
                ],
            ),
        );
        b.stdin = Some(payload);
        let tmp_after = tmp.clone();
        b.after = Some(Box::new(move || wait_for_ref_stop_child(&tmp_after)));
        let (sa, sb, oa, ob) = measure::compare(&mut a, &mut b, fast(2, runs))?;
        expect(&oa, "{}", "csep stop")?;
        expect(&ob, "\"continue\": true", "reference stop")?;
        rows.push(Row {
            name: label.into(),
            csep: sa,
            reference: Some(sb),
            note: format!("{runs} runs"),
        });
        eprintln!(
            "bench: stop {name} done ({:.0}s)",
            started.elapsed().as_secs_f64()
        );
    }

    // recall
    for n in sizes.recall().into_iter().filter(|_| wanted("recall")) {
        let name = Layout::recall_case(n);
        let mut words: Vec<&str> = vec!["recall"];
        words.extend(text::QUERY.split(' '));
        words.extend(["--cwd", &repo]);
        let mut a = spec(&csep, &words, env.with(&layout.csep_home(&name), &[]));
        let mut b = spec(&ref_csep, &words, env.with(&layout.ref_home(&name), &[]));
        let runs = if n == sizes.recall_max() {
            args.runs_slow
        } else {
            args.runs
        };
        let (sa, sb, oa, ob) = measure::compare(&mut a, &mut b, fast(2, runs))?;
        expect(&oa, "Status: matched", "csep recall")?;
        expect(&ob, "Status: matched", "reference recall")?;
        let label = if n == sizes.recall_max() && sizes.archive_messages > 0 {
            format!(
                "recall, {n} entries (csep: + {} archived messages)",
                sizes.archive_messages
            )
        } else {
            format!("recall, {n} entries")
        };
        rows.push(Row {
            name: label,
            csep: sa,
            reference: Some(sb),
            note: format!("{runs} runs"),
        });
        eprintln!(
            "bench: recall {n} done ({:.0}s)",
            started.elapsed().as_secs_f64()
        );
    }

    // compile: each run on a fresh copy of the home
    if wanted("compile") {
        let runs_dir = layout.case("compile").join("runs");
        let (csep_template, ref_template) =
            (layout.csep_home("compile"), layout.ref_home("compile"));
        let (csep_run, ref_run) = (runs_dir.join("csep-home"), runs_dir.join("ref-home"));
        let mut a = spec(
            &csep,
            &["compile", "--repo-root", &repo],
            env.with(&csep_run, &[]),
        );
        let (t, r) = (csep_template, csep_run);
        a.before = Some(Box::new(move || {
            remove_dir(&r)?;
            copy_dir(&t, &r)
        }));
        let mut b = spec(
            &ref_cli,
            &["compile", "--backend", "script", "--repo-root", &repo],
            env.with(&ref_run, &[]),
        );
        let (t, r) = (ref_template, ref_run);
        b.before = Some(Box::new(move || {
            remove_dir(&r)?;
            copy_dir(&t, &r)
        }));
        let (sa, sb, oa, ob) = measure::compare(&mut a, &mut b, heavy(args.runs_heavy))?;
        expect(&oa, "ok", "csep compile")?;
        expect(&ob, "\"status\": \"success\"", "reference compile")?;
        let total = (corpus::COMPILE_ENVELOPES * sizes.ops_per_envelope()) as f64;
        let note = format!(
            "{} runs; csep {:.0} suggestions/s, reference {:.0} suggestions/s",
            args.runs_heavy,
            total / sa.median().as_secs_f64(),
            total / sb.median().as_secs_f64()
        );
        rows.push(Row {
            name: "compile (script), 10k suggestions on a 10k-entry store".into(),
            csep: sa,
            reference: Some(sb),
            note,
        });
        remove_dir(&runs_dir)?;
        eprintln!(
            "bench: compile done ({:.0}s)",
            started.elapsed().as_secs_f64()
        );
    }

    // ingest: csep only, fresh home per run
    if wanted("ingest") {
        let cases = [
            (
                "ingest",
                format!(
                    "ingest, {} MiB rollout of conversation items only",
                    sizes.ingest_bytes().div_ceil(1 << 20)
                ),
            ),
            (
                "ingest-codex",
                format!(
                    "ingest, {} MiB rollout as Codex 0.169 writes it",
                    sizes.ingest_bytes().div_ceil(1 << 20)
                ),
            ),
            (
                "ingest-many",
                format!(
                    "import, {} Codex rollouts of {} KiB",
                    sizes.ingest_many_files(),
                    corpus::INGEST_MANY_BYTES >> 10
                ),
            ),
        ];
        for (case, name) in cases {
            let sessions = layout.case(case).join("sessions");
            let home = layout.case(case).join("csep-home");
            let sessions_text = sessions.to_string_lossy().into_owned();
            let mut a = spec(
                &csep,
                &["import", "codex-sessions", "--dir", &sessions_text],
                env.with(&home, &[]),
            );
            let h = home.clone();
            a.before = Some(Box::new(move || remove_dir(&h)));
            let (sa, oa) = measure::single(&mut a, heavy(args.runs_heavy))?;
            let (count, bytes) = fs::read_dir(&sessions)?
                .flatten()
                .fold((0, 0u64), |(n, b), e| {
                    (n + 1, b + e.metadata().map_or(0, |m| m.len()))
                });
            expect(
                &oa,
                &format!("{count} with new data, 0 unchanged, 0 failed"),
                "csep import",
            )?;
            let note = format!(
                "{} runs; {:.0} MB/s ({} MB in {count} file{}, fresh home each run); the \
                 reference has no archive ingest",
                args.runs_heavy,
                bytes as f64 / 1e6 / sa.median().as_secs_f64(),
                bytes / 1_000_000,
                if count == 1 { "" } else { "s" }
            );
            rows.push(Row {
                name,
                csep: sa,
                reference: None,
                note,
            });
            remove_dir(&home)?;
            eprintln!(
                "bench: {case} done ({:.0}s)",
                started.elapsed().as_secs_f64()
            );
        }
    }

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| benchmark | csep p50 | csep peak RSS | reference p50 | reference peak RSS | speed-up | notes |"
    );
    let _ = writeln!(table, "|---|---:|---:|---:|---:|---:|---|");
    for row in &rows {
        let (ref_p50, ref_rss, ratio) = match &row.reference {
            Some(r) => (
                ms(r.median()),
                mib(r.max_rss_kib()),
                format!(
                    "{:.0}×",
                    r.median().as_secs_f64() / row.csep.median().as_secs_f64()
                ),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            ms(row.csep.median()),
            mib(row.csep.max_rss_kib()),
            ref_p50,
            ref_rss,
            ratio,
            row.note
        );
    }
    let _ = writeln!(table);
    let _ = writeln!(table, "Machine: {}.", machine());
    let _ = writeln!(
        table,
        "Measured in {:.0} s (corpus generation not included).",
        started.elapsed().as_secs_f64()
    );
    print!("{table}");
    if let Some(out) = &args.out {
        fs::write(out, &table)?;
    }
    Ok(())
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("compare: {e:#}");
        std::process::exit(1);
    }
}
