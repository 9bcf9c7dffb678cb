//! The repair controller's job.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use objectio_api::*;

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/repair", get(status))
        .route("/api/v1/repair/start", post(start))
        .route("/api/v1/repair/stop", post(stop))
}

async fn status_out(st: &AppState) -> Result<RepairStatusOut, ApiError> {
    let j = crate::controllers::repair::job(&st.store).await?;
    let c = crate::controllers::repair::control(&st.store).await?;
    let objects = st.store.count(st.store.keys().objects_root()).await?;
    let (rate, eta) = crate::controllers::repair::pace(&j, objects);
    let mut out = to_out(j, c.stopped);
    out.objects = objects;
    out.rate_bytes_per_sec = rate;
    out.eta_secs = eta;
    Ok(out)
}

/// Starts a repair pass now (resuming a stopped controller), over every
/// object or only those with a shard on one OSD.
#[utoipa::path(post, path = "/api/v1/repair/start", operation_id = "repair.start", tag = "repair",
    security(("bearer" = [])), request_body = RepairStartIn,
    responses((status = 200, body = RepairStatusOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn start(
    _: Admin,
    State(st): State<AppState>,
    crate::v1::Body(input): crate::v1::Body<RepairStartIn>,
) -> Result<Json<RepairStatusOut>, ApiError> {
    let store = &st.store;
    if let Some(osd) = &input.osd {
        crate::v1::osds::known_osd(store, osd).await?;
    }
    change_control(store, |c| {
        c.stopped = false;
        c.requested_ms = objectio_cluster::now_millis();
        c.osd = input.osd.clone();
    })
    .await?;
    Ok(Json(status_out(&st).await?))
}

/// Changes the operator's control record of the repair controller (shared
/// with rebalance's) by compare-and-swap, keeping what it does not touch.
pub async fn change_control(
    store: &objectio_cluster::Store,
    mut f: impl FnMut(&mut objectio_cluster::RepairControl),
) -> Result<(), ApiError> {
    store
        .update::<objectio_cluster::RepairControl, objectio_cluster::Error>(
            store.keys().job("repair-control"),
            |c| {
                let mut c = c.unwrap_or_default();
                c.version = objectio_cluster::SCHEMA_VERSION;
                f(&mut c);
                Ok(Some(c))
            },
        )
        .await?;
    Ok(())
}

/// Pauses the repair controller after the object under way (the pass keeps
/// its cursor; `repair start` resumes).
#[utoipa::path(post, path = "/api/v1/repair/stop", operation_id = "repair.stop", tag = "repair",
    security(("bearer" = [])),
    responses((status = 200, body = RepairStatusOut), (status = 401, body = ErrorOut)))]
pub async fn stop(_: Admin, State(st): State<AppState>) -> Result<Json<RepairStatusOut>, ApiError> {
    change_control(&st.store, |c| c.stopped = true).await?;
    Ok(Json(status_out(&st).await?))
}

/// The repair controller's progress: the pass under way and the last one.
#[utoipa::path(get, path = "/api/v1/repair", operation_id = "repair.status", tag = "repair",
    security(("bearer" = [])),
    responses((status = 200, body = RepairStatusOut), (status = 401, body = ErrorOut)))]
pub async fn status(
    _: Admin,
    State(st): State<AppState>,
) -> Result<Json<RepairStatusOut>, ApiError> {
    Ok(Json(status_out(&st).await?))
}

fn to_out(j: objectio_cluster::RepairJob, stopped: bool) -> RepairStatusOut {
    RepairStatusOut {
        objects: 0,
        rate_bytes_per_sec: 0,
        eta_secs: None,
        stopped,
        osd: j.osd.clone(),
        running: j.running,
        passes: j.passes,
        pass_started: j.running.then(|| rfc3339(j.pass_started)),
        scanned: j.scanned,
        repaired_objects: j.repaired_objects,
        repaired_shards: j.repaired_shards,
        bytes_rebuilt: j.bytes_rebuilt,
        skipped_count: j.skipped_count,
        skipped: j
            .skipped
            .into_iter()
            .map(|s| SkippedObjectOut {
                bucket: s.bucket,
                key: s.key,
                reason: s.reason,
            })
            .collect(),
        total_repaired_objects: j.total_repaired_objects,
        total_repaired_shards: j.total_repaired_shards,
        total_bytes_rebuilt: j.total_bytes_rebuilt,
        last: j.last.map(|p| RepairPassOut {
            started: rfc3339(p.started),
            finished: rfc3339(p.finished),
            scanned: p.scanned,
            repaired_objects: p.repaired_objects,
            repaired_shards: p.repaired_shards,
            bytes_rebuilt: p.bytes_rebuilt,
            skipped_count: p.skipped_count,
            osd: p.osd,
        }),
    }
}
