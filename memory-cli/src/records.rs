//! The `memory` commands: store, get, update, delete, list and count memory records of a scope.

use std::io::Read as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use memory_core::{
    Json, MemoryRecord, NewRecord, Ranking, RecordHit, RecordId, RecordKind, RecordQuery,
    RecordStats, RecordUpdate, Records, Scope, Search, Sort, Stored, Tags,
};
use serde::Serialize;

use crate::output::{Format, json};

/// The scope used when neither `--scope` nor `MEMORY_SCOPE` names one.
const DEFAULT_SCOPE: &str = "default";

/// `memory-cli memory ...`
#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Store a memory; storing the same content again in the scope returns the existing id.
    Store(StoreArgs),
    /// Print a memory.
    Get(IdArgs),
    /// Change a memory's tags, importance or metadata.
    Update(UpdateArgs),
    /// Delete a memory.
    Delete(IdArgs),
    /// List a scope's memories, newest first.
    List(ListArgs),
    /// Search a scope's memories by words and meaning, best first, with each result's score.
    Search(SearchArgs),
    /// Counts by kind, tag and scope, content size, oldest and newest.
    Stats {
        /// Only this scope [default: every scope].
        #[arg(long)]
        scope: Option<String>,
    },
}

/// The scope every record command reads or writes.
#[derive(Debug, Args)]
pub struct ScopeArg {
    /// The namespace, e.g. user:alice or project:payments (letters, digits and - _ . : / @).
    #[arg(long, env = "MEMORY_SCOPE", default_value = DEFAULT_SCOPE)]
    scope: String,
}

/// Arguments of `memory store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    scope: ScopeArg,
    /// The memory; `-` reads it from standard input.
    content: String,
    /// fact, preference, decision, conversation or note.
    #[arg(long, default_value = "note", value_parser = |s: &str| s.parse::<RecordKind>())]
    kind: RecordKind,
    /// A short summary.
    #[arg(long)]
    summary: Option<String>,
    /// Where it applies or came up.
    #[arg(long)]
    context: Option<String>,
    /// A tag (letters, digits, '-', '_', '.'); repeat for more.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Free metadata, a JSON object.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
    /// How much it matters, from 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    importance: f64,
    /// Where it came from (a file, a session, a person).
    #[arg(long)]
    source: Option<String>,
}

/// A record id in a scope.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The memory id.
    id: String,
    #[command(flatten)]
    scope: ScopeArg,
}

/// Arguments of `memory update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The memory id.
    id: String,
    #[command(flatten)]
    scope: ScopeArg,
    /// Replace the tags with these; repeat for more.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Remove every tag.
    #[arg(long, conflicts_with = "tags")]
    clear_tags: bool,
    /// The new importance, from 0 to 1.
    #[arg(long)]
    importance: Option<f64>,
    /// The new metadata, a JSON object.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
}

/// The scope and filters that `memory list`, `memory search` and `query` share.
#[derive(Debug, Args)]
pub struct Filters {
    #[command(flatten)]
    scope: ScopeArg,
    /// Only this kind.
    #[arg(long, value_parser = |s: &str| s.parse::<RecordKind>())]
    kind: Option<RecordKind>,
    #[command(flatten)]
    tags: TagsArg,
}

/// `--tag` (repeatable) and `--all-tags`, which list, search and query share.
#[derive(Debug, Args)]
pub struct TagsArg {
    /// Only results with this tag; repeat it for several (any of them, or all with --all-tags).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Only results with every --tag given.
    #[arg(long, requires = "tags")]
    all_tags: bool,
}

impl TagsArg {
    /// The filter.
    pub fn tags(self) -> Tags {
        Tags {
            tags: self.tags,
            all: self.all_tags,
        }
    }
}

/// What `memory search` and `query` add to the filters: a time range, a minimum importance and the order.
#[derive(Debug, Args)]
pub struct Narrow {
    /// Only results from this time on (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only results from before this time.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only memories at least this important (0 to 1; an episode counts 0.5).
    #[arg(long, value_name = "X")]
    min_importance: Option<f64>,
    /// relevance (best first) or newest (the best, newest first; without text, the newest).
    #[arg(long, default_value = "relevance", value_parser = |s: &str| s.parse::<Sort>())]
    sort: Sort,
}

impl Narrow {
    /// `search` narrowed.
    pub fn apply(self, search: Search) -> anyhow::Result<Search> {
        let date =
            |flag, d: Option<String>| d.map(|d| crate::episode::parse_date(flag, &d)).transpose();
        let search = Search {
            after: date("--since", self.since)?,
            before: date("--until", self.until)?,
            min_importance: self.min_importance,
            sort: self.sort,
            ..search
        };
        search.validate()?;
        Ok(search)
    }
}

/// How `memory search` and `query` rank.
#[derive(Debug, Args)]
pub struct RankingArg {
    /// hybrid (full text and embedding similarity, weighted, with recency, importance and context match), bm25
    /// (full text alone) or vector (embedding similarity alone).
    #[arg(long, default_value = "hybrid", value_parser = |s: &str| s.parse::<Ranking>())]
    pub ranking: Ranking,
}

