//! The simulator's modules form no import circle (issue 13): the engine knows nothing of HTTP, the types it holds
//! (informers, controllers, requests) know nothing of the engine, and the scenario model knows nothing of the zoo's
//! reconciles. A `crate::` path from one top-level module to another is a dependency; a circle fails with its paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module -> the modules it names -> where (file:line).
type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("simulator/src is readable").flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The modules a line names with `crate::name`.
fn named(line: &str) -> Vec<&str> {
    line.match_indices("crate::")
        .filter(|(i, _)| !line[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, m)| {
            let rest = &line[i + m.len()..];
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|n| !n.is_empty())
        .collect()
}

fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut g = Graph::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src").to_string_lossy().replace('\\', "/");
        let top = rel.split('/').next().expect("a path").trim_end_matches(".rs").to_string();
        if top == "lib" || top == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a source file reads");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("#[cfg(test)]") {
                break;
            }
            if code.starts_with("//") {
                continue;
            }
            for m in named(code) {
                if m != top {
                    g.entry(top.clone())
                        .or_default()
                        .entry(m.to_string())
                        .or_default()
                        .push(format!("{rel}:{}", n + 1));
                }
            }
        }
    }
    g
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(g: &Graph) -> Vec<BTreeSet<String>> {
    struct Walk<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let i = w.index.len();
        w.index.insert(v, i);
        w.low.insert(v, i);
        w.stack.push(v);
        w.on_stack.insert(v);
        for u in w.g.get(v).into_iter().flat_map(|m| m.keys()) {
            let u = u.as_str();
            if !w.index.contains_key(u) {
                visit(w, u);
                let l = w.low[u].min(w.low[v]);
                w.low.insert(v, l);
            } else if w.on_stack.contains(u) {
                let l = w.index[u].min(w.low[v]);
                w.low.insert(v, l);
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = BTreeSet::new();
            while let Some(u) = w.stack.pop() {
                w.on_stack.remove(u);
                component.insert(u.to_string());
                if u == v {
                    break;
                }
            }
            if component.len() > 1 {
                w.found.push(component);
            }
        }
    }
    let mut w = Walk {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in g.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found
}

#[test]
fn no_module_of_the_simulator_imports_one_that_imports_it_back() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(g.contains_key("engine") && g.contains_key("informer_feed"), "the graph reads the sources");
    let found = circles(&g);
    let report: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|from| {
                    g[from]
                        .iter()
                        .filter(|(to, _)| c.contains(*to))
                        .map(move |(to, at)| format!("  {from} -> {to} ({})", at[0]))
                })
                .collect();
            format!("{:?}:\n{}", c, edges.join("\n"))
        })
        .collect();
    assert!(found.is_empty(), "import circles in simulator/src:\n{}", report.join("\n"));
}

#[test]
fn the_checker_finds_a_circle_when_there_is_one() {
    let mut g = Graph::new();
    for (from, to) in [("engine", "informer"), ("informer", "engine"), ("informer", "time")] {
        g.entry(from.into()).or_default().entry(to.into()).or_default().push("x.rs:1".into());
    }
    let found = circles(&g);
    assert_eq!(found, vec![BTreeSet::from(["engine".to_string(), "informer".to_string()])]);
    assert_eq!(named("use crate::engine::{Event, State}; // crate::x"), vec!["engine", "x"]);
    assert!(named("use mycrate::engine;").is_empty(), "only this crate's paths");
}
