//! Packer 1.16 (built from its Go module, `tests/modern/`) installing and finding the plugin:
//! `packer plugins install --path` of the plugin binary, `packer init` resolving a template's
//! `required_plugins` from the installed plugin directory (components named after the
//! accessor), and `packer validate` naming bad attributes the way the 1.6.6 tests expect.
//! Every run has its own plugin, config and home directories (`Workdir::modern`).

use std::path::Path;

use amiforge_e2e::amiforge_bin;
use amiforge_e2e::modern::{
    AMAZON_SOURCE, AMAZON_VERSION, AMIFORGE_SOURCE, PACKER_VERSION, amazon, install, install_from,
};
use amiforge_e2e::packer::Workdir;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn installed_name(name: &str, version: &str) -> String {
    format!("packer-plugin-{name}_v{version}_x5.0_linux_amd64")
}

#[test]
fn the_modern_packer_is_the_pinned_release() {
    let w = Workdir::modern();
    w.packer(&["version"])
        .assert_ok()
        .assert_contains(&format!("Packer v{PACKER_VERSION}"));
    let out = std::process::Command::new(amazon())
        .arg("describe")
        .output()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["version"], AMAZON_VERSION);
    assert_eq!(
        d["sdk_version"], "0.6.10",
        "the SDK version Packer 1.16.0 pins"
    );
    assert_eq!(d["protocol_version"], "v2");
}

#[test]
fn plugins_install_puts_the_binary_under_its_versioned_name_with_its_checksum() {
    let w = Workdir::modern();
    install_from(&w, &amiforge_bin(), AMIFORGE_SOURCE)
        .assert_ok()
        .assert_contains("Successfully installed plugin github.com/amiforge/amiforge");
    let dir = w.plugins().join(AMIFORGE_SOURCE);
    let name = installed_name("amiforge", VERSION);
    let bin = dir.join(&name);
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(amiforge_bin()).unwrap(),
        "{name} is the binary given"
    );
    let sum = std::fs::read_to_string(dir.join(format!("{name}_SHA256SUM"))).unwrap();
    assert_eq!(
        sum,
        amiforge_model::sha256_hex(&std::fs::read(&bin).unwrap()),
        "the SHA256SUM file holds the bare hex digest"
    );
    // listed as installed (describe ran, the version and API version match the name)
    w.packer(&["plugins", "installed"])
        .assert_ok()
        .assert_contains(&bin.display().to_string());
    // what Packer refuses: a source address without a namespace, a directory
    install_from(&w, &amiforge_bin(), "amiforge").assert_failed();
    install_from(&w, w.path(), AMIFORGE_SOURCE)
        .assert_failed()
        .assert_contains("cannot be a directory");
}

#[test]
fn the_amazon_plugin_installs_beside_it() {
    let w = Workdir::modern();
    install_from(&w, &amazon(), AMAZON_SOURCE).assert_ok();
    let bin = w
        .plugins()
        .join(AMAZON_SOURCE)
        .join(installed_name("amazon", AMAZON_VERSION));
    assert!(bin.is_file(), "{} installed", bin.display());
}

/// A template needing both plugins, amiforge under another accessor (`forge`): its components
/// are then `forge-*`, which Packer 1.6.6 never did.
fn required_plugins_template(amiforge_version: &str) -> String {
    format!(
        r#"packer {{
  required_version = ">= 1.16.0"
  required_plugins {{
    forge = {{
      source  = "{AMIFORGE_SOURCE}"
      version = "{amiforge_version}"
    }}
    amazon = {{
      source  = "{AMAZON_SOURCE}"
      version = "= {AMAZON_VERSION}"
    }}
  }}
}}

source "null" "n" {{
  communicator = "none"
}}

build {{
  sources = ["source.null.n"]
  post-processor "forge-replicate" {{
    regions = ["eu-west-1"]
    dry_run = true
  }}
}}
"#
    )
}

