//! The shipped TOML templates document every setting, and each commented
//! default in them, uncommented, parses through the daemon's own settings
//! type to exactly the built-in default.

/// Settings a template does not list: command-only flags, and inline
/// secrets (a secret belongs in a mode-600 file, which the template names).
const NOT_IN_FILES: &[&str] = &[
    "config",
    "check-config",
    "print-openapi",
    "help",
    "version",
    "cluster-secret",
    "etcd-password",
];

fn template(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../packaging/etc/objectio/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Checks template `text` (named `template`) of daemon `bin`; panics with
/// the first problem.
fn check_template<T: clap::Parser + PartialEq + std::fmt::Debug>(
    bin: &str,
    template: &str,
    text: &str,
    required: &[&str],
    clear_file: impl Fn(&mut T),
) {
    let mut defaults_shown = Vec::new();
    let mut examples = Vec::new();
    let mut uncommented = String::new();
    for line in text.lines() {
        let is_setting = |rest: &str| {
            rest.split_once(" = ")
                .filter(|(k, _)| {
                    !k.is_empty() && k.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
                })
                .map(|(k, _)| k.to_string())
        };
        if let Some(rest) = line.strip_prefix("# example: ") {
            examples.push(
                is_setting(rest).unwrap_or_else(|| panic!("{template}: bad example line {line:?}")),
            );
        } else if let Some(rest) = line.strip_prefix("# ")
            && let Some(k) = is_setting(rest)
        {
            defaults_shown.push(k);
            uncommented += rest;
            uncommented.push('\n');
        } else {
            assert!(
                line.is_empty() || line.starts_with('#'),
                "{template}: a setting is set, not shown as a commented default: {line:?}"
            );
        }
    }
    // Every setting is documented; every one with a default shows it.
    let cmd = T::command();
    for a in cmd.get_arguments() {
        let Some(long) = a.get_long() else { continue };
        if NOT_IN_FILES.contains(&long) {
            continue;
        }
        let shown = defaults_shown.iter().any(|k| k == long);
        assert!(
            shown || examples.iter().any(|k| k == long),
            "{template} does not document --{long}"
        );
        if !a.get_default_values().is_empty() {
            assert!(
                shown,
                "{template}: --{long} has a default; show it as `# {long} = ...`"
            );
        }
    }
    // Uncommented, the defaults parse to the built-in defaults.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(template);
    std::fs::write(&file, &uncommented).unwrap();
    let mut args: Vec<std::ffi::OsString> = vec![bin.into(), "--config".into(), file.into()];
    args.extend(required.iter().map(Into::into));
    let mut from_file: T = objectio_cluster::args::parse_from(args)
        .unwrap_or_else(|e| panic!("{template} uncommented does not parse: {e}"));
    clear_file(&mut from_file);
    let mut args: Vec<std::ffi::OsString> = vec![bin.into()];
    args.extend(required.iter().map(Into::into));
    let defaults: T = objectio_cluster::args::parse_from(args).unwrap();
    assert_eq!(
        from_file, defaults,
        "{template}: a commented default is not the default"
    );
}

#[test]
fn test_shipped_config_templates_show_every_setting_and_its_true_default() {
    check_template::<objectio_meta::Config>(
        "objectio-meta",
        "meta.toml",
        &template("meta.toml"),
        &[],
        |c| c.file.config = None,
    );
    check_template::<objectio_gateway::Config>(
        "objectio-gateway",
        "gateway.toml",
        &template("gateway.toml"),
        &[],
        |c| c.file.config = None,
    );
    check_template::<objectio_osd::Config>(
        "objectio-osd",
        "osd.toml",
        &template("osd.toml"),
        &["--id", "osd1", "--disk", "/var/lib/objectio/osd1.img"],
        |c| c.file.config = None,
    );
}

#[test]
fn test_a_wrong_default_or_an_undocumented_setting_fails_the_check() {
    let meta = |text: String| {
        std::panic::catch_unwind(move || {
            check_template::<objectio_meta::Config>("objectio-meta", "meta.toml", &text, &[], |c| {
                c.file.config = None
            })
        })
        .map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    };
    let text = template("meta.toml");
    assert!(meta(text.clone()).is_ok());
    assert!(text.contains("# gc-interval-ms = 5000\n"));
    let e =
        meta(text.replace("# gc-interval-ms = 5000\n", "# gc-interval-ms = 4000\n")).unwrap_err();
    assert!(e.contains("not the default"), "{e}");
    let e = meta(text.replace("# gc-interval-ms = 5000\n", "")).unwrap_err();
    assert!(e.contains("does not document --gc-interval-ms"), "{e}");
    let e = meta(text.replace("# gc-interval-ms = 5000\n", "gc-interval-ms = 5000\n")).unwrap_err();
    assert!(e.contains("is set"), "{e}");
}

#[test]
fn test_the_osd_unit_names_the_osd_by_its_instance() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/systemd/objectio-osd@.service"
    ))
    .unwrap();
    let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(exec.contains("--id %i"), "{exec}");
    assert!(exec.contains("/etc/objectio/osd-%i.toml"), "{exec}");
    // Two OSDs set up from the template therefore get their own ids: the
    // template sets no id of its own.
    let tpl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/etc/objectio/osd.toml"
    ))
    .unwrap();
    assert!(
        !tpl.lines().any(|l| l.starts_with("id")),
        "osd.toml sets an id"
    );
}