impl Filters {
    /// A checked search for `text` with these filters.
    pub fn search(self, text: String, limit: u32, ranking: &RankingArg) -> anyhow::Result<Search> {
        let search = Search {
            kind: self.kind,
            tags: self.tags.tags(),
            limit,
            ranking: ranking.ranking,
            ..Search::new(scope(&self.scope)?, text)
        };
        search.validate()?;
        Ok(search)
    }
}

/// Arguments of `memory list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    filters: Filters,
    /// Most rows to print (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: u32,
    /// Rows to skip.
    #[arg(long, value_name = "N", default_value_t = 0)]
    offset: u32,
}

/// Arguments of `memory search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for, in plain words; without it, the newest memories that pass the filters.
    #[arg(default_value = "")]
    text: String,
    #[command(flatten)]
    filters: Filters,
    #[command(flatten)]
    narrow: Narrow,
    #[command(flatten)]
    ranking: RankingArg,
    /// Most results (1 to 100).
    #[arg(long, value_name = "N", default_value_t = 10)]
    limit: u32,
}

/// A checked request; running it is the only step that touches the store.
#[derive(Debug)]
pub enum Action {
    /// Store a memory.
    Store(NewRecord),
    /// Read one.
    Get(Scope, RecordId),
    /// Update one.
    Update(Scope, RecordId, RecordUpdate),
    /// Delete one.
    Delete(Scope, RecordId),
    /// List a scope.
    List(RecordQuery),
    /// Search a scope.
    Search(Search),
    /// Count.
    Stats(Option<Scope>),
}

/// What an [`Action`] produced.
#[derive(Debug)]
pub enum Reply {
    /// Stored (or found as a duplicate).
    Stored(Stored),
    /// A record (read or updated).
    Record(MemoryRecord),
    /// Deleted.
    Deleted(RecordId),
    /// A listing.
    Listed(Vec<MemoryRecord>),
    /// Search results, best first.
    Found(Vec<RecordHit>),
    /// Statistics.
    Stats(RecordStats),
}

fn scope(arg: &ScopeArg) -> anyhow::Result<Scope> {
    Ok(Scope::new(arg.scope.trim())?)
}

fn id(text: &str) -> anyhow::Result<RecordId> {
    Ok(text.parse::<RecordId>()?)
}

fn metadata(text: Option<&str>) -> anyhow::Result<Option<Json>> {
    text.map(|t| Json::from_text(t).context("invalid --metadata: not JSON"))
        .transpose()
}

impl RecordCommand {
    /// Parses and checks every argument, without touching the store.
    pub fn plan(self) -> anyhow::Result<Action> {
        Ok(match self {
            RecordCommand::Store(args) => {
                let content = if args.content == "-" {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("reading the memory from standard input")?;
                    text
                } else {
                    args.content
                };
                let mut new = NewRecord::new(scope(&args.scope)?, args.kind, content);
                new.summary = args.summary;
                new.context = args.context;
                new.tags = args.tags;
                new.metadata =
                    metadata(args.metadata.as_deref())?.unwrap_or_else(Json::empty_object);
                new.importance = args.importance;
                new.source = args.source;
                // Checks every field now, so bad input never opens the store.
                new.clone().into_record()?;
                Action::Store(new)
            }
            RecordCommand::Get(args) => Action::Get(scope(&args.scope)?, id(&args.id)?),
            RecordCommand::Update(args) => {
                let update = RecordUpdate {
                    tags: (args.clear_tags || !args.tags.is_empty()).then_some(args.tags),
                    importance: args.importance,
                    metadata: metadata(args.metadata.as_deref())?,
                };
                update.validate()?;
                Action::Update(scope(&args.scope)?, id(&args.id)?, update)
            }
            RecordCommand::Delete(args) => Action::Delete(scope(&args.scope)?, id(&args.id)?),
            RecordCommand::List(args) => {
                let query = RecordQuery {
                    kind: args.filters.kind,
                    tags: args.filters.tags.tags(),
                    offset: args.offset,
                    limit: args.limit,
                    ..RecordQuery::new(scope(&args.filters.scope)?)
                };
                query.validate()?;
                Action::List(query)
            }
            RecordCommand::Search(args) => {
                let search = args.filters.search(args.text, args.limit, &args.ranking)?;
                Action::Search(args.narrow.apply(search)?)
            }
            RecordCommand::Stats { scope } => {
                let scope = scope.map(|s| Scope::new(s.trim())).transpose()?;
                Action::Stats(scope)
            }
        })
    }
}

