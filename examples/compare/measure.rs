//! Whole-process measurement: spawn a command, time it from spawn to exit, alternate csep and
//! the reference run by run after a warm-up; peak RSS comes from `/usr/bin/time -f %M`.
//!
//! Why RSS is not read from the timed runs' own `wait4`: Linux carries the parent's RSS high
//! water mark into a child across `exec`, so a child of this (large) process reports at least
//! this process's RSS. `/usr/bin/time` is a ~2 MiB process, so under it the figure is the
//! command's own peak (the process and the descendants it waited for, never a detached
//! grandchild) whenever that is above ~2 MiB. The timed runs spawn the command directly, so
//! `time`'s fork and exec are not in the wall time.
//!
//! Invariant: setup and teardown around a run (fresh copies of a home, waiting for a detached
//! child) are never inside the timed span.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// One command to time.
pub struct Spec {
    /// Program.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// The whole environment (the parent's is not inherited).
    pub env: Vec<(String, String)>,
    /// File fed on stdin (else `/dev/null`).
    pub stdin: Option<PathBuf>,
    /// Run before each run, untimed (fresh copies of a home).
    pub before: Option<Box<dyn FnMut() -> Result<()>>>,
    /// Run after each run, untimed (wait for a detached child).
    pub after: Option<Box<dyn FnMut() -> Result<()>>>,
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Spawn to exit.
    pub wall: Duration,
    /// Peak resident set size, KiB.
    pub maxrss_kib: i64,
}

/// Figures of all runs of one side.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Every timed sample.
    pub samples: Vec<Sample>,
    /// Peak RSS of each run under [`TIME`], KiB.
    pub rss_kib: Vec<i64>,
}

impl Summary {
    /// Median wall time.
    pub fn median(&self) -> Duration {
        let mut walls: Vec<Duration> = self.samples.iter().map(|s| s.wall).collect();
        walls.sort();
        match walls.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => walls[n / 2],
            n => (walls[n / 2 - 1] + walls[n / 2]) / 2,
        }
    }

    /// Largest peak RSS over the runs under [`TIME`], KiB.
    pub fn max_rss_kib(&self) -> i64 {
        self.rss_kib.iter().copied().max().unwrap_or(0)
    }
}

/// `/usr/bin/time`, which reports a command's peak RSS.
pub const TIME: &str = "/usr/bin/time";

/// Runs `spec` once and returns its figures; `capture` returns stdout too (for checks).
/// With `rss`, the command runs under [`TIME`] and the sample's RSS is the command's own;
/// otherwise it is meaningless (see the module docs).
pub fn run_once(spec: &mut Spec, capture: bool, rss: bool) -> Result<(Sample, String)> {
    if let Some(before) = spec.before.as_mut() {
        before()?;
    }
    let rss_path = std::env::temp_dir().join(format!("csep-bench-rss-{}", std::process::id()));
    let mut cmd = if rss {
        let mut cmd = Command::new(TIME);
        cmd.arg("-f").arg("%M").arg("-o").arg(&rss_path);
        cmd.arg(&spec.program);
        cmd
    } else {
        Command::new(&spec.program)
    };
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().cloned());
    cmd.stdin(match &spec.stdin {
        Some(path) => Stdio::from(File::open(path).with_context(|| path.display().to_string())?),
        None => Stdio::null(),
    });
    let out_path = std::env::temp_dir().join(format!("csep-bench-out-{}", std::process::id()));
    if capture {
        cmd.stdout(Stdio::from(File::create(&out_path)?));
        cmd.stderr(Stdio::from(File::create(out_path.with_extension("err"))?));
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("spawning {}", spec.program.display()))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value (plain integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (`child` is never waited on); `status` and
    // `usage` are valid for writes for the duration of the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    drop(child);
    if rc != pid {
        bail!("wait4 on {} failed", spec.program.display());
    }
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let stdout = if capture {
        std::fs::read_to_string(&out_path).unwrap_or_default()
    } else {
        String::new()
    };
    if !exited_ok {
        let stderr = std::fs::read_to_string(out_path.with_extension("err")).unwrap_or_default();
        bail!(
            "{} {:?} failed (status {status}): {stderr}",
            spec.program.display(),
            spec.args
        );
    }
    if let Some(after) = spec.after.as_mut() {
        after()?;
    }
    let maxrss_kib = if rss {
        let text = std::fs::read_to_string(&rss_path)?;
        text.lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .with_context(|| format!("reading the peak RSS from `{text}`"))?
    } else {
        usage.ru_maxrss
    };
    Ok((Sample { wall, maxrss_kib }, stdout))
}

/// How many runs of each kind.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Untimed runs first (the first one's stdout is returned for checks).
    pub warmup: usize,
    /// Timed runs per side.
    pub runs: usize,
    /// Runs per side under [`TIME`] for the peak RSS. `0` times the runs themselves under
    /// [`TIME`] (for rows of seconds, where its millisecond of overhead does not matter).
    pub rss_runs: usize,
}

fn timed(spec: &mut Spec, plan: Plan, summary: &mut Summary) -> Result<()> {
    let (sample, _) = run_once(spec, false, plan.rss_runs == 0)?;
    summary.samples.push(sample);
    if plan.rss_runs == 0 {
        summary.rss_kib.push(sample.maxrss_kib);
    }
    Ok(())
}

fn rss_only(spec: &mut Spec, plan: Plan, summary: &mut Summary) -> Result<()> {
    for _ in 0..plan.rss_runs {
        summary
            .rss_kib
            .push(run_once(spec, false, true)?.0.maxrss_kib);
    }
    Ok(())
}

/// Warms both sides up, then alternates them (`a b`, `b a`, ...) for `plan.runs` timed runs
/// each, then measures peak RSS. Returns the summaries and the first warm-up's stdout of each.
pub fn compare(
    a: &mut Spec,
    b: &mut Spec,
    plan: Plan,
) -> Result<(Summary, Summary, String, String)> {
    let (mut out_a, mut out_b) = (String::new(), String::new());
    for i in 0..plan.warmup {
        let capture = i == 0;
        let (_, oa) = run_once(a, capture, false)?;
        let (_, ob) = run_once(b, capture, false)?;
        if capture {
            out_a = oa;
            out_b = ob;
        }
    }
    let (mut sa, mut sb) = (Summary::default(), Summary::default());
    for i in 0..plan.runs {
        if i % 2 == 0 {
            timed(a, plan, &mut sa)?;
            timed(b, plan, &mut sb)?;
        } else {
            timed(b, plan, &mut sb)?;
            timed(a, plan, &mut sa)?;
        }
    }
    rss_only(a, plan, &mut sa)?;
    rss_only(b, plan, &mut sb)?;
    Ok((sa, sb, out_a, out_b))
}

/// Warms one side up, then times it (rows the reference has no equivalent for).
pub fn single(a: &mut Spec, plan: Plan) -> Result<(Summary, String)> {
    let mut out = String::new();
    for i in 0..plan.warmup {
        let (_, o) = run_once(a, i == 0, false)?;
        if i == 0 {
            out = o;
        }
    }
    let mut s = Summary::default();
    for _ in 0..plan.runs {
        timed(a, plan, &mut s)?;
    }
    rss_only(a, plan, &mut s)?;
    Ok((s, out))
}
