// The Alerts page: the site's rules with their state, last value and since when; one rule's
// history; a simple threshold rule created from a form.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "./api";
import { conditionText, durationSince, sortRules, stateLabel, thresholdRule, type AlertDetail, type AlertEvent, type AlertRule, type ThresholdForm } from "./alerts";
import { Dialog } from "./dialog";
import { formatNumber } from "./format";
import { navigate } from "./router";

function StateBadge({ rule }: { rule: AlertRule }) {
  const state = rule.enabled ? rule.status.state : "disabled";
  return <span class={`badge badge-${state}`}>{stateLabel(rule)}</span>;
}

export function AlertsPage({ site, rule }: { site: string; rule?: string }) {
  const [rules, setRules] = useState<AlertRule[] | null>(null);
  const [error, setError] = useState("");
  const [creating, setCreating] = useState(false);
  const [reloads, setReloads] = useState(0);
  useEffect(() => {
    document.title = `Alerts · ${site} · Metronome`;
    setError("");
    api
      .alerts(site)
      .then((answer) => setRules(sortRules(answer.alerts)))
      .catch((e: ApiError) => setError(e.message));
  }, [site, reloads]);
  useEffect(() => {
    document.documentElement.dataset.drawn = "1";
  }, [rules, error]);
  if (rule) return <RulePage site={site} name={rule} onChanged={() => setReloads((n) => n + 1)} />;
  const now = new Date();
  const firing = rules?.filter((r) => r.enabled && r.status.state === "firing").length ?? 0;
  return (
    <main class="page alerts-page">
      <div class="page-head">
        <div>
          <h1>Alerts</h1>
          <p class="hint">{rules ? (firing ? `${firing} firing of ${rules.length} rules` : `${rules.length} rules, none firing`) : "Loading…"}</p>
        </div>
        <div class="page-actions">
          <button type="button" class="button" onClick={() => setReloads((n) => n + 1)}>
            Refresh
          </button>
          <button type="button" class="button primary" onClick={() => setCreating(true)}>
            New threshold rule
          </button>
        </div>
      </div>
      {error && (
        <div class="banner error" role="alert">
          The alerts could not load: {error}
        </div>
      )}
      {rules && rules.length === 0 && (
        <div class="state muted big">
          <strong>No alert rules yet</strong>
          <span>Add one here, or under alerts.rules in the configuration (docs/alerts.md).</span>
        </div>
      )}
      {rules && rules.length > 0 && (
        <div class="alert-list" aria-label="Alert rules">
          <div class="alert-row alert-head" aria-hidden="true">
            <span>State</span>
            <span>Rule</span>
            <span class="num">Last value</span>
            <span>Since</span>
          </div>
          {rules.map((r) => (
            <button type="button" class={`alert-row state-${r.status.state}`} data-rule={r.name} key={r.name} onClick={() => navigate({ site, view: "alerts", rule: r.name, filters: [] })}>
              <span>
                <StateBadge rule={r} />
              </span>
              <span class="alert-name">
                <strong>{r.name}</strong>
                <span class="hint">
                  {conditionText(r)}
                  {r.metric && r.metric !== "count" ? ` · ${r.metric}` : ""} · {r.channels.length ? r.channels.join(", ") : "no channels"}
                  {r.origin === "file" ? " · from the configuration" : ""}
                </span>
                {r.status.error && <span class="field-note">{r.status.error}</span>}
              </span>
              <span class="num alert-value">
                {r.status.value === null ? "—" : formatNumber(r.status.value)}
              </span>
              <span class="alert-since">
                {r.status.since ? durationSince(r.status.since, now) : "—"}
              </span>
            </button>
          ))}
        </div>
      )}
      {creating && (
        <NewRule
          site={site}
          onClose={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            setReloads((n) => n + 1);
          }}
        />
      )}
    </main>
  );
}

