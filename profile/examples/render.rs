//! Prints the script a profile compiles to: `cargo run -p amiforge-profile --example render --
//! linux-baseline enforce [param=value ...]`. Handy for reviewing what a profile will run.

use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(mode)) = (args.first(), args.get(1)) else {
        eprintln!("usage: render PROFILE enforce|audit [param=value ...]");
        std::process::exit(2);
    };
    let mode = match mode.as_str() {
        "enforce" => amiforge_profile::Mode::Enforce,
        "audit" => amiforge_profile::Mode::Audit,
        other => {
            eprintln!("mode must be enforce or audit, not {other:?}");
            std::process::exit(2);
        }
    };
    let params: BTreeMap<String, String> = args[2..]
        .iter()
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let loaded = match amiforge_profile::load(name) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match amiforge_profile::resolve(&loaded, mode, &[], &params) {
        Ok(r) => print!("{}", amiforge_profile::compile::compile(&r).text),
        Err(errs) => {
            for e in errs {
                eprintln!("{e}");
            }
            std::process::exit(2);
        }
    }
}
