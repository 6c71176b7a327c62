//! Stack records, kept server-side as objects of the account's `nubo-stacks-{account}` bucket
//! (`{region}/{stack}.json`), written through the S3 API like everything else the CLI does: every
//! client of the server sees the same stacks, and they survive restarts and reinstalls of the CLI.

use nubo::client::Client;
use nubo_stacks::StackRecord;

fn bucket(account: &str) -> String {
    format!("nubo-stacks-{account}")
}

/// The caller's account (STS GetCallerIdentity).
pub(crate) async fn account(client: &Client) -> anyhow::Result<String> {
    let reply = client
        .query("sts", "GetCallerIdentity", "2011-06-15", &[])
        .await?;
    let body = String::from_utf8_lossy(&reply.body);
    if !reply.status.is_success() {
        anyhow::bail!("GetCallerIdentity ({}): {body}", reply.status);
    }
    let start = body.find("<Account>").map(|i| i + "<Account>".len());
    let end = body.find("</Account>");
    match (start, end) {
        (Some(s), Some(e)) if s < e => Ok(body[s..e].to_owned()),
        _ => anyhow::bail!("GetCallerIdentity: no account in {body}"),
    }
}

pub(crate) struct Records<'c> {
    pub(crate) client: &'c Client,
    pub(crate) account: String,
    pub(crate) region: String,
}

impl Records<'_> {
    fn key(&self, stack: &str) -> String {
        format!("/{}/{}/{stack}.json", bucket(&self.account), self.region)
    }

    pub(crate) async fn get(&self, stack: &str) -> anyhow::Result<Option<StackRecord>> {
        let reply = self
            .client
            .send(
                "s3",
                http::Method::GET,
                &self.key(stack),
                &[],
                &[],
                Vec::new(),
            )
            .await?;
        if reply.status == http::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.status.is_success() {
            anyhow::bail!(
                "cannot read stack {stack} ({}): {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        Ok(Some(serde_json::from_slice(&reply.body)?))
    }

    pub(crate) async fn put(&self, record: &StackRecord) -> anyhow::Result<()> {
        let body = serde_json::to_vec(record)?;
        let mut reply = self
            .client
            .send(
                "s3",
                http::Method::PUT,
                &self.key(&record.name),
                &[],
                &[],
                body.clone(),
            )
            .await?;
        if reply.status == http::StatusCode::NOT_FOUND {
            let made = self
                .client
                .send(
                    "s3",
                    http::Method::PUT,
                    &format!("/{}", bucket(&self.account)),
                    &[],
                    &[],
                    Vec::new(),
                )
                .await?;
            if !made.status.is_success() && made.status != http::StatusCode::CONFLICT {
                anyhow::bail!(
                    "cannot create the stacks bucket ({}): {}",
                    made.status,
                    String::from_utf8_lossy(&made.body)
                );
            }
            reply = self
                .client
                .send(
                    "s3",
                    http::Method::PUT,
                    &self.key(&record.name),
                    &[],
                    &[],
                    body,
                )
                .await?;
        }
        if !reply.status.is_success() {
            anyhow::bail!(
                "cannot record stack {} ({}): {}",
                record.name,
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        Ok(())
    }

    pub(crate) async fn delete(&self, stack: &str) -> anyhow::Result<()> {
        let reply = self
            .client
            .send(
                "s3",
                http::Method::DELETE,
                &self.key(stack),
                &[],
                &[],
                Vec::new(),
            )
            .await?;
        if !reply.status.is_success() && reply.status != http::StatusCode::NOT_FOUND {
            anyhow::bail!("cannot delete stack record {stack} ({})", reply.status);
        }
        Ok(())
    }

    /// Every stack of this region.
    pub(crate) async fn list(&self) -> anyhow::Result<Vec<StackRecord>> {
        let prefix = format!("{}/", self.region);
        let query = vec![
            ("list-type".to_owned(), "2".to_owned()),
            ("prefix".to_owned(), prefix),
        ];
        let reply = self
            .client
            .send(
                "s3",
                http::Method::GET,
                &format!("/{}", bucket(&self.account)),
                &query,
                &[],
                Vec::new(),
            )
            .await?;
        if reply.status == http::StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        if !reply.status.is_success() {
            anyhow::bail!(
                "cannot list stacks ({}): {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        let mut out = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("<Key>") {
            let after = &rest[start + 5..];
            let Some(end) = after.find("</Key>") else {
                break;
            };
            let key = &after[..end];
            if let Some(name) = key.rsplit('/').next().and_then(|k| k.strip_suffix(".json")) {
                if let Some(r) = self.get(name).await? {
                    out.push(r);
                }
            }
            rest = &after[end..];
        }
        Ok(out)
    }
}
