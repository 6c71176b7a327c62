//! The runtime SDK's parts, pins and installs, with stand-in installers.

use std::process::Command;

use super::install::run_logged;
use super::*;

#[test]
fn pins_name_their_versions() {
    assert_eq!(pinned(PYTHON_310_PINS, "boto3"), Some("1.44.8"));
    assert_eq!(pinned(PYTHON_310_PINS, "botocore"), Some("1.44.8"));
    assert_eq!(pinned(PYTHON_39_PINS, "boto3"), Some("1.42.97"));
    assert_eq!(pinned(PYTHON_39_PINS, "urllib3"), Some("1.26.20"));
    let node = node_packages();
    assert!(node.iter().any(|(n, _)| n == "@aws-sdk/client-lambda"));
    assert!(node.iter().any(|(n, _)| n == "@aws-sdk/lib-dynamodb"));
    // Every python pin carries a hash: pip refuses the file otherwise (--require-hashes).
    for pins in [PYTHON_310_PINS, PYTHON_39_PINS] {
        for line in pins
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            assert!(line.contains("--hash=sha256:"), "{line}");
        }
    }
}

#[test]
fn directory_names_follow_the_pins() {
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    let sdk = RuntimeSdk::open(PathBuf::from("/nonexistent"));
    let names: Vec<&str> = sdk.parts.iter().map(|p| p.dir_name.as_str()).collect();
    assert!(names[0].starts_with("python3.10-"), "{names:?}");
    assert!(names[1].starts_with("python3.9-"), "{names:?}");
    assert!(names[2].starts_with("nodejs-"), "{names:?}");
    assert_eq!(names[0].len(), "python3.10-".len() + 12);
}

#[test]
fn finished_parts_are_found_and_chosen_by_version() {
    let root = tempfile::tempdir().unwrap();
    let sdk = RuntimeSdk::open(root.path().to_path_buf());
    assert!(sdk.python(12).is_none() && sdk.node().is_none());
    assert!(sdk.describe().contains("installing"));
    for part in &sdk.parts {
        std::fs::create_dir_all(root.path().join(&part.dir_name)).unwrap();
    }
    let sdk = RuntimeSdk::open(root.path().to_path_buf());
    assert!(sdk.is_complete());
    let newer = sdk.python(12).unwrap();
    assert!(newer.ends_with(&sdk.parts[0].dir_name));
    assert_eq!(sdk.python(14), Some(newer));
    assert!(sdk.python(9).unwrap().ends_with(&sdk.parts[1].dir_name));
    assert!(sdk.python(8).is_none());
    assert!(sdk.node().unwrap().ends_with("node_modules"));
    let line = sdk.describe();
    assert!(line.contains("boto3 1.44.8 (python3.10+)"), "{line}");
    assert!(line.contains("@aws-sdk/client-lambda"), "{line}");
}

/// A stand-in `npm` (a real process) shows the staging, publishing and reporting around it.
#[test]
fn an_install_publishes_whole_parts_and_reports_the_rest() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let npm = bin.path().join("npm");
    std::fs::write(
        &npm,
        "#!/bin/sh\n[ -f package-lock.json ] || exit 3\nmkdir -p node_modules/@aws-sdk/client-lambda\necho installed\n",
    )
    .unwrap();
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let node = bin.path().join("node");
    let sdk = RuntimeSdk::open(root.path().join("sdk"));
    // Debris of an interrupted install is cleared under the lock.
    let debris = root.path().join("sdk").join(format!("{STAGING}nodejs-x-1"));
    std::fs::create_dir_all(&debris).unwrap();

    let report = sdk.install(&[], Some(&node));
    assert!(!debris.exists());
    let modules = sdk.node().expect("the node part is ready");
    assert!(modules.join("@aws-sdk/client-lambda").is_dir());
    assert_eq!(report.ready.len(), 1, "{report}");
    assert_eq!(report.failed.len(), 2, "{report}");
    assert!(
        report.failed[0].starts_with("python3.10+: no python"),
        "{report}"
    );
    assert!(!report.complete());
    let text = report.to_string();
    assert!(
        text.contains("installation failed") && text.contains("ready: @aws-sdk"),
        "{text}"
    );

    // Another server on the same directory finds the part done.
    let again = RuntimeSdk::open(root.path().join("sdk"));
    assert_eq!(again.node(), Some(modules));
}

#[test]
fn a_failing_installer_is_reported_with_its_output() {
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("x.log");
    let mut command = Command::new("/bin/sh");
    command.args(["-c", "echo first; echo 'no network here' >&2; exit 7"]);
    let error = run_logged(&mut command, &log, "pip install").unwrap_err();
    assert!(error.contains("pip install failed"), "{error}");
    assert!(error.contains("no network here"), "{error}");
}