function RulePage({ site, name, onChanged }: { site: string; name: string; onChanged: () => void }) {
  const [detail, setDetail] = useState<AlertDetail | null>(null);
  const [events, setEvents] = useState<AlertEvent[]>([]);
  const [page, setPage] = useState(1);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    setError(null);
    api
      .alert(name, site, page)
      .then((answer) => {
        setDetail(answer);
        setEvents((earlier) => (page === 1 ? answer.history.events : [...earlier, ...answer.history.events]));
        document.documentElement.dataset.drawn = "1";
      })
      .catch((e: ApiError) => {
        setError(e);
        document.documentElement.dataset.drawn = "1";
      });
  }, [site, name, page]);
  const back = () => navigate({ site, view: "alerts", filters: [] });
  if (error)
    return (
      <main class="page">
        <div class="state error big" role="alert">
          <strong>{error.status === 404 ? "No such alert rule" : "The rule could not load"}</strong>
          <span>{error.message}</span>
          <button type="button" class="button primary" onClick={back}>
            All alerts
          </button>
        </div>
      </main>
    );
  if (!detail) return <main class="page" aria-busy="true" />;
  const remove = async () => {
    if (!window.confirm(`Delete the alert rule “${detail.name}”?`)) return;
    await api.removeAlert(detail.name, site);
    onChanged();
    back();
  };
  const now = new Date();
  return (
    <main class="page alerts-page">
      <div class="page-head">
        <div>
          <button type="button" class="link" onClick={back}>
            ← All alerts
          </button>
          <h1>
            {detail.name} <StateBadge rule={detail} />
          </h1>
          <p class="hint">
            {conditionText(detail)} · severity {detail.severity} · {detail.channels.length ? `to ${detail.channels.join(", ")}` : "no channels: recorded, not sent"}
          </p>
          {detail.description && <p>{detail.description}</p>}
        </div>
        {detail.origin === "stored" && (
          <div class="page-actions">
            <button type="button" class="button danger" onClick={remove}>
              Delete
            </button>
          </div>
        )}
      </div>
      <dl class="alert-facts">
        <div>
          <dt>Last value</dt>
          <dd class="alert-value">{detail.status.value === null ? "—" : formatNumber(detail.status.value)}</dd>
        </div>
        <div>
          <dt>Compared with</dt>
          <dd>{detail.status.reference === null ? "—" : formatNumber(detail.status.reference)}</dd>
        </div>
        <div>
          <dt>{stateLabel(detail)} for</dt>
          <dd>{durationSince(detail.status.since, now) || "—"}</dd>
        </div>
        <div>
          <dt>Last evaluated</dt>
          <dd>{detail.status.evaluated_at ? `${durationSince(detail.status.evaluated_at, now)} ago` : "not yet"}</dd>
        </div>
      </dl>
      {detail.status.summary && <p class="alert-summary">{detail.status.summary}</p>}
      {detail.status.error && (
        <div class="banner error" role="alert">
          {detail.status.error}
        </div>
      )}
      <h2 class="subhead">History</h2>
      {events.length === 0 ? (
        <p class="hint">It has not fired yet.</p>
      ) : (
        <ol class="alert-history" aria-label="History">
          {events.map((event) => (
            <li key={`${event.at}-${event.state}`} class={`history-${event.state}`}>
              <span class={`badge badge-${event.state === "resolved" ? "resolved" : "firing"}`}>{event.state === "repeat" ? "Still firing" : event.state === "firing" ? "Fired" : "Resolved"}</span>
              <time dateTime={event.at}>{new Date(event.at).toLocaleString()}</time>
              <span>{event.summary}</span>
              {!event.notified && <span class="hint">(not sent: within the cooldown)</span>}
            </li>
          ))}
        </ol>
      )}
      {detail.history.has_more && (
        <button type="button" class="button" onClick={() => setPage((n) => n + 1)}>
          Older events
        </button>
      )}
    </main>
  );
}

const WINDOWS: [string, string][] = [
  ["15m", "15 minutes"],
  ["1h", "hour"],
  ["6h", "6 hours"],
  ["1d", "day"],
];

function NewRule({ site, onClose, onCreated }: { site: string; onClose: () => void; onCreated: () => void }) {
  const [form, setForm] = useState<ThresholdForm>({ name: "", metric: "count", event: "", window: "1h", direction: "above", threshold: "", forDuration: "5m", channels: "", description: "" });
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const set = (key: keyof ThresholdForm) => (event: Event) => setForm({ ...form, [key]: (event.target as HTMLInputElement).value });
  const submit = async (event: Event) => {
    event.preventDefault();
    const body = thresholdRule(form);
    if (typeof body === "string") return setError(body);
    setBusy(true);
    setError("");
    try {
      await api.createAlert({ ...body, site });
      onCreated();
    } catch (e) {
      const err = e as ApiError;
      setError(err.message);
      setBusy(false);
    }
  };
  return (
    <Dialog title="New threshold rule" onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span>Name</span>
          <input name="name" required value={form.name} onInput={set("name")} placeholder="many-downloads" />
        </label>
        <div class="form-row">
          <label class="field grow">
            <span>Metric</span>
            <select value={form.metric} onChange={set("metric")}>
              <option value="count">Events</option>
              <option value="visitors">Visitors</option>
              <option value="sessions">Sessions</option>
            </select>
          </label>
          <label class="field grow">
            <span>Only the event (optional)</span>
            <input name="event" value={form.event} onInput={set("event")} placeholder="download" />
          </label>
        </div>
        <div class="form-row">
          <label class="field">
            <span>Over the last</span>
            <select value={form.window} onChange={set("window")}>
              {WINDOWS.map(([value, label]) => (
                <option value={value} key={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>Fires when it is</span>
            <select value={form.direction} onChange={set("direction")}>
              <option value="above">above</option>
              <option value="below">below</option>
            </select>
          </label>
          <label class="field narrow">
            <span>Threshold</span>
            <input name="threshold" inputMode="decimal" required value={form.threshold} onInput={set("threshold")} />
          </label>
          <label class="field narrow">
            <span>For</span>
            <input name="for" value={form.forDuration} onInput={set("forDuration")} />
          </label>
        </div>
        <label class="field">
          <span>Channels (names from notify.channels, comma-separated)</span>
          <input name="channels" value={form.channels} onInput={set("channels")} placeholder="ops-mail" />
        </label>
        <label class="field">
          <span>Description (optional)</span>
          <input name="description" value={form.description} onInput={set("description")} />
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <footer class="dialog-foot">
          <button type="button" class="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy}>
            Create
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
