//! Where a hardening run leaves its evidence on the image: the report and SBOM file names, the
//! folder per OS, and the Linux report path the validator reads. The compiled scripts get these
//! values at compile time (`compile` fills the runtimes' placeholders), so the script that writes
//! the evidence, the plugin that sends it and the validator that checks it share one definition.

/// Spells the Linux evidence folder once for the consts below (`concat!` takes only literals).
macro_rules! linux_dir {
    () => {
        "/etc/amiforge"
    };
}

/// Spells the report file name once for the consts below.
macro_rules! report_file {
    () => {
        "hardening.json"
    };
}

/// File name of the hardening report (the same bytes on the Packer host and on the image).
pub const REPORT_FILE: &str = report_file!();

/// File name of the CycloneDX SBOM beside the report.
pub const SBOM_FILE: &str = "sbom.cdx.json";

/// The folder the Linux script installs the evidence in.
pub const LINUX_DIR: &str = linux_dir!();

/// The report on a hardened Linux image.
pub const LINUX_REPORT_PATH: &str = concat!(linux_dir!(), "/", report_file!());

/// The folder below `%ProgramData%` the Windows script installs the evidence in.
pub const WINDOWS_PROGRAMDATA_DIR: &str = "amiforge";

/// The Windows evidence folder as people read it (`%ProgramData%\amiforge`).
pub fn windows_dir_display() -> String {
    format!("%ProgramData%\\{WINDOWS_PROGRAMDATA_DIR}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linux_report_path_is_the_folder_and_the_file_name() {
        assert_eq!(LINUX_REPORT_PATH, format!("{LINUX_DIR}/{REPORT_FILE}"));
        assert_eq!(LINUX_REPORT_PATH, "/etc/amiforge/hardening.json");
        assert_eq!(windows_dir_display(), "%ProgramData%\\amiforge");
    }
}
