// The job statuses in which a job may still change by itself (domainsieve/jobs.py, ACTIVE): pages
// poll a job while it is in one of them. Every job model (import, embedding set, classifier run,
// apply job, cleaning, reshard, training run) uses the same values.
export const ACTIVE = new Set(["queued", "launching", "running", "finalizing"]);
