//! The documentation the Packer integrations registry reads from a plugin's repository, the
//! `.web-docs/` directory, generated from the same typed description as the ConfigSpec and
//! `packer-plugin-NAME docs` (`packer-plugin-NAME docs --web-docs DIR` writes it).
//!
//! The layout (hashicorp/integration-template `README.md`; hashicorp/packer-plugin-scaffolding
//! `.web-docs/`, its `compile-to-webdocs.sh` and release workflow):
//!
//! ```text
//! .web-docs/metadata.hcl                          integration { name, description, identifier,
//!                                                 docs, license, component { type name slug } }
//! .web-docs/README.md                             the integration's page (no H1: the site adds it)
//! .web-docs/components/<type>/<slug>/README.md    one page per component, starting with H2s
//! ```
//!
//! `<type>` is the registry's component type (`provisioner`, `post-processor`; the registry also
//! knows `builder` and `data-source`, which this SDK does not serve), `<slug>` the name a
//! component is registered under, and the identifier `packer/<org>/<name>` from the plugin's
//! source `github.com/<org>/<name>`. This module owns the integration-level metadata a plugin
//! supplies ([`Integration`], [`Page`]), the rendering of those files ([`render`]) and writing
//! them ([`write`]); [`prose`] turns a component's hand-written page into registry Markdown and
//! [`reference`] renders its attributes.

pub mod prose;
pub mod reference;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::invocation::Kind;
use crate::plugin::{Component, Plugin};

/// What the registry shows about the plugin as a whole; the plugin supplies it
/// ([`Plugin::integration`]).
#[derive(Debug, Clone)]
pub struct Integration {
    /// The integration's display name (`metadata.hcl` `name`).
    pub title: &'static str,
    /// A one-sentence description (`metadata.hcl` `description`, and the README's opening).
    pub description: &'static str,
    /// The repository's web address, `https://github.com/ORG/REPO`: the `external_url`, and the
    /// base of every relative link in the pages.
    pub repository: &'static str,
    /// The branch or tag relative links point at.
    pub git_ref: &'static str,
    /// SPDX license id (`metadata.hcl` `license { type }`), if any.
    pub license: Option<&'static str>,
    /// Where `packer-plugin-NAME docs` output is committed (`docs/reference.md`): links to one of
    /// its component sections lead to that component's Configuration Reference instead.
    pub reference_path: Option<&'static str>,
    /// Hand-written pages of components; a component without one gets a page of its attributes.
    pub pages: Vec<Page>,
}

/// A component's hand-written page, kept once in the repository (e.g.
/// `docs/components/NAME.md`, embedded with `include_str!`).
///
/// Its H1 is dropped (the registry titles the page with `title`), its first paragraph is the
/// component's summary in the integration README, and the generated Configuration Reference goes
/// where a line equal to [`prose::REFERENCE_MARKER`] stands (or at the end).
#[derive(Debug, Clone)]
pub struct Page {
    pub kind: Kind,
    /// The name the component is registered under; also its registry slug.
    pub name: &'static str,
    /// The registry's name of the component (`metadata.hcl` `component { name }`, the page's H1).
    pub title: &'static str,
    /// The Markdown's path in the repository, to resolve its relative links.
    pub path: &'static str,
    pub markdown: &'static str,
}

/// Why `.web-docs` could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "packer-plugin-{0} declares no integration metadata (Plugin::integration); nothing to write"
    )]
    NoIntegration(String),
    #[error("the page for {kind} {name:?} names a component this plugin does not register")]
    UnknownComponent { kind: &'static str, name: String },
    #[error("two pages for {kind} {name:?}")]
    DuplicatePage { kind: &'static str, name: String },
    #[error(
        "plugin source {0:?} is not HOST/ORG/NAME (e.g. github.com/ORG/NAME); the registry identifier is packer/ORG/NAME"
    )]
    Source(String),
    #[error("{page}: link {target:?} leads outside the repository")]
    Link { page: String, target: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One generated file: its path under the `.web-docs` directory and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebDoc {
    pub path: PathBuf,
    pub contents: String,
}

/// The registry's name of a component type, also the folder under `components/`.
pub fn component_type(kind: Kind) -> &'static str {
    kind.as_str()
}