impl Action {
    /// Whether the action writes (and so may create the store).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Action::Store(_) | Action::Update(..) | Action::Delete(..)
        )
    }

    /// Runs the action through the [`Records`] façade.
    pub async fn run(self, records: &Records) -> memory_core::Result<Reply> {
        Ok(match self {
            Action::Store(new) => Reply::Stored(records.store(new).await?),
            Action::Get(scope, id) => Reply::Record(records.get(&scope, id).await?),
            Action::Update(scope, id, update) => {
                Reply::Record(records.update(&scope, id, &update).await?)
            }
            Action::Delete(scope, id) => {
                records.delete(&scope, id).await?;
                Reply::Deleted(id)
            }
            Action::List(query) => Reply::Listed(records.list(&query).await?),
            Action::Search(search) => Reply::Found(records.search(&search).await?),
            Action::Stats(scope) => Reply::Stats(records.stats(scope.as_ref()).await?),
        })
    }
}

#[derive(Serialize)]
struct Deleted {
    id: RecordId,
    deleted: bool,
}

/// Renders `reply` in `format`, ending with a newline.
pub fn render(reply: &Reply, format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return match reply {
            Reply::Stored(stored) => json(stored),
            Reply::Record(record) => json(record),
            Reply::Deleted(id) => json(&Deleted {
                id: *id,
                deleted: true,
            }),
            Reply::Listed(rows) => json(rows),
            Reply::Found(hits) => json(hits),
            Reply::Stats(stats) => json(stats),
        };
    }
    Ok(match reply {
        Reply::Stored(Stored {
            id,
            duplicate: false,
        }) => format!("stored memory {id}\n"),
        Reply::Stored(Stored {
            id,
            duplicate: true,
        }) => {
            format!("duplicate: the same content is already stored as memory {id}\n")
        }
        Reply::Record(record) => show(record),
        Reply::Deleted(id) => format!("deleted memory {id}\n"),
        Reply::Listed(rows) if rows.is_empty() => "no memories\n".into(),
        Reply::Listed(rows) => rows
            .iter()
            .map(|r| {
                format!(
                    "{}  {:<12}  {:.2}  {}\n",
                    r.id,
                    r.kind.as_str(),
                    r.importance,
                    first_line(r)
                )
            })
            .collect(),
        Reply::Found(hits) if hits.is_empty() => "no matches\n".into(),
        Reply::Found(hits) => hits
            .iter()
            .enumerate()
            .map(|(rank, h)| {
                let r = &h.record;
                format!(
                    "{:>3}.  {}  {:<12}  {:.3}  {}\n",
                    rank + 1,
                    r.id,
                    r.kind.as_str(),
                    h.score.total,
                    first_line(r)
                )
            })
            .collect(),
        Reply::Stats(stats) => stats_text(stats),
    })
}

/// The first line of a record's content, cut to 60 characters.
fn first_line(r: &MemoryRecord) -> String {
    let first = r.content.lines().next().unwrap_or("");
    let cut: String = first.chars().take(60).collect();
    if cut.len() < r.content.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

fn show(r: &MemoryRecord) -> String {
    let mut out = format!(
        "memory      {}\nscope       {}\nkind        {}\n",
        r.id, r.scope, r.kind
    );
    for (label, value) in [
        ("summary", &r.summary),
        ("context", &r.context),
        ("source", &r.source),
    ] {
        if let Some(value) = value {
            out.push_str(&format!("{label:<12}{value}\n"));
        }
    }
    if !r.tags.is_empty() {
        out.push_str(&format!("tags        {}\n", r.tags.join(" ")));
    }
    out.push_str(&format!(
        "importance  {:.2}\ncreated     {}\nupdated     {}\nhash        {}\n",
        r.importance, r.created_at, r.updated_at, r.content_hash
    ));
    if r.metadata.as_str() != "{}" {
        out.push_str(&format!("metadata    {}\n", r.metadata.as_str()));
    }
    out.push_str(&format!("\n{}\n", r.content.trim_end()));
    out
}

fn stats_text(s: &RecordStats) -> String {
    let mut out = format!(
        "scope       {}\nmemories    {}\ncontent     {} bytes\n",
        s.scope.as_deref().unwrap_or("(all)"),
        s.total,
        s.content_bytes
    );
    if let (Some(oldest), Some(newest)) = (s.oldest, s.newest) {
        out.push_str(&format!("oldest      {oldest}\nnewest      {newest}\n"));
    }
    for (label, counts) in [
        ("by kind", &s.by_kind),
        ("by scope", &s.by_scope),
        ("by tag", &s.by_tag),
    ] {
        if !counts.is_empty() {
            let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
            out.push_str(&format!("{label:<12}{}\n", parts.join(", ")));
        }
    }
    out
}

/// `memory-cli reembed`: re-embeds everything with a progress bar on stderr.
pub async fn reembed(records: &Records, format: Format) -> anyhow::Result<String> {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "re-embedding {bar:40} {pos}/{len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let done = records
        .reembed(&|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .await?;
    bar.finish_and_clear();
    Ok(match format {
        Format::Json => json(&done)?,
        Format::Human => format!(
            "{} texts now embedded by {} ({} dimensions); {} embedded by this run\n",
            done.texts, done.model.id, done.model.dimension, done.embedded
        ),
    })
}
