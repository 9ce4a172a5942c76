//! The README's quick start, run as written: the `sh` blocks between the
//! `quickstart:begin` and `quickstart:end` markers of README.md are read and
//! interpreted here, against a test server with the demo data, so that the
//! README's commands, URLs and bodies cannot drift from what the API does.
//!
//! The interpreter knows the small part of the shell the quick start uses and
//! refuses anything else by name (so a README edit it cannot follow fails
//! here instead of being skipped): `NAME=word`, `NAME=$(pipeline)`, and
//! pipelines of `curl` (`-fsS`, `-X`, `-H`, `-d`, a URL) into `jq [-r]` with
//! path, `.[]`, `[n]`, `{a, b}` and `select(.path == "text")` filters, and
//! `date -u -d '+N hours' +FORMAT`; quoting as in the shell ('…', "…" with
//! `$NAME`, `'"$NAME"'`), `\` line continuations and `#` comments.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::helpers::{Resp, TestApp};

/// Where the README's commands point; the test sends them to its own server.
const README_ORIGIN: &str = "http://127.0.0.1:8080";

/// The quick start's shell text: the `sh` blocks between the markers.
fn quickstart_script() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- quickstart:begin").expect("README.md has no quickstart:begin marker");
    let end = readme.find("<!-- quickstart:end -->").expect("README.md has no quickstart:end marker");
    let mut script = String::new();
    let mut in_block = false;
    for line in readme[start..end].lines() {
        match (in_block, line.trim()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, _) => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(!in_block, "an unclosed sh block in the quick start");
    script
}

/// One piece of a shell word.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(Vec<Piece>),
    Pipe,
    OpenSubst,
    CloseSubst,
    Newline,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits the script into shell tokens (no expansion yet).
fn lex(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut word: Vec<Piece> = Vec::new();
    let mut in_word = false;
    let mut depth = 0;
    let mut i = 0;
    fn push_text(word: &mut Vec<Piece>, c: char) {
        match word.last_mut() {
            Some(Piece::Text(t)) => t.push(c),
            _ => word.push(Piece::Text(c.to_string())),
        }
    }
    fn read_var(chars: &[char], i: &mut usize) -> String {
        // At the character after `$`.
        if chars.get(*i) == Some(&'{') {
            let end = chars[*i..].iter().position(|c| *c == '}').expect("unclosed ${") + *i;
            let name: String = chars[*i + 1..end].iter().collect();
            *i = end + 1;
            name
        } else {
            let start = *i;
            while *i < chars.len() && is_name_char(chars[*i]) {
                *i += 1;
            }
            chars[start..*i].iter().collect()
        }
    }
    macro_rules! end_word {
        () => {
            if in_word {
                tokens.push(Token::Word(std::mem::take(&mut word)));
                in_word = false;
            }
        };
    }
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
            ' ' | '\t' => {
                end_word!();
                i += 1;
            }
            '\n' => {
                end_word!();
                tokens.push(Token::Newline);
                i += 1;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '|' => {
                end_word!();
                tokens.push(Token::Pipe);
                i += 1;
            }
            '$' if chars.get(i + 1) == Some(&'(') => {
                end_word!();
                tokens.push(Token::OpenSubst);
                depth += 1;
                i += 2;
            }
            ')' if depth > 0 => {
                end_word!();
                tokens.push(Token::CloseSubst);
                depth -= 1;
                i += 1;
            }
            '$' => {
                i += 1;
                let name = read_var(&chars, &mut i);
                assert!(!name.is_empty(), "a lone $ in the quick start");
                word.push(Piece::Var(name));
                in_word = true;
            }
            '\'' => {
                let end = chars[i + 1..].iter().position(|c| *c == '\'').expect("unclosed '") + i + 1;
                if i + 1 == end {
                    word.push(Piece::Text(String::new()));
                }
                for &c in &chars[i + 1..end] {
                    push_text(&mut word, c);
                }
                in_word = true;
                i = end + 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                if chars.get(i) == Some(&'"') {
                    word.push(Piece::Text(String::new()));
                }
                loop {
                    let c = *chars.get(i).expect("unclosed \"");
                    match c {
                        '"' => {
                            i += 1;
                            break;
                        }
                        '\\' if matches!(chars.get(i + 1), Some('"' | '\\' | '$')) => {
                            push_text(&mut word, chars[i + 1]);
                            i += 2;
                        }
                        '$' if chars.get(i + 1) == Some(&'(') => panic!("$( inside double quotes is not supported"),
                        '$' => {
                            i += 1;
                            word.push(Piece::Var(read_var(&chars, &mut i)));
                        }
                        c => {
                            push_text(&mut word, c);
                            i += 1;
                        }
                    }
                }
            }
            c => {
                push_text(&mut word, c);
                in_word = true;
                i += 1;
            }
        }
    }
    if in_word {
        tokens.push(Token::Word(word));
    }
    assert_eq!(depth, 0, "an unclosed $( in the quick start");
    tokens
}

