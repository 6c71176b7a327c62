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
    captured: Mutex<Captured>,
    reached: watch::Receiver<u64>,
    writer: Mutex<std::io::PipeWriter>,
    next_mark: Mutex<u64>,
    reader: tokio::task::JoinHandle<()>,
}

const MARK_PREFIX: &[u8] = b"\x00nubo-log-mark:";

/// A line longer than this is cut into pieces of this size (CloudWatch Logs' event limit), so a
/// function writing without newlines never makes the reader hold more.
pub(crate) const MAX_LINE_BYTES: usize = 256 * 1024;

/// What one invocation's log keeps; output beyond it is counted and said once, not stored.
pub(crate) const MAX_INVOCATION_LOG_BYTES: usize = 10 * 1024 * 1024;

/// The lines captured since the last drain, bounded by [`MAX_INVOCATION_LOG_BYTES`].
#[derive(Default)]
struct Captured {
    lines: Vec<(i64, String)>,
    bytes: usize,
    dropped: usize,
}

impl Captured {
    fn push(&mut self, at: i64, line: &[u8]) {
        if self.bytes + line.len() > MAX_INVOCATION_LOG_BYTES {
            self.dropped += line.len();
            return;
        }
        self.bytes += line.len();
        self.lines
            .push((at, String::from_utf8_lossy(line).into_owned()));
    }

    /// The lines, with a note of what was not kept; starts over.
    fn take(&mut self) -> Vec<(i64, String)> {
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped > 0 {
            let at = lines.last().map_or(0, |l| l.0);
            lines.push((
                at,
                format!(
                    "nubo: {} bytes of this invocation's output were not kept (it may log {} MB)",
                    self.dropped,
                    MAX_INVOCATION_LOG_BYTES / (1024 * 1024)
                ),
            ));
        }
        self.bytes = 0;
        self.dropped = 0;
        lines
    }
}

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
                captured: Mutex::new(Captured::default()),
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
        self.captured.lock().take()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads the pipe into lines. Each byte is looked at once: the search for the next newline
/// resumes where the last one stopped, and consumed lines leave the buffer in one move per read,
/// so a function writing a long line in small pieces costs linear time, not quadratic.
async fn read_loop(
    mut pipe: tokio::net::unix::pipe::Receiver,
    capture: std::sync::Weak<LogCapture>,
    reached: watch::Sender<u64>,
) {
    let mut pending: Vec<u8> = Vec::new();
    // `pending[..scanned]` holds no newline.
    let mut scanned = 0usize;
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
        let mut start = 0usize;
        {
            let mut captured = capture.captured.lock();
            while let Some(offset) = pending[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + offset;
                let line = &pending[start..end];
                match find(line, MARK_PREFIX) {
                    Some(at) => {
                        // Text the function wrote without a newline ends at the marker.
                        if at > 0 {
                            captured.push(now, &line[..at]);
                        }
                        if let Some(mark) = std::str::from_utf8(&line[at + MARK_PREFIX.len()..])
                            .ok()
                            .and_then(|s| s.parse().ok())
                        {
                            marks.push(mark);
                        }
                    }
                    None => captured.push(now, line),
                }
                start = end + 1;
                scanned = start;
            }
            scanned = pending.len();
            // An overlong line is cut into pieces; a tail is kept back so a marker (which ends in
            // a newline well within it) is never cut.
            while pending.len() - start > MAX_LINE_BYTES + MARK_SLACK {
                captured.push(now, &pending[start..start + MAX_LINE_BYTES]);
                start += MAX_LINE_BYTES;
            }
        }
        pending.drain(..start);
        scanned -= start;
        for mark in marks {
            reached.send_replace(mark);
        }
    }
}

/// More than a whole marker (its prefix, a `u64` and the newline).
const MARK_SLACK: usize = 64;

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

fn iso(at_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .map(nubo_wire::timefmt::iso_millis)
        .unwrap_or_default()
}

/// `{"time":…,"type":"platform.start","record":{"requestId":…,"version":…}}`.
fn platform_start(at_ms: i64, request_id: &str, version: &str) -> String {
    serde_json::json!({
        "time": iso(at_ms),
        "type": "platform.start",
        "record": { "requestId": request_id, "version": version },
    })
    .to_string()
}

