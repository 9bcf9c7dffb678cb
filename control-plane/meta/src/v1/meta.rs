//! The metadata service itself: its status (etcd members, the index,
//! the meta replicas) and rebuilding the index from disk scans.

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use objectio_api::*;

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

/// Largest rebuild request (the scans of every disk): about three million
/// shard headers.
const REBUILD_BODY_LIMIT: usize = 1 << 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/meta/rebuild",
            post(rebuild).layer(DefaultBodyLimit::max(REBUILD_BODY_LIMIT)),
        )
        .route("/api/v1/meta/status", get(status))
        .route("/api/v1/meta/snapshot", post(snapshot))
        .route("/api/v1/meta/export", get(export))
        .route(
            "/api/v1/meta/import",
            post(import).layer(DefaultBodyLimit::disable()),
        )
}

/// Streams a metadata export: every lasting record of the cluster
/// (config, OSDs and disks, users and access keys with secrets still
/// sealed, buckets and their configurations, the object index, uploads,
/// intents, GC entries) read at one etcd revision, as one JSON document
/// whose last line is the SHA-256 of the rest. Memory stays bounded
/// whatever the size; a transfer cut short ends without its checksum and
/// is refused by `meta import`.
#[utoipa::path(get, path = "/api/v1/meta/export", operation_id = "meta.export", tag = "meta",
    security(("bearer" = [])),
    responses((status = 200, body = MetaExportOut, content_type = "application/json"),
        (status = 401, body = ErrorOut),
        (status = 409, body = ErrorOut, description = "The cluster is not initialised"),
        (status = 503, body = ErrorOut)))]
pub async fn export(
    _: Admin,
    State(st): State<AppState>,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    let (h, body) = crate::export::export(&st.store).await?;
    let stamp: String = h
        .exported_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let name = format!("attachment; filename=\"meta-{}-{stamp}.json\"", h.cluster);
    let mut r = axum::response::Response::new(body);
    let hs = r.headers_mut();
    hs.insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("valid"),
    );
    if let Ok(v) = name.parse() {
        hs.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// Restores a metadata export (the body, as `GET /api/v1/meta/export`
/// wrote it). The whole upload is checked first (shape, count, SHA-256),
/// so a damaged file writes nothing; the cluster must then have no users,
/// buckets or objects unless `force`. Restore into a cluster of the same
/// name, then start the OSDs (their disks carry the exported cluster id)
/// and the gateways.
#[utoipa::path(post, path = "/api/v1/meta/import", operation_id = "meta.import", tag = "meta",
    security(("bearer" = [])), params(ImportQuery),
    request_body(content = MetaExportOut, content_type = "application/json"),
    responses((status = 200, body = ImportOut),
        (status = 400, body = ErrorOut, description = "Not a valid export (truncated, edited, another cluster's)"),
        (status = 401, body = ErrorOut),
        (status = 409, body = ErrorOut, description = "The cluster is not empty and force is not set"),
        (status = 503, body = ErrorOut)))]
pub async fn import(
    _: Admin,
    State(st): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<ImportQuery>,
    body: axum::body::Body,
) -> Result<Json<ImportOut>, ApiError> {
    Ok(Json(crate::export::import(&st.store, q.force, body).await?))
}

/// Rebuilds buckets and the object index from the raw scans of every disk
/// (`objectio-cli disk scan`): a version stands when `k` whole shards with
/// agreeing headers are live on their disks, multipart objects come back
/// from their manifests, and the newest version of each key wins. Refused
/// (409) when the index is not empty, unless `force`; `dry_run` writes
/// nothing and says what would be created.
#[utoipa::path(post, path = "/api/v1/meta/rebuild", operation_id = "meta.rebuild", tag = "meta",
    security(("bearer" = [])), request_body = RebuildIn,
    responses((status = 200, body = RebuildOut), (status = 400, body = ErrorOut), (status = 401, body = ErrorOut),
        (status = 404, body = ErrorOut), (status = 409, body = ErrorOut)))]
pub async fn rebuild(
    _: Admin,
    State(st): State<AppState>,
    Json(input): Json<RebuildIn>,
) -> Result<Json<RebuildOut>, ApiError> {
    Ok(Json(crate::rebuild::rebuild(&st, input).await?))
}

/// The metadata service: every etcd member (health, leader, Raft term and
/// indexes, database size, alarms), the size of the object index, and
/// every `objectio-meta` replica with the one leading the controllers.
/// Members are asked one by one, so a member that is down shows as such
/// (with why) instead of failing the request.
#[utoipa::path(get, path = "/api/v1/meta/status", operation_id = "meta.status", tag = "meta",
    security(("bearer" = [])),
    responses((status = 200, body = MetaStatusOut), (status = 401, body = ErrorOut), (status = 503, body = ErrorOut)))]
