//! Command-line and environment settings every daemon shares, and its
//! logging set-up.

use std::path::PathBuf;

use crate::Store;

/// Where the cluster lives: etcd endpoints and the cluster name.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct ClusterArgs {
    /// etcd endpoints.
    #[arg(
        long = "etcd",
        env = "OBJECTIO_ETCD",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379"
    )]
    pub etcd: Vec<String>,
    /// Cluster name (the etcd key prefix `/objectio/<cluster>/v1/`).
    #[arg(
        long = "cluster",
        value_name = "CLUSTER",
        env = "OBJECTIO_CLUSTER",
        default_value = "objectio"
    )]
    pub name: String,
    /// PEM certificate of the CA that signed etcd's certificate, for
    /// `https://` endpoints (without it, the system's roots).
    #[arg(long, env = "OBJECTIO_ETCD_CA_CERT", value_name = "FILE")]
    pub etcd_ca_cert: Option<PathBuf>,
    /// PEM client certificate for an etcd started with
    /// `--client-cert-auth`; with `--etcd-key`.
    #[arg(
        long,
        env = "OBJECTIO_ETCD_CERT",
        value_name = "FILE",
        requires = "etcd_key"
    )]
    pub etcd_cert: Option<PathBuf>,
    /// PEM private key of `--etcd-cert` (mode 600).
    #[arg(
        long,
        env = "OBJECTIO_ETCD_KEY",
        value_name = "FILE",
        requires = "etcd_cert"
    )]
    pub etcd_key: Option<PathBuf>,
    /// etcd user, for an etcd with `auth enable`; its password from
    /// `OBJECTIO_ETCD_PASSWORD` or `--etcd-password-file`.
    #[arg(long, env = "OBJECTIO_ETCD_USER")]
    pub etcd_user: Option<String>,
    /// Password of `--etcd-user` (from the environment or a config file;
    /// refused on the command line).
    #[arg(long, env = "OBJECTIO_ETCD_PASSWORD", hide_env_values = true)]
    pub etcd_password: Option<String>,
    /// File holding the password of `--etcd-user` (mode 600).
    #[arg(long, env = "OBJECTIO_ETCD_PASSWORD_FILE", value_name = "FILE")]
    pub etcd_password_file: Option<PathBuf>,
}

impl ClusterArgs {
    /// Connects to the cluster's etcd.
    pub async fn connect(&self) -> crate::Result<Store> {
        let security = self.security().map_err(crate::Error::Settings)?;
        Store::connect_with(&self.etcd, &self.name, security).await
    }

    /// The TLS and user settings, checked: every endpoint `https://` or
    /// none, certificate files readable and PEM, a key and a password file
    /// private, a user with a password and a password with a user.
    pub fn security(&self) -> Result<crate::EtcdSecurity, String> {
        let https = self
            .etcd
            .iter()
            .filter(|e| e.starts_with("https://"))
            .count();
        if https != 0 && https != self.etcd.len() {
            return Err(format!(
                "--etcd {} mixes https:// and cleartext endpoints; give every member one scheme",
                self.etcd.join(",")
            ));
        }
        let mut security = crate::EtcdSecurity::default();
        let identity = self.etcd_cert.as_deref().zip(self.etcd_key.as_deref());
        if https > 0 {
            security = security.with_tls(crate::tls::etcd_client_tls(
                self.etcd_ca_cert.as_deref(),
                identity,
            )?);
        } else if self.etcd_ca_cert.is_some() || identity.is_some() {
            return Err(format!(
                "--etcd-ca-cert and --etcd-cert are for https:// endpoints; --etcd is {}",
                self.etcd.join(",")
            ));
        }
        let password = match (
            self.etcd_password.as_deref(),
            self.etcd_password_file.as_deref(),
        ) {
            (None, None) => None,
            (inline, file) => Some(crate::util::load_secret(inline, file, "etcd password")?),
        };
        match (self.etcd_user.as_deref(), password) {
            (Some(user), Some(password)) if !user.is_empty() => {
                security = security.with_user(user, &password)
            }
            (Some(_), None) => {
                return Err(
                    "--etcd-user needs a password: set OBJECTIO_ETCD_PASSWORD or --etcd-password-file"
                        .into(),
                );
            }
            (None, Some(_)) => {
                return Err("an etcd password was given without --etcd-user".into());
            }
            (Some(_), Some(_)) => return Err("--etcd-user is empty".into()),
            (None, None) => {}
        }
        Ok(security)
    }
}

/// The shared secret of the shard protocol, inline or from a file.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct SecretArgs {
    /// Shared secret of the shard protocol.
    #[arg(long, env = "OBJECTIO_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// File holding the shared secret (mode 600).
    #[arg(long, env = "OBJECTIO_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
}

