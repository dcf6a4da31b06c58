/** The node's HTTP API: see server.ts. */
export { bearerGuard, MIN_ADMIN_TOKEN_CHARS } from './admin.js';
export {
  HTTP_ONLY_CODES,
  HttpError,
  type HttpErrorBody,
  type HttpErrorCode,
  statusOfCode,
} from './errors.js';
export type { GatewayResult } from './gateway.js';
export {
  fromBase64,
  type ReencryptReplyItemJson,
  type ReencryptReplyJson,
  reencryptReplyToJson,
  reencryptRequestFromJson,
  toBase64,
} from './json.js';
export {
  type AdminActions,
  type GatewayInit,
  type GatewayRelay,
  HTTP_DEFAULTS,
  type HttpApiInit,
  type HttpLimitsInit,
  type HttpMetrics,
  type HttpService,
} from './options.js';
export { MSGPACK_TYPE } from './reencrypt.js';
export { createHttpApi, type HttpAddress, type HttpApi } from './server.js';
