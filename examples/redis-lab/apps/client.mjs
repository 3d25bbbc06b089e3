// client: an identity in namespace a (service account a/client) to drive the
// lab from a terminal until the ingress gateway (../gateway.yaml) exists:
//
//   npx trellis exec client -n a -- curl -s http://apache.b/count/get
//
// `trellis exec` runs curl with this instance's environment, so the call goes
// through this instance's sidecar and carries its identity. The process
// itself only idles.

import { exitOnSignals, log } from './lib.mjs';

exitOnSignals();
log('idle: use `npx trellis exec client -n a -- curl -s http://apache.b/count/get`');
setInterval(() => {}, 1 << 30);