impl SecretArgs {
    /// The secret's bytes, or why there is none (absent, unreadable, or
    /// shorter than [`crate::secrets::MIN_CLUSTER_SECRET`] bytes).
    pub fn load(&self) -> Result<Vec<u8>, String> {
        let s = crate::util::load_secret(
            self.cluster_secret.as_deref(),
            self.cluster_secret_file.as_deref(),
            "cluster secret",
        )?;
        let min = crate::secrets::MIN_CLUSTER_SECRET;
        if s.len() < min {
            return Err(format!(
                "the cluster secret is {} bytes; it must be at least {min} (make one with `openssl rand -hex 32`)",
                s.len()
            ));
        }
        Ok(s.into_bytes())
    }
}

/// A daemon's exit: success, or the error (with its causes) on one line
/// of stderr and status 1.
pub fn exit_code<E: std::fmt::Display>(r: Result<(), E>) -> std::process::ExitCode {
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stdout, filtered by `RUST_LOG` (default `info`), with colours
/// only on a terminal.
pub fn init_tracing() {
    init_tracing_with("info")
}

/// As [`init_tracing`], with `default` as the filter when `RUST_LOG` is
/// not set.
pub fn init_tracing_with(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
}

/// Secret flags refused on the command line: id, environment variable,
/// file flag.
const SECRET_FLAGS: &[(&str, &str, &str)] = &[
    (
        "cluster_secret",
        "OBJECTIO_CLUSTER_SECRET",
        "cluster-secret-file",
    ),
    ("admin_token", "OBJECTIO_ADMIN_TOKEN", "admin-token-file"),
    (
        "etcd_password",
        "OBJECTIO_ETCD_PASSWORD",
        "etcd-password-file",
    ),
];

/// Parses a daemon's settings with layers, lowest first: built-in
/// defaults, the TOML file named by `--config` (or `OBJECTIO_CONFIG`),
/// `OBJECTIO_*` environment variables, command-line flags.
///
/// TOML keys are the long flag names (`lease-ttl` or `lease_ttl`); an
/// unknown key is an error. A value from the file applies only where
/// neither the environment nor a flag set one.
pub fn parse<T: clap::Parser>() -> T {
    match parse_from::<T>(std::env::args_os().collect()) {
        Ok(t) => t,
        Err(e) => e.exit(),
    }
}

/// [`parse`] over given arguments (the first is the program name).
pub fn parse_from<T: clap::Parser>(mut args: Vec<std::ffi::OsString>) -> Result<T, clap::Error> {
    use clap::parser::ValueSource;
    let cmd = T::command();
    // A first pass finds --config and where each value came from; required
    // flags may come from the file, so they are not required yet.
    let m = match cmd
        .clone()
        .mut_args(|a| a.required(false))
        .try_get_matches_from(args.clone())
    {
        Ok(m) => m,
        // --help, --version and malformed flags are reported by the full command.
        Err(_) => cmd.clone().try_get_matches_from(args.clone())?,
    };
    // `ps` shows every process's argv: a secret there is a secret shared
    // with every local user. Each has an environment and a `*_file` form.
    for (id, env, file) in SECRET_FLAGS {
        if cmd.get_arguments().any(|a| a.get_id() == *id)
            && m.value_source(id) == Some(ValueSource::CommandLine)
        {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--{} on the command line is visible to every local user (ps); set {env} or --{file} instead\n",
                    id.replace('_', "-")
                ),
            ));
        }
    }
    let Some(path) = m.get_one::<PathBuf>("config").cloned() else {
        return T::from_arg_matches(&m);
    };
    let bad =
        |msg: String| clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{msg}\n"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| bad(format!("config file {}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| bad(format!("config file {}: {e}", path.display())))?;
    for (key, value) in table {
        let long = key.replace('_', "-");
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
        else {
            return Err(bad(format!(
                "config file {}: unknown key {key:?}",
                path.display()
            )));
        };
        if ["config", "check-config", "print-openapi"].contains(&long.as_str()) {
            return Err(bad(format!(
                "config file {}: key {key:?} cannot be set in a file",
                path.display()
            )));
        }
        let id = arg.get_id().as_str().to_string();
        if !matches!(m.value_source(&id), None | Some(ValueSource::DefaultValue)) {
            continue; // the environment or a flag wins
        }
        let flag = format!("--{long}");
        let scalar = |v: &toml::Value| -> Result<String, clap::Error> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                other => Err(bad(format!(
                    "config file {}: key {key:?}: unsupported value {other}",
                    path.display()
                ))),
            }
        };
        match &value {
            toml::Value::Boolean(true) => args.push(flag.into()),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for v in items {
                    args.push(flag.clone().into());
                    args.push(scalar(v)?.into());
                }
            }
            v => {
                args.push(flag.into());
                args.push(scalar(v)?.into());
            }
        }
    }
    T::from_arg_matches(&cmd.try_get_matches_from(args)?)
}

/// The `--config` flag every daemon has.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct ConfigFile {
    /// TOML file with settings (keys are the long flag names); the
    /// environment and flags override it.
    #[arg(long = "config", env = "OBJECTIO_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Resolves when the process is asked to stop (SIGTERM, as systemd sends,
