// The connection tracker (origin/connection-trust.ts) without sockets: which of a
// connection's recent responses a drop for unsolicited bytes distrusts — those ended
// within the window, at most the last eight, each told once — and that one list per
// connection is kept (changed in place, not rebuilt per response).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, errors } from 'undici';
import { ConnectionTrust } from '../../src/origin/connection-trust.js';

function setup() {
  let now = 1_000_000;
  const trust = new ConnectionTrust(() => now);
  // Never dispatched: no connection is made.
  const client = new Client('http://127.0.0.1:9');
  const told: number[] = [];
  const end = (n: number): void => {
    const { tracked } = trust.track({});
    tracked.client = client;
    tracked.callbacks.push(() => told.push(n));
    trust.ended(tracked);
  };
  return { trust, client, told, end, advance: (ms: number) => (now += ms) };
}

const unsolicited = () => new errors.SocketError('bad response');

test('a drop for unsolicited bytes distrusts the responses ended within 5 s, each once', async () => {
  const { trust, client, told, end, advance } = setup();
  end(1);
  advance(4_000);
  end(2);
  advance(1_500);
  end(3);
  // Response 1 ended 5.5 s ago: out of the window.
  assert.equal(trust.disconnected(client, unsolicited()), 2);
  assert.deepEqual(told.sort(), [2, 3]);
  assert.equal(trust.disconnected(client, unsolicited()), 0, 'forgotten once told');
  assert.equal(trust.distrusted, 2);
  await client.close();
});

test('at most the last eight responses of a connection are remembered', async () => {
  const { trust, client, told, end, advance } = setup();
  for (let n = 1; n <= 11; n++) {
    end(n);
    advance(10);
  }
  assert.equal(trust.disconnected(client, unsolicited()), 8);
  assert.deepEqual(
    told.sort((a, b) => a - b),
    [4, 5, 6, 7, 8, 9, 10, 11],
  );
  await client.close();
});

test('a drop for another cause distrusts nothing and forgets the connection', async () => {
  const { trust, client, told, end } = setup();
  end(1);
  assert.equal(trust.disconnected(client, new errors.SocketError('other side closed')), 0);
  assert.equal(trust.disconnected(client, unsolicited()), 0);
  assert.deepEqual(told, []);
  await client.close();
});

test('responses that aged out are dropped from the front as new ones end', async () => {
  const { trust, client, told, end, advance } = setup();
  end(1);
  end(2);
  advance(6_000);
  end(3);
  advance(100);
  end(4);
  assert.equal(trust.disconnected(client, unsolicited()), 2);
  assert.deepEqual(told.sort(), [3, 4]);
  await client.close();
});
