//! Finding session logs and reading them line by line, with each line's number and byte offset, while hashing
//! the file's bytes.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::{Context as _, bail};
use flate2::read::MultiGzDecoder;
use memory_core::sessions::{Line, SessionMessage, SessionParser};
use memory_storage_turso::sessions::{FileImport, MAX_REJECTS_KEPT, Reject};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc::Sender;

/// Whether `path` names a session log: `.jsonl` or `.jsonl.gz`.
fn is_log(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".jsonl") || name.ends_with(".jsonl.gz")
}

/// The logs named by `paths`: files as given, directories searched (recursively) for `.jsonl` and `.jsonl.gz`
/// files, each list sorted. A missing path or a file of another kind is an error.
pub fn find_logs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut logs = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            logs.extend(found);
        } else if is_log(path) {
            logs.push(path.clone());
        } else {
            bail!(
                "{} is not a session log: expected a .jsonl or .jsonl.gz file, or a directory",
                path.display()
            );
        }
    }
    Ok(logs)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, found)?;
        } else if kind.is_file() && is_log(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// The bytes read from a file so far, shared with the progress bar.
#[derive(Clone, Default)]
pub struct BytesRead(Arc<AtomicU64>);

impl BytesRead {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Reads a file, hashing and counting its bytes as they pass (`read` counts those of every file).
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    read: BytesRead,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.read.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A log's lines, decompressed if it is `.gz`.
pub struct LogReader {
    source: Source,
    line: u64,
    offset: u64,
}

enum Source {
    Plain(BufReader<Hashing<File>>),
    Gz(BufReader<MultiGzDecoder<Hashing<File>>>),
}

/// One line: its number (from 1), the offset where it starts, and its bytes without the line ending.
pub struct RawLine<'a> {
    pub number: u64,
    pub offset: u64,
    pub bytes: &'a [u8],
}

impl LogReader {
    /// Opens `path`; `read` counts the bytes read from it (compressed, for `.gz`).
    pub fn open(path: &Path, read: BytesRead) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let hashing = Hashing {
            inner: file,
            hasher: Sha256::new(),
            bytes: 0,
            read,
        };
        let gz = path.extension().is_some_and(|e| e == "gz");
        let source = if gz {
            Source::Gz(BufReader::with_capacity(
                1 << 16,
                MultiGzDecoder::new(hashing),
            ))
        } else {
            Source::Plain(BufReader::with_capacity(1 << 16, hashing))
        };
        Ok(LogReader {
            source,
            line: 0,
            offset: 0,
        })
    }

    /// The next line into `buf`, or `None` at the end. A read error (a corrupt `.gz`) ends the file.
    pub fn next_line<'a>(&mut self, buf: &'a mut Vec<u8>) -> io::Result<Option<RawLine<'a>>> {
        buf.clear();
        let n = match &mut self.source {
            Source::Plain(r) => r.read_until(b'\n', buf)?,
            Source::Gz(r) => r.read_until(b'\n', buf)?,
        };
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let offset = self.offset;
        self.offset += n as u64;
        let mut bytes = &buf[..];
        if let Some(rest) = bytes.strip_suffix(b"\n") {
            bytes = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        Ok(Some(RawLine {
            number: self.line,
            offset,
            bytes,
        }))
    }

    /// The lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    /// Reads what is left of the file and returns the SHA-256 of all its bytes (lowercase hex) and their count.
    pub fn finish(self) -> io::Result<(String, u64)> {
        let mut hashing = match self.source {
            Source::Plain(r) => r.into_inner(),
            Source::Gz(r) => r.into_inner().into_inner(),
        };
        io::copy(&mut hashing, &mut io::sink())?;
        let sha256 = hashing
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((sha256, hashing.bytes))
    }
}

/// What the reader sends: messages, each with the index of the log it came from, and the logs read to their end
/// since the batch before (every message of a log comes in its batch or an earlier one).
#[derive(Default)]
pub struct Batch {
    pub messages: Vec<(usize, SessionMessage)>,
    pub finished: Vec<(usize, FileImport)>,
}

/// Reads and parses `logs` in order (a blocking call, for a thread of its own), sending their messages in
/// batches of `batch` or more that run across files, so small logs share transactions. Each log's report comes
/// without the counts of new and duplicate messages, which the store decides. A log that cannot be opened or
/// read is an error, returned after what was read before it is sent. It stops early, without an error, when
/// the receiver is gone. Each batch goes through `ready` on this thread before it is sent.
pub fn parse_logs<T>(
    logs: &[PathBuf],
    project: Option<String>,
    batch: usize,
    bytes_read: &BytesRead,
    batches: &Sender<T>,
    ready: impl Fn(Batch) -> T,
) -> anyhow::Result<()> {
    let mut pending = Batch::default();
    for (index, path) in logs.iter().enumerate() {
        let send = |full| batches.blocking_send(ready(full)).is_ok();
        let read = parse_file(
            index,
            path,
            project.clone(),
            bytes_read,
            &mut pending,
            batch,
            send,
        );
        match read {
            Ok(Some(file)) => pending.finished.push((index, file)),
            Ok(None) => return Ok(()),
            Err(err) => {
                let _ = batches.blocking_send(ready(pending));
                return Err(err);
            }
        }
    }
    let _ = batches.blocking_send(ready(pending));
    Ok(())
}

/// Reads and parses the log at `path` (the `index`-th), adding its messages to `pending` and handing it to `send`
/// whenever it holds `batch` or more. Returns what reading it came to, or `None` when `send` refuses a batch.
fn parse_file(
    index: usize,
    path: &Path,
    project: Option<String>,
    bytes_read: &BytesRead,
    pending: &mut Batch,
    batch: usize,
    mut send: impl FnMut(Batch) -> bool,
) -> anyhow::Result<Option<FileImport>> {
    let started = std::time::Instant::now();
    let name = path.display().to_string();
    let mut reader = LogReader::open(path, bytes_read.clone())?;
    let mut parser = SessionParser::new(name.clone(), project);
    let mut file = FileImport {
        path: name,
        ..FileImport::default()
    };
    let mut buf = Vec::new();
    loop {
        let line = match reader.next_line(&mut buf) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(err) => {
                file.error = Some(format!("unreadable after line {}: {err}", reader.lines()));
                break;
            }
        };
        let parsed = std::str::from_utf8(line.bytes)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|text| parser.parse(text, line.number, line.offset));
        match parsed {
            Ok(Line::Messages(found)) => pending
                .messages
                .extend(found.into_iter().map(|m| (index, m))),
            Ok(Line::Skipped) => file.skipped += 1,
            Err(reason) => {
                file.rejected += 1;
                if file.rejects.len() < MAX_REJECTS_KEPT {
                    file.rejects.push(Reject {
                        line: line.number,
                        reason,
                    });
                }
            }
        }
        if pending.messages.len() >= batch && !send(std::mem::take(pending)) {
            return Ok(None);
        }
    }
    file.lines = reader.lines();
    (file.sha256, file.bytes) = reader
        .finish()
        .with_context(|| format!("cannot read {}", file.path))?;
    file.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(Some(file))
}
