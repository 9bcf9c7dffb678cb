//! etcd snapshots: the meta leader saves one every `--snapshot-interval`
//! into `--snapshot-dir`, keeping the newest `--snapshot-retain`;
//! `POST /api/v1/meta/snapshot` (`objectio-cli meta snapshot`) takes one
//! now. Each is the maintenance snapshot of the etcd leader (the member
//! with every committed entry), streamed to a `.part` file, its SHA-256
//! checked, synced and renamed into place: a file named `etcd-*.db` is
//! always whole. `etcdctl snapshot restore` takes it as it is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use objectio_api::{SnapshotOut, rfc3339};
use objectio_cluster::Store;

/// Where snapshots go and how many are kept.
#[derive(Clone, Debug)]
pub struct Snapshots {
    pub dir: PathBuf,
    pub retain: usize,
}

/// One snapshot at a time per process (the retention pass lists files).
static TAKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn prefix(store: &Store) -> String {
    format!("etcd-{}-", store.cluster())
}

/// Takes a snapshot now; what was written and what retention removed.
pub async fn take(store: &Store, s: &Snapshots) -> Result<SnapshotOut, String> {
    let _one = TAKING.lock().await;
    tokio::fs::create_dir_all(&s.dir)
        .await
        .map_err(|e| format!("creating {}: {e}", s.dir.display()))?;
    let member = source_member(store).await?;
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
        ))
        .map_err(|e| e.to_string())?;
    let name = format!("{}{stamp}.db", prefix(store));
    let path = s.dir.join(&name);
    let part = s.dir.join(format!("{name}.part"));
    let started = std::time::Instant::now();
    let written = write(store, &member.endpoint, &part, &path).await;
    let bytes = match written {
        Ok(b) => b,
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
    };
    let removed = prune(store, &s.dir, s.retain).await?;
    tracing::info!(
        path = %path.display(),
        member = %member.name,
        size = %objectio_api::iec(bytes),
        ms = started.elapsed().as_millis() as u64,
        removed = removed.len(),
        "etcd snapshot saved"
    );
    Ok(SnapshotOut {
        path: path.display().to_string(),
        bytes,
        member: member.name,
        taken: rfc3339(now.unix_timestamp() as u64),
        removed,
    })
}

/// The etcd leader, else any member that answers.
async fn source_member(store: &Store) -> Result<objectio_cluster::store::EtcdMember, String> {
    let members = store.etcd_members().await.map_err(|e| e.to_string())?;
    let mut answering = None;
    for m in members {
        match store.member_status(&m.endpoint).await {
            Ok(st) if st.leader == m.id => return Ok(m),
            Ok(_) => answering = answering.or(Some(m)),
            Err(e) => tracing::warn!(member = %m.name, error = %e, "etcd member status"),
        }
    }
    answering.ok_or_else(|| "no etcd member answers".to_string())
}

async fn write(store: &Store, endpoint: &str, part: &Path, path: &Path) -> Result<u64, String> {
    let io = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
    let file = tokio::fs::File::create(part)
        .await
        .map_err(|e| io("creating", part, e))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let bytes = store
        .snapshot_member(endpoint, &mut out)
        .await
        .map_err(|e| e.to_string())?;
    let file = out.into_inner();
    file.sync_all().await.map_err(|e| io("syncing", part, e))?;
    tokio::fs::rename(part, path)
        .await
        .map_err(|e| io("renaming", part, e))?;
    if let Some(dir) = path.parent() {
        let d = std::fs::File::open(dir).map_err(|e| io("opening", dir, e))?;
        d.sync_all().map_err(|e| io("syncing", dir, e))?;
    }
    Ok(bytes)
}

/// Called holding [`TAKING`]. Removes the oldest snapshots of this cluster beyond `retain` (names
/// sort by time), and `.part` files a crash left; the names removed.
async fn prune(store: &Store, dir: &Path, retain: usize) -> Result<Vec<String>, String> {
    let p = prefix(store);
    let mut rd = tokio::fs::read_dir(dir)
        .await
        .map_err(|e| format!("listing {}: {e}", dir.display()))?;
    let mut snaps = Vec::new();
    let mut removed = Vec::new();
    while let Some(e) = rd.next_entry().await.map_err(|e| e.to_string())? {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(&p) {
            continue;
        }
        if name.ends_with(".db") {
            snaps.push(name);
        } else if name.ends_with(".db.part") {
            // Called with the lock held, after this snapshot's rename:
            // any other `.part` is a leftover of a crash.
            if tokio::fs::remove_file(e.path()).await.is_ok() {
                removed.push(name);
            }
        }
    }
    snaps.sort();
    let extra = snaps.len().saturating_sub(retain.max(1));
    for name in snaps.into_iter().take(extra) {
        tokio::fs::remove_file(dir.join(&name))
            .await
            .map_err(|e| format!("removing {name}: {e}"))?;
        removed.push(name);
    }
    Ok(removed)
}

/// Saves a snapshot every `every` while this replica leads.
pub async fn lead(store: Store, leader: crate::controllers::Leader, s: Snapshots, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    while leader.get() {
        tick.tick().await;
        if !leader.get() {
            break;
        }
        if let Err(e) = take(&store, &s).await {
            tracing::warn!(error = %e, dir = %s.dir.display(), "etcd snapshot failed");
        }
    }
}
