//! OSV records arranged for matching: by ecosystem release (`Debian:12`) and package name, only
//! what matching reads, serializable so it is built once per database and cached by the
//! database's digest ([`crate::database`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::distro::Distro;
use crate::osv::{Event, Record, severity_of};
use crate::severity::Severity;

/// The cache format; a cache of another format is rebuilt.
pub const FORMAT: u32 = 1;

/// What a finding says about its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
}

/// One `affected` entry of one record, for one package of one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Index into [`Index::advisories`].
    pub advisory: u32,
    /// The record's own ecosystem string (`Ubuntu:22.04:LTS`).
    pub ecosystem: String,
    /// Each ECOSYSTEM range's events.
    pub ranges: Vec<Vec<Event>>,
    /// Exact affected versions.
    pub versions: Vec<String>,
    pub severity: Severity,
    pub severity_source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub format: u32,
    /// The database's digest ([`crate::database::digest`]).
    pub digest: String,
    /// Records read (withdrawn ones are left out).
    pub records: usize,
    pub advisories: Vec<Advisory>,
    /// ecosystem release → package name → entries.
    pub packages: HashMap<String, HashMap<String, Vec<Entry>>>,
}

impl Index {
    pub fn new(digest: &str) -> Index {
        Index {
            format: FORMAT,
            digest: digest.to_string(),
            ..Index::default()
        }
    }

    /// Adds one record (withdrawn records are left out).
    pub fn add(&mut self, record: Record) {
        if record.withdrawn.is_some() {
            return;
        }
        self.records += 1;
        let advisory = self.advisories.len() as u32;
        let mut added = false;
        for a in &record.affected {
            let Some(pkg) = &a.package else { continue };
            let ranges: Vec<Vec<Event>> = a
                .ranges
                .iter()
                .filter(|r| r.kind == "ECOSYSTEM")
                .map(|r| r.events.clone())
                .collect();
            if ranges.is_empty() && a.versions.is_empty() {
                continue;
            }
            let (severity, severity_source) = severity_of(&record, a);
            self.packages
                .entry(Distro::key_of(&pkg.ecosystem).to_string())
                .or_default()
                .entry(pkg.name.clone())
                .or_default()
                .push(Entry {
                    advisory,
                    ecosystem: pkg.ecosystem.clone(),
                    ranges,
                    versions: a.versions.clone(),
                    severity,
                    severity_source,
                });
            added = true;
        }
        if added {
            self.advisories.push(Advisory {
                id: record.id,
                aliases: record.aliases,
                summary: record.summary,
            });
        }
    }

    /// The entries for `name` in `distro`'s release.
    pub fn lookup(&self, distro: &Distro, name: &str) -> &[Entry] {
        self.packages
            .get(&distro.ecosystem)
            .and_then(|m| m.get(name))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every entry, for a scan without the index (the benchmark's baseline).
    pub fn all(&self) -> impl Iterator<Item = (&str, &str, &Entry)> {
        self.packages.iter().flat_map(|(eco, m)| {
            m.iter().flat_map(move |(name, es)| {
                es.iter().map(move |e| (eco.as_str(), name.as_str(), e))
            })
        })
    }

    pub fn advisory(&self, e: &Entry) -> &Advisory {
        &self.advisories[e.advisory as usize]
    }
}
