//! OSDs.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::{DiskRecord, DiskState, OsdRecord};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;
use crate::v1::cluster::alive;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/osds", get(list))
        .route("/api/v1/osds/{id}/out", post(mark_out))
        .route("/api/v1/osds/{id}/in", post(mark_in))
        .route("/api/v1/osds/{id}/scrub", post(scrub))
        .route("/api/v1/osds/{id}/ok-to-stop", get(ok_to_stop))
}

/// The record of a registered OSD, or 404 (an id with `/` is none).
pub async fn known_osd(store: &objectio_cluster::Store, id: &str) -> Result<OsdRecord, ApiError> {
    let found = match id.contains('/') {
        true => None,
        false => store.get::<OsdRecord>(store.keys().osd(id)).await?,
    };
    found
        .map(|(o, _)| o)
        .ok_or_else(|| ApiError::not_found(&format!("no such OSD {id:?}")))
}

/// Whether stopping the OSD now would leave any object with fewer than
/// k+1 reachable shards (as Ceph's `ok-to-stop`): every object record is
/// read and its shards counted on the OSDs up now, less this one.
#[utoipa::path(get, path = "/api/v1/osds/{id}/ok-to-stop", operation_id = "osd.ok_to_stop", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = OkToStopOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn ok_to_stop(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OkToStopOut>, ApiError> {
    let store = &st.store;
    known_osd(store, &id).await?;
    let snap = st.objects.map();
    let (mut objects, mut short) = (0u64, 0u64);
    let mut examples = Vec::new();
    for (_, rec) in store
        .list::<objectio_cluster::ObjectRecord>(store.keys().objects_root())
        .await?
    {
        objects += 1;
        let left = snap.fewest_readable(&rec, Some(&id));
        if left.is_some_and(|n| n < rec.ec.k as usize + 1) {
            short += 1;
            if examples.len() < 10 {
                examples.push(format!("{}/{}", rec.bucket, rec.key));
            }
        }
    }
    let reason = if short == 0 {
        format!("every object keeps at least k+1 reachable shards without {id}")
    } else {
        format!(
            "{short} object(s) would keep fewer than k+1 reachable shards without {id}: bring the OSDs that are down back first"
        )
    };
    Ok(Json(OkToStopOut {
        ok_to_stop: short == 0,
        osd: id,
        objects,
        objects_short: short,
        examples,
        reason,
    }))
}

/// Asks an OSD to scrub its disks now: every chunk re-read and checked;
/// damaged shards are reported and rebuilt by repair.
#[utoipa::path(post, path = "/api/v1/osds/{id}/scrub", operation_id = "osd.scrub", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = ScrubRequestOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn scrub(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ScrubRequestOut>, ApiError> {
    let store = &st.store;
    known_osd(store, &id).await?;
    let now = objectio_cluster::now_millis();
    store
        .put(
            store.keys().scrub_request(&id),
            &objectio_cluster::ScrubRequest {
                version: objectio_cluster::SCHEMA_VERSION,
                requested_ms: now,
            },
        )
        .await?;
    Ok(Json(ScrubRequestOut {
        osd: id,
        requested: rfc3339(now / 1000),
    }))
}

async fn set_state(
    st: &AppState,
    id: &str,
    state: DiskState,
) -> Result<Json<OsdStateChangeOut>, ApiError> {
    let store = &st.store;
    known_osd(store, id).await?;
    let mut changed = Vec::new();
    for (_, d) in store
        .list::<DiskRecord>(store.keys().disks_prefix())
        .await?
    {
        if d.osd == id
            && crate::controllers::health::set_disk_state(store, &d.id, state, false).await?
        {
            changed.push(d.id.to_string());
        }
    }
    tracing::info!(
        osd = id,
        ?state,
        disks = changed.len(),
        "OSD marked by an operator"
    );
    Ok(Json(OsdStateChangeOut {
        osd: id.to_string(),
        state: match state {
            DiskState::In => "in".into(),
            DiskState::Out => "out".into(),
        },
        disks_changed: changed,
    }))
}

/// Marks every disk of an OSD `out`: no new shards go to it, and repair
/// rebuilds its shards on other disks (it stays out until marked in).
#[utoipa::path(post, path = "/api/v1/osds/{id}/out", operation_id = "osd.out", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = OsdStateChangeOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn mark_out(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OsdStateChangeOut>, ApiError> {
    set_state(&st, &id, DiskState::Out).await
}

/// Marks every disk of an OSD `in` again: it takes new shards.
#[utoipa::path(post, path = "/api/v1/osds/{id}/in", operation_id = "osd.in", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = OsdStateChangeOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn mark_in(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OsdStateChangeOut>, ApiError> {
    set_state(&st, &id, DiskState::In).await
}

/// Lists every registered OSD with its liveness and disks.
#[utoipa::path(get, path = "/api/v1/osds", operation_id = "osd.list", tag = "osds",
    security(("bearer" = [])),
    responses((status = 200, body = ListOsdsOut), (status = 401, body = ErrorOut)))]
pub async fn list(_: Admin, State(st): State<AppState>) -> Result<Json<ListOsdsOut>, ApiError> {
    let store = &st.store;
    let up = alive(store, "osds").await?;
    let disks: Vec<DiskRecord> = store
        .list::<DiskRecord>(store.keys().disks_prefix())
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let osds = store
        .list::<OsdRecord>(store.keys().osds_prefix())
        .await?
        .into_iter()
        .map(|(_, o)| OsdOut {
            state: if up.contains(&o.id) {
                OsdState::Up
            } else {
                OsdState::Down
            },
            disks: disks
                .iter()
                .filter(|d| d.osd == o.id)
                .map(|d| DiskOut {
                    id: d.id.to_string(),
                    path: d.path.clone(),
                    capacity_bytes: d.capacity_bytes,
                    used_bytes: d.used_bytes,
                    free_bytes: d.free_bytes,
                    shards: d.shards,
                    backend: d.backend.clone(),
                    state: match d.state {
                        DiskState::In => "in".into(),
                        DiskState::Out => "out".into(),
                    },
                    last_scrub: (d.last_scrub > 0).then(|| rfc3339(d.last_scrub)),
                    scrub_errors: d.scrub_errors,
                })
                .collect(),
            id: o.id,
            address: o.address,
            failure_domain: o.failure_domain,
        })
        .collect();
    Ok(Json(ListOsdsOut { osds }))
}
