//! `token create|list|revoke`: admin tokens with a scope and an expiry.

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use objectio_api::*;

use crate::Output;
use crate::api::Api;
use crate::ui::*;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Scope {
    /// Every GET but the metadata export and the token routes.
    Read,
    /// Everything.
    Admin,
}

#[derive(Subcommand)]
pub(crate) enum TokenCmd {
    /// Creates an admin token and prints it (shown only once; the cluster
    /// keeps its SHA-256).
    Create {
        #[arg(long, value_enum)]
        scope: Scope,
        /// What it is for.
        #[arg(long, default_value = "")]
        label: String,
        /// Refused after this long (90s, 30m, 12h, 90d; default: never).
        #[arg(long, value_name = "DURATION", value_parser = objectio_api::parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// Every token created through the API (never their secrets).
    List,
    /// Revokes a token: the next request carrying it is refused.
    Revoke { id: String },
}

fn scope_name(s: TokenScope) -> &'static str {
    match s {
        TokenScope::Read => "read",
        TokenScope::Admin => "admin",
    }
}

/// Runs one `token` command.
pub(crate) async fn run(api: &Api, o: Output, cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            scope,
            label,
            expires_in,
        } => {
            let scope = match scope {
                Scope::Read => TokenScope::Read,
                Scope::Admin => TokenScope::Admin,
            };
            let t: TokenCreatedOut = api
                .send(api.http.post(api.url("/api/v1/tokens")).json(&TokenIn {
                    scope,
                    label,
                    expires_in_secs: expires_in.map(|d| d.as_secs()),
                }))
                .await?
                .context("empty response")?;
            print(o, &t, |t| {
                format!(
                    "id:      {}\nscope:   {}\nexpires: {}\ntoken:   {}\n(the token is shown only now)\n",
                    t.id,
                    scope_name(t.scope),
                    t.expires.as_deref().map_or("never".into(), local_date),
                    t.token
                )
            });
        }
        TokenCmd::List => {
            let l: ListTokensOut = api.get("/api/v1/tokens").await?;
            print(o, &l, |l| {
                table(
                    &["ID", "SCOPE", "LABEL", "CREATED", "EXPIRES"],
                    l.tokens
                        .iter()
                        .map(|t| {
                            vec![
                                t.id.clone(),
                                scope_name(t.scope).into(),
                                t.label.clone(),
                                local_date(&t.created),
                                match (&t.expires, t.expired) {
                                    (None, _) => "never".into(),
                                    (Some(e), false) => local_date(e),
                                    (Some(e), true) => format!("EXPIRED {}", local_date(e)),
                                },
                            ]
                        })
                        .collect(),
                )
            });
        }
        TokenCmd::Revoke { id } => {
            let t: TokenOut = api
                .send(
                    api.http
                        .delete(api.url(&format!("/api/v1/tokens/{}", path_segment(&id)))),
                )
                .await?
                .context("empty response")?;
            print(o, &t, |t| {
                format!(
                    "revoked token {} ({}, {})\n",
                    t.id,
                    scope_name(t.scope),
                    t.label
                )
            });
        }
    }
    Ok(())
}