#[test]
fn packer_init_finds_required_plugins_in_the_plugin_directory() {
    let w = Workdir::modern();
    install(&w);
    w.write(
        "t.pkr.hcl",
        &required_plugins_template(&format!(">= {VERSION}")),
    );
    w.packer(&["init", "t.pkr.hcl"]).assert_ok();
    w.packer(&["validate", "t.pkr.hcl"])
        .assert_ok()
        .assert_contains("The configuration is valid");
    // a component the plugin lacks is named under the accessor's prefix
    let unknown = required_plugins_template(&format!(">= {VERSION}"))
        .replace("forge-replicate", "forge-teleport");
    w.write("t.pkr.hcl", &unknown);
    w.packer(&["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("forge-teleport");
}

#[test]
fn a_required_version_that_is_not_installed_is_named() {
    let w = Workdir::modern();
    install(&w);
    w.write("t.pkr.hcl", &required_plugins_template(">= 99.0.0"));
    w.packer(&["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("Missing plugins")
        .assert_contains(&format!("{AMIFORGE_SOURCE} >= 99.0.0"));
}

/// `packer validate` runs every component's Prepare/Configure: the plugin's errors name the
/// attribute, and an attribute the component lacks is refused by Packer from the ConfigSpec.
#[test]
fn packer_validate_names_bad_attributes() {
    let w = Workdir::modern();
    install(&w);
    let with = |block: &str| {
        format!(
            "source \"null\" \"n\" {{\n  communicator = \"none\"\n}}\nbuild {{\n  sources = [\"source.null.n\"]\n{block}\n}}\n"
        )
    };
    let cases: &[(&str, &str)] = &[
        (
            "  provisioner \"amiforge-harden\" {\n    mode = \"fix\"\n  }",
            "mode: \"fix\" is not a mode",
        ),
        (
            "  provisioner \"amiforge-harden\" {\n    fail_on = \"sometimes\"\n  }",
            "fail_on: \"sometimes\"",
        ),
        (
            "  provisioner \"amiforge-harden\" {\n    colour = \"blue\"\n  }",
            "An argument named \"colour\" is not",
        ),
        (
            "  post-processor \"amiforge-replicate\" {\n    regions = [\"eu-west-1\", \"eu_west_2\"]\n  }",
            "regions[1]: \"eu_west_2\" is not a region name",
        ),
        (
            "  post-processor \"amiforge-replicate\" {\n    regions = [\"eu-west-1\"]\n    deprecate_after = \"soon\"\n  }",
            "deprecate_after: \"soon\" is not a duration",
        ),
        (
            "  post-processor \"amiforge-validate\" {\n    ssh_host = \"127.0.0.1:22\"\n  }",
            "ssh_host: only used with transport = \"ssh\"",
        ),
    ];
    for (block, want) in cases {
        w.write("t.pkr.hcl", &with(block));
        w.packer(&["validate", "t.pkr.hcl"])
            .assert_failed()
            .assert_contains(want);
    }
}

/// The plugin installed from a path that is not where it was built still runs (Packer copies
/// it; nothing it needs is looked up beside the original).
#[test]
fn the_installed_copy_runs_on_its_own() {
    let w = Workdir::modern();
    let copy = w.path().join("packer-plugin-amiforge");
    std::fs::copy(amiforge_bin(), &copy).unwrap();
    install_from(&w, Path::new(&copy), AMIFORGE_SOURCE).assert_ok();
    std::fs::remove_file(&copy).unwrap();
    w.write(
        "t.pkr.hcl",
        "source \"null\" \"n\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.n\"]\n  post-processor \"amiforge-replicate\" {\n    regions = [\"eu-west-1\"]\n  }\n}\n",
    );
    w.packer(&["validate", "t.pkr.hcl"]).assert_ok();
}

/// With `PACKER_FORCE_GOB=1` Packer 1.16 starts components without `--protobuf` and reads every
/// ConfigSpec as gob (hcldec types through its go-cty fork): nested blocks, maps and lists of
/// all four components decode, and an error inside a nested block is named.
#[test]
fn packer_validate_reads_gob_config_specs_when_forced() {
    let w = Workdir::modern();
    install(&w);
    let log = w.path().join("packer.log");
    let env = [
        ("PACKER_FORCE_GOB".to_string(), "1".to_string()),
        ("PACKER_LOG".to_string(), "1".to_string()),
        ("PACKER_LOG_PATH".to_string(), log.display().to_string()),
    ];
    let template = |regex: &str| {
        format!(
            r#"source "null" "n" {{
  communicator = "none"
}}
build {{
  sources = ["source.null.n"]
  provisioner "amiforge-harden" {{
    mode       = "audit"
    parameters = {{ ssh_max_auth_tries = "3" }}
  }}
  provisioner "amiforge-sysprep" {{
    only = ["null.nothing"]
  }}
  post-processors {{
    post-processor "amiforge-replicate" {{
      regions            = ["eu-west-1", "us-west-2"]
      region_kms_key_ids = {{ "eu-west-1" = "alias/images" }}
      tags               = {{ team = "platform" }}
    }}
    post-processor "amiforge-validate" {{
      check {{
        name          = "sshd"
        command       = "true"
        expect_output = "{regex}"
      }}
    }}
  }}
}}
"#
        )
    };
    w.write("t.pkr.hcl", &template("ok"));
    w.packer_with_env(&["validate", "t.pkr.hcl"], &env)
        .assert_ok();
    w.write("t.pkr.hcl", &template("("));
    w.packer_with_env(&["validate", "t.pkr.hcl"], &env)
        .assert_failed()
        .assert_contains("check[0].expect_output: not a regex");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("start post-processor validate"), "{log}");
    assert!(
        !log.contains("--protobuf validate"),
        "gob was forced:\n{log}"
    );
}
