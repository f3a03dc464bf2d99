// Preloaded into the Spotlight sidecar by the e2e test (NODE_OPTIONS=--require=...):
// Spotlight 4.11.8 has no option for the address it listens on and binds every interface;
// this makes a listen() without a host bind 127.0.0.1 only, so the test stays on loopback.
'use strict';
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length < 2 || typeof args[1] !== 'string')) {
    args.splice(1, typeof args[1] === 'undefined' ? 1 : 0, '127.0.0.1');
  } else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
