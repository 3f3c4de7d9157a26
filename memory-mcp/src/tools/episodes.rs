//! The episode tools: create, add a step, complete, get, list and delete.

use memory_core::{EpisodeId, Error};
use rmcp::{Json, handler::server::tool::Extension, tool, tool_router};

use crate::{
    caller::Caller,
    error::{InTool, ToolError},
    params::Parameters,
    server::MemoryServer,
    wire::{
        AddEpisodeStep, CompleteEpisode, CreateEpisode, EpisodeCreated, EpisodeDeleted,
        EpisodeList, EpisodeOut, EpisodeRef, EpisodeSummaryOut, ListEpisodes, StepAdded,
        argument_names, episode_id,
    },
};

impl MemoryServer {
    /// Fails as a missing episode would when `caller` may not see episode `id`: a tenant learns nothing of
    /// another's episodes, not even that they exist.
    pub(crate) async fn check_episode(
        &self,
        caller: &Caller,
        id: EpisodeId,
        tool: &str,
    ) -> Result<(), ToolError> {
        if caller.confined_to().is_none() {
            return Ok(());
        }
        let episode = self.memory().get_episode(id).await.in_tool(tool)?;
        match caller.sees(episode.scope.as_ref()) {
            true => Ok(()),
            false => Err(ToolError::from_core(tool, Error::episode_not_found(id))),
        }
    }
}

#[tool_router(router = episode_tools, vis = "pub(crate)")]
impl MemoryServer {
    /// Start recording a task as an episode. Call it when you begin a piece of work (after query_memory has
    /// shown what was learnt before), then log each significant action with add_episode_step and finish with
    /// complete_episode, which scores the episode and records its lessons for the next similar task. Returns
    /// the episode_id the other episode tools take.
    #[tool(
        title = "Start an episode",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_episode(
        &self,
        Parameters(args): Parameters<CreateEpisode>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<EpisodeCreated>, ToolError> {
        const TOOL: &str = "create_episode";
        let mut new = args.into_new();
        new.scope = caller.confined_to().cloned();
        let id = self
            .memory()
            .start_episode(new)
            .await
            .map_err(|e| argument_names(e, &[("context.", "")]))
            .in_tool(TOOL)?;
        Ok(Json(EpisodeCreated {
            episode_id: id.to_string(),
        }))
    }

    /// Append one step (a tool call, command, edit or test run) to an episode that is in progress: what tool,
    /// what was done, how it ended and its output in brief. Log the steps that mattered, failures included: they
    /// are what the reflection learns from. Returns the step's number.
    #[tool(
        title = "Log a step",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn add_episode_step(
        &self,
        Parameters(args): Parameters<AddEpisodeStep>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<StepAdded>, ToolError> {
        const TOOL: &str = "add_episode_step";
        let id = episode_id(&args.episode_id).in_tool(TOOL)?;
        self.check_episode(&caller, id, TOOL).await?;
        let step_number = self
            .memory()
            .log_step(id, args.step())
            .await
            .map_err(|e| argument_names(e, &[("result", "output")]))
            .in_tool(TOOL)?;
        Ok(Json(StepAdded {
            episode_id: id.to_string(),
            step_number,
        }))
    }

    /// Record how an episode ended, once the task is done, partly done, failed or deliberately not attempted.
    /// The server computes the episode's reward and a reflection (what worked, what to improve) and returns the
    /// whole completed episode. A completed episode takes no more steps.
    #[tool(
        title = "Complete an episode",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn complete_episode(
        &self,
        Parameters(args): Parameters<CompleteEpisode>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<EpisodeOut>, ToolError> {
        const TOOL: &str = "complete_episode";
        let id = episode_id(&args.episode_id).in_tool(TOOL)?;
        let outcome = args.outcome().in_tool(TOOL)?;
        self.check_episode(&caller, id, TOOL).await?;
        let episode = self
            .memory()
            .complete_episode(id, outcome)
            .await
            .map_err(|e| argument_names(e, &[("outcome.", "")]))
            .in_tool(TOOL)?;
        Ok(Json((&episode).into()))
    }

    /// Read one episode in full: its task, context, every step, outcome, reward and reflection. Use it to study
    /// a past episode that query_memory found, or to review the one in progress.
    #[tool(
        title = "Get an episode",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_episode(
        &self,
        Parameters(args): Parameters<EpisodeRef>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<EpisodeOut>, ToolError> {
        const TOOL: &str = "get_episode";
        let id = episode_id(&args.episode_id).in_tool(TOOL)?;
        let episode = self.memory().get_episode(id).await.in_tool(TOOL)?;
        if !caller.sees(episode.scope.as_ref()) {
            return Err(ToolError::from_core(TOOL, Error::episode_not_found(id)));
        }
        Ok(Json((&episode).into()))
    }

    /// List episodes newest first, without their steps, filtered by domain, task type, tag, outcome, status or
    /// start time, a page at a time (`next_offset` gives the next page). To find episodes by what they were
    /// about, use query_memory instead.
    #[tool(
        title = "List episodes",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_episodes(
        &self,
        Parameters(args): Parameters<ListEpisodes>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<EpisodeList>, ToolError> {
        const TOOL: &str = "list_episodes";
        let mut query = args.query().in_tool(TOOL)?;
        query.scope = caller.confined_to().cloned();
        let rows = self.memory().list_episodes(&query).await.in_tool(TOOL)?;
        let full = u32::try_from(rows.len()).is_ok_and(|n| n == query.limit);
        Ok(Json(EpisodeList {
            next_offset: full.then(|| query.offset.saturating_add(query.limit)),
            episodes: rows.iter().map(EpisodeSummaryOut::from).collect(),
        }))
    }

    /// Delete an episode and its steps, for good. Use it for an episode recorded by mistake or holding
    /// something that must not be kept; a failed task is worth keeping, since its lessons are.
    #[tool(
        title = "Delete an episode",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete_episode(
        &self,
        Parameters(args): Parameters<EpisodeRef>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<EpisodeDeleted>, ToolError> {
        const TOOL: &str = "delete_episode";
        let id = episode_id(&args.episode_id).in_tool(TOOL)?;
        self.check_episode(&caller, id, TOOL).await?;
        self.memory().delete_episode(id).await.in_tool(TOOL)?;
        Ok(Json(EpisodeDeleted {
            episode_id: id.to_string(),
            deleted: true,
        }))
    }
}
