//! Function logs: capturing an environment's output and framing it with the platform's
//! START/END/REPORT lines. The framed lines go to `nubo_observe::LogWriter`, off the hot path.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use nubo_observe::LogWriter;
use nubo_store::LogEvent;
use parking_lot::Mutex;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::control::records::FunctionRecord;

/// Lines captured from one environment's stdout+stderr pipe, with a marker protocol that tells
/// when everything written before a point in time has been read.
///
/// After an invocation ends, the invoker writes a marker into the same pipe; since a pipe is FIFO,
/// once the reader sees the marker every byte the function wrote earlier has been captured.
pub(crate) struct LogCapture {
    lines: Mutex<Vec<(i64, String)>>,
    reached: watch::Receiver<u64>,
    writer: Mutex<std::io::PipeWriter>,
    next_mark: Mutex<u64>,
    reader: tokio::task::JoinHandle<()>,
}

const MARK_PREFIX: &[u8] = b"\x00nubo-log-mark:";

impl LogCapture {
    /// Creates the pipe; returns the capture and two write ends for the child's stdout and stderr.
    pub(crate) fn new() -> std::io::Result<(Arc<Self>, std::io::PipeWriter, std::io::PipeWriter)> {
        let (reader, writer) = std::io::pipe()?;
        let stdout = writer.try_clone()?;
        let stderr = writer.try_clone()?;
        let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into())?;
        let (reached_tx, reached_rx) = watch::channel(0u64);
        let capture = Arc::new_cyclic(|weak: &std::sync::Weak<LogCapture>| {
            let weak = weak.clone();
            let reader = tokio::spawn(read_loop(receiver, weak, reached_tx));
            LogCapture {
                lines: Mutex::new(Vec::new()),
                reached: reached_rx,
                writer: Mutex::new(writer),
                next_mark: Mutex::new(0),
                reader,
            }
        });
        Ok((capture, stdout, stderr))
    }

    /// Waits until everything written to the pipe so far has been captured, then takes the lines.
    pub(crate) async fn drain(&self) -> Vec<(i64, String)> {
        let mark = {
            let mut next = self.next_mark.lock();
            *next += 1;
            *next
        };
        let mut marker = MARK_PREFIX.to_vec();
        marker.extend_from_slice(format!("{mark}\n").as_bytes());
        // A marker is far below PIPE_BUF, so the write is atomic and does not interleave.
        let written = self.writer.lock().write_all(&marker).is_ok();
        if written {
            let mut reached = self.reached.clone();
            let _ = tokio::time::timeout(Duration::from_secs(2), reached.wait_for(|r| *r >= mark))
                .await;
        }
        std::mem::take(&mut *self.lines.lock())
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_loop(
    mut pipe: tokio::net::unix::pipe::Receiver,
    capture: std::sync::Weak<LogCapture>,
    reached: watch::Sender<u64>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        let Some(capture) = capture.upgrade() else {
            return;
        };
        let now = nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc());
        let mut marks = Vec::new();
        {
            let mut lines = capture.lines.lock();
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = &line[..line.len() - 1];
                match find(line, MARK_PREFIX) {
                    Some(at) => {
                        // Text the function wrote without a newline ends at the marker.
                        if at > 0 {
                            lines.push((now, String::from_utf8_lossy(&line[..at]).into_owned()));
                        }
                        if let Some(mark) = std::str::from_utf8(&line[at + MARK_PREFIX.len()..])
                            .ok()
                            .and_then(|s| s.parse().ok())
                        {
                            marks.push(mark);
                        }
                    }
                    None => lines.push((now, String::from_utf8_lossy(line).into_owned())),
                }
            }
        }
        for mark in marks {
            reached.send_replace(mark);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Figures for the REPORT line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report {
    pub(crate) duration: Duration,
    pub(crate) memory_mb: u32,
    pub(crate) max_memory_used_mb: u64,
    pub(crate) init_duration: Option<Duration>,
}

/// Billed duration: rounded up to the next millisecond.
pub(crate) fn billed_ms(duration: Duration) -> u128 {
    duration.as_nanos().div_ceil(1_000_000).max(1)
}

/// `REPORT RequestId: …\tDuration: 2.35 ms\tBilled Duration: 3 ms\t…`.
pub(crate) fn report_line(request_id: &str, report: &Report) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
        ms(report.duration),
        billed_ms(report.duration),
        report.memory_mb,
        report.max_memory_used_mb,
    );
    if let Some(init) = report.init_duration {
        line.push_str(&format!("\tInit Duration: {:.2} ms", ms(init)));
    }
    line.push('\t');
    line
}

