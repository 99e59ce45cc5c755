//! What an embedder compiles: the library with `default-features = false` pulls in no
//! command-line, HTTP, async or SQLite crate, and each feature adds only its own stack.

use std::collections::BTreeSet;
use std::process::Command;

/// The crate names of sahaya's normal (non-dev, non-build) dependency tree with `features`.
fn tree(features: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "tree",
        "--locked",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--no-default-features",
    ]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

const CLI: &[&str] = &["clap", "anyhow"];
const SERVER: &[&str] = &["axum", "tokio", "hyper", "tracing-subscriber", "ureq"];
const STATE: &[&str] = &["rusqlite", "libsqlite3-sys"];
const MAIL: &[&str] = &["mail-parser", "mail-builder"];
const POSTGRES: &[&str] = &["postgres", "tokio-postgres", "r2d2", "r2d2_postgres"];

fn assert_without(tree: &BTreeSet<String>, crates: &[&str], features: &str) {
    for c in crates {
        assert!(!tree.contains(*c), "{c} is compiled with {features}");
    }
}

fn assert_with(tree: &BTreeSet<String>, crates: &[&str], features: &str) {
    for c in crates {
        assert!(tree.contains(*c), "{c} is missing with {features}");
    }
}

#[test]
fn the_bare_library_has_no_cli_http_or_sqlite_crates() {
    let bare = tree(&[]);
    assert!(bare.contains("tantivy") && bare.contains("fluent-bundle"));
    for group in [CLI, SERVER, STATE, MAIL, POSTGRES] {
        assert_without(&bare, group, "no features");
    }
}

#[test]
fn each_feature_adds_only_its_own_stack() {
    let state = tree(&["state"]);
    assert_with(&state, STATE, "state");
    assert_without(&state, SERVER, "state");
    assert_without(&state, CLI, "state");
    assert_without(&state, MAIL, "state");
    assert_without(&state, POSTGRES, "state");

    let mail = tree(&["mail"]);
    assert_with(&mail, MAIL, "mail");
    assert_with(&mail, STATE, "mail");
    assert_without(&mail, SERVER, "mail");
    assert_without(&mail, CLI, "mail");

    let server = tree(&["server"]);
    assert_with(&server, SERVER, "server");
    assert_without(&server, CLI, "server");
    assert_without(&server, POSTGRES, "server");

    // PostgreSQL brings its client (on tokio) and the pool, not the HTTP server or mail.
    let pg = tree(&["postgres"]);
    assert_with(&pg, POSTGRES, "postgres");
    assert_with(&pg, STATE, "postgres");
    assert_without(
        &pg,
        &["axum", "hyper", "tracing-subscriber", "ureq"],
        "postgres",
    );
    assert_without(&pg, MAIL, "postgres");
    assert_without(&pg, CLI, "postgres");

    let cli = tree(&["cli"]);
    assert_with(&cli, CLI, "cli");
    assert_without(&cli, SERVER, "cli");
    assert_without(&cli, STATE, "cli");
}
