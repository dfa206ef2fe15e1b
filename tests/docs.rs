//! The repository explains itself, and only itself:
//! - README.md, ARCHITECTURE.md and every docs/*.md link only to files inside the repository that
//!   exist (and to headings that exist), and name nothing outside it (`../shared`, SPEC);
//! - docs/lifecycle.md has a section for every operation the dispatch knows, names every status,
//!   `nextAction`, error code and refusal, and its transition tables are `lifecycle::TABLE` and
//!   `lifecycle::WAVE_TABLE`, row for row.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use execution_core::actions::{ActionKind, ActionOnFailure, ActionStatus, ActionWhen};
use execution_core::api::{AnswerClass, Operation};
use execution_core::error::OperationError;
use execution_core::lifecycle::{TABLE, WAVE_TABLE};
use execution_core::model::{FailurePolicy, Impact, PauseReason, WaveFailure};
use execution_core::rules::NextAction;
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use workspace_tests::repo_root;

const LIFECYCLE: &str = "docs/lifecycle.md";

/// Words and paths that name something outside the repository. `SPEC` is matched as a whole word.
const OUTSIDE: [&str; 5] = [
    "../shared",
    "shared/seed",
    "operation-parameters.md",
    "/work/",
    "SPEC",
];

/// URL schemes a link may use; anything else with a scheme (`file:`, ...) is refused.
const SCHEMES: [&str; 3] = ["http", "https", "mailto"];

// ---- the documents ----------------------------------------------------------------------------

/// A Markdown document: its path relative to the repository root, and its text.
struct Doc {
    path: PathBuf,
    text: String,
}

/// README.md, ARCHITECTURE.md and docs/*.md.
fn documents(root: &Path) -> Vec<Doc> {
    let mut paths = vec![PathBuf::from("README.md"), PathBuf::from("ARCHITECTURE.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| Path::new("docs").join(p.file_name().expect("a file name")))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(root.join(&path))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Doc { path, text }
        })
        .collect()
}

/// The lines of `text` outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// `line` without its inline code spans (a link inside backticks is not a link).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// Every link target of `text`, with its line: inline links and images `[text](target "title")`,
/// and reference definitions `[label]: target`.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let line = without_code_spans(line);
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if let Some((_, rest)) = trimmed.split_once("]:") {
                if let Some(target) = rest.split_whitespace().next() {
                    out.push((n, unbracket(target)));
                }
            }
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let mut depth = 0usize;
            let mut end = after.len();
            for (i, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = i;
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let inner = after[..end].trim();
            let target = inner.split_whitespace().next().unwrap_or("");
            out.push((n, unbracket(target)));
            rest = &after[end.min(after.len())..];
        }
    }
    out
}

fn unbracket(target: &str) -> String {
    target
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(target)
        .to_owned()
}