/// `{"time":…,"type":"platform.report","record":{"requestId":…,"metrics":{…}}}`.
fn platform_report(at_ms: i64, request_id: &str, report: &Report) -> String {
    let ms = |d: Duration| (d.as_secs_f64() * 100_000.0).round() / 100.0;
    let mut metrics = serde_json::json!({
        "durationMs": ms(report.duration),
        "billedDurationMs": billed_ms(report.duration) as u64,
        "memorySizeMB": report.memory_mb,
        "maxMemoryUsedMB": report.max_memory_used_mb,
    });
    if let Some(init) = report.init_duration {
        metrics["initDurationMs"] = serde_json::json!(ms(init));
    }
    serde_json::json!({
        "time": iso(at_ms),
        "type": "platform.report",
        "record": { "requestId": request_id, "metrics": metrics, "status": "success" },
    })
    .to_string()
}

/// `X-Amz-Log-Result` carries the last 4 KB of the invocation's log.
const LOG_TAIL_BYTES: usize = 4096;

/// One invocation's log, as the platform frames it around what the function wrote.
pub(crate) struct Framing<'a> {
    /// The function's account and region: its log group is theirs.
    pub(crate) scope: &'a nubo_wire::Scope,
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
            scope,
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
        if function.log_format == "JSON" {
            // LoggingConfig's JSON format: the platform's lines become `platform.*` records
            // (INFO level, so a SystemLogLevel of WARN or above leaves them out).
            let system_info = matches!(
                function.logging.system_log_level.as_deref(),
                None | Some("DEBUG") | Some("INFO")
            );
            if system_info {
                framed.push((
                    first_ts,
                    platform_start(first_ts, request_id, &function.version),
                ));
            }
            framed.append(lines);
            if let Some(line) = platform_line {
                framed.extend(line.lines().map(|l| (now, l.to_owned())));
            }
            if system_info {
                framed.push((now, platform_report(now, request_id, &report)));
            }
        } else {
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
        }

        let mut text = String::new();
        for (_, line) in &framed {
            text.push_str(line);
            text.push('\n');
        }
        // The configured `LoggingConfig.LogGroup`, else `/aws/lambda/<name>`, in the function's
        // account and region.
        let group = match &function.logging.log_group {
            Some(group) => nubo_observe::scoped_group(&scope.account_id, &scope.region, group),
            None => nubo_observe::scoped_group(
                &scope.account_id,
                &scope.region,
                &nubo_observe::function_log_group(&function.name),
            ),
        };
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
    fn json_platform_records_carry_the_report() {
        let report = Report {
            duration: Duration::from_micros(2350),
            memory_mb: 128,
            max_memory_used_mb: 31,
            init_duration: None,
        };
        let record: serde_json::Value =
            serde_json::from_str(&platform_report(0, "id", &report)).unwrap();
        assert_eq!(record["type"], "platform.report");
        assert_eq!(record["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(record["record"]["metrics"]["billedDurationMs"], 3);
        assert_eq!(record["record"]["metrics"]["durationMs"], 2.35);
        let start: serde_json::Value =
            serde_json::from_str(&platform_start(0, "id", "$LATEST")).unwrap();
        assert_eq!(start["record"]["version"], "$LATEST");
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn long_lines_are_cut_and_an_invocation_keeps_at_most_its_share() {
        let (capture, out, _err) = LogCapture::new().unwrap();
        // 600 KB without a newline, written in small pieces.
        let out = tokio::task::spawn_blocking(move || {
            let mut out = out;
            for _ in 0..600 {
                out.write_all(&[b'x'; 1024]).unwrap();
            }
            out.write_all(b"\n").unwrap();
            out
        })
        .await
        .unwrap();
        let lengths: Vec<usize> = capture.drain().await.iter().map(|l| l.1.len()).collect();
        assert_eq!(
            lengths,
            [
                MAX_LINE_BYTES,
                MAX_LINE_BYTES,
                600 * 1024 - 2 * MAX_LINE_BYTES
            ]
        );

        // Eleven lines of a megabyte: ten are kept, the rest is counted.
        let _out = tokio::task::spawn_blocking(move || {
            let mut out = out;
            let mut line = vec![b'y'; 1024 * 1024 - 1];
            line.push(b'\n');
            for _ in 0..11 {
                out.write_all(&line).unwrap();
            }
            out
        })
        .await
        .unwrap();
        let lines = capture.drain().await;
        let (note, kept) = lines.split_last().unwrap();
        assert!(
            note.1
                .contains("bytes of this invocation's output were not kept"),
            "{}",
            note.1
        );
        let kept_bytes: usize = kept.iter().map(|l| l.1.len()).sum();
        assert!(kept_bytes <= MAX_INVOCATION_LOG_BYTES);
        assert!(kept_bytes > MAX_INVOCATION_LOG_BYTES - 2 * 1024 * 1024);
        assert!(kept.iter().all(|l| l.1.len() <= MAX_LINE_BYTES));
        // The next invocation starts with a clean slate.
        assert!(capture.drain().await.is_empty());
    }
}
