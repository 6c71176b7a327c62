//! The CLI's client commands.

use base64::Engine;
use std::io::Write;

use crate::client::Client;

fn error_message(reply: &crate::client::Reply) -> String {
    let kind = reply
        .headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Error");
    let message = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("Message"))
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&reply.body).into_owned());
    format!("{kind} ({}): {message}", reply.status.as_u16())
}

/// `nubo invoke`: prints the response on stdout; exit 1 on a function error, 2 on an API error.
pub(crate) async fn invoke(
    client: &Client,
    name: &str,
    payload: Vec<u8>,
    qualifier: Option<String>,
    log: bool,
) -> anyhow::Result<i32> {
    let path = format!(
        "/2015-03-31/functions/{}/invocations",
        nubo_wire::sigv4::uri_encode(name)
    );
    let query: Vec<(String, String)> = qualifier
        .into_iter()
        .map(|q| ("Qualifier".to_owned(), q))
        .collect();
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if log {
        headers.push(("x-amz-log-type", "Tail".to_owned()));
    }
    let reply = client
        .send(
            "lambda",
            http::Method::POST,
            &path,
            &query,
            &headers,
            payload,
        )
        .await?;
    if !reply.status.is_success() {
        eprintln!("{}", error_message(&reply));
        return Ok(2);
    }
    if let Some(tail) = reply
        .headers
        .get("x-amz-log-result")
        .and_then(|v| v.to_str().ok())
    {
        if let Ok(text) = base64::engine::general_purpose::STANDARD.decode(tail) {
            eprint!("{}", String::from_utf8_lossy(&text));
        }
    }
    let mut stdout = std::io::stdout();
    stdout.write_all(&reply.body)?;
    stdout.write_all(b"\n")?;
    if let Some(error) = reply
        .headers
        .get("x-amz-function-error")
        .and_then(|v| v.to_str().ok())
    {
        eprintln!("function error: {error}");
        return Ok(1);
    }
    Ok(0)
}

/// `nubo functions`: one line per function.
pub(crate) async fn functions(client: &Client) -> anyhow::Result<()> {
    let mut marker: Option<String> = None;
    println!(
        "{:<40} {:<16} {:>7} {:>8}  LAST MODIFIED",
        "NAME", "RUNTIME", "MEMORY", "TIMEOUT"
    );
    loop {
        let mut query = vec![("MaxItems".to_owned(), "50".to_owned())];
        if let Some(m) = &marker {
            query.push(("Marker".to_owned(), m.clone()));
        }
        let reply = client
            .send(
                "lambda",
                http::Method::GET,
                "/2015-03-31/functions/",
                &query,
                &[],
                Vec::new(),
            )
            .await?;
        if !reply.status.is_success() {
            anyhow::bail!("{}", error_message(&reply));
        }
        let page: serde_json::Value = serde_json::from_slice(&reply.body)?;
        for f in page["Functions"].as_array().into_iter().flatten() {
            println!(
                "{:<40} {:<16} {:>5}MB {:>7}s  {}",
                f["FunctionName"].as_str().unwrap_or(""),
                f["Runtime"].as_str().unwrap_or(""),
                f["MemorySize"],
                f["Timeout"],
                f["LastModified"].as_str().unwrap_or("")
            );
        }
        match page["NextMarker"].as_str() {
            Some(next) => marker = Some(next.to_owned()),
            None => return Ok(()),
        }
    }
}
