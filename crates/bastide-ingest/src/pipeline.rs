//! Validation on every core. One thread parses the input into chunks of records;
//! workers validate chunks side by side ([`crate::validate`]); the calling thread takes
//! the results back in input order, refuses repeated keys, groups errors and hands the
//! batches to the sink. So reports, quarantine and stored rows are the same whatever
//! the number of cores. A chunk is only parsed when one of [`in_flight`] tokens is
//! free, and a token comes back once its chunk is merged: memory stays bounded.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use csv::ByteRecord;
use datafusion::arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::DataType;

use crate::batch::{
    BatchSink, Chunk, CsvOptions, ErrorGroup, FIRST_ERRORS, FileInfo, ReadError, TableRead,
};
use crate::digest::{DigestSet, KeyDigests};
use crate::pseudonyms::Pseudonyms;
use crate::schema::TableSchema;
use crate::validate::{ChunkOut, Quarantine, RowError, validate};
use crate::value::Rule;

/// Chunks in flight for `workers` workers.
fn in_flight(workers: usize) -> usize {
    workers * 2 + 1
}

/// Hands parsed records to the workers, a chunk at a time.
pub(crate) struct Feeder {
    rows: usize,
    next: u64,
    file: Option<Arc<FileInfo>>,
    current: Option<Chunk>,
    to_workers: SyncSender<Chunk>,
    tokens: Receiver<()>,
    recycled: Receiver<Vec<ByteRecord>>,
}

impl Feeder {
    /// Records from now on belong to `file`.
    pub fn start_file(&mut self, file: FileInfo) -> Result<(), ReadError> {
        self.send()?;
        self.file = Some(Arc::new(file));
        Ok(())
    }

    /// The slot for the next record (the same one until [`Feeder::push`]).
    pub fn slot(&mut self) -> &mut ByteRecord {
        let rows = self.rows;
        let chunk = self.current.get_or_insert_with(|| Chunk {
            index: 0,
            file: self.file.clone().expect("a file is started first"),
            records: self.recycled.try_recv().unwrap_or_default(),
            len: 0,
            bytes: 0,
        });
        if chunk.records.len() <= chunk.len {
            chunk
                .records
                .resize_with(chunk.len + 1, || ByteRecord::with_capacity(256, 128));
        }
        debug_assert!(chunk.len < rows);
        &mut chunk.records[chunk.len]
    }

    /// The slot is filled; `bytes` of input have been read.
    pub fn push(&mut self, bytes: u64) -> Result<(), ReadError> {
        let chunk = self.current.as_mut().expect("a slot was filled");
        chunk.len += 1;
        chunk.bytes = bytes;
        if chunk.len == self.rows {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), ReadError> {
        let Some(mut chunk) = self.current.take().filter(|c| c.len > 0) else {
            return Ok(());
        };
        chunk.index = self.next;
        self.next += 1;
        let stopped = || ReadError::Sink("validation stopped".into());
        self.tokens.recv().map_err(|_| stopped())?;
        self.to_workers.send(chunk).map_err(|_| stopped())
    }
}

/// Validates what `parse` feeds, on every core, and hands batches to `sink` in order.
/// `size` is the bytes of input `parse` will read, if known (0 otherwise).
pub(crate) fn run<P>(
    schema: &TableSchema,
    options: &CsvOptions,
    size: u64,
    pseudonym: &(dyn Fn(&str) -> String + Sync),
    sink: &mut dyn BatchSink,
    parse: P,
) -> Result<TableRead, ReadError>
where
    P: FnOnce(&mut Feeder) -> Result<(), ReadError> + Send,
{
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let arrow = schema.arrow_schema();
    let digests = KeyDigests::new();
    std::thread::scope(|scope| {
        let (to_workers, chunks) = sync_channel::<Chunk>(workers);
        let chunks = Arc::new(Mutex::new(chunks));
        let (to_merger, results) = sync_channel::<ChunkOut>(in_flight(workers));
        let (give_token, tokens) = sync_channel::<()>(in_flight(workers));
        for _ in 0..in_flight(workers) {
            give_token.send(()).expect("room for every token");
        }
        let (recycle, recycled) = sync_channel::<Vec<ByteRecord>>(in_flight(workers));
        let rows = options.batch_rows.max(1);
        let parser = scope.spawn(move || {
            let mut feeder = Feeder {
                rows,
                next: 0,
                file: None,
                current: None,
                to_workers,
                tokens,
                recycled,
            };
            parse(&mut feeder)?;
            feeder.send()
        });
        for _ in 0..workers {
            let (chunks, to_merger, recycle, arrow) = (
                chunks.clone(),
                to_merger.clone(),
                recycle.clone(),
                arrow.clone(),
            );
            scope.spawn(move || {
                let mut pseudonyms = Pseudonyms::new(pseudonym);
                loop {
                    let chunk = chunks.lock().map(|c| c.recv());
                    let Ok(Ok(chunk)) = chunk else { break };
                    let mut out =
                        validate(schema, &arrow, options, chunk, &digests, &mut pseudonyms);
                    let records = std::mem::take(&mut out.chunk.records);
                    let _ = recycle.try_send(records);
                    if to_merger.send(out).is_err() {
                        break;
                    }
                }
            });
        }
        drop((to_merger, recycle));

        let mut merger = Merger::new(schema, sink, size);
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        let mut failure = None;
        'results: for out in results.iter() {
            pending.insert(out.chunk.index, out);
            while let Some(out) = pending.remove(&next) {
                if let Err(e) = merger.merge(out) {
                    failure = Some(e);
                    break 'results;
                }
                next += 1;
                let _ = give_token.send(());
            }
        }
        // Stop the parser and the workers if they still run.
        drop((give_token, results));
        let parsed = parser.join().expect("parsing does not panic");
        match failure {
            Some(e) => Err(e),
            None => parsed.map(|()| merger.finish()),
        }
    })
}

