/**
 * Alert rules (admins: every rule; instructors: the rules on their classes): the list, with
 * each rule's pending and firing series on demand, enable/disable and delete, and the form
 * (./RuleEditor) to create or edit one.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import type { Me } from "../api/gateway.gen";
import { answer, errorMessage } from "../api/http";
import { getServices } from "../app/services";
import { formatDate } from "../format";
import { notifyKeys } from "../notifications/api";
import type { Rule } from "../notifications/types";
import { NeedAdmin } from "../pages/NotFoundPage";
import { Dialog } from "../ui/Dialog";
import { FeedbackLine, ListStatus, type Feedback } from "../ui/Feedback";
import { useTitle } from "../ui/hooks";
import { RuleEditor } from "./RuleEditor";
import { RuleFirings } from "./RuleSeries";
import { describeCondition } from "./ruleForm";

const COLUMNS = 7;

export function RulesPage({ me }: { me: Me }) {
  if (me.role !== "admin" && me.role !== "instructor") return <NeedAdmin title="Alert rules" />;
  return <Rules me={me} />;
}

function Rules({ me }: { me: Me }) {
  useTitle("Alert rules");
  const { api } = getServices();
  const queryClient = useQueryClient();
  const rules = useQuery({ queryKey: notifyKeys.rules, queryFn: ({ signal }) => answer(api.GET("/api/v1/alerts/rules", { signal })) });
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: notifyKeys.rules });
  const toggleSeries = (rule: Rule) =>
    setOpen((ids) => {
      const next = new Set(ids);
      if (!next.delete(rule.id)) next.add(rule.id);
      return next;
    });

  const toggle = useMutation({
    mutationFn: (rule: Rule) => answer(api.PUT("/api/v1/alerts/rules/{rule_id}", { params: { path: { rule_id: rule.id } }, body: { enabled: !rule.enabled } })),
    onSuccess: ({ rule }) => {
      setFeedback({ kind: "ok", text: `“${rule.name}” is ${rule.enabled ? "enabled" : "disabled"}.` });
      return refresh();
    },
    onError: (error, rule) => setFeedback({ kind: "error", text: `Could not change “${rule.name}”: ${errorMessage(error)}` }),
  });
  const remove = useMutation({
    mutationFn: (rule: Rule) => answer(api.DELETE("/api/v1/alerts/rules/{rule_id}", { params: { path: { rule_id: rule.id } } })),
    onSuccess: (_none, rule) => {
      setDeleting(null);
      setFeedback({ kind: "ok", text: `“${rule.name}” is deleted.` });
      queryClient.removeQueries({ queryKey: notifyKeys.rule(rule.id) });
      return refresh();
    },
    onError: (error, rule) => {
      setDeleting(null);
      setFeedback({ kind: "error", text: `Could not delete “${rule.name}”: ${errorMessage(error)}` });
    },
  });
  const list = [...(rules.data?.rules ?? [])].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <>
      <h1 tabIndex={-1}>Alert rules</h1>
      <p>
        A rule sends a notification to its recipients when its condition holds, and another when it resolves.
        {me.role === "instructor" && " You manage the rules on your classes."}
      </p>
      {editing === null ? (
        <p>
          <button type="button" className="button button--primary" onClick={() => setEditing("new")}>
            New rule
          </button>
        </p>
      ) : (
        <RuleEditor
          key={editing === "new" ? "new" : editing.id}
          me={me}
          rule={editing === "new" ? null : editing}
          onDone={(text) => {
            setEditing(null);
            if (text) setFeedback({ kind: "ok", text });
            void refresh();
          }}
        />
      )}
      <section aria-labelledby="rules-heading">
        <h2 id="rules-heading">{me.role === "admin" ? "All rules" : "Your rules"}</h2>
        <FeedbackLine feedback={feedback} />
        <ListStatus query={rules} what="rules" />
        {rules.isSuccess && list.length === 0 && <p>No rules yet.</p>}
        {list.length > 0 && (
          <div className="table-wrap" role="region" aria-labelledby="rules-heading" tabIndex={0}>
            <table className="admin-table" data-testid="rules-table">
              <caption className="visually-hidden">Alert rules with their condition, severity and state</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Condition</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Recipients</th>
                  <th scope="col">State</th>
                  <th scope="col">Updated</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.map((rule) => {
                  const expanded = open.has(rule.id);
                  const seriesId = `rule-series-${rule.id}`;
                  return (
                    <Fragment key={rule.id}>
                      <tr data-rule={rule.id}>
                        <th scope="row">{rule.name}</th>
                        <td>{describeCondition(rule.condition)}</td>
                        <td>{rule.severity}</td>
                        <td>{recipientsText(rule)}</td>
                        <td>{rule.enabled ? "Enabled" : "Disabled"}</td>
                        <td>{formatDate(rule.updated_at)}</td>
                        <td>
                          <div className="actions">
                            <button
                              type="button"
                              className="button button--small"
                              aria-expanded={expanded}
                              aria-controls={expanded ? seriesId : undefined}
                              onClick={() => toggleSeries(rule)}
                              aria-label={`Series: ${rule.name}`}
                            >
                              Series
                            </button>
                            <button type="button" className="button button--small" onClick={() => setEditing(rule)} aria-label={`Edit: ${rule.name}`}>
                              Edit
                            </button>
                            <button
                              type="button"
                              className="button button--small"
                              disabled={toggle.isPending}
                              onClick={() => toggle.mutate(rule)}
                              aria-label={`${rule.enabled ? "Disable" : "Enable"}: ${rule.name}`}
                            >
                              {rule.enabled ? "Disable" : "Enable"}
                            </button>
                            <button type="button" className="button button--small button--danger" onClick={() => setDeleting(rule)} aria-label={`Delete: ${rule.name}`}>
                              Delete
                            </button>
                          </div>
                        </td>
                      </tr>
                      {expanded && (
                        <tr id={seriesId} className="rule-series-row">
                          <td colSpan={COLUMNS}>
                            <RuleFirings rule={rule} />
                          </td>
                        </tr>
                      )}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <Dialog open={deleting !== null} title={`Delete “${deleting?.name ?? ""}”?`} onClose={() => setDeleting(null)}>
        <p>The rule stops at once, without a “resolved” for what it has firing; notifications it sent stay in the inboxes.</p>
        <div className="dialog-actions">
          <button type="button" className="button" onClick={() => setDeleting(null)}>
            Cancel
          </button>
          <button type="button" className="button button--danger" disabled={remove.isPending} onClick={() => deleting && remove.mutate(deleting)}>
            Delete rule
          </button>
        </div>
      </Dialog>
    </>
  );
}

function recipientsText(rule: Rule): string {
  if (rule.recipients.everyone) return "everyone";
  const parts = (rule.recipients.roles ?? []).map((r) => `every ${r}`);
  const users = rule.recipients.users?.length ?? 0;
  if (users) parts.push(`${users} user${users === 1 ? "" : "s"}`);
  return parts.join(", ") || "—";
}