/// What every page needs to know about the plugin.
pub(crate) struct Site<'a> {
    pub plugin: &'a Plugin,
    pub integration: &'a Integration,
    /// `ORG/NAME` of the plugin's source.
    pub org_name: String,
}

impl Site<'_> {
    /// The registry's address of a component's page (site-relative, as upstream READMEs link).
    pub fn component_url(&self, kind: Kind, name: &str) -> String {
        format!(
            "/packer/integrations/{}/latest/components/{}/{name}",
            self.org_name,
            component_type(kind)
        )
    }

    pub fn page(&self, c: &Component) -> Option<&Page> {
        self.integration
            .pages
            .iter()
            .find(|p| p.kind == c.kind && p.name == c.name)
    }
}

/// Every file of the `.web-docs` directory of `plugin`, in path order.
pub fn render(plugin: &Plugin) -> Result<Vec<WebDoc>, Error> {
    let integration = plugin
        .integration_metadata()
        .ok_or_else(|| Error::NoIntegration(plugin.name.to_string()))?;
    let site = Site {
        plugin,
        integration,
        org_name: org_name(plugin.source)?,
    };
    check_pages(&site)?;
    let mut files = vec![
        WebDoc {
            path: "metadata.hcl".into(),
            contents: metadata(&site),
        },
        WebDoc {
            path: "README.md".into(),
            contents: readme(&site)?,
        },
    ];
    for c in plugin.components() {
        files.push(WebDoc {
            path: component_readme_path(c.kind, c.name),
            contents: prose::component_page(&site, c)?,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// `components/<type>/<slug>/README.md`.
pub fn component_readme_path(kind: Kind, name: &str) -> PathBuf {
    ["components", component_type(kind), name, "README.md"]
        .iter()
        .collect()
}

/// Writes [`render`]'s files under `dir` and removes component pages there that no longer
/// belong to a component (only `components/*/*/README.md`; nothing else is touched). Returns
/// the paths written.
pub fn write(plugin: &Plugin, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let files = render(plugin)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let mut written = Vec::new();
    for f in &files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, &f.contents).map_err(io(&path))?;
        written.push(path);
    }
    let keep: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    prune(dir, &keep)?;
    Ok(written)
}

/// Removes `components/<type>/<slug>/README.md` files not in `keep`, and folders they leave empty.
fn prune(dir: &Path, keep: &BTreeSet<PathBuf>) -> Result<(), Error> {
    let read = |p: &Path| -> Result<Vec<PathBuf>, Error> {
        match std::fs::read_dir(p) {
            Ok(rd) => Ok(rd.filter_map(|e| e.ok().map(|e| e.path())).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(Error::Io {
                path: p.to_path_buf(),
                source,
            }),
        }
    };
    for ty in read(&dir.join("components"))? {
        for slug in read(&ty)? {
            let readme = slug.join("README.md");
            let rel = readme.strip_prefix(dir).unwrap_or(&readme).to_path_buf();
            if readme.is_file() && !keep.contains(&rel) {
                std::fs::remove_file(&readme).map_err(|source| Error::Io {
                    path: readme.clone(),
                    source,
                })?;
                // only empty folders go; anything else someone put there stays
                let _ = std::fs::remove_dir(&slug);
            }
        }
        let _ = std::fs::remove_dir(&ty);
    }
    Ok(())
}

/// `ORG/NAME` from `HOST/ORG/NAME`.
fn org_name(source: &str) -> Result<String, Error> {
    let parts: Vec<&str> = source.split('/').collect();
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    match parts.as_slice() {
        [host, org, name] if ok(host) && ok(org) && ok(name) => Ok(format!("{org}/{name}")),
        _ => Err(Error::Source(source.to_string())),
    }
}

fn check_pages(site: &Site) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for p in &site.integration.pages {
        let kind = component_type(p.kind);
        if !site
            .plugin
            .components()
            .any(|c| c.kind == p.kind && c.name == p.name)
        {
            return Err(Error::UnknownComponent {
                kind,
                name: p.name.to_string(),
            });
        }
        if !seen.insert((kind, p.name)) {
            return Err(Error::DuplicatePage {
                kind,
                name: p.name.to_string(),
            });
        }
    }
    Ok(())
}

/// An HCL quoted string: `"`, `\` and template sequences escaped.
fn hcl_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(ch),
        }
    }
    // `${` and `%{` start template sequences in HCL strings; `$${` / `%%{` are the literals
    let out = out.replace("${", "$${").replace("%{", "%%{");
    out + "\""
}