/// One statement: an assignment of a word or of a pipeline's output, or a pipeline.
#[derive(Debug)]
enum Statement {
    Assign(String, Vec<Piece>),
    Capture(String, Vec<Vec<Vec<Piece>>>),
    Run(Vec<Vec<Vec<Piece>>>),
}

/// A pipeline: commands (lists of words) between `|`.
fn pipeline(tokens: &[Token]) -> Vec<Vec<Vec<Piece>>> {
    let mut commands = vec![Vec::new()];
    for t in tokens {
        match t {
            Token::Word(w) => commands.last_mut().unwrap().push(w.clone()),
            Token::Pipe => commands.push(Vec::new()),
            Token::Newline => {}
            other => panic!("unsupported shell syntax in the quick start: {other:?}"),
        }
    }
    assert!(commands.iter().all(|c| !c.is_empty()), "an empty command in a pipeline");
    commands
}

/// `NAME=` at the start of a word: the name and the rest of the word.
fn assignment(word: &[Piece]) -> Option<(String, Vec<Piece>)> {
    let Some(Piece::Text(first)) = word.first() else { return None };
    let (name, rest) = first.split_once('=')?;
    if name.is_empty() || !name.chars().all(is_name_char) || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut value = Vec::new();
    if !rest.is_empty() {
        value.push(Piece::Text(rest.to_owned()));
    }
    value.extend(word[1..].iter().cloned());
    Some((name.to_owned(), value))
}

fn parse(tokens: &[Token]) -> Vec<Statement> {
    let mut statements = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == Token::Newline {
            i += 1;
            continue;
        }
        // A statement ends at a newline outside $( ).
        let mut depth = 0;
        let mut end = i;
        while end < tokens.len() {
            match tokens[end] {
                Token::OpenSubst => depth += 1,
                Token::CloseSubst => depth -= 1,
                Token::Newline if depth == 0 => break,
                _ => {}
            }
            end += 1;
        }
        let stmt = &tokens[i..end];
        let Token::Word(first) = &stmt[0] else { panic!("unsupported shell syntax: {stmt:?}") };
        match (assignment(first), stmt.get(1)) {
            (Some((name, value)), Some(Token::OpenSubst)) => {
                assert!(value.is_empty() && stmt.last() == Some(&Token::CloseSubst), "unsupported: {stmt:?}");
                statements.push(Statement::Capture(name, pipeline(&stmt[2..stmt.len() - 1])));
            }
            (Some((name, value)), None) => statements.push(Statement::Assign(name, value)),
            (Some(_), Some(_)) => panic!("unsupported: an assignment followed by more words: {stmt:?}"),
            (None, _) => statements.push(Statement::Run(pipeline(stmt))),
        }
        i = end;
    }
    statements
}

/// The shell's variables while the script runs.
type Env = HashMap<String, String>;

fn expand(word: &[Piece], env: &Env) -> String {
    word.iter()
        .map(|p| match p {
            Piece::Text(t) => t.clone(),
            Piece::Var(name) => {
                env.get(name).unwrap_or_else(|| panic!("the quick start uses ${name} before setting it")).clone()
            }
        })
        .collect()
}

