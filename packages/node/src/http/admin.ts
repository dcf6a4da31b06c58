/**
 * Admin routes (DESIGN.md "Nodes": "Admin routes need a bearer token from a 0600 file"). The
 * surface is kept small on purpose: a count, a sweep, decommission. The token is compared in
 * constant time (both sides hashed first, so neither its length nor a prefix leaks).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import type { AdminActions, HttpService } from './options.js';

/** Shortest admin token accepted: the node writes 32 random bytes, base64url. */
export const MIN_ADMIN_TOKEN_CHARS = 16;

export interface AdminContext {
  adminToken: string;
  service: HttpService;
  admin?: AdminActions;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A preHandler that refuses requests without `Authorization: Bearer <token>`. */
export function bearerGuard(token: string): (request: FastifyRequest) => Promise<void> {
  const expected = digest(token);
  return async (request) => {
    const header = request.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
    // Always one comparison, present header or not.
    const ok = timingSafeEqual(digest(m?.[1] ?? ''), expected) && m !== null;
    if (!ok) throw new HttpError('UNAUTHORIZED', 'admin routes need Authorization: Bearer <admin token>');
  };
}

export function registerAdmin(app: FastifyInstance, ctx: AdminContext): void {
  const preHandler = bearerGuard(ctx.adminToken);
  const notOffered = (what: string) => new HttpError('NOT_IMPLEMENTED', `this node does not offer ${what}`);

  app.get('/v1/admin/policies/count', { preHandler }, async () => {
    const { policies } = await ctx.service.status();
    return { policies };
  });

  app.post('/v1/admin/sweep', { preHandler }, async () => {
    if (!ctx.admin) throw notOffered('sweep');
    return { ok: true, ...(await ctx.admin.sweep()) };
  });

  app.post('/v1/admin/decommission', { preHandler }, async () => {
    if (!ctx.admin?.decommission) throw notOffered('decommission');
    return { ok: true, ...((await ctx.admin.decommission()) ?? {}) };
  });
}
