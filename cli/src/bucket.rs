//! `bucket list|create|info|delete`.

use anyhow::Context;
use clap::Subcommand;
use objectio_api::*;

use crate::Output;
use crate::api::Api;
use crate::ui::*;

#[derive(Subcommand)]
pub(crate) enum BucketCmd {
    /// Every bucket.
    List,
    /// Creates a bucket owned by a user (private, as S3 CreateBucket).
    Create {
        name: String,
        /// The user that owns it.
        #[arg(long, value_name = "USER")]
        owner: String,
        /// S3 object lock, for good (turns versioning on).
        #[arg(long)]
        object_lock: bool,
    },
    /// Owner, creation date, objects, versions, bytes, uploads in progress
    /// and which configurations are set.
    Info { name: String },
    /// Deletes an empty bucket; with --force, every object version in it
    /// first (asks to confirm unless --yes).
    Delete {
        name: String,
        /// Delete every object version, delete marker and upload first.
        #[arg(long)]
        force: bool,
        /// Do not ask before --force deletes objects.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Runs one `bucket` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: BucketCmd) -> anyhow::Result<()> {
    match cmd {
        BucketCmd::List => {
            let l: ListBucketsOut = api.get("/api/v1/buckets").await?;
            print(o, &l, |l| {
                table(
                    &["NAME", "OBJECTS", "OWNER", "CREATED"],
                    l.buckets
                        .iter()
                        .map(|b| {
                            vec![
                                b.name.clone(),
                                thousands(b.objects),
                                b.owner.clone(),
                                local_date(&b.created),
                            ]
                        })
                        .collect(),
                )
            });
        }
        BucketCmd::Create {
            name,
            owner,
            object_lock,
        } => {
            let b: BucketInfoOut = api
                .send(api.http.post(api.url("/api/v1/buckets")).json(&BucketIn {
                    name,
                    owner,
                    object_lock,
                }))
                .await?
                .context("empty response")?;
            print(o, &b, |b| {
                format!(
                    "created bucket {} (owner {}{})\n",
                    b.name,
                    b.owner,
                    if b.object_lock { ", object lock" } else { "" }
                )
            });
        }
        BucketCmd::Info { name } => {
            let b: BucketInfoOut = api
                .get(&format!("/api/v1/buckets/{}", path_segment(&name)))
                .await?;
            print(o, &b, bucket_info);
        }
        BucketCmd::Delete { name, force, yes } => {
            let seg = path_segment(&name);
            if force && !yes {
                let b: BucketInfoOut = api.get(&format!("/api/v1/buckets/{seg}")).await?;
                confirm(
                    &format!(
                        "Delete bucket {} and everything in it: {} objects, {} versions, {} delete markers, {}?",
                        b.name,
                        thousands(b.objects),
                        thousands(b.versions),
                        thousands(b.delete_markers),
                        human(b.bytes)
                    ),
                    &b.name,
                )?;
            }
            let d: BucketDeletedOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/buckets/{seg}?force={force}"))),
                )
                .await?
                .context("empty response")?;
            print(o, &d, |d| match d.versions_deleted {
                0 => format!("deleted bucket {}\n", d.name),
                n => format!(
                    "deleted bucket {} and {} object versions\n",
                    d.name,
                    thousands(n)
                ),
            });
        }
    }
    Ok(())
}

pub(crate) fn bucket_info(b: &BucketInfoOut) -> String {
    let mut set = Vec::new();
    if b.policy {
        set.push("policy".to_string());
    }
    if b.lifecycle_rules > 0 {
        set.push(format!("lifecycle ({} rules)", b.lifecycle_rules));
    }
    if b.cors {
        set.push("cors".into());
    }
    if b.object_lock {
        set.push("object lock".into());
    }
    if !b.tags.is_empty() {
        set.push(format!("tags ({})", b.tags.len()));
    }
    let rows = [
        ("Bucket", b.name.clone()),
        ("Owner", b.owner.clone()),
        ("Created", local_date(&b.created)),
        ("Objects", thousands(b.objects)),
        (
            "Versions",
            format!(
                "{} ({} delete markers)",
                thousands(b.versions),
                thousands(b.delete_markers)
            ),
        ),
        ("Size", human(b.bytes)),
        ("Uploads", format!("{} in progress", thousands(b.uploads))),
        ("Versioning", b.versioning.clone()),
        (
            "Configured",
            if set.is_empty() {
                "nothing".into()
            } else {
                set.join(", ")
            },
        ),
    ];
    rows.iter()
        .map(|(k, v)| format!("{:<11} {v}\n", format!("{k}:")))
        .collect()
}
