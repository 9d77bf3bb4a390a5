/** HTML of the demo: plain template strings, every interpolated value escaped. */
import type { Session } from './session.js';
import type { Student } from './store.js';

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML content and quoted attributes. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function layout(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/gym.css">
<script src="/assets/htmx.min.js"></script>
${head}</head>
<body>
${body}
</body>
</html>
`;
}

/** The sign-in form (GET /login), with an optional error. */
export function loginPage(error?: string): string {
  const message = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  return layout(
    'Sign in · eventrail gym',
    `<main class="card narrow">
  <h1>eventrail gym</h1>
  <p class="muted">Sign in as anyone: pick a user name and a gym number.</p>
  ${message}
  <form method="get" action="/login" class="stack">
    <label>User <input name="user" required maxlength="32" pattern="[A-Za-z0-9_\\-]{1,32}" placeholder="alice"></label>
    <label>Gym <input name="gym" required inputmode="numeric" pattern="[1-9][0-9]{0,8}" value="1"></label>
    <button type="submit">Sign in</button>
  </form>
</main>`,
  );
}

/** The list, as a fragment that replaces itself (`hx-swap="outerHTML"`) when an event arrives. */
export function studentsFragment(students: readonly Student[]): string {
  const rows = students
    .map(
      (s) => `    <li data-student-id="${s.id}">
      <span class="name">${escapeHtml(s.name)}</span>
      <span class="muted small">added by ${escapeHtml(s.addedBy)}</span>
      <button class="delete" title="Delete ${escapeHtml(s.name)}" aria-label="Delete ${escapeHtml(s.name)}"
              hx-post="/students/${s.id}/delete" hx-target="#students" hx-swap="outerHTML">&times;</button>
    </li>`,
    )
    .join('\n');
  const list = students.length
    ? `<ul class="students">\n${rows}\n  </ul>`
    : '<p class="muted empty">No students yet.</p>';
  return `<section id="students"
    hx-get="/students/fragment" hx-trigger="eventrail:refresh" hx-swap="outerHTML"
    data-eventrail-refresh="app.students.changed">
  <h2>Students <span class="count">${students.length}</span></h2>
  ${list}
</section>`;
}

/**
 * The client, as a page without a bundler loads it. Every tab of this browser shares one stream
 * (`share: true`); the URL names the user, so that another user signed in later never reads a
 * stream opened with this one's cookie (the server ignores the query). It opens the stream from
 * the page's render position (the `<meta name="eventrail-position">` of {@link gymPage}), so a
 * change made between the render and the stream still shows.
 */
const clientScript = (session: Session) => `<script type="module">
  import { connect } from '/assets/eventrail/client.min.js';
  const live = document.getElementById('live');
  const events = document.getElementById('event-count');
  const tabs = document.getElementById('tabs');
  const labels = { connecting: 'connecting', open: 'live', reconnecting: 'reconnecting', closed: 'offline' };
  window.eventrail = connect({
    url: '/events?gym=${session.gym}&user=${encodeURIComponent(session.user)}',
    share: true,
    events: ['eventrail.presence'],
    onTabsChange(count) {
      tabs.textContent = count === 1 ? '1 tab' : count + ' tabs';
    },
    onStateChange(state) {
      live.dataset.state = state;
      live.textContent = labels[state];
    },
    onEvent(message) {
      if (message.name === 'eventrail.presence') return;
      events.textContent = String(Number(events.textContent) + 1);
    },
  });
  const present = document.getElementById('present');
  window.eventrail.on('eventrail.presence', (message) => {
    const { count, users } = JSON.parse(message.data);
    present.textContent = 'here: ' + users.join(', ') + (count > users.length ? ' +' + (count - users.length) : '');
  });
</script>`;

/**
 * The gym's page (GET /). `position` is where the page was rendered
 * (`SseServer.lastEventId()`, read before the list): the stream opens from there.
 */
export function gymPage(
  session: Session,
  students: readonly Student[],
  instance: string,
  position: string | undefined,
): string {
  const meta =
    position === undefined
      ? ''
      : `<meta name="eventrail-position" content="${escapeHtml(position)}">\n`;
  return layout(
    `Gym ${session.gym} · eventrail`,
    `<header class="bar">
  <strong>eventrail gym</strong>
  <span class="pill">Gym ${session.gym}</span>
  <span class="muted">as <b id="user">${escapeHtml(session.user)}</b></span>
  <span class="spacer"></span>
  <code id="instance" title="the instance that served this page">${escapeHtml(instance)}</code>
  <span id="live" class="live" data-state="connecting">connecting</span>
  <span id="tabs" class="muted small" title="tabs of this browser sharing one event stream">1 tab</span>
  <span id="present" class="muted small" title="who is in this gym now, on every instance"></span>
  <form method="post" action="/logout"><button class="link" type="submit">Sign out</button></form>
</header>
<main class="card">
  <form class="add" hx-post="/students" hx-target="#students" hx-swap="outerHTML"
        hx-on::after-request="if (event.detail.successful) this.reset()">
    <input name="name" required maxlength="64" placeholder="New student's name" autocomplete="off">
    <button type="submit">Add student</button>
  </form>
  ${studentsFragment(students)}
  <p class="muted small footer">Events received: <span id="event-count">0</span> ·
    changes made here do not come back to this tab; other tabs of gym ${session.gym} refresh at once.
    The tabs of this browser share one connection.</p>
</main>
${clientScript(session)}`,
    meta,
  );
}

/** A small error page. */
export function errorPage(status: number, message: string): string {
  return layout(
    `${status} · eventrail gym`,
    `<main class="card narrow"><h1>${status}</h1><p>${escapeHtml(message)}</p><p><a href="/">Back</a></p></main>`,
  );
}
