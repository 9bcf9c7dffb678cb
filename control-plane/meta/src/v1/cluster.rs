//! Cluster status.

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use objectio_api::*;
use objectio_cluster::{DiskRecord, MemberRecord, OsdRecord, Store};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cluster/status", get(status))
        .route("/api/v1/cluster/map", get(map))
        .route("/api/v1/cluster/members/{kind}/{id}", delete(forget))
        .route("/api/v1/cluster/rebalance", get(rebalance_status))
        .route(
            "/api/v1/cluster/rebalance/start",
            axum::routing::post(rebalance_start),
        )
        .route(
            "/api/v1/cluster/rebalance/stop",
            axum::routing::post(rebalance_stop),
        )
}

async fn rebalance_out(st: &AppState) -> Result<RebalanceOut, ApiError> {
    let j = crate::controllers::repair::job(&st.store).await?;
    let c = crate::controllers::repair::control(&st.store).await?;
    let snap = st.objects.map();
    let now = objectio_cluster::now_secs();
    let active = j.running && j.rebalancing;
    let (objects_left, bytes_left) = j.rebalance.left();
    let rate = if active {
        j.rebalance.moved_bytes / now.saturating_sub(j.pass_started).max(1)
    } else {
        0
    };
    let counted = active && !j.planning;
    let state = if c.rebalance_stopped {
        "paused"
    } else if active && j.planning {
        "planning"
    } else if active {
        "moving"
    } else if !snap.rebalance_ready() {
        "waiting"
    } else if snap.capacity_fingerprint() != j.rebalanced_fingerprint {
        "pending"
    } else {
        "idle"
    };
    Ok(RebalanceOut {
        state: state.into(),
        moved_objects: j.rebalance.moved_objects,
        moved_bytes: j.rebalance.moved_bytes,
        objects_left: counted.then_some(objects_left),
        bytes_left: counted.then_some(bytes_left),
        rate_bytes_per_sec: rate,
        eta_secs: (counted && rate > 0).then(|| bytes_left / rate),
        pass_started: active.then(|| rfc3339(j.pass_started)),
        last_finished: (j.rebalanced_at > 0).then(|| rfc3339(j.rebalanced_at)),
        total_moved_shards: j.total_moved_shards,
        total_moved_bytes: j.total_moved_bytes,
    })
}

/// The rebalance: moving shards to their preferred placement after the
/// capacity in service changed (an OSD or disk added, a weight changed).
/// It runs by itself; this says how far it is.
#[utoipa::path(get, path = "/api/v1/cluster/rebalance", operation_id = "cluster.rebalance_status", tag = "cluster",
    security(("bearer" = [])),
    responses((status = 200, body = RebalanceOut), (status = 401, body = ErrorOut)))]
pub async fn rebalance_status(
    _: Admin,
    State(st): State<AppState>,
) -> Result<Json<RebalanceOut>, ApiError> {
    Ok(Json(rebalance_out(&st).await?))
}

/// Resumes a stopped rebalance and asks for one now, even with no
/// capacity change (shards off their preferred placement move).
#[utoipa::path(post, path = "/api/v1/cluster/rebalance/start", operation_id = "cluster.rebalance_start", tag = "cluster",
    security(("bearer" = [])),
    responses((status = 200, body = RebalanceOut), (status = 401, body = ErrorOut)))]
pub async fn rebalance_start(
    _: Admin,
    State(st): State<AppState>,
) -> Result<Json<RebalanceOut>, ApiError> {
    crate::v1::repair::change_control(&st.store, |c| {
        c.rebalance_stopped = false;
        c.rebalance_requested_ms = objectio_cluster::now_millis();
    })
    .await?;
    tracing::info!("rebalance started by an operator");
    Ok(Json(rebalance_out(&st).await?))
}

/// Pauses rebalancing after the object under way (drains and repair go
/// on); `rebalance start` resumes it.
#[utoipa::path(post, path = "/api/v1/cluster/rebalance/stop", operation_id = "cluster.rebalance_stop", tag = "cluster",
    security(("bearer" = [])),
    responses((status = 200, body = RebalanceOut), (status = 401, body = ErrorOut)))]
pub async fn rebalance_stop(
    _: Admin,
    State(st): State<AppState>,
) -> Result<Json<RebalanceOut>, ApiError> {
    crate::v1::repair::change_control(&st.store, |c| c.rebalance_stopped = true).await?;
    tracing::info!("rebalance stopped by an operator");
    Ok(Json(rebalance_out(&st).await?))
}

/// `gateway` → `gateways`, `meta` → `metas` (the etcd prefixes).
fn kind_of(kind: &str) -> Result<&'static str, ApiError> {
    match kind {
        "gateway" => Ok("gateways"),
        "meta" => Ok("metas"),
        _ => Err(ApiError::bad_request(&format!(
            "unknown member kind {kind:?} (gateway or meta)"
        ))),
    }
}

