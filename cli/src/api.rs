//! The admin API client: bearer token, JSON bodies, the API's errors.

use anyhow::{Context, bail};
use objectio_api::ErrorOut;
use serde::de::DeserializeOwned;

pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: String,
    pub(crate) token: String,
}

impl Api {
    /// Sends `req` with the token; the response when it succeeded, else
    /// the API's error message.
    pub(crate) async fn check(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.endpoint))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await?;
        match serde_json::from_slice::<ErrorOut>(&body) {
            Ok(e) => bail!("{} ({}): {}", status, e.code, e.message),
            Err(_) => bail!("{}: {}", status, String::from_utf8_lossy(&body)),
        }
    }

    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<Option<T>> {
        let resp = self.check(req).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body = resp.bytes().await?;
        Ok(Some(
            serde_json::from_slice(&body).context("unexpected response from the admin API")?,
        ))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.endpoint.trim_end_matches('/'), path)
    }

    pub(crate) async fn post<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.post(self.url(path)))
            .await?
            .context("empty response")
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.get(self.url(path)))
            .await?
            .context("empty response")
    }
}
