// The per-client connection cap counts a client as the rate limit does: an IPv6
// client by its /64 (one host can hold a whole /64 of addresses), IPv4 by address.
// The sockets here are plain emitters carrying an address: what is tested is the
// counting; the cap over real sockets is test/protocol/slow-clients.test.ts's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ClientConnections } from '../../src/server/client-connections.js';

const socket = (remoteAddress: string): Socket => Object.assign(new EventEmitter(), { remoteAddress }) as unknown as Socket;

test('connection cap: addresses of one IPv6 /64 share one count; a closed connection frees its place', () => {
  const conns = new ClientConnections(() => 2);
  const first = socket('2001:db8:1:2::10');
  assert.equal(conns.admit(first), undefined);
  assert.equal(conns.admit(socket('2001:db8:1:2::11')), undefined);
  const refused = conns.admit(socket('2001:db8:1:2:ffff::1'));
  assert.equal(refused?.code, 'TOO_MANY_CONNECTIONS', 'a third address of the same /64 is the same client');
  assert.equal(conns.admit(socket('2001:db8:1:3::10')), undefined, 'another /64 is another client');
  first.emit('close');
  assert.equal(conns.admit(socket('2001:db8:1:2::12')), undefined, 'a place freed by a close');
  assert.equal(conns.admit(socket('192.0.2.1')), undefined);
  assert.equal(conns.admit(socket('192.0.2.1')), undefined);
  assert.equal(conns.admit(socket('192.0.2.2')), undefined, 'IPv4: each address is a client');
  assert.equal(conns.admit(socket('192.0.2.1'))?.code, 'TOO_MANY_CONNECTIONS');
});
