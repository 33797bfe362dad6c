//! Prints what a profile compiles to, for review:
//!
//! * `render PROFILE enforce|audit [param=value ...] [only=CONTROL_ID]`: the script
//!   (`only=` keeps one control: the per-control scripts `bench/harden.sh` compares against);
//! * `render --docs PROFILE`: the profile's Markdown documentation (docs/profiles/).
//!
//! Run with `cargo run -p amiforge-profile --example render -- ARGS`.

use std::collections::BTreeMap;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}

fn load(name: &str) -> amiforge_profile::load::Loaded {
    amiforge_profile::load(name).unwrap_or_else(|e| fail(e))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--docs") {
        let name = args
            .get(1)
            .unwrap_or_else(|| fail("usage: render --docs PROFILE"));
        print!("{}", amiforge_profile::docs::markdown(&load(name)));
        return;
    }
    let (Some(name), Some(mode)) = (args.first(), args.get(1)) else {
        fail("usage: render PROFILE enforce|audit [param=value ...] [only=CONTROL_ID]");
    };
    let mode = match mode.as_str() {
        "enforce" => amiforge_profile::Mode::Enforce,
        "audit" => amiforge_profile::Mode::Audit,
        other => fail(format!("mode must be enforce or audit, not {other:?}")),
    };
    let mut only = None;
    let mut params = BTreeMap::new();
    for a in &args[2..] {
        let Some((k, v)) = a.split_once('=') else {
            fail(format!("{a:?}: expected name=value"));
        };
        if k == "only" {
            only = Some(v.to_string());
        } else {
            params.insert(k.to_string(), v.to_string());
        }
    }
    let mut r = match amiforge_profile::resolve(&load(name), mode, &[], &params) {
        Ok(r) => r,
        Err(errs) => fail(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    };
    if let Some(id) = &only {
        r.controls.retain(|p| &p.control.id == id);
        if r.controls.is_empty() {
            fail(format!("no control {id:?}"));
        }
    }
    print!("{}", amiforge_profile::compile::compile(&r).text);
}