/// The anchors GitHub gives the headings of `text`: lower case, punctuation dropped, spaces as
/// hyphens, `-1`, `-2`... for repeats.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = HashSet::new();
    for (_, line) in prose_lines(text) {
        let Some(title) = heading(line) else { continue };
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        out.insert(if *count == 0 {
            slug.clone()
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    out
}

/// The title of a Markdown heading line (`## Title`), if it is one.
fn heading(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    rest.starts_with(' ')
        .then(|| rest.trim().trim_end_matches('#').trim())
}

/// `path` with `.` and `..` resolved without touching the file system; `None` when it climbs
/// above its start (out of the repository, when it starts at the root).
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// `%20` and friends, as a link target may spell a file name.
fn percent_decoded(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why the link `target` in `doc` is wrong, if it is: it leaves the repository, names a file that
/// does not exist, or a heading the file does not have.
fn link_problem(root: &Path, doc: &Doc, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("empty link".into());
    }
    if let Some((scheme, _)) = target.split_once(':') {
        let is_scheme = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if is_scheme {
            return (!SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
                .then(|| format!("'{scheme}:' links point outside the repository"));
        }
    }
    if target.starts_with('/') {
        return Some("an absolute path: link relative to the document".into());
    }
    let (path, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let path = path.split('?').next().unwrap_or("");
    let file = if path.is_empty() {
        doc.path.clone()
    } else {
        let dir = doc.path.parent().unwrap_or(Path::new(""));
        match normalise(&dir.join(percent_decoded(path))) {
            Some(p) => p,
            None => return Some("points outside the repository".into()),
        }
    };
    let on_disk = root.join(&file);
    if file != doc.path && !on_disk.exists() {
        return Some(format!("{} does not exist", file.display()));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if file.extension().is_none_or(|e| e != "md") {
        return None;
    }
    let text = if file == doc.path {
        doc.text.clone()
    } else {
        std::fs::read_to_string(&on_disk).ok()?
    };
    (!anchors(&text).contains(anchor))
        .then(|| format!("{} has no heading #{anchor}", file.display()))
}

/// Mentions, anywhere in `doc` (code blocks included), of what lies outside the repository:
/// the [`OUTSIDE`] names, and `../` paths that climb out of it.
fn outside_mentions(doc: &Doc) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let dir = doc.path.parent().unwrap_or(Path::new(""));
    for (i, line) in doc.text.lines().enumerate() {
        for name in OUTSIDE {
            let whole_word = name.chars().all(|c| c.is_ascii_alphabetic());
            let found = line.match_indices(name).any(|(at, _)| {
                !whole_word || {
                    let word = |c: char| c.is_alphanumeric() || c == '_';
                    let before = line[..at].chars().next_back();
                    let after = line[at + name.len()..].chars().next();
                    !before.is_some_and(word) && !after.is_some_and(word)
                }
            });
            if found {
                out.push((
                    i + 1,
                    format!("names '{name}', which is outside the repository"),
                ));
            }
        }
        for (at, _) in line.match_indices("../") {
            let starts_token = line[..at]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || "(`\"'<[".contains(c));
            if !starts_token {
                continue;
            }
            let token: String = line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !")`\"'>]#,;".contains(*c))
                .collect();
            if normalise(&dir.join(&token)).is_none() {
                out.push((i + 1, format!("'{token}' climbs out of the repository")));
            }
        }
    }
    out
}

/// Every problem with the links and mentions of `doc`, as `path:line: what`.
fn problems_of(root: &Path, doc: &Doc) -> Vec<String> {
    let at = |n: usize, what: &str| format!("{}:{n}: {what}", doc.path.display());
    let mut out: Vec<String> = link_targets(&doc.text)
        .into_iter()
        .filter_map(|(n, target)| {
            link_problem(root, doc, &target).map(|why| at(n, &format!("({target}) {why}")))
        })
        .collect();
    out.extend(
        outside_mentions(doc)
            .into_iter()
            .map(|(n, why)| at(n, &why)),
    );
    out
}

#[test]
fn the_documents_point_only_inside_the_repository() {
    let root = repo_root();
    let docs = documents(&root);
    assert!(
        docs.iter().any(|d| d.path == Path::new(LIFECYCLE)),
        "{LIFECYCLE} is missing"
    );
    let problems: Vec<String> = docs.iter().flat_map(|d| problems_of(&root, d)).collect();
    assert!(
        problems.is_empty(),
        "links and mentions that point outside the repository or nowhere:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_finds_what_it_must() {
    let root = repo_root();
    let doc = |text: &str| Doc {
        path: PathBuf::from("docs/example.md"),
        text: text.to_owned(),
    };
    let fine = doc(concat!(
        "# Example\n\n## Its own heading\n\n",
        "[cli](cli.md), [exit](cli.md#exit-status), [self](#its-own-heading), [up](../README.md),\n",
        "[code](../crates/execution-core/src/api.rs), [web](https://example.com/a_(b)), [r][r].\n\n",
        "[r]: ./failures.md#failure-policy-pause-or-stop\n",
        "`[not a link](nowhere.md)`\n\n```\n[in a block](nowhere.md)\n```\n",
    ));
    assert_eq!(problems_of(&root, &fine), Vec::<String>::new());

    for (text, expected) in [
        ("[spec](../../shared/SPEC.md)", "outside the repository"),
        (
            "[seed](../../shared/seed/operation-parameters.md)",
            "outside",
        ),
        ("see the spec, SPEC §3", "'SPEC'"),
        ("in `../shared`", "'../shared'"),
        ("[gone](no-such-page.md)", "does not exist"),
        ("[gone][g]\n\n[g]: missing.md", "does not exist"),
        (
            "[anchor](cli.md#no-such-heading)",
            "no heading #no-such-heading",
        ),
        ("[own](#not-here)", "no heading #not-here"),
        ("[abs](/etc/passwd)", "absolute path"),
        ("[file](file:///etc/passwd)", "'file:'"),
        ("cd ../../elsewhere", "climbs out"),
    ] {
        let problems = problems_of(&root, &doc(text));
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{text:?}: expected a problem with {expected:?}, got {problems:?}"
        );
    }
}

// ---- docs/lifecycle.md against the code ---------------------------------------------------------

fn lifecycle_page() -> String {
    std::fs::read_to_string(repo_root().join(LIFECYCLE)).expect("docs/lifecycle.md is readable")
}

fn core_source(file: &str) -> String {
    let path = repo_root().join("crates/execution-core/src").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The variant names of `pub enum <name>` in `source`, read from the text: attributes and
/// comments skipped, fields of struct variants ignored.
fn enum_variants(source: &str, name: &str) -> Vec<String> {
    let start = format!("pub enum {name} {{");
    let body = source
        .split_once(&start)
        .unwrap_or_else(|| panic!("no `{start}` in the source"))
        .1;
    let mut depth = 0i32;
    let mut out = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        if t.starts_with("//") || t.starts_with("#[") {
            continue;
        }
        if depth == 0 {
            if t.starts_with('}') {
                break;
            }
            let ident: String = t
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if ident.starts_with(|c: char| c.is_ascii_uppercase()) {
                out.push(ident);
            }
        }
        for c in t.chars() {
            match c {
                '{' | '(' => depth += 1,
                '}' | ')' => depth -= 1,
                _ => {}
            }
        }
    }
    assert!(!out.is_empty(), "no variants read from `{start}`");
    out
}

/// The headings of the page, backticks removed.
fn headings(page: &str) -> Vec<String> {
    prose_lines(page)
        .into_iter()
        .filter_map(|(_, l)| heading(l))
        .map(|h| h.replace('`', ""))
        .collect()
}

#[test]
fn the_lifecycle_page_has_a_section_for_every_operation() {
    let page = lifecycle_page();
    let headings = headings(&page);
    let known: Vec<&str> = Operation::ALL.iter().map(|op| op.as_str()).collect();
    // `Operation::ALL` is a list kept by hand: the enum itself must not have more.
    let declared: Vec<String> = enum_variants(&core_source("api.rs"), "Operation")
        .iter()
        .map(|v| v.to_lowercase())
        .collect();
    for v in &declared {
        assert!(
            known.contains(&v.as_str()),
            "Operation::{v} is not in Operation::ALL (the dispatch's list of operations)"
        );
    }
    let missing: Vec<&str> = known
        .iter()
        .copied()
        .filter(|op| {
            !headings
                .iter()
                .any(|h| h.split_whitespace().next() == Some(*op))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{LIFECYCLE} has no section (a heading that starts with the operation's name) for: {}",
        missing.join(", ")
    );
}

/// Every value a caller reads, each of which the page must name in backticks. The matches are
/// exhaustive: a new variant does not compile here until it is added.
fn vocabulary() -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let wire = |v: serde_json::Value| v.as_str().expect("a string on the wire").to_owned();
    for s in ExecutionStatus::ALL {
        out.push(("execution status", s.to_string()));
    }
    for s in WaveStatus::ALL {
        out.push(("wave status", s.to_string()));
    }
    for s in LaunchStatus::KNOWN {
        out.push(("launch status", s.to_string()));
    }
    for a in [
        NextAction::Launch,
        NextAction::Wait,
        NextAction::Pause,
        NextAction::Act,
        NextAction::Finalize,
    ] {
        match a {
            NextAction::Launch
            | NextAction::Wait
            | NextAction::Pause
            | NextAction::Act
            | NextAction::Finalize => {}
        }
        out.push(("nextAction", a.as_str().to_owned()));
    }
    for r in [
        PauseReason::Planned,
        PauseReason::Operator,
        PauseReason::WaveFailed,
    ] {
        match r {
            PauseReason::Planned | PauseReason::Operator | PauseReason::WaveFailed => {}
        }
        out.push(("pauseReason", wire(serde_json::to_value(r).unwrap())));
    }
    for f in [
        WaveFailure::ServersFailed,
        WaveFailure::JobIncomplete,
        WaveFailure::JobNotFound,
        WaveFailure::TimedOut,
        WaveFailure::LaunchBlocked,
        WaveFailure::LaunchRejected,
        WaveFailure::RetryCancelled,
        WaveFailure::ActionFailed,
    ] {
        match f {
            WaveFailure::ServersFailed
            | WaveFailure::JobIncomplete
            | WaveFailure::JobNotFound
            | WaveFailure::TimedOut
            | WaveFailure::LaunchBlocked
            | WaveFailure::LaunchRejected
            | WaveFailure::RetryCancelled
            | WaveFailure::ActionFailed => {}
        }
        out.push(("failureReason", wire(serde_json::to_value(f).unwrap())));
    }
    for p in [FailurePolicy::Pause, FailurePolicy::Stop] {
        match p {
            FailurePolicy::Pause | FailurePolicy::Stop => {}
        }
        out.push(("onFailure", wire(serde_json::to_value(p).unwrap())));
    }
    for w in [ActionWhen::BeforeLaunch, ActionWhen::AfterComplete] {
        match w {
            ActionWhen::BeforeLaunch | ActionWhen::AfterComplete => {}
        }
        out.push(("action when", w.as_str().to_owned()));
    }
    for k in [ActionKind::Lambda, ActionKind::SsmAutomation] {
        match k {
            ActionKind::Lambda | ActionKind::SsmAutomation => {}
        }
        out.push(("action type", k.as_str().to_owned()));
    }
    for o in [ActionOnFailure::Fail, ActionOnFailure::Continue] {
        match o {
            ActionOnFailure::Fail | ActionOnFailure::Continue => {}
        }
        out.push(("action onFailure", wire(serde_json::to_value(o).unwrap())));
    }
    for s in [
        ActionStatus::Running,
        ActionStatus::Succeeded,
        ActionStatus::Failed,
        ActionStatus::TimedOut,
    ] {
        match s {
            ActionStatus::Running
            | ActionStatus::Succeeded
            | ActionStatus::Failed
            | ActionStatus::TimedOut => {}
        }
        out.push(("action run status", s.as_str().to_owned()));
    }
    for i in [Impact::Critical, Impact::Optional] {
        match i {
            Impact::Critical | Impact::Optional => {}
        }
        out.push(("impact", wire(serde_json::to_value(i).unwrap())));
    }
    for e in [
        OperationError::MissingParameter("x"),
        OperationError::invalid("x", "y"),
        OperationError::NotFound("x".into()),
        OperationError::InvalidState(execution_core::error::Refusal::NothingToLaunch),
        OperationError::Conflict("x".into()),
        OperationError::TokenRejected("x".into()),
        OperationError::Internal("x".into()),
        OperationError::Preflight(execution_core::preflight::Preflight::default()),
    ] {
        match e {
            OperationError::MissingParameter(_)
            | OperationError::InvalidParameter { .. }
            | OperationError::NotFound(_)
            | OperationError::InvalidState(_)
            | OperationError::Conflict(_)
            | OperationError::TokenRejected(_)
            | OperationError::Internal(_)
            | OperationError::Preflight(_) => {}
        }
        out.push(("error code", e.code().to_owned()));
    }
    for c in [
        AnswerClass::Done,
        AnswerClass::RetryLater,
        AnswerClass::PollAgain,
        AnswerClass::Final,
    ] {
        match c {
            AnswerClass::Done
            | AnswerClass::RetryLater
            | AnswerClass::PollAgain
            | AnswerClass::Final => {}
        }
        out.push(("answer class", format!("{c:?}")));
    }
    // Refusals are read from the source: a new one is caught without touching this test.
    for r in enum_variants(&core_source("error.rs"), "Refusal") {
        out.push(("refusal", r));
    }
    out
}

#[test]
fn the_lifecycle_page_names_every_status_code_and_refusal() {
    let page = lifecycle_page();
    let missing: Vec<String> = vocabulary()
        .into_iter()
        .filter(|(_, v)| !page.contains(&format!("`{v}`")))
        .map(|(kind, v)| format!("{kind} `{v}`"))
        .collect();
    assert!(
        missing.is_empty(),
        "{LIFECYCLE} does not name: {}",
        missing.join(", ")
    );
}

/// The rows `(write, from, to)` of the table under the heading `title`: lines
/// `` | `Write` | FROM → TO, FROM → TO | ... ``.
fn documented_moves(page: &str, title: &str) -> BTreeSet<(String, String, String)> {
    let lines = prose_lines(page);
    let start = lines
        .iter()
        .position(|(_, l)| heading(l) == Some(title))
        .unwrap_or_else(|| panic!("{LIFECYCLE} has no heading '{title}'"));
    let mut out = BTreeSet::new();
    for (n, line) in lines[start + 1..]
        .iter()
        .take_while(|(_, l)| heading(l).is_none())
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(write), Some(moves)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Some(write) = write.strip_prefix('`').and_then(|w| w.strip_suffix('`')) else {
            continue;
        };
        for m in moves.split(',') {
            let (from, to) = m
                .split_once('→')
                .unwrap_or_else(|| panic!("{LIFECYCLE}:{n}: '{m}' is not 'FROM → TO'"));
            out.insert((
                write.to_owned(),
                from.trim().to_owned(),
                to.trim().to_owned(),
            ));
        }
    }
    out
}

/// What differs between the code's table and the page's, if anything.
fn compare_moves(
    title: &str,
    code: BTreeSet<(String, String, String)>,
    page: BTreeSet<(String, String, String)>,
) -> Option<String> {
    let show = |rows: Vec<&(String, String, String)>| {
        rows.iter()
            .map(|(t, f, to)| format!("{t}: {f} → {to}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<_> = code.difference(&page).collect();
    let extra: Vec<_> = page.difference(&code).collect();
    (!missing.is_empty() || !extra.is_empty()).then(|| {
        format!(
            "'{title}' differs from the code's table.\n  missing: {}\n  not in the code: {}",
            show(missing),
            show(extra)
        )
    })
}

#[test]
fn the_lifecycle_page_transition_tables_are_the_code_tables() {
    let page = lifecycle_page();
    let code = |rows: Vec<(String, String, String)>| rows.into_iter().collect::<BTreeSet<_>>();
    let execution = code(
        TABLE
            .iter()
            .map(|(t, from, to)| (format!("{t:?}"), from.to_string(), to.to_string()))
            .collect(),
    );
    let wave = code(
        WAVE_TABLE
            .iter()
            .map(|(t, from, to)| (format!("{t:?}"), from.to_string(), to.to_string()))
            .collect(),
    );
    let problems: Vec<String> = [
        ("Execution transitions", execution),
        ("Wave transitions", wave),
    ]
    .into_iter()
    .filter_map(|(title, rows)| compare_moves(title, rows, documented_moves(&page, title)))
    .collect();
    assert!(problems.is_empty(), "{LIFECYCLE}: {}", problems.join("\n"));
}
