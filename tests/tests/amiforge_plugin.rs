//! The product binary `packer-plugin-amiforge`: it must describe exactly the components that
//! exist, explain itself when run by hand, and never disturb Packer 1.6.6, which runs
//! `describe` on every `packer-plugin-*` it finds.

use std::process::Command;

use amiforge_e2e::packer::Workdir;
use amiforge_e2e::{amiforge_bin, scaffold_bin};

#[test]
fn describe_lists_the_registered_components() {
    let out = Command::new(amiforge_bin())
        .arg("describe")
        .output()
        .unwrap();
    assert!(out.status.success());
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["api_version"], "x5.0");
    assert_eq!(d["protocol_version"], "v2");
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d["provisioners"], serde_json::json!(["harden", "sysprep"]));
    assert_eq!(
        d["post_processors"],
        serde_json::json!(["replicate", "validate"])
    );
    for k in ["builders", "datasources"] {
        assert_eq!(d[k], serde_json::json!([]), "{k}");
    }
}

#[test]
fn run_by_hand_it_explains_how_to_install() {
    let out = Command::new(amiforge_bin())
        .env_remove("PACKER_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "packer plugins install --path ./packer-plugin-amiforge github.com/amiforge/amiforge"
        ),
        "{err}"
    );
    assert!(err.contains("provisioners: amiforge-harden"), "{err}");
}

#[test]
fn packer_166_discovery_is_not_disturbed_by_the_plugin() {
    let w = Workdir::new();
    w.link(&amiforge_bin(), "packer-plugin-amiforge");
    w.link(&scaffold_bin(), "packer-plugin-scaffold");
    w.write(
        "t.pkr.hcl",
        "source \"null\" \"n\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.n\"]\n  post-processor \"scaffold-wrap\" {\n    note = \"with amiforge installed\"\n  }\n}\n",
    );
    w.packer(&["validate", "t.pkr.hcl"]).assert_ok();
    w.packer(&["build", "-color=false", "t.pkr.hcl"])
        .assert_ok()
        .assert_contains("(note: with amiforge installed)");
    // asking for a component amiforge does not have fails clearly in Packer
    w.write(
        "u.pkr.hcl",
        "source \"null\" \"n\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.n\"]\n  provisioner \"amiforge-teleport\" {}\n}\n",
    );
    w.packer(&["validate", "u.pkr.hcl"])
        .assert_failed()
        .assert_contains("amiforge-teleport");
}

#[test]
fn committed_reference_is_what_the_binary_generates() {
    // regenerate with `target/debug/packer-plugin-amiforge docs > docs/reference.md`
    let out = Command::new(amiforge_bin()).arg("docs").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(amiforge_e2e::workspace().join("docs/reference.md")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "docs/reference.md is stale"
    );
}

/// Every file under `root`, as paths relative to it.
fn files_under(root: &std::path::Path) -> std::collections::BTreeSet<std::path::PathBuf> {
    let mut out = std::collections::BTreeSet::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out
}

#[test]
fn committed_web_docs_are_what_the_binary_generates() {
    const REGENERATE: &str =
        "regenerate with `target/debug/packer-plugin-amiforge docs --web-docs .web-docs`";
    let tmp = tempfile::tempdir().unwrap();
    let generated = tmp.path().join("web-docs");
    let out = Command::new(amiforge_bin())
        .args(["docs", "--web-docs"])
        .arg(&generated)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = amiforge_e2e::workspace().join(".web-docs");
    let (want, have) = (files_under(&generated), files_under(&committed));
    // the registry's layout: metadata, the integration's README, a README per component
    let expected: Vec<&str> = vec![
        "README.md",
        "components/post-processor/replicate/README.md",
        "components/post-processor/validate/README.md",
        "components/provisioner/harden/README.md",
        "components/provisioner/sysprep/README.md",
        "metadata.hcl",
    ];
    let want_names: Vec<String> = want.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(want_names, expected);
    let missing: Vec<_> = want.difference(&have).collect();
    let extra: Vec<_> = have.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        ".web-docs is stale: missing {missing:?}, not generated {extra:?}; {REGENERATE}"
    );
    for rel in &want {
        let a = std::fs::read_to_string(generated.join(rel)).unwrap();
        let b = std::fs::read_to_string(committed.join(rel)).unwrap();
        if a != b {
            let len = a.lines().count().max(b.lines().count());
            let (n, (gen_line, com_line)) = a
                .lines()
                .chain(std::iter::repeat(""))
                .zip(b.lines().chain(std::iter::repeat("")))
                .take(len)
                .enumerate()
                .find(|(_, (x, y))| x != y)
                .unwrap_or((len, ("(end)", "(end, different line endings)")));
            panic!(
                ".web-docs/{} is stale (line {}: generated {gen_line:?}, committed {com_line:?}); {REGENERATE}",
                rel.display(),
                n + 1
            );
        }
    }
}
