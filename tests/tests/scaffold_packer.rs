//! The SDK proven by real Packer (Debian's 1.6.6): `packer build` / `packer validate` with the
//! example plugin `packer-plugin-scaffold`, the null builder and Packer's SSH communicator to a
//! sandboxed sshd. Commands really run in the sandbox; files really travel.

use std::time::Duration;

use amiforge_e2e::packer::{Workdir, processes_mentioning};
use amiforge_e2e::sandbox::Sandbox;
use amiforge_e2e::{same_bytes, scaffold_bin, write_random_file};

/// A work directory with the multi-component plugin installed as Packer 1.6 finds it.
fn workdir_multi() -> Workdir {
    let w = Workdir::new();
    w.link(&scaffold_bin(), "packer-plugin-scaffold");
    w
}

fn hcl(sbx: &Sandbox, provisioner: &str, post: &str) -> String {
    format!(
        "{}\nbuild {{\n  sources = [\"source.null.sbx\"]\n{provisioner}\n{post}\n}}\n",
        sbx.null_source_hcl("sbx")
    )
}

#[test]
fn hcl2_build_runs_commands_moves_files_and_wraps_the_artifact() {
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let up = w.path().join("payload.bin");
    write_random_file(&up, 1 << 20, 7);
    let back = w.path().join("back.bin");
    let prov = format!(
        r#"  provisioner "scaffold-run" {{
    upload_source        = "{up}"
    upload_destination   = "/tmp/payload.bin"
    inline               = ["sha256sum /tmp/payload.bin", "echo to-stderr >&2", "sudo -n touch /etc/scaffold-was-here", "echo \"greeting=$GREETING\""]
    env {{
      name  = "GREETING"
      value = "it's $HOME, unexpanded"
    }}
    download_source      = "/tmp/payload.bin"
    download_destination = "{back}"
  }}"#,
        up = up.display(),
        back = back.display()
    );
    let post = "  post-processor \"scaffold-wrap\" {\n    note = \"built by the e2e test\"\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, &prov, post));
    let out = w.packer(&["build", "-color=false", "t.pkr.hcl"]);
    out.assert_ok()
        .assert_contains("running command 1 of 4: sha256sum /tmp/payload.bin")
        // a nested block (gob BlockListSpec with Debian's vendored ObjectSpec name) round trip
        .assert_contains("greeting=it's $HOME, unexpanded")
        .assert_contains("/tmp/payload.bin") // the remote sha256sum line, streamed back
        .assert_contains("to-stderr")
        .assert_contains("wrapped artifact Null (note: built by the e2e test)");
    // the sha256 the remote machine computed is the local file's
    let local = std::process::Command::new("sha256sum")
        .arg(&up)
        .output()
        .unwrap();
    let local_hash = String::from_utf8_lossy(&local.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    out.assert_contains(&local_hash);
    assert!(
        same_bytes(&up, &back),
        "downloaded file differs from the uploaded one"
    );
    let diff = sbx.diff();
    assert!(diff.contains("./etc/scaffold-was-here"), "{diff}");
    assert!(
        diff.contains("./tmp/payload.bin") || sbx.file("/tmp/payload.bin").exists(),
        "{diff}"
    );
}

#[test]
fn a_file_of_50_mib_goes_up_and_comes_back_byte_identical() {
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let up = w.path().join("big.bin");
    write_random_file(&up, 50 * 1024 * 1024 + 12345, 42);
    let back = w.path().join("big.back");
    let prov = format!(
        "  provisioner \"scaffold-run\" {{\n    upload_source = \"{}\"\n    upload_destination = \"/home/admin/big.bin\"\n    download_source = \"/home/admin/big.bin\"\n    download_destination = \"{}\"\n  }}",
        up.display(),
        back.display()
    );
    w.write("t.pkr.hcl", &hcl(&sbx, &prov, ""));
    w.packer(&["build", "-color=false", "t.pkr.hcl"])
        .assert_ok()
        .assert_contains(&format!("uploaded {} bytes", 50 * 1024 * 1024 + 12345));
    assert!(
        same_bytes(&up, &sbx.file("/home/admin/big.bin")),
        "remote copy differs"
    );
    assert!(same_bytes(&up, &back), "downloaded copy differs");
}

