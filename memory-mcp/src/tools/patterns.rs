//! The pattern tools: what one episode shows, searching and recommending learnt patterns, and reporting which
//! ones were applied and how the task went.

use rmcp::{Json, handler::server::tool::Extension, tool, tool_router};

use crate::{
    caller::Caller,
    error::{InTool, ToolError},
    params::Parameters,
    server::MemoryServer,
    wire::{
        AnalyzePatterns, EpisodePatternOut, EpisodePatterns, FeedbackRecorded, PatternOut,
        PatternResults, RankedPattern, RecommendPatterns, RecordPatternFeedback, SearchPatterns,
    },
};

#[tool_router(router = pattern_tools, vis = "pub(crate)")]
impl MemoryServer {
    /// The patterns of one completed episode: its tool sequence, the decisions it made after failures, how it
    /// recovered from errors, and its context with the approach taken; each with the stored pattern it belongs
    /// to (seen in how many episodes, how often it went well). Patterns are learnt in the background shortly
    /// after an episode is completed.
    #[tool(
        title = "Analyze an episode's patterns",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn analyze_patterns(
        &self,
        Parameters(args): Parameters<AnalyzePatterns>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<EpisodePatterns>, ToolError> {
        const TOOL: &str = "analyze_patterns";
        let id = args.episode_id.parse().in_tool(TOOL)?;
        self.check_episode(&caller, id, TOOL).await?;
        let found = self
            .with_patterns(async move |patterns| patterns.of_episode(id).await)
            .await
            .in_tool(TOOL)?;
        Ok(Json(EpisodePatterns {
            episode_id: id.to_string(),
            patterns: found.iter().map(EpisodePatternOut::from).collect(),
        }))
    }

    /// Find learnt patterns by words and meaning (an error message, a tool, a kind of task), best match first,
    /// each with its record: how many episodes, how many went well. To rank patterns for a task you are about
    /// to do, use recommend_patterns.
    #[tool(
        title = "Search patterns",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search_patterns(
        &self,
        Parameters(args): Parameters<SearchPatterns>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<PatternResults>, ToolError> {
        const TOOL: &str = "search_patterns";
        let kind = args.kind.map(Into::into);
        let scope = caller.confined_to().cloned();
        let found = self
            .with_patterns(async move |patterns| {
                let scope = scope.as_ref();
                patterns.search(&args.query, kind, args.limit, scope).await
            })
            .await
            .in_tool(TOOL)?;
        Ok(Json(PatternResults {
            results: found.iter().map(RankedPattern::from).collect(),
        }))
    }

    /// Before a task, ask what tends to work for it: learnt patterns and their heuristics ("when this, do
    /// that"), ranked by how well they fit the task and its context, how well they worked (decayed with age)
    /// and how recently they were seen, each with the reason. After the task, report which ones you applied
    /// with record_pattern_feedback.
    #[tool(
        title = "Recommend patterns",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn recommend_patterns(
        &self,
        Parameters(args): Parameters<RecommendPatterns>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<PatternResults>, ToolError> {
        const TOOL: &str = "recommend_patterns";
        let mut request = args.request();
        request.scope = caller.confined_to().cloned();
        let found = self
            .with_patterns(async move |patterns| patterns.recommend(&request).await)
            .await
            .in_tool(TOOL)?;
        Ok(Json(PatternResults {
            results: found.iter().map(RankedPattern::from).collect(),
        }))
    }

    /// Report the patterns you applied to a task and how the task went: each gets a use and the outcome, so
    /// patterns that keep working rise and those that stop working fade. An unknown id records nothing.
    #[tool(
        title = "Record pattern feedback",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn record_pattern_feedback(
        &self,
        Parameters(args): Parameters<RecordPatternFeedback>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<FeedbackRecorded>, ToolError> {
        const TOOL: &str = "record_pattern_feedback";
        let mut feedback = args.feedback().in_tool(TOOL)?;
        feedback.scope = caller.confined_to().cloned();
        let updated = self
            .with_patterns(async move |patterns| patterns.feedback(&feedback).await)
            .await
            .in_tool(TOOL)?;
        Ok(Json(FeedbackRecorded {
            patterns: updated.iter().map(PatternOut::from).collect(),
        }))
    }
}
