//! How Packer started us, decided from argv, the executable's name and the environment.
//!
//! | invocation | who does it | handshake |
//! |---|---|---|
//! | `describe` | every Packer that finds a `packer-plugin-*` binary | none (JSON on stdout) |
//! | `--version`, `docs` | people, packaging scripts | none (text on stdout) |
//! | `start KIND NAME` with `--protobuf` anywhere | Packer >= 1.12 | 4-part `5\|0\|unix\|PATH` |
//! | `start KIND NAME` from `packer-plugin-NAME_vX.Y.Z_x5.0_OS_ARCH` | Packer >= 1.7 (installed) | 4-part |
//! | `start KIND NAME` from an unversioned `packer-plugin-NAME` | Packer 1.6 multi-component | 3-part `5\|unix\|PATH` |
//! | no arguments, named `packer-provisioner-X` / `packer-post-processor-X` | Packer 1.6 single-component link | 3-part |
//!
//! `PACKER_SDK_HANDSHAKE=3` or `=4` overrides the choice (e.g. Packer 1.7–1.10 with an unversioned
//! binary). Packer 1.6 rejects the 4-part line and modern Packer the 3-part one, so no single line
//! serves both (protocol notes §1.4; packer v1.6.6 `packer/plugin/client.go`, packer v1.12+
//! `packer/plugin_client.go`).

/// Component kinds Packer can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Provisioner,
    PostProcessor,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Provisioner => "provisioner",
            Kind::PostProcessor => "post-processor",
        }
    }
}

/// The handshake line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// `5|unix|PATH`, Packer <= 1.6.
    Legacy,
    /// `5|0|unix|PATH`, Packer >= 1.7.
    Modern,
}

impl Handshake {
    /// The line announcing a unix socket at `path`.
    pub fn line(self, path: &str) -> String {
        match self {
            Handshake::Legacy => format!("5|unix|{path}"),
            Handshake::Modern => format!("5|0|unix|{path}"),
        }
    }
}

/// What this process has been asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Describe,
    /// `docs`: print the Markdown reference of every component.
    Docs,
    /// `--version` / `version`: one line for people and packaging scripts (Packer itself reads
    /// `describe`).
    Version,
    /// `docs --web-docs DIR`: write the Packer integrations registry's pages (`.web-docs`) to DIR.
    WebDocs(std::path::PathBuf),
    Start {
        kind: Kind,
        /// Component name as Packer gave it (for links: the part after `packer-KIND-`).
        name: String,
        protobuf: bool,
        handshake: Handshake,
        /// Started through a single-component link: `name` may carry the plugin prefix.
        legacy_link: bool,
    },
    /// Not a Packer invocation; the message says why.
    Usage(String),
}

/// Decides from `args` (without argv[0]), the executable's base name and the
/// `PACKER_SDK_HANDSHAKE` value.
pub fn parse(args: &[String], exe_name: &str, handshake_env: Option<&str>) -> Invocation {
    let protobuf = args.iter().any(|a| a == "--protobuf");
    let rest: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--protobuf")
        .collect();
    let base = exe_name.strip_suffix(".exe").unwrap_or(exe_name);
    let forced = match handshake_env.map(str::trim) {
        Some("3") | Some("legacy") => Some(Handshake::Legacy),
        Some("4") | Some("modern") => Some(Handshake::Modern),
        _ => None,
    };
    match rest.as_slice() {
        ["describe", ..] => Invocation::Describe,
        ["docs"] => Invocation::Docs,
        ["--version"] | ["-V"] | ["version"] => Invocation::Version,
        ["docs", "--web-docs", dir] => Invocation::WebDocs(dir.into()),
        ["docs", "--web-docs"] => Invocation::Usage(
            "docs --web-docs needs the directory to write, e.g. `docs --web-docs .web-docs`".into(),
        ),
        ["start", kind, name] => {
            let kind = match *kind {
                "provisioner" | "provisioners" => Kind::Provisioner,
                "post-processor" | "post-processors" => Kind::PostProcessor,
                other => {
                    return Invocation::Usage(format!(
                        "cannot start a {other:?}: this plugin serves provisioners and post-processors"
                    ));
                }
            };
            let handshake = forced.unwrap_or(if protobuf || is_versioned_name(base) {
                Handshake::Modern
            } else {
                Handshake::Legacy
            });
            Invocation::Start {
                kind,
                name: name.to_string(),
                protobuf,
                handshake,
                legacy_link: false,
            }
        }
        [] => {
            let link = [
                ("packer-provisioner-", Kind::Provisioner),
                ("packer-post-processor-", Kind::PostProcessor),
            ]
            .into_iter()
            .find_map(|(p, k)| base.strip_prefix(p).map(|n| (k, n)));
            match link {
                Some((kind, name)) if !name.is_empty() => Invocation::Start {
                    kind,
                    name: name.to_string(),
                    protobuf,
                    handshake: forced.unwrap_or(Handshake::Legacy),
                    legacy_link: true,
                },
                _ => Invocation::Usage(String::new()),
            }
        }
        other => Invocation::Usage(format!("unknown arguments: {}", other.join(" "))),
    }
}

