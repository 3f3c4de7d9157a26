//! The stdio transport: newline-delimited JSON-RPC on standard input and output, where every line gets an answer.
//! Lines that are messages go to rmcp; any other line is answered at once with the JSON-RPC error
//! [`crate::jsonrpc::decode`] makes for it, and a line longer than [`MAX_MESSAGE_BYTES`] is read to its end
//! without being kept and answered too.

use std::time::Duration;

use rmcp::{
    RoleServer,
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader},
    sync::mpsc,
    task::JoinHandle,
};

use crate::jsonrpc::{self, Incoming, MAX_MESSAGE_BYTES};

/// How much of a line over the limit is kept, to find its request id.
const KEPT_OF_A_LONG_LINE: usize = 64 << 10;
/// Lines waiting for the writer before a sender waits.
const QUEUED_LINES: usize = 64;
/// How long closing waits for queued lines to be written.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Standard input and output as an rmcp transport.
pub fn transport() -> LineTransport<BufReader<rmcp::transport::StdioReader>> {
    let (input, output) = rmcp::transport::stdio_pipes();
    LineTransport::new(BufReader::new(input), output)
}

/// A transport over a reader of lines and a writer of lines. The writer belongs to a task of its own, fed through
/// a channel, so a response and an error line never interleave and a write is never cut short by a cancelled
/// call.
pub struct LineTransport<R> {
    reader: R,
    /// The line being read: kept across calls, since `receive` may be cancelled between reads.
    line: Vec<u8>,
    /// The length of the line being read, beyond what `line` keeps of one over the limit.
    length: usize,
    /// An answer to a line that was no message, not yet handed to the writer.
    pending: Option<Vec<u8>>,
    lines: Option<mpsc::Sender<Vec<u8>>>,
    writer: Option<JoinHandle<()>>,
}

/// What reading a line found.
enum Read {
    Line,
    Eof,
}

impl<R: AsyncBufRead + Unpin + Send> LineTransport<R> {
    /// Reads lines from `reader` and writes lines to `output`.
    pub fn new(reader: R, output: impl AsyncWrite + Unpin + Send + 'static) -> Self {
        let (lines, queue) = mpsc::channel(QUEUED_LINES);
        LineTransport {
            reader,
            line: Vec::new(),
            length: 0,
            pending: None,
            lines: Some(lines),
            writer: Some(tokio::spawn(write_lines(queue, output))),
        }
    }

    /// Reads up to the end of a line into `self.line` (without its newline). Cancel-safe: what was read stays in
    /// `self.line`, and the next call goes on from there.
    async fn read_line(&mut self) -> std::io::Result<Read> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(if self.length > 0 {
                    Read::Line
                } else {
                    Read::Eof
                });
            }
            let (taken, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(end) => (end, true),
                None => (available.len(), false),
            };
            let room = if self.length >= MAX_MESSAGE_BYTES {
                KEPT_OF_A_LONG_LINE.saturating_sub(self.line.len())
            } else {
                taken
            };
            self.line.extend_from_slice(&available[..taken.min(room)]);
            self.length += taken;
            if self.length > MAX_MESSAGE_BYTES {
                self.line.truncate(KEPT_OF_A_LONG_LINE);
            }
            self.reader.consume(taken + usize::from(ended));
            if ended {
                return Ok(Read::Line);
            }
        }
    }
}

async fn write_lines(mut queue: mpsc::Receiver<Vec<u8>>, mut output: impl AsyncWrite + Unpin) {
    while let Some(line) = queue.recv().await {
        let written = async {
            output.write_all(&line).await?;
            if queue.is_empty() {
                output.flush().await?;
            }
            std::io::Result::Ok(())
        };
        if let Err(err) = written.await {
            tracing::warn!(%err, "cannot write to standard output; the client has gone");
            return;
        }
    }
    let _ = output.flush().await;
}

/// A message as one line of JSON with its newline.
fn line_of(message: &TxJsonRpcMessage<RoleServer>) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).expect("a server message serialises");
    line.push(b'\n');
    line
}

impl<R: AsyncBufRead + Unpin + Send + 'static> Transport<RoleServer> for LineTransport<R> {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let lines = self.lines.clone();
        async move {
            let closed =
                || std::io::Error::new(std::io::ErrorKind::NotConnected, "transport closed");
            lines
                .ok_or_else(closed)?
                .send(line_of(&item))
                .await
                .map_err(|_| closed())
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if self.pending.is_some() {
                // Cancel-safe: the answer stays pending until the writer has room for it.
                let permit = self.lines.as_ref()?.reserve().await.ok()?;
                permit.send(self.pending.take()?);
            }
            match self.read_line().await {
                Ok(Read::Line) => {}
                Ok(Read::Eof) => return None,
                Err(err) => {
                    tracing::warn!(%err, "cannot read standard input");
                    return None;
                }
            }
            let (line, length) = (
                std::mem::take(&mut self.line),
                std::mem::replace(&mut self.length, 0),
            );
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let mut answer = if length > MAX_MESSAGE_BYTES {
                tracing::warn!(
                    length,
                    "a message over the size limit was answered with an error"
                );
                jsonrpc::too_long(line, length)
            } else {
                match jsonrpc::decode(line) {
                    Incoming::Message(message) => return Some(*message),
                    Incoming::Rejected(answer) => {
                        tracing::debug!("answered a line that is not a message with an error");
                        answer
                    }
                }
            };
            answer.push(b'\n');
            self.pending = Some(answer);
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        // The writer ends once every sender is gone, after writing what they queued.
        self.lines = None;
        if let Some(writer) = self.writer.take()
            && tokio::time::timeout(CLOSE_TIMEOUT, writer).await.is_err()
        {
            tracing::warn!("standard output did not take the last answers in time");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use tokio::io::AsyncReadExt;

    use super::*;

    /// Feeds `input` to a transport and returns the messages it passed on and the lines it answered itself.
    async fn run(input: Vec<u8>) -> (usize, Vec<Value>) {
        let (mut out_read, out_write) = tokio::io::duplex(1 << 20);
        let mut transport = LineTransport::new(std::io::Cursor::new(input), out_write);
        let mut passed = 0;
        while transport.receive().await.is_some() {
            passed += 1;
        }
        transport.close().await.expect("close");
        drop(transport);
        let mut written = String::new();
        out_read.read_to_string(&mut written).await.expect("read");
        let answers = written
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        (passed, answers)
    }

    #[tokio::test]
    async fn every_line_is_passed_on_or_answered() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n");
        input.extend_from_slice(b"not json\n\n   \n");
        input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"x\":\"");
        input.extend(std::iter::repeat_n(b'a', MAX_MESSAGE_BYTES + 10));
        input.extend_from_slice(b"\"}\n");
        input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
        let (passed, answers) = run(input).await;
        assert_eq!(passed, 2, "the two pings, the last one without a newline");
        assert_eq!(answers.len(), 2, "{answers:?}");
        assert_eq!(
            (&answers[0]["id"], &answers[0]["error"]["code"]),
            (&Value::Null, &(-32700).into())
        );
        assert_eq!(
            (&answers[1]["id"], &answers[1]["error"]["code"]),
            (&2.into(), &(-32600).into())
        );
    }
}
