/**
 * The classroom's REST shapes and routes, written by hand.
 *
 * TEMPORARY: the gateway's classroom routes (branch cls-classes) were not in
 * docs/schemas/gateway.openapi.json when these pages were written, so `gateway.gen.ts` did not
 * have them. After the merge, `make types` generates them: replace every import from this file
 * with the generated names (`ClassInfo`, `ClassOverview`, … from "../api/gateway.gen"), drop
 * `classroomApi`'s cast in ./api.ts (the generated `paths` will hold these routes) and delete
 * this file. The shapes follow pulse_contracts.classroom (queries.py, classes.py, events.py).
 */
import type { ApiKey, ErrorBody } from "../api/gateway.gen";

// -- shapes --------------------------------------------------------------------------------

export interface ClassInfo {
  id: string;
  title: string;
  /** The owning instructor; null for a class first seen in producers' events (admins only). */
  owner_id: string | null;
  collect_code: boolean;
  pseudonymise: boolean;
  planned_cells: number | null;
  created_at: string;
  api_key_id?: string | null;
}

export interface ClassList {
  classes: ClassInfo[];
}

export interface ClassAnswer {
  class: ClassInfo;
}

export interface NewClass {
  id: string;
  title: string;
  collect_code?: boolean;
  pseudonymise?: boolean;
  planned_cells?: number | null;
  /** Admins only: the instructor who will own the class. */
  owner_id?: string | null;
}

/** A new class with its producer key (scope ingest:events); the secret is shown only here. */
export interface CreatedClass {
  class: ClassInfo;
  api_key: ApiKey & { class_id?: string | null };
  secret: string;
}

/** One event as producers send it and Pulse stores it: camelCase, defaults omitted
 * (`hasError` absent means false, `metadata` absent means empty). */
export interface NotebookEvent {
  eventId: string;
  eventType: string;
  eventTime: string;
  userId: string;
  classId?: string | null;
  notebookPath?: string | null;
  cellId?: string | null;
  cellIndex?: number | null;
  cellType?: string | null;
  code?: string | null;
  executionCount?: number | null;
  hasError?: boolean;
  errorName?: string | null;
  errorMessage?: string | null;
  executionDurationMs?: number | null;
  metadata?: Record<string, unknown>;
}

export interface CellSummary {
  cell_index: number;
  cell_id: string;
  reached: number;
  succeeded: number;
  errored: number;
}

/** `[cell_index, "ran" | "errored"]` (msgspec array_like); not reached cells are absent.
 * Typed loosely, as a generated array-of-arrays type may be: readers check each item. */
export type CellStateWire = Array<number | string>;

export interface StudentSummary {
  student_id: string;
  furthest_cell: number | null;
  last_activity: string | null;
  error_count: number;
  cells: CellStateWire[];
}

export interface ClassOverview {
  class_id: string;
  notebook_path: string | null;
  notebooks: string[];
  cells: CellSummary[];
  students: StudentSummary[];
}

/** One step of the progress chart, as the REST route answers it (the generated
 * `ProgressStepOut`): the median and interquartile range of the cell reached. */
export interface ProgressStepWire {
  time: string;
  median: number;
  p25: number;
  p75: number;
  students: number;
}

export interface ClassProgress {
  class_id: string;
  notebook_path: string | null;
  step_s: number;
  steps: ProgressStepWire[];
}

export interface CellHotspot {
  cell_index: number;
  cell_id: string;
  errors: number;
  students: number;
}

export interface ErrorHotspot {
  error_name: string;
  errors: number;
  students: number;
}

export interface ClassHotspots {
  class_id: string;
  notebook_path: string | null;
  cells: CellHotspot[];
  errors: ErrorHotspot[];
}

export interface StudentTimeline {
  class_id: string;
  student_id: string;
  events: NotebookEvent[];
  truncated?: boolean;
}

export interface ClassFeed {
  class_id: string;
  /** Newest last. */
  events: NotebookEvent[];
}

// -- routes, in openapi-typescript's shape (so openapi-fetch checks the calls) --------------

type Json<T> = { headers: { [name: string]: unknown }; content: { "application/json": T } };
type Refusals = {
  400: Json<ErrorBody>;
  401: Json<ErrorBody>;
  403: Json<ErrorBody>;
  404: Json<ErrorBody>;
  503: Json<ErrorBody>;
};
type NoParameters = { query?: never; header?: never; path?: never; cookie?: never };
type RouteParameters<Path, Query> = {
  query?: Query;
  header?: never;
  path: Path;
  cookie?: never;
};
type Get<P, A> = { parameters: P; requestBody?: never; responses: { 200: Json<A> } & Refusals };
type Unused = {
  put?: never;
  delete?: never;
  options?: never;
  head?: never;
  patch?: never;
  trace?: never;
};
type ClassPath = { class_id: string };
type NotebookQuery = { notebook?: string };

export interface ClassroomPaths {
  "/api/v1/classes": {
    parameters: NoParameters;
    get: Get<NoParameters, ClassList>;
    post: {
      parameters: NoParameters;
      requestBody: { content: { "application/json": NewClass } };
      responses: { 201: Json<CreatedClass> } & Refusals;
    };
  } & Unused;
  "/api/v1/classes/{class_id}": {
    parameters: NoParameters;
    get: Get<RouteParameters<ClassPath, never>, ClassAnswer>;
    post?: never;
  } & Unused;
  "/api/v1/classes/{class_id}/overview": {
    parameters: NoParameters;
    get: Get<RouteParameters<ClassPath, NotebookQuery>, ClassOverview>;
    post?: never;
  } & Unused;
  "/api/v1/classes/{class_id}/progress": {
    parameters: NoParameters;
    get: Get<RouteParameters<ClassPath, NotebookQuery & { step_s?: number }>, ClassProgress>;
    post?: never;
  } & Unused;
  "/api/v1/classes/{class_id}/hotspots": {
    parameters: NoParameters;
    get: Get<RouteParameters<ClassPath, NotebookQuery & { limit?: number }>, ClassHotspots>;
    post?: never;
  } & Unused;
  "/api/v1/classes/{class_id}/students/{student_id}/timeline": {
    parameters: NoParameters;
    get: Get<RouteParameters<ClassPath & { student_id: string }, { limit?: number }>, StudentTimeline>;
    post?: never;
  } & Unused;
  "/api/v1/classes/{class_id}/feed": {
    parameters: NoParameters;
    get: Get<RouteParameters<ClassPath, { limit?: number }>, ClassFeed>;
    post?: never;
  } & Unused;
}