/// `packer-plugin-NAME_vX.Y.Z[-dev]_x5.0_OS_ARCH`: the name modern Packer installs a plugin
/// under (packer v1.12+ `packer/plugin-getter/plugins.go`).
pub fn is_versioned_name(base: &str) -> bool {
    let Some(rest) = base.strip_prefix("packer-plugin-") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('_').collect();
    if parts.len() != 5 || parts[0].is_empty() {
        return false;
    }
    let version_ok = parts[1]
        .strip_prefix('v')
        .map(|v| {
            let core = v.split('-').next().unwrap_or("");
            let nums: Vec<&str> = core.split('.').collect();
            nums.len() == 3
                && nums
                    .iter()
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .unwrap_or(false);
    let api_ok = parts[2]
        .strip_prefix("x5.")
        .is_some_and(|m| m.bytes().all(|b| b.is_ascii_digit()));
    version_ok && api_ok && !parts[3].is_empty() && !parts[4].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn version_flags() {
        for v in ["--version", "-V", "version"] {
            assert_eq!(
                parse(&a(&[v]), "packer-plugin-x", None),
                Invocation::Version,
                "{v}"
            );
        }
        // not a start: a version flag after other arguments is an unknown argument
        assert!(matches!(
            parse(&a(&["start", "--version"]), "packer-plugin-x", None),
            Invocation::Usage(_)
        ));
    }

    #[test]
    fn describe_anywhere() {
        assert_eq!(
            parse(&a(&["describe"]), "packer-plugin-x", None),
            Invocation::Describe
        );
    }

    #[test]
    fn start_handshake_rules() {
        let start = |args: &[&str], exe: &str, env: Option<&str>| match parse(&a(args), exe, env) {
            Invocation::Start {
                handshake,
                protobuf,
                kind,
                name,
                ..
            } => (kind, name, protobuf, handshake),
            other => panic!("{other:?}"),
        };
        // Packer 1.6.6 multi-component: unversioned name, no flag
        assert_eq!(
            start(
                &["start", "provisioner", "run"],
                "packer-plugin-scaffold",
                None
            ),
            (Kind::Provisioner, "run".into(), false, Handshake::Legacy)
        );
        // Packer >= 1.12 puts --protobuf between kind and name (packer/plugin.go)
        assert_eq!(
            start(
                &["start", "post-processor", "--protobuf", "wrap"],
                "packer-plugin-scaffold",
                None
            ),
            (Kind::PostProcessor, "wrap".into(), true, Handshake::Modern)
        );
        // installed by `packer plugins install`: versioned name, gob (Packer 1.11 or PACKER_FORCE_GOB)
        assert_eq!(
            start(
                &["start", "provisioner", "run"],
                "packer-plugin-scaffold_v0.1.0_x5.0_linux_amd64",
                None
            )
            .3,
            Handshake::Modern
        );
        // env override both ways
        assert_eq!(
            start(
                &["start", "provisioner", "run"],
                "packer-plugin-scaffold",
                Some("4")
            )
            .3,
            Handshake::Modern
        );
        assert_eq!(
            start(
                &["start", "provisioner", "--protobuf", "run"],
                "x",
                Some("3")
            )
            .3,
            Handshake::Legacy
        );
    }

    #[test]
    fn legacy_links() {
        match parse(&[], "packer-provisioner-scaffold-run", None) {
            Invocation::Start {
                kind,
                name,
                handshake,
                legacy_link,
                ..
            } => {
                assert_eq!(
                    (kind, name.as_str(), handshake, legacy_link),
                    (Kind::Provisioner, "scaffold-run", Handshake::Legacy, true)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&[], "packer-post-processor-wrap.exe", None),
            Invocation::Start {
                kind: Kind::PostProcessor,
                ..
            }
        ));
        assert!(matches!(
            parse(&[], "packer-plugin-scaffold", None),
            Invocation::Usage(_)
        ));
        assert!(matches!(
            parse(
                &a(&["start", "builder", "x"]),
                "packer-plugin-scaffold",
                None
            ),
            Invocation::Usage(_)
        ));
    }

    #[test]
    fn docs_and_web_docs() {
        assert_eq!(
            parse(&a(&["docs"]), "packer-plugin-x", None),
            Invocation::Docs
        );
        assert_eq!(
            parse(
                &a(&["docs", "--web-docs", ".web-docs"]),
                "packer-plugin-x",
                None
            ),
            Invocation::WebDocs(".web-docs".into())
        );
        assert!(matches!(
            parse(&a(&["docs", "--web-docs"]), "packer-plugin-x", None),
            Invocation::Usage(why) if why.contains("needs the directory")
        ));
        assert!(matches!(
            parse(&a(&["docs", "--webdocs", "d"]), "packer-plugin-x", None),
            Invocation::Usage(_)
        ));
    }

    #[test]
    fn versioned_names() {
        assert!(is_versioned_name(
            "packer-plugin-amiforge_v0.1.0_x5.0_linux_amd64"
        ));
        assert!(is_versioned_name(
            "packer-plugin-amiforge_v1.2.3-dev_x5.0_darwin_arm64"
        ));
        assert!(!is_versioned_name("packer-plugin-amiforge"));
        assert!(!is_versioned_name(
            "packer-plugin-amiforge_v1.2_x5.0_linux_amd64"
        ));
        assert!(!is_versioned_name(
            "packer-plugin-amiforge_v1.2.3_x4.0_linux_amd64"
        ));
    }
}