/// Forgets a gateway or meta that has left for good, so that `cluster
/// status` stops counting it as expected. Refused while it is alive.
#[utoipa::path(delete, path = "/api/v1/cluster/members/{kind}/{id}", operation_id = "cluster.forget", tag = "cluster",
    security(("bearer" = [])),
    params(("kind" = String, Path, description = "gateway or meta"), ("id" = String, Path)),
    responses((status = 200, body = MemberOut), (status = 400, body = ErrorOut), (status = 401, body = ErrorOut),
        (status = 404, body = ErrorOut), (status = 409, body = ErrorOut)))]
pub async fn forget(
    _: Admin,
    State(st): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<MemberOut>, ApiError> {
    let store = &st.store;
    let plural = kind_of(&kind)?;
    let key = store.keys().member(plural, &id);
    let Some((m, rev)) = store.get::<MemberRecord>(key.clone()).await? else {
        return Err(ApiError::not_found(&format!("no {kind} {id:?} has joined")));
    };
    // Not alive, and still the record read: one transaction.
    let alive_key = store.keys().alive(plural, &id);
    let txn = Txn::new()
        .when([
            Compare::version(alive_key, CompareOp::Equal, 0),
            Compare::mod_revision(key.clone(), CompareOp::Equal, rev),
        ])
        .and_then([TxnOp::delete(key, None)]);
    if !store.kv().txn(txn).await?.succeeded() {
        return Err(ApiError::conflict(&format!(
            "{kind} {id} is alive (or just started again); stop it first"
        )));
    }
    tracing::info!(%kind, %id, "member forgotten");
    Ok(Json(MemberOut {
        kind: plural.trim_end_matches('s').to_string(),
        id: m.id,
        address: m.address,
        software: m.software,
        joined: objectio_api::rfc3339(m.joined),
        started: objectio_api::rfc3339(m.started),
        alive: false,
    }))
}

/// Names of the live members of a kind (`osds`, `gateways`, `metas`).
pub async fn alive(store: &Store, kind: &str) -> objectio_cluster::Result<HashSet<String>> {
    Ok(store
        .alive::<serde_json::Value>(kind)
        .await?
        .into_keys()
        .collect())
}

/// The id of the meta replica that leads the controllers (the value of
/// its election key), if one does.
pub async fn meta_leader(store: &Store) -> Option<String> {
    store
        .client()
        .election_client()
        .leader(store.keys().election())
        .await
        .ok()
        .and_then(|r| {
            r.kv()
                .and_then(|kv| kv.value_str().ok().map(str::to_string))
        })
}

/// Members of a kind: those alive against those that have joined.
async fn members(
    store: &Store,
    kind: &str,
    alive: &HashSet<String>,
) -> objectio_cluster::Result<Members> {
    let mut joined: HashSet<String> = store.members(kind).await?.into_iter().collect();
    joined.extend(alive.iter().cloned());
    let mut missing: Vec<String> = joined.difference(alive).cloned().collect();
    missing.sort();
    Ok(Members {
        healthy: alive.len() as u32,
        total: joined.len() as u32,
        missing,
    })
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
    // A removed OSD is gone; an added one not registered yet is expected,
    // not down.
    let osds: Vec<_> = store
        .list::<OsdRecord>(store.keys().osds_prefix())
        .await?
        .into_iter()
        .filter(|(_, o)| o.state != objectio_cluster::OsdService::Removed)
        .collect();
    let up = alive(store, "osds").await?;
    let gateways = alive(store, "gateways").await?;
    let metas = alive(store, "metas").await?;
    let leader = meta_leader(store).await;
    let disks = store
        .list::<DiskRecord>(store.keys().disks_prefix())
        .await?;
    let mut down: Vec<String> = osds
        .iter()
        .filter(|(_, o)| o.state != objectio_cluster::OsdService::New)
        .map(|(_, o)| o.id.clone())
        .filter(|id| !up.contains(id))
        .collect();
    down.sort();

    // Counted by the repair controller's last whole pass (a status call
    // does not read the index): the object total is etcd's count of keys.
    let total = store.count(store.keys().objects_root()).await?;
    let job = crate::controllers::repair::job(store).await?;
    let census = job.census.clone().unwrap_or_default();
    let (degraded, at_risk) = (census.degraded, census.at_risk);
    let state = if at_risk > 0 {
        ClusterState::Critical
    } else if !down.is_empty() || degraded > 0 {
        ClusterState::Degraded
    } else {
        ClusterState::Healthy
    };
    let repair = (job.running && job.osd.is_none() && (degraded + at_risk > 0 || !down.is_empty()))
        .then(|| RepairProgress {
            scanned: job.scanned,
            objects: total,
            eta_secs: crate::controllers::repair::pace(&job, total).1,
        });
    let gateways = members(store, "gateways", &gateways).await?;
    let (metas_healthy, metas_total, metas_missing) = {
        let m = members(store, "metas", &metas).await?;
        (m.healthy, m.total, m.missing)
    };
    Ok(Json(ClusterStatusOut {
        repair,
        name: cc.name,
        cluster_id: cc.cluster_id.to_string(),
        state,
        gateways,
        meta: MetaMembers {
            healthy: metas_healthy,
            total: metas_total,
            leader,
            missing: metas_missing,
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
            at_risk_osds: census.at_risk_osds,
            counted_at: job.census.map(|c| objectio_api::rfc3339(c.counted)),
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

/// The cluster map: the erasure-coding profiles, the failure domains, and
/// every OSD (address, liveness, in service or draining) with its disks
/// (in or out) and placement weights, at one etcd revision, with the map
/// epoch.
#[utoipa::path(get, path = "/api/v1/cluster/map", operation_id = "cluster.map", tag = "cluster",
    security(("bearer" = [])),
    responses((status = 200, body = ClusterMapOut), (status = 401, body = ErrorOut),
        (status = 503, body = ErrorOut)))]
pub async fn map(_: Admin, State(st): State<AppState>) -> Result<Json<ClusterMapOut>, ApiError> {
    let store = &st.store;
    let m = store.map_records().await?;
    let up = alive(store, "osds").await?;
    let snap = objectio_object::map::Snapshot {
        osds: m.osds.iter().map(|o| (o.id.clone(), o.clone())).collect(),
        alive: up.clone(),
        disks: m.disks.iter().map(|d| (d.id, d.clone())).collect(),
    };
    let weights: std::collections::HashMap<uuid::Uuid, f64> = snap
        .in_service()
        .into_iter()
        .map(|c| (c.disk, c.weight))
        .collect();
    let mut osds: Vec<MapOsdOut> = m
        .osds
        .iter()
        .filter(|o| o.state != objectio_cluster::OsdService::Removed)
        .map(|o| {
            let disks: Vec<MapDiskOut> = o
                .disks
                .iter()
                .filter_map(|id| snap.disks.get(id))
                .map(|d| MapDiskOut {
                    id: d.id.to_string(),
                    path: d.path.clone(),
                    state: match d.state {
                        objectio_cluster::DiskState::In => "in".into(),
                        objectio_cluster::DiskState::Out => "out".into(),
                    },
                    capacity_bytes: d.capacity_bytes,
                    weight: weights.get(&d.id).copied().unwrap_or(0.0),
                })
                .collect();
            MapOsdOut {
                id: o.id.clone(),
                address: o.address.clone(),
                failure_domain: o.failure_domain.clone(),
                state: if up.contains(&o.id) {
                    OsdState::Up
                } else {
                    OsdState::Down
                },
                service: o.state.as_str().into(),
                weight: disks.iter().map(|d| d.weight).sum(),
                disks,
            }
        })
        .collect();
    osds.sort_by_key(|o| natural(&o.id));
    let mut domains: std::collections::BTreeMap<String, FailureDomainOut> = Default::default();
    for o in &osds {
        let d = domains
            .entry(o.failure_domain.clone())
            .or_insert_with(|| FailureDomainOut {
                name: o.failure_domain.clone(),
                osds: Vec::new(),
                weight: 0.0,
            });
        d.osds.push(o.id.clone());
        d.weight += o.weight;
    }
    let cc = &m.config;
    let mut profiles = Vec::new();
    if cc.replicate_max > 0 {
        let small = cc.profile_for(cc.replicate_max);
        profiles.push(MapProfileOut {
            k: small.k,
            m: small.m,
            chunk_size: small.chunk_size,
            max_size: Some(cc.replicate_max),
            applies_to: format!(
                "objects of at most {} (whole copies)",
                iec(cc.replicate_max)
            ),
        });
    }
    profiles.push(MapProfileOut {
        k: cc.ec.k,
        m: cc.ec.m,
        chunk_size: cc.ec.chunk_size,
        max_size: None,
        applies_to: match cc.replicate_max {
            0 => "every object".into(),
            n => format!("objects larger than {}, and multipart uploads", iec(n)),
        },
    });
    Ok(Json(ClusterMapOut {
        epoch: m.epoch,
        revision: m.revision,
        name: cc.name.clone(),
        cluster_id: cc.cluster_id.to_string(),
        profiles,
        failure_domains: domains.into_values().collect(),
        osds,
    }))
}

/// Sorts `osd2` before `osd10`: the id's text with its trailing number.
fn natural(id: &str) -> (String, u64) {
    let digits = id.len() - id.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (text, num) = id.split_at(id.len() - digits);
    (text.to_string(), num.parse().unwrap_or(0))
}
