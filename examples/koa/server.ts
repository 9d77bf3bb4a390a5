/**
 * eventrail on Koa, with the HTTP contract of examples/basic (see examples/README.md).
 * `koaMiddleware` (eventrail/koa) sets `ctx.respond = false` and hands `ctx.req/res` to `sse.handler`.
 * No router package: a path check is all three routes need.
 */
import { createServer } from 'node:http';
import { koaMiddleware } from 'eventrail/koa';
import Koa from 'koa';
import { createDemo } from '../shared/contract.js';

const demo = createDemo('koa');
const events = koaMiddleware(demo.sse);
const app = new Koa();

app.use(async (ctx, next) => {
  if (ctx.path === '/events') return events(ctx);
  if (ctx.path === '/publish') {
    const { status, body } = await demo.publish(ctx.method, ctx.url);
    ctx.status = status;
    ctx.body = body;
    return;
  }
  if (ctx.path === '/stats' && ctx.method === 'GET') {
    ctx.body = demo.stats();
    return;
  }
  await next();
});

demo.listen(createServer(app.callback()));