pub async fn status(_: Admin, State(st): State<AppState>) -> Result<Json<MetaStatusOut>, ApiError> {
    use objectio_cluster::MemberRecord;
    let store = &st.store;
    let k = store.keys();
    // Listing members needs a quorum; without one the members last seen
    // are asked one by one, which needs none.
    let (members, mut store_error) = match store.etcd_members().await {
        Ok(m) => (m, None),
        Err(e) => (
            store.members_last_seen(),
            Some(format!("etcd has no quorum or does not answer: {e}")),
        ),
    };
    let alarms = match store_error {
        None => store.alarms().await.unwrap_or_default(),
        Some(_) => Vec::new(),
    };
    let statuses =
        futures::future::join_all(members.iter().map(|m| store.member_status(&m.endpoint))).await;
    let mut etcd = Vec::new();
    let mut leader_db = (None, None);
    for (m, s) in members.iter().zip(statuses) {
        let alarms = alarms
            .iter()
            .filter(|(id, _)| *id == m.id)
            .map(|(_, a)| a.clone())
            .collect();
        let id = match (&s, m.id) {
            (Ok(s), 0) => s.id,
            _ => m.id,
        };
        let base = EtcdMemberOut {
            id: format!("{id:x}"),
            name: m.name.clone(),
            endpoint: m.endpoint.clone(),
            healthy: false,
            leader: false,
            version: None,
            raft_term: None,
            raft_index: None,
            raft_applied_index: None,
            db_size_bytes: None,
            db_size_in_use_bytes: None,
            alarms,
            error: None,
        };
        etcd.push(match s {
            Ok(s) => {
                let leader = s.leader == id;
                if leader {
                    leader_db = (Some(s.db_size), Some(s.db_size_in_use));
                }
                EtcdMemberOut {
                    healthy: s.leader != 0,
                    leader,
                    version: Some(s.version),
                    raft_term: Some(s.raft_term),
                    raft_index: Some(s.raft_index),
                    raft_applied_index: Some(s.raft_applied_index),
                    db_size_bytes: Some(s.db_size),
                    db_size_in_use_bytes: Some(s.db_size_in_use),
                    error: (s.leader == 0).then(|| "no leader".to_string()),
                    ..base
                }
            }
            Err(e) => EtcdMemberOut {
                error: Some(e.to_string()),
                ..base
            },
        });
    }
    etcd.sort_by(|a, b| a.name.cmp(&b.name));
    let (mut index, mut replicas, mut leader) = (None, Vec::new(), None);
    if store_error.is_none() {
        let read = async {
            let index = IndexSizeOut {
                records: store.count(k.objects_root()).await?,
                buckets: store.count(k.buckets_prefix()).await?,
                uploads: store.count(k.uploads_root()).await?,
                intents: store.count(k.intents_prefix()).await?,
                gc_queue: store.count(k.gc_prefix()).await?,
                db_size_bytes: leader_db.0,
                db_size_in_use_bytes: leader_db.1,
            };
            let leader = crate::v1::cluster::meta_leader(store).await;
            let alive = crate::v1::cluster::alive(store, "metas").await?;
            let mut replicas: Vec<MetaReplicaOut> = store
                .list::<MemberRecord>(k.members_prefix("metas"))
                .await?
                .into_iter()
                .map(|(_, m)| MetaReplicaOut {
                    alive: alive.contains(&m.id),
                    leader: leader.as_deref() == Some(m.id.as_str()),
                    id: m.id,
                    address: m.address,
                    version: m.software,
                    started: rfc3339(m.started),
                })
                .collect();
            replicas.sort_by(|a, b| a.id.cmp(&b.id));
            Ok::<_, objectio_cluster::Error>((index, replicas, leader))
        };
        match read.await {
            Ok((i, r, l)) => (index, replicas, leader) = (Some(i), r, l),
            Err(e) => store_error = Some(format!("reading the cluster's keys: {e}")),
        }
    }
    Ok(Json(MetaStatusOut {
        etcd,
        store_error,
        index,
        replicas,
        leader,
    }))
}

/// Saves an etcd snapshot now into this replica's `--snapshot-dir` (taken
/// from the etcd leader, checksum verified, synced), removing the oldest
/// beyond `--snapshot-retain`. Restore one with `etcdctl snapshot restore`
/// (docs/operations/failure-recovery.md).
#[utoipa::path(post, path = "/api/v1/meta/snapshot", operation_id = "meta.snapshot", tag = "meta",
    security(("bearer" = [])),
    responses((status = 200, body = SnapshotOut), (status = 401, body = ErrorOut),
        (status = 409, body = ErrorOut, description = "This replica has no --snapshot-dir"),
        (status = 503, body = ErrorOut, description = "No etcd member answered, or the snapshot could not be written")))]
pub async fn snapshot(_: Admin, State(st): State<AppState>) -> Result<Json<SnapshotOut>, ApiError> {
    let Some(s) = &st.snapshots else {
        return Err(ApiError::conflict(
            "this meta replica has no --snapshot-dir: set it (snapshot-dir in meta.toml) to take snapshots",
        ));
    };
    crate::snapshot::take(&st.store, s)
        .await
        .map(Json)
        .map_err(|e| ApiError::unavailable(&format!("etcd snapshot failed: {e}")))
}
