import { ConflictError } from "../../errors.js";
import type { EventPublisher } from "../../events/events.js";
import type { Deployment, DeploymentHistoryEntry } from "./deployment.js";
import { applyDeploymentChange, type ChangeRecord, type DeploymentChange } from "./deployment-states.js";
import type { DeploymentStore } from "./deployment-store.js";

/**
 * The one function through which a deployment changes: checks the transition table, writes the new row
 * conditionally on the revision it was computed from together with its history entry (one transaction),
 * then publishes the change (audit log + webhooks) and lets this process's routing table reload.
 * A concurrent change (a person and the analysis loop at once) makes the later one fail with ConflictError.
 */
export class DeploymentChanges {
  constructor(
    private readonly store: DeploymentStore,
    private readonly events: EventPublisher,
    private readonly onChanged: () => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  async apply(d: Deployment, change: DeploymentChange, record: ChangeRecord): Promise<Deployment> {
    const at = this.now();
    const next = applyDeploymentChange(d, change, at);
    const details = { ...(record.details ?? {}), ...changeDetails(change) };
    const entry: Omit<DeploymentHistoryEntry, "id"> = {
      deploymentId: d.id,
      at,
      actor: record.actor,
      action: change.action,
      fromState: d.state,
      toState: next.state,
      reason: record.reason,
      primaryVersion: next.primaryVersion,
      // The canary this change concerns, also when the change removes it (promotion, rollback).
      canaryVersion: next.canaryVersion ?? d.canaryVersion,
      canaryWeight: next.canaryWeight,
      details,
    };
    if (!(await this.store.update(next, d.revision, entry))) {
      throw new ConflictError(
        `deployment ${d.name} was changed by someone else meanwhile; look at its status and try again`,
      );
    }
    await this.events.publish({
      type: `deployment.${change.action}`,
      projectId: d.projectId,
      subjectType: "deployment",
      subjectId: d.id,
      actor: record.actor,
      reason: record.reason,
      data: {
        deployment: d.name,
        model: d.modelName,
        fromState: d.state,
        toState: next.state,
        primaryVersion: next.primaryVersion,
        canaryVersion: entry.canaryVersion,
        canaryWeight: next.canaryWeight,
        ...details,
      },
    });
    await this.onChanged();
    return next;
  }
}

function changeDetails(change: DeploymentChange): Record<string, unknown> {
  switch (change.action) {
    case "start_canary":
      return { weight: change.weight, plan: change.plan };
    case "set_weight":
      return { weight: change.weight };
    case "record_analysis":
      return { failed: change.failed };
    case "configure_label_studio":
      return { labelStudio: change.setup };
    default:
      return {};
  }
}
