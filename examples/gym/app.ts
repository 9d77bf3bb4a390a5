/**
 * The demo's HTTP contract (fixed: other tools drive it):
 *   GET  /login?user=<name>&gym=<id>   signs in (303 to /), 400 on bad input
 *   GET  /                             the gym's page, or the sign-in form
 *   GET  /events                       the SSE stream (401 without a session)
 *   GET  /students/fragment            the list as an HTML fragment
 *   POST /students                     name=<1-64 chars>: adds, publishes students.changed
 *   POST /students/<sid>/delete        deletes, publishes students.changed
 *   GET  /stats                        {"instance", "connections"}: this instance's open streams
 * Every response carries `x-instance`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readOrigin, type SseServer } from 'eventrail';
import type { Asset } from './assets.js';
import { HttpError, readForm, seeOther, send } from './http.js';
import { parseGym, parseUser, type Session, type Sessions } from './session.js';
import type { StudentStore } from './store.js';
import { errorPage, gymPage, loginPage, studentsFragment } from './views.js';

export interface AppDeps {
  readonly instance: string;
  readonly sse: SseServer;
  readonly store: StudentStore;
  readonly sessions: Sessions;
  readonly assets: ReadonlyMap<string, Asset>;
  readonly onError: (error: Error) => void;
}

const DELETE = /^\/students\/([1-9][0-9]{0,15})\/delete$/;

function validName(raw: string | null): string | undefined {
  const name = (raw ?? '').trim();
  const length = [...name].length;
  return length >= 1 && length <= 64 ? name : undefined;
}

/** The request handler of one instance. */
export function createApp(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { sse, store, sessions } = deps;

  /** Publishes the change; the tab that made it (its origin header) is skipped. */
  async function changed(req: IncomingMessage, session: Session, id: number): Promise<void> {
    try {
      await sse.publisher.publishEvent(`gym:${session.gym}:students`, {
        eventType: 'students.changed',
        data: { id },
        origin: readOrigin(req.headers),
      });
    } catch (err) {
      // The change is stored; only the other tabs' refresh is lost. Say so in the log.
      deps.onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** After a change: htmx swaps the fresh list in; a plain form post goes back to the page. */
  async function answerList(req: IncomingMessage, res: ServerResponse, gym: number) {
    if (req.headers['hx-request'] !== 'true') return seeOther(res, '/');
    send(res, 200, studentsFragment(await store.list(gym)));
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { pathname } = url;
    const method = req.method ?? 'GET';
    const asset = deps.assets.get(pathname);
    if (asset && (method === 'GET' || method === 'HEAD'))
      return send(res, 200, asset.body, asset.type);
    if (pathname === '/events') return void (await sse.handler(req, res));
    if (pathname === '/healthz') return send(res, 200, 'ok\n', 'text/plain; charset=utf-8');
    if (pathname === '/stats') {
      const stats = { instance: deps.instance, connections: sse.stats().connections };
      return send(res, 200, JSON.stringify(stats), 'application/json');
    }
    if (pathname === '/login' && method === 'GET') {
      const user = parseUser(url.searchParams.get('user'));
      const gym = parseGym(url.searchParams.get('gym'));
      if (user === undefined || gym === undefined) {
        const why =
          'user must be 1-32 of A-Z a-z 0-9 _ - and gym a positive number (at most 9 digits).';
        return send(res, 400, loginPage(why));
      }
      return seeOther(res, '/', sessions.setCookie({ user, gym }));
    }
    if (pathname === '/logout' && method === 'POST') {
      // Signing out ends this user's streams in every tab and on every instance: they come back
      // without the cookie and get 401.
      const leaving = sessions.read(req.headers.cookie);
      if (leaving !== undefined) {
        await sse.publisher
          .revoke({ scope: `gym:${leaving.gym}`, userId: leaving.user })
          .catch((err: unknown) =>
            deps.onError(err instanceof Error ? err : new Error(String(err))),
          );
      }
      return seeOther(res, '/', sessions.clearCookie());
    }
    const session = sessions.read(req.headers.cookie);
    if (pathname === '/' && method === 'GET') {
      if (session === undefined) return send(res, 200, loginPage());
      // The render position first, then the list: a change in between is replayed (a refetch
      // too many at worst), never lost. When the broker cannot say (Redis down), the page still
      // renders, without a position: its stream then starts from the newest events.
      const position = await sse.lastEventId(req).catch(() => undefined);
      const students = await store.list(session.gym);
      return send(res, 200, gymPage(session, students, deps.instance, position));
    }
    const isStudents = pathname === '/students/fragment' || pathname === '/students';
    if (!isStudents && !DELETE.test(pathname)) return send(res, 404, errorPage(404, 'Not found.'));
    if (session === undefined) return send(res, 401, errorPage(401, 'Sign in first.'));
    if (pathname === '/students/fragment') {
      if (method !== 'GET') {
        return send(res, 405, errorPage(405, 'Method not allowed.'), undefined, { Allow: 'GET' });
      }
      return send(res, 200, studentsFragment(await store.list(session.gym)));
    }
    if (method !== 'POST') {
      return send(res, 405, errorPage(405, 'Method not allowed.'), undefined, { Allow: 'POST' });
    }
    if (pathname === '/students') {
      const name = validName((await readForm(req)).get('name'));
      if (name === undefined)
        return send(res, 400, errorPage(400, 'name must be 1-64 characters.'));
      const student = await store.add(session.gym, name, session.user);
      await changed(req, session, student.id);
      return answerList(req, res, session.gym);
    }
    const id = Number(DELETE.exec(pathname)?.[1]);
    if (await store.remove(session.gym, id)) await changed(req, session, id);
    return answerList(req, res, session.gym);
  }

  return (req, res) => {
    res.setHeader('x-instance', deps.instance);
    const url = new URL(req.url ?? '/', 'http://localhost');
    route(req, res, url).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500) deps.onError(err instanceof Error ? err : new Error(String(err)));
      if (res.headersSent) return void res.destroy();
      send(
        res,
        status,
        errorPage(
          status,
          status === 500 ? 'Something went wrong.' : String((err as Error).message),
        ),
      );
    });
  };
}
