//! What a dry run prints instead of copying: each region's copy with its key, the tags and who
//! the AMIs would be shared with (in words, via `Sharing`'s `Display`). Retention lists what it
//! would retire itself.

use amiforge_model::Sharing;

use super::plan::Target;

/// The plan's lines for the UI.
pub(super) fn lines(copies: &[Target], tag_count: usize, sharing: &Sharing) -> Vec<String> {
    copies
        .iter()
        .map(|t| {
            format!(
                "dry run: would copy to {} encrypted with {}",
                t.region,
                t.kms_key.as_deref().unwrap_or("the default EBS key")
            )
        })
        .chain(std::iter::once(format!(
            "dry run: would tag with {tag_count} tags, share with {sharing}"
        )))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_reads_as_words_not_rust_values() {
        let copies = [
            Target {
                region: "eu-west-1".into(),
                kms_key: Some("arn:aws:kms:eu-west-1:123456789012:key/k".into()),
            },
            Target {
                region: "us-west-2".into(),
                kms_key: None,
            },
        ];
        let sharing = Sharing {
            account_ids: vec!["111122223333".into()],
            ..Sharing::default()
        };
        assert_eq!(
            lines(&copies, 9, &sharing),
            [
                "dry run: would copy to eu-west-1 encrypted with arn:aws:kms:eu-west-1:123456789012:key/k",
                "dry run: would copy to us-west-2 encrypted with the default EBS key",
                "dry run: would tag with 9 tags, share with accounts 111122223333",
            ]
        );
        let nobody = lines(&[], 3, &Sharing::default());
        assert_eq!(
            nobody,
            ["dry run: would tag with 3 tags, share with nobody else"]
        );
        assert!(!nobody[0].contains("Sharing {"), "{nobody:?}");
    }
}
