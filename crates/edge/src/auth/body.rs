//! Reading a signed request's body before its signature is checked: bounded by the operation's
//! limit (a declared `Content-Length` over it is refused before a byte is read) and by an idle
//! timeout between chunks, so a client that stops sending cannot hold a worker's buffer forever.

use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Longer than the limit (declared or sent).
    TooLarge(usize),
    /// No data for longer than the idle timeout.
    Stalled,
    /// The connection failed mid-body.
    Broken(String),
}

/// Reads the whole body: at most `limit` bytes, each chunk within `idle` of the last.
pub(crate) async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    idle: Duration,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = body;
    let mut first: Option<Bytes> = None;
    let mut collected: Option<BytesMut> = None;
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(BodyError::Stalled),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Broken(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing a non-S3 service reads
        };
        let so_far =
            collected.as_ref().map_or(0, BytesMut::len) + first.as_ref().map_or(0, Bytes::len);
        if so_far + data.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        // Most bodies arrive as one chunk: keep it without copying.
        match (&mut first, &mut collected) {
            (None, None) => first = Some(data),
            (Some(_), None) => {
                let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
                buffer.extend_from_slice(&first.take().unwrap_or_default());
                buffer.extend_from_slice(&data);
                collected = Some(buffer);
            }
            (_, Some(buffer)) => buffer.extend_from_slice(&data),
        }
    }
    Ok(match collected {
        Some(buffer) => buffer.freeze(),
        None => first.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use axum::body::HttpBody;

    use super::*;

    /// Chunks sent one per poll; then the end, or (`stall`) nothing ever again.
    struct Chunks {
        chunks: VecDeque<&'static [u8]>,
        stall: bool,
    }

    impl HttpBody for Chunks {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            match self.chunks.pop_front() {
                Some(chunk) => Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from_static(
                    chunk,
                ))))),
                None if self.stall => Poll::Pending,
                None => Poll::Ready(None),
            }
        }
    }

    fn chunks(chunks: &[&'static [u8]], stall: bool) -> Body {
        Body::new(Chunks {
            chunks: chunks.iter().copied().collect(),
            stall,
        })
    }

    #[tokio::test]
    async fn bounded_by_size_and_idle_time() {
        let idle = Duration::from_millis(100);
        let headers = HeaderMap::new();
        assert_eq!(
            read(&headers, Body::from("hello"), 5, idle).await.unwrap(),
            "hello"
        );
        assert_eq!(
            read(&headers, Body::from("hello!"), 5, idle).await,
            Err(BodyError::TooLarge(5))
        );
        let mut declared = HeaderMap::new();
        declared.insert(http::header::CONTENT_LENGTH, "1000".parse().unwrap());
        assert_eq!(
            read(&declared, Body::empty(), 10, idle).await,
            Err(BodyError::TooLarge(10))
        );
        let split = chunks(&[b"ab", b"cd", b"e"], false);
        assert_eq!(read(&headers, split, 10, idle).await.unwrap(), "abcde");
        let over = chunks(&[b"abcd", b"efgh"], false);
        assert_eq!(
            read(&headers, over, 6, idle).await,
            Err(BodyError::TooLarge(6))
        );
        let stalled = chunks(&[b"ab"], true);
        assert_eq!(
            read(&headers, stalled, 10, idle).await,
            Err(BodyError::Stalled)
        );
    }
}