#[test]
fn directories_go_up_and_come_back() {
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let src = w.path().join("tree");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(src.join("sub/b.txt"), "beta\n").unwrap();
    let dst = w.path().join("fetched");
    std::fs::create_dir_all(&dst).unwrap();
    let prov = format!(
        "  provisioner \"scaffold-run\" {{\n    upload_source = \"{}/\"\n    upload_destination = \"/home/admin/tree\"\n    inline = [\"cat /home/admin/tree/sub/b.txt\"]\n    download_source = \"/home/admin/tree/\"\n    download_destination = \"{}\"\n  }}",
        src.display(),
        dst.display()
    );
    w.write("t.pkr.hcl", &hcl(&sbx, &prov, ""));
    w.packer(&["build", "-color=false", "t.pkr.hcl"])
        .assert_ok()
        .assert_contains("beta");
    assert_eq!(
        std::fs::read_to_string(sbx.file("/home/admin/tree/a.txt")).unwrap(),
        "alpha\n"
    );
    // Packer's SCP directory download recreates the remote directory inside the destination
    assert_eq!(
        std::fs::read_to_string(dst.join("tree/sub/b.txt")).unwrap(),
        "beta\n"
    );
    assert_eq!(
        std::fs::read_to_string(dst.join("tree/a.txt")).unwrap(),
        "alpha\n"
    );
}

#[test]
fn a_failing_command_fails_the_build_and_names_its_exit_code() {
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let prov = "  provisioner \"scaffold-run\" {\n    inline = [\"true\", \"echo about to fail; exit 7\", \"touch /tmp/never\"]\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, ""));
    let out = w.packer(&["build", "-color=false", "t.pkr.hcl"]);
    out.assert_failed()
        .assert_contains("about to fail")
        .assert_contains("command 2 of 3 (\"echo about to fail; exit 7\") exited with status 7");
    assert!(
        !sbx.file("/tmp/never").exists(),
        "commands after the failure must not run"
    );
}

#[test]
fn output_streams_while_the_command_is_still_running() {
    // The command prints a line, then waits for a file that the test creates only after it has
    // seen that line in Packer's output. Buffered output would deadlock (and time out).
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let prov = "  provisioner \"scaffold-run\" {\n    inline = [\"echo first-line; for i in $(seq 600); do [ -e /tmp/go-on ] && break; sleep 0.1; done; echo second-line\"]\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, ""));
    let run = w.spawn(&["build", "-color=false", "t.pkr.hcl"]);
    assert!(
        run.wait_for_line("first-line", Duration::from_secs(60)),
        "the first line must reach Packer's UI while the command runs"
    );
    std::fs::write(sbx.file("/tmp/go-on"), "").unwrap();
    let out = run.finish(Duration::from_secs(120));
    out.assert_ok().assert_contains("second-line");
}

