//! What `bench/scan.sh` times: one SBOM against one OSV database, the way `amiforge-validator
//! scan` does it (index built, then read from the cache by digest, then one lookup per package)
//! beside a naive linear scan over every record for every package. Prints one JSON object.
//!
//!     cargo run --release -p amiforge-scan --example scan_bench -- DB SBOM CACHE_DIR

use std::path::PathBuf;
use std::time::Instant;

use amiforge_scan::database::load;
use amiforge_scan::inventory::from_cyclonedx;
use amiforge_scan::matcher::{Matcher, OsvMatcher};

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [db, sbom, cache] = args.as_slice() else {
        eprintln!("usage: scan_bench DB SBOM CACHE_DIR");
        std::process::exit(2);
    };
    let t = Instant::now();
    let inv = match std::fs::read(sbom)
        .map_err(|e| e.to_string())
        .and_then(|b| from_cyclonedx(&b).map_err(|e| e.to_string()))
    {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{}: {e}", sbom.display());
            std::process::exit(2);
        }
    };
    let read_sbom = ms(t);
    let _ = std::fs::remove_dir_all(cache);
    let t = Instant::now();
    let cold = load(db, Some(cache)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let build = ms(t);
    let t = Instant::now();
    let warm = load(db, Some(cache)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let cached_load = ms(t);
    assert!(warm.cached && !cold.cached);
    let m = OsvMatcher { index: &warm.index };
    let t = Instant::now();
    let indexed = m.find(&inv.packages).unwrap_or_default();
    let indexed_ms = ms(t);
    let t = Instant::now();
    let linear = m.find_linear(&inv.packages);
    let linear_ms = ms(t);
    println!(
        "{}",
        serde_json::json!({
            "records": warm.index.records,
            "packages": inv.packages.len(),
            "findings": indexed.len(),
            "same_findings": indexed == linear,
            "read_sbom_ms": read_sbom,
            "index_build_ms": build,
            "index_cached_load_ms": cached_load,
            "match_indexed_ms": indexed_ms,
            "scan_warm_total_ms": read_sbom + cached_load + indexed_ms,
            "match_linear_ms": linear_ms,
        })
    );
}
