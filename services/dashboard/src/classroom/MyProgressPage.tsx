/**
 * A student's own page: the classes whose events carry their id, and their own timeline in
 * each (the gateway refuses anyone else's).
 */
import type { Me } from "../api/gateway.gen";
import { ListStatus } from "../ui/Feedback";
import { useTitle } from "../ui/hooks";
import { useClasses, useTimeline } from "./api";
import { Timeline } from "./Timeline";
import type { ClassInfo } from "./types";

export function MyProgressPage({ me }: { me: Me }) {
  useTitle("My progress");
  const classes = useClasses();
  const list = [...(classes.data?.classes ?? [])].sort((a, b) => a.title.localeCompare(b.title));
  return (
    <>
      <h1 tabIndex={-1}>My progress</h1>
      <p className="hint">Every cell you ran in your classes’ notebooks, newest first.</p>
      <ListStatus query={classes} what="classes" />
      {classes.isSuccess && list.length === 0 && (
        <p>
          No class has events from you yet. Once your notebook runs <code>%load_ext pulse_notebook</code> with your
          class’s key, your cells appear here.
        </p>
      )}
      {list.map((c) => (
        <ClassTimeline key={c.id} info={c} student={me.email} />
      ))}
    </>
  );
}

function ClassTimeline({ info, student }: { info: ClassInfo; student: string }) {
  const timeline = useTimeline(info.id, student);
  const headingId = `my-class-${info.id}`;
  return (
    <section aria-labelledby={headingId} className="class-section panel" data-class={info.id}>
      <h2 id={headingId}>{info.title}</h2>
      <Timeline query={timeline} student={student} />
    </section>
  );
}
