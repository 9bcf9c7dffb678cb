//! `user create|list|info|delete`.

use anyhow::Context;
use clap::Subcommand;
use objectio_api::*;

use crate::Output;
use crate::api::Api;
use crate::ui::*;

#[derive(Subcommand)]
pub(crate) enum UserCmd {
    /// Creates a user.
    Create {
        /// Lowercase letters, digits, '.', '_', '-' (up to 64).
        name: String,
    },
    /// Every user with its keys and buckets.
    List,
    /// One user: its ARN, keys and buckets.
    Info { name: String },
    /// Deletes a user (refused while it owns buckets, or has keys unless
    /// --purge-keys); its keys stop working at every gateway at once.
    Delete {
        name: String,
        /// Delete the user's access keys with it.
        #[arg(long)]
        purge_keys: bool,
    },
}

pub(crate) fn deleted(d: &DeletedOut) -> String {
    let mut out = format!("deleted {} {}", d.kind, d.id);
    if d.kind == "user" && !d.keys_deleted.is_empty() {
        out += &format!(" and its keys {}", d.keys_deleted.join(", "));
    }
    out += &format!(
        "\n{} gateway(s) confirmed they refuse the key(s)\n",
        d.gateways_confirmed
    );
    if !d.unconfirmed.is_empty() {
        out += &format!(
            "not confirmed in time: {} (they stop trusting their copy within seconds)\n",
            d.unconfirmed.join(", ")
        );
    }
    out
}

pub(crate) fn user_table(users: &[UserOut]) -> String {
    table(
        &["NAME", "KEYS", "BUCKETS", "CREATED"],
        users
            .iter()
            .map(|u| {
                vec![
                    u.name.clone(),
                    u.keys.len().to_string(),
                    u.buckets.len().to_string(),
                    local_date(&u.created),
                ]
            })
            .collect(),
    )
}

/// Runs one `user` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create { name } => {
            let u: UserOut = api
                .send(
                    api.http
                        .post(api.url("/api/v1/users"))
                        .json(&UserIn { name }),
                )
                .await?
                .context("empty response")?;
            print(o, &u, |u| format!("created user {} ({})\n", u.name, u.arn));
        }
        UserCmd::List => {
            let l: ListUsersOut = api.get("/api/v1/users").await?;
            print(o, &l, |l| user_table(&l.users));
        }
        UserCmd::Info { name } => {
            let u: UserOut = api.get(&format!("/api/v1/users/{name}")).await?;
            print(o, &u, |u| {
                format!(
                    "name:     {}\narn:      {}\ncreated:  {}{}\nkeys:     {}\nbuckets:  {}\n",
                    u.name,
                    u.arn,
                    local_date(&u.created),
                    if u.migrated {
                        " (migrated from a key made before users)"
                    } else {
                        ""
                    },
                    if u.keys.is_empty() {
                        "-".into()
                    } else {
                        u.keys.join(", ")
                    },
                    if u.buckets.is_empty() {
                        "-".into()
                    } else {
                        u.buckets.join(", ")
                    },
                )
            });
        }
        UserCmd::Delete { name, purge_keys } => {
            let d: DeletedOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/users/{name}")))
                        .query(&[("purge_keys", purge_keys)]),
                )
                .await?
                .context("empty response")?;
            print(o, &d, deleted);
        }
    }
    Ok(())
}