/// `X-Amz-Log-Result` carries the last 4 KB of the invocation's log.
const LOG_TAIL_BYTES: usize = 4096;

/// One invocation's log, as the platform frames it around what the function wrote.
pub(crate) struct Framing<'a> {
    pub(crate) function: &'a FunctionRecord,
    pub(crate) request_id: &'a str,
    /// The environment's stream; `None` names one after the request (no environment ran).
    pub(crate) stream: Option<&'a str>,
    /// The platform's own lines after the function's (a timeout, an exit, an init error).
    pub(crate) platform_line: Option<String>,
    pub(crate) report: Report,
    /// Said once before START (an interpreter substitution).
    pub(crate) note: Option<String>,
}

impl Framing<'_> {
    /// Frames the captured `lines` with START/END/REPORT, sends them to the log writer under
    /// `/aws/lambda/<name>`, and returns the last 4 KB of the text (`LogType: Tail`).
    pub(crate) fn ship(self, lines: &mut Vec<(i64, String)>, writer: &LogWriter) -> String {
        let Self {
            function,
            request_id,
            stream,
            platform_line,
            report,
            note,
        } = self;
        let now = nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc());
        let mut framed: Vec<(i64, String)> = Vec::with_capacity(lines.len() + 4);
        let first_ts = lines.first().map(|l| l.0).unwrap_or(now);
        if let Some(note) = note {
            framed.push((first_ts, note));
        }
        framed.push((
            first_ts,
            format!(
                "START RequestId: {request_id} Version: {}",
                function.version
            ),
        ));
        framed.append(lines);
        if let Some(line) = platform_line {
            framed.extend(line.lines().map(|l| (now, l.to_owned())));
        }
        framed.push((now, format!("END RequestId: {request_id}")));
        framed.push((now, report_line(request_id, &report)));

        let mut text = String::new();
        for (_, line) in &framed {
            text.push_str(line);
            text.push('\n');
        }
        let group = nubo_observe::function_log_group(&function.name);
        let stream = stream.map(str::to_owned).unwrap_or_else(|| {
            format!(
                "{}/[{}]{}",
                nubo_wire::timefmt::log_stream_day(time::OffsetDateTime::now_utc()),
                function.version,
                request_id.replace('-', "")
            )
        });
        writer.send(
            framed
                .into_iter()
                .map(|(timestamp_ms, message)| LogEvent {
                    group: group.clone(),
                    stream: stream.clone(),
                    timestamp_ms,
                    message,
                })
                .collect(),
        );
        tail(text, LOG_TAIL_BYTES)
    }
}

/// The last `limit` bytes of `text`, cut at a character boundary.
fn tail(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail("abc".into(), 10), "abc");
        assert_eq!(tail("abcdef".into(), 3), "def");
        assert_eq!(tail("aé".into(), 1), "");
    }

    #[test]
    fn report_line_has_aws_fields() {
        let r = Report {
            duration: Duration::from_micros(2350),
            memory_mb: 128,
            max_memory_used_mb: 31,
            init_duration: Some(Duration::from_micros(118_210)),
        };
        let line = report_line("id", &r);
        assert_eq!(line, "REPORT RequestId: id\tDuration: 2.35 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB\tInit Duration: 118.21 ms\t");
        let warm = Report {
            init_duration: None,
            ..r
        };
        assert!(!report_line("id", &warm).contains("Init Duration"));
    }

    #[test]
    fn billing_rounds_up() {
        assert_eq!(billed_ms(Duration::from_micros(1)), 1);
        assert_eq!(billed_ms(Duration::from_millis(3)), 3);
        assert_eq!(billed_ms(Duration::from_micros(3001)), 4);
    }

    #[tokio::test]
    async fn drain_captures_everything_written_before_it() {
        let (capture, mut out, _err) = LogCapture::new().unwrap();
        out.write_all(b"first line\nno newline at end").unwrap();
        let lines = capture.drain().await;
        assert_eq!(
            lines.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
            ["first line", "no newline at end"]
        );
        out.write_all(b"second\n").unwrap();
        let lines = capture.drain().await;
        assert_eq!(
            lines.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
            ["second"]
        );
    }
}
