//! Cluster status.

use std::collections::HashSet;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::{DiskRecord, ObjectRecord, OsdRecord, Store};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/cluster/status", get(status))
}

/// Names of the live members of a kind (`osds`, `gateways`, `metas`).
pub async fn alive(store: &Store, kind: &str) -> objectio_cluster::Result<HashSet<String>> {
    Ok(store
        .alive::<serde_json::Value>(kind)
        .await?
        .into_keys()
        .collect())
}

/// Overall health: members, OSDs, objects and capacity. State is CRITICAL
/// when some object has fewer than `k` shards on up OSDs, DEGRADED when an
/// OSD is down or an object misses a shard, else HEALTHY.
#[utoipa::path(get, path = "/api/v1/cluster/status", operation_id = "cluster.status", tag = "cluster",
    security(("bearer" = [])),
    responses((status = 200, body = ClusterStatusOut), (status = 401, body = ErrorOut)))]
pub async fn status(
    _: Admin,
    State(st): State<AppState>,
) -> Result<Json<ClusterStatusOut>, ApiError> {
    let store = &st.store;
    let cc = store.config().await?;
    let osds = store.list::<OsdRecord>(store.keys().osds_prefix()).await?;
    let up = alive(store, "osds").await?;
    let gateways = alive(store, "gateways").await?;
    let metas = alive(store, "metas").await?;
    let leader = store
        .client()
        .election_client()
        .leader(store.keys().election())
        .await
        .ok()
        .and_then(|r| {
            r.kv()
                .and_then(|kv| kv.value_str().ok().map(str::to_string))
        });
    let disks = store
        .list::<DiskRecord>(store.keys().disks_prefix())
        .await?;
    let mut down: Vec<String> = osds
        .iter()
        .map(|(_, o)| o.id.clone())
        .filter(|id| !up.contains(id))
        .collect();
    down.sort();

    // Per-object redundancy: shards reachable now, as the object layer
    // counts them (on up OSDs that still serve their disk).
    let snap = objectio_object::map::Snapshot {
        osds: osds
            .iter()
            .map(|(_, o)| (o.id.clone(), o.clone()))
            .collect(),
        alive: up.clone(),
        disks: disks.iter().map(|(_, d)| (d.id, d.clone())).collect(),
    };
    let mut total = 0u64;
    let (mut degraded, mut at_risk) = (0u64, 0u64);
    for (_, o) in store
        .list::<ObjectRecord>(store.keys().objects_root())
        .await?
    {
        total += 1;
        // The object's redundancy is that of its weakest segment (part).
        let worst = o
            .segments()
            .iter()
            .filter(|s| s.size > 0)
            .map(|s| {
                s.shards
                    .iter()
                    .flatten()
                    .filter(|l| snap.is_reachable(l))
                    .count()
            })
            .min();
        match worst {
            Some(r) if r < o.ec.k as usize => at_risk += 1,
            Some(r) if r < o.ec.total() => degraded += 1,
            _ => {}
        }
    }
    let state = if at_risk > 0 {
        ClusterState::Critical
    } else if !down.is_empty() || degraded > 0 {
        ClusterState::Degraded
    } else {
        ClusterState::Healthy
    };
    let job = crate::controllers::repair::job(store).await?;
    let repair = (job.running && degraded + at_risk > 0).then(|| {
        let elapsed = objectio_cluster::now_secs().saturating_sub(job.pass_started);
        RepairProgress {
            scanned: job.scanned,
            objects: total,
            eta_secs: (job.scanned > 0 && elapsed > 0)
                .then(|| elapsed * total.saturating_sub(job.scanned) / job.scanned),
        }
    });
    Ok(Json(ClusterStatusOut {
        repair,
        name: cc.name,
        cluster_id: cc.cluster_id.to_string(),
        state,
        gateways: Members {
            healthy: gateways.len() as u32,
            total: gateways.len() as u32,
        },
        meta: MetaMembers {
            healthy: metas.len() as u32,
            total: metas.len() as u32,
            leader,
        },
        osds: OsdSummary {
            up: (osds.len() - down.len()) as u32,
            total: osds.len() as u32,
            down,
        },
        objects: ObjectSummary {
            total,
            degraded,
            at_risk,
        },
        capacity: Capacity {
            used_bytes: disks.iter().map(|(_, d)| d.used_bytes).sum(),
            total_bytes: disks.iter().map(|(_, d)| d.capacity_bytes).sum(),
        },
        ec: EcProfileOut {
            k: cc.ec.k,
            m: cc.ec.m,
            chunk_size: cc.ec.chunk_size,
        },
    }))
}
