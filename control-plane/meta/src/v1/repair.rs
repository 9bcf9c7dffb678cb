//! The repair controller's job.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use objectio_api::*;

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/repair", get(status))
}

/// The repair controller's progress: the pass under way and the last one.
#[utoipa::path(get, path = "/api/v1/repair", operation_id = "repair.status", tag = "repair",
    security(("bearer" = [])),
    responses((status = 200, body = RepairStatusOut), (status = 401, body = ErrorOut)))]
pub async fn status(
    _: Admin,
    State(st): State<AppState>,
) -> Result<Json<RepairStatusOut>, ApiError> {
    let j = crate::controllers::repair::job(&st.store).await?;
    Ok(Json(RepairStatusOut {
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
        }),
    }))
}
