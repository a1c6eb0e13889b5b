// The node's client-facing listeners, made from its configuration: the proxy listener
// (plain HTTP/1.1, or TLS with HTTP/2 when certificates are given) and, with TLS, the
// optional plain listener that redirects to HTTPS (tls.redirectListen).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config, LimitsConfig } from '../config/types.js';
import type { Stats } from '../observability/stats.js';
import type { Certificates } from './certificates.js';
import { createListener, plainListener, type ClientListener, type ProxyListener, type RefusalRecorder } from './listener.js';
import { createRedirectHandler } from './redirect.js';
import { createSecureListener } from './secure-listener.js';

export interface ClientListenerDeps {
  config: Readonly<Config>;
  certificates: Certificates | undefined;
  logger: Logger;
  stats: Stats;
  /** Each request, to the generation current when it arrives. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Refusals the listener answers itself. */
  onRefused: RefusalRecorder;
  /** The limits in force now (a reload changes them). */
  limits: () => LimitsConfig;
  /** The port redirects send clients to. */
  httpsPort: () => number;
}

export function createClientListeners(d: ClientListenerDeps): { proxy: ClientListener; redirect: ProxyListener | undefined } {
  const { config, certificates, logger, stats, handler, onRefused } = d;
  const onSendTimeout = () => stats.inc('sendTimeouts');
  const proxy = certificates
    ? createSecureListener(handler, { limits: config.limits, tls: config.tls, certificates, logger, onRefused, onSendTimeout, onProtocolError: () => stats.inc('protocolErrors') })
    : plainListener(createListener(handler, { limits: config.limits, logger, onRefused, onSendTimeout }));
  if (!certificates || !config.tls.redirectListen) return { proxy, redirect: undefined };
  const onBadRequest = () => stats.inc('badRequests');
  const redirect = createListener(createRedirectHandler(d.limits, d.httpsPort, onBadRequest), {
    limits: config.limits,
    logger,
    // The redirect listener's requests are no proxy requests (its 308s are counted nowhere): a refusal there is a bad request only.
    onRefused: () => {
      onBadRequest();
      return [];
    },
  });
  return { proxy, redirect };
}
