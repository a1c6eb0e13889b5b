// cluster.peers as loaded: each node id once, and each proxy URL once (the
// membership knows a peer by its URL: a second name for one URL would replace the
// first, and the node answering there would be refused under the other name).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { config, rejection } from '../fixtures/config-load.js';

const base = ['--origin', 'http://o:1', '--cluster-secret', 'k'];

test('cluster.peers: each node id and each URL once; one node listed once under each is accepted', () => {
  const ok = config({ argv: [...base, '--peer', 'a=http://10.0.0.1:8080', '--peer', 'b=http://10.0.0.2:8080', '--peer', 'c=http://10.0.0.2:8090'] });
  assert.equal(ok.cluster.peers.length, 3);
  assert.match(rejection({ argv: [...base, '--peer', 'a=http://10.0.0.1:8080', '--peer', 'a=http://10.0.0.2:8080'] }), /^cluster.peers: "a" is listed twice/);
  assert.match(
    rejection({ argv: [...base, '--peer', 'b=http://10.0.0.2:8080', '--peer', 'x=http://10.0.0.2:8080@9000'] }),
    /^cluster.peers: http:\/\/10.0.0.2:8080 is listed twice \(as b and x\); expected each node's URL once/,
  );
  assert.match(rejection({ argv: [...base, '--peer', 'b=http://10.0.0.2:8080', '--peer', 'x=HTTP://10.0.0.2:8080/'] }), /listed twice \(as b and x\)/);
});
