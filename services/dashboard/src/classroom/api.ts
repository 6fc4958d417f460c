/**
 * The classroom's REST calls: the app's one API client (its access token, refresh and retry),
 * typed by the classroom routes, and the TanStack Query keys and hooks the pages share.
 */
import { useQuery } from "@tanstack/react-query";
import type { Client } from "openapi-fetch";
import { answer } from "../api/http";
import { getServices } from "../app/services";
import type { ClassroomPaths } from "./types";

export type ClassroomApi = Client<ClassroomPaths, "application/json">;

/** The app's client, typed by the classroom routes. TEMPORARY cast: after the merge the
 * generated `paths` hold these routes and `getServices().api` is used as it is (./types.ts). */
export function classroomApi(): ClassroomApi {
  return getServices().api as unknown as ClassroomApi;
}

export const classKeys = {
  all: ["classes"] as const,
  one: (classId: string) => ["classes", classId] as const,
  view: (classId: string, view: string, notebook: string | null) => ["classes", classId, view, notebook ?? ""] as const,
  timeline: (classId: string, student: string) => ["classes", classId, "timeline", student] as const,
};

/** How often views refresh from the stored history. */
export const REFRESH = {
  progressMs: 60_000,
  hotspotsMs: 30_000,
  /** Overview and feed, while the live channel is not available. */
  fallbackMs: 15_000,
};

export function useClasses() {
  return useQuery({
    queryKey: classKeys.all,
    queryFn: ({ signal }) => answer(classroomApi().GET("/api/v1/classes", { signal })),
  });
}

export function useClass(classId: string) {
  return useQuery({
    queryKey: classKeys.one(classId),
    queryFn: ({ signal }) =>
      answer(classroomApi().GET("/api/v1/classes/{class_id}", { params: { path: { class_id: classId } }, signal })),
  });
}

function notebookQuery(notebook: string | null): { notebook?: string } {
  return notebook ? { notebook } : {};
}

export function useOverview(classId: string, notebook: string | null, pollMs: number | false) {
  return useQuery({
    queryKey: classKeys.view(classId, "overview", notebook),
    queryFn: ({ signal }) =>
      answer(
        classroomApi().GET("/api/v1/classes/{class_id}/overview", {
          params: { path: { class_id: classId }, query: notebookQuery(notebook) },
          signal,
        }),
      ),
    refetchInterval: pollMs,
    staleTime: 0,
  });
}

export function useProgress(classId: string, notebook: string | null) {
  return useQuery({
    queryKey: classKeys.view(classId, "progress", notebook),
    queryFn: ({ signal }) =>
      answer(
        classroomApi().GET("/api/v1/classes/{class_id}/progress", {
          params: { path: { class_id: classId }, query: { ...notebookQuery(notebook), step_s: 60 } },
          signal,
        }),
      ),
    refetchInterval: REFRESH.progressMs,
  });
}

export function useHotspots(classId: string, notebook: string | null) {
  return useQuery({
    queryKey: classKeys.view(classId, "hotspots", notebook),
    queryFn: ({ signal }) =>
      answer(
        classroomApi().GET("/api/v1/classes/{class_id}/hotspots", {
          params: { path: { class_id: classId }, query: { ...notebookQuery(notebook), limit: 10 } },
          signal,
        }),
      ),
    refetchInterval: REFRESH.hotspotsMs,
  });
}

/** The class's latest events over REST: the feed while the live channel is not available. */
export function useFeed(classId: string, enabled: boolean) {
  return useQuery({
    queryKey: classKeys.view(classId, "feed", null),
    queryFn: ({ signal }) =>
      answer(
        classroomApi().GET("/api/v1/classes/{class_id}/feed", {
          params: { path: { class_id: classId }, query: { limit: 50 } },
          signal,
        }),
      ),
    enabled,
    refetchInterval: enabled ? REFRESH.fallbackMs : false,
  });
}

export function useTimeline(classId: string, student: string | null) {
  return useQuery({
    queryKey: classKeys.timeline(classId, student ?? ""),
    queryFn: ({ signal }) =>
      answer(
        classroomApi().GET("/api/v1/classes/{class_id}/students/{student_id}/timeline", {
          params: { path: { class_id: classId, student_id: student! }, query: { limit: 500 } },
          signal,
        }),
      ),
    enabled: student !== null,
  });
}
