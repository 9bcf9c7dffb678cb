//! `key create|list|delete`.

use anyhow::Context;
use clap::Subcommand;
use objectio_api::*;

use crate::Output;
use crate::api::Api;
use crate::ui::*;
use crate::user::deleted;

#[derive(Subcommand)]
pub(crate) enum KeyCmd {
    /// Creates an access key for a user and prints its secret (shown only
    /// once).
    Create {
        /// The user the key acts as.
        #[arg(long)]
        user: String,
        /// A label for the key (default: the user's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Lists access keys (without secrets).
    List {
        /// Only the keys of this user.
        #[arg(long)]
        user: Option<String>,
    },
    /// Deletes an access key; it stops working at every gateway at once.
    Delete { access_key_id: String },
}

/// Runs one `key` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { user, name } => {
            let k: AccessKeyOut = api
                .send(
                    api.http
                        .post(api.url("/api/v1/keys"))
                        .json(&AccessKeyIn { user, name }),
                )
                .await?
                .context("empty response")?;
            print(o, &k, |k| {
                format!(
                    "user:              {}\naccess_key_id:     {}\nsecret_access_key: {}\n(the secret is shown only now)\n",
                    k.user,
                    k.access_key_id,
                    k.secret_access_key.as_deref().unwrap_or("")
                )
            });
        }
        KeyCmd::List { user } => {
            let mut req = api.http.get(api.url("/api/v1/keys"));
            if let Some(u) = &user {
                req = req.query(&[("user", u)]);
            }
            let l: ListAccessKeysOut = api.send(req).await?.context("empty response")?;
            print(o, &l, |l| {
                table(
                    &["ACCESS KEY ID", "USER", "NAME", "CREATED"],
                    l.keys
                        .iter()
                        .map(|k| {
                            vec![
                                k.access_key_id.clone(),
                                k.user.clone(),
                                k.name.clone(),
                                local_date(&k.created),
                            ]
                        })
                        .collect(),
                )
            });
        }
        KeyCmd::Delete { access_key_id } => {
            let d: DeletedOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/keys/{access_key_id}"))),
                )
                .await?
                .context("empty response")?;
            print(o, &d, deleted);
        }
    }
    Ok(())
}
