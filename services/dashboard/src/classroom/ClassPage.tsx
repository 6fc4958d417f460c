/**
 * A class's page: the heatmap (stored overview + live events), the live activity feed, the
 * progress chart, the error hotspots and the drill-down into one student's timeline.
 *
 * The picture comes from the stored history (REST), so a reload or a visit next week shows
 * the same; the class channel `class:<id>` moves it forward live. When the channel is refused
 * or unavailable, the overview and the feed are re-read every 15 s instead.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { errorMessage } from "../api/http";
import { classHref, navigate } from "../app/router";
import { getServices } from "../app/services";
import type { ChannelStatus } from "../live/hub";
import { useTitle } from "../ui/hooks";
import { ActivityFeed } from "./ActivityFeed";
import { classKeys, REFRESH, useClass, useFeed, useHotspots, useOverview, useProgress, useTimeline } from "./api";
import { FEED_LENGTH, feedItems } from "./feed";
import { Heatmap, HeatmapLegend } from "./HeatmapGrid";
import { applyEvents, EMPTY_HEATMAP, fromOverview, type HeatmapState } from "./heatmap";
import { Hotspots } from "./Hotspots";
import { ProgressChart } from "./ProgressChart";
import { progressSeries } from "./progress";
import { Timeline } from "./Timeline";
import type { ClassOverview, NotebookEvent } from "./types";

type Action = { type: "reset"; overview: ClassOverview; plannedCells: number | null; events: NotebookEvent[] } | { type: "events"; events: NotebookEvent[] };

function reduce(state: HeatmapState, action: Action): HeatmapState {
  switch (action.type) {
    case "reset":
      return applyEvents(fromOverview(action.overview, action.plannedCells), action.events);
    case "events":
      return applyEvents(state, action.events);
  }
}

export function classChannel(classId: string): string {
  return `class:${classId}`;
}

interface Props {
  classId: string;
  notebook: string | null;
  student: string | null;
}

export function ClassPage({ classId, notebook, student }: Props) {
  const { hub } = getServices();
  const queryClient = useQueryClient();
  const info = useClass(classId);
  const title = info.data?.class.title ?? classId;
  useTitle(title);

  const channel = classChannel(classId);
  const [status, setStatus] = useState<ChannelStatus>({ state: "pending" });
  const [events, setEvents] = useState<NotebookEvent[]>([]);
  const [heatmap, dispatch] = useReducer(reduce, EMPTY_HEATMAP);
  const fallback = status.state === "error";
  const overview = useOverview(classId, notebook, fallback ? REFRESH.fallbackMs : false);
  const restFeed = useFeed(classId, fallback);
  const progress = useProgress(classId, notebook);
  const hotspots = useHotspots(classId, notebook);
  const timeline = useTimeline(classId, student);

  // The class channel: its history and live events feed the heatmap and the feed.
  useEffect(() => {
    setEvents([]);
    return hub.events.acquire<NotebookEvent>(channel, {
      onEvents: (batch) => {
        setEvents((current) => [...current, ...batch].slice(-FEED_LENGTH * 4));
        dispatch({ type: "events", events: batch });
      },
      // Something may be missing: read the stored picture again.
      onGap: () => void queryClient.invalidateQueries({ queryKey: classKeys.one(classId) }),
      onStatus: setStatus,
    });
  }, [hub, channel, classId, queryClient]);

  // A new stored picture (first load, another notebook, a refresh): start from it again and
  // apply the live events the channel holds on top.
  const plannedCells = info.data?.class.planned_cells ?? null;
  useEffect(() => {
    if (overview.data) {
      dispatch({ type: "reset", overview: overview.data, plannedCells, events: hub.events.recent<NotebookEvent>(channel) });
    }
  }, [overview.data, plannedCells, hub, channel]);

  const select = useCallback(
    (id: string) => navigate(classHref(classId, { notebook, student: id === student ? null : id }), true),
    [classId, notebook, student],
  );
  const feed = useMemo(() => feedItems([...(restFeed.data?.events ?? []), ...events]), [restFeed.data, events]);
  const series = useMemo(() => (progress.data ? progressSeries(progress.data) : null), [progress.data]);
  const notebooks = overview.data?.notebooks ?? [];
  const shownNotebook = notebook ?? overview.data?.notebook_path ?? heatmap.notebook;

  const timelineRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (student) timelineRef.current?.focus();
  }, [student]);

  return (
    <>
      <p className="breadcrumb">
        <a href="#/classes">Classes</a> <span aria-hidden="true">›</span> {title}
      </p>
      <h1 tabIndex={-1}>{title}</h1>
      <p className="class-meta">
        <code>{classId}</code>
        {shownNotebook && (
          <>
            {" · "}notebook <code data-testid="class-notebook">{shownNotebook}</code>
          </>
        )}
        {" · "}
        <LiveState status={status} />
      </p>
      {info.isError && (
        <p className="form-error" role="alert">
          Could not load the class: {errorMessage(info.error)}
        </p>
      )}
      {notebooks.length > 1 && (
        <div className="field notebook-select">
          <label htmlFor="notebook">Notebook</label>
          <select
            id="notebook"
            value={shownNotebook ?? ""}
            onChange={(e) => navigate(classHref(classId, { notebook: e.target.value, student }), true)}
          >
            {notebooks.map((path) => (
              <option key={path} value={path}>
                {path}
              </option>
            ))}
          </select>
        </div>
      )}

      <section aria-labelledby="heatmap-heading" className="class-section">
        <h2 id="heatmap-heading">Students × cells</h2>
        <HeatmapLegend />
        {overview.isPending && <p role="status">Loading the class…</p>}
        {overview.isError && (
          <p className="form-error" role="alert">
            Could not load the overview: {errorMessage(overview.error)}
          </p>
        )}
        {(overview.isSuccess || heatmap.students.length > 0) && (
          <Heatmap state={heatmap} selected={student} onSelect={select} labelledBy="heatmap-heading" />
        )}
      </section>

      {student && (
        <section aria-labelledby="timeline-heading" className="class-section panel">
          <div className="section-head">
            <h2 id="timeline-heading" tabIndex={-1} ref={timelineRef}>
              Timeline of {student}
            </h2>
            <button type="button" className="button button--small" onClick={() => select(student)}>
              Close
            </button>
          </div>
          <Timeline query={timeline} student={student} />
        </section>
      )}

      <div className="class-columns">
        <section aria-labelledby="feed-heading" className="class-section">
          <h2 id="feed-heading">Live activity</h2>
          <ActivityFeed items={feed} onSelect={select} />
        </section>
        <section aria-labelledby="hotspots-heading" className="class-section">
          <h2 id="hotspots-heading">Error hotspots</h2>
          <Hotspots query={hotspots} />
        </section>
      </div>

      <section aria-labelledby="progress-heading" className="class-section">
        <h2 id="progress-heading">Progress over time</h2>
        {progress.isError && (
          <p className="form-error" role="alert">
            Could not load the progress: {errorMessage(progress.error)}
          </p>
        )}
        {progress.isPending && <p role="status">Loading the progress…</p>}
        {series && <ProgressChart series={series} />}
      </section>
    </>
  );
}

function LiveState({ status }: { status: ChannelStatus }) {
  const text =
    status.state === "live"
      ? "Live"
      : status.state === "pending"
        ? "Connecting…"
        : `Live updates unavailable (${status.message}); refreshing every ${REFRESH.fallbackMs / 1000} s`;
  return (
    <span role="status" className={`class-live class-live--${status.state}`} data-testid="class-live" data-state={status.state}>
      {text}
    </span>
  );
}