#[test]
fn validate_rejects_unknown_attributes_and_bad_values_naming_the_field() {
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let prov =
        "  provisioner \"scaffold-run\" {\n    inline = [\"true\"]\n    inlne = [\"typo\"]\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, ""));
    w.packer(&["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("Unsupported argument; An argument named \"inlne\"");

    let prov = "  provisioner \"scaffold-run\" {\n    upload_source = \"/nonexistent/file\"\n    upload_destination = \"/tmp/x\"\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, ""));
    w.packer(&["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("upload_source: /nonexistent/file does not exist on the Packer host");

    let prov = "  provisioner \"scaffold-run\" {\n    inline = [\"true\"]\n    env {\n      name = \"9lives\"\n      value = \"x\"\n    }\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, ""));
    w.packer(&["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("env[0].name: \"9lives\" is not a shell variable name");

    let post = "  post-processor \"scaffold-wrap\" {\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, "", post));
    w.packer(&["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("\"note\" is required");
}

#[test]
fn json_template_builds_and_validates() {
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let t = serde_json::json!({
        "builders": [sbx.null_builder_json()],
        "provisioners": [{
            "type": "scaffold-run",
            "inline": ["echo json-mode-$MODE", "exit 0"],
            "env": [{"name": "MODE", "value": "ok"}]
        }],
        "post-processors": [{"type": "scaffold-wrap", "note": "from json"}]
    });
    w.write("t.json", &t.to_string());
    w.packer(&["build", "-color=false", "t.json"])
        .assert_ok()
        .assert_contains("json-mode-ok")
        .assert_contains("wrapped artifact Null (note: from json)");
    let bad = serde_json::json!({
        "builders": [sbx.null_builder_json()],
        "post-processors": [{"type": "scaffold-wrap", "nite": "typo"}]
    });
    w.write("bad.json", &bad.to_string());
    w.packer(&["validate", "bad.json"])
        .assert_failed()
        .assert_contains("nite: unknown attribute; did you mean `note`?")
        .assert_contains("note: required attribute is missing");
}

#[test]
fn single_component_links_work_with_packer_166() {
    let sbx = Sandbox::start();
    let w = Workdir::new();
    w.link(&scaffold_bin(), "packer-provisioner-scaffold-run");
    w.link(&scaffold_bin(), "packer-post-processor-scaffold-wrap");
    let prov = "  provisioner \"scaffold-run\" {\n    inline = [\"echo via-link\"]\n  }";
    let post = "  post-processor \"scaffold-wrap\" {\n    note = \"linked\"\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, post));
    w.packer(&["build", "-color=false", "t.pkr.hcl"])
        .assert_ok()
        .assert_contains("via-link")
        .assert_contains("(note: linked)");
}

#[test]
fn sigint_mid_provision_stops_cleanly_and_leaves_no_plugin_behind() {
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let prov = "  provisioner \"scaffold-run\" {\n    inline = [\"echo started-long-step; sleep 300\"]\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, ""));
    let run = w.spawn(&["build", "-color=false", "t.pkr.hcl"]);
    assert!(run.wait_for_line("started-long-step", Duration::from_secs(60)));
    run.interrupt();
    let out = run.finish(Duration::from_secs(60));
    assert!(
        out.code.is_some(),
        "packer must exit by itself after SIGINT:\n{}",
        out.combined()
    );
    out.assert_failed();
    let text = out.combined();
    assert!(
        text.contains("Cleanly cancelled") || text.contains("cancelled"),
        "packer should report the cancellation:\n{text}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let left = processes_mentioning(&w.path().display().to_string());
    assert!(left.is_empty(), "plugin processes left behind: {left:?}");
}

#[test]
fn a_command_longer_than_packers_keepalive_interval_completes() {
    // Packer's yamux pings every 30 s and drops a session whose pings go unanswered; a hardening
    // run takes minutes, so the plugin must keep answering while a command runs.
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let prov =
        "  provisioner \"scaffold-run\" {\n    inline = [\"sleep 40; echo still-connected\"]\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, ""));
    w.packer(&["build", "-color=false", "t.pkr.hcl"])
        .assert_ok()
        .assert_contains("still-connected");
}

#[test]
fn a_flood_of_output_arrives_complete_and_in_order() {
    let sbx = Sandbox::start();
    let w = workdir_multi();
    let prov = "  provisioner \"scaffold-run\" {\n    inline = [\"seq 1 20000 | sed 's/^/out /'; seq 1 500 | sed 's/^/err /' >&2\"]\n  }";
    w.write("t.pkr.hcl", &hcl(&sbx, prov, ""));
    let out = w.packer(&["build", "-color=false", "t.pkr.hcl"]);
    out.assert_ok();
    // Each stream keeps its order; the two streams may interleave (separate SSH channels).
    let text = out.combined();
    let numbers = |tag: &str| -> Vec<u32> {
        text.lines()
            .filter_map(|l| l.split_once(&format!("null.sbx: {tag} ")).map(|(_, n)| n))
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    };
    let stdout = numbers("out");
    let first_bad = stdout.iter().zip(1..).position(|(g, w)| *g != w);
    assert_eq!(
        (stdout.len(), first_bad),
        (20000, None),
        "stdout lines missing or out of order near {:?}",
        first_bad.map(|i| &stdout[i.saturating_sub(3)..(i + 3).min(stdout.len())])
    );
    assert_eq!(numbers("err"), (1..=500).collect::<Vec<u32>>());
}