/// or SIGINT); names the signal.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // No signal handling possible: never resolve (the default action
        // of the signals still ends the process).
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser, Debug, PartialEq)]
    struct T {
        #[command(flatten)]
        file: ConfigFile,
        #[arg(long, env = "OBJECTIO_ARGS_TEST_A", default_value = "default")]
        a: String,
        #[arg(long = "list", value_delimiter = ',')]
        items: Vec<String>,
        #[arg(long)]
        flag: bool,
        #[arg(long, env = "OBJECTIO_ARGS_TEST_N")]
        n: Option<u32>,
    }

    fn parse(file: &str, args: &[&str]) -> Result<T, clap::Error> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, file).unwrap();
        let mut v: Vec<std::ffi::OsString> = vec!["t".into(), "--config".into(), p.into()];
        v.extend(args.iter().map(Into::into));
        parse_from::<T>(v)
    }

    #[test]
    fn file_sets_what_flags_and_environment_leave_alone() {
        let t = parse(
            "a = \"file\"\nlist = [\"x\", \"y\"]\nflag = true\nn = 7\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            (t.a.as_str(), t.items.clone(), t.flag, t.n),
            ("file", vec!["x".into(), "y".into()], true, Some(7))
        );
        // A flag wins over the file.
        let t = parse("a = \"file\"\n", &["--a", "flag"]).unwrap();
        assert_eq!(t.a, "flag");
        // The environment wins over the file.
        #[allow(unsafe_code)]
        // SAFETY: this variable is read by no other test.
        unsafe {
            std::env::set_var("OBJECTIO_ARGS_TEST_N", "9")
        };
        let t = parse("n = 7\n", &[]).unwrap();
        assert_eq!(t.n, Some(9));
        // Without a file, defaults.
        let t = parse_from::<T>(vec!["t".into()]).unwrap();
        assert_eq!(t.a, "default");
    }

    #[derive(clap::Parser, Debug)]
    struct WithSecret {
        #[command(flatten)]
        file: ConfigFile,
        #[command(flatten)]
        secret: SecretArgs,
    }

    #[test]
    fn secrets_on_the_command_line_are_refused_but_files_and_environment_work() {
        let e = parse_from::<WithSecret>(vec![
            "t".into(),
            "--cluster-secret".into(),
            "0123456789abcdef0123456789abcdef".into(),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("OBJECTIO_CLUSTER_SECRET"), "{e}");
        // From a config file it is accepted (the file is not in argv).
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "cluster-secret = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .unwrap();
        let w = parse_from::<WithSecret>(vec!["t".into(), "--config".into(), p.into()]).unwrap();
        assert_eq!(w.secret.load().unwrap().len(), 32);
    }

    #[test]
    fn short_cluster_secrets_are_refused() {
        let s = SecretArgs {
            cluster_secret: Some("x".into()),
            cluster_secret_file: None,
        };
        let e = s.load().unwrap_err();
        assert!(e.contains("at least 32"), "{e}");
        let s = SecretArgs {
            cluster_secret: Some("a".repeat(32)),
            cluster_secret_file: None,
        };
        assert_eq!(s.load().unwrap().len(), 32);
    }

    #[test]
    fn etcd_security_refuses_what_cannot_work() {
        let args = |etcd: &[&str], extra: &[&str]| {
            #[derive(clap::Parser)]
            struct A {
                #[command(flatten)]
                c: ClusterArgs,
            }
            let mut v = vec!["t".to_string(), "--etcd".into(), etcd.join(",")];
            v.extend(extra.iter().map(|s| s.to_string()));
            <A as clap::Parser>::try_parse_from(v).unwrap().c
        };
        let err = |a: ClusterArgs| a.security().unwrap_err();
        assert!(
            err(args(&["https://a:2379", "http://b:2379"], &[])).contains("mixes"),
            "mixed schemes"
        );
        assert!(err(args(&["http://a:2379"], &["--etcd-ca-cert", "/x"])).contains("https://"));
        assert!(
            err(args(&["http://a:2379"], &["--etcd-password", "pw"]))
                .contains("without --etcd-user")
        );
        assert!(err(args(&["http://a:2379"], &["--etcd-user", "u"])).contains("needs a password"));
        assert!(
            err(args(
                &["https://a:2379"],
                &["--etcd-ca-cert", "/nonexistent.pem"]
            ))
            .contains("/nonexistent.pem")
        );
        let ok = args(
            &["http://a:2379"],
            &["--etcd-user", "u", "--etcd-password", "pw"],
        );
        assert!(format!("{:?}", ok.security().unwrap()).contains("\"u\""));
        assert!(!format!("{:?}", ok.security().unwrap()).contains("pw"));
        // https with no CA trusts the system's roots: nothing to refuse.
        args(&["https://a:2379"], &[]).security().unwrap();
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(
            parse("nope = 1\n", &[])
                .unwrap_err()
                .to_string()
                .contains("unknown key")
        );
        assert!(parse("a = \n", &[]).is_err());
        assert!(parse("config = \"x\"\n", &[]).is_err());
        assert!(parse("a = { b = 1 }\n", &[]).is_err());
        let missing = parse_from::<T>(vec![
            "t".into(),
            "--config".into(),
            "/nonexistent/objectio.toml".into(),
        ]);
        assert!(missing.unwrap_err().to_string().contains("nonexistent"));
    }
}