/// A `jq` filter over a stream of values: `|`-separated stages of paths
/// (`.a.b`, `.items[0]`, `.items[]`), `{a, b}` and `select(.path == "text")`.
fn jq(filter: &str, input: Vec<Value>) -> Vec<Value> {
    filter.split('|').map(str::trim).fold(input, |values, stage| {
        if let Some(fields) = stage.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            // `{a, b}`: an object of those fields.
            values
                .into_iter()
                .map(|v| {
                    let fields = fields.split(',').map(str::trim);
                    Value::Object(fields.map(|f| (f.to_owned(), v.get(f).cloned().unwrap_or(Value::Null))).collect())
                })
                .collect()
        } else if let Some(cond) = stage.strip_prefix("select(").and_then(|s| s.strip_suffix(')')) {
            let (path, literal) = cond.split_once("==").unwrap_or_else(|| panic!("unsupported jq select: {stage}"));
            let want: Value = serde_json::from_str(literal.trim()).unwrap();
            values.into_iter().filter(|v| jq_path(path.trim(), v.clone()).first() == Some(&want)).collect()
        } else {
            values.into_iter().flat_map(|v| jq_path(stage, v)).collect()
        }
    })
}

fn jq_path(path: &str, value: Value) -> Vec<Value> {
    assert!(path.starts_with('.'), "unsupported jq filter: {path}");
    if path == "." {
        return vec![value];
    }
    let mut values = vec![value];
    for segment in path[1..].split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((n, rest)) => (n, Some(rest.strip_suffix(']').expect("unclosed ["))),
            None => (segment, None),
        };
        if !name.is_empty() {
            values = values.into_iter().map(|v| v.get(name).cloned().unwrap_or(Value::Null)).collect();
        }
        values = match index {
            None => values,
            Some("") => values.into_iter().flat_map(|v| v.as_array().cloned().unwrap_or_default()).collect(),
            Some(n) => {
                let n: usize = n.parse().unwrap_or_else(|_| panic!("unsupported jq index [{n}]"));
                values.into_iter().map(|v| v.get(n).cloned().unwrap_or(Value::Null)).collect()
            }
        };
    }
    values
}

/// Runs a pipeline; returns what it prints (the last command's output).
async fn run(app: &TestApp, commands: &[Vec<Vec<Piece>>], env: &Env, log: &mut Vec<String>) -> String {
    let mut output = String::new();
    for (n, command) in commands.iter().enumerate() {
        let words: Vec<String> = command.iter().map(|w| expand(w, env)).collect();
        match (n, words[0].as_str()) {
            (0, "curl") => output = curl(app, &words[1..], log).await,
            (0, "date") => output = date(&words[1..]),
            (n, "jq") if n > 0 => {
                let (raw, filter) = match &words[1..] {
                    [flag, f] if flag == "-r" => (true, f),
                    [f] => (false, f),
                    other => panic!("unsupported jq arguments {other:?}"),
                };
                let input: Value =
                    serde_json::from_str(&output).unwrap_or_else(|e| panic!("jq on non-JSON ({e}): {output}"));
                output = jq(filter, vec![input])
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) if raw => s,
                        v => v.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            (_, other) => panic!("the quick start runs `{other}`, which this test does not know"),
        }
    }
    output
}

