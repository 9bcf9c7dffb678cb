//! Command-line and environment settings every daemon shares, and its
//! logging set-up.

use std::path::PathBuf;

use crate::Store;

/// Where the cluster lives: etcd endpoints and the cluster name.
#[derive(clap::Args, Debug, Clone)]
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
}

impl ClusterArgs {
    /// Connects to the cluster's etcd.
    pub async fn connect(&self) -> crate::Result<Store> {
        Store::connect(&self.etcd, &self.name).await
    }
}

/// The shared secret of the shard protocol, inline or from a file.
#[derive(clap::Args, Debug, Clone)]
pub struct SecretArgs {
    /// Shared secret of the shard protocol.
    #[arg(long, env = "OBJECTIO_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// File holding the shared secret (mode 600).
    #[arg(long, env = "OBJECTIO_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
}

impl SecretArgs {
    /// The secret's bytes, or why there is none.
    pub fn load(&self) -> Result<Vec<u8>, String> {
        crate::util::load_secret(
            self.cluster_secret.as_deref(),
            self.cluster_secret_file.as_deref(),
            "cluster secret",
        )
        .map(String::into_bytes)
    }
}

/// Logs to stdout, filtered by `RUST_LOG` (default `info`), with colours
/// only on a terminal.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
}
