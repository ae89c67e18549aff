//! `csep eval recall --fixture PATH`: retrieval quality of csep's recall against a plain BM25
//! baseline and the reference's scorer (format and metrics: [`crate::recall::eval`]).
//!
//! A directory runs every `*.json` fixture in it (sorted) and adds an `all` row per system,
//! weighted by question count. Exit 0 when every fixture was evaluated, 1 when one could not be
//! read.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{Ctx, output};
use crate::recall::eval::{self, FixtureReport, Metrics};

#[derive(Debug, Serialize)]
struct EvalOutput {
    fixtures: Vec<FixtureReport>,
    all: Vec<Metrics>,
}

fn fixture_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list fixture directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "no *.json fixture in {}; pass a fixture file or a directory of them",
        path.display()
    );
    Ok(files)
}

/// Question-weighted mean of each system's rows over every fixture.
fn combine(reports: &[FixtureReport]) -> Vec<Metrics> {
    let Some(first) = reports.first() else {
        return Vec::new();
    };
    first
        .systems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let rows: Vec<&Metrics> = reports.iter().filter_map(|r| r.systems.get(i)).collect();
            let n: usize = rows.iter().map(|m| m.questions).sum();
            let w = |f: fn(&Metrics) -> f64| {
                rows.iter().map(|m| f(m) * m.questions as f64).sum::<f64>() / n.max(1) as f64
            };
            Metrics {
                system: s.system.clone(),
                questions: n,
                hit_at_1: w(|m| m.hit_at_1),
                hit_at_5: w(|m| m.hit_at_5),
                recall_at_5: w(|m| m.recall_at_5),
                recall_at_10: w(|m| m.recall_at_10),
                mrr: w(|m| m.mrr),
                ndcg_at_10: w(|m| m.ndcg_at_10),
            }
        })
        .collect()
}

fn row(fixture: &str, m: &Metrics) -> Vec<String> {
    let f = |x: f64| format!("{x:.3}");
    vec![
        fixture.to_owned(),
        m.system.clone(),
        m.questions.to_string(),
        f(m.hit_at_1),
        f(m.hit_at_5),
        f(m.recall_at_5),
        f(m.recall_at_10),
        f(m.mrr),
        f(m.ndcg_at_10),
    ]
}

/// Runs `csep eval recall`.
pub fn run_recall(ctx: &Ctx, fixture: &Path) -> anyhow::Result<u8> {
    let path = ctx.project_dir(Some(fixture))?;
    let mut reports = Vec::new();
    for file in fixture_files(&path)? {
        let fixture = eval::load(&file)?;
        reports.push(eval::evaluate(&fixture)?);
    }
    let all = combine(&reports);
    if ctx.json {
        output::print_json(&EvalOutput {
            fixtures: reports,
            all,
        })?;
        return Ok(0);
    }
    let mut rows = vec![
        [
            "fixture",
            "system",
            "questions",
            "hit@1",
            "hit@5",
            "recall@5",
            "recall@10",
            "MRR",
            "nDCG@10",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for report in &reports {
        for m in &report.systems {
            rows.push(row(&report.name, m));
        }
    }
    if reports.len() > 1 {
        for m in &all {
            rows.push(row("all", m));
        }
    }
    print!("{}", output::table(&rows));
    Ok(0)
}
