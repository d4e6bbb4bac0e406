// The app: sign-in, the site and dashboard pickers, the dashboard page; or, under
// /share/<token>, one shared dashboard read-only.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, onSessionExpired, setCsrf, type SharedAnswer } from "./api";
import { AlertsPage } from "./alerts-page";
import { DashboardPage } from "./dashboard";
import { NewDashboard, uniqueId } from "./editor";
import { navigate, useUrlState } from "./router";
import { useTheme, type Theme } from "./theme";
import type { Dashboard, DashboardSummary, Session } from "./types";

type Phase = { kind: "checking" } | { kind: "signed-out"; message?: string } | { kind: "signed-in"; session: Session };

export function App() {
  const [theme, toggleTheme] = useTheme();
  const shareToken = /^\/share\/([^/]+)\/?$/.exec(window.location.pathname)?.[1];
  if (shareToken) return <SharedApp token={decodeURIComponent(shareToken)} theme={theme} toggleTheme={toggleTheme} />;
  return <SignedApp theme={theme} toggleTheme={toggleTheme} />;
}

function SignedApp({ theme, toggleTheme }: { theme: Theme; toggleTheme: () => void }) {
  const [phase, setPhase] = useState<Phase>({ kind: "checking" });
  useEffect(() => {
    onSessionExpired(() => {
      setCsrf("");
      setPhase({ kind: "signed-out", message: "Your session has expired. Sign in again to continue." });
    });
    api
      .session()
      .then((session) => {
        setCsrf(session.csrf_token);
        setPhase({ kind: "signed-in", session });
      })
      .catch(() => setPhase({ kind: "signed-out" }));
  }, []);
  if (phase.kind === "checking") return <Loading />;
  if (phase.kind === "signed-out")
    return (
      <SignIn
        message={phase.message}
        theme={theme}
        toggleTheme={toggleTheme}
        onSignedIn={(session) => {
          setCsrf(session.csrf_token);
          setPhase({ kind: "signed-in", session });
        }}
      />
    );
  const signOut = async () => {
    try {
      await api.signOut();
    } finally {
      setCsrf("");
      setPhase({ kind: "signed-out", message: "You are signed out." });
    }
  };
  return <Workspace session={phase.session} theme={theme} toggleTheme={toggleTheme} onSignOut={signOut} />;
}

function Loading() {
  return (
    <div class="center-screen" aria-busy="true">
      <div class="spinner" aria-label="Loading" />
    </div>
  );
}

function Logo() {
  return (
    <span class="logo">
      <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
        <rect x="2" y="2" width="20" height="20" rx="6" class="logo-bg" />
        <path d="M7 17 L12 6 L17 17 M12 6 L15 11" class="logo-mark" />
      </svg>
      <span class="logo-text">Metronome</span>
    </span>
  );
}

function ThemeToggle({ theme, toggle }: { theme: Theme; toggle: () => void }) {
  return (
    <button type="button" class="icon-button theme-toggle" onClick={toggle} aria-label={theme === "dark" ? "Switch to the light theme" : "Switch to the dark theme"} title={theme === "dark" ? "Light theme" : "Dark theme"}>
      {theme === "dark" ? (
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <circle cx="12" cy="12" r="4.5" fill="none" stroke="currentColor" stroke-width="1.8" />
          <path d="M12 2v2.5M12 19.5V22M2 12h2.5M19.5 12H22M4.9 4.9l1.8 1.8M17.3 17.3l1.8 1.8M4.9 19.1l1.8-1.8M17.3 6.7l1.8-1.8" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" />
        </svg>
      ) : (
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <path d="M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round" />
        </svg>
      )}
    </button>
  );
}