/// Takes validated chunks in input order.
struct Merger<'a> {
    schema: &'a TableSchema,
    sink: &'a mut dyn BatchSink,
    seen_keys: DigestSet,
    seen_unique: BTreeMap<usize, DigestSet>,
    groups: BTreeMap<(String, Rule), ErrorGroup>,
    read: TableRead,
    /// The input's bytes, when known: the rows to expect, from the first chunk's.
    size: u64,
}

/// Keys' digests made room for up front at most (a set of 2^23 places, 128 MB):
/// past it, or when the estimate is wrong, the set grows as keys come.
const MOST_RESERVED: usize = 1 << 22;

impl<'a> Merger<'a> {
    fn new(schema: &'a TableSchema, sink: &'a mut dyn BatchSink, size: u64) -> Self {
        Self {
            schema,
            sink,
            seen_keys: DigestSet::default(),
            seen_unique: BTreeMap::new(),
            groups: BTreeMap::new(),
            read: TableRead::default(),
            size,
        }
    }

    /// Room for the keys of every row expected, from the first chunk's rows per byte:
    /// growing the set on the way would move every key so far each time it doubles,
    /// while every other stage waits for the merge.
    fn reserve(&mut self, out: &ChunkOut) {
        if self.read.rows_in > 0 || out.keys.is_empty() || out.chunk.bytes == 0 {
            return;
        }
        let rows = self.size as f64 * out.chunk.len as f64 / out.chunk.bytes as f64;
        // Room that cannot be had now is made as keys come, as without an estimate.
        let _ = self
            .seen_keys
            .try_reserve(((rows * 1.05) as usize).min(MOST_RESERVED));
    }

    fn merge(&mut self, out: ChunkOut) -> Result<(), ReadError> {
        self.reserve(&out);
        self.read.rows_in += out.chunk.len as u64;
        let accepted = out.accepted_lines.len();
        // Keys already seen, in this chunk or an earlier one: the later row is refused.
        let mut repeats: Vec<(usize, RowError)> = Vec::new();
        for row in 0..accepted {
            let line = out.accepted_lines[row];
            if !out.keys.is_empty() && !self.seen_keys.insert(out.keys[row]) {
                repeats.push((
                    row,
                    RowError {
                        line,
                        column: self.schema.primary_key.join(","),
                        rule: Rule::Unique,
                        expected: "a primary key not already in this batch".into(),
                    },
                ));
                continue;
            }
            for (index, digests) in &out.uniques {
                if let Some(digest) = digests[row]
                    && !self.seen_unique.entry(*index).or_default().insert(digest)
                {
                    repeats.push((
                        row,
                        RowError {
                            line,
                            column: self.schema.columns[*index].name.clone(),
                            rule: Rule::Unique,
                            expected: "a value not already in this batch".into(),
                        },
                    ));
                    break;
                }
            }
        }
        let mut errors: Vec<&RowError> = out
            .errors
            .iter()
            .chain(repeats.iter().map(|(_, e)| e))
            .collect();
        errors.sort_by_key(|e| e.line);
        for error in errors {
            let group = self
                .groups
                .entry((error.column.clone(), error.rule))
                .or_insert_with(|| ErrorGroup {
                    column: error.column.clone(),
                    rule: error.rule,
                    expected: error.expected.clone(),
                    count: 0,
                    first: Vec::new(),
                });
            group.count += 1;
            if group.first.len() < FIRST_ERRORS {
                group
                    .first
                    .push(format!("{}:{}", out.chunk.file.name, error.line));
            }
        }
        self.read.rows_refused += (out.errors.len() + repeats.len()) as u64;
        self.read.rows_accepted += (accepted - repeats.len()) as u64;
        if let Some(batch) = out.accepted {
            let batch = if repeats.is_empty() {
                batch
            } else {
                let refused = self.repeated_rows(&batch, &out.chunk.file.name, &repeats);
                self.sink.refused(refused).map_err(ReadError::Sink)?;
                let keep: BooleanArray = (0..accepted)
                    .map(|row| Some(!repeats.iter().any(|(r, _)| *r == row)))
                    .collect();
                filter_record_batch(&batch, &keep).map_err(|e| ReadError::Sink(e.to_string()))?
            };
            if batch.num_rows() > 0 {
                self.sink.accepted(batch).map_err(ReadError::Sink)?;
            }
        }
        if let Some(refused) = out.refused {
            self.sink.refused(refused).map_err(ReadError::Sink)?;
        }
        self.sink.progress(out.chunk.bytes);
        Ok(())
    }

    /// Rows refused for a repeated key, as quarantine rows: their values as text
    /// (identifiers are pseudonyms already).
    fn repeated_rows(
        &self,
        batch: &RecordBatch,
        file: &str,
        repeats: &[(usize, RowError)],
    ) -> RecordBatch {
        let texts: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8).expect("every column casts to text"))
            .collect();
        let mut quarantine = Quarantine::new(self.schema);
        for (row, error) in repeats {
            quarantine.place(file, error.line, &error.column, error.rule);
            for (i, column) in texts.iter().enumerate() {
                let column = column
                    .as_any()
                    .downcast_ref::<datafusion::arrow::array::StringArray>()
                    .expect("text");
                quarantine.value(i, (!column.is_null(*row)).then(|| column.value(*row)));
            }
        }
        quarantine.finish(self.schema).expect("at least one row")
    }

    fn finish(self) -> TableRead {
        let mut read = self.read;
        read.errors = self.groups.into_values().collect();
        read
    }
}