/// `curl -fsS [-X METHOD] [-H 'K: V']… [-d BODY] URL`, sent to the test server.
async fn curl(app: &TestApp, args: &[String], log: &mut Vec<String>) -> String {
    let mut method = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body = None;
    let mut url = None;
    let mut fail = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-X" => method = it.next().cloned(),
            "-H" => {
                let h = it.next().expect("-H needs a value");
                let (k, v) = h.split_once(':').unwrap_or_else(|| panic!("bad header {h}"));
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            "-d" => body = it.next().cloned(),
            flags if flags.starts_with('-') && !flags.starts_with("--") => {
                for f in flags[1..].chars() {
                    match f {
                        'f' => fail = true,
                        's' | 'S' => {}
                        other => panic!("unsupported curl flag -{other}"),
                    }
                }
            }
            u if u.starts_with("http") => url = Some(u.to_owned()),
            other => panic!("unsupported curl argument {other}"),
        }
    }
    assert!(fail, "every quick-start curl uses -f, so that a reader sees a failure");
    let url = url.expect("curl without a URL");
    let path = url
        .strip_prefix(README_ORIGIN)
        .unwrap_or_else(|| panic!("the quick start calls {url}, not the README's server {README_ORIGIN}"));
    // curl sends POST when there is a body, GET otherwise.
    let method = method.unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_owned());
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client.request(method.clone(), app.url(path));
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    if let Some(b) = &body {
        // The README's bodies are JSON as written.
        serde_json::from_str::<Value>(b).unwrap_or_else(|e| panic!("a quick-start body is not JSON ({e}): {b}"));
        req = req.body(b.clone());
    }
    let r: Resp = crate::helpers::read(req.send().await.unwrap()).await;
    log.push(format!("{method} {path} -> {}", r.status));
    assert!(r.status.is_success(), "quick start: {method} {path} answered {}: {}", r.status, r.text);
    r.text
}