/// Runs `bin --check-config` with `args` and `env` (and nothing else
/// from this process's OBJECTIO_* environment): success and output.
fn check_config(bin: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = std::process::Command::new(objectio_testkit::bin_dir().join(bin));
    cmd.arg("--check-config").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("OBJECTIO_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn test_check_config_fails_with_the_reason_for_missing_short_or_visible_secrets_and_bad_disks() {
    let secret = (
        "OBJECTIO_CLUSTER_SECRET",
        "0123456789abcdef0123456789abcdef",
    );
    let token = ("OBJECTIO_ADMIN_TOKEN", "an-admin-token-of-some-length");
    // The meta needs the cluster secret (GC and sealed keys).
    let (ok, out) = check_config("objectio-meta", &[], &[token]);
    assert!(!ok && out.contains("cluster secret"), "{out}");
    let (ok, out) = check_config("objectio-meta", &[], &[token, secret]);
    assert!(ok && out.contains("configuration OK"), "{out}");
    // At least 32 bytes, for every daemon.
    for bin in ["objectio-meta", "objectio-gateway"] {
        let (ok, out) = check_config(bin, &[], &[token, ("OBJECTIO_CLUSTER_SECRET", "x")]);
        assert!(!ok && out.contains("at least 32"), "{bin}: {out}");
    }
    // Not on the command line.
    let (ok, out) = check_config("objectio-gateway", &["--cluster-secret", secret.1], &[]);
    assert!(!ok && out.contains("visible to every local user"), "{out}");
    // An OSD disk that cannot exist.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("missing/dir/osd.img");
    let (ok, out) = check_config(
        "objectio-osd",
        &["--id", "osd1", "--disk", bad.to_str().unwrap()],
        &[secret],
    );
    assert!(!ok && out.contains("cannot be created"), "{out}");
    let good = dir.path().join("osd.img");
    let (ok, out) = check_config(
        "objectio-osd",
        &["--id", "osd1", "--disk", good.to_str().unwrap()],
        &[secret],
    );
    assert!(ok, "{out}");
    assert!(!good.exists(), "--check-config created the disk");
}

/// Every shipped unit passes `systemd-analyze verify` (no systemd need
/// run), in a root holding the built binaries where the units expect them
/// and the system's own units; the guide's instance names included.
#[test]
fn test_systemd_units_verify_with_the_guides_instance_names() {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("usr/local/bin");
    let units = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&units).unwrap();
    for b in ["objectio-meta", "objectio-osd", "objectio-gateway"] {
        std::fs::copy(objectio_testkit::bin_dir().join(b), bin.join(b)).unwrap();
    }
    let lib = root.path().join("lib/systemd");
    std::fs::create_dir_all(&lib).unwrap();
    let copied = std::process::Command::new("cp")
        .args(["-r", "/lib/systemd/system"])
        .arg(&lib)
        .status()
        .unwrap();
    assert!(copied.success(), "no /lib/systemd/system to verify against");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/systemd");
    let mut names = Vec::new();
    for (file, as_name) in [
        ("objectio-meta.service", "objectio-meta.service"),
        ("objectio-meta@.service", "objectio-meta@meta2.service"),
        ("objectio-osd@.service", "objectio-osd@osd1.service"),
        ("objectio-gateway.service", "objectio-gateway.service"),
    ] {
        std::fs::copy(format!("{shipped}/{file}"), units.join(as_name)).unwrap();
        names.push(units.join(as_name));
    }
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .args(&names)
        .output()
        .expect("systemd-analyze (Debian package systemd) is needed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed: {err}");
    assert!(
        err.trim().is_empty(),
        "systemd-analyze verify warned: {err}"
    );
    let meta = std::fs::read_to_string(format!("{shipped}/objectio-meta@.service")).unwrap();
    assert!(meta.contains("--id %i") && meta.contains("/etc/objectio/meta-%i.toml"));
}