fn metadata(site: &Site) -> String {
    let i = site.integration;
    let mut out = format!(
        "# The Packer integrations registry's metadata for packer-plugin-{p}\n\
         # (layout: https://github.com/hashicorp/integration-template#metadata-configuration).\n\
         # Generated by `packer-plugin-{p} docs --web-docs .web-docs`; do not edit.\n\
         integration {{\n  name = {}\n  description = {}\n  identifier = {}\n",
        hcl_string(i.title),
        hcl_string(i.description),
        hcl_string(&format!("packer/{}", site.org_name)),
        p = site.plugin.name,
    );
    let _ = write!(
        out,
        "  docs {{\n    process_docs = true\n    readme_location = \"./README.md\"\n    external_url = {}\n  }}\n",
        hcl_string(i.repository)
    );
    if let Some(license) = i.license {
        let _ = writeln!(
            out,
            "  license {{\n    type = {}\n  }}",
            hcl_string(license)
        );
    }
    for c in site.plugin.components() {
        let title = match site.page(c) {
            Some(p) => p.title.to_string(),
            None => format!("{}-{}", site.plugin.name, c.name),
        };
        let _ = writeln!(
            out,
            "  component {{\n    type = {}\n    name = {}\n    slug = {}\n  }}",
            hcl_string(component_type(c.kind)),
            hcl_string(&title),
            hcl_string(c.name)
        );
    }
    out.push_str("}\n");
    out
}

fn readme(site: &Site) -> Result<String, Error> {
    let (p, i) = (site.plugin, site.integration);
    let mut out = format!(
        "<!-- Generated by `packer-plugin-{name} docs --web-docs .web-docs`; do not edit. -->\n\n\
         {description}\n\n\
         ### Installation\n\n\
         To install this plugin, add it to `required_plugins` in your Packer configuration, then run\n\
         [`packer init`](https://developer.hashicorp.com/packer/docs/commands/init).\n\n\
         ```hcl\npacker {{\n  required_plugins {{\n    {name} = {{\n      source  = \"{source}\"\n      version = \">= {version}\"\n    }}\n  }}\n}}\n```\n\n\
         Alternatively, install it with `packer plugins install`:\n\n\
         ```sh\npacker plugins install {source}\n```\n\n\
         ### Components\n",
        name = p.name,
        description = i.description,
        source = p.source,
        version = p.version,
    );
    for (kind, heading) in [
        (Kind::Provisioner, "Provisioners"),
        (Kind::PostProcessor, "Post-processors"),
    ] {
        let components: Vec<&Component> = p.components().filter(|c| c.kind == kind).collect();
        if components.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n#### {heading}\n");
        for c in components {
            let summary = prose::summary(site, c)?;
            let _ = write!(
                out,
                "- [`{}-{}`]({})",
                p.name,
                c.name,
                site.component_url(c.kind, c.name)
            );
            if !summary.is_empty() {
                let _ = write!(out, " - {summary}");
            }
            out.push('\n');
        }
    }
    let _ = write!(
        out,
        "\nSource, issues and further documentation: <{}>.\n",
        i.repository
    );
    Ok(out)
}

#[cfg(test)]
mod tests;