/// `date -u -d '+N hours' +FORMAT` (GNU date), from the clock of this test.
fn date(args: &[String]) -> String {
    match args {
        [u, d, offset, format] if u == "-u" && d == "-d" => {
            let hours: i64 = offset
                .strip_prefix('+')
                .and_then(|s| s.strip_suffix(" hours"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unsupported date offset {offset:?}"));
            let format = format.strip_prefix('+').expect("date format starts with +");
            (chrono::Utc::now() + chrono::Duration::hours(hours)).format(format).to_string()
        }
        other => panic!("unsupported date arguments {other:?}"),
    }
}

/// The demo data of the development profile, as `cargo run` creates it.
async fn seed_demo(app: &TestApp) {
    let (db, rules) = (app.state.db.clone(), app.state.bookings.clone());
    tokio::task::spawn_blocking(move || clearway::services::demo::seed(&db, &rules)).await.unwrap().unwrap();
}

async fn the_readme_quick_start_works(app: TestApp) {
    assert!(
        include_str!("../../README.md").contains("CLEARWAY__BOOKING__ARRIVAL_EARLY_MINUTES=1440 cargo run --release"),
        "the README must start its quick-start server with the setting this test uses"
    );
    seed_demo(&app).await;
    let statements = parse(&lex(&quickstart_script()));
    assert!(statements.len() >= 8, "the quick start looks truncated: {statements:?}");
    let mut env = Env::new();
    let mut log = Vec::new();
    for statement in &statements {
        match statement {
            Statement::Assign(name, value) => {
                let v = expand(value, &env);
                env.insert(name.clone(), v);
            }
            Statement::Capture(name, commands) => {
                let out = run(&app, commands, &env, &mut log).await;
                assert!(!out.is_empty() && out != "null", "quick start: {name} came out empty ({log:?})");
                env.insert(name.clone(), out);
            }
            Statement::Run(commands) => {
                run(&app, commands, &env, &mut log).await;
            }
        }
    }
    // The walkthrough did what the README says it does.
    assert_eq!(env["API"], format!("{README_ORIGIN}/api/v1"));
    let officer = env["OFFICER"].clone();
    let declaration = app.get(&format!("/api/v1/declarations/{}", env["DECL"]), Some(&officer)).await.expect(200);
    assert_eq!(declaration.str("/status"), "approved");
    assert_eq!(declaration.str("/risk_lane"), "green");
    let booking = app.get(&format!("/api/v1/bookings/{}", env["BOOKING"]), Some(&officer)).await.expect(200);
    assert_eq!(booking.str("/status"), "checked_in");
    assert_eq!(booking.str("/slot_id"), env["SLOT"]);
    assert_eq!(booking.str("/vehicle/plate"), "01KZ777ABC");
    assert_eq!(booking.body["containers"], json!(["CSQU3054383"]));
    let expected = [
        "POST /api/v1/auth/login",
        "GET /api/v1/sites",
        "POST /api/v1/declarations",
        "POST /api/v1/declarations/{DECL}/submit",
        "GET /api/v1/slots?",
        "POST /api/v1/bookings",
        "GET /api/v1/bookings/{BOOKING}",
        "POST /api/v1/auth/login",
        "POST /api/v1/declarations/{DECL}/approve",
        "POST /api/v1/gate/scan",
    ];
    assert_eq!(log.len(), expected.len(), "{log:?}");
    for (line, want) in log.iter().zip(expected) {
        let want = want.replace("{DECL}", &env["DECL"]).replace("{BOOKING}", &env["BOOKING"]);
        assert!(line.starts_with(&want), "quick start step {line:?}, expected {want:?}");
    }
}

// The README starts its server with the arrival window widened, so that the
// gate can be tried at once; so does this test (and checks the README says so).
api_tests!(the_readme_quick_start_works with |s| s.booking.arrival_early_minutes = 1440);

#[test]
fn the_interpreter_reads_shell_quoting_like_the_shell() {
    let tokens = lex("X=$(curl -fsS \"$API/a\" -d '{\"id\": \"'\"$ID\"'\"}' \\\n  | jq -r '.items[0].id') # note\n");
    let statements = parse(&tokens);
    let Statement::Capture(name, commands) = &statements[0] else { panic!("{statements:?}") };
    assert_eq!(name, "X");
    let env: Env = [("API".to_owned(), "http://h".to_owned()), ("ID".to_owned(), "7".to_owned())].into();
    let words: Vec<String> = commands[0].iter().map(|w| expand(w, &env)).collect();
    assert_eq!(words, ["curl", "-fsS", "http://h/a", "-d", "{\"id\": \"7\"}"]);
    let jq_words: Vec<String> = commands[1].iter().map(|w| expand(w, &env)).collect();
    assert_eq!(jq_words, ["jq", "-r", ".items[0].id"]);
    let v: Value = serde_json::json!({"items": [{"code": "A", "id": 1}, {"code": "B", "id": 2}]});
    assert_eq!(jq(".items[] | select(.code == \"B\") | .id", vec![v.clone()]), [serde_json::json!(2)]);
    assert_eq!(jq(".items[0].code", vec![v.clone()]), [serde_json::json!("A")]);
    assert_eq!(jq(".items[1] | {code}", vec![v]), [serde_json::json!({"code": "B"})]);
}

/// The binary as a new user runs it: test profile unless `envs` says otherwise.
fn clearway(envs: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_clearway"));
    cmd.env("CLEARWAY_PROFILE", "test").env_remove("CLEARWAY__SERVER__PORT").env_remove("CLEARWAY__AUTH__JWT_SECRET");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn an_unknown_profile_is_named_with_the_valid_ones() {
    let out = clearway(&[("CLEARWAY_PROFILE", "prod")]).arg("migrate").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CLEARWAY_PROFILE=\"prod\" is not a profile (did you mean production?)"), "{err}");
    assert!(err.contains("valid profiles: development, test, production"), "{err}");
    assert!(!err.contains("JWT"), "{err}");
}

#[test]
fn a_taken_port_is_named_with_the_variable_that_changes_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let out = clearway(&[("CLEARWAY__SERVER__PORT", &port), ("CLEARWAY__DATABASE__URL", &url)])
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{err}");
    assert!(err.contains("CLEARWAY__SERVER__PORT"), "{err}");
}

#[test]
fn create_supervisor_without_a_name_accepts_customs_and_supervisor_in_the_password() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let create = |args: &[&str], password: &str| {
        let mut child = clearway(&[("CLEARWAY__DATABASE__URL", &url)])
            .arg("create-supervisor")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = create(&["--email", "chief@customs.example"], "customs-supervisor-2026");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = create(&["--email", "deputy@customs.example", "--display-name", "Marta Kowalska"], "marta-border-2026");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must not contain your name (--display-name \"Marta Kowalska\")"), "{err}");
}
