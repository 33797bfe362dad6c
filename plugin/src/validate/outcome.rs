//! What the gate's verdict does to the release. Passed: every AMI is tagged
//! `amiforge:validation = passed` (+ the run id and the user's `validated_tags`) and, if
//! configured, the "approved" SSM parameter in each region moves to that region's AMI. Not passed:
//! the pointer never moves; the AMIs are deleted with their snapshots (default), or kept for
//! debugging, tagged `amiforge:validation = failed` and deprecated now, so a failed AMI never
//! looks approved.

use std::collections::BTreeMap;
use std::time::SystemTime;

use amiforge_aws::client::Clients;
use amiforge_aws::images;

/// Tag carrying the gate's result on every AMI (and snapshot) it judged.
pub const VALIDATION: &str = "amiforge:validation";
/// Tag carrying the validator run that judged it.
pub const VALIDATION_RUN: &str = "amiforge:validation-run";

/// One AMI of the release and its snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub region: String,
    pub ami: String,
    pub snapshots: Vec<String>,
}

/// The release's images: from the replicate manifest when there is one (snapshots included),
/// else from `region:ami` pairs (snapshots looked up).
pub async fn images(
    clients: &Clients,
    manifest: Option<&amiforge_model::manifest::Manifest>,
    amis: &BTreeMap<String, String>,
) -> Vec<Image> {
    let mut out = Vec::new();
    for (region, ami) in amis {
        let snapshots = match manifest.and_then(|m| m.regions.get(region)) {
            Some(r) if &r.ami == ami => r.snapshots.clone(),
            _ => images::describe(clients, region, ami)
                .await
                .ok()
                .flatten()
                .map(|i| i.snapshots.into_iter().map(|s| s.id).collect())
                .unwrap_or_default(),
        };
        out.push(Image {
            region: region.clone(),
            ami: ami.clone(),
            snapshots,
        });
    }
    out
}

/// Tags every image as validated and moves the approved pointer; returns one line per change.
pub async fn promote(
    clients: &Clients,
    images: &[Image],
    run_id: &str,
    extra_tags: &BTreeMap<String, String>,
    approved_parameter: Option<&str>,
) -> Result<Vec<String>, String> {
    let mut t = extra_tags.clone();
    t.insert(VALIDATION.into(), "passed".into());
    t.insert(VALIDATION_RUN.into(), run_id.into());
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    // tags first everywhere: the pointer only moves once every AMI says it passed
    for i in images {
        let mut res = vec![i.ami.clone()];
        res.extend(i.snapshots.iter().cloned());
        match images::tag(clients, &i.region, &res, &t).await {
            Ok(()) => lines.push(format!(
                "{}: {} tagged {VALIDATION}=passed",
                i.region, i.ami
            )),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    if let Some(p) = approved_parameter {
        for i in images {
            match amiforge_aws::ssm::put_image_parameter(clients, &i.region, p, &i.ami).await {
                Ok(v) => lines.push(format!("{}: {p} -> {} (version {v})", i.region, i.ami)),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors.join("; "))
    }
}

/// A failed gate: delete the images (default) or keep them marked failed and deprecated.
/// Returns one line per image; errors name what is left.
pub async fn reject(
    clients: &Clients,
    images: &[Image],
    run_id: &str,
    keep: bool,
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for i in images {
        if keep {
            let t = BTreeMap::from([
                (VALIDATION.to_string(), "failed".to_string()),
                (VALIDATION_RUN.to_string(), run_id.to_string()),
            ]);
            let mut res = vec![i.ami.clone()];
            res.extend(i.snapshots.iter().cloned());
            let r = async {
                images::tag(clients, &i.region, &res, &t).await?;
                images::deprecate(clients, &i.region, &i.ami, SystemTime::now()).await
            }
            .await;
            match r {
                Ok(()) => lines.push(format!(
                    "{}: kept {} (tagged {VALIDATION}=failed, deprecated now)",
                    i.region, i.ami
                )),
                Err(e) => errors.push(format!("{} in {}: {e}", i.ami, i.region)),
            }
        } else {
            match images::delete(clients, &i.region, &i.ami, &i.snapshots).await {
                Ok(()) => lines.push(format!(
                    "{}: deleted {} and {} snapshot(s)",
                    i.region,
                    i.ami,
                    i.snapshots.len()
                )),
                Err(e) => errors.push(format!("{} in {}: {e}", i.ami, i.region)),
            }
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors.join("; "))
    }
}