function SignIn({ message, onSignedIn, theme, toggleTheme }: { message?: string; onSignedIn: (session: Session) => void; theme: Theme; toggleTheme: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      const session = await api.signIn(key.trim());
      setKey("");
      onSignedIn(session);
    } catch (e) {
      const err = e as ApiError;
      setError(
        err.code === "bad_key" || err.status === 401
          ? "This key was not accepted. Use a read key of one of your sites (var/keys/<site>.read-key)."
          : err.status === 429
            ? "Too many attempts. Wait a minute, then try again."
            : err.message,
      );
      setBusy(false);
    }
  };
  return (
    <div class="signin-screen">
      <div class="signin-top">
        <ThemeToggle theme={theme} toggle={toggleTheme} />
      </div>
      <form class="signin-card" onSubmit={submit} method="post" action="#">
        <Logo />
        <h1>Sign in</h1>
        <p class="hint">Enter a read key of your site. It is exchanged for a session in this browser and never stored in a link.</p>
        {message && !error && (
          <p class="notice" role="status">
            {message}
          </p>
        )}
        <label class="field">
          <span>Read key</span>
          <input type="password" name="key" autoComplete="current-password" required autoFocus value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} aria-invalid={!!error} aria-describedby={error ? "signin-error" : undefined} />
        </label>
        {error && (
          <p class="form-error" id="signin-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="button primary wide" disabled={busy || !key.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}

function Workspace({ session, theme, toggleTheme, onSignOut }: { session: Session; theme: Theme; toggleTheme: () => void; onSignOut: () => void }) {
  const state = useUrlState();
  const sites = session.sites;
  const site = state.site && sites.includes(state.site) ? state.site : sites.length === 1 ? sites[0] : undefined;
  const [list, setList] = useState<DashboardSummary[] | null>(null);
  const [listError, setListError] = useState("");
  const [dashboard, setDashboard] = useState<Dashboard | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [creating, setCreating] = useState(false);
  const [reloads, setReloads] = useState(0);
  const [notice, setNotice] = useState("");
  const dashboardId = state.d ?? "web";

  useEffect(() => {
    if (!site) return;
    setList(null);
    setListError("");
    api
      .dashboards(site)
      .then((answer) => setList(answer.dashboards))
      .catch((e: ApiError) => setListError(e.message));
  }, [site, reloads]);

  useEffect(() => {
    if (!site) return;
    setLoadError(null);
    let current = true;
    api
      .dashboard(dashboardId, site)
      .then((d) => current && setDashboard(d))
      .catch((e: ApiError) => current && (setLoadError(e), setDashboard(null)));
    return () => {
      current = false;
    };
  }, [site, dashboardId, reloads]);

  useEffect(() => {
    if (state.view === "alerts") return;
    document.title = dashboard && site ? `${dashboard.title} · ${site} · Metronome` : "Metronome";
  }, [dashboard, site, state.view]);

  const header = (
    <header class="topbar">
      <div class="topbar-inner">
        <Logo />
        {site && sites.length > 1 && (
          <label class="control compact site-picker">
            <span class="sr-only">Site</span>
            <select aria-label="Site" value={site} onChange={(e) => navigate({ site: (e.target as HTMLSelectElement).value, filters: [] })}>
              {sites.map((s) => (
                <option value={s} key={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        )}
        {site && list && state.view !== "alerts" && (
          <label class="control compact dashboard-picker">
            <span class="sr-only">Dashboard</span>
            <select
              aria-label="Dashboard"
              value={dashboardId}
              onChange={(e) => {
                const value = (e.target as HTMLSelectElement).value;
                if (value === "__new") setCreating(true);
                else navigate({ site, d: value, filters: [] });
              }}
            >
              {(["builtin", "file", "stored"] as const).map((source) => {
                const group = list.filter((d) => d.source === source);
                return group.length ? (
                  <optgroup key={source} label={source === "builtin" ? "Ready-made" : source === "file" ? "From files" : "Your dashboards"}>
                    {group.map((d) => (
                      <option value={d.id} key={d.id}>
                        {d.title}
                      </option>
                    ))}
                  </optgroup>
                ) : null;
              })}
              {!list.some((d) => d.id === dashboardId) && <option value={dashboardId}>{dashboard?.title ?? dashboardId}</option>}
              <option value="__new">+ New dashboard…</option>
            </select>
          </label>
        )}
        <span class="spacer" />
        {site && (
          <nav class="views" aria-label="Pages">
            <button type="button" class={state.view === "alerts" ? "view-link" : "view-link current"} aria-current={state.view === "alerts" ? undefined : "page"} onClick={() => navigate({ site, d: state.d, filters: [] })}>
              Dashboards
            </button>
            <button type="button" class={state.view === "alerts" ? "view-link current" : "view-link"} aria-current={state.view === "alerts" ? "page" : undefined} onClick={() => navigate({ site, view: "alerts", filters: [] })}>
              Alerts
            </button>
          </nav>
        )}
        <ThemeToggle theme={theme} toggle={toggleTheme} />
        <button type="button" class="button ghost small" onClick={onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );

  if (!site) {
    return (
      <>
        {header}
        <main class="page narrow-page">
          <h1>Choose a site</h1>
          <p class="hint">Your key opens several sites.</p>
          <ul class="site-list">
            {sites.map((s) => (
              <li key={s}>
                <button type="button" class="site-card" onClick={() => navigate({ site: s, filters: [] })}>
                  <strong>{s}</strong>
                  <span>Open its dashboards →</span>
                </button>
              </li>
            ))}
          </ul>
        </main>
      </>
    );
  }

  const duplicate = async () => {
    if (!dashboard) return;
    const { source: _s, readonly: _r, version: _v, ...rest } = dashboard;
    let widgets = rest.widgets;
    const left: string[] = [];
    setNotice("");
    // A widget the site's data cannot answer yet (a field nothing stores) is refused by the
    // server: the copy leaves it out and says so.
    for (let attempt = 0; attempt <= rest.widgets.length; attempt++) {
      try {
        const copy = await api.create({ ...rest, widgets, id: uniqueId(`${dashboard.id}-copy`, (list ?? []).map((d) => d.id)), title: `${dashboard.title} (copy)`, site });
        if (left.length) setNotice(`Left out of the copy: ${left.join("; ")}.`);
        setReloads((n) => n + 1);
        navigate({ ...state, site, d: copy.id, edit: true });
        return;
      } catch (e) {
        const error = e as ApiError;
        const index = /^widgets\[(\d+)\]/.exec(error.message)?.[1];
        if (error.code !== "invalid_dashboard" || index === undefined || widgets.length <= 1) {
          setNotice(`The copy could not be made: ${error.message}`);
          return;
        }
        left.push(`${widgets[Number(index)].title} (${error.message.replace(/^[^:]*:\s*/, "")})`);
        widgets = widgets.filter((_, i) => i !== Number(index));
      }
    }
  };
  const remove = async () => {
    if (!dashboard || !window.confirm(`Delete the dashboard “${dashboard.title}”? This cannot be undone.`)) return;
    try {
      await api.remove(dashboard.id, site);
      setReloads((n) => n + 1);
      navigate({ site, filters: [] });
    } catch (e) {
      setLoadError(e as ApiError);
    }
  };

  return (
    <>
      {header}
      {notice && (
        <div class="page notice-bar">
          <div class="banner info" role="status">
            {notice}{" "}
            <button type="button" class="link" onClick={() => setNotice("")}>
              Dismiss
            </button>
          </div>
        </div>
      )}
      {listError && (
        <div class="banner error page" role="alert">
          The list of dashboards could not load: {listError}
        </div>
      )}
      {state.view === "alerts" ? (
        <AlertsPage site={site} rule={state.rule} />
      ) : loadError ? (
        <main class="page">
          <div class="state error big" role="alert">
            <strong>{loadError.status === 404 ? "No such dashboard" : "The dashboard could not load"}</strong>
            <span>{loadError.message}</span>
            <button type="button" class="button primary" onClick={() => navigate({ site, filters: [] })}>
              Open the site dashboard
            </button>
          </div>
        </main>
      ) : dashboard && dashboard.id === dashboardId ? (
        <DashboardPage
          dashboard={dashboard}
          state={state}
          site={site}
          theme={theme}
          onReload={() => setReloads((n) => n + 1)}
          onSaved={(saved) => {
            setDashboard(saved);
            setReloads((n) => n + 1);
          }}
          onDuplicate={duplicate}
          onDelete={dashboard.source === "stored" ? remove : undefined}
        />
      ) : (
        <Loading />
      )}
      {creating && (
        <NewDashboard
          site={site}
          taken={(list ?? []).map((d) => d.id)}
          onClose={() => setCreating(false)}
          onCreated={(created) => {
            setCreating(false);
            setReloads((n) => n + 1);
            navigate({ site, d: created.id, filters: [], edit: true });
          }}
        />
      )}
    </>
  );
}

function SharedApp({ token, theme, toggleTheme }: { token: string; theme: Theme; toggleTheme: () => void }) {
  const state = useUrlState();
  const [shared, setShared] = useState<SharedAnswer | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [reloads, setReloads] = useState(0);
  useEffect(() => {
    api
      .shared(token)
      .then((answer) => {
        setShared(answer);
        document.title = `${answer.dashboard.title} · Metronome`;
      })
      .catch((e: ApiError) => setError(e));
  }, [token, reloads]);
  return (
    <>
      <header class="topbar">
        <div class="topbar-inner">
          <Logo />
          {shared && <span class="pill">Shared · {shared.site}</span>}
          <span class="spacer" />
          <ThemeToggle theme={theme} toggle={toggleTheme} />
        </div>
      </header>
      {error ? (
        <main class="page">
          <div class="state error big" role="alert">
            <strong>{error.status === 404 ? "This link does not work" : "This dashboard could not load"}</strong>
            <span>{error.status === 404 ? "It may have been revoked. Ask whoever shared it for a new link." : error.message}</span>
          </div>
        </main>
      ) : shared ? (
        <DashboardPage
          dashboard={{ ...shared.dashboard, readonly: true }}
          state={state}
          site={shared.site}
          theme={theme}
          shared={{ token, filters: shared.filters ?? [] }}
          onReload={() => setReloads((n) => n + 1)}
          onSaved={() => {}}
        />
      ) : (
        <Loading />
      )}
    </>
  );
}
